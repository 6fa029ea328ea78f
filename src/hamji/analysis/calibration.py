"""Calibration: fit uncertain parameters to the real China-DPRK trade series with optuna.

The targets are the annual series of ``china_dprk_trade.csv`` (DPRK exports to China, imports
from China and their total, every year the file gives), reproduced by the ``history`` scenario. The data are
customs data, so the model's series are those Chinese customs records (``exports_recorded_usd``,
``imports_recorded_usd``: :mod:`hamji.customs`), not every good that crosses.
The loss of a candidate is the mean over the three series of the mean absolute log error (MALE)
plus one minus the correlation (so both the level and the shape count) of the seed-averaged model
against the data (:func:`hamji.analysis.validation.trade_fit`). Population by
province is not a free target: the synthesis reproduces the census exactly at every scale (a test).

Candidates are drawn by optuna's TPE sampler (seeded, so a calibration is repeatable) from priors
uniform on each parameter's declared range; every candidate runs ``seeds`` seeds of ``history`` as
one Dask ensemble (:func:`hamji.analysis.ensemble.run_ensemble`). The first trial is always the current
defaults, so the file reports the fit before and after.

An interrupted calibration loses nothing and resumes to the same result. Trials are stored in an
SQLite study beside the output (``<out>.study.db``), and each finished seed of the trial in progress
in a :class:`hamji.analysis.sweep.TaskStore` (``<out>.tasks/``), so a kill at any moment costs at most the
seeds still running. Run again with the same ``out``: a trial left running by a killed process is
marked failed and run again (with the same values: see below) from its stored seeds. Each trial's
sampler is a fresh TPE sampler seeded from (``sampler_seed``, number of finished trials), so its
suggestion is a function of the stored history alone, the same after a restart as without one.
A study or stored tasks made with another hamji version, parameters to fit, ``history`` scenario
content (or other resolved parameters), scale, seeds or sampler seed are refused.

The result is a YAML file: the fitted values, the fit before and after, and how it was made. The
package's shipped defaults are such a file (``hamji/calibrated.yaml``), applied over the registry
defaults when the registry loads.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hamji import data
from hamji.analysis.ensemble import Task, check_scheduler, local_cluster, run_ensemble
from hamji.analysis.settings import RunSettings, UsesRunSettings, embed
from hamji.analysis.sweep import TaskStore, canonical, describe_difference, digest, scenario_digest
from hamji.analysis.validation import trade_fit
from hamji.errors import UserError
from hamji.parameters import REGISTRY
from hamji.scenario import load_scenario
from hamji.version import VERSION

#: the first week of the calibration runs (they end with the last year of the trade data)
HISTORY_START = dt.date(2000, 1, 3)

#: what a calibration fits when no --param is given: the drivers of the trade series
DEFAULT_PARAMS = ("china_demand_growth", "china_demand_peak_year", "china_demand_post_growth",
                  "china_demand_price_share", "state_import_share")


def history_settings(seeds: int = 2, start: dt.date = HISTORY_START, end: dt.date | None = None, **given: Any) -> RunSettings:
    """The run settings of a calibration: the ``history`` scenario from ``start`` (2000) to ``end`` (default: the
    last day of the last year of trade data), over ``seeds`` seeds."""
    last = end if end is not None else dt.date(int(data.trade_series().index.max()), 12, 31)
    return RunSettings(scenario="history", seeds=seeds, start=start, end=last, **given)


@dataclass(init=False)
class CalibrationSpec(UsesRunSettings):
    """What to fit, with what budget; how each candidate runs is its :class:`RunSettings` (``run``: the ``history``
    scenario over the years of trade data; ``seeds``, ``scale``, ``workers``, ``scheduler`` are also accepted as
    keywords and read or set as attributes)."""

    params: tuple[str, ...] = DEFAULT_PARAMS
    trials: int = 40
    sampler_seed: int = 1
    run: RunSettings = field(default_factory=history_settings)

    def __init__(self, params: tuple[str, ...] = DEFAULT_PARAMS, trials: int = 40, sampler_seed: int = 1,
                 run: RunSettings | None = None, **run_fields: Any) -> None:
        self.params, self.trials, self.sampler_seed = params, trials, sampler_seed
        self.run = embed(run, run_fields, default=history_settings() if run is None else None)

    def check(self) -> None:
        """Refuse unknown or non-calibratable parameters with the allowed names."""
        if not self.params:
            raise UserError("calibrate: give at least one --param")
        allowed = sorted(n for n, s in REGISTRY.items() if s.calibrate)
        for name in self.params:
            if name not in REGISTRY:
                raise UserError(f"calibrate --param: unknown parameter '{name}'; calibratable: {', '.join(allowed)}")
            if not REGISTRY[name].calibrate:
                raise UserError(f"calibrate --param: '{name}' is not declared calibratable; calibratable: {', '.join(allowed)}")
        if len(set(self.params)) < len(self.params):
            raise UserError(f"calibrate --param: each parameter once, got {' '.join(self.params)}")
        if not 0 <= self.sampler_seed < 2**32:
            raise UserError(f"calibrate --sampler-seed {self.sampler_seed}: allowed 0 to {2**32 - 1}")

    def dates(self) -> tuple[dt.date, dt.date]:
        """First and last day of each run: 2000 to the last year of the trade data."""
        return self.run.start, self.run.end

    def fingerprint(self) -> dict[str, Any]:
        """What the study's trials are made with: a study or stored tasks made otherwise are refused."""
        start, end = self.dates()
        return {"sweep": "calibrate", "hamji version": VERSION, "params": list(self.params),
                "scenario content": {"history": scenario_digest(load_scenario("history"), exclude=self.params)},
                "scale": self.scale, "dates": f"{start} to {end}", "seeds": list(range(1, self.seeds + 1)),
                "sampler seed": self.sampler_seed}


