"""Scenario comparison: the human security gained against the regime revenue added.

"Every intervention that widens commerce also feeds North Korea, Inc." (MODEL.md section 5). For
each scenario against the first (the reference), and for each seed, the paired difference of the
outcome averaged over the evaluation years; then the mean difference over seeds and its 90%
confidence interval (Student t over seeds). Common random numbers make the pairing meaningful.

:func:`run_comparison` (behind ``hamji compare``) is resumable. One task is one seed (every scenario
run with it, see :func:`hamji.analysis.ensemble.run_grouped`); each finished task is kept, as soon as it
arrives, in a hidden folder beside the results, ``.<out-name>.partial/`` (a
:class:`hamji.analysis.sweep.TaskStore`: one Parquet file per seed, written whole or not at all). Killed at
any moment, the same call with the same ``out`` loads the stored seeds, runs only the missing
ones, and writes the same results as an uninterrupted run. The results folder itself is written
atomically at the end, and the hidden folder is then deleted. Stored tasks made with another hamji
version, scenario content (or resolved parameters), scale, dates or seeds are refused, naming what
differs (``overwrite`` discards them instead).

With a posterior (``posterior.parquet`` of ``hamji calibrate --method abc``: parameter columns and a
``weight`` column), each seed also draws one parameter set from it (:func:`posterior_draw`, weighted,
from a generator seeded by the seed alone, so the draw is reproducible) and every scenario of that
seed runs with it: the pairs share random numbers and parameters, and the spread over seeds then
carries parameter uncertainty as well as noise. The report says which kind of interval it shows
(:data:`INTERVAL_SEEDS` or :data:`INTERVAL_POSTERIOR`), and the stored tasks' fingerprint includes the
posterior file's content digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hamji.analysis.ensemble import Task, check_scheduler, run_grouped, validate_tasks
from hamji.analysis.settings import (
    COMPARE_END,
    COMPARE_FIRST_SEED,
    COMPARE_SCALE,
    COMPARE_SEEDS,
    COMPARE_START,
    RunSettings,
    UsesRunSettings,
    parse_years,
)
from hamji.analysis.stats import CONFIDENCE, t_half_width
from hamji.analysis.sweep import TaskStore, scenario_digest
from hamji.errors import UserError
from hamji.output import atomic_folder, check_out_dir
from hamji.parameters import REGISTRY, brief
from hamji.scenario import event_key_spec, load_scenario
from hamji.sim import check_run_date, parse_scale
from hamji.version import VERSION

#: (label, metric, region): the human security outcomes compared
HSI_OUTCOMES = (
    ("HSI, HamJi", "hsi_mean", "HamJi"),
    ("HSI, Rest of DPRK", "hsi_mean", "Rest of DPRK"),
    ("HSI, participants", "hsi_participants", "DPRK"),
    ("HSI, non-participants", "hsi_nonparticipants", "DPRK"),
)
#: regime revenue: money reaching the leader's accounts and the three branches' budgets from every
#: source (funnel, market fees, bribes' organisation share, fines), DPRK, US$ a year
REVENUE_METRICS = ("regime_revenue_usd",)
REVENUE_LABEL = "Regime revenue, US$ M a year"
#: what the 90% intervals are taken over, without and with a posterior (the ``interval`` column)
INTERVAL_SEEDS = "over seeds"
INTERVAL_POSTERIOR = "over seeds and posterior parameter draws"
#: mixed into each seed's posterior draw, so the draw is a stream of its own, apart from every stream
#: the simulation derives from the same seed (the bytes of "post")
POSTERIOR_STREAM = 0x706F7374
#: columns of a posterior file that are not parameters (see hamji.analysis.abc)
POSTERIOR_EXTRA = ("weight", "distance", "generation")
#: the draws written beside the results: one row per seed, the parameter set it ran with
DRAWS_FILE = "posterior_draws.csv"


def read_posterior(path: Path, option: str = "compare --posterior") -> pd.DataFrame:
    """A posterior file checked whole: parameter columns known and in range, weights usable.

    Any mistake is a one-line :class:`~hamji.errors.UserError` naming the file: missing or not Parquet,
    no ``weight`` column or no parameter column, an unknown parameter, a value not a number or out of
    the parameter's declared range, negative or non-finite weights, or weights summing to zero.
    Returns the parameter columns and ``weight``.
    """
    at = f"{option} {path}"
    if not Path(path).is_file():
        raise UserError(f"{at}: no such file")
    try:
        frame = pd.read_parquet(path)
    except Exception as e:
        raise UserError(f"{at}: not a readable Parquet file ({type(e).__name__})") from None
    if "weight" not in frame.columns:
        raise UserError(f"{at}: no 'weight' column (expected the posterior.parquet of `hamji calibrate --method abc`)")
    names = [c for c in frame.columns if c not in POSTERIOR_EXTRA]
    if not names:
        raise UserError(f"{at}: no parameter column")
    if frame.empty:
        raise UserError(f"{at}: no particle (no row)")
    for name in names:
        spec = REGISTRY.get(name) if "." not in str(name) else event_key_spec(str(name))
        if spec is None:
            raise UserError(f"{at}: unknown parameter {brief(name)}; run `hamji params` for the list of names")
        for i, value in enumerate(frame[name].tolist()):
            frame.at[frame.index[i], name] = spec.coerce(value, f"{at}, row {i + 1}")
    weight = pd.to_numeric(frame.weight, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(weight).all() or (weight < 0).any() or weight.sum() <= 0:
        raise UserError(f"{at}: weights must be finite numbers >= 0 with a positive sum")
    out = frame[names].copy()
    out["weight"] = weight / weight.sum()
    return out


def posterior_draw(posterior: pd.DataFrame, seed: int) -> dict[str, Any]:
    """One parameter set drawn from ``posterior`` with its weights, reproducibly from ``seed`` alone."""
    rng = np.random.default_rng([POSTERIOR_STREAM, seed])
    row = posterior.iloc[int(rng.choice(len(posterior), p=posterior.weight.to_numpy()))]
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.drop("weight").items()}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content (a changed posterior makes other tasks)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def outcomes(annual: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    """Per scenario and seed: each outcome averaged over ``years`` (inclusive)."""
    a = annual[(annual.year >= years[0]) & (annual.year <= years[1])]
    index = pd.MultiIndex.from_frame(annual[["scenario", "seed"]].drop_duplicates())
    rows = []
    for label, metric, region in HSI_OUTCOMES:
        s = a[(a.metric == metric) & (a.region == region)].groupby(["scenario", "seed"], sort=False).value.mean()
        rows.append(s.rename(label))
    rev = a[a.metric.isin(REVENUE_METRICS) & (a.region == "DPRK")].groupby(["scenario", "seed", "year"], sort=False).value.sum()
    rows.append((rev.groupby(["scenario", "seed"], sort=False).mean() / 1e6).rename(REVENUE_LABEL))
    return pd.concat([r.reindex(index) for r in rows], axis=1)


def differences(annual: pd.DataFrame, years: tuple[int, int], reference: str, interval: str = INTERVAL_SEEDS) -> pd.DataFrame:
    """Mean paired difference of each outcome against ``reference``, with a 90% interval, per scenario;
    ``interval`` says what the interval is taken over (recorded in each row)."""
    out = outcomes(annual, years)
    ref = out.xs(reference, level="scenario")
    rows = []
    for scen in out.index.get_level_values("scenario").unique():
        if scen == reference:
            continue
        diff = out.xs(scen, level="scenario") - ref.reindex(out.xs(scen, level="scenario").index)
        n = len(diff)
        for col in diff.columns:
            d = diff[col].to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            mean = float(d.mean()) if len(d) else np.nan
            half = t_half_width(d, CONFIDENCE)
            rows.append({"scenario": scen, "outcome": col, "mean_change": mean, "low90": mean - half, "high90": mean + half,
                         "seeds": n, "reference_mean": float(ref[col].mean()), "from_year": years[0], "to_year": years[1],
                         "interval": interval})
    return pd.DataFrame(rows)


def differing_years(scenarios: list[str], start: dt.date, end: dt.date) -> tuple[int, int]:
    """The default evaluation window: the years in which the scenarios differ from the first.

    From the first year of an event that one scenario has and the reference has not (or the other way
    round) to the last year such an event lasts (the run's last year for an event without an end),
    within the run. A short shock is thus measured over its own years (the closure of
    2020-23 over 2020-2023), not diluted in a ten-year average. Scenarios whose parameters or output groups differ
    differ from the start; scenarios that differ in nothing give the whole run.
    """
    return differing_years_of([load_scenario(s) for s in scenarios], start, end)


def differing_years_of(loaded: list[Any], start: dt.date, end: dt.date) -> tuple[int, int]:
    """:func:`differing_years` of scenarios already loaded (:class:`hamji.scenario.Scenario`; the web app
    rebuilds them from run manifests)."""

    def events(sc: Any) -> set[tuple]:
        return {(e.type, e.start, e.end, json.dumps(e.params, sort_keys=True, default=str)) for e in sc.spec.events}

    ref = loaded[0]
    first, last = end.year + 1, start.year - 1
    for sc in loaded[1:]:
        if sc.pars.to_dict() != ref.pars.to_dict() or sc.spec.groups != ref.spec.groups:
            return start.year, end.year
        for _type, e_start, e_end, _params in events(sc) ^ events(ref):
            first = min(first, e_start.year)
            last = max(last, e_end.year if e_end is not None else end.year)
    first, last = max(first, start.year), min(last, end.year)
    return (first, last) if first <= last else (start.year, end.year)


def tradeoff_svg(diffs: pd.DataFrame) -> str:
    """The trade-off chart: HSI gained in HamJi against regime revenue added, one point per scenario."""
    import matplotlib  # only to draw the page: reading differences needs no plotting library

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for scen, g in diffs.groupby("scenario", sort=False):
        x = g[g.outcome == REVENUE_LABEL].iloc[0]
        y = g[g.outcome == "HSI, HamJi"].iloc[0]
        ax.errorbar(x.mean_change, y.mean_change, xerr=[[x.mean_change - x.low90], [x.high90 - x.mean_change]],
                    yerr=[[y.mean_change - y.low90], [y.high90 - y.mean_change]], fmt="o", capsize=3, label=scen)
        ax.annotate(scen, (x.mean_change, y.mean_change), xytext=(5, 5), textcoords="offset points", fontsize=8)
    ax.axhline(0, color="#999", lw=0.8)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_xlabel("regime revenue added (leader's accounts + KPA, KWP, Cabinet budgets), US$ M a year")
    ax.set_ylabel("human security gained, HamJi (index points)")
    ax.set_title("The trade-off: human security gained against regime revenue added (90% intervals)", loc="left", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]


def comparison_html(diffs: pd.DataFrame, reference: str, years: tuple[int, int], seeds: int, scale: int,
                    posterior: str | None = None) -> str:
    """The comparison page (self-contained); ``posterior`` names the posterior file the parameters were drawn from."""
    if posterior is None:
        kind = (f"the interval is a 90% confidence interval of that mean, {INTERVAL_SEEDS} (Student t): it carries the"
                " model's noise only, at the default parameters")
    else:
        kind = (f"each seed ran every scenario with one parameter set drawn from the posterior"
                f" <code>{html.escape(posterior)}</code>, so the 90% interval (Student t) is {INTERVAL_POSTERIOR}:"
                " it carries parameter uncertainty as well as noise")
    rows = []
    for _, r in diffs.iterrows():
        digits = 1 if r.outcome == REVENUE_LABEL else 4
        rows.append(f"<tr><td>{html.escape(r.scenario)}</td><td>{html.escape(r.outcome)}</td>"
                    f"<td>{r.reference_mean:.{digits}f}</td><td><b>{r.mean_change:+.{digits}f}</b></td>"
                    f"<td>[{r.low90:+.{digits}f}, {r.high90:+.{digits}f}]</td></tr>")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hamji comparison</title>
<style>body{{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:.88em}} td,th{{padding:.25em .7em;border-bottom:1px solid #eee;text-align:right}}
td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){{text-align:left}} svg{{max-width:100%;height:auto}}
.note{{background:#fff6e5;border-left:4px solid #e67e22;padding:.6em 1em}}</style></head><body>
<h1>hamji: scenarios against <code>{html.escape(reference)}</code></h1>
<p class="note"><b>Scenarios, not forecasts.</b> Each change is the mean over {seeds} seeds of the paired
difference (same seed in both scenarios, common random numbers), averaged over {years[0]}-{years[1]};
{kind}. Scale 1:{scale}.</p>
<p>Every intervention that widens commerce also feeds "North Korea, Inc.": read the human security
gained together with the regime revenue added.</p>
{tradeoff_svg(diffs)}
<table><tr><th>scenario</th><th>outcome</th><th>{html.escape(reference)}</th><th>change</th><th>90% interval,
{html.escape(diffs.interval.iloc[0] if len(diffs) else INTERVAL_SEEDS)}</th></tr>
{''.join(rows)}</table>
<p>Human security index: 0-1 per household (docs/metrics.md). Regime revenue: money reaching the
leader's accounts and the KPA, KWP and Cabinet budgets from every source (the companies' funnel,
market fees, the organisations' share of bribes, fines), US$ million a year.</p></body></html>
"""


def partial_dir(out: Path) -> Path:
    """Where the finished tasks of a comparison into ``out`` are kept until it is written: ``.<name>.partial/`` beside it."""
    full = Path(out).absolute()
    return full.parent / f".{full.name}.partial"


def comparison_fingerprint(scenarios: list[str], seeds: list[int], scale: int, start: dt.date, end: dt.date,
                           posterior_digest: str | None = None) -> dict:
    """What a comparison's tasks are made with (with the posterior's content digest, if any): a store
    holding other tasks is refused."""
    return {"sweep": "compare", "hamji version": VERSION, "scenarios": list(scenarios),
            "scenario content": {s: scenario_digest(load_scenario(s)) for s in scenarios},
            "scale": scale, "dates": f"{start} to {end}", "seeds": list(seeds),
            **({"posterior": posterior_digest} if posterior_digest else {})}


@dataclass(init=False)
class ComparisonSpec(UsesRunSettings, exclude=("scenario",)):
    """What a comparison runs: ``scenarios`` (the first is the reference, ``run.scenario``), the seeds
    ``first_seed``, ``first_seed + 1``, ... (``run.seeds`` of them), an optional ``posterior`` file; how it
    runs is its :class:`RunSettings` (``run``: scale, window, evaluation years, workers, scheduler), whose
    defaults for a comparison are declared in :mod:`hamji.analysis.settings` (``COMPARE_*``). Build it checked
    with :func:`compare_spec`."""

    scenarios: list[str]
    first_seed: int = COMPARE_FIRST_SEED
    posterior: Path | None = None
    run: RunSettings = field(default_factory=RunSettings)

    def __init__(self, scenarios: list[str], first_seed: int = COMPARE_FIRST_SEED, posterior: Path | None = None,
                 run: RunSettings | None = None) -> None:
        self.scenarios, self.first_seed = list(scenarios), first_seed
        self.posterior = Path(posterior) if posterior is not None else None
        self.run = run if run is not None else compare_spec(self.scenarios, first_seed=first_seed).run

    @property
    def scenario(self) -> str:
        """The reference scenario (the first)."""
        return self.scenarios[0]

    @property
    def seed_list(self) -> list[int]:
        return [self.first_seed + k for k in range(self.run.seeds)]


def compare_spec(scenarios: list[str], seeds: int = COMPARE_SEEDS, scale: int | str = COMPARE_SCALE, start: Any = None,
                 end: Any = None, years: Any = None, first_seed: int = COMPARE_FIRST_SEED, posterior: Path | str | None = None,
                 workers: int = 1, scheduler: str | None = None) -> ComparisonSpec:
    """A checked :class:`ComparisonSpec` from user input, the same for ``hamji compare`` and :func:`hamji.compare`:
    dates as dates or text (None: :data:`~hamji.analysis.settings.COMPARE_START` / ``COMPARE_END``), ``years`` as
    None, ``Y1-Y2`` text or a pair whose ``None`` ends default to the years in which the scenarios differ
    (:func:`differing_years`)."""
    if len(scenarios) < 2:
        raise UserError("compare: give at least two scenarios (the first is the reference)")
    if len(set(scenarios)) < len(scenarios):
        raise UserError(f"compare: each scenario once, got {' '.join(scenarios)}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise UserError("compare: give at least one seed")
    seed_list = [first_seed + k for k in range(seeds)] if isinstance(first_seed, int) else [first_seed]
    bad = next((s for s in seed_list if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**32), None)
    if bad is not None:
        raise UserError(f"compare --first-seed/--seeds: seed {bad!r} is not a whole number from 0 to {2**32 - 1}")
    first = COMPARE_START if start is None else check_run_date(start, "--start")
    last = COMPARE_END if end is None else check_run_date(end, "--end")
    if last < first:
        raise UserError(f"--end {last} is before --start {first}")
    if isinstance(years, str):
        years = parse_years(years, first, last)
    if years is None or None in years:
        differ = differing_years(scenarios, first, last)
        years = differ if years is None else tuple(d if y is None else y for y, d in zip(years, differ, strict=True))
    if years[0] > years[1] or years[0] < first.year or years[1] > last.year:
        raise UserError(f"--from-year/--to-year {years[0]}-{years[1]}: must be an ordered window inside {first.year}-{last.year}")
    run = RunSettings(scenario=scenarios[0], scale=parse_scale(scale), seeds=seeds, start=first, end=last,
                      years=(int(years[0]), int(years[1])), workers=workers, scheduler=scheduler)
    run.check()
    return ComparisonSpec(scenarios, first_seed, posterior, run)


def run_comparison(spec: ComparisonSpec, out: Path | None = None, overwrite: bool = False,
                   progress: Callable[[int, int], None] | None = None,
                   log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the spec's scenarios over its seeds and write ``comparison.parquet``, ``differences.csv`` and
    ``comparison.html`` into ``out`` (nothing written without it); returns the annual results and the differences.

    With a ``posterior`` file, each seed runs every scenario with one parameter set drawn from it
    (:func:`posterior_draw`), written to ``posterior_draws.csv`` too.

    The evaluation window is ``spec.run.years`` (by default the years in which the scenarios differ,
    :func:`differing_years`). Resumable: see the module's docstring. Every input is checked, and the scheduler
    reached, before anything runs or is written.
    """
    scenarios, seeds, run, posterior = spec.scenarios, spec.seed_list, spec.run, spec.posterior
    scale, start, end, years = run.scale, run.start, run.end, run.years
    draws: dict[int, dict[str, Any]] = {}
    if posterior is not None:
        chosen = read_posterior(posterior)
        draws = {s: posterior_draw(chosen, s) for s in seeds}
    if out is not None:
        check_out_dir(out, overwrite)
    if run.scheduler is not None:
        check_scheduler(run.scheduler)
    validate_tasks([Task(s, seeds[0], scale, start, end) for s in scenarios])
    store = None
    if out is not None:
        fingerprint = comparison_fingerprint(scenarios, seeds, scale, start, end,
                                             file_digest(posterior) if posterior is not None else None)
        store = TaskStore(partial_dir(out), fingerprint, replace=overwrite,
                          hint="use another --out, or add --overwrite to discard them")
    try:
        stored = len(store.done() & {f"seed-{s}" for s in seeds}) if store is not None else 0
        if stored and log is not None:
            log(f"resuming: {stored} of {len(seeds)} seeds already done (kept in {store.folder}); running {len(seeds) - stored}")
        annual = run_grouped(scenarios, seeds, scale, start, end, workers=run.workers, scheduler=run.scheduler,
                             progress=progress, store=store, overrides=draws)
        names = list(dict.fromkeys(annual.scenario))
        diffs = differences(annual, years, names[0], INTERVAL_POSTERIOR if draws else INTERVAL_SEEDS)
        if out is not None:
            with atomic_folder(out, overwrite) as tmp:
                annual[["scenario", "seed", "region", "metric", "year", "value"]].to_parquet(tmp / "comparison.parquet", index=False)
                diffs.to_csv(tmp / "differences.csv", index=False)
                if draws:
                    pd.DataFrame([{"seed": s, **d} for s, d in draws.items()]).to_csv(tmp / DRAWS_FILE, index=False)
                page = comparison_html(diffs, names[0], years, len(seeds), scale, str(posterior) if draws else None)
                (tmp / "comparison.html").write_text(page, encoding="utf-8")
    except BaseException:
        if store is not None and store.done():
            store.close()  # keep the finished seeds for the next run
        elif store is not None:
            store.remove()  # nothing finished: leave nothing behind
        raise
    if store is not None:
        store.remove()
    return annual, diffs
