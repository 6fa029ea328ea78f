"""Calibration: fit uncertain parameters to the real China-DPRK trade series with optuna.

The targets are the annual series of ``china_dprk_trade.csv`` (DPRK exports to China, imports
from China and their total, every year the file gives), reproduced by the ``history`` scenario.
The loss of a candidate is the mean over the three series of the mean absolute log error (MALE)
plus one minus the correlation (so both the level and the shape count) of the seed-averaged model
against the data (:func:`hamji.validation.trade_fit`). Population by
province is not a free target: the synthesis reproduces the census exactly at every scale (a test).

Candidates are drawn by optuna's TPE sampler (seeded, so a calibration is repeatable) from priors
uniform on each parameter's declared range; every candidate runs ``seeds`` seeds of ``history`` as
one Dask ensemble (:func:`hamji.ensemble.run_ensemble`). The first trial is always the current
defaults, so the file reports the fit before and after. Trials are stored in an SQLite study
beside the output, so an interrupted calibration resumes where it stopped.

The result is a YAML file: the fitted values, the fit before and after, and how it was made. The
package's shipped defaults are such a file (``hamji/calibrated.yaml``), applied over the registry
defaults when the registry loads.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from hamji import __version__, data
from hamji.ensemble import local_cluster
from hamji.errors import UserError
from hamji.parameters import REGISTRY

#: what a calibration fits when no --param is given: the drivers of the trade series
DEFAULT_PARAMS = ("china_demand_growth", "china_demand_peak_year", "china_demand_post_growth",
                  "china_demand_price_share", "state_import_share")


@dataclass
class CalibrationSpec:
    """What to fit, with what budget."""

    params: tuple[str, ...] = DEFAULT_PARAMS
    trials: int = 40
    seeds: int = 2
    scale: int = 1000
    sampler_seed: int = 1
    workers: int = 1
    scheduler: str | None = None

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


def loss_of(fits) -> float:  # noqa: ANN001 - list[SeriesFit]
    """Mean over the trade series of MALE + (1 - correlation): level and shape (inf if a series cannot be scored)."""
    terms = [f.male + (1.0 - f.correlation) for f in fits]
    return float(sum(terms) / len(terms)) if all(math.isfinite(t) for t in terms) else math.inf


def evaluate(values: dict[str, Any], spec: CalibrationSpec) -> tuple[float, list]:
    """Run ``history`` with ``values`` over the spec's seeds; return the loss and the series fits."""
    from hamji.ensemble import Task, run_ensemble
    from hamji.validation import trade_fit

    last = int(data.trade_series().index.max())
    tasks = [Task("history", s, spec.scale, dt.date(2000, 1, 3), dt.date(last, 12, 31), dict(values))
             for s in range(1, spec.seeds + 1)]
    fits = trade_fit(run_ensemble(tasks, workers=spec.workers, scheduler=spec.scheduler))
    return loss_of(fits), fits


def prior_defaults(params: tuple[str, ...]) -> dict[str, Any]:
    """The registry's own (uncalibrated) defaults of ``params``."""
    return {n: REGISTRY[n].prior_default for n in params}


def _fit_summary(fits) -> dict[str, Any]:  # noqa: ANN001
    return {f.label: {"male": round(f.male, 4), "correlation": round(f.correlation, 4)} for f in fits}


def calibrate(spec: CalibrationSpec, out: Path, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the calibration and write ``out`` (YAML); returns what was written.

    The study is kept in ``<out>.study.db``; running again with the same ``out`` resumes it and
    adds trials until ``spec.trials`` are complete.
    """
    import optuna

    spec.check()
    if out.suffix not in (".yaml", ".yml"):
        raise UserError(f"calibrate --out {out}: must be a .yaml file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"calibrate --out {out}: cannot create its folder ({e.strerror})") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{out.with_suffix('.study.db').resolve()}"
    study = optuna.create_study(study_name="hamji-trade", storage=storage, direction="minimize", load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=spec.sampler_seed))
    if study.user_attrs.get("params") not in (None, list(spec.params)):
        raise UserError(f"{out.with_suffix('.study.db')}: holds a study of {study.user_attrs['params']}; use another --out")
    study.set_user_attr("params", list(spec.params))
    before = prior_defaults(spec.params)
    if not study.trials:
        study.enqueue_trial(before)
    fits_of: dict[int, list] = {}

    def objective(trial: "optuna.Trial") -> float:
        values: dict[str, Any] = {}
        for name in spec.params:
            p = REGISTRY[name]
            if p.type == "int":
                values[name] = trial.suggest_int(name, int(p.low), int(p.high))
            else:
                values[name] = trial.suggest_float(name, p.low, p.high)
        try:
            loss, fits = evaluate(values, spec)
        except UserError as e:  # an infeasible combination (e.g. funnel shares above one): not a fit
            trial.set_user_attr("infeasible", str(e))
            raise optuna.TrialPruned(str(e)) from None
        trial.set_user_attr("fit", _fit_summary(fits))
        fits_of[trial.number] = fits
        return loss

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = sum(1 for t in study.trials if t.state in finished)
    if progress is not None:
        progress(done, spec.trials)
    given = spec.scheduler
    with local_cluster(spec.workers, spec.scheduler) as address:  # one cluster for every trial
        spec.scheduler = address
        try:
            while done < spec.trials:
                study.optimize(objective, n_trials=1)
                done = sum(1 for t in study.trials if t.state in finished)
                if progress is not None:
                    progress(done, spec.trials)
        finally:
            spec.scheduler = given
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    first = min(complete, key=lambda t: t.number)
    best = study.best_trial
    result = {
        "how": {
            "method": "optuna TPE (seeded), priors uniform on each parameter's declared range",
            "targets": "china_dprk_trade.csv: DPRK exports, imports and total trade, every year given (history scenario)",
            "loss": "mean over the three series of (mean absolute log error + 1 - correlation), seed-averaged model",
            "trials": len(complete),
            "infeasible_trials": sum(1 for t in study.trials if t.state == optuna.trial.TrialState.PRUNED),
            "seeds_per_trial": spec.seeds,
            "scale": spec.scale,
            "sampler_seed": spec.sampler_seed,
            "hamji_version": __version__,
            "date": dt.date.today().isoformat(),
        },
        "fit_before": {"params": first.params, "loss": round(first.value, 4), **first.user_attrs.get("fit", {})},
        "fit_after": {"loss": round(best.value, 4), **best.user_attrs.get("fit", {})},
        "params": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in best.params.items()},
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(result, sort_keys=False), encoding="utf-8")
    tmp.replace(out)
    return result
