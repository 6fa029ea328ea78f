"""The Sensitivity and Policy design tabs: run ``hamji sensitivity`` or ``hamji optimize`` in the background, or open
one's folder from the runs folder, and read its charts and tables.

Each tab is a Shiny module (:func:`sensitivity_ui`/:func:`sensitivity_server`, :func:`policy_ui`/:func:`policy_server`,
ids namespaced ``sens-...`` and ``pol-...``); what the two share is written once: the run settings form
(:func:`settings_inputs`, :func:`settings_request`) and the job block (:func:`job_inputs` and :func:`job_server`:
the size check, the submission with its progress and cancel, the folder picker, the CLI/Python reproduction lines).
The tabs call the analysis functions of :mod:`hamji.analysis` to check, rank and label.

Each analysis is one job of the :class:`~hamji.web.jobs.JobManager` (one Dask task whose runs follow one another in
a worker, with a progress bar and cancel like a scenario run); its size is checked before it is queued, live as the
form changes. The pages read the folders the analyses leave (:mod:`hamji.web.analyses`), so an analysis made on the
command line into the runs folder opens the same way.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from shiny import Inputs, Outputs, Session, module, reactive, render, ui

from hamji.analysis import policy
from hamji.analysis.experiments import param_spec
from hamji.analysis.policy import COST, Objective, format_objective, objective_label, objective_scale
from hamji.analysis.sensitivity import CONFIDENCE, DEFAULT_OUTCOMES, ranking
from hamji.errors import UserError
from hamji.parameters import REGISTRY, uncertain_names
from hamji.scenario import builtin_names
from hamji.sim import check_run_date
from hamji.web import analyses, figures
from hamji.web.jobs import MAX_ANALYSIS_SECONDS, JobManager, analysis_runs

#: the parameters the Sensitivity tab starts with: the eight of the default Sobol' design in docs/uncertainty.md
#: (the money's path from a Chinese merchant to a North Korean household and to the regime)
START_PARAMS = ("wholesale_merchant_turnover", "merchant_margin", "retail_margin", "retail_wholesale_markup", "leader_share",
                "import_share_of_rest", "broker_fee", "china_demand_growth")
#: the analyses' run settings to start with: 1:5000 over 2010-2020 lets a Morris screening of the eight parameters
#: (36 runs) or a policy search of 16 designs fit the web app's limit
START_SCALE, START_YEARS = 5000, (2010, 2020)
START_TRIALS, START_POPULATION = 16, 8
#: regions an outcome or objective may be measured in here (the output groups; the CLI takes any region)
REGIONS = ("HamJi", "Rest of DPRK", "DPRK", "Jilin")
#: how often a session looks for new analysis folders in the runs folder (seconds)
FOLDERS_POLL_S = 2.0


def year_span(first_year: Any, last_year: Any) -> tuple[dt.date, dt.date]:
    """The run dates of whole years: from the first Monday of the first year (no week of the year before) to the
    last day of the last; a :class:`UserError` for years out of the model's range or in the wrong order."""
    first = check_run_date(f"{int(first_year)}-01-01", "first year")
    start = first + dt.timedelta(days=-first.weekday() % 7)
    end = check_run_date(f"{int(last_year)}-12-31", "last year")
    if end < start:
        raise UserError(f"last year {end.year} is before first year {start.year}")
    return start, end


def outcome_choices() -> list[str]:
    """Every METRIC:REGION an analysis may measure here, the usual two first."""
    rest = [f"{m}:{r}" for m in sorted(figures.metric_units()) for r in REGIONS]
    return list(DEFAULT_OUTCOMES) + [o for o in rest if o not in DEFAULT_OUTCOMES]


def _range_text(name: str) -> str:
    p = param_spec(name)
    lo, hi = p.bounds(False)
    return f"{lo:.4g} to {hi:.4g} ({p.dist})"


