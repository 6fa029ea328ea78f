"""Calibration with a posterior: ABC-SMC (pyabc) against the real China-DPRK trade series.

The optuna calibration (:mod:`hamji.analysis.calibration`) finds one best parameter set; an analyst
also needs to know which other sets fit the data about as well, so that ``hamji compare
--posterior`` can carry that uncertainty into every answer. Approximate Bayesian computation with
sequential Monte Carlo (pyabc's ABCSMC) gives a weighted sample of parameter sets whose trade series
lie within a tolerance (epsilon) of the data, the tolerance shrinking generation after generation
(the median distance of the previous generation, pyabc's ``MedianEpsilon``).

Targets and distance are those of the optuna calibration, so the two read in the same units: the
annual DPRK exports, imports and total trade of ``china_dprk_trade.csv`` for every year the runs
cover, against the ``history`` scenario's series Chinese customs records (``exports_recorded_usd``,
``imports_recorded_usd``) averaged over ``seeds`` seeds, and the distance of a
candidate is :func:`hamji.analysis.calibration.loss_of` (mean over the series of mean absolute log
error plus one minus the correlation). Priors are uniform on each parameter's declared range.
Generation 0 accepts every prior draw (epsilon infinite): it is the prior sample, stored like
every other generation, and it sets the first tolerance.

Resumable: pyabc keeps every finished generation in an SQLite history (``abc.db`` in the output
folder). Run again with the same ``out``: the run is loaded (``ABCSMC.load``) and continues after its
last finished generation, up to ``generations`` in all; a generation cut short by a kill is run
again. A history made with another hamji version, parameters, ``history`` scenario content (or other
resolved parameters), population size, scale, seeds, dates or sampler seed is refused, naming what
differs. ``generations`` and ``min_epsilon`` are stopping rules and may change between runs.

Repeatable: before each generation numpy's global generator (what pyabc draws particles and
perturbations from) is seeded from (``sampler_seed``, generation). With one worker (pyabc's
single-core sampler, in this process) a calibration is bit-repeatable, resumed or not. With several
workers it is not: pyabc's multicore and Dask samplers reseed each worker process from the operating
system, and which particles are accepted first depends on which simulations finish first. The
posterior is then a different sample of the same distribution.

Writes ``posterior.parquet`` (the last generation: one row per particle, its parameter values,
``weight`` (summing to one), ``distance`` and ``generation``), ``diagnostics.parquet`` (per generation:
epsilon, particles, evaluations, acceptance rate, effective sample size, wall time) and
``posterior.html`` (weighted marginals against the prior range and the shipped values, the
diagnostics, and the trade series at the posterior mean against the data).
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import html
import io
import json
import logging
import math
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hamji import data
from hamji.analysis.calibration import DEFAULT_PARAMS, CalibrationSpec, history_settings, loss_of
from hamji.analysis.ensemble import Task, check_scheduler, run_task
from hamji.analysis.settings import RunSettings, UsesRunSettings, embed
from hamji.analysis.sweep import canonical, describe_difference, scenario_digest
from hamji.analysis.validation import SERIES, SeriesFit, trade_chart_svg, trade_fit
from hamji.errors import UserError
from hamji.parameters import REGISTRY
from hamji.scenario import load_scenario
from hamji.version import VERSION

DB_FILE = "abc.db"
POSTERIOR_FILE = "posterior.parquet"
DIAGNOSTICS_FILE = "diagnostics.parquet"
PAGE_FILE = "posterior.html"
#: columns of posterior.parquet that are not parameters
POSTERIOR_COLUMNS = ("weight", "distance", "generation")
#: pyabc's kernel density transition needs at least two particles to estimate a covariance
MIN_POPULATION = 2
#: a series' correlation with the data (half of the distance) needs at least three years
MIN_YEARS = 3
#: the run of the history database this module writes and reads (pyabc numbers runs from 1; we keep one)
ABC_ID = 1
#: the marginals' central interval reported in the page and the docs (5th to 95th weighted percentile)
RANGE_QUANTILES = (0.05, 0.95)
#: bins of each marginal's histogram over the prior range: a twentieth of the range resolves the shape of a
#: few dozen particles without leaving most bins empty (numpy's automatic rules refuse weighted data)
HIST_BINS = 20


@dataclass(init=False)
class ABCSpec(UsesRunSettings, exclude=("years",)):
    """What to fit, against which window, with what budget; how each particle runs is its :class:`RunSettings`
    (``run``: the ``history`` scenario from ``start`` to ``end``, by default 2000 to the end of the last year of
    trade data; ``seeds``, ``scale``, ``workers``, ``scheduler``, ``start``, ``end`` are also accepted as keywords
    and read as attributes). ``years`` are the data years each trade series is fitted over (set by :meth:`check`)."""

    params: tuple[str, ...] = DEFAULT_PARAMS
    population: int = 40
    generations: int = 4
    min_epsilon: float = 0.0
    sampler_seed: int = 1
    run: RunSettings = field(default_factory=lambda: history_settings(seeds=1))
    years: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def __init__(self, params: tuple[str, ...] = DEFAULT_PARAMS, population: int = 40, generations: int = 4,
                 min_epsilon: float = 0.0, sampler_seed: int = 1, run: RunSettings | None = None, **run_fields: Any) -> None:
        self.params, self.population, self.generations = params, population, generations
        self.min_epsilon, self.sampler_seed, self.years = min_epsilon, sampler_seed, {}
        if run is None and run_fields.get("end", 0) is None:  # end=None: the default, the last year of trade data
            del run_fields["end"]
        self.run = embed(run, run_fields, default=history_settings(seeds=1) if run is None else None)

    def dates(self) -> tuple[dt.date, dt.date]:
        """First and last day of each run."""
        return self.run.start, self.run.end

    def check(self) -> None:
        """Refuse what cannot be calibrated this way, with the allowed values (before anything runs)."""
        CalibrationSpec(params=self.params, sampler_seed=self.sampler_seed).check()
        discrete = [n for n in self.params if REGISTRY[n].type != "float"]
        if discrete:
            raise UserError(f"calibrate --method abc --param {discrete[0]}: a {REGISTRY[discrete[0]].type} parameter;"
                            " ABC perturbs particles continuously, give real-valued parameters only")
        if self.population < MIN_POPULATION:
            raise UserError(f"calibrate --population {self.population}: at least {MIN_POPULATION}")
        if self.generations < 1:
            raise UserError(f"calibrate --generations {self.generations}: at least 1")
        if not (math.isfinite(self.min_epsilon) and self.min_epsilon >= 0):
            raise UserError(f"calibrate --min-epsilon {self.min_epsilon}: a finite number >= 0")
        if self.seeds < 1:
            raise UserError(f"calibrate --seeds {self.seeds}: at least 1")
        start, end = self.dates()
        if end < start:
            raise UserError(f"calibrate --end {end} is before --start {start}")
        self.years = target_years(start, end)
        short = [f"{k} ({len(v)})" for k, v in self.years.items() if len(v) < MIN_YEARS]
        if short:
            raise UserError(f"calibrate --start/--end {start} to {end}: the runs must cover at least {MIN_YEARS} years"
                            f" of each trade series; they cover {', '.join(short)}")

    def fingerprint(self) -> dict[str, Any]:
        """What the history's generations are made with: a history made otherwise is refused."""
        start, end = self.dates()
        return {"sweep": "calibrate abc", "hamji version": VERSION, "params": list(self.params),
                "scenario content": {"history": scenario_digest(load_scenario("history"), exclude=self.params)},
                "population": self.population, "scale": self.scale, "dates": f"{start} to {end}",
                "seeds": list(range(1, self.seeds + 1)), "sampler seed": self.sampler_seed}


