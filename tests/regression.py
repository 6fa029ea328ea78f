"""The baseline regression file: key annual series of two short runs at fixed seeds, stored in git.

``tests/test_regression.py`` reruns the cases and compares them with ``tests/baseline_regression.csv``
within the tolerance that holds across CPUs (:func:`within_tolerance`; README, "Reproducibility"). On
the machine that wrote the file the values agree to the last bit.

When a change of results is intended, regenerate the file and say why in the commit message::

    python tests/regression.py --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import pandas as pd

FILE = Path(__file__).with_name("baseline_regression.csv")

#: (name, scenario, scale, seed, start, end): the boom's first years, and the sanctions and the closure
CASES = (
    ("baseline-2000", "baseline", 2000, 1, dt.date(2000, 1, 3), dt.date(2002, 12, 30)),
    ("history-2015", "history", 2000, 2, dt.date(2015, 1, 5), dt.date(2021, 12, 27)),
)
METRICS = ("exports_usd", "imports_usd", "regime_revenue_usd", "leader_fund_usd", "company_revenue_usd",
           "hsi_mean", "hsi_participants", "hsi_nonparticipants", "food_secure_share", "price_index",
           "rice_price_kpw", "markets_adhoc", "participants_share", "bribes_usd", "remittances_usd",
           "income_per_capita_usd", "population", "merchant_capital_usd")
REGIONS = ("HamJi", "Rest of DPRK", "DPRK", "Jilin")

#: Cross-CPU tolerance. NumPy picks its pow, exp and log code by CPU, so another CPU may differ in the last
#: bit of a probability, and a household's draw may then fall on the other side of it. Measured here: a
#: change of 1e-6 in any probability parameter flips no decision in these cases (results equal to 1e-6), and
#: a change of 1% (thousands of flips) moves no series by more than 0.07% (``network_exit_base``); only
#: ``infraction_rate``, which scales bribes directly, moves them by 1.9%.
RTOL = 1e-3
#: ... plus an absolute slack of a millionth of the series' largest value (for series that fall to ~0)
ATOL_OF_MAX = 1e-6
#: ... and one unit for counts (one ad hoc market more or less)
COUNTS = ("markets_adhoc",)


def compute() -> pd.DataFrame:
    """Run every case; tidy rows ``case, metric, region, year, value`` in a fixed order."""
    import hamji

    frames = []
    for name, scenario, scale, seed, start, end in CASES:
        annual = hamji.run(scenario=scenario, scale=scale, seed=seed, start=start, end=end, annual=True)
        keep = annual[annual.metric.isin(METRICS) & annual.region.isin(REGIONS)].copy()
        keep.insert(0, "case", name)
        frames.append(keep[["case", "metric", "region", "year", "value"]])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["case", "metric", "region", "year"], kind="stable").reset_index(drop=True)


def within_tolerance(stored: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``stored`` and ``now`` merged, with ``ok``: ``|now - stored| <= RTOL |stored| + slack``."""
    keys = ["case", "metric", "region", "year"]
    both = stored.merge(now, on=keys, how="outer", suffixes=("_stored", "_now"), indicator=True)
    largest = both.groupby(["case", "metric", "region"]).value_stored.transform(lambda v: v.abs().max())
    slack = ATOL_OF_MAX * largest.fillna(0.0) + both.metric.isin(COUNTS)
    diff = (both.value_now - both.value_stored).abs()
    both["ok"] = (both._merge == "both") & ((diff <= RTOL * both.value_stored.abs() + slack)
                                             | (both.value_now.isna() & both.value_stored.isna()))
    both["rel"] = diff / both.value_stored.abs().clip(lower=1e-300)
    return both


def load() -> pd.DataFrame:
    """The stored file, in the order :func:`compute` gives."""
    return pd.read_csv(FILE, dtype={"case": str, "metric": str, "region": str, "year": int, "value": float})


def main(argv: list[str] | None = None) -> int:
    """``--write`` regenerates the file; without it, print the largest differences from it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite tests/baseline_regression.csv from the current code")
    args = ap.parse_args(argv)
    new = compute()
    if args.write:
        new.to_csv(FILE, index=False, float_format="%.17g")
        print(f"wrote {FILE} ({len(new)} rows)")
        return 0
    both = within_tolerance(load(), new)
    print(both.sort_values("rel", ascending=False).head(20).drop(columns="_merge").to_string(index=False))
    print(f"{int((~both.ok).sum())} of {len(both)} values outside the tolerance")
    return 0 if both.ok.all() else 1


if __name__ == "__main__":
    sys.exit(main())