def _unit(name: str) -> str:
    """A varied parameter's unit ('' for a group of parameters screened together, which has none)."""
    try:
        return param_spec(name).unit
    except UserError:
        return ""


def _table(frame: pd.DataFrame, table_id: str) -> ui.Tag:
    return ui.HTML(frame.to_html(index=False, classes="table table-sm", border=0, table_id=table_id, escape=True))


def max_budget() -> float:
    """The largest budget the web app searches: one the training programme could take whole without training more
    merchants a year than the registry allows (``training_trained_per_year`` at ``training_cost_usd`` each)."""
    return REGISTRY["training_trained_per_year"].high * REGISTRY["training_cost_usd"].default


# -- what the two analysis tabs share -------------------------------------------------------------------------
# (called inside a tab's module, so every id below is the tab's: ``sens-scale``, ``pol-run``, ...)


def settings_inputs(seeds: int = 1) -> ui.Tag:
    """The run settings every analysis form has: scale, seeds, years, evaluation years."""
    return ui.TagList(
        ui.layout_columns(
            ui.input_numeric("scale", "Scale 1:N", START_SCALE, min=1, max=100000),
            ui.input_numeric("seeds", "Seeds per sample", seeds, min=1, max=10),
            ui.input_numeric("first", "First year", START_YEARS[0], min=1990, max=2100),
            ui.input_numeric("last", "Last year", START_YEARS[1], min=1990, max=2100), col_widths=(6, 6, 6, 6)),
        ui.input_text("years", "Evaluation years Y1-Y2 (empty: the last five)", ""),
    )


def settings_request(input: Inputs) -> dict[str, Any]:
    """The run settings of :func:`settings_inputs` as the keyword arguments of :func:`hamji.sensitivity` or
    :func:`hamji.optimize` take them."""
    start, end = year_span(input.first(), input.last())
    return {"seeds": int(input.seeds()), "scale": int(input.scale()), "start": start.isoformat(), "end": end.isoformat(),
            "years": input.years().strip() or None}


def job_inputs(what: str) -> ui.Tag:
    """The job block of an analysis form: its size, the run button, this session's jobs and the folder picker."""
    return ui.TagList(
        ui.output_ui("size"),
        ui.input_action_button("run", f"Run the {what} in the background", class_="btn-primary"),
        ui.output_ui("msg"), ui.output_ui("jobs"), ui.hr(),
        ui.input_select("folder", "Or open an analysis in the runs folder", []),
    )


@dataclass
class Context:
    """What the analysis tabs share from the app's session: the job manager, the runs folder, the session's job list
    (with progress bars and cancel buttons, ``jobs_list(kind)``), the job queue's version and the error line."""

    manager: JobManager
    runs: Path
    jobs_list: Callable[[str], Any]
    jobs_version: Callable[[], int]
    error: Callable[[str], ui.Tag]
    folders_version: Callable[[], Any] = lambda: None


