"""The world: regions, groups, border crossings and the route graph between regions.

"Regions farther away from the Sino-DPRK border ... did not have regular access to commercial
networks like those in HamJi" (Park 2009). Distance to the border is therefore a first-class
property of every region, measured on the route graph.

Distances are great-circle distances between region points times a road factor
(``road_factor``, an assumption: roads wind through mountains), not surveyed road lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from math import asin, cos, radians, sin, sqrt

import numpy as np
import pandas as pd
import yaml

from hamji import data
from hamji.errors import UserError

GEO_NAME_ALIASES = {"Jagang": "Chagang (Jagang)"}
CHINA_POINTS = {"Yanbian": "Yanji"}


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km."""
    p1, p2 = radians(lat1), radians(lat2)
    dp, dl = p2 - p1, radians(lon2 - lon1)
    a = sin(dp / 2) ** 2 + cos(p1) * cos(p2) * sin(dl / 2) ** 2
    return 2 * 6371.0 * asin(sqrt(a))


def world_layout() -> dict:
    """The world's layout as ``world.yaml`` declares it: regions, adjacency, crossings, output groups."""
    return yaml.safe_load((resources.files("hamji") / "world.yaml").read_text(encoding="utf-8"))


@dataclass
class World:
    """Regions (DPRK first, then China), groups, crossings and routes, as NumPy arrays."""

    names: list[str]
    country: np.ndarray  # 0 = DPRK, 1 = China
    population: np.ndarray  # persons (census year)
    urban_share: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    groups: dict[str, list[int]]
    crossings: pd.DataFrame  # id, dprk_region, china_region, capacity_t, capacity_basis, km
    route_km: np.ndarray  # (R, R) road km between adjacent regions, inf elsewhere
    path_km: np.ndarray  # (R, R) shortest-path km
    border_km: np.ndarray  # (R,) shortest road km from each region to the nearest crossing
    military_camps: int = 0
    households_total: int = 0
    index: dict[str, int] = field(default_factory=dict)

    @property
    def n_regions(self) -> int:
        return len(self.names)

    @property
    def dprk(self) -> np.ndarray:
        """Indices of DPRK regions."""
        return np.flatnonzero(self.country == 0)

    @property
    def china(self) -> np.ndarray:
        """Indices of Chinese regions."""
        return np.flatnonzero(self.country == 1)

    @property
    def unit_names(self) -> list[str]:
        """Region names followed by group names: the ``region`` column of outputs."""
        return self.names + list(self.groups)

    def group_matrix(self) -> np.ndarray:
        """(R + G, R) 0/1 matrix mapping regions to output units (each region, then each group)."""
        r = self.n_regions
        m = np.zeros((r + len(self.groups), r))
        m[np.arange(r), np.arange(r)] = 1.0
        for g, members in enumerate(self.groups.values()):
            m[r + g, members] = 1.0
        return m


