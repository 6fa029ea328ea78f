"""Scenario discovery with PRIM: in which corner of the plausible assumptions does an outcome happen?

Sensitivity analysis ranks the assumptions; scenario discovery asks the policy question the other
way round: *under which assumptions* does micro-lending add more than US$ 10 M a year to the
regime? A Latin hypercube over the uncertain parameters (or those named) is run, each sample with
the same seeds (common random numbers, :mod:`hamji.analysis.experiments`); a condition the user
writes over the outcomes (``leader_fund_usd:DPRK > 1e7``) marks each sample, on its outcomes averaged
over the seeds, as a case of interest or not; and PRIM (Friedman and Fisher 1999, as implemented in
the EMA Workbench) peels the parameter box down to a region where the cases of interest are dense.

A box is described by its **coverage** (the share of all cases of interest that fall inside it),
**density** (the share of the samples inside it that are cases of interest) and **mass** (the share of
all samples inside it), and by the parameters it restricts, each with its limits and a quasi-p
value (the chance that a restriction this strong on that parameter alone arises by chance: small
is meaningful). Peeling trades coverage for density; the page shows that trajectory, and the box
chosen on it is the one with the highest coverage among those at least ``threshold`` dense (the
densest of those if several cover as much).

The condition is parsed, never evaluated as code: ``OUTCOME OP NUMBER`` with OP one of ``< <= > >=``,
several joined by ``and``. Every input is checked before anything runs or is written.
"""

from __future__ import annotations

import html
import logging
import operator
import re
import warnings
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
from hamji.parameters import brief
from hamji.report import figure_svg
from hamji.scenario import load_scenario
from hamji.version import VERSION

#: the comparisons a condition may use (no equality: an outcome averaged over years is a real number)
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
#: Latin hypercube samples by default: with a condition true in a fifth of them, 20 cases of interest,
#: about the fewest PRIM can peel with its default 5% steps and still say something
DEFAULT_SAMPLES = 100
#: fewest samples a design may have: PRIM's smallest box holds MASS_MIN of them, at least one sample
MIN_SAMPLES = 20
#: the density a box must reach to be chosen: 0.8 is the EMA Workbench's customary value (Kwakkel 2017)
DEFAULT_THRESHOLD = 0.8
#: PRIM's share of samples peeled per step, and the smallest box (share of samples): the EMA Workbench's
#: defaults, which follow Friedman and Fisher (1999)
PEEL_ALPHA = 0.05
MASS_MIN = 0.05
#: fewer cases of interest than this, and a box says little: PRIM can always wrap a box around a
#: handful of points, and a quasi-p value cannot be small with so few (the page and the CLI say so)
MIN_CASES = 5
#: a restriction whose quasi-p value is above this may be chance (the usual 5% level)
QP_MEANINGFUL = 0.05
#: the seed of the Latin hypercube (a design is repeatable)
DESIGN_SEED = 20100104
#: the column of experiments.parquet that says whether a sample meets the condition
CASE = "case_of_interest"