def job_server(input: Inputs, session: Session, ctx: Context, kind: str, folder_kind: str,
               request: Callable[[], dict[str, Any]], label: Callable[[], str]) -> None:
    """The job block's logic inside a tab's module: the live size check, the submission of the analysis ``kind``
    (``sensitivity``, ``optimize``) as a job of the manager, its note and jobs, and the folder picker over the
    runs folder's analyses of ``folder_kind``, which opens the folder of a job of this session once it is done."""
    note = reactive.value(None)
    opened: set[str] = set()

    def checked() -> tuple[dict[str, Any] | None, int, float, str | None]:
        try:
            req = request()
            n, seconds = analysis_runs(kind, req)
            return req, n, seconds, None
        except UserError as exc:
            return None, 0, 0.0, str(exc)
        except (TypeError, ValueError):
            return None, 0, 0.0, "fill in every number (whole numbers for the counts and years)"

    @render.ui
    def size() -> Any:
        _, n, seconds, err = checked()
        if err:
            return ctx.error(f"error: {err}")
        over = seconds > MAX_ANALYSIS_SECONDS
        return ui.div(f"{n} runs, about {seconds / 60:.1f} min of computing; the limit here is"
                      f" {MAX_ANALYSIS_SECONDS / 60:.0f} min" + (" (too large: see below when you run it)" if over else ""),
                      class_="field-help" + (" text-danger" if over else ""), id=f"{kind}-size")

    @reactive.effect
    @reactive.event(input.run)
    def _submit() -> None:
        req, _, _, err = checked()
        if err:
            note.set(ctx.error(f"error: {err}"))
            return
        try:
            job = ctx.manager.submit_analysis(session.id, kind, req, label())
        except UserError as exc:
            note.set(ctx.error(f"error: {exc}"))
            return
        note.set(ui.div(f"queued: {job.name}, {job.weeks_total} runs at 1:{job.scale}", class_="hamji-ok"))

    @render.ui
    def msg() -> Any:
        return note()

    @render.ui
    def jobs() -> Any:
        return ctx.jobs_list(kind)

    @reactive.effect
    def _folders() -> None:
        """Keep the picker's folders in step with the runs folder; open the folder of an analysis this session just ran."""
        ctx.folders_version()
        ctx.jobs_version()
        choices = {str(f): analyses.label(f, ctx.runs) for f in analyses.find(ctx.runs, folder_kind)}
        # read, not isolated: this runs again once the browser reports the folder picked here, and only then is a
        # finished job's folder marked as opened (before, a refresh in between put the old folder back)
        current = input.folder()
        wanted = None
        for job in ctx.manager.session_jobs(session.id):
            if job.kind == kind and job.state == "done" and job.id not in opened and job.folders:
                path = str(ctx.runs / job.folders[0])
                if path in choices:
                    if path == current:
                        opened.add(job.id)
                    else:
                        wanted = wanted or path
        selected = wanted or (current if current in choices else next(iter(choices), None))
        ui.update_select("folder", choices=choices, selected=selected, session=session)


def picked_folder(input: Inputs, ctx: Context, read: Callable[[Path], Any], what: str) -> Callable[[], tuple[Any, str | None]]:
    """The analysis in the folder picked (``read`` it; None without one), or why it cannot be read."""

    @reactive.calc
    def folder() -> tuple[Any, str | None]:
        ctx.folders_version()
        picked = input.folder()
        if not picked:
            return None, None
        try:
            return read(Path(picked)), None
        except (OSError, ValueError) as exc:
            return None, f"{picked}: cannot be read as {what} ({exc})"

    return folder


def reproduce(kind: str, request: dict[str, Any] | None, folder: Path, made_elsewhere: str) -> Any:
    """The command line and the Python call that make a folder again (``made_elsewhere`` when it has no request)."""
    if request is None:
        return ui.p(made_elsewhere)
    return ui.div(ui.p("On the command line:"), ui.pre(analyses.cli_command(kind, request, folder), class_="repro-cli"),
                  ui.p("or in Python:"), ui.pre(analyses.python_call(kind, request, folder), class_="repro-py"))


def folder_file(shown: Callable[[], tuple[Any, str | None]], name: str) -> Any:
    """The bytes of a file of the folder shown, for a download button (nothing when there is none)."""
    a, _ = shown()
    if a is not None and (a.folder / name).exists():
        yield (a.folder / name).read_bytes()


# -- the Sensitivity tab --------------------------------------------------------------------------------------