def target_years(start: dt.date, end: dt.date) -> dict[str, list[int]]:
    """Per trade series, the years the data give inside the runs' window."""
    t = data.trade_series()
    return {label: [int(y) for y in t.index if pd.notna(t.loc[y, col]) and start.year <= y <= end.year]
            for label, _metrics, col in SERIES}


def observed(years: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """The data, as pyabc summary statistics: per series, US$ million a year over ``years``."""
    t = data.trade_series()
    return {label: np.array([float(t.loc[y, col]) for y in years[label]]) for label, _m, col in SERIES}


def simulate(values: dict[str, float], seeds: int, scale: int, start: dt.date, end: dt.date,
             years: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """Summary statistics of one candidate: ``history`` with ``values`` over ``seeds`` seeds, the
    seed-averaged trade series (US$ million) at the target years; NaN where the model gives none."""
    try:
        annual = pd.concat([run_task(Task("history", s, scale, start, end, dict(values))) for s in range(1, seeds + 1)])
    except UserError:  # a combination the model refuses: no fit (the distance is infinite)
        return {label: np.full(len(y), np.nan) for label, y in years.items()}
    fits = {f.label: dict(zip(f.years, f.model_usd_m)) for f in trade_fit(annual)}
    return {label: np.array([fits.get(label, {}).get(y, np.nan) for y in ys], dtype=float) for label, ys in years.items()}


def fits_of(summaries: dict[str, np.ndarray], years: dict[str, list[int]]) -> list:
    """The :class:`~hamji.analysis.validation.SeriesFit` of model summaries against the data."""
    x0 = observed(years)
    return [SeriesFit(label, list(years[label]), list(map(float, summaries[label])), list(map(float, x0[label]))).compute()
            for label in years]


def distance(x: dict[str, np.ndarray], x0: dict[str, np.ndarray]) -> float:
    """The optuna calibration's loss (:func:`loss_of`) between model summaries ``x`` and data ``x0``."""
    return loss_of([SeriesFit(k, list(range(len(x0[k]))), list(map(float, x[k])), list(map(float, x0[k]))).compute()
                    for k in x0])


def _model(pars: Any, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """pyabc's model: a parameter set in, summary statistics out (a module-level function, so it pickles)."""
    return simulate({k: float(v) for k, v in dict(pars).items()}, **spec)


#: what a reseed is for: the set-up before a run of generations, or the sampling of one generation
SETUP_STREAM, GENERATION_STREAM = 0, 1


def _reseed(sampler_seed: int, t: int, stream: int = GENERATION_STREAM) -> None:
    """Seed numpy's global generator (pyabc's source of particles and perturbations) for generation ``t``."""
    state = np.random.SeedSequence([sampler_seed, stream, t]).generate_state(1)[0]
    np.random.seed(int(state))
    random.seed(int(state))


def _sampler(spec: ABCSpec) -> tuple[Any, Callable[[], None]]:
    """pyabc's sampler for the spec, and how to release what it holds."""
    import pyabc

    if spec.scheduler is not None:
        from distributed import Client

        client = Client(spec.scheduler)
        return pyabc.sampler.DaskDistributedSampler(dask_client=client), client.close
    if spec.workers > 1:
        return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=spec.workers), lambda: None
    return pyabc.sampler.SingleCoreSampler(), lambda: None


def _stored_fingerprint(db: Path) -> dict[str, Any] | None:
    """The fingerprint a history database was made with (None if it records none or is not one)."""
    import pyabc

    try:
        history = pyabc.History(f"sqlite:///{db.resolve()}", _id=ABC_ID, create=False)
        options = ast.literal_eval(history.get_abc().json_parameters or "{}")
        return json.loads(options["fingerprint"])
    except Exception:
        return None


def calibrate_abc(spec: ABCSpec, out: Path, progress: Callable[[int, int], None] | None = None,
                  log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run (or resume) ABC-SMC and write the posterior, its diagnostics and the page into ``out``.

    Returns (posterior, diagnostics), the frames written. Resumable and repeatable as the module's
    docstring says; every input is checked, and the scheduler reached, before anything is written.
    """
    import pyabc

    spec.check()
    if spec.scheduler is not None:
        check_scheduler(spec.scheduler)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"calibrate --out {out}: exists and is not a folder")
    fingerprint = canonical(spec.fingerprint())
    db = out / DB_FILE
    if out.is_dir() and not db.exists() and any(out.iterdir()):
        raise UserError(f"calibrate --out {out}: a folder that holds files but no ABC calibration ({DB_FILE}); use another --out")
    if db.exists():
        stored = _stored_fingerprint(db)
        if stored != fingerprint:
            what = describe_difference(fingerprint, stored) if stored else "it does not record how it was made"
            raise UserError(f"{db}: holds an ABC calibration made with other settings ({what}); use another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"calibrate --out {out}: cannot create the folder ({e.strerror})") from None

    logging.getLogger("ABC").setLevel(logging.WARNING)  # the progress bar and log lines say what matters
    start, end = spec.dates()
    model_spec = {"seeds": spec.seeds, "scale": spec.scale, "start": start, "end": end, "years": spec.years}
    prior = pyabc.Distribution(**{n: pyabc.RV("uniform", REGISTRY[n].low, REGISTRY[n].high - REGISTRY[n].low)
                                  for n in spec.params})
    sampler, release = _sampler(spec)
    try:
        abc = pyabc.ABCSMC(functools.partial(_model, spec=model_spec), prior, distance, population_size=spec.population,
                           sampler=sampler, eps=pyabc.MedianEpsilon(np.inf))
        url = f"sqlite:///{db.resolve()}"
        if db.exists():
            history = abc.load(url, ABC_ID)
        else:
            history = abc.new(url, observed(spec.years), meta_info={"fingerprint": json.dumps(fingerprint, sort_keys=True)})
        done = history.max_t + 1
        if done:  # continue the tolerance from the last stored generation (an infinite one would restart it)
            abc.eps = pyabc.MedianEpsilon("from_sample")
        if done and log is not None:
            log(f"resuming: {done} of {spec.generations} generations already done (kept in {db})")
        if progress is not None:
            progress(min(done, spec.generations), spec.generations)
        last_eps = float(history.get_all_populations().epsilon.iloc[-1]) if done else math.inf
        if done < spec.generations and last_eps > spec.min_epsilon:
            _run(abc, spec, done, progress, log)
    finally:
        release()
    posterior, diagnostics = results(history)
    mean = {n: float(np.average(posterior[n], weights=posterior.weight)) for n in spec.params}
    fits = fits_of(simulate(mean, **model_spec), spec.years)
    _write(out / POSTERIOR_FILE, posterior.to_parquet)
    _write(out / DIAGNOSTICS_FILE, diagnostics.to_parquet)
    page = posterior_html(posterior, diagnostics, spec, fits)
    _write(out / PAGE_FILE, lambda p: Path(p).write_text(page, encoding="utf-8"))
    return posterior, diagnostics


def _run(abc: Any, spec: ABCSpec, done: int, progress: Callable[[int, int], None] | None,
         log: Callable[[str], None] | None) -> None:
    """Run generations ``done`` .. ``spec.generations - 1``, each seeded (see the module's docstring)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # pyabc subtracts inf from inf at generation 0
        _reseed(spec.sampler_seed, done, SETUP_STREAM)  # what the set-up draws (nothing, with an infinite first epsilon)
        t0 = abc.initialize_components_before_run(minimum_epsilon=spec.min_epsilon, max_nr_populations=spec.generations - done,
                                                  min_acceptance_rate=0.0, max_total_nr_simulations=np.inf,
                                                  max_walltime=None, min_eps_diff=0.0)
        for t in range(t0, spec.generations):
            _reseed(spec.sampler_seed, t)
            ret = abc.run_generation(t=t)
            if not ret["successful"]:
                raise UserError(f"calibrate: pyabc could not complete generation {t}")
            if log is not None:
                row = abc.history.get_all_populations().iloc[-1]
                log(f"generation {t}: epsilon {row.epsilon:.4g}, acceptance {ret['acceptance_rate']:.2f}"
                    f" ({int(row.particles)} of {int(row.samples)})")
            if progress is not None:
                progress(t + 1, spec.generations)
            if abc.check_terminate(t=t, acceptance_rate=ret["acceptance_rate"]):
                break


def results(history: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last generation's particles and the per-generation diagnostics of a pyabc history."""
    from pyabc.weighted_statistics import effective_sample_size

    t = history.max_t
    pop = history.get_population(t)
    rows = [{**{k: float(v) for k, v in dict(p.parameter).items()}, "weight": float(p.weight),
             "distance": float(p.distance), "generation": int(t)} for p in pop.particles]
    posterior = pd.DataFrame(rows)
    posterior["weight"] /= posterior.weight.sum()
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    diag = []
    for _, r in pops.iterrows():
        w = history.get_weighted_distances(int(r.t))["w"].to_numpy()
        diag.append({"generation": int(r.t), "epsilon": float(r.epsilon), "particles": int(r.particles),
                     "evaluations": int(r.samples), "acceptance_rate": float(r.particles / r.samples),
                     "ess": float(effective_sample_size(w / w.sum())), "wall_time_s": float(r.wall_time)})
    return posterior, pd.DataFrame(diag)


def _write(path: Path, writer: Callable[[Any], Any]) -> None:
    """Write one output file whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    writer(tmp)
    tmp.replace(path)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles of a weighted sample (the weighted empirical distribution, interpolated)."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return [float(np.interp(q, cum, v)) for q in qs]


def summary(posterior: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: the weighted posterior mean and central range, the prior range and the shipped value."""
    rows = []
    for name in [c for c in posterior.columns if c not in POSTERIOR_COLUMNS]:
        p = REGISTRY[name]
        lo, hi = weighted_quantiles(posterior[name].to_numpy(), posterior.weight.to_numpy(), RANGE_QUANTILES)
        rows.append({"param": name, "mean": float(np.average(posterior[name], weights=posterior.weight)),
                     "low": lo, "high": hi, "prior_low": p.low, "prior_high": p.high, "shipped": p.default})
    return pd.DataFrame(rows)


def marginals_svg(posterior: pd.DataFrame) -> str:
    """Weighted histogram and kernel density of each parameter over its prior range (the x axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import gaussian_kde  # scipy.stats takes ~0.3 s to import: only for this page's curves

    names = [c for c in posterior.columns if c not in POSTERIOR_COLUMNS]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    w = posterior.weight.to_numpy()
    for ax, name in zip(axes[0], names):
        p, x = REGISTRY[name], posterior[name].to_numpy()
        ax.hist(x, bins=HIST_BINS, range=(p.low, p.high), weights=w, density=True, color="#9ecae1", label="posterior")
        if len(np.unique(x)) > 1:
            grid = np.linspace(p.low, p.high, 200)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    ax.plot(grid, gaussian_kde(x, weights=w)(grid), color="#08519c", lw=1.2, label="weighted KDE")
                except (np.linalg.LinAlgError, ValueError):  # degenerate sample: the histogram alone
                    pass
        ax.axhline(1.0 / (p.high - p.low), color="#999", ls=":", lw=1, label="uniform prior")
        ax.axvline(p.default, color="tab:red", lw=1, label="shipped value")
        ax.set_xlim(p.low, p.high)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]


def posterior_html(posterior: pd.DataFrame, diagnostics: pd.DataFrame, spec: ABCSpec, fits: list) -> str:
    """The self-contained page: marginals, the summary, the diagnostics and the trade fit at the posterior mean."""
    start, end = spec.dates()
    sm = summary(posterior)
    q = f"{round(100 * RANGE_QUANTILES[0])}-{round(100 * RANGE_QUANTILES[1])}%"
    prow = "".join(f"<tr><td>{html.escape(r.param)}</td><td>{r['mean']:.4g}</td><td>[{r.low:.4g}, {r.high:.4g}]</td>"
                   f"<td>[{r.prior_low:g}, {r.prior_high:g}]</td><td>{r.shipped:.4g}</td></tr>" for _, r in sm.iterrows())
    drow = "".join(f"<tr><td>{int(r.generation)}</td><td>{r.epsilon:.4g}</td><td>{int(r.particles)}</td>"
                   f"<td>{int(r.evaluations)}</td><td>{r.acceptance_rate:.2f}</td><td>{r.ess:.1f}</td>"
                   f"<td>{r.wall_time_s:.0f}</td></tr>" for _, r in diagnostics.iterrows())
    buf = io.BytesIO()
    trade_chart_svg(fits, buf)
    chart = buf.getvalue().decode("utf-8")
    chart = chart[chart.find("<svg"):]
    loss = loss_of(fits)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hamji ABC posterior</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:.88em}} td,th{{padding:.25em .7em;border-bottom:1px solid #eee;text-align:right}}
td:first-child,th:first-child{{text-align:left}} svg{{max-width:100%;height:auto}}
.note{{background:#fff6e5;border-left:4px solid #e67e22;padding:.6em 1em}}</style></head><body>
<h1>hamji: ABC-SMC posterior of {len(sm)} parameters</h1>
<p class="note">Targets: DPRK exports, imports and total trade (china_dprk_trade.csv), {start.year}-{end.year},
against the <code>history</code> scenario's trade as Chinese customs records it (exports_recorded_usd,
imports_recorded_usd), averaged over {spec.seeds} seed(s) at 1:{spec.scale}. Distance: mean
over the series of mean absolute log error + 1 - correlation (the optuna calibration's loss). Priors uniform
on the declared ranges (the x axes). Generation 0 is the prior sample. Population {spec.population}, sampler
seed {spec.sampler_seed}; the posterior is generation {int(posterior.generation.iloc[0])}.</p>
<h2>Marginals (weighted)</h2>{marginals_svg(posterior)}
<table><tr><th>parameter</th><th>posterior mean</th><th>{q} range</th><th>prior range</th><th>shipped value</th></tr>
{prow}</table>
<h2>Generations</h2>
<table><tr><th>generation</th><th>epsilon</th><th>particles</th><th>evaluations</th><th>acceptance</th>
<th>effective sample size</th><th>wall time, s</th></tr>{drow}</table>
<h2>Trade at the posterior mean (distance {loss:.3f})</h2>{chart}
</body></html>
"""
