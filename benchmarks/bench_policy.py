"""What policy design costs: designs evaluated per hour at 1:1000, and the worked example's wall time.

    python benchmarks/bench_policy.py [--scale 1000] [--trials 4] [--workers 2] [--example] [--out benchmarks/results/policy.json]

Times a short ``hamji optimize`` search (``--trials`` designs in one NSGA-II generation, one seed,
runs 2008-2020, outcomes over 2016-2020, no reference scenarios; baseline once per seed) on
``--workers`` Dask workers, and reports designs per hour (each design is one run: baseline is run
once per seed and shared). With ``--example`` it also runs the worked example of
docs/policy-design.md (20 designs and the four references at US$ 30 M a year, then ``robust`` of three
designs over 8 worlds) and records both wall times. Measure on a quiet machine: other jobs slow
every run, and the figures in docs/policy-design.md say how loaded the machine was.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from hamji.analysis import policy

START, END, YEARS = dt.date(2008, 1, 7), dt.date(2020, 12, 28), "2016-2020"
#: the worked example (docs/policy-design.md)
EXAMPLE_BUDGET, EXAMPLE_TRIALS, EXAMPLE_POPULATION, EXAMPLE_WORLDS = 30e6, 20, 8, 8


def timed_search(scale: int, trials: int, workers: int, out: Path, references: tuple[str, ...] = ()) -> float:
    run = policy.run_settings(1, scale, START, END, YEARS, workers, None)
    spec = policy.optimize_spec(EXAMPLE_BUDGET, None, None, trials, max(2, min(trials, EXAMPLE_POPULATION)), 1, run)
    spec.references = references
    t0 = time.perf_counter()
    policy.optimize(spec, out)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=1000)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--example", action="store_true", help="also run the worked example (about 40 minutes on a busy machine)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/policy.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wall = timed_search(args.scale, args.trials, args.workers, Path(tmp) / "short")
        row = {"scale": args.scale, "workers": args.workers, "designs timed": args.trials, "wall_s": round(wall, 1),
               "designs per hour": round(args.trials / wall * 3600), "date": dt.date.today().isoformat()}
        if args.example:
            opt = Path(tmp) / "example"
            row["example optimize wall_s"] = round(timed_search(args.scale, EXAMPLE_TRIALS, args.workers, opt,
                                                                policy.REFERENCES), 1)
            table = __import__("pandas").read_parquet(opt / "frontier.parquet")
            front = table[(table.kind == "design") & table.pareto].sort_values("hsi_mean:HamJi", ascending=False)
            designs = [f"{opt / 'frontier.parquet'}:{int(t)}" for t in front.trial.head(2)] + ["recommendations"]
            run = policy.run_settings(1, args.scale, START, END, YEARS, args.workers, None)
            rspec = policy.robust_spec(designs, EXAMPLE_WORLDS, "max:hsi_mean:HamJi", None, None, False, run)
            t0 = time.perf_counter()
            policy.robust(rspec, Path(tmp) / "robust")
            row["example robust wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(row, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps(history + [row], indent=2) + "\n")


if __name__ == "__main__":
    main()
