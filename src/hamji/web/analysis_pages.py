"""The Sensitivity and Policy design tabs: run ``hamji sensitivity`` or ``hamji optimize`` in the background, or open
one's folder from the runs folder, and read its charts and tables.

Each analysis is one job of the :class:`~hamji.web.jobs.JobManager` (one Dask task whose runs follow one another in
a worker, with a progress bar and cancel like a scenario run); its size is checked before it is queued, live as the
form changes. The pages read the folders the analyses leave (:mod:`hamji.web.analyses`), so an analysis made on the
command line into the runs folder opens the same way.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from shiny import Inputs, Session, reactive, render, ui

from hamji.errors import UserError
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
    from hamji.sim import check_run_date

    first = check_run_date(f"{int(first_year)}-01-01", "first year")
    start = first + dt.timedelta(days=-first.weekday() % 7)
    end = check_run_date(f"{int(last_year)}-12-31", "last year")
    if end < start:
        raise UserError(f"last year {end.year} is before first year {start.year}")
    return start, end


def outcome_choices() -> list[str]:
    """Every METRIC:REGION an analysis may measure here, the usual two first."""
    from hamji.analysis.sensitivity import DEFAULT_OUTCOMES

    rest = [f"{m}:{r}" for m in sorted(figures.metric_units()) for r in REGIONS]
    return list(DEFAULT_OUTCOMES) + [o for o in rest if o not in DEFAULT_OUTCOMES]


def _range_text(name: str) -> str:
    from hamji.analysis.experiments import param_spec

    p = param_spec(name)
    lo, hi = p.bounds(False)
    return f"{lo:.4g} to {hi:.4g} ({p.dist})"


def _unit(name: str) -> str:
    """A varied parameter's unit ('' for a group of parameters screened together, which has none)."""
    from hamji.analysis.experiments import param_spec

    try:
        return param_spec(name).unit
    except UserError:
        return ""


def _table(frame: pd.DataFrame, table_id: str) -> ui.Tag:
    return ui.HTML(frame.to_html(index=False, classes="table table-sm", border=0, table_id=table_id, escape=True))


def _settings(prefix: str, seeds: int = 1) -> ui.Tag:
    """The run settings every analysis form has: scale, seeds, years, evaluation years."""
    return ui.TagList(
        ui.layout_columns(
            ui.input_numeric(f"{prefix}_scale", "Scale 1:N", START_SCALE, min=1, max=100000),
            ui.input_numeric(f"{prefix}_seeds", "Seeds per sample", seeds, min=1, max=10),
            ui.input_numeric(f"{prefix}_first", "First year", START_YEARS[0], min=1990, max=2100),
            ui.input_numeric(f"{prefix}_last", "Last year", START_YEARS[1], min=1990, max=2100), col_widths=(6, 6, 6, 6)),
        ui.input_text(f"{prefix}_years", "Evaluation years Y1-Y2 (empty: the last five)", ""),
    )


def _run_block(prefix: str, what: str) -> ui.Tag:
    return ui.TagList(
        ui.output_ui(f"{prefix}_size"),
        ui.input_action_button(f"{prefix}_run", f"Run the {what} in the background", class_="btn-primary"),
        ui.output_ui(f"{prefix}_msg"), ui.output_ui(f"{prefix}_jobs"), ui.hr(),
        ui.input_select(f"{prefix}_folder", "Or open an analysis in the runs folder", []),
    )


def sensitivity_ui() -> ui.Tag:
    """The Sensitivity tab: the form on the left, the chosen analysis's charts and tables on the right."""
    from hamji.parameters import uncertain_names
    from hamji.scenario import builtin_names

    effects = {"": "none: the outcome of the scenario itself"} | {n: n for n in builtin_names() if n != "baseline"}
    return ui.layout_sidebar(
        ui.sidebar(
            ui.input_select("sens_method", "Method", {"morris": "Morris: screen, rank by μ* (σ: interactions)",
                                                      "sobol": "Sobol': S1 and ST with intervals"}),
            ui.input_selectize("sens_params", "Parameters to vary (uncertain ones)", list(uncertain_names()),
                               selected=list(START_PARAMS), multiple=True),
            ui.output_ui("sens_params_help"),
            ui.input_selectize("sens_outcomes", "Outcomes (METRIC:REGION, mean over the evaluation years)", outcome_choices(),
                               selected=["hsi_mean:HamJi"], multiple=True),
            ui.input_select("sens_effect", "As the effect of (that scenario minus the reference, same seeds)", effects),
            ui.input_select("sens_scenario", "Scenario (the reference, with an effect)", builtin_names(), selected="baseline"),
            ui.input_numeric("sens_samples", "Trajectories (Morris) or base samples N (Sobol')", 4, min=2, max=4096),
            _settings("sens"), _run_block("sens", "analysis"),
            width=380,
        ),
        ui.output_ui("sens_head"),
        ui.output_ui("sens_results"),
        ui.card(ui.card_header("Reproduce"), ui.output_ui("sens_repro"),
                ui.div(ui.download_button("dl_sens", "sensitivity.parquet"), ui.download_button("dl_sens_html", "sensitivity.html"),
                       class_="d-flex gap-2")),
    )


