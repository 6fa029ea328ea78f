"""Are a refactor's results identical? Runs fixed cases and compares every recorded value and the agents' state.

    python benchmarks/same_results.py --write REF.npz     # on the commit before the change
    python benchmarks/same_results.py --check REF.npz     # after it: exit 0 only if every array is equal to the bit

The cases (baseline and recommendations 2000-2030 and history 2000-2024 at 1:1000, baseline to 2012 at 1:200) are
those earlier refactors were checked on (docs/performance.md). Results are compared by metric name and agent state by
set and name, so a change that only renames or reorders internal arrays still compares.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import numpy as np

CASES = (
    ("baseline", 1000, 1, dt.date(2000, 1, 3), dt.date(2030, 12, 30)),
    ("recommendations", 1000, 3, dt.date(2000, 1, 3), dt.date(2030, 12, 30)),
    ("history", 1000, 2, dt.date(2000, 1, 3), dt.date(2024, 12, 30)),
    ("baseline", 200, 4, dt.date(2000, 1, 3), dt.date(2012, 12, 31)),
)


def compute(quick: bool = False) -> dict[str, np.ndarray]:
    """Every case's results (one array per metric) and final agent states, keyed ``case/metric`` and ``case/set.state``."""
    from hamji.sim import Sim

    out: dict[str, np.ndarray] = {}
    for scenario, scale, seed, start, end in CASES[:1] if quick else CASES:
        case = f"{scenario}-{scale}-{seed}"
        sim = Sim(scenario, seed=seed, scale=scale, start=start, end=end).run()
        values = sim.results.values
        for k, name in enumerate(sim.results.metrics):
            out[f"{case}/{name}"] = values[:, :, k].copy()
        for kind, agents in sim.people.sets().items():
            for state in agents.states:
                out[f"{case}/{kind}.{state}"] = np.asarray(getattr(agents, state)).copy()
        print(f"{case}: {sim.wall_time:.2f} s", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", metavar="REF")
    g.add_argument("--check", metavar="REF")
    ap.add_argument("--quick", action="store_true", help="the first case only")
    a = ap.parse_args(argv)
    now = compute(a.quick)
    if a.write:
        np.savez_compressed(a.write, **now)
        print(f"wrote {len(now)} arrays to {a.write}")
        return 0
    ref = dict(np.load(a.check))
    if a.quick:
        first = next(iter(now)).split("/")[0]
        ref = {k: v for k, v in ref.items() if k.startswith(first + "/")}
    bad = sorted(set(ref) ^ set(now))
    for k in sorted(set(ref) & set(now)):
        x, y = ref[k], now[k]
        if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            bad.append(k)
    for k in bad[:30]:
        print("differs:", k)
    print(f"{len(ref)} arrays compared, {len(bad)} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