_CLAUSE = re.compile(r"\s*(?P<outcome>[^<>=]+?)\s*(?P<op><=|>=|<|>)\s*(?P<number>\S+)\s*")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One comparison of a condition: ``outcome op value``."""

    outcome: Outcome
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.outcome.name} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Condition:
    """The clauses of a condition, all of which must hold."""

    text: str
    clauses: tuple[Clause, ...]

    @property
    def outcomes(self) -> list[Outcome]:
        """The outcomes the condition reads, each once."""
        return list(dict.fromkeys(c.outcome for c in self.clauses))

    def holds(self, means: pd.DataFrame) -> np.ndarray:
        """Per row of ``means`` (one per sample): whether every clause holds (False where an outcome is NaN)."""
        ok = np.ones(len(means), dtype=bool)
        for c in self.clauses:
            ok &= OPERATORS[c.op](means[c.outcome.name].to_numpy(dtype=float), c.value)
        return ok


def parse_condition(text: str, years: tuple[int, int]) -> Condition:
    """``METRIC:REGION OP NUMBER [and ...]``, each outcome averaged over ``years``; a :class:`UserError`
    naming the condition and the part at fault otherwise."""
    where = f"--condition {brief(text)}"
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: expected OUTCOME OP NUMBER, for example 'leader_fund_usd:DPRK > 1e7'")
    clauses = []
    for part in _AND.split(text.strip()):
        m = _CLAUSE.fullmatch(part)
        if m is None:
            raise UserError(f"{where}: {brief(part.strip())} is not OUTCOME OP NUMBER with OP one of"
                            f" {' '.join(OPERATORS)} (clauses joined by 'and'), e.g. 'leader_fund_usd:DPRK > 1e7'")
        try:
            value = float(m.group("number"))
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise UserError(f"{where}: {brief(m.group('number'))} is not a finite number")
        try:
            outcome = parse_outcome(m.group("outcome"), years)
        except UserError as e:
            raise UserError(f"{where}: {str(e).partition(': ')[2] or e}") from None
        clauses.append(Clause(outcome, m.group("op"), value))
    return Condition(text.strip(), tuple(clauses))


@dataclass(init=False)
class DiscoverSpec(UsesRunSettings):
    """What a scenario discovery varies, runs and looks for; how it runs is its :class:`RunSettings` (``run``;
    its fields ``scenario``, ``seeds``, ``scale``, ``start``, ``end`` are also accepted as keywords and read as
    attributes)."""

    condition: Condition
    params: list[str] | None = None  # None: every uncertain parameter
    effect: str | None = None
    samples: int = DEFAULT_SAMPLES
    threshold: float = DEFAULT_THRESHOLD
    declared: bool = False  # sample the declared ranges instead of the plausible ones
    notes: list[str] = field(default_factory=list)
    run: RunSettings = field(default_factory=RunSettings)

    def __init__(self, condition: Condition, params: list[str] | None = None, effect: str | None = None,
                 samples: int = DEFAULT_SAMPLES, threshold: float = DEFAULT_THRESHOLD, declared: bool = False,
                 notes: list[str] | None = None, run: RunSettings | None = None, **run_fields: Any) -> None:
        self.condition, self.params, self.effect, self.samples = condition, params, effect, samples
        self.threshold, self.declared, self.notes = threshold, declared, list(notes or [])
        self.run = embed(run, run_fields)

    def check(self) -> None:
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < MIN_SAMPLES:
            raise UserError(f"--samples {brief(self.samples)}: at least {MIN_SAMPLES} (PRIM peels {PEEL_ALPHA:.0%} at a time)")
        self.run.check()
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not 0 < self.threshold <= 1:
            raise UserError(f"--threshold {brief(self.threshold)}: a density between 0 (excluded) and 1")


def discover_spec(condition: str, params: list[str] | None = None, effect: str | None = None,
                  scenario: str = DEFAULT_SCENARIO, samples: int = DEFAULT_SAMPLES, seeds: int = DEFAULT_SEEDS,
                  scale: int | str = DEFAULT_SCALE, start: Any = None, end: Any = None, years: Any = None,
                  threshold: float = DEFAULT_THRESHOLD, declared: bool = False, run: RunSettings | None = None,
                  prefix: str = "") -> DiscoverSpec:
    """A checked :class:`DiscoverSpec` from the arguments of :func:`hamji.discover` (text dates, ``Y1-Y2`` years,
    the condition as text), so the command line and the Python API read them alike; ``run`` (already checked
    :class:`RunSettings`) replaces the run arguments."""
    if run is None:
        run = run_settings(scenario, seeds, scale, start, end, years, prefix=prefix)
    spec = DiscoverSpec(condition=parse_condition(condition, run.years), params=list(params) if params else None,
                        effect=effect or None, samples=samples, threshold=threshold, declared=declared, run=run)
    spec.check()
    return spec


def design(names: list[str], samples: int, declared: bool) -> tuple[np.ndarray, pd.DataFrame]:
    """The Latin hypercube on the unit cube (one row per sample) and the parameter values it maps to."""
    from scipy.stats import qmc  # scipy.stats takes ~0.3 s to import: only to draw a design

    unit = qmc.LatinHypercube(d=len(names), seed=DESIGN_SEED).random(samples)
    return unit, values_from_unit(names, unit, declared)


def fingerprint(spec: DiscoverSpec, names: list[str]) -> dict[str, Any]:
    """What the stored runs depend on (a resumed discovery must match it); the condition and the
    threshold are not in it: they are evaluated afterwards, so a new condition reuses the runs."""
    scen = [spec.scenario] + ([spec.effect] if spec.effect else [])
    return {"hamji version": VERSION, "sweep": "discover", "parameters": names,
            "ranges": {n: list(param_spec(n).bounds(spec.declared)) + [param_spec(n).dist] for n in names},
            "samples": spec.samples, "seeds": spec.seeds, "scale": spec.scale, "start": str(spec.start),
            "end": str(spec.end), "outcomes": [[o.name, *o.years] for o in spec.condition.outcomes],
            "effect": spec.effect, "scenario content": {s: scenario_digest(load_scenario(s)) for s in scen}}


def prim_boxes(x: pd.DataFrame, y: np.ndarray, threshold: float) -> pd.DataFrame:
    """PRIM's peeling trajectory as a tidy table: one row per (box, restricted parameter).

    Columns: ``box`` (its step on the trajectory), ``chosen``, ``coverage``, ``density``, ``mass``,
    ``n`` (samples inside), ``k`` (cases of interest inside), ``restricted`` (how many parameters),
    ``param``, ``low``, ``high``, ``qp_low``, ``qp_high`` (a box that restricts nothing has one row with
    no ``param``). Empty if there is no case of interest, or only such cases.
    """
    columns = ["box", "chosen", "coverage", "density", "mass", "n", "k", "restricted", "param", "low", "high",
               "qp_low", "qp_high"]
    if y.all() or not y.any():
        return pd.DataFrame(columns=columns)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ipyparallel.*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        from ema_workbench.analysis import prim
    logging.getLogger("EMA").setLevel(logging.WARNING)  # PRIM logs each box at INFO
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecations inside EMA's PRIM, not the user's to fix
        p = prim.Prim(x.reset_index(drop=True), y, threshold=threshold, peel_alpha=PEEL_ALPHA, mass_min=MASS_MIN)
        box = p.find_box()
    traj = box.peeling_trajectory.reset_index(drop=True)
    dense = traj.index[traj.density >= threshold]
    chosen = int(traj.loc[dense].sort_values(["coverage", "density", "res_dim"], ascending=[False, False, True],
                                             kind="stable").index[0]) if len(dense) else -1
    rows = []
    for i, t in traj.iterrows():
        base = {"box": int(i), "chosen": int(i) == chosen, "coverage": float(t.coverage), "density": float(t.density),
                "mass": float(t.mass), "n": int(t.n), "k": int(t.k), "restricted": int(t.res_dim)}
        qp = box.qp[i] if i < len(box.qp) else {}
        if not qp:
            rows.append(base | {"param": None, "low": np.nan, "high": np.nan, "qp_low": np.nan, "qp_high": np.nan})
        for param, (ql, qh) in sorted(qp.items(), key=lambda kv: min(q for q in kv[1] if q >= 0) if max(kv[1]) >= 0 else 1):
            lo, hi = box.box_lims[i][param]
            rows.append(base | {"param": param, "low": float(lo), "high": float(hi),
                                "qp_low": float(ql) if ql >= 0 else np.nan, "qp_high": float(qh) if qh >= 0 else np.nan})
    return pd.DataFrame(rows, columns=columns)


def discover(spec: DiscoverSpec, out: Path | None = None, workers: int = 1, scheduler: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the design and PRIM; (boxes, experiments). With ``out``, write ``boxes.parquet``,
    ``experiments.parquet`` and ``discover.html`` there, keeping each finished run in ``out/.tasks``
    until then, so an interrupted discovery resumes (a changed condition, same outcomes, resumes too)."""

    spec.check()
    names, found = resolve_params(spec.params, [spec.scenario] + ([spec.effect] if spec.effect else []))
    spec.notes[:] = found
    _, values = design(names, spec.samples, spec.declared)
    seeds = list(range(1, spec.seeds + 1))
    with analysis_tasks(out, fingerprint(spec, names)) as store:
        exp = run_design(values, spec.scenario, spec.effect, spec.condition.outcomes, seeds, spec.scale, spec.start,
                         spec.end, workers, scheduler, progress, store)
        means = seed_means(exp)
        case = spec.condition.holds(means)
        exp[CASE] = exp["sample"].map(dict(zip(means["sample"], case)))
        boxes = prim_boxes(means[names], case, spec.threshold)
        if out is not None:
            write(Path(out), spec, names, boxes, exp, case)
    return boxes, exp


