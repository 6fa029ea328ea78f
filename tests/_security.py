"""Helpers shared by the tests of several files (formerly in tests/test_society_security.py)."""

from __future__ import annotations

import datetime as dt

from hamji.modules.enforcement import Enforcement
from hamji.modules.human_security import HumanSecurity
from hamji.modules.remittances import Remittances
from hamji.sim import Sim

MINE = [Remittances, Enforcement, HumanSecurity]


def make_sim(seed: int = 1, scale: int = 2000, start: dt.date = dt.date(2010, 1, 4), end: dt.date = dt.date(2010, 12, 27),
             modules: list | None = None, **overrides) -> Sim:
    """An initialised simulation of this task's modules."""
    s = Sim(seed=seed, scale=scale, start=start, end=end, overrides=overrides, modules=MINE if modules is None else modules)
    s.initialize()
    return s


def annual(s: Sim, metric: str, unit: str = "DPRK"):
    a = s.results.annual()
    return a[(a.metric == metric) & (a.region == unit)].set_index("year").value
