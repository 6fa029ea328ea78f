"""Make the web app's province shapes from the shared OpenStreetMap boundaries (run once, by a developer).

    python docs/make_provinces.py [../shared/data/dprk_provinces.geojson]

Reads the 13 province polygons (OpenStreetMap, ODbL 1.0), names them as hamji's regions (Nampo joins
South Pyongan, as in the 2008 census units hamji uses; Kaesong, which lies inside the North Hwanghae
polygon, is dropped), simplifies each ring with Ramer-Douglas-Peucker at TOLERANCE_DEG (a map in a
browser needs no detail below a few kilometres) and writes ``src/hamji/web/provinces.geojson`` with
the licence and attribution that ODbL requires. The result is a derivative database: it stays ODbL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent / "shared" / "data" / "dprk_provinces.geojson"
TARGET = HERE.parent / "src" / "hamji" / "web" / "provinces.geojson"
#: simplification tolerance in degrees (about 2 km): provinces stay recognisable at a few hundred pixels
TOLERANCE_DEG = 0.02
#: OSM names -> hamji region names (world.yaml); None: left out
NAMES = {"Hamgyongnam-do": "South Hamgyong", "North Pyongan": "North Pyongan", "Pyongannam-do": "South Pyongan",
         "North Hwanghae Province": "North Hwanghae", "Hwanghaenam-do": "South Hwanghae", "Kangwon-do": "Kangwon",
         "Kaesong": None, "Nampo": "South Pyongan", "Pyongyang": "Pyongyang", "Ryanggang": "Ryanggang",
         "Chagang": "Jagang", "North Hamgyong": "North Hamgyong", "Rason": "Rason"}


def rdp(points: np.ndarray, eps: float) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification of a polyline (iterative, on an explicit stack)."""
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        if b <= a + 1:
            continue
        seg = points[b] - points[a]
        rel = points[a + 1:b] - points[a]
        norm = np.hypot(*seg)
        dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm if norm > 0 else np.hypot(rel[:, 0], rel[:, 1])
        k = int(np.argmax(dist))
        if dist[k] > eps:
            keep[a + 1 + k] = True
            stack += [(a, a + 1 + k), (a + 1 + k, b)]
    return points[keep]


def main() -> None:
    src = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else SOURCE).read_text(encoding="utf-8"))
    polygons: dict[str, list] = {}
    for f in src["features"]:
        name = NAMES[f["properties"]["name_en"]]
        if name is None:
            continue
        geom = f["geometry"]
        parts = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        for poly in parts:
            ring = rdp(np.asarray(poly[0], dtype=float), TOLERANCE_DEG)  # outer ring only: no holes at this detail
            if len(ring) >= 4:
                polygons.setdefault(name, []).append([[[round(x, 3), round(y, 3)] for x, y in ring]])
    out = {"type": "FeatureCollection", "name": "hamji_dprk_provinces",
           "license": "ODbL 1.0 (Open Database License)",
           "attribution": "(c) OpenStreetMap contributors, https://www.openstreetmap.org/copyright",
           "source": src.get("source", "") + f"; simplified again for hamji's web map (RDP {TOLERANCE_DEG} deg, outer rings),"
                     " Nampo merged into South Pyongan, Kaesong left out (docs/make_provinces.py)",
           "features": [{"type": "Feature", "properties": {"name": n},
                         "geometry": {"type": "MultiPolygon", "coordinates": p}} for n, p in sorted(polygons.items())]}
    TARGET.write_text(json.dumps(out, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes, {len(polygons)} provinces)")


if __name__ == "__main__":
    main()