def policy_ui() -> ui.Tag:
    """The Policy design tab: the search's form on the left, the front, its designs and their robustness on the right."""
    from hamji.analysis import policy

    objectives = ["max:hsi_mean:HamJi", "min:regime_revenue_usd:DPRK", "min:cost"] + [
        f"{d}:{o}" for o in outcome_choices() for d in policy.DIRECTIONS
        if f"{d}:{o}" not in policy.DEFAULT_OBJECTIVES]
    levers = {n: f"{n} ({lv.low:g} to {lv.high:g}, {lv.unit})" for n, lv in policy.LEVERS.items()}
    return ui.layout_sidebar(
        ui.sidebar(
            ui.input_numeric("pol_budget", "Total budget, US$ million a year", policy.DEFAULT_BUDGET / 1e6, min=0.1,
                             max=max_budget() / 1e6),
            ui.input_selectize("pol_objectives", "Objectives (each an effect against baseline)", objectives,
                               selected=list(policy.DEFAULT_OBJECTIVES), multiple=True),
            ui.input_checkbox_group("pol_levers", "Levers to search (the others stay at their defaults)", levers,
                                    selected=list(policy.LEVERS)),
            ui.layout_columns(ui.input_numeric("pol_trials", "Designs (trials)", START_TRIALS, min=1, max=1000),
                              ui.input_numeric("pol_population", "Per generation", START_POPULATION, min=2, max=100),
                              ui.input_numeric("pol_sampler_seed", "Sampler seed", 1, min=0, max=2**32 - 1), col_widths=(4, 4, 4)),
            _settings("pol"), _run_block("pol", "search"),
            width=380,
        ),
        ui.output_ui("pol_head"),
        ui.output_ui("pol_front"),
        ui.output_ui("pol_tables"),
        ui.card(ui.card_header("Reproduce"), ui.output_ui("pol_repro"),
                ui.div(ui.download_button("dl_frontier", "frontier.parquet"),
                       ui.download_button("dl_robustness", "robustness.parquet"), class_="d-flex gap-2")),
    )


def max_budget() -> float:
    """The largest budget the web app searches: one the training programme could take whole without training more
    merchants a year than the registry allows (``training_trained_per_year`` at ``training_cost_usd`` each)."""
    from hamji.parameters import REGISTRY

    return REGISTRY["training_trained_per_year"].high * REGISTRY["training_cost_usd"].default


