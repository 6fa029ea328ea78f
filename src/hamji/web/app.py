"""The Shiny app: build a scenario, run it in the background, read its results, compare scenarios.

Each browser tab is a Shiny session with its own form, jobs and choices; what sessions share is the
runs folder (every run, CLI or web, is listed there through the :class:`~hamji.run_registry.RunRegistry`)
and the :class:`~hamji.web.jobs.JobManager`, whose Dask workers do every simulation. The server's
event loop only reads small tables and draws charts, so one analyst's run never freezes another's page.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import shlex
from pathlib import Path
from typing import Any

import pandas as pd
import plotly
from shiny import App, Inputs, Outputs, Session, reactive, render, ui

from hamji.analysis.compare import REVENUE_LABEL, differences, differing_years_of
from hamji.errors import UserError
from hamji.parameters import REGISTRY
from hamji.run_registry import RunRegistry, experiment_key, parse_param_filter, read_manifest
from hamji.scenario import Scenario, ScenarioSpec, builtin_names, parse_date
from hamji.sim import parse_scale
from hamji.web import builder, figures
from hamji.web.analysis_pages import POLICY_ID, SENSITIVITY_ID, analysis_server, policy_ui, sensitivity_ui, year_span
from hamji.web.jobs import ANALYSIS_FILES, MAX_RUN_SECONDS, MAX_SCORECARD_SEEDS, MAX_SEEDS, JobManager

NOT_A_FORECAST = ("A scenario, not a forecast. The model follows the mechanisms of Park (2009) with parameters from public"
                  " data and stated assumptions: read differences between scenarios, with their spread over seeds,"
                  " not any single level.")
#: what a new session starts from: the paper's first recommendation, small enough to run in seconds
START_TEMPLATE = "microlending"
#: run settings a new session starts with: one simulated household per 20,000 (a few hundred households) runs a
#: year in about a second, so a first run answers while the analyst watches
DEFAULT_SCALE, DEFAULT_SEEDS, DEFAULT_YEARS = 20000, 2, (2005, 2020)
GROUPS = ("HamJi", "Rest of DPRK", "DPRK", "Jilin")
KEY_METRICS = ("population", "participants_share", "hsi_mean", "exports_recorded_usd", "exports_all_usd",
               "imports_recorded_usd", "imports_usd", "regime_revenue_usd",
               "bribes_usd", "remittances_usd", "food_secure_share")
#: how often a session looks for news from the job queue and the runs folder (seconds)
POLL_S = 0.5

CSS = """
.hamji-note{position:sticky;top:0;z-index:1000;background:#fff6e5;border-left:5px solid #e67e22;padding:.4em 1em;
  margin:0 0 .8em 0;font-size:.92em}