def build_world(road_factor: float = 1.3, groups: dict[str, list[str]] | None = None) -> World:
    """Build the world from the bundled census, geography and crossings data."""
    lay = world_layout()
    census = data.cached("dprk_census_2008.csv")
    geo = data.cached("regions_geo.csv")
    china_pop = data.cached("china_border_regions.csv")
    cross = data.cached("border_crossings.csv")

    prov = census[census.unit_system == "census2008_province"].set_index("unit")
    rason = census[census.unit.str.startswith("Rason")].iloc[0]
    names: list[str] = []
    pop, urban, lat, lon, country = [], [], [], [], []
    for name in lay["dprk_regions"]:
        if name == "Rason":
            p, u = float(rason.pop_total_2008), float(rason.urban_share)
        else:
            row = prov.loc[name]
            p, u = float(row.pop_total_2008), float(row.urban_share)
            if name == "North Hamgyong":  # the census counts Rason inside North Hamgyong
                urb = u * p - float(rason.urban_share) * float(rason.pop_total_2008)
                p -= float(rason.pop_total_2008)
                u = urb / p
        g = geo[(geo.country == "DPRK") & (geo.name == GEO_NAME_ALIASES.get(name, name))].iloc[0]
        names.append(name)
        pop.append(p), urban.append(u), lat.append(float(g.lat)), lon.append(float(g.lon)), country.append(0)
    for name, spec in lay["china_regions"].items():
        rows = china_pop[(china_pop.unit == spec["population_unit"]) & (china_pop.year.astype(str) == str(spec["year"]))]
        g = geo[(geo.country == "China") & (geo.name.str.startswith(spec["point"]))].iloc[0]
        names.append(name)
        pop.append(float(rows.population.iloc[0])), urban.append(np.nan)
        lat.append(float(g.lat)), lon.append(float(g.lon)), country.append(1)

    index = {n: i for i, n in enumerate(names)}
    r = len(names)
    lat_a, lon_a = np.array(lat), np.array(lon)
    route = np.full((r, r), np.inf)
    np.fill_diagonal(route, 0.0)
    for a, b in lay["adjacency"]:
        i, j = index[a], index[b]
        route[i, j] = route[j, i] = road_factor * great_circle_km(lat_a[i], lon_a[i], lat_a[j], lon_a[j])

    rows = []
    for _, c in cross.iterrows():
        dprk_name = "Rason" if str(c.dprk_province).startswith("Rason") else str(c.dprk_province)
        d, ch = index[dprk_name], index[lay["crossing_regions"][c.crossing_id]]
        cap = lay["crossing_capacity_t"][c.crossing_id]
        # crossing point: the DPRK-side coordinates where the data gives them, else the province point
        # crossing point: the DPRK-side coordinates where the data gives them (else filled below)
        known = pd.notna(c.dprk_lat)
        plat, plon = (float(c.dprk_lat), float(c.dprk_lon)) if known else (np.nan, np.nan)
        km_dprk = road_factor * great_circle_km(lat_a[d], lon_a[d], plat, plon) if known else np.nan
        rows.append(dict(id=c.crossing_id, dprk_region=d, china_region=ch, capacity_t=float(cap["value"]),
                         capacity_basis=cap["basis"], km_dprk=km_dprk))
    crossings = pd.DataFrame(rows)
    # a crossing without coordinates is placed as far from its province point as the province's other
    # crossings are on average (Kaishantun-Sambong); the Chinese side is measured to the same distance
    fill = crossings.groupby("dprk_region").km_dprk.transform("mean").fillna(0.0)
    crossings["km_dprk"] = crossings.km_dprk.fillna(fill)
    # road km across a crossing: from the Chinese area's point to the DPRK province's point
    crossings["km"] = crossings.apply(
        lambda c: road_factor * great_circle_km(lat_a[c.china_region], lon_a[c.china_region],
                                                lat_a[c.dprk_region], lon_a[c.dprk_region]), axis=1)
    for c in crossings.itertuples():  # a crossing is also a road between the two sides
        route[c.dprk_region, c.china_region] = route[c.china_region, c.dprk_region] = min(
            route[c.dprk_region, c.china_region], c.km)

    path = route.copy()
    for k in range(r):  # Floyd-Warshall on a graph of ~15 nodes
        path = np.minimum(path, path[:, [k]] + path[[k], :])
    border = np.full(r, np.inf)
    for c in crossings.itertuples():
        border = np.minimum(border, path[:, c.dprk_region] + c.km_dprk)
    border[np.array(country) == 1] = 0.0

    group_names = groups if groups is not None else lay["groups"]
    groups_idx: dict[str, list[int]] = {}
    for gname, members in group_names.items():
        unknown = [m for m in members if m not in index]
        if unknown:
            raise UserError(f"groups: '{gname}' names unknown region(s) {unknown}; allowed: {names}")
        groups_idx[str(gname)] = [index[m] for m in members]

    national = census[census.unit_system == "national"]
    total = float(national[national.unit.str.contains("incl. military")].pop_total_2008.iloc[0])
    civil = float(national[national.unit.str.contains("civilian")].pop_total_2008.iloc[0])
    return World(
        names=names, country=np.array(country, dtype=np.int8), population=np.array(pop), urban_share=np.array(urban),
        lat=lat_a, lon=lon_a, groups=groups_idx, crossings=crossings, route_km=route, path_km=path, border_km=border,
        military_camps=int(total - civil), households_total=5_887_471, index=index,
    )