def analysis_server(input: Inputs, session: Session, manager: JobManager, runs: Path,
                    jobs_list: Callable[[str], Any], jobs_version: Callable[[], int], error: Callable[[str], ui.Tag]) -> None:
    """The two tabs' reactive logic inside a session: forms, size checks, jobs, folder pickers and pages."""
    runs = Path(runs)
    notes = {"sensitivity": reactive.value(None), "optimize": reactive.value(None)}
    opened: set[str] = set()

    @reactive.poll(lambda: analyses.signature(runs), FOLDERS_POLL_S)
    def folders_version() -> tuple:
        return analyses.signature(runs)

    def settings(prefix: str) -> dict[str, Any]:
        start, end = year_span(input[f"{prefix}_first"](), input[f"{prefix}_last"]())
        return {"seeds": int(input[f"{prefix}_seeds"]()), "scale": int(input[f"{prefix}_scale"]()),
                "start": start.isoformat(), "end": end.isoformat(), "years": input[f"{prefix}_years"]().strip() or None}

    @reactive.calc
    def sens_request() -> dict[str, Any]:
        return {"method": input.sens_method(), "params": list(input.sens_params() or []) or None,
                "outcomes": list(input.sens_outcomes() or []) or None, "effect": input.sens_effect() or None,
                "scenario": input.sens_scenario(), "samples": int(input.sens_samples())} | settings("sens")

    @reactive.calc
    def pol_request() -> dict[str, Any]:
        budget = float(input.pol_budget()) * 1e6
        if budget > max_budget():
            raise UserError(f"budget US$ {budget / 1e6:g} M: at most US$ {max_budget() / 1e6:g} M a year here (training"
                            " could take it all, and the registry trains at most"
                            " 100,000 merchants a year); use the command line to search more with fixed shares")
        return {"budget": budget, "objectives": list(input.pol_objectives() or []) or None,
                "levers": list(input.pol_levers() or []) or None, "trials": int(input.pol_trials()),
                "population": int(input.pol_population()), "sampler_seed": int(input.pol_sampler_seed())} | settings("pol")

    def checked(kind: str, request: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any] | None, int, float, str | None]:
        try:
            req = request()
            n, seconds = analysis_runs(kind, req)
            return req, n, seconds, None
        except UserError as exc:
            return None, 0, 0.0, str(exc)
        except (TypeError, ValueError):
            return None, 0, 0.0, "fill in every number (whole numbers for the counts and years)"

    def size_line(kind: str, request: Callable[[], dict[str, Any]]) -> Any:
        req, n, seconds, err = checked(kind, request)
        if err:
            return error(f"error: {err}")
        over = seconds > MAX_ANALYSIS_SECONDS
        return ui.div(f"{n} runs, about {seconds / 60:.1f} min of computing; the limit here is"
                      f" {MAX_ANALYSIS_SECONDS / 60:.0f} min" + (" (too large: see below when you run it)" if over else ""),
                      class_="field-help" + (" text-danger" if over else ""), id=f"{kind}-size")

    def submit(kind: str, request: Callable[[], dict[str, Any]], label: str) -> None:
        req, _, _, err = checked(kind, request)
        if err:
            notes[kind].set(error(f"error: {err}"))
            return
        try:
            job = manager.submit_analysis(session.id, kind, req, label)
        except UserError as exc:
            notes[kind].set(error(f"error: {exc}"))
            return
        notes[kind].set(ui.div(f"queued: {job.name}, {job.weeks_total} runs at 1:{job.scale}", class_="hamji-ok"))

    def folder_choices(picker: str, kind: str, job_kind: str) -> None:
        """Keep a picker's folders in step with the runs folder; open the folder of an analysis this session just ran."""
        folders_version()
        jobs_version()
        choices = {str(f): analyses.label(f, runs) for f in analyses.find(runs, kind)}
        # read, not isolated: this runs again once the browser reports the folder picked here, and only then is a
        # finished job's folder marked as opened (before, a refresh in between put the old folder back)
        current = input[picker]()
        wanted = None
        for job in manager.session_jobs(session.id):
            if job.kind == job_kind and job.state == "done" and job.id not in opened and job.folders:
                path = str(runs / job.folders[0])
                if path in choices:
                    if path == current:
                        opened.add(job.id)
                    else:
                        wanted = wanted or path
        selected = wanted or (current if current in choices else next(iter(choices), None))
        ui.update_select(picker, choices=choices, selected=selected)

    def reproduce(kind: str, request: dict[str, Any] | None, folder: Path, made_elsewhere: str) -> Any:
        if request is None:
            return ui.p(made_elsewhere)
        return ui.div(ui.p("On the command line:"), ui.pre(analyses.cli_command(kind, request, folder), class_="repro-cli"),
                      ui.p("or in Python:"), ui.pre(analyses.python_call(kind, request, folder), class_="repro-py"))

    # -- sensitivity -----------------------------------------------------------------------------------
    @render.ui
    def sens_params_help() -> Any:
        names = list(input.sens_params() or [])
        if not names:
            return ui.p("No parameter chosen: every uncertain parameter is varied (many runs).", class_="field-help")
        rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(_unit(n))}</td><td>{html.escape(_range_text(n))}</td></tr>"
                       for n in names)
        return ui.HTML(f"<table class='table table-sm field-help' id='sens-params-table'><tr><th>parameter</th><th>unit</th>"
                       f"<th>plausible range</th></tr>{rows}</table>")

    @render.ui
    def sens_size() -> Any:
        return size_line("sensitivity", sens_request)

    @reactive.effect
    @reactive.event(input.sens_run)
    def _sens_run() -> None:
        submit("sensitivity", sens_request, f"sensitivity ({input.sens_method()})")

    @render.ui
    def sens_msg() -> Any:
        return notes["sensitivity"]()

    @render.ui
    def sens_jobs() -> Any:
        return jobs_list("sensitivity")

    @reactive.effect
    def _sens_folders() -> None:
        folder_choices("sens_folder", "sensitivity", "sensitivity")

    @reactive.calc
    def sens() -> tuple[analyses.Sensitivity | None, str | None]:
        folders_version()
        picked = input.sens_folder()
        if not picked:
            return None, None
        try:
            return analyses.read_sensitivity(Path(picked)), None
        except (OSError, ValueError) as exc:
            return None, f"{picked}: cannot be read as a sensitivity analysis ({exc})"

    @render.ui
    def sens_head() -> Any:
        s, err = sens()
        if err:
            return error(f"error: {err}")
        if s is None:
            return ui.div(ui.h4("Sensitivity: which assumptions decide the answer"),
                          ui.p(f"No sensitivity analysis in {runs} yet: run one from the left, or write one there with"
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
    def sens_results() -> Any:
        from hamji.analysis.sensitivity import CONFIDENCE, ranking

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
    def sens_repro() -> Any:
        s, _ = sens()
        if s is None:
            return ""
        return reproduce("sensitivity", s.request, s.folder,
                         f"This analysis was made outside the web app (no {analyses.REQUEST_FILE} in {s.folder.name}): its"
                         f" command's settings are on its page, sensitivity.html (below). It varied {', '.join(s.params)}.")

    def sens_file(name: str) -> Any:
        s, _ = sens()
        if s is not None and (s.folder / name).exists():
            yield (s.folder / name).read_bytes()

    @render.download_button(filename=lambda: "sensitivity.parquet")
    def dl_sens() -> Any:
        yield from sens_file("sensitivity.parquet")

    @render.download_button(filename=lambda: "sensitivity.html")
    def dl_sens_html() -> Any:
        yield from sens_file("sensitivity.html")

    # -- policy design ---------------------------------------------------------------------------------
    @render.ui
    def pol_size() -> Any:
        return size_line("optimize", pol_request)

    @reactive.effect
    @reactive.event(input.pol_run)
    def _pol_run() -> None:
        submit("optimize", pol_request, "policy search")

    @render.ui
    def pol_msg() -> Any:
        return notes["optimize"]()

    @render.ui
    def pol_jobs() -> Any:
        return jobs_list("optimize")

    @reactive.effect
    def _pol_folders() -> None:
        folder_choices("pol_folder", "policy", "optimize")

    @reactive.calc
    def pol() -> tuple[analyses.Policy | None, str | None]:
        folders_version()
        picked = input.pol_folder()
        if not picked:
            return None, None
        try:
            return analyses.read_policy(Path(picked)), None
        except (OSError, ValueError) as exc:
            return None, f"{picked}: cannot be read as a policy search ({exc})"

    @render.ui
    def pol_head() -> Any:
        p, err = pol()
        if err:
            return error(f"error: {err}")
        if p is None:
            return ui.div(ui.h4("Policy design: which mix of programmes buys the most human security per dollar reaching"
                                " the regime"),
                          ui.p(f"No policy search in {runs} yet: run one from the left, or write one there with"
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

    def front_objectives(p: analyses.Policy) -> tuple[Any, Any, pd.DataFrame]:
        from hamji.analysis.policy import COST, Objective

        table = p.frontier
        oy = p.objectives[0]
        ox = p.objectives[1] if len(p.objectives) > 1 else Objective("min", None)
        if ox.outcome is None and COST not in table:
            table = table.assign(cost=table.cost_usd)
        return oy, ox, table

    @render.ui
    def pol_front() -> Any:
        from hamji.analysis.policy import objective_label, objective_scale

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

    def objective_columns(p: analyses.Policy, rows: pd.DataFrame) -> dict[str, list[str]]:
        from hamji.analysis.policy import format_objective, objective_label

        return {objective_label(o): [format_objective(o, r) for r in rows.to_dict("records")] for o in p.objectives}

    @render.ui
    def pol_tables() -> Any:
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
    def pol_repro() -> Any:
        p, _ = pol()
        if p is None:
            return ""
        what = "frontier.html" if p.frontier is not None else "robustness.html"
        return reproduce("optimize", p.request, p.folder,
                         f"This folder was made on the command line (no {analyses.REQUEST_FILE} in {p.folder.name}): its"
                         f" settings are on its page, {what}, in the same folder.")

    def pol_file(name: str) -> Any:
        p, _ = pol()
        if p is not None and (p.folder / name).exists():
            yield (p.folder / name).read_bytes()

    @render.download_button(filename=lambda: "frontier.parquet")
    def dl_frontier() -> Any:
        yield from pol_file("frontier.parquet")

    @render.download_button(filename=lambda: "robustness.parquet")
    def dl_robustness() -> Any:
        yield from pol_file("robustness.parquet")