def write(out: Path, spec: DiscoverSpec, names: list[str], boxes: pd.DataFrame, exp: pd.DataFrame,
          case: np.ndarray) -> None:
    """The three files, each written whole (a temporary name, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    write_whole(out / "boxes.parquet", frame=boxes)
    write_whole(out / "experiments.parquet", frame=exp)
    write_whole(out / "discover.html", text=render_html(spec, names, boxes, case))


# -- the page --------------------------------------------------------------------------------------

def _trajectory_svg(boxes: pd.DataFrame, threshold: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traj = boxes.drop_duplicates("box").sort_values("box")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    points = ax.scatter(traj.coverage, traj.density, c=traj.restricted, cmap="viridis", s=22, zorder=3)
    ax.plot(traj.coverage, traj.density, color="#999", lw=0.7, zorder=2)
    chosen = traj[traj.chosen]
    if len(chosen):
        ax.scatter(chosen.coverage, chosen.density, s=120, facecolors="none", edgecolors="#c0392b", lw=1.5, zorder=4,
                   label=f"chosen box {int(chosen.box.iloc[0])}")
        ax.legend(fontsize=8, loc="lower left")
    ax.axhline(threshold, color="#c0392b", lw=0.7, ls="--")
    fig.colorbar(points, ax=ax, label="parameters restricted")
    ax.set_xlabel("coverage (share of all cases of interest inside the box)")
    ax.set_ylabel("density (share of the box's samples that are cases)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title("PRIM peeling trajectory", loc="left", fontsize=9)
    return figure_svg(fig)


def render_html(spec: DiscoverSpec, names: list[str], boxes: pd.DataFrame, case: np.ndarray) -> str:
    """A self-contained page: the condition and counts, the peeling trajectory, the chosen box's limits."""
    n, k = len(case), int(case.sum())
    what = (f"the effect of <code>{html.escape(spec.effect)}</code> against <code>{html.escape(spec.scenario)}</code>"
            " (paired runs: same seed, same parameters)" if spec.effect else f"scenario <code>{html.escape(spec.scenario)}</code>")
    years = sorted({o.years for o in spec.condition.outcomes})
    window = ", ".join(f"{a}-{b}" for a, b in years)
    if len(boxes) == 0:
        body = (f"<p><b>No box to find:</b> the condition holds in {k} of {n} samples"
                f"{' (all of them)' if k == n else ''}; PRIM needs samples on both sides of it.</p>")
    else:
        chosen = boxes[boxes.chosen]
        if len(chosen):
            c = chosen.iloc[0]
            limits = chosen.dropna(subset=["param"])
            rows = "".join(
                f"<tr><td><code>{html.escape(str(r.param))}</code></td><td>{r.low:.4g}</td><td>{r.high:.4g}</td>"
                f"<td>{param_spec(r.param).bounds(spec.declared)[0]:.4g} to {param_spec(r.param).bounds(spec.declared)[1]:.4g}</td>"
                f"<td>{qp_text(r.qp_low)}</td><td>{qp_text(r.qp_high)}</td><td>{html.escape(param_spec(r.param).unit)}</td></tr>"
                for r in limits.itertuples())
            head = (f"<h2>The chosen box (step {int(c.box)} of the trajectory)</h2><p>coverage {c.coverage:.2f}, density"
                    f" {c.density:.2f}, mass {c.mass:.2f}: {int(c.k)} of the {int(c.n)} samples inside are cases of interest,"
                    f" out of {k} cases in all.</p>")
            body = head + (f"<table><tr><th>parameter</th><th>box low</th><th>box high</th><th>range sampled</th>"
                           f"<th>qp low</th><th>qp high</th><th>unit</th></tr>{rows}</table>" if rows
                           else "<p>It restricts no parameter.</p>")
        else:
            body = (f"<p><b>No box reaches a density of {spec.threshold:g}</b>: the cases of interest are not"
                    " concentrated in a box of the parameters sampled. The trajectory shows how dense PRIM got.</p>")
        if k < MIN_CASES:
            body = (f"<p class=\"note\"><b>Only {k} case(s) of interest:</b> PRIM can wrap a box around a handful of"
                    " points, so this box says little; run more samples or loosen the condition.</p>") + body
        body = _trajectory_svg(boxes, spec.threshold) + body
    ranges = "".join(f"<tr><td><code>{html.escape(p)}</code></td><td>{param_spec(p).bounds(spec.declared)[0]:.4g}</td>"
                     f"<td>{param_spec(p).bounds(spec.declared)[1]:.4g}</td><td>{param_spec(p).dist}</td>"
                     f"<td>{html.escape(param_spec(p).unit)}</td></tr>" for p in names)
    note = "".join(f"<li>{html.escape(x)}</li>" for x in spec.notes)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hamji discover</title>
