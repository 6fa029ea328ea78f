"""Scale invariance: group means do not depend on the scale 1:N beyond sampling noise.

A simulated household stands for N real ones; means per household or per person must come out the
same at 1:2000 and 1:500 (the 1:500 run has four times the households, so less noise). Compared
over a few seeds and years: the difference of the seed means must be within a few standard errors
of it (seed-to-seed spread), plus a small floor for the noise left with few seeds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hamji.sim import Sim

METRICS = ("hsi_mean", "participants_share", "income_per_capita_usd", "food_secure_share")
SEEDS = (1, 2, 3)
END = dt.date(2004, 12, 27)


def last_year_means(scale: int, seed: int) -> dict[str, float]:
    """DPRK values of ``METRICS`` in the last simulated year (annual form)."""
    s = Sim(seed=seed, scale=scale, start=dt.date(2000, 1, 3), end=END).run()
    a = s.results.annual()
    a = a[(a.region == "DPRK") & (a.year == END.year)].set_index("metric").value
    return {m: float(a[m]) for m in METRICS}


@pytest.fixture(scope="module")
def runs() -> dict[int, list[dict[str, float]]]:
    return {scale: [last_year_means(scale, seed) for seed in SEEDS] for scale in (2000, 500)}


@pytest.mark.parametrize("metric", METRICS)
def test_group_means_do_not_depend_on_scale(runs, metric):
    coarse = np.array([r[metric] for r in runs[2000]])
    fine = np.array([r[metric] for r in runs[500]])
    se = np.sqrt(coarse.var(ddof=1) / len(coarse) + fine.var(ddof=1) / len(fine))
    floor = 0.02 * abs(fine.mean())  # a few seeds estimate the spread roughly
    assert abs(coarse.mean() - fine.mean()) <= 4.0 * se + floor, (metric, coarse, fine)
