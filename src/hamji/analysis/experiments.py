"""Experiment designs: many parameter sets, each run over a few seeds, as resumable Dask tasks.

The common ground of the uncertainty analyses (``hamji sensitivity``, ``discover``, ``robust``): a
table of parameter values (one row per sample) is run with each seed, and each run is reduced to a
few outcomes, each a metric of a region averaged over a window of years. With ``effect``, an outcome
is the difference between the ``effect`` scenario and the reference ``scenario`` run with the same
seed and the same parameter values (common random numbers), so it measures what the intervention
changes, not noise: where a parameter cannot change a run, its effect on every outcome is exactly 0.

The same seeds serve every sample, so two samples differ only by their parameters. Each
(sample, seed) is one task (:func:`hamji.analysis.ensemble.map_stored`): a store keeps each result
as it arrives, and a design run again resumes where it stopped, with identical results whatever the
number of workers.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hamji.analysis.ensemble import Task, map_stored, overrides_for, run_seed_group, validate_tasks
from hamji.api import known_outputs
from hamji.errors import UserError
from hamji.parameters import REGISTRY, ParamSpec, brief, uncertain_names
from hamji.scenario import event_key_spec, load_scenario

if TYPE_CHECKING:  # pragma: no cover
    from hamji.analysis.sweep import TaskStore


@dataclass(frozen=True)
class Outcome:
    """A metric of a region, averaged over the years ``years`` (inclusive) of each run."""

    metric: str
    region: str
    years: tuple[int, int]

    @property
    def name(self) -> str:
        return f"{self.metric}:{self.region}"


def parse_outcome(text: str, years: tuple[int, int]) -> Outcome:
    """``METRIC:REGION`` (e.g. ``hsi_mean:HamJi``) checked against the metrics and regions a run records."""
    m = re.fullmatch(r"\s*([A-Za-z0-9_]+)\s*:\s*(.+?)\s*", text) if isinstance(text, str) else None
    if m is None:
        raise UserError(f"--outcome {brief(text)}: expected METRIC:REGION, for example hsi_mean:HamJi")
    metrics, units = known_outputs(load_scenario("baseline"))
    if m.group(1) not in metrics:
        raise UserError(f"--outcome {text}: unknown metric '{m.group(1)}'; docs/metrics.md lists them")
    if m.group(2) not in units:
        raise UserError(f"--outcome {text}: unknown region '{m.group(2)}'; allowed: {', '.join(sorted(units))}")
    return Outcome(m.group(1), m.group(2), years)


def param_spec(name: str) -> ParamSpec:
    """The declaration of a parameter an analysis may vary: a registry name or an event key ``TYPE.key``."""
    spec = event_key_spec(name) if "." in name else REGISTRY.get(name)
    if spec is None:
        what = "event key (TYPE.key of a parameter event)" if "." in name else "parameter"
        raise UserError(f"--param {brief(name)}: unknown {what}; run `hamji params` for the list of names")
    return spec


def resolve_params(names: list[str] | None, scenarios: list[str]) -> tuple[list[str], list[str]]:
    """The names an analysis varies, and notes on what was changed.

    ``None`` means every parameter declared uncertain. A registry parameter that an event of one of
    the ``scenarios`` sets would be overridden by that event while it is active (and have no effect
    then), so it is varied as that event's key instead (``microlending_default_rate`` becomes
    ``microlending.default_rate``); a note says so.
    """
    chosen = list(uncertain_names()) if not names else list(names)
    if len(set(chosen)) < len(chosen):
        raise UserError(f"--param: each parameter once, got {' '.join(chosen)}")
    for n in chosen:
        param_spec(n)
    setters: dict[str, str] = {}
    for sc in scenarios:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_scenario(sc)
        for e in loaded.events:
            keys = {v: k for k, v in type(e).key_specs().items()}
            for p in e.sets():
                if p in keys:
                    setters.setdefault(p, f"{e.type}.{keys[p]}")
    out, notes = [], []
    for n in chosen:
        if n in setters:
            notes.append(f"{n} is set by the scenario's {setters[n].split('.')[0]} event, so its key {setters[n]}"
                         " is varied instead")
            n = setters[n]
        if n not in out:
            out.append(n)
    return out, notes


def values_from_unit(names: list[str], unit: np.ndarray, declared: bool = False) -> pd.DataFrame:
    """Parameter values for a design drawn on the unit cube: column ``j`` of ``unit`` maps to ``names[j]``
    through its plausible range (or its declared range if ``declared``) and sampling distribution."""
    unit = np.asarray(unit, dtype=float)
    return pd.DataFrame({n: param_spec(n).from_unit(unit[:, j], declared) for j, n in enumerate(names)})


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def run_sample(job: tuple) -> pd.DataFrame:
    """One task: a sample's parameter set with one seed; its outcomes in one row."""
    sample, overrides, scenario, effect, outcomes, seed, scale, start, end = job
    scenarios = (scenario,) if effect is None else (scenario, effect)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resolve_params already turned event-set parameters into event keys
        annual = run_seed_group(scenarios, seed, scale, start, end, overrides)
    names = list(dict.fromkeys(annual.scenario))
    row: dict[str, Any] = {"sample": sample, "seed": seed}
    for o in outcomes:
        sel = annual[(annual.metric == o.metric) & (annual.region == o.region)
                     & (annual.year >= o.years[0]) & (annual.year <= o.years[1])]
        by = [float(sel[sel.scenario == n].value.mean()) for n in names]
        if effect is None:
            row[o.name] = by[0]
        else:
            row[f"base:{o.name}"], row[f"alt:{o.name}"] = by
            row[o.name] = by[1] - by[0]
    return pd.DataFrame([row])


def run_design(values: pd.DataFrame, scenario: str, effect: str | None, outcomes: list[Outcome], seeds: list[int],
               scale: int, start: dt.date, end: dt.date, workers: int = 1, scheduler: str | None = None,
               progress: Callable[[int, int], None] | None = None, store: TaskStore | None = None) -> pd.DataFrame:
    """Run every sample of ``values`` with every seed; one row per (sample, seed), in that order.

    Columns: ``sample``, ``seed``, the parameter columns, then one column per outcome name (with
    ``effect``: the effect scenario minus ``scenario``, and ``base:<name>``, ``alt:<name>``).
    """
    if not seeds:
        raise UserError("--seeds: at least one seed")
    first = {k: _plain(v) for k, v in values.iloc[0].items()} if len(values) else {}
    for sc in [scenario] + ([effect] if effect else []):  # a mistake stops the design before any run
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            validate_tasks([Task(sc, seeds[0], scale, start, end, overrides_for(load_scenario(sc).spec, first))])
    jobs, keys = [], []
    for i in range(len(values)):
        overrides = {k: _plain(v) for k, v in values.iloc[i].items()}
        for s in seeds:
            jobs.append((i, overrides, scenario, effect, tuple(outcomes), s, scale, start, end))
            keys.append(f"sample-{i}-seed-{s}")
    rows = pd.concat(map_stored(run_sample, jobs, keys, store, workers, scheduler, progress), ignore_index=True)
    params = values.reset_index(drop=True).rename_axis("sample").reset_index()
    out = params.merge(rows, on="sample", how="right")
    lead = ["sample", "seed"]
    return out[lead + [c for c in out.columns if c not in lead]].reset_index(drop=True)


def seed_means(experiments: pd.DataFrame) -> pd.DataFrame:
    """One row per sample: the parameter values and each outcome averaged over the seeds."""
    return experiments.drop(columns="seed").groupby("sample", sort=True).mean(numeric_only=True).reset_index()
