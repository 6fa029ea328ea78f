"""A whole run, 2000-2030, timed year by year: the speed of every simulated year, not just the first.

Runs the baseline at ``--scale`` (default 1:1, every household) in this process and reports, for
each calendar year: wall and CPU seconds of stepping, household-steps per second (households x
weeks / wall seconds) and per CPU-second, and each module's ms per week. Also the set-up time,
the whole run's totals and the peak resident memory per household. Prints a table and writes JSON.

    python benchmarks/bench_full_run.py [--scale 1] [--seed 1] [--out benchmarks/results/full_run.json]

At 1:1 this takes about 10 minutes on the 2-core machine with both cores (``NUMBA_NUM_THREADS=1`` for one) and about
2 GB of memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from hamji.sim import DEFAULT_END, DEFAULT_START, Sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default=str(DEFAULT_START))
    ap.add_argument("--end", default=str(DEFAULT_END))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/full_run.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    sim = Sim(seed=args.seed, scale=args.scale, start=dt.date.fromisoformat(args.start), end=dt.date.fromisoformat(args.end))
    sim.initialize()
    setup_s = time.perf_counter() - t0
    n = sim.people.households.n
    years: list[dict] = []
    with Progress(TextColumn("[bold]1:{task.fields[scale]} {task.fields[year]}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} weeks"), TimeElapsedColumn(), TimeRemainingColumn()) as bar:
        job = bar.add_task("run", total=sim.n_weeks, scale=args.scale, year=sim.year)
        while sim.week + 1 < sim.n_weeks:
            year = int(sim.dates[sim.week + 1].year)
            before = dict(sim.timings)
            w0, c0, weeks = time.perf_counter(), time.process_time(), 0
            while sim.week + 1 < sim.n_weeks and int(sim.dates[sim.week + 1].year) == year:
                sim.step()
                weeks += 1
                bar.update(job, completed=sim.week + 1, year=year)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            years.append({"year": year, "weeks": weeks, "wall_s": wall, "cpu_s": cpu,
                          "household_steps_per_s": n * weeks / wall, "household_steps_per_cpu_s": n * weeks / cpu,
                          "module_ms_per_week": {k: 1000 * (sim.timings[k] - before[k]) / weeks for k in sim.timings}})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    wall = sum(y["wall_s"] for y in years)
    cpu = sum(y["cpu_s"] for y in years)
    slowest = min(years, key=lambda y: y["household_steps_per_s"])
    summary = {"machine": {"python": platform.python_version(), "platform": platform.platform()},
               "scale": args.scale, "seed": args.seed, "threads": getattr(sim, "threads", 1), "households": n,
               "weeks": sim.n_weeks, "setup_s": setup_s,
               "step_wall_s": wall, "step_cpu_s": cpu, "household_steps_per_s": n * sim.n_weeks / wall,
               "household_steps_per_cpu_s": n * sim.n_weeks / cpu, "slowest_year": slowest["year"],
               "slowest_year_household_steps_per_s": slowest["household_steps_per_s"],
               "peak_rss_bytes": peak, "peak_bytes_per_household": peak / n, "years": years}
    print(f"{'year':>6} {'wall s':>8} {'cpu s':>8} {'M hh-steps/s':>13} {'per cpu-s':>10}  slowest modules (ms/week)")
    for y in years:
        top = sorted(y["module_ms_per_week"].items(), key=lambda kv: -kv[1])[:3]
        print(f"{y['year']:>6} {y['wall_s']:8.1f} {y['cpu_s']:8.1f} {y['household_steps_per_s'] / 1e6:13.2f} "
              f"{y['household_steps_per_cpu_s'] / 1e6:10.2f}  " + ", ".join(f"{k} {v:.0f}" for k, v in top))
    print(f"1:{args.scale}, {n:,} households: set-up {setup_s:.1f} s, stepping {wall / 60:.1f} min wall "
          f"({cpu / 60:.1f} min CPU), {summary['household_steps_per_s'] / 1e6:.2f} M household-steps/s overall, "
          f"slowest year {slowest['year']} at {slowest['household_steps_per_s'] / 1e6:.2f} M; "
          f"peak {peak / 2**30:.2f} GiB = {peak / n:.0f} B/household")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