@module.ui
def sensitivity_ui() -> ui.Tag:
    """The Sensitivity tab: the form on the left, the chosen analysis's charts and tables on the right."""
    effects = {"": "none: the outcome of the scenario itself"} | {n: n for n in builtin_names() if n != "baseline"}
    return ui.layout_sidebar(
        ui.sidebar(
            ui.input_select("method", "Method", {"morris": "Morris: screen, rank by μ* (σ: interactions)",
                                                 "sobol": "Sobol': S1 and ST with intervals"}),
            ui.input_selectize("params", "Parameters to vary (uncertain ones)", list(uncertain_names()),
                               selected=list(START_PARAMS), multiple=True),
            ui.output_ui("params_help"),
            ui.input_selectize("outcomes", "Outcomes (METRIC:REGION, mean over the evaluation years)", outcome_choices(),
                               selected=["hsi_mean:HamJi"], multiple=True),
            ui.input_select("effect", "As the effect of (that scenario minus the reference, same seeds)", effects),
            ui.input_select("scenario", "Scenario (the reference, with an effect)", builtin_names(), selected="baseline"),
            ui.input_numeric("samples", "Trajectories (Morris) or base samples N (Sobol')", 4, min=2, max=4096),
            settings_inputs(), job_inputs("analysis"),
            width=380,
        ),
        ui.output_ui("header"),
        ui.output_ui("results"),
        ui.card(ui.card_header("Reproduce"), ui.output_ui("repro"),
                ui.div(ui.download_button("dl_sens", "sensitivity.parquet"), ui.download_button("dl_sens_html", "sensitivity.html"),
                       class_="d-flex gap-2")),
    )


@module.server
def sensitivity_server(input: Inputs, output: Outputs, session: Session, ctx: Context) -> None:
    """The Sensitivity tab's logic: its request, its job block, and the picked analysis's page."""

    @reactive.calc
    def request() -> dict[str, Any]:
        return {"method": input.method(), "params": list(input.params() or []) or None,
                "outcomes": list(input.outcomes() or []) or None, "effect": input.effect() or None,
                "scenario": input.scenario(), "samples": int(input.samples())} | settings_request(input)

    job_server(input, session, ctx, "sensitivity", "sensitivity", request, lambda: f"sensitivity ({input.method()})")
    sens = picked_folder(input, ctx, analyses.read_sensitivity, "a sensitivity analysis")

    @render.ui
    def params_help() -> Any:
        names = list(input.params() or [])
        if not names:
            return ui.p("No parameter chosen: every uncertain parameter is varied (many runs).", class_="field-help")
        rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(_unit(n))}</td><td>{html.escape(_range_text(n))}</td></tr>"
                       for n in names)
        return ui.HTML(f"<table class='table table-sm field-help' id='sens-params-table'><tr><th>parameter</th><th>unit</th>"
                       f"<th>plausible range</th></tr>{rows}</table>")

    @render.ui
    def header() -> Any:
        s, err = sens()
        if err:
            return ctx.error(f"error: {err}")
        if s is None:
            return ui.div(ui.h4("Sensitivity: which assumptions decide the answer"),
                          ui.p(f"No sensitivity analysis in {ctx.runs} yet: run one from the left, or write one there with"
                               " `hamji sensitivity --out` (docs/uncertainty.md)."))
        r = s.request or {}
        what = (f"the effect of {r['effect']} against {r.get('scenario', 'baseline')} (paired runs: same seeds, same parameters)"
                if r.get("effect") else f"scenario {r.get('scenario', 'baseline')}" if r else "see its sensitivity.html")
        how = (f"1:{r['scale']}, runs {r['start']} to {r['end']}, {r['seeds']} seed(s) averaged per sample" if r else "")
        return ui.div(ui.h4(f"{s.method.capitalize()}: {len(s.params)} parameters, {len(s.outcomes)} outcome(s)"
                            + (f", {s.samples} samples" if s.samples else "")),
                      ui.p(f"Outcome: {what}. {how}. The parameters vary together within their plausible ranges; an index"
                           " says how much the outcome depends on a parameter within its range, and the ranges are"
                           " assumptions too. A scenario, not a forecast.", class_="small"), id="sens-head")

    @render.ui
    def results() -> Any:
        s, _ = sens()
        if s is None:
            return ""
        rank = ranking(s.indices)
        blocks = []
        for k, outcome in enumerate(s.outcomes):
            d = s.indices[s.indices.outcome == outcome]
            if s.method == "morris":
                fig = figures.morris_chart(s.indices, outcome, CONFIDENCE)
            else:
                fig = figures.index_bars(s.indices, outcome, CONFIDENCE)
            r = rank[rank.outcome == outcome]
            key = str(r["index"].iloc[0])
            t = pd.DataFrame({"rank": r["rank"], "parameter": r.param, "unit": [_unit(p) for p in r.param],
                              key: r.value.map(lambda v: f"{v:.4g}"),
                              f"{CONFIDENCE:.0%} interval": [f"[{lo:.3g}, {hi:.3g}]" for lo, hi in zip(r.low, r.high)]})
            other = {"morris": "sigma", "sobol": "S1", "delta": "S1"}[s.method]
            o = d[d["index"] == other].set_index("param").reindex(r.param)
            t[other] = o.value.map(lambda v: "undefined" if pd.isna(v) else f"{v:.4g}").to_list()
            blocks.append(ui.card(ui.card_header(f"{outcome}: the parameters by {key}"),
                                  ui.HTML(figures.to_html(fig, f"sens-chart-{k}")), _table(t, f"sens-ranking-{k}")))
        return ui.TagList(*blocks)

    @render.ui
    def repro() -> Any:
        s, _ = sens()
        if s is None:
            return ""
        return reproduce("sensitivity", s.request, s.folder,
                         f"This analysis was made outside the web app (no {analyses.REQUEST_FILE} in {s.folder.name}): its"
                         f" command's settings are on its page, sensitivity.html (below). It varied {', '.join(s.params)}.")

    @render.download_button(filename=lambda: "sensitivity.parquet")
    def dl_sens() -> Any:
        yield from folder_file(sens, "sensitivity.parquet")

    @render.download_button(filename=lambda: "sensitivity.html")
    def dl_sens_html() -> Any:
        yield from folder_file(sens, "sensitivity.html")