def loss_of(fits) -> float:
    """Mean over the trade series of MALE + (1 - correlation): level and shape (inf if a series cannot be scored)."""
    terms = [f.male + (1.0 - f.correlation) for f in fits]
    return float(sum(terms) / len(terms)) if all(math.isfinite(t) for t in terms) else math.inf


def evaluate(values: dict[str, Any], spec: CalibrationSpec, store: TaskStore | None = None) -> tuple[float, list]:
    """Run ``history`` with ``values`` over the spec's seeds; return the loss and the series fits.

    With a ``store``, each seed's run is kept (under a key made of the values and the seed) as it
    finishes, and seeds already stored are loaded instead of run.
    """
    start, end = spec.dates()
    seeds = range(1, spec.seeds + 1)
    tasks = [Task("history", s, spec.scale, start, end, dict(values)) for s in seeds]
    keys = [f"t{digest(values)}-seed-{s}" for s in seeds]
    fits = trade_fit(run_ensemble(tasks, workers=spec.workers, scheduler=spec.scheduler, store=store, keys=keys))
    return loss_of(fits), fits


def trial_sampler(spec: CalibrationSpec, finished: int):
    """The sampler of the trial that follows ``finished`` finished trials: seeded from the sampler
    seed and that number alone, so a resumed study suggests what an uninterrupted one would."""
    import optuna

    seed = int(np.random.SeedSequence([spec.sampler_seed, finished]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed, constant_liar=False)


def prior_defaults(params: tuple[str, ...]) -> dict[str, Any]:
    """The registry's own (uncalibrated) defaults of ``params``."""
    return {n: REGISTRY[n].prior_default for n in params}


def _fit_summary(fits) -> dict[str, Any]:
    return {f.label: {"male": round(f.male, 4), "correlation": round(f.correlation, 4)} for f in fits}


def calibrate(spec: CalibrationSpec, out: Path, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the calibration and write ``out`` (YAML); returns what was written.

    The study is kept in ``<out>.study.db`` and the seeds of the trial in progress in ``<out>.tasks/``;
    running again with the same ``out`` resumes it (identically, see the module's docstring) and
    adds trials until ``spec.trials`` are complete.
    """
    import optuna

    spec.check()
    if out.suffix not in (".yaml", ".yml"):
        raise UserError(f"calibrate --out {out}: must be a .yaml file")
    if spec.scheduler is not None:
        check_scheduler(spec.scheduler)
    fingerprint = spec.fingerprint()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"calibrate --out {out}: cannot create its folder ({e.strerror})") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = out.with_suffix(".study.db")
    storage = f"sqlite:///{db.resolve()}"
    study = optuna.create_study(study_name="hamji-trade", storage=storage, direction="minimize", load_if_exists=True,
                                sampler=trial_sampler(spec, 0))
    stored = study.user_attrs.get("fingerprint")
    if stored is None and study.trials:
        raise UserError(f"{db}: holds a study that does not record what it was made with (an older hamji); use another --out")
    if stored is not None and stored != canonical(fingerprint):
        what = describe_difference(canonical(fingerprint), stored, there="in the study")
        raise UserError(f"{db}: holds a study of another calibration ({what}); use another --out")
    # the study is ours: lock it (with the tasks' folder) so no other process runs it at the same time;
    # stored tasks of another calibration can only be left over from a deleted study, and are discarded
    store = TaskStore(out.with_suffix(".tasks"), fingerprint, replace=True)
    try:
        study.set_user_attr("fingerprint", fingerprint)
        study.set_user_attr("params", list(spec.params))
        result = _optimize(study, spec, store, progress)
        _write_result(result, out)
    except BaseException:
        if store.done():
            store.close()  # keep the finished seeds of the trial in progress for the next run
        else:
            store.remove()
        raise
    store.remove()
    return result


def _optimize(study, spec: CalibrationSpec, store: TaskStore,
              progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    """Add trials to the (locked) study until ``spec.trials`` are finished; what to write."""
    import optuna

    state = optuna.trial.TrialState
    for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):  # left by a killed process: run it again
        study.tell(t.number, state=state.FAIL)
    finished = (state.COMPLETE, state.PRUNED)
    before = prior_defaults(spec.params)
    if not any(t.state in (*finished, state.WAITING) for t in study.trials):  # the defaults come first
        study.enqueue_trial(before)

    def objective(trial: optuna.Trial) -> float:
        values: dict[str, Any] = {}
        for name in spec.params:
            p = REGISTRY[name]
            if p.type == "int":
                values[name] = trial.suggest_int(name, int(p.low), int(p.high))
            else:
                values[name] = trial.suggest_float(name, p.low, p.high)
        try:
            loss, fits = evaluate(values, spec, store)
        except UserError as e:  # an infeasible combination (e.g. funnel shares above one): not a fit
            trial.set_user_attr("infeasible", str(e))
            raise optuna.TrialPruned(str(e)) from None
        trial.set_user_attr("fit", _fit_summary(fits))
        return loss

    done = sum(1 for t in study.trials if t.state in finished)
    if progress is not None:
        progress(done, spec.trials)
    given = spec.scheduler
    with local_cluster(spec.workers, spec.scheduler) as address:  # one cluster for every trial
        spec.scheduler = address
        try:
            while done < spec.trials:
                study.sampler = trial_sampler(spec, done)
                study.optimize(objective, n_trials=1)
                store.discard(store.done())  # the trial is in the study now
                done = sum(1 for t in study.trials if t.state in finished)
                if progress is not None:
                    progress(done, spec.trials)
        finally:
            spec.scheduler = given
    complete = [t for t in study.trials if t.state == state.COMPLETE]
    first = min(complete, key=lambda t: t.number)
    best = study.best_trial
    result = {
        "how": {
            "method": "optuna TPE, each trial's sampler seeded from (sampler seed, trials finished);"
                      " priors uniform on each parameter's declared range",
            "targets": "china_dprk_trade.csv: DPRK exports, imports and total trade, every year given, against the model's"
                       " series Chinese customs records (exports_recorded_usd, imports_recorded_usd; history scenario)",
            "loss": "mean over the three series of (mean absolute log error + 1 - correlation), seed-averaged model",
            "trials": len(complete),
            "infeasible_trials": sum(1 for t in study.trials if t.state == state.PRUNED),
            "seeds_per_trial": spec.seeds,
            "scale": spec.scale,
            "sampler_seed": spec.sampler_seed,
            "hamji_version": VERSION,
            "date": dt.date.today().isoformat(),
        },
        "fit_before": {"params": first.params, "loss": round(first.value, 4), **first.user_attrs.get("fit", {})},
        "fit_after": {"loss": round(best.value, 4), **best.user_attrs.get("fit", {})},
        "params": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in best.params.items()},
    }
    return result


def _write_result(result: dict[str, Any], out: Path) -> None:
    """Write the parameter file whole or not at all."""
    tmp = out.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(result, sort_keys=False), encoding="utf-8")
    tmp.replace(out)
