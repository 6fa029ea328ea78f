"""Helpers shared by the tests of several files (formerly in tests/test_society_markets.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from hamji.modules import PLAN
from hamji.sim import Sim

SCALE = 2000


ONE_YEAR = (dt.date(2000, 1, 3), dt.date(2000, 12, 31))


TWO_YEARS = (dt.date(2000, 1, 3), dt.date(2001, 12, 31))


#: this issue's modules alone (plus the population report): fast, and independent of the other modules
MINE = [m for m in PLAN if m.name in ("wholesale", "distribution", "retail", "network", "population")]


def run(period=ONE_YEAR, seed: int = 1, modules=None, scale: int = SCALE, **overrides) -> Sim:
    return Sim(seed=seed, scale=scale, start=period[0], end=period[1], overrides=overrides, modules=modules).run()


def series(sim: Sim, metric: str, unit: str = "DPRK") -> np.ndarray:
    """Weekly values of a metric for one output unit (real-world figures)."""
    res = sim.results
    return res.values[:, res.unit_names.index(unit), res._col[metric]]


def total(sim: Sim, metric: str, unit: str = "DPRK") -> float:
    return float(np.nansum(series(sim, metric, unit)))