# -- the Policy design tab ------------------------------------------------------------------------------------


@module.ui
def policy_ui() -> ui.Tag:
    """The Policy design tab: the search's form on the left, the front, its designs and their robustness on the right."""
    objectives = ["max:hsi_mean:HamJi", "min:regime_revenue_usd:DPRK", "min:cost"] + [
        f"{d}:{o}" for o in outcome_choices() for d in policy.DIRECTIONS
        if f"{d}:{o}" not in policy.DEFAULT_OBJECTIVES]
    levers = {n: f"{n} ({lv.low:g} to {lv.high:g}, {lv.unit})" for n, lv in policy.LEVERS.items()}
    return ui.layout_sidebar(
        ui.sidebar(
            ui.input_numeric("budget", "Total budget, US$ million a year", policy.DEFAULT_BUDGET / 1e6, min=0.1,
                             max=max_budget() / 1e6),
            ui.input_selectize("objectives", "Objectives (each an effect against baseline)", objectives,
                               selected=list(policy.DEFAULT_OBJECTIVES), multiple=True),
            ui.input_checkbox_group("levers", "Levers to search (the others stay at their defaults)", levers,
                                    selected=list(policy.LEVERS)),
            ui.layout_columns(ui.input_numeric("trials", "Designs (trials)", START_TRIALS, min=1, max=1000),
                              ui.input_numeric("population", "Per generation", START_POPULATION, min=2, max=100),
                              ui.input_numeric("sampler_seed", "Sampler seed", 1, min=0, max=2**32 - 1), col_widths=(4, 4, 4)),
            settings_inputs(), job_inputs("search"),
            width=380,
        ),
        ui.output_ui("header"),
        ui.output_ui("front"),
        ui.output_ui("tables"),
        ui.card(ui.card_header("Reproduce"), ui.output_ui("repro"),
                ui.div(ui.download_button("dl_frontier", "frontier.parquet"),
                       ui.download_button("dl_robustness", "robustness.parquet"), class_="d-flex gap-2")),
    )


