"""Speed and memory of the full model at several scales.

Runs one simulated year (every mechanism on, from 2000) per scale, each in a fresh subprocess so
peak memory is that run's own, and reports: set-up time, household-steps per second (households x
weeks / wall time of the stepping loop), peak resident memory per household (``getrusage`` in the
child) and each module's ms per week. Prints a table and writes a JSON file. Numba kernels are
loaded from their on-disk cache in the first week (about 0.5 s, once per process); that load is
counted in the stepping time (with ``--from-year`` after 2000, in the untimed weeks).

With ``--from-year YEAR`` the run still starts in 2000, but steps untimed up to the first week of
YEAR and then times ``--weeks`` weeks from there (module timings are reset when timing starts), so
the cost of the later, denser years can be measured without a full run. The default, 2000, times
from the first week as before.

    python benchmarks/bench_scale.py [--scales 100 10 1] [--weeks 52] [--from-year 2000] [--out benchmarks/results/scale.json]
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
import datetime as dt, json, resource, sys, time
from hamji.sim import Sim
scale, weeks, from_year = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
start = dt.date(2000, 1, 3)
first = start  # start of the first timed week: the first week that starts in from_year
while first.year < from_year:
    first += dt.timedelta(weeks=1)
t0 = time.perf_counter()
sim = Sim(seed=1, scale=scale, start=start, end=first + dt.timedelta(weeks=weeks - 1))
sim.initialize()
t_setup = time.perf_counter()
skip = (first - start).days // 7  # weeks stepped untimed before the first timed week
while sim.week + 1 < skip:
    sim.step()
sim.timings = {k: 0.0 for k in sim.timings}  # module timings cover the timed weeks only
t1 = time.perf_counter()
while sim.week + 1 < sim.n_weeks:
    sim.step()
t2 = time.perf_counter()
timed = sim.n_weeks - skip
n = sim.people.households.n
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"scale": scale, "households": n, "from_year": from_year, "weeks": timed, "skipped_weeks": skip,
                  "setup_s": t_setup - t0, "untimed_step_s": t1 - t_setup, "step_s": t2 - t1,
                  "household_steps_per_s": n * timed / (t2 - t1), "peak_rss_bytes": peak,
                  "peak_bytes_per_household": peak / n, "state_bytes_per_household": sim.people.households.bytes_per_agent(),
                  "module_ms_per_week": {k: 1000 * v / timed for k, v in sim.timings.items()}}))
"""


def print_modules(rows: list[dict]) -> None:
    """Table of each module's ms per week (rows) at each scale (columns), slowest first at the largest scale."""
    if not rows:
        return
    names = sorted(rows[-1]["module_ms_per_week"], key=lambda k: -rows[-1]["module_ms_per_week"][k])
    print(f"{'ms/week':16s}" + "".join(f"{'1:' + str(r['scale']):>10s}" for r in rows))
    for k in names:
        print(f"{k:16s}" + "".join(f"{r['module_ms_per_week'].get(k, float('nan')):10.2f}" for r in rows))


def cpu_model() -> str:
    """The processor's model name (Linux), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[100, 10, 1])
    ap.add_argument("--weeks", type=int, default=52, help="weeks timed")
    ap.add_argument("--from-year", type=int, default=2000, help="time from the first week of this year (earlier weeks untimed)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    args = ap.parse_args()
    rows = []
    for s in args.scales:
        res = subprocess.run([sys.executable, "-c", CHILD, str(s), str(args.weeks), str(args.from_year)], capture_output=True,
                             text=True, check=True)
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"1:{s:<6} {row['households']:>9,} households  setup {row['setup_s']:6.1f} s  "
              f"{row['weeks']} weeks from {row['from_year']}  "
              f"{row['household_steps_per_s'] / 1e6:6.2f} M household-steps/s  "
              f"peak {row['peak_bytes_per_household']:7.0f} B/household", flush=True)
    print_modules(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": {"python": platform.python_version(), "platform": platform.platform(),
                                                "processor": cpu_model(), "cpus": os.cpu_count()}, "runs": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
