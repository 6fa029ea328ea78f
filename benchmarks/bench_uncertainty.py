"""What the uncertainty analyses cost: paired runs per hour, and the wall time of each method's default design.

    python benchmarks/bench_uncertainty.py [--scale 1000] [--runs 8] [--workers 2] [--out docs/benchmarks/uncertainty.json]

Times ``--runs`` samples of the default sensitivity analysis (micro-lending against baseline, runs
2008-2020, one seed: each sample is a paired run, the micro-lending run forked from the baseline at
its first event) on ``--workers`` Dask workers, and projects the wall time of each method's default
design over 8 parameters (Sobol' N = 64: 640 samples; Morris 4 trajectories: 36 samples; delta: 128)
and of a Morris screening of every uncertain parameter grouped by module. Figures are in
``docs/uncertainty.md``; measure on a quiet machine (other jobs slow every run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np

from hamji.analysis.experiments import parse_outcome, resolve_params, run_design, values_from_unit
from hamji.analysis.sensitivity import SensitivitySpec, module_groups, n_runs

START, END, YEARS = dt.date(2008, 1, 7), dt.date(2020, 12, 28), (2016, 2020)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/uncertainty.json"))
    args = ap.parse_args()
    names, _ = resolve_params(None, ["baseline", "microlending"])
    unit = np.random.default_rng(1).random((args.runs, len(names)))
    values = values_from_unit(names, unit)
    outcomes = [parse_outcome("hsi_mean:HamJi", YEARS), parse_outcome("regime_revenue_usd:DPRK", YEARS)]
    t0 = time.perf_counter()
    run_design(values, "baseline", "microlending", outcomes, [1], args.scale, START, END, workers=args.workers)
    wall = time.perf_counter() - t0
    per_hour = args.runs / wall * 3600
    eight = names[:8]
    designs = {f"{m} over 8 parameters (default design)": SensitivitySpec(method=m, effect="microlending")
               for m in ("morris", "sobol", "delta")}
    designs["morris over every uncertain parameter, grouped by module"] = SensitivitySpec(effect="microlending", groups="module")
    projected = {}
    for label, spec in designs.items():
        chosen = names if spec.groups else eight
        runs = n_runs(spec, chosen) // 2  # paired samples (n_runs counts both runs of a pair)
        projected[label] = {"paired samples": runs, "hours": runs / per_hour}
    row = {"scale": args.scale, "workers": args.workers, "paired samples timed": args.runs, "wall_s": round(wall, 1),
           "paired samples per hour": round(per_hour), "uncertain parameters": len(names),
           "modules": len(set(module_groups(names))), "projected": projected,
           "date": dt.date.today().isoformat()}
    print(json.dumps(row, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps(history + [row], indent=2) + "\n")


if __name__ == "__main__":
    main()
