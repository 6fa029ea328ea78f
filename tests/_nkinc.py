"""Helpers shared by the tests of several files (formerly in tests/test_nkinc.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from hamji.modules import Exports, Funnel, RevenueBases, Wahku
from hamji.sim import Sim

MODULES = [RevenueBases, Wahku, Exports, Funnel]


SEEDS = (1, 2, 3)


def make(seed: int = 1, scale: int = 1000, end: dt.date = dt.date(2002, 12, 31), **overrides) -> Sim:
    """A sim with the four modules only, 2000 to ``end``."""
    return Sim(seed=seed, scale=scale, end=end, modules=MODULES, overrides=overrides or None)


def annual(sim: Sim, metric: str, region: str = "DPRK") -> dict[int, float]:
    """Year -> annual value of ``metric`` in ``region`` (as ``Results.annual``, for one series)."""
    res = sim.results
    frame = pd.DataFrame({"v": weekly(sim, metric, region), "year": sim.dates.year})
    how = res.metrics[metric].annual
    g = frame.groupby("year").v
    out = g.sum(min_count=1) if how == "sum" else g.last() if how == "last" else g.mean()
    return {int(y): float(v) for y, v in out.items() if np.isfinite(v)}


def weekly(sim: Sim, metric: str, region: str = "DPRK") -> np.ndarray:
    """Weekly values of ``metric`` in ``region``."""
    res = sim.results
    return res.values[:, res.unit_names.index(region), res._col[metric]]
