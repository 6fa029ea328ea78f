"""The EMA Workbench adapter: hamji as an EMA ``Model``, so EMA's samplers, analyses and optimisers
drive it without glue.

:func:`model` declares a hamji scenario the way EMA expects a model: typed uncertainties and levers
with their ranges (from the parameter registry), and scalar outcomes (hamji metrics). Each EMA
experiment runs the scenario, or a scenario pair, with the experiment's parameter values over a few
seeds (:func:`hamji.analysis.experiments.run_design`) and reports each outcome's mean over the seeds.

* **Uncertainties**: by default every parameter the registry declares uncertain, over its plausible
  range (``declared=True``: its declared range) and with its distribution; a ``float`` becomes a
  ``RealParameter``, an ``int`` an ``IntegerParameter``, a ``bool`` a ``BooleanParameter``. A
  parameter that an event of the scenario sets is varied as that event's key (``TYPE.key``), since
  the event would override it while active.
* **Levers**: registry parameters or event keys (``microlending.budget_usd``), over their declared
  ranges: levers are choices, and the whole declared range is open to choose from.
* **Outcomes**: ``METRIC:REGION``, each a ``ScalarOutcome``, the annual mean over ``years``; with
  ``effect``, the ``effect`` scenario minus ``scenario`` on the same seed and parameters (common
  random numbers), so an outcome measures what the intervention changes.

EMA names must be Python identifiers (EMA passes them as keyword arguments and uses them as column
names), so an event key's dot becomes ``__`` and an outcome's ``METRIC:REGION`` becomes
``METRIC__REGION`` (spaces as ``_``); :attr:`HamjiModel.hamji_names` maps each EMA name back.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hamji.analysis import settings
from hamji.analysis.experiments import Outcome, param_spec, parse_outcome, resolve_params, run_design, seed_means
from hamji.errors import UserError
from hamji.parameters import brief
from hamji.sim import parse_seed

with warnings.catch_warnings():  # EMA warns at import about optional evaluators hamji does not use
    warnings.filterwarnings("ignore", message=".*ipyparallel.*")
    warnings.filterwarnings("ignore", message=".*not installed.*", module="ema_workbench.*")
    from ema_workbench import BooleanParameter, IntegerParameter, Model, RealParameter, ScalarOutcome

#: what an EMA name uses for an event key's dot and an outcome's colon: both are illegal in an
#: identifier, and no registry name, event type or metric contains a double underscore
SEPARATOR = "__"
#: default outcomes: human security where the trade happens, and the money reaching the leader
DEFAULT_OUTCOMES = ("hsi_mean:HamJi", "leader_fund_usd:DPRK")
#: the default window and evaluation years are every analysis's (:mod:`hamji.analysis.settings`): from
#: 2008 to 2020, averaged over the window's last five years (2016-2020, after the 2017 sanctions took hold)
DEFAULT_START, DEFAULT_END = settings.DEFAULT_START, settings.DEFAULT_END


def ema_name(name: str) -> str:
    """An EMA-legal identifier for a parameter name or ``TYPE.key``, or an outcome ``METRIC:REGION``."""
    text = name.replace(".", SEPARATOR).replace(":", SEPARATOR)
    text = re.sub(r"[^0-9A-Za-z_]", "_", text)
    return text if text.isidentifier() else f"_{text}"


class HamjiModel(Model):
    """An EMA :class:`~ema_workbench.Model` of a hamji scenario; ``hamji_names`` maps EMA names to hamji's
    (``microlending__budget_usd`` -> ``microlending.budget_usd``, ``leader_fund_usd__DPRK`` ->
    ``leader_fund_usd:DPRK``)."""

    hamji_names: dict[str, str]


@dataclass(frozen=True)
class _Experiment:
    """The function EMA calls: keyword arguments by EMA name in, outcomes by EMA name out.

    A plain picklable object (not a closure), so EMA's multiprocessing evaluator can ship it.
    """

    scenario: str
    effect: str | None
    outcomes: tuple[Outcome, ...]
    seeds: tuple[int, ...]
    scale: int
    start: dt.date
    end: dt.date
    names: tuple[tuple[str, str], ...]  # (EMA name, hamji name) of the uncertainties and levers

    def __call__(self, **kwargs: Any) -> dict[str, float]:
        back = dict(self.names)
        values = pd.DataFrame([{back[k]: v for k, v in kwargs.items() if k in back}])
        exp = run_design(values, self.scenario, self.effect, list(self.outcomes), list(self.seeds), self.scale,
                         self.start, self.end)
        means = seed_means(exp).iloc[0]
        return {ema_name(o.name): float(means[o.name]) for o in self.outcomes}


def _parameter(ema: str, name: str, declared: bool) -> Any:
    """The EMA parameter of a hamji parameter, over its plausible (or declared) range."""
    import scipy.stats  # ~0.3 s to import: only for a parameter's distribution

    spec = param_spec(name)
    lo, hi = spec.bounds(declared)
    if spec.type == "bool":
        return BooleanParameter(ema)
    if spec.type == "int":
        return IntegerParameter(ema, int(lo), int(hi))
    if spec.dist == "loguniform" and lo > 0 and not declared:
        return RealParameter.from_dist(ema, scipy.stats.loguniform(lo, hi))
    return RealParameter(ema, lo, hi)


def model(scenario: str = "baseline", outcomes: Sequence[str] = DEFAULT_OUTCOMES, effect: str | None = None,
          levers: Sequence[str] = (), uncertainties: Sequence[str] | None = None, seed: int = 1, seeds: int = settings.DEFAULT_SEEDS,
          scale: int | str = settings.DEFAULT_SCALE, start: dt.date | str | None = None, end: dt.date | str | None = None,
          years: tuple[int, int] | None = None, declared: bool = False) -> HamjiModel:
    """An EMA Workbench ``Model`` of ``scenario`` (or of ``effect``'s effect against it).

    ``uncertainties``: parameter names or event keys (default: every uncertain parameter, over its
    plausible range, or its declared one if ``declared``); ``levers``: names or event keys over their
    declared ranges (a lever is not also an uncertainty); ``outcomes``: ``METRIC:REGION``, each the
    mean over ``years``, and over seeds ``seed`` to ``seed + seeds - 1``. The window (``start``, ``end``) and
    ``years`` default as for every analysis (:func:`hamji.analysis.settings.run_settings`): any window is
    accepted, and without ``years`` its last five years are averaged. Every argument is checked here; a
    mistake raises :class:`hamji.errors.UserError` with one line.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise UserError(f"seeds {brief(seeds)}: expected a whole number of seeds, at least 1")
    run = settings.run_settings(scenario, seeds, scale, start, end, years, prefix="")
    first, last, years = run.start, run.end, run.years
    seed_list = tuple(parse_seed(seed + k, "seed") for k in range(seeds))
    if isinstance(outcomes, str) or not outcomes:
        raise UserError(f"outcomes {brief(outcomes)}: expected a list of METRIC:REGION")
    parsed = tuple(parse_outcome(o, tuple(years)) for o in outcomes)
    scen = [scenario] + ([effect] if effect else [])
    lever_names, _ = resolve_params(list(levers), scen) if levers else ([], [])
    if uncertainties is not None and not uncertainties:
        raise UserError("uncertainties: give at least one name, or None for every uncertain parameter")
    unc_names, _ = resolve_params(list(uncertainties) if uncertainties is not None else None, scen)
    both = [n for n in unc_names if n in lever_names]
    if both and uncertainties is not None:
        raise UserError(f"{both[0]}: named both as an uncertainty and as a lever; a parameter is one or the other")
    unc_names = [n for n in unc_names if n not in lever_names]
    mapping = {ema_name(n): n for n in unc_names + lever_names} | {ema_name(o.name): o.name for o in parsed}
    if len(mapping) < len(unc_names) + len(lever_names) + len(parsed):
        raise UserError(f"outcomes {brief(list(outcomes))}: each outcome once")
    label = re.sub(r"[^0-9A-Za-z]", "", f"hamji{scenario}{effect or ''}") or "hamji"
    fn = _Experiment(scenario, effect, parsed, seed_list, run.scale, first, last,
                     tuple((ema_name(n), n) for n in unc_names + lever_names))
    m = HamjiModel(label, function=fn)
    m.uncertainties = [_parameter(ema_name(n), n, declared) for n in unc_names]
    m.levers = [_parameter(ema_name(n), n, True) for n in lever_names]
    m.outcomes = [ScalarOutcome(ema_name(o.name)) for o in parsed]
    m.hamji_names = mapping
    return m
