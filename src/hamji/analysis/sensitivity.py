"""Global sensitivity analysis with SALib: which assumptions decide an outcome, or an intervention's effect.

Most of hamji's parameters are assumptions with a plausible range, not observations. This module
varies them together within those ranges and ranks them by how much they move an outcome:

* **Morris** elementary effects (the default) screen many parameters at the cost of
  ``trajectories x (k + 1)`` samples: ``mu_star`` (mean absolute effect of moving a parameter across
  its range) ranks them, ``sigma`` flags non-linearity and interactions. With many parameters, the
  parameters of one module can be screened as a group (``groups="module"``).
* **Sobol'** indices (Saltelli sampling, ``N x (k + 2)`` samples) on the few that matter: ``S1`` the
  share of the outcome's variance due to a parameter alone, ``ST`` including its interactions, both
  with bootstrap confidence intervals.
* **delta** moment-independent indices (Borgonovo) from a Latin hypercube, for outcomes with jumps.

Every sample is run over the same seeds and the outcome averaged over them (common random numbers:
:mod:`hamji.analysis.experiments`), so a parameter that cannot change a run has an index of exactly
zero, not noise. An outcome may be the **effect of an intervention** (a scenario minus the reference
on the same seed and parameters): the analysis then answers "which assumptions decide whether
micro-lending helps, and how much it feeds the regime".

Parameters are drawn on the unit cube and mapped through each one's plausible range and
distribution (``uncertain`` in the registry), so ``mu_star`` is in outcome units per move across the
whole plausible range, comparable between parameters.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hamji.analysis.experiments import Outcome, param_spec, parse_outcome, resolve_params, run_design, seed_means, values_from_unit
from hamji.analysis.settings import (
    DEFAULT_SCALE,
    DEFAULT_SCENARIO,
    DEFAULT_SEEDS,
    RunSettings,
    UsesRunSettings,
    embed,
    run_settings,
)
from hamji.analysis.sweep import analysis_tasks, scenario_digest, write_whole
from hamji.errors import UserError
from hamji.report import figure_svg
from hamji.scenario import load_scenario
from hamji.version import VERSION

METHODS = ("morris", "sobol", "delta")
#: Morris grid levels: 4 is the usual choice (Saltelli et al. 2008, Global Sensitivity Analysis, ch. 3)
MORRIS_LEVELS = 4
#: default design sizes: Morris trajectories (Campolongo et al. 2007 use 10; 4 already ranks the
#: strongest parameters, and screening costs trajectories x (k + 1) runs), Sobol' base samples N
#: (a power of two for Sobol' sequences), Latin hypercube samples for delta
DEFAULT_SAMPLES = {"morris": 4, "sobol": 64, "delta": 128}
#: bootstrap resamples and confidence level of the intervals SALib reports
BOOTSTRAP = 1000
CONFIDENCE = 0.95
#: the seed of the design's samplers and bootstraps (a design is repeatable)
DESIGN_SEED = 20090101
#: what an analysis measures when no outcome is given: human security in HamJi and the money reaching the regime
DEFAULT_OUTCOMES = ("hsi_mean:HamJi", "regime_revenue_usd:DPRK")


@dataclass(init=False)
class SensitivitySpec(UsesRunSettings):
    """What a sensitivity analysis varies, measures and spends; how it runs is its :class:`RunSettings`
    (``run``; its fields ``scenario``, ``seeds``, ``scale``, ``start``, ``end`` are also accepted as keywords
    and read as attributes)."""

    method: str = "morris"
    params: list[str] | None = None  # None: every uncertain parameter
    outcomes: list[Outcome] = field(default_factory=list)
    effect: str | None = None
    samples: int | None = None  # trajectories (morris) or base samples N (sobol) or LHS size (delta)
    groups: str | None = None  # "module": Morris over groups of parameters, one per module
    declared: bool = False  # sample the declared ranges instead of the plausible ones
    run: RunSettings = field(default_factory=RunSettings)

    def __init__(self, method: str = "morris", params: list[str] | None = None, outcomes: list[Outcome] | None = None,
                 effect: str | None = None, samples: int | None = None, groups: str | None = None, declared: bool = False,
                 run: RunSettings | None = None, **run_fields: Any) -> None:
        self.method, self.params, self.outcomes, self.effect = method, params, list(outcomes or []), effect
        self.samples, self.groups, self.declared = samples, groups, declared
        self.run = embed(run, run_fields)

    def check(self) -> None:
        if self.method not in METHODS:
            raise UserError(f"--method {self.method}: allowed {', '.join(METHODS)}")
        if self.groups not in (None, "module"):
            raise UserError(f"--groups {self.groups}: allowed module")
        if self.groups and self.method != "morris":
            raise UserError("--groups: only with --method morris (Sobol' and delta need each parameter)")
        if not self.outcomes:
            raise UserError("--outcome: give at least one METRIC:REGION")
        if self.samples is not None and self.samples < 2:
            raise UserError(f"--samples {self.samples}: at least 2")

    @property
    def n(self) -> int:
        return self.samples or DEFAULT_SAMPLES[self.method]


def sensitivity_spec(method: str = "morris", params: list[str] | None = None, outcomes: list[str] | None = None,
                     effect: str | None = None, scenario: str = DEFAULT_SCENARIO, samples: int | None = None,
                     seeds: int = DEFAULT_SEEDS, scale: int | str = DEFAULT_SCALE, start: Any = None, end: Any = None,
                     years: str | None = None, groups: str | None = None, declared: bool = False,
                     run: RunSettings | None = None) -> SensitivitySpec:
    """A checked :class:`SensitivitySpec` from the arguments of :func:`hamji.sensitivity` (text dates, ``Y1-Y2``
    years, ``METRIC:REGION`` outcomes), so the command line, the Python API and the web app read them alike;
    ``run`` (already checked :class:`RunSettings`) replaces the run arguments."""
    if run is None:
        run = run_settings(scenario, seeds, scale, start, end, years, prefix="")
    spec = SensitivitySpec(method=method, params=list(params) if params else None, effect=effect or None, samples=samples,
                           outcomes=[parse_outcome(o, run.years) for o in (outcomes or DEFAULT_OUTCOMES)],
                           groups=groups, declared=declared, run=run)
    spec.check()
    return spec


def problem(names: list[str], groups: list[str] | None = None) -> dict[str, Any]:
    """The SALib problem on the unit cube (values are mapped through each parameter's range later)."""
    p: dict[str, Any] = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    if groups is not None:
        p["groups"] = list(groups)
    return p


def module_groups(names: list[str]) -> list[str]:
    """Each parameter's module (an event key's event type), for group screening."""
    return [n.split(".")[0] if "." in n else param_spec(n).module for n in names]


def design(spec: SensitivitySpec, names: list[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """The unit-cube sample of the method (rows = samples) and its SALib problem."""
    from SALib.sample import latin, morris, sobol

    prob = problem(names, module_groups(names) if spec.groups == "module" else None)
    if spec.method == "morris":
        unit = morris.sample(prob, spec.n, num_levels=MORRIS_LEVELS, seed=DESIGN_SEED)
    elif spec.method == "sobol":
        unit = sobol.sample(prob, spec.n, calc_second_order=False, scramble=True, seed=DESIGN_SEED)
    else:
        unit = latin.sample(prob, spec.n, seed=DESIGN_SEED)
    return unit, prob


def n_runs(spec: SensitivitySpec, names: list[str]) -> int:
    """Simulations the design costs (a run of the effect scenario forks from the reference at its first event)."""
    k = len(set(module_groups(names))) if spec.groups == "module" else len(names)
    samples = {"morris": spec.n * (k + 1), "sobol": spec.n * (k + 2), "delta": spec.n}[spec.method]
    return samples * spec.seeds * (2 if spec.effect else 1)


def analyze(spec: SensitivitySpec, prob: dict[str, Any], unit: np.ndarray, means: pd.DataFrame) -> pd.DataFrame:
    """The indices of every outcome, tidy: method, outcome, param, index, value, low, high."""
    from SALib.analyze import delta, morris, sobol

    rows = []
    for o in spec.outcomes:
        y = means[o.name].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            raise UserError(f"--outcome {o.name}: not defined in every run (no value in {o.years[0]}-{o.years[1]}?)")
        if spec.method == "morris":
            r = morris.analyze(prob, unit, y, num_resamples=BOOTSTRAP, conf_level=CONFIDENCE, seed=DESIGN_SEED)
            names = list(r["names"])
            for i, n in enumerate(names):
                ms, conf = float(r["mu_star"][i]), float(r["mu_star_conf"][i])
                rows += [(o.name, n, "mu_star", ms, max(ms - conf, 0.0), ms + conf),
                         (o.name, n, "mu", float(r["mu"][i]), np.nan, np.nan),
                         (o.name, n, "sigma", float(r["sigma"][i]), np.nan, np.nan)]
        elif spec.method == "sobol":
            if np.ptp(y) == 0:  # no variance: nothing to apportion, every index is exactly zero
                r = {k: np.zeros(len(prob["names"])) for k in ("S1", "S1_conf", "ST", "ST_conf")}
            else:
                r = sobol.analyze(prob, y, calc_second_order=False, num_resamples=BOOTSTRAP, conf_level=CONFIDENCE,
                                  seed=DESIGN_SEED)
            for i, n in enumerate(prob["names"]):
                for idx in ("S1", "ST"):
                    v, c = float(r[idx][i]), float(r[f"{idx}_conf"][i])
                    rows.append((o.name, n, idx, v, v - c, v + c))
        else:
            if np.ptp(y) == 0:
                r = {k: np.zeros(len(prob["names"])) for k in ("delta", "delta_conf", "S1", "S1_conf")}
            else:
                r = delta.analyze(prob, unit, y, num_resamples=BOOTSTRAP, conf_level=CONFIDENCE, seed=DESIGN_SEED)
            for i, n in enumerate(prob["names"]):
                for idx in ("delta", "S1"):
                    v, c = float(r[idx][i]), float(r[f"{idx}_conf"][i])
                    rows.append((o.name, n, idx, v, v - c, v + c))
    out = pd.DataFrame(rows, columns=["outcome", "param", "index", "value", "low", "high"])
    out.insert(0, "method", spec.method)
    return out


def ranking(indices: pd.DataFrame) -> pd.DataFrame:
    """Parameters by importance for each outcome: mu_star (Morris), ST (Sobol'), delta."""
    key = {"morris": "mu_star", "sobol": "ST", "delta": "delta"}[indices.method.iloc[0]]
    r = indices[indices["index"] == key].copy()
    r["rank"] = r.groupby("outcome")["value"].rank(ascending=False, method="min").astype(int)
    return r.sort_values(["outcome", "rank", "param"]).reset_index(drop=True)


def fingerprint(spec: SensitivitySpec, names: list[str]) -> dict[str, Any]:
    """What a stored design depends on (a resumed analysis must match it)."""
    scen = [spec.scenario] + ([spec.effect] if spec.effect else [])
    return {"hamji version": VERSION, "method": spec.method, "parameters": names,
            "ranges": {n: list(param_spec(n).bounds(spec.declared)) + [param_spec(n).dist] for n in names},
            "groups": spec.groups, "samples": spec.n, "seeds": spec.seeds, "scale": spec.scale,
            "start": str(spec.start), "end": str(spec.end), "outcomes": [[o.name, *o.years] for o in spec.outcomes],
            "scenario content": {s: scenario_digest(load_scenario(s)) for s in scen}}


def sensitivity(spec: SensitivitySpec, out: Path | None = None, workers: int = 1, scheduler: str | None = None,
                progress: Callable[[int, int], None] | None = None,
                notes: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the analysis; (indices, experiments). With ``out``, write ``sensitivity.parquet``,
    ``experiments.parquet`` and ``sensitivity.html`` there, keeping each finished run in
    ``out/.tasks`` so an interrupted analysis resumes."""

    spec.check()
    scen = [spec.scenario] + ([spec.effect] if spec.effect else [])
    names, found = resolve_params(spec.params, scen)
    if notes is not None:
        notes.extend(found)
    unit, prob = design(spec, names)
    values = values_from_unit(names, unit, spec.declared)
    seeds = list(range(1, spec.seeds + 1))
    out = Path(out) if out is not None else None
    with analysis_tasks(out, fingerprint(spec, names)) as store:
        exp = run_design(values, spec.scenario, spec.effect, spec.outcomes, seeds, spec.scale, spec.start, spec.end,
                         workers, scheduler, progress, store)
        indices = analyze(spec, prob, unit, seed_means(exp))
        if out is not None:
            write(out, spec, names, indices, exp, found)
    return indices, exp


def write(out: Path, spec: SensitivitySpec, names: list[str], indices: pd.DataFrame, exp: pd.DataFrame,
          notes: list[str]) -> None:
    """The three files, each written whole (a temporary name, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    write_whole(out / "sensitivity.parquet", frame=indices)
    write_whole(out / "experiments.parquet", frame=exp)
    write_whole(out / "sensitivity.html", text=render_html(spec, names, indices, notes))


# -- the page --------------------------------------------------------------------------------------

def _chart(spec: SensitivitySpec, indices: pd.DataFrame, outcome: str, top: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = indices[indices.outcome == outcome]
    if spec.method == "morris" and d[d["index"] == "sigma"].value.isna().any():
        # groups (or too few trajectories) leave sigma undefined: rank by mu_star with its interval
        ms = d[d["index"] == "mu_star"].sort_values("value", ascending=False).head(top)
        fig, ax = plt.subplots(figsize=(6.4, 0.3 * len(ms) + 1.2))
        ax.barh(np.arange(len(ms)), ms.value, xerr=[ms.value - ms.low, ms.high - ms.value], capsize=2, color="#c0392b")
        ax.set_yticks(np.arange(len(ms)), ms.param, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"μ* (mean absolute elementary effect, outcome units per plausible range), {CONFIDENCE:.0%} interval")
        ax.set_title(f"Morris screening{' of groups' if spec.groups else ''}: {outcome}", loc="left", fontsize=9)
        return figure_svg(fig)
    if spec.method == "morris":
        piv = d.pivot(index="param", columns="index", values="value")
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.scatter(piv.mu_star, piv.sigma, s=14, color="#c0392b")
        for p in piv.sort_values("mu_star", ascending=False).index[:top]:
            ax.annotate(p, (piv.mu_star[p], piv.sigma[p]), xytext=(3, 3), textcoords="offset points", fontsize=7)
        lim = max(float(piv.mu_star.max()), float(piv.sigma.max()), 1e-300)
        ax.plot([0, lim], [0, lim], color="#999", lw=0.7, ls="--")
        ax.set_xlabel("μ* (mean absolute elementary effect, outcome units per plausible range)")
        ax.set_ylabel("σ (spread of the effects: non-linearity, interactions)")
        ax.set_title(f"Morris screening: {outcome}", loc="left", fontsize=9)
        return figure_svg(fig)
    key = "ST" if spec.method == "sobol" else "delta"
    order = d[d["index"] == key].sort_values("value", ascending=False).param.tolist()[:top]
    idxs = ["S1", "ST"] if spec.method == "sobol" else ["delta", "S1"]
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(order) + 1.2))
    ypos = np.arange(len(order))
    for j, idx in enumerate(idxs):
        sub = d[d["index"] == idx].set_index("param").reindex(order)
        ax.barh(ypos + (j - 0.5) * 0.38, sub.value, height=0.38, label=idx,
                xerr=[sub.value - sub.low, sub.high - sub.value], capsize=2, color=["#2c7fb8", "#c0392b"][j])
    ax.set_yticks(ypos, order, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="#999", lw=0.7)
    ax.legend(fontsize=8)
    ax.set_title(f"{'Sobol' if spec.method == 'sobol' else 'delta'} indices with {CONFIDENCE:.0%} intervals: {outcome}",
                 loc="left", fontsize=9)
    return figure_svg(fig)


def render_html(spec: SensitivitySpec, names: list[str], indices: pd.DataFrame, notes: list[str], top: int = 15) -> str:
    """A self-contained page: the method, the chart per outcome and the ranking table."""
    rank = ranking(indices)
    key = rank["index"].iloc[0] if len(rank) else ""
    what = (f"the effect of <code>{html.escape(spec.effect)}</code> against <code>{html.escape(spec.scenario)}</code>"
            " (paired runs: same seed, same parameters)" if spec.effect else f"scenario <code>{html.escape(spec.scenario)}</code>")
    sections = []
    for o in spec.outcomes:
        r = rank[rank.outcome == o.name].head(top)
        rows = "".join(f"<tr><td>{int(x['rank'])}</td><td><code>{html.escape(x.param)}</code></td><td>{x.value:.4g}</td>"
                       f"<td>[{x.low:.3g}, {x.high:.3g}]</td></tr>" for _, x in r.iterrows())
        sections.append(f"<h2>{html.escape(o.name)}, mean over {o.years[0]}-{o.years[1]}</h2>{_chart(spec, indices, o.name, top)}"
                        f"<table><tr><th>rank</th><th>parameter</th><th>{key}</th><th>{CONFIDENCE:.0%} interval</th></tr>{rows}</table>")
    ranges = "".join(f"<tr><td><code>{html.escape(n)}</code></td><td>{param_spec(n).bounds(spec.declared)[0]:.4g}</td>"
                     f"<td>{param_spec(n).bounds(spec.declared)[1]:.4g}</td><td>{param_spec(n).dist}</td>"
                     f"<td>{html.escape(param_spec(n).unit)}</td></tr>" for n in names)
    note = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    n_groups = len(set(module_groups(names)))
    groups = (f" Parameters are screened in {n_groups} groups, one per module: a group's parameters move together,"
              " and σ is not defined for groups." if spec.groups else "")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hamji sensitivity</title>
<style>body{{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:.85em}} td,th{{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left}}
svg{{max-width:100%;height:auto}} .note{{background:#fff6e5;border-left:4px solid #e67e22;padding:.6em 1em}}</style></head><body>
<h1>hamji: which assumptions decide the answer ({spec.method})</h1>
<p class="note"><b>Scenarios, not forecasts.</b> {len(names)} parameters varied together within their
{'declared' if spec.declared else 'plausible'} ranges; outcome: {what}; {spec.n} {'trajectories' if spec.method == 'morris' else
'base samples' if spec.method == 'sobol' else 'samples'},
{spec.seeds} seed(s) averaged per sample, scale 1:{spec.scale}, runs {spec.start} to {spec.end}.{groups}
The ranges are assumptions too: an index says how much an outcome depends on a parameter <i>within</i> its range.</p>
{'<ul>' + note + '</ul>' if note else ''}
{''.join(sections)}
<h2>Ranges sampled</h2><table><tr><th>parameter</th><th>low</th><th>high</th><th>distribution</th><th>unit</th></tr>{ranges}</table>
</body></html>
"""