def front_objectives(p: analyses.Policy) -> tuple[Any, Any, pd.DataFrame]:
    """The front chart's objectives (y, then x: the cost when there is one objective) and its table."""
    table = p.frontier
    oy = p.objectives[0]
    ox = p.objectives[1] if len(p.objectives) > 1 else Objective("min", None)
    if ox.outcome is None and COST not in table:
        table = table.assign(cost=table.cost_usd)
    return oy, ox, table


def objective_columns(p: analyses.Policy, rows: pd.DataFrame) -> dict[str, list[str]]:
    return {objective_label(o): [format_objective(o, r) for r in rows.to_dict("records")] for o in p.objectives}


@module.server
def policy_server(input: Inputs, output: Outputs, session: Session, ctx: Context) -> None:
    """The Policy design tab's logic: its request, its job block, and the picked search's front and tables."""

    @reactive.calc
    def request() -> dict[str, Any]:
        budget = float(input.budget()) * 1e6
        if budget > max_budget():
            raise UserError(f"budget US$ {budget / 1e6:g} M: at most US$ {max_budget() / 1e6:g} M a year here (training"
                            " could take it all, and the registry trains at most"
                            " 100,000 merchants a year); use the command line to search more with fixed shares")
        return {"budget": budget, "objectives": list(input.objectives() or []) or None,
                "levers": list(input.levers() or []) or None, "trials": int(input.trials()),
                "population": int(input.population()), "sampler_seed": int(input.sampler_seed())} | settings_request(input)

    job_server(input, session, ctx, "optimize", "policy", request, lambda: "policy search")
    pol = picked_folder(input, ctx, analyses.read_policy, "a policy search")

    @render.ui
    def header() -> Any:
        p, err = pol()
        if err:
            return ctx.error(f"error: {err}")
        if p is None:
            return ui.div(ui.h4("Policy design: which mix of programmes buys the most human security per dollar reaching"
                                " the regime"),
                          ui.p(f"No policy search in {ctx.runs} yet: run one from the left, or write one there with"
                               " `hamji optimize --out` or `hamji robust --out` (docs/policy-design.md)."))
        parts = []
        if p.frontier is not None:
            d = p.frontier[p.frontier.kind == "design"]
            budget = float(d.budget_usd.iloc[0]) if "budget_usd" in d and len(d) else float("nan")
            parts.append(f"{len(d)} designs evaluated under a total budget of US$ {budget / 1e6:.1f} M a year,"
                         f" {int(d.pareto.astype(bool).sum())} on the front; objectives"
                         f" {', '.join(str(o) for o in p.objectives)}, each the design's effect against baseline on the"
                         " same seeds")
        if p.request:
            r = p.request
            parts.append(f"1:{r['scale']}, runs {r['start']} to {r['end']}, {r['seeds']} seed(s)")
        if p.robustness is not None:
            parts.append(f"robustness of {len(p.robustness)} designs across {int(p.robustness.worlds.max())} plausible worlds")
        return ui.div(ui.h4(f"Policy design: {p.folder.name}"),
                      ui.p("; ".join(parts) + ". The model's mechanisms bound what any design can do, and at coarse"
                           " scales effects move in steps. A scenario, not a forecast.", class_="small"),
                      ui.p(p.note, class_="field-help") if p.note else "", id="pol-head")

    @render.ui
    def front() -> Any:
        p, _ = pol()
        if p is None or p.frontier is None:
            return ""
        oy, ox, table = front_objectives(p)
        fig = figures.frontier_chart(table, oy, ox, objective_label, objective_scale)
        beaten = table[(table.kind == "design") & table.pareto.astype(bool) & table.get("beaten_by_reference", False)]
        note = (ui.p(f"A fixed scenario beats {len(beaten)} of the front's designs (trials"
                     f" {', '.join(str(int(t)) for t in beaten.trial)}): more trials would push the front there.",
                     class_="field-help") if len(beaten) else "")
        return ui.card(ui.HTML(figures.to_html(fig, "frontier-plot")), note)

    @render.ui
    def tables() -> Any:
        p, _ = pol()
        if p is None:
            return ""
        cards = []
        if p.frontier is not None:
            f = p.frontier
            front = f[(f.kind == "design") & f.pareto.astype(bool)].sort_values(
                p.objectives[0].name, ascending=p.objectives[0].direction == "min")
            t = pd.DataFrame({"trial": front.trial.astype(int), "design": front.description} | objective_columns(p, front)
                             | {"cost, US$ M a year": front.cost_usd.map(lambda v: f"{v / 1e6:.1f}")})
            refs = f[f.kind == "reference"]
            rt = pd.DataFrame({"scenario": [n.removeprefix("ref-") for n in refs.design], "what it does": refs.description}
                              | objective_columns(p, refs) | {"cost, US$ M a year": refs.cost_usd.map(lambda v: f"{v / 1e6:.1f}")})
            cards += [ui.card(ui.card_header("The front's designs, in words (90% intervals over seeds in brackets)"),
                              _table(t, "front-table")),
                      ui.card(ui.card_header("Reference scenarios: the paper's recommendations and each programme alone"),
                              _table(rt, "references-table"))]
        if p.robustness is not None:
            r = p.robustness
            t = pd.DataFrame({"design": r.design, "what it does": r.description,
                              "cost, US$ M a year": r.cost_usd.map(lambda v: f"{v / 1e6:.1f}"),
                              "criterion": r.criterion, "mean over worlds": r.criterion_mean.map(lambda v: f"{v:.4g}"),
                              "best in (share of worlds)": r.best_share.map(lambda v: f"{v:.0%}"),
                              "regret, median": r.regret_median.map(lambda v: f"{v:.4g}"),
                              "regret, p90": r.regret_p90.map(lambda v: f"{v:.4g}"),
                              "thresholds hold in": r.satisficing.map(lambda v: "" if pd.isna(v) else f"{v:.0%}")})
            cards.append(ui.card(ui.card_header(f"Robustness across {int(r.worlds.max())} plausible worlds (hamji robust)"),
                                 _table(t, "robustness-table"),
                                 ui.p("Best share: the share of worlds in which the design is best on the criterion. Regret:"
                                      " how far it falls short of the best design in each world (0 when it is the best).",
                                      class_="field-help")))
        return ui.TagList(*cards)

    @render.ui
    def repro() -> Any:
        p, _ = pol()
        if p is None:
            return ""
        what = "frontier.html" if p.frontier is not None else "robustness.html"
        return reproduce("optimize", p.request, p.folder,
                         f"This folder was made on the command line (no {analyses.REQUEST_FILE} in {p.folder.name}): its"
                         f" settings are on its page, {what}, in the same folder.")

    @render.download_button(filename=lambda: "frontier.parquet")
    def dl_frontier() -> Any:
        yield from folder_file(pol, "frontier.parquet")

    @render.download_button(filename=lambda: "robustness.parquet")
    def dl_robustness() -> Any:
        yield from folder_file(pol, "robustness.parquet")


# -- both tabs in a session -----------------------------------------------------------------------------------
#: the tabs' module ids (their elements' ids start with them: ``sens-run``, ``pol-folder``)
SENSITIVITY_ID, POLICY_ID = "sens", "pol"


def analysis_server(input: Inputs, session: Session, manager: JobManager, runs: Path,
                    jobs_list: Callable[[str], Any], jobs_version: Callable[[], int], error: Callable[[str], ui.Tag]) -> None:
    """The two analysis tabs' modules inside a session, sharing one poll of the runs folder's analyses."""
    runs = Path(runs)

    @reactive.poll(lambda: analyses.signature(runs), FOLDERS_POLL_S)
    def folders_version() -> tuple:
        return analyses.signature(runs)

    ctx = Context(manager, runs, jobs_list, jobs_version, error, folders_version)
    sensitivity_server(SENSITIVITY_ID, ctx)
    policy_server(POLICY_ID, ctx)