<style>body{{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:.85em}} td,th{{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left}}
svg{{max-width:100%;height:auto}} .note{{background:#fff6e5;border-left:4px solid #e67e22;padding:.6em 1em}}</style></head><body>
<h1>hamji: under which assumptions does it happen?</h1>
<p>Condition: <code>{html.escape(spec.condition.text)}</code> (outcomes averaged over {window} and over the seeds);
it holds in <b>{k} of {n} samples</b> ({k / n:.0%}).</p>
<p class="note"><b>Scenarios, not forecasts.</b> A Latin hypercube of {n} samples over {len(names)} parameters within their
{'declared' if spec.declared else 'plausible'} ranges; outcome: {what}; {spec.seeds} seed(s) per sample, scale 1:{spec.scale},
runs {spec.start} to {spec.end}. PRIM (EMA Workbench) peels {PEEL_ALPHA:.0%} of the samples at a time; the box chosen is the
one with the most coverage among those at least {spec.threshold:g} dense. A quasi-p value is the chance that a restriction this
strong on that parameter arises by chance: above {QP_MEANINGFUL:g}, the restriction may be chance. The ranges are assumptions too.</p>
{'<ul>' + note + '</ul>' if note else ''}
{body}
<h2>Ranges sampled</h2><table><tr><th>parameter</th><th>low</th><th>high</th><th>distribution</th><th>unit</th></tr>{ranges}</table>
</body></html>
"""


def qp_text(value: float) -> str:
    """A quasi-p value as shown: blank where that side of the box is not restricted."""
    return "" if not np.isfinite(value) else f"{value:.2g}"
