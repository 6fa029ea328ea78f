"""Parallel speed-up of ensembles: the same tasks with 1 and with K Dask workers.

    python benchmarks/bench_ensemble.py [--tasks 8] [--scale 100] [--workers 2] [--out benchmarks/results/ensemble.json]

Checks that both give bit-identical results, and reports wall times and the speed-up (target on
the 2-core machine: at least 1.6 with 2 workers). Measured: 1.65 (8 tasks to 2015 at 1:100: 117.7 s
with one worker, 71.3 s with two).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd

from hamji.analysis.ensemble import Task, run_ensemble


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--scale", type=int, default=100)  # the default scale of `hamji run` and `compare`
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--end", default="2015-12-28")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/ensemble.json"))
    args = ap.parse_args()
    end = dt.date.fromisoformat(args.end)
    tasks = [Task("baseline", s, args.scale, dt.date(2000, 1, 3), end) for s in range(1, args.tasks + 1)]
    t0 = time.perf_counter()
    one = run_ensemble(tasks, workers=1)
    t1 = time.perf_counter()
    many = run_ensemble(tasks, workers=args.workers)
    t2 = time.perf_counter()
    pd.testing.assert_frame_equal(one, many)
    row = {"tasks": args.tasks, "scale": args.scale, "end": args.end, "workers": args.workers,
           "wall_1_worker_s": t1 - t0, f"wall_{args.workers}_workers_s": t2 - t1, "speedup": (t1 - t0) / (t2 - t1),
           "identical": True}
    print(json.dumps(row, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