.field-help{font-size:.78em;color:#666;margin-top:-.6em;margin-bottom:.6em}
.hamji-error{color:#a40000;background:#fdecea;border-left:4px solid #c0392b;padding:.4em .8em;white-space:pre-wrap}
.hamji-ok{color:#1e6b35}
.event-card{border:1px solid #ddd;border-radius:6px;padding:.6em .8em;margin-bottom:.8em}
pre.yaml{max-height:420px;overflow:auto;font-size:.8em;background:#f7f7f7}
pre.repro-cli,pre.repro-py{white-space:pre-wrap;word-break:break-word}
"""


def _experiment_label(row: Any) -> str:
    return (f"{row.scenario} · 1:{row.scale} · {str(row.start)[:4]}-{str(row.end)[:4]} · seeds"
            f" {','.join(map(str, row.seeds))} · {row.experiment}")


def _error(message: str) -> ui.Tag:
    return ui.div(message, class_="hamji-error", role="alert")


def build_ui() -> ui.Tag:
    """The page: seven tabs under the banner that says it is a scenario, not a forecast."""
    build = ui.layout_sidebar(
        ui.sidebar(
            ui.input_select("template", "Start from a built-in scenario", builtin_names(), selected=START_TEMPLATE),
            ui.input_text("name", "Name of your scenario", value=f"my-{START_TEMPLATE}"),
            ui.input_select("program", "Add a programme", list(builder.PROGRAMS)),
            ui.input_action_button("add_program", "Add programme"),
            ui.hr(),
            ui.input_file("upload", "Or upload a scenario YAML", accept=[".yaml", ".yml"]),
            ui.output_ui("upload_msg"),
            width=320,
        ),
        ui.card(ui.card_header("Events: programmes and shocks (dates, budgets, targeting)"), ui.output_ui("events_form")),
        ui.card(ui.card_header("Any registry parameter (unit, range and source beside it)"),
                ui.input_selectize("param_name", "Parameter", [""] + sorted(REGISTRY), selected=""),
                ui.output_ui("param_help"),
                ui.input_action_button("add_param", "Override this parameter"),
                ui.output_ui("overrides_form")),
        ui.card(ui.card_header("Run"),
                ui.layout_columns(
                    ui.input_numeric("scale", "Scale 1:N", DEFAULT_SCALE, min=1, max=100000),
                    ui.input_numeric("seeds", f"Seeds (1-{MAX_SEEDS})", DEFAULT_SEEDS, min=1, max=MAX_SEEDS),
                    ui.input_numeric("start_year", "First year", DEFAULT_YEARS[0], min=1990, max=2100),
                    ui.input_numeric("end_year", "Last year", DEFAULT_YEARS[1], min=1990, max=2100)),
                ui.p(f"Runs larger than about {MAX_RUN_SECONDS / 60:.0f} minutes of computing are refused here"
                     " (use the command line for those).", class_="field-help"),
                ui.input_action_button("run", "Run in the background", class_="btn-primary"),
                ui.output_ui("run_msg"), ui.output_ui("jobs")),
        ui.card(ui.card_header("The scenario as YAML (what will run)"), ui.output_ui("yaml_check"),
                ui.output_code("yaml_text"), ui.download_button("download_yaml", "Download YAML")),
    )
    results = ui.layout_sidebar(
        ui.sidebar(
            ui.input_select("experiment", "Run (all its seeds)", []),
            ui.input_select("metric", "Metric", []),
            ui.input_slider("year", "Year", 2000, 2030, 2010, step=1, sep=""),
            ui.input_checkbox_group("groups", "Groups in the line chart", list(GROUPS), selected=["HamJi", "Rest of DPRK"]),
            width=320,
        ),
        ui.output_ui("results_head"),
        ui.layout_columns(ui.output_ui("results_map"), ui.output_ui("lines"), col_widths=(6, 6)),
        ui.output_ui("trade"),
        ui.card(ui.card_header("Key figures (mean over seeds)"), ui.output_ui("key_figures")),
        ui.card(ui.card_header("Reproduce"), ui.output_ui("reproduce"),
                ui.input_select("repro_seed", "Files of seed", []),
                ui.div(ui.download_button("dl_series", "series.parquet"), ui.download_button("dl_annual", "annual.csv"),
                       ui.download_button("dl_scenario", "scenario YAML"), class_="d-flex gap-2")),
    )
    compare = ui.layout_sidebar(
        ui.sidebar(
            ui.input_selectize("compare_runs", "Runs to compare (the first is the reference)", [], multiple=True),
            ui.input_checkbox("own_years", "Choose the years myself", False),
            ui.input_slider("years", "Evaluation years", 2000, 2030, (2010, 2030), step=1, sep=""),
            ui.input_select("cmp_metric", "Metric for the charts over time and the maps", []),
            ui.input_select("cmp_region", "Region or group", list(GROUPS), selected="HamJi"),
            width=340,
        ),
        ui.output_ui("compare_head"),
        ui.output_ui("tradeoff"), ui.output_ui("diff_time"),
        ui.card(ui.card_header("Differences (mean over seeds, 90% interval)"), ui.output_ui("diff_table")),
        ui.output_ui("diff_maps"),
    )
    runs = ui.layout_sidebar(
        ui.sidebar(
            ui.input_text("search_scenario", "Scenario name contains"),
            ui.input_text("search_param", "Parameter = value", placeholder="microlending_budget_usd=20000000"),
            ui.input_text("search_since", "Written on or after (YYYY-MM-DD)"),
            ui.output_ui("search_msg"),
            ui.input_selectize("run_pick", "Runs", [], multiple=True),
            ui.input_action_button("open_run", "Open in Results"),
            ui.input_action_button("compare_pick", "Compare these"),
            ui.input_action_button("delete_run", "Delete", class_="btn-outline-danger"),
            width=340,
        ),
        ui.output_ui("runs_table"),
    )
    validation = ui.layout_sidebar(
        ui.sidebar(
            ui.input_numeric("sc_seeds", f"Seeds (1-{MAX_SCORECARD_SEEDS})", 1, min=1, max=MAX_SCORECARD_SEEDS),
            ui.input_numeric("sc_scale", "Scale 1:N", DEFAULT_SCALE, min=1, max=100000),
            ui.input_action_button("run_scorecard", "Run the scorecard in the background"),
            ui.output_ui("scorecard_msg"), ui.output_ui("scorecard_jobs"),
            width=320,
        ),
        ui.output_ui("scorecard"),
    )
    return ui.page_navbar(
        ui.nav_panel("Build and run", build, value="build"),
        ui.nav_panel("Results", results, value="results"),
        ui.nav_panel("Compare", compare, value="compare"),
        ui.nav_panel("Runs", runs, value="runs"),
        ui.nav_panel("Validation", validation, value="validation"),
        ui.nav_panel("Sensitivity", sensitivity_ui(SENSITIVITY_ID), value="sensitivity"),
        ui.nav_panel("Policy design", policy_ui(POLICY_ID), value="policy"),
        id="tabs", title="hamji",
        header=ui.TagList(
            # Shiny loads require.js, which would capture plotly.js as an AMD module: hide it while plotly.js loads
            ui.tags.script("window.__hamjiDefine = window.define; window.define = undefined;"),
            ui.tags.script(src="plotly/plotly.min.js"),
            ui.tags.script("window.define = window.__hamjiDefine;"), ui.tags.style(CSS),
                          ui.div(ui.strong("A scenario, not a forecast. "), NOT_A_FORECAST.split(". ", 1)[1],
                                 class_="hamji-note", id="not-a-forecast")),
    )


def make_app(runs: Path, manager: JobManager) -> App:
    """The Shiny app over a runs folder and a started job manager."""
    registry = RunRegistry(runs)
    written = {"count": 0}

    def run_written() -> None:
        written["count"] += 1

    manager.on_run_written = run_written

    def server(input: Inputs, output: Outputs, session: Session) -> None:
        spec = reactive.value(builder.template(START_TEMPLATE))
        form_rev = reactive.value(0)  # bumps when the form's structure changes (re-render)
        upload_note = reactive.value(None)
        run_note = reactive.value(None)
        pending_select = reactive.value(None)  # a run of this session that just finished, to open in Results
        seen_done: set[str] = set()

        def have(name: str) -> bool:
            return name in input

        def val(name: str, default: Any) -> Any:
            return input[name]() if have(name) else default

        def restructure(new: dict[str, Any]) -> None:
            spec.set(new)
            form_rev.set(form_rev() + 1)

        # -- the form ------------------------------------------------------------------------
        @reactive.calc
        def form_spec() -> dict[str, Any]:
            """The scenario as the form holds it now."""
            base = copy.deepcopy(spec())
            rev = form_rev()
            base["name"] = (input.name() or base.get("name", "")).strip()
            events = []
            for i, e in enumerate(base.get("events", [])):
                if not val(f"ev{rev}_{i}_on", True):
                    continue
                e = dict(e)
                e["start"] = val(f"ev{rev}_{i}_start", e.get("start")) or e.get("start")
                end = val(f"ev{rev}_{i}_end", e.get("end") or "")
                e["end"] = end.strip() if isinstance(end, str) and end.strip() else None
                params = {}
                for j, f in enumerate(builder.event_fields(e)):
                    v = val(f"ev{rev}_{i}_p{j}", f.value)
                    params[f.key] = builder.coerce_text(v) if f.kind == "text" else v
                if params:
                    e["params"] = params
                if e["end"] is None:
                    e.pop("end")
                events.append(e)
            base["events"] = events
            base["overrides"] = {k: val(f"ov{rev}_{k}", v) for k, v in (base.get("overrides") or {}).items()}
            return base

        @reactive.calc
        def yaml_now() -> str:
            return builder.to_yaml(form_spec())

        @reactive.calc
        def checked() -> tuple[Any, str | None]:
            try:
                return builder.check_yaml(yaml_now(), f"{form_spec().get('name') or 'scenario'}.yaml"), None
            except UserError as exc:
                return None, str(exc)

        @reactive.effect
        @reactive.event(input.template, ignore_init=True)  # the form starts from START_TEMPLATE already
        def _template() -> None:
            restructure(builder.template(input.template()))
            ui.update_text("name", value=f"my-{input.template()}")

        @reactive.effect
        @reactive.event(input.add_program)
        def _add_program() -> None:
            current = form_spec()
            current["events"] = current.get("events", []) + [builder.program_event(input.program())]
            restructure(current)

        @reactive.effect
        @reactive.event(input.add_param)
        def _add_param() -> None:
            name = input.param_name()
            if name in REGISTRY:
                current = form_spec()
                current.setdefault("overrides", {})[name] = current.get("overrides", {}).get(name, REGISTRY[name].default)
                restructure(current)

        @reactive.effect
        @reactive.event(input.remove_override)
        def _remove_override() -> None:
            current = form_spec()
            current.get("overrides", {}).pop(input.remove_override(), None)
            restructure(current)

        @reactive.effect
        @reactive.event(input.upload)
        def _upload() -> None:
            files = input.upload()
            if not files:
                return
            f = files[0]
            try:
                text, scenario = builder.check_bytes(Path(f["datapath"]).read_bytes(), f["name"])
            except UserError as exc:
                upload_note.set(_error(f"error: {exc}"))
                return
            restructure(scenario.to_dict())
            ui.update_text("name", value=scenario.name)
            upload_note.set(ui.div(f"loaded {f['name']}: scenario '{scenario.name}'", class_="hamji-ok"))

        @render.ui
        def upload_msg() -> Any:
            return upload_note()

        @render.ui
        def events_form() -> Any:
            # input ids carry the form's revision, so values typed into an earlier form are never read into this one
            rev = form_rev()
            s = spec()
            cards = []
            for i, e in enumerate(s.get("events", [])):
                fields = []
                for j, f in enumerate(builder.event_fields(e)):
                    fid = f"ev{rev}_{i}_p{j}"
                    if f.kind == "bool":
                        fields.append(ui.input_checkbox(fid, f.key, bool(f.value)))
                    elif f.kind == "number":
                        fields.append(ui.input_numeric(fid, f.key, f.value))
                    else:
                        fields.append(ui.input_text(fid, f.key, builder.to_yaml_value(f.value)))
                    fields.append(ui.div(f.help, class_="field-help"))
                cards.append(ui.div(
                    ui.input_checkbox(f"ev{rev}_{i}_on", ui.strong(e.get("type", "")), True),
                    ui.layout_columns(ui.input_text(f"ev{rev}_{i}_start", "start (YYYY-MM-DD)", str(e.get("start", ""))),
                                      ui.input_text(f"ev{rev}_{i}_end", "end (empty: to the end of the run)", str(e.get("end") or ""))),
                    *fields, class_="event-card"))
            return ui.TagList(*cards) if cards else ui.p("No events: add a programme on the left.")

        @render.ui
        def param_help() -> Any:
            name = input.param_name()
            if name not in REGISTRY:
                return ui.p("Choose a parameter to see its unit, range, default and source.", class_="field-help")
            p = REGISTRY[name]
            return ui.div(ui.p(p.description), ui.p(f"default {p.default}; {builder.describe(name)}", class_="field-help"))

        @render.ui
        def overrides_form() -> Any:
            rev = form_rev()
            items = []
            for name, value in (spec().get("overrides") or {}).items():
                if name not in REGISTRY:
                    continue
                p = REGISTRY[name]
                control = (ui.input_checkbox(f"ov{rev}_{name}", name, bool(value)) if p.type == "bool"
                           else ui.input_numeric(f"ov{rev}_{name}", name, value, min=p.low, max=p.high))
                items.append(ui.div(control, ui.div(builder.describe(name), class_="field-help"),
                                    ui.tags.a("remove", href="#", onclick=f"Shiny.setInputValue('remove_override', '{name}',"
                                                                          " {priority: 'event'}); return false;")))
            return ui.TagList(*items) if items else ui.p("No parameter overridden.", class_="field-help")

        @render.code
        def yaml_text() -> str:
            return yaml_now()

        @render.ui
        def yaml_check() -> Any:
            scenario, err = checked()
            if err:
                return _error(f"error: {err}")
            return ui.div(f"valid: scenario '{scenario.name}', {len(scenario.events)} event(s),"
                          f" {len(scenario.spec.overrides)} override(s)", class_="hamji-ok")

        @render.download_button(filename=lambda: f"{form_spec().get('name') or 'scenario'}.yaml")
        def download_yaml() -> Any:
            yield yaml_now()

        # -- running -------------------------------------------------------------------------
        @reactive.effect
        @reactive.event(input.run)
        def _run() -> None:
            scenario, err = checked()
            if err:
                run_note.set(_error(f"error: {err}"))
                return
            try:
                scale = parse_scale(str(input.scale()))
                seeds = int(input.seeds() or 0)
                start, end = year_span(input.start_year(), input.end_year())
                job = manager.submit(session.id, scenario.to_dict(), list(range(1, seeds + 1)), scale, start, end)
            except (UserError, TypeError, ValueError) as exc:
                run_note.set(_error(f"error: {exc}"))
                return
            run_note.set(ui.div(f"queued: {job.name}, {len(job.seeds)} seed(s) at 1:{job.scale}", class_="hamji-ok"))

        @render.ui
        def run_msg() -> Any:
            return run_note()

        @reactive.poll(lambda: manager.version, POLL_S)
        def jobs_version() -> int:
            return manager.version

        @reactive.effect
        @reactive.event(input.cancel_job)
        def _cancel() -> None:
            manager.cancel(input.cancel_job(), session.id)

        def jobs_list(kind: str) -> Any:
            """This session's jobs of one kind, newest first: state, progress bar, cancel."""
            jobs_version()
            rows = []
            for job in manager.session_jobs(session.id):
                if job.kind != kind:
                    continue
                pct = int(round(100 * job.fraction))
                state = job.state
                if state == "queued":
                    state = f"queued ({manager.queue_position(job)} ahead)"
                elif state == "running" and (pct >= 100 or kind == "scorecard"):
                    state = "writing results" if kind != "scorecard" else "running (several minutes)"
                    pct = 100
                text = (f"{pct}%" if kind == "run" else f"{job.weeks_done.get(0, 0)}/{job.weeks_total} runs"
                        if kind in ANALYSIS_FILES else "")
                bar = ui.div(ui.div(text, role="progressbar", style=f"width:{pct}%",
                                    class_="progress-bar" + (" progress-bar-striped progress-bar-animated" if job.active else ""),
                                    **{"aria-valuenow": str(pct), "aria-valuemin": "0", "aria-valuemax": "100"}),
                             class_="progress", style="height:1.2em")
                cancel = (ui.tags.button("Cancel", class_="btn btn-sm btn-outline-secondary cancel-job",
                                         onclick=f"Shiny.setInputValue('cancel_job', '{job.id}', {{priority: 'event'}})")
                          if job.active else "")
                what = (f" · 1:{job.scale} · {job.start.year}-{job.end.year} · {len(job.seeds)} seed(s) · " if kind == "run"
                        else f" · 1:{job.scale} · {job.start.year}-{job.end.year} · " if kind in ANALYSIS_FILES
                        else f" · 1:{job.scale} · ")
                rows.append(ui.div(ui.div(ui.strong(job.name), what, ui.span(state, class_="job-state"), " ", cancel),
                                   bar, ui.div(job.message, class_="field-help") if job.message else "",
                                   class_=f"job job-{job.state}", id=f"job-{job.id}"))
            return ui.TagList(*rows)

        @render.ui
        def jobs() -> Any:
            return jobs_list("run")

        analysis_server(input, session, manager, runs, jobs_list, jobs_version, _error)

        @render.ui
        def scorecard_jobs() -> Any:
            return jobs_list("scorecard")

        scorecard_note = reactive.value(None)

        @reactive.effect
        @reactive.event(input.run_scorecard)
        def _run_scorecard() -> None:
            try:
                manager.submit_scorecard(session.id, int(input.sc_seeds() or 0), parse_scale(str(input.sc_scale())))
                scorecard_note.set(None)
            except (UserError, TypeError, ValueError) as exc:
                scorecard_note.set(_error(f"error: {exc}"))

        @render.ui
        def scorecard_msg() -> Any:
            return scorecard_note()

        @reactive.effect
        def _open_finished() -> None:
            """When one of this session's jobs finishes, show its results."""
            jobs_version()
            for job in manager.session_jobs(session.id):
                if job.kind == "run" and job.state == "done" and job.id not in seen_done:
                    seen_done.add(job.id)
                    man = read_manifest(Path(runs) / job.folders[0])
                    if man is not None:
                        pending_select.set(experiment_key(man))

        # -- the registry --------------------------------------------------------------------

        @reactive.poll(lambda: written["count"], POLL_S)
        def runs_version() -> int:
            return written["count"]

        @reactive.calc
        def experiments() -> pd.DataFrame:
            runs_version()
            return registry.experiments()

        @reactive.effect
        def _experiment_choices() -> None:
            """Keep the run choices in step with the registry; open a run this session just finished."""
            exps = experiments()
            choices = {r.experiment: _experiment_label(r) for r in exps.itertuples()}
            wanted = pending_select()
            with reactive.isolate():
                current = input.experiment() if have("experiment") else None
                picked = list(input.compare_runs() or []) if have("compare_runs") else []
            if wanted in choices:
                pending_select.set(None)  # opened once; later runs of other sessions do not move the choice
            selected = wanted if wanted in choices else current if current in choices else next(iter(choices), None)
            ui.update_select("experiment", choices=choices, selected=selected)
            ui.update_selectize("compare_runs", choices=choices, selected=[p for p in picked if p in choices])

        def folders_of(exp: str) -> list[Path]:
            row = experiments()[experiments().experiment == exp]
            return [Path(runs) / r for r in row.runs.iloc[0]] if len(row) else []

        # -- results -------------------------------------------------------------------------
        @reactive.calc
        def annual() -> pd.DataFrame | None:
            exp = input.experiment()
            folders = folders_of(exp) if exp else []
            folders = [f for f in folders if (f / "annual.csv").exists()]
            return figures.read_annual(folders) if folders else None

        @reactive.effect
        def _metric_choices() -> None:
            a = annual()
            if a is None:
                return
            metrics = sorted(a.metric.unique())
            with reactive.isolate():
                current = input.metric()
            ui.update_select("metric", choices=metrics, selected=current if current in metrics else "hsi_mean")
            ui.update_slider("year", min=int(a.year.min()), max=int(a.year.max()),
                             value=min(max(int(input.year()), int(a.year.min())), int(a.year.max())))
            seeds = sorted(a.seed.unique())
            ui.update_select("repro_seed", choices=[str(s) for s in seeds])

        def unit(metric: str) -> str:
            return figures.metric_units().get(metric, "")

        @render.ui
        def results_head() -> Any:
            a = annual()
            if a is None:
                return ui.p("No run yet: build a scenario and run it, or open one in the Runs tab.")
            man = read_manifest(folders_of(input.experiment())[0])
            return ui.div(ui.h4(f"{man['scenario']['name']}: {len(a.seed.unique())} seed(s), 1:{man['scale']},"
                                f" {man['start']} to {man['end']}"),
                          ui.p(man["scenario"].get("description", "").strip()), id="results-head")

        @render.ui
        def results_map() -> Any:
            a = annual()
            metric = input.metric()
            if a is None or not metric:
                return ""
            year = int(input.year())
            fig = figures.province_map(figures.map_values(a, metric, year), f"{metric} in {year} (mean over seeds)", unit(metric))
            return ui.HTML(figures.to_html(fig, "map-plot"))

        @render.ui
        def lines() -> Any:
            a = annual()
            metric = input.metric()
            if a is None or not metric:
                return ""
            return ui.HTML(figures.to_html(figures.lines(a, metric, list(input.groups()), unit(metric)), "lines-plot"))

        @render.ui
        def trade() -> Any:
            a = annual()
            if a is None or not (a.metric == "exports_usd").any():
                return ""
            return ui.HTML(figures.to_html(figures.trade(a), "trade-plot"))

        @render.ui
        def key_figures() -> Any:
            a = annual()
            if a is None:
                return ""
            first, last = int(a.year.min()), int(a.year.max())
            m = a[a.metric.isin(KEY_METRICS) & a.region.isin(GROUPS[:3]) & a.year.isin([first, last])]
            t = m.groupby(["metric", "region", "year"]).value.mean().unstack(["region", "year"])
            t = t.reindex(columns=[(g, y) for g in GROUPS[:3] for y in (first, last)])
            t.columns = [f"{r} {y}" for r, y in t.columns]
            t = t.reindex([k for k in KEY_METRICS if k in t.index])
            t.insert(0, "unit", [unit(k) for k in t.index])
            return ui.HTML(t.map(lambda v: figures._fmt(v) if isinstance(v, float) else v)
                           .to_html(classes="table table-sm", border=0))

        def repro_folder() -> Path | None:
            a = annual()
            if a is None:
                return None
            seed = input.repro_seed()
            for f in folders_of(input.experiment()):
                man = read_manifest(f)
                if man is not None and str(man["seed"]) == str(seed):
                    return f
            return folders_of(input.experiment())[0]

        @render.ui
        def reproduce() -> Any:
            folders = folders_of(input.experiment()) if input.experiment() else []
            if not folders:
                return ""
            man = read_manifest(folders[0])
            seeds = sorted(int(read_manifest(f)["seed"]) for f in folders)
            name = man["scenario"]["name"]
            cli = "\n".join(f"hamji run {shlex.quote(name + '.yaml')} --scale {man['scale']} --seed {s} --start {man['start']}"
                            f" --end {man['end']}"
                            for s in seeds)
            py = (f"import hamji\nframes = [hamji.run(\"{name}.yaml\", seed=s, scale={man['scale']}, start=\"{man['start']}\","
                  f" end=\"{man['end']}\", annual=True) for s in {seeds}]")
            return ui.div(ui.p(f"Save the scenario YAML below as {name}.yaml, then on the command line:"),
                          ui.pre(cli, class_="repro-cli"), ui.p("or in Python:"), ui.pre(py, class_="repro-py"))

        def _file(name: str) -> Any:
            folder = repro_folder()
            if folder is not None:
                yield (folder / name).read_bytes()

        @render.download_button(filename=lambda: "series.parquet")
        def dl_series() -> Any:
            yield from _file("series.parquet")

        @render.download_button(filename=lambda: "annual.csv")
        def dl_annual() -> Any:
            yield from _file("annual.csv")

        def scenario_file() -> str:
            folder = repro_folder()
            return f"{read_manifest(folder)['scenario']['name']}.yaml" if folder is not None else "scenario.yaml"

        @render.download_button(filename=scenario_file)  # the name the reproduce commands use
        def dl_scenario() -> Any:
            folder = repro_folder()
            if folder is not None:
                yield builder.to_yaml(read_manifest(folder)["scenario"])

        # -- compare -------------------------------------------------------------------------
        @reactive.calc
        def comparison() -> tuple[pd.DataFrame, list[str], tuple[int, int], str] | tuple[None, None, None, str]:
            """The annual results of the runs compared (common seeds), their labels and the default years."""
            picked = list(input.compare_runs() or [])
            if len(picked) < 2:
                return None, None, None, "Pick two or more runs (the first is the reference)."
            frames, labels, loaded, mans = [], [], [], []
            for exp in picked:
                folders = folders_of(exp)
                if not folders:
                    continue
                man = read_manifest(folders[0])
                label = man["scenario"]["name"]
                if label in labels:
                    label = f"{label} ({exp[:6]})"
                a = figures.read_annual(folders)
                a.insert(0, "scenario", label)
                frames.append(a)
                labels.append(label)
                mans.append(man)
                loaded.append(Scenario(ScenarioSpec.model_validate(man["scenario"]), label))
            common = set.intersection(*(set(f.seed) for f in frames))
            if not common:
                return None, None, None, "These runs share no seed: run them with the same seeds to compare them pairwise."
            if len({(m["start"], m["end"], m["scale"]) for m in mans}) > 1:
                note = "Note: these runs differ in scale or dates; differences mix that in."
            else:
                note = ""
            annual_all = pd.concat(frames, ignore_index=True)
            annual_all = annual_all[annual_all.seed.isin(common)]
            start, end = dt.date.fromisoformat(mans[0]["start"]), dt.date.fromisoformat(mans[0]["end"])
            years = differing_years_of(loaded, start, end)
            return annual_all, labels, years, note

        @reactive.calc
        def window() -> tuple[int, int] | None:
            a, labels, years, _ = comparison()
            if a is None:
                return None
            if input.own_years():
                lo, hi = input.years()
                return int(lo), int(hi)
            return years

        @reactive.effect
        def _compare_choices() -> None:
            a, labels, years, _ = comparison()
            if a is None:
                return
            metrics = sorted(a.metric.unique())
            with reactive.isolate():
                current = input.cmp_metric()
            ui.update_select("cmp_metric", choices=metrics, selected=current if current in metrics else "hsi_mean")
            ui.update_slider("years", min=int(a.year.min()), max=int(a.year.max()), value=years)

        @reactive.calc
        def diffs() -> pd.DataFrame | None:
            a, labels, _, _ = comparison()
            if a is None:
                return None
            return differences(a, window(), labels[0])

        @render.ui
        def compare_head() -> Any:
            a, labels, years, note = comparison()
            if a is None:
                return ui.p(note)
            w = window()
            how = "chosen by you" if input.own_years() else "the years in which the scenarios differ"
            return ui.div(ui.h4(f"Against {labels[0]}: {', '.join(labels[1:])}"),
                          ui.p(f"Seeds {', '.join(map(str, sorted(a.seed.unique())))} in each (the same seeds: common random"
                               f" numbers). Evaluation years {w[0]}-{w[1]} ({how}); the charts over time show every year."),
                          ui.p(note) if note else "", id="compare-head")

        @render.ui
        def tradeoff() -> Any:
            d = diffs()
            if d is None or d.empty:
                return ""
            return ui.HTML(figures.to_html(figures.tradeoff(d, "HSI, HamJi", REVENUE_LABEL, window()), "tradeoff-plot"))

        @render.ui
        def diff_time() -> Any:
            a, labels, _, _ = comparison()
            metric = input.cmp_metric()
            if a is None or not metric:
                return ""
            fig = figures.differences_over_time(a, labels[0], metric, input.cmp_region(), unit(metric), window())
            return ui.HTML(figures.to_html(fig, "diff-time-plot"))

        @render.ui
        def diff_table() -> Any:
            d = diffs()
            if d is None or d.empty:
                return ""
            t = pd.DataFrame({"scenario": d.scenario, "outcome": d.outcome, "years": d.from_year.astype(str) + "-" + d.to_year.astype(str),
                              "reference": d.reference_mean.map(lambda v: f"{v:.4g}"),
                              "change": d.mean_change.map(lambda v: f"{v:+.4g}"),
                              "90% interval": [f"[{lo:+.4g}, {hi:+.4g}]" for lo, hi in zip(d.low90, d.high90)], "seeds": d.seeds})
            return ui.HTML(t.to_html(index=False, classes="table table-sm", border=0))

        @render.ui
        def diff_maps() -> Any:
            a, labels, _, _ = comparison()
            metric = input.cmp_metric()
            if a is None or not metric:
                return ""
            w = window()
            maps = [ui.HTML(figures.to_html(figures.province_map(
                figures.difference_values(a, labels[0], scen, metric, w),
                f"{metric}: {scen} minus {labels[0]}<br>mean over {w[0]}-{w[1]}", unit(metric), diverging=True),
                f"diff-map-{k}")) for k, scen in enumerate(labels[1:])]
            return ui.layout_columns(*maps, col_widths=6)

        # -- the runs tab --------------------------------------------------------------------
        @reactive.calc
        def found() -> tuple[pd.DataFrame, str | None]:
            runs_version()
            try:
                params = dict([parse_param_filter(input.search_param())]) if input.search_param().strip() else None
                since = None
                if input.search_since().strip():
                    since = parse_date(input.search_since(), "written on or after")
                return registry.search(scenario=input.search_scenario().strip() or None, params=params, since=since), None
            except UserError as exc:
                return registry.search(), str(exc)

        @render.ui
        def search_msg() -> Any:
            return _error(f"error: {found()[1]}") if found()[1] else ""

        @reactive.effect
        def _run_choices() -> None:
            t = found()[0]
            with reactive.isolate():
                picked = list(input.run_pick() or [])
            ui.update_selectize("run_pick", choices=list(t.id), selected=[p for p in picked if p in set(t.id)])

        @render.ui
        def runs_table() -> Any:
            t = found()[0]
            if t.empty:
                return ui.p(f"No runs in {runs} match.")
            show = t[["id", "scenario", "seed", "scale", "start", "end", "created", "experiment"]].copy()
            show["created"] = show.created.astype(str).str[:16]
            return ui.HTML(show.to_html(index=False, classes="table table-sm", border=0, table_id="runs-table"))

        def picked_experiments() -> list[str]:
            t = found()[0]
            return list(dict.fromkeys(t[t.id.isin(input.run_pick() or [])].experiment))

        @reactive.effect
        @reactive.event(input.open_run)
        def _open_run() -> None:
            exps = picked_experiments()
            if exps:
                ui.update_select("experiment", selected=exps[0])
                ui.update_navs("tabs", selected="results")

        @reactive.effect
        @reactive.event(input.compare_pick)
        def _compare_pick() -> None:
            exps = picked_experiments()
            if exps:
                ui.update_selectize("compare_runs", selected=exps)
                ui.update_navs("tabs", selected="compare")

        @reactive.effect
        @reactive.event(input.delete_run)
        def _delete_run() -> None:
            for run_id in input.run_pick() or []:
                try:
                    registry.delete(run_id)
                except (UserError, OSError):
                    pass
            run_written()

        # -- validation ----------------------------------------------------------------------
        @render.ui
        def scorecard() -> Any:
            runs_version()
            cards = sorted(Path(runs).glob("validation*.json"), key=lambda p: p.stat().st_mtime)
            intro = ui.p("The pattern scorecard (MODEL.md section 6) and the fit to the real trade data (customs data,"
                         " against the model's trade as Chinese customs records it), as `hamji validate` makes it. Run it from the left"
                         " (in the background, several minutes), or save one from the"
                         f" command line as {Path(runs) / 'validation.json'} (`hamji validate --json`); the newest is shown."
                         " At a coarse scale some patterns can fail for want of households: docs/validation.md gives the"
                         " scorecard at 1:1000.")
            if not cards:
                return ui.div(ui.h4("Validation scorecard"), intro, ui.p(f"No scorecard in {runs} yet."))
            data = json.loads(cards[-1].read_text(encoding="utf-8"))
            rows = "".join(f"<tr><td>{p['number']}</td><td>{html.escape(p['name'])}</td><td>{p['statistic']:.3g}</td>"
                           f"<td>{html.escape(p['threshold'])}</td><td>{'pass' if p['passed'] else 'FAIL'}</td></tr>"
                           for p in data.get("patterns", []))
            fits = "".join(f"<tr><td>{html.escape(f['label'])}</td><td>{f['male']:.2f}</td><td>{f['correlation']:.2f}</td>"
                           f"<td>{f['years'][0]}-{f['years'][-1]}</td></tr>" for f in data.get("trade", []) if f.get("years"))
            return ui.div(ui.h4(f"Validation scorecard ({data.get('seeds')} seeds, 1:{data.get('scale')}, {cards[-1].name}):"
                                f" {'every check passes' if data.get('passed') else 'some checks fail'}"), intro,
                          ui.HTML(f"<table class='table table-sm' id='scorecard-table'><tr><th>#</th><th>pattern</th>"
                                  f"<th>statistic</th><th>threshold</th><th>result</th></tr>{rows}</table>"),
                          ui.h5("Trade: model against the real China-DPRK series"),
                          ui.HTML(f"<table class='table table-sm'><tr><th>series</th><th>mean absolute log error</th>"
                                  f"<th>correlation</th><th>years</th></tr>{fits}</table>"))

    return App(build_ui(), server, static_assets={"/plotly": Path(plotly.__file__).parent / "package_data"})
