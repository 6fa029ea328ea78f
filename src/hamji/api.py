"""The Python entry points: ``hamji.run`` for notebooks, ``model_function`` for experiment tools.

``model_function`` returns a plain function ``outcomes = f(**params)`` (parameters in, a dict of
named outcomes out), the shape EMA Workbench, SALib and optimisers drive.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import pandas as pd

#: default outcomes of :func:`model_function`: (name, metric, region, how over the window)
DEFAULT_OUTCOMES = (
    ("hsi_hamji", "hsi_mean", "HamJi"),
    ("hsi_rest", "hsi_mean", "Rest of DPRK"),
    ("exports_usd", "exports_usd", "DPRK"),
    ("imports_usd", "imports_usd", "DPRK"),
    ("leader_fund_usd", "leader_fund_usd", "DPRK"),
    ("bribes_usd", "bribes_usd", "DPRK"),
)


def run(scenario: str = "baseline", params: dict[str, Any] | None = None, seed: int = 1, scale: int | str = 100,
        start: dt.date | str = "2000-01-03", end: dt.date | str = "2030-12-30", annual: bool = False) -> pd.DataFrame:
    """Run one simulation; the results as a tidy DataFrame (date or year, region, metric, value)."""
    from hamji.sim import Sim

    sim = Sim(scenario, seed=seed, scale=scale, start=pd.Timestamp(start).date(), end=pd.Timestamp(end).date(),
              overrides=params or {})
    sim.run()
    return sim.results.annual() if annual else sim.results.tidy()


def model_function(scenario: str = "baseline", seed: int = 1, scale: int | str = 1000,
                   start: str = "2000-01-03", end: str = "2030-12-30", years: tuple[int, int] = (2021, 2030),
                   outcomes: tuple[tuple[str, str, str], ...] = DEFAULT_OUTCOMES) -> Callable[..., dict[str, float]]:
    """A function ``f(**params) -> {outcome: value}``: each outcome's annual mean over ``years``."""

    def f(**params: Any) -> dict[str, float]:
        ann = run(scenario, params, seed, scale, start, end, annual=True)
        window = ann[(ann.year >= years[0]) & (ann.year <= years[1])]
        result = {}
        for name, metric, region in outcomes:
            v = window[(window.metric == metric) & (window.region == region)].value
            result[name] = float(v.mean()) if len(v) else float("nan")
        return result

    return f
