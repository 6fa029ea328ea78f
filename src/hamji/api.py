"""The Python entry points: ``hamji.run`` for notebooks, ``model_function`` for experiment tools.

``model_function`` returns a plain function ``outcomes = f(**params)`` (parameters in, a dict of
named outcomes out), the shape EMA Workbench, SALib and optimisers drive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from hamji.errors import UserError
from hamji.parameters import Parameters, brief
from hamji.run_window import DEFAULT_END, DEFAULT_START
from hamji.scenario import split_overrides

#: default outcomes of :func:`model_function`: (name, metric, region, how over the window)
DEFAULT_OUTCOMES = (
    ("hsi_hamji", "hsi_mean", "HamJi"),
    ("hsi_rest", "hsi_mean", "Rest of DPRK"),
    ("exports_usd", "exports_usd", "DPRK"),
    ("imports_usd", "imports_usd", "DPRK"),
    ("leader_fund_usd", "leader_fund_usd", "DPRK"),
    ("bribes_usd", "bribes_usd", "DPRK"),
)


#: :func:`model_function` averages the last ten years of its window by default (the run's whole third decade for the
#: default window): :func:`hamji.analysis.settings.default_years` with this span
MODEL_FUNCTION_YEARS = 10


def _check_params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise UserError(f"params {brief(params)}: expected a mapping of parameter name to value")
    return dict(params)


def run(scenario: str = "baseline", params: dict[str, Any] | None = None, seed: int = 1, scale: int | str = 100,
        start: dt.date | str = DEFAULT_START, end: dt.date | str = DEFAULT_END, annual: bool = False) -> pd.DataFrame:
    """Run one simulation; the results as a tidy DataFrame (date or year, region, metric, value).

    Every argument is checked before anything runs; a mistake raises :class:`hamji.errors.UserError`
    with one line naming the argument and what is allowed. Dates are ``datetime.date`` or text
    (YYYY-MM-DD, YYYY-MM or YYYY).
    """
    from hamji.sim import Sim

    if not isinstance(annual, bool):
        raise UserError(f"annual {brief(annual)}: expected True or False")
    overrides = _check_params(params)
    plain, _ = split_overrides(overrides)
    Parameters(plain, where="params")  # names and ranges, so a mistake is named as the caller wrote it
    sim = Sim(scenario, seed=seed, scale=scale, start=start, end=end, overrides=overrides)
    sim.run()
    return sim.results.annual() if annual else sim.results.tidy()


def known_outputs(scenario: Any) -> tuple[set[str], set[str]]:
    """Metric names a run records, and its output units (regions and groups)."""
    from hamji.modules import PLAN
    from hamji.sim import CORE_METRICS
    from hamji.world import world_layout

    metrics = {m.name for m in CORE_METRICS} | {m.name for cls in PLAN for m in cls.metrics}
    lay = world_layout()
    groups = scenario.spec.groups if scenario.spec.groups is not None else lay["groups"]
    return metrics, set(lay["dprk_regions"]) | set(lay["china_regions"]) | set(groups)


def model_function(scenario: str = "baseline", seed: int = 1, scale: int | str = 1000,
                   start: dt.date | str = DEFAULT_START, end: dt.date | str = DEFAULT_END, years: tuple[int, int] | None = None,
                   outcomes: tuple[tuple[str, str, str], ...] = DEFAULT_OUTCOMES) -> Callable[..., dict[str, float]]:
    """A function ``f(**params) -> {outcome: value}``: each outcome's annual mean over ``years`` (default: the
    last :data:`MODEL_FUNCTION_YEARS` years of the window, clipped to it: 2021-2030 for the default window).

    The scenario, seed, scale, dates, years and outcomes are checked here, once, and the parameters
    at each call before the run: a mistake raises :class:`hamji.errors.UserError`.
    """
    from hamji.analysis.settings import parse_years
    from hamji.scenario import load_scenario
    from hamji.sim import check_run_date, parse_scale, parse_seed

    parse_seed(seed)
    parse_scale(scale)
    first, last = check_run_date(start, "start"), check_run_date(end, "end")
    if last < first:
        raise UserError(f"end {last} is before start {first}")
    years = parse_years(years, first, last, MODEL_FUNCTION_YEARS)  # (first, last), or Y1-Y2 text as for the CLI
    loaded = load_scenario(scenario)
    metrics, units = known_outputs(loaded)
    if not isinstance(outcomes, (tuple, list)) or not outcomes:
        raise UserError(f"outcomes {brief(outcomes)}: expected a list of (name, metric, region)")
    for item in outcomes:
        if not (isinstance(item, (tuple, list)) and len(item) == 3 and all(isinstance(x, str) for x in item)):
            raise UserError(f"outcomes: {brief(item)}: expected (name, metric, region), each text")
        if item[1] not in metrics:
            raise UserError(f"outcomes: {brief(item)}: unknown metric {brief(item[1])}; docs/metrics.md lists them")
        if item[2] not in units:
            raise UserError(f"outcomes: {brief(item)}: unknown region {brief(item[2])}; allowed: {', '.join(sorted(units))}")

    def f(**params: Any) -> dict[str, float]:
        ann = run(scenario, params, seed, scale, start, end, annual=True)
        window = ann[(ann.year >= years[0]) & (ann.year <= years[1])]
        result = {}
        for name, metric, region in outcomes:
            v = window[(window.metric == metric) & (window.region == region)].value
            result[name] = float(v.mean()) if len(v) else float("nan")
        return result

    return f
