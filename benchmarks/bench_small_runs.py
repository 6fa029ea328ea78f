"""Small runs: the stepping time of a whole 31-year run at 1:1000 and 1:100, and 1:1000 runs per hour.

    python benchmarks/bench_small_runs.py [--scales 1000 100] [--repeats 3] [--ensemble 16]
                                          [--against [LABEL=]PATH/TO/OTHER/src ...] [--out benchmarks/results/small_runs.json]

Each run is the baseline 2000-2030 (1,618 weeks), seed 1, in a fresh process (Numba kernels loaded
from their cache before timing: one untimed week). Stepping time is the wall time of the weekly loop,
set-up excluded; the best of ``--repeats`` is reported with all of them. ``--ensemble N`` times N
baseline runs at 1:1000 on 2 Dask workers (set-up, stepping and the annual table of each, as an
analysis does), as runs per hour. ``--against SRC ...`` runs the same measurements with other checkouts'
``src`` first (earlier commits, say; ``label=SRC`` names one), alternating, so that all are measured in one sitting.
Targets (issue 18): 1:1000 in at most 1.5 s of stepping, 1:100 in at most 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import hamji
from hamji.sim import Sim
sim = Sim(seed=1, scale=int(sys.argv[1]))
t0 = time.perf_counter()
sim.initialize()
t1 = time.perf_counter()
sim.step()  # loads the kernels from the cache: not timed
t2 = time.perf_counter()
while sim.week + 1 < sim.n_weeks:
    sim.step()
t3 = time.perf_counter()
print(json.dumps({"setup_s": t1 - t0, "first_week_s": t2 - t1, "step_s": t3 - t2, "weeks": sim.n_weeks,
                  "households": sim.people.households.n, "package": hamji.__file__}))
"""

ENSEMBLE = r"""
import json, sys, time, datetime as dt
from hamji.analysis.ensemble import Task, run_ensemble
n = int(sys.argv[1])
tasks = [Task("baseline", s, 1000, dt.date(2000, 1, 3), dt.date(2030, 12, 30)) for s in range(1, n + 1)]
t0 = time.perf_counter()
run_ensemble(tasks, workers=2)
wall = time.perf_counter() - t0
print(json.dumps({"runs": n, "wall_s": wall, "runs_per_hour": n / wall * 3600}))
"""


def child(code: str, arg: str, src: str | None) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    res = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, env=env, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1000, 100])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ensemble", type=int, default=16)
    ap.add_argument("--against", nargs="+", default=[], metavar="[LABEL=]SRC",
                    help="other checkouts' src folders (label=path to name them), measured alternately with this one")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/small_runs.json"))
    args = ap.parse_args()
    codes: dict[str, str | None] = {}
    for k, spec in enumerate(args.against):
        label, _, path = spec.rpartition("=") if "=" in spec else (f"against{k + 1 if len(args.against) > 1 else ''}", "", spec)
        codes[label] = path
    codes["this"] = None
    out: dict = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                             "cpus": os.cpu_count()}, "against": args.against, "runs": {}}
    for label in codes:
        child(CHILD, "1000", codes[label])  # compile or load each tree's kernels once
    for scale in args.scales:
        for label in codes:
            out["runs"].setdefault(label, {})[str(scale)] = []
        for _ in range(args.repeats):
            for label, src in codes.items():
                out["runs"][label][str(scale)].append(child(CHILD, str(scale), src))
    if args.ensemble:
        for label, src in codes.items():
            out["runs"][label]["ensemble_1000"] = child(ENSEMBLE, str(args.ensemble), src)
    for label, runs in out["runs"].items():
        for scale in args.scales:
            steps = [r["step_s"] for r in runs[str(scale)]]
            print(f"{label:10} 1:{scale:<5} stepping {min(steps):6.2f} s (runs: {', '.join(f'{s:.2f}' for s in steps)})"
                  f", set-up {runs[str(scale)][0]['setup_s']:.2f} s")
        if "ensemble_1000" in runs:
            e = runs["ensemble_1000"]
            print(f"{label:10} ensemble of {e['runs']} runs at 1:1000 on 2 workers: {e['wall_s']:.1f} s,"
                  f" {e['runs_per_hour']:.0f} runs an hour")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
