"""The ``hamji`` command line (Typer): run, params, plan, scenarios.

A mistake in the user's input exits with code 2 and one line naming the file or option, the key
and what is allowed; nothing is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from hamji import run_window
from hamji.analysis.settings import (
    COMPARE_END,
    COMPARE_FIRST_SEED,
    COMPARE_SCALE,
    COMPARE_SEEDS,
    COMPARE_START,
    DEFAULT_END,
    DEFAULT_SCALE,
    DEFAULT_START,
    EVALUATION_YEARS,
)
from hamji.errors import UserError
from hamji.version import VERSION

try:  # recent Typer carries its own copy of Click
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as _click_errors


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _say_error(message: str) -> None:
    """Print ``error: message`` as one line on stderr (the message is shown as text, never as markup)."""
    err.print(f"[bold red]error:[/] {escape(_one_line(message))}", highlight=False, soft_wrap=True)


class _OneLineErrors(typer.core.TyperGroup):
    """The top-level command: a usage mistake (unknown option, bad option value, missing argument)
    is one line on stderr and exit code 2, like every other input mistake; never a usage box."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:  # the program is `hamji` however it was started (console script, python -m, a test runner)
            rv = super().main(args=args, prog_name="hamji", complete_var=complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except _click_errors.NoArgsIsHelpError as exc:  # `hamji` alone: the help, as before
            exc.show()
            code = exc.exit_code
        except _click_errors.UsageError as exc:  # includes BadParameter, NoSuchOption, MissingParameter
            where = exc.ctx.command_path if exc.ctx is not None else "hamji"
            _say_error(f"{where}: {exc.format_message()} (see `{where} --help`)")
            code = 2
        except _click_errors.ClickException as exc:
            _say_error(exc.format_message())
            code = exc.exit_code
        except UserError as exc:  # raised outside a command (a callback): the same one line
            _say_error(str(exc))
            code = 2
        except typer.Abort:
            _say_error("aborted")
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(cls=_OneLineErrors, add_completion=False, no_args_is_help=True,
                  help="hamji: agent-based model of the Hamgyong-Jilin cross-border economy and human security. "
                       "Output is a scenario, not a forecast.")
scenarios_app = typer.Typer(help="List the built-in scenarios, or show one as YAML to copy and edit.", invoke_without_command=True)
app.add_typer(scenarios_app, name="scenarios")
#: worker processes by default: the cores this process may use (results do not depend on it)
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

# options that several analysis commands share, declared once
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, max=512,
                                         help="Local worker processes (Dask LocalCluster); default: this machine's cores.")]
SchedulerOpt = Annotated[str | None, typer.Option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:port).")]
ScaleOpt = Annotated[str, typer.Option("--scale", help="1:N for the runs.")]
StartOpt = Annotated[str | None, typer.Option("--start", help=f"First week of every run (default {DEFAULT_START}).")]
EndOpt = Annotated[str | None, typer.Option("--end", help=f"Last week of every run (default: the scenario's own end if it"
                                                         f" declares one, else {DEFAULT_END}).")]
DeclaredOpt = Annotated[bool, typer.Option("--declared-ranges", help="Sample each parameter's declared range instead of"
                                                                 " its plausible range.")]
YearsOpt = Annotated[str | None, typer.Option("--years", help=f"Y1-Y2: the years each outcome averages (default: the last"
                                                             f" {EVALUATION_YEARS} of the window).")]
out = Console()
err = Console(stderr=True)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`UserError` into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hamji.scenario import ScenarioWarning

        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], *rest: Any, **kw: Any) -> None:
            if issubclass(category, ScenarioWarning):  # one line, as it happens (before a long run starts)
                err.print(f"[bold yellow]warning:[/] {escape(_one_line(str(message)))}", highlight=False, soft_wrap=True)
            else:
                shown(message, category, *rest, **kw)

        with warnings.catch_warnings():
            warnings.simplefilter("always", ScenarioWarning)
            warnings.showwarning = show
            try:
                return fn(*args, **kwargs)
            except UserError as exc:
                _say_error(str(exc))
                raise typer.Exit(code=2) from None

    return wrapper


def _date(text: str, option: str) -> dt.date:
    """A date option (YYYY-MM-DD, YYYY-MM or YYYY) inside the range a run may span."""
    from hamji.parameters import brief
    from hamji.sim import check_run_date

    for fmt in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return check_run_date(day, option)
    raise UserError(f"{option} {brief(text)}: expected a date as YYYY-MM-DD (or YYYY-MM, YYYY)")


def run_settings(scenario: str, seeds: int, scale: str, start: str | None, end: str | None, years: str | None,
                 workers: int = 1, scheduler: str | None = None) -> Any:
    """The :class:`~hamji.analysis.settings.RunSettings` of an analysis command's options, built as the Python API
    and the web app build them (:func:`hamji.analysis.settings.run_settings`)."""
    from hamji.analysis.settings import run_settings as make

    return make(scenario, seeds, scale, None if start is None else _date(start, "--start"),
                None if end is None else _date(end, "--end"), years, workers, scheduler)


def check_seed(value: int | str, option: str = "--seed") -> int:
    """A seed option: a whole number from 0 to 2**32 - 1, or one line naming ``option`` and the range."""
    from hamji.sim import parse_seed

    return parse_seed(value, option)


def _overrides(assignments: list[str] | None) -> dict[str, str]:
    from hamji.parameters import parse_assignment

    pairs = [parse_assignment(a) for a in assignments or []]
    names = [name for name, _ in pairs]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise UserError(f"--set {twice}: given more than once; set each parameter once")
    return dict(pairs)


@contextlib.contextmanager
def lazy_progress(description: str, unit: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress callback ``(done, total)`` whose bar appears at the first report, once every input is checked."""
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=quiet)
    task: list = []

    def progress(done: int, total: int) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task(description, total=total))
        bar.update(task[0], completed=done)

    try:
        yield progress
    finally:
        bar.stop()


def version_callback(value: bool) -> None:
    if value:
        out.print(f"hamji {VERSION}")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """hamji command line."""


def main(argv: list[str] | None = None) -> None:
    """The ``hamji`` console script: every input mistake is one line on stderr and exit code 2."""
    typer.main.get_command(app).main(args=argv, prog_name="hamji")


@app.command()
@user_errors
def run(
    scenario: str = typer.Argument("baseline", help="Built-in scenario name (see `hamji scenarios`) or a scenario YAML file."),
    scale: str = typer.Option("100", "--scale", help="1:N, one simulated household stands for N real ones (1 = every household)."),
    seed: str = typer.Option("1", "--seed", metavar="INTEGER",
                             help="Random seed (0 to 4294967295); the same seed gives bit-identical results."),
    start: str = typer.Option(str(run_window.DEFAULT_START), "--start", help="First week (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--end", help="Last week (YYYY-MM-DD); default the scenario's own end"
                                       f" (history: 2024-12-30), else {run_window.DEFAULT_END}."),
    out_dir: Path | None = typer.Option(None, "--out", help="Results folder (default runs/<timestamp>-<scenario>/)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a parameter: --set name=value (repeatable)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out folder."),
    quiet: QuietOpt = False,
) -> None:
    """Run one simulation and write series.parquet, annual.csv, manifest.json and report.html."""
    from hamji.output import check_out_dir, default_out_dir, write_run
    from hamji.scenario import load_scenario
    from hamji.sim import Sim

    seed_n = check_seed(seed)
    sc = load_scenario(scenario, _overrides(set_))
    start_d = _date(start, "--start")
    end_d = _date(end, "--end") if end is not None else (sc.spec.end or run_window.DEFAULT_END)
    if end_d < start_d:
        raise UserError(f"--end {end_d} is before --start {start_d}")
    if out_dir is not None:
        check_out_dir(out_dir, overwrite)  # before anything is built, so a mistake costs nothing
    sim = Sim(sc, seed=seed_n, scale=scale, start=start_d, end=end_d)
    target = out_dir if out_dir is not None else default_out_dir(sim.scenario.name)
    check_out_dir(target, overwrite)  # before the first simulated week
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} weeks"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=quiet, transient=False) as bar:
        task = bar.add_task("setting up", total=sim.n_weeks)
        sim.initialize()
        bar.update(task, description=f"{sim.scenario.name} 1:{sim.scale} seed {sim.seed}")
        sim.run(progress=lambda done, total: bar.update(task, completed=done))
    write_run(sim, target, overwrite=overwrite)
    if not quiet:
        out.print(f"wrote {target}/ (series.parquet, annual.csv, manifest.json, report.html) in {sim.wall_time:.1f} s")
    else:
        out.print(str(target))


@app.command()
@user_errors
def params(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    module: str | None = typer.Option(None, "--module", help="Only the parameters of this module."),
    calibratable: bool = typer.Option(False, "--calibratable", help="Only the parameters `hamji calibrate` may fit."),
    uncertain: bool = typer.Option(False, "--uncertain", help="Only the parameters the uncertainty analyses vary by default."),
) -> None:
    """List every parameter with its default, range (and plausible range if uncertain), unit and source."""
    from hamji.parameters import REGISTRY

    specs = [p for p in REGISTRY.values() if (module is None or p.module == module) and (p.calibrate or not calibratable)
             and (p.uncertain or not uncertain)]
    if module is not None and not specs:
        raise UserError(f"--module {module!r}: no such module; allowed: {', '.join(sorted({p.module for p in REGISTRY.values()}))}")
    if as_json:
        sys.stdout.write(json.dumps([p.as_dict() for p in specs], indent=2) + "\n")
        return
    table = Table(title=f"hamji parameters ({len(specs)})", show_lines=False)
    for col in ("name", "default", "range", "plausible (uncertain)", "unit", "module", "source"):
        table.add_column(col, overflow="fold")
    for p in specs:
        plausible = f"[{p.bounds()[0]:g}, {p.bounds()[1]:g}] {p.dist}" if p.uncertain else ""
        table.add_row(p.name, str(p.default), f"[{p.low:g}, {p.high:g}]", plausible, p.unit, p.module, p.source)
    out.print(table)


@app.command()
@user_errors
def plan(
    time_it: bool = typer.Option(False, "--time", help="Also run 2 years at 1:1000 and show the time of each step."),
) -> None:
    """Print the weekly plan: the order in which the mechanisms step each week."""
    from hamji.sim import Sim

    sim = Sim(seed=1, scale=1000 if time_it else 100, start=run_window.DEFAULT_START, end=dt.date(2001, 12, 31))
    if time_it:
        sim.run()
    table = Table(title="weekly plan")
    table.add_column("#", justify="right")
    table.add_column("phase")
    table.add_column("step")
    table.add_column("what it does", overflow="fold")
    if time_it:
        table.add_column("ms/week", justify="right")
    for i, (phase, name, what) in enumerate(sim.phases(), start=1):
        row = [str(i), phase, name, what]
        if time_it:
            timed = phase == "step" and name in sim.timings
            row.append(f"{1000 * sim.timings[name] / sim.n_weeks:.2f}" if timed else "")
        table.add_row(*row)
    out.print(table)


@scenarios_app.callback()
@user_errors
def scenarios(ctx: typer.Context) -> None:
    """List the built-in scenarios with their descriptions."""
    if ctx.invoked_subcommand is not None:
        return
    from hamji.scenario import builtin_names, load_scenario

    table = Table(title="built-in scenarios")
    table.add_column("name")
    table.add_column("description", overflow="fold")
    for name in builtin_names():
        table.add_row(name, load_scenario(name).spec.description.strip())
    out.print(table)


@scenarios_app.command("show")
@user_errors
def scenarios_show(name: str = typer.Argument(..., help="A built-in scenario name.")) -> None:
    """Print a built-in scenario as YAML, to copy into a file and edit."""
    from hamji.scenario import builtin_names, builtin_path

    if name not in builtin_names():
        raise UserError(f"scenario {name!r}: not a built-in scenario; allowed: {', '.join(builtin_names())}")
    sys.stdout.write(builtin_path(name).read_text(encoding="utf-8"))


@app.command()
@user_errors
def compare(
    scenarios_: list[str] = typer.Argument(..., metavar="SCENARIO...", help="Two or more scenarios; the first is the reference."),
    seeds: int = typer.Option(COMPARE_SEEDS, "--seeds", min=1, max=10_000, help="Seeds per scenario (the same seeds in each)."),
    scale: str = typer.Option(str(COMPARE_SCALE), "--scale", help="1:N, as for `hamji run`."),
    workers: WorkersOpt = CORES,
    scheduler: SchedulerOpt = None,
    start: str | None = typer.Option(None, "--start", help=f"First week (default {COMPARE_START})."),
    end: str | None = typer.Option(None, "--end", help=f"Last week (default {COMPARE_END})."),
    from_year: int | None = typer.Option(None, "--from-year",
                                         help="First year of the evaluation window"
                                         " (default: the first year in which the scenarios differ)."),
    to_year: int | None = typer.Option(None, "--to-year",
                                       help="Last year of the evaluation window (default: the last year in which the scenarios differ)."),
    first_seed: int = typer.Option(COMPARE_FIRST_SEED, "--first-seed", help="Seeds are first-seed, first-seed+1, ..."),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for comparison.parquet, differences.csv and comparison.html;"
                                           " run again with the same --out to resume an interrupted comparison."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out folder."),
    posterior: Path | None = typer.Option(None, "--posterior", help="posterior.parquet of `hamji calibrate --method abc`:"
                                             " each seed runs every scenario with one parameter set drawn from it, so the"
                                             " intervals carry parameter uncertainty as well as noise."),
    quiet: QuietOpt = False,
) -> None:
    """Run scenarios over many seeds and compare them: human security gained against regime revenue added.

    Each finished seed is kept in .<out-name>.partial/ beside --out until the results are written, so
    the same command with the same --out resumes an interrupted comparison.
    """
    from hamji.analysis.ensemble import check_scheduler

    if len(scenarios_) < 2:
        raise UserError("compare: give at least two scenarios (the first is the reference)")
    if scheduler is not None:  # first, so an unreachable scheduler is reported within seconds
        check_scheduler(scheduler)
    from hamji.analysis.compare import compare_spec, run_comparison
    from hamji.output import default_out_dir

    start_d = _date(start, "--start") if start is not None else None
    end_d = _date(end, "--end") if end is not None else None
    # the years in which the scenarios differ (hamji.analysis.compare.differing_years), each end unless given
    years = (from_year, to_year) if from_year is not None or to_year is not None else None
    spec = compare_spec(scenarios_, seeds, scale, start_d, end_d, years, first_seed, posterior, workers, scheduler)
    target = out_dir if out_dir is not None else default_out_dir("compare-" + "-".join(Path(s).stem for s in scenarios_))
    with lazy_progress(f"{len(scenarios_)} scenarios x {seeds} seeds (one task per seed)", "seeds", quiet) as progress:
        annual, diffs = run_comparison(spec, target, overwrite=overwrite, progress=progress,
                                       log=lambda text: err.print(text, highlight=False, markup=False, soft_wrap=True))
    names = list(dict.fromkeys(annual.scenario))
    years = (int(diffs.from_year.iloc[0]), int(diffs.to_year.iloc[0]))
    table = Table(title=f"change against {names[0]}, mean over {seeds} seeds and the years {years[0]}-{years[1]}"
                        f" (90% interval {diffs.interval.iloc[0]})")
    for col in ("scenario", "outcome", "change", "90% interval"):
        table.add_column(col)
    for _, r in diffs.iterrows():
        table.add_row(r.scenario, r.outcome, f"{r.mean_change:+.4g}", f"[{r.low90:+.4g}, {r.high90:+.4g}]")
    out.print(table)
    extra = ", posterior_draws.csv" if posterior is not None else ""
    out.print(f"wrote {target}/ (comparison.parquet, comparison.html, differences.csv{extra})")


@app.command()
@user_errors
def validate(
    seeds: int = typer.Option(3, "--seeds", min=1, max=1000, help="Seeds per ensemble."),
    scale: str = typer.Option("1000", "--scale", help="1:N for the validation runs."),
    workers: int = typer.Option(CORES, "--workers", min=1, max=512, help="Local worker processes; default: this machine's cores."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable scorecard."),
    quiet: QuietOpt = False,
) -> None:
    """Run the validation scorecard: the patterns of MODEL.md section 6 and the fit to real trade data.

    Exit code 0 only if every check passes (1 otherwise).
    """
    from hamji.analysis.validation import scorecard, scorecard_stages
    from hamji.sim import parse_scale

    n = parse_scale(scale)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} runs"),
                  TimeElapsedColumn(), console=err, disable=quiet or as_json) as bar:
        runs = {name: per_seed * seeds for name, per_seed in scorecard_stages()}
        jobs: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:  # a stage's bar appears as it starts
            if stage not in jobs:
                jobs[stage] = bar.add_task(stage, total=runs[stage])
            bar.update(jobs[stage], completed=done)

        card = scorecard(seeds=seeds, scale=n, workers=workers, progress=progress)
    results, fits, rice_table, passed = card.patterns, card.trade, card.rice, card.passed
    if as_json:
        sys.stdout.write(card.to_json() + "\n")
    else:
        table = Table(title=f"hamji validation scorecard ({seeds} seeds, 1:{n})")
        for col in ("#", "pattern", "statistic", "threshold", "result", "detail"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(str(r.number), r.name, f"{r.statistic:.3g}", r.threshold,
                          "[green]pass[/]" if r.passed else "[red]FAIL[/]", r.detail)
        out.print(table)
        for f in fits:
            fit = Table(title=f"{f.label}: model as Chinese customs records it vs data (customs data, US$ million)")
            for col in ("year", "model recorded", "model total", "data", "log error"):
                fit.add_column(col, justify="right")
            totals = f.total_usd_m or [float("nan")] * len(f.years)
            for y, m, t, d, e in zip(f.years, f.model_usd_m, totals, f.data_usd_m, f.log_errors):
                fit.add_row(str(y), f"{m:,.0f}", f"{t:,.0f}", f"{d:,.0f}", f"{e:+.2f}")
            fit.caption = (f"mean absolute log error {f.male:.2f}, correlation {f.correlation:.2f} (recorded series;"
                           " the total, recorded or not, is not fitted)")
            out.print(fit)
        rt = Table(title="rice in US$ per kg: model (history, mean over seeds) vs prices.csv")
        for col in ("year", "model", "data", "error", "sample"):
            rt.add_column(col, justify="right")
        for y, row in rice_table.iterrows():
            rt.add_row(str(y), f"{row.model:.2f}", f"{row.data:.2f}", f"{100 * row.error:+.0f}%", row["sample"])
        out.print(rt)
    raise typer.Exit(code=0 if passed else 1)


@app.command()
@user_errors
def discover(
    condition: str = typer.Option(..., "--condition", help="What to look for: OUTCOME OP NUMBER (OP one of < <= > >=),"
                                  " clauses joined by 'and'; e.g. 'leader_fund_usd:DPRK > 1e7'."),
    effect: str | None = typer.Option(None, "--effect", help="A scenario: each outcome becomes its difference from"
                                         " --scenario on the same seed and parameters (the intervention's effect)."),
    scenario: str = typer.Option("baseline", "--scenario", help="The scenario (or the reference, with --effect)."),
    params: list[str] | None = typer.Option(None, "--param", help="A parameter to vary (repeat; a registry name or an event"
                                                " key TYPE.key); default: every parameter declared uncertain."),
    samples: int = typer.Option(100, "--samples", min=1, max=100_000, help="Latin hypercube samples (at least 20)."),
    seeds: int = typer.Option(1, "--seeds", min=1, max=1000, help="Seeds averaged per sample (the same seeds for every sample)."),
    scale: ScaleOpt = str(DEFAULT_SCALE),
    start: StartOpt = None,
    end: EndOpt = None,
    years: YearsOpt = None,
    threshold: float = typer.Option(0.8, "--threshold", help="The density (share of cases of interest) a box must reach."),
    declared: DeclaredOpt = False,
    workers: WorkersOpt = CORES,
    scheduler: SchedulerOpt = None,
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for boxes.parquet, experiments.parquet and"
                                           " discover.html; run again with the same --out to resume."),
    quiet: QuietOpt = False,
) -> None:
    """Scenario discovery (PRIM): under which assumptions does the condition hold?

    A Latin hypercube over the uncertain parameters is run (each sample with the same seeds), the
    condition marks the samples where it holds, and PRIM finds the box of parameter values where
    those are dense. Finished runs are kept in OUT/.tasks until the results are written: the same
    command resumes an interrupted discovery.
    """
    from hamji.analysis.ensemble import check_scheduler

    if scheduler is not None:
        check_scheduler(scheduler)
    from hamji.analysis.discover import MIN_CASES, QP_MEANINGFUL, discover_spec, qp_text
    from hamji.analysis.discover import discover as run_discover
    from hamji.analysis.experiments import resolve_params
    from hamji.output import default_out_dir

    run_ = run_settings(scenario, seeds, scale, start, end, years, workers, scheduler)
    spec = discover_spec(condition, list(params) if params else None, effect, samples=samples, threshold=threshold,
                         declared=declared, run=run_)
    names, notes = resolve_params(spec.params, [scenario] + ([effect] if effect else []))
    for note in notes:
        err.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    target = out_dir if out_dir is not None else default_out_dir("discover")
    runs = samples * seeds * (2 if effect else 1)
    with lazy_progress(f"discover: {len(names)} parameters, {samples} samples, {runs} runs", "tasks", quiet) as progress:
        boxes, exp = run_discover(spec, target, workers=workers, scheduler=scheduler, progress=progress)
    cases = int(exp.drop_duplicates("sample").case_of_interest.sum())
    out.print(f"the condition holds in {cases} of {samples} samples")
    chosen = boxes[boxes.chosen]
    if len(chosen):
        c = chosen.iloc[0]
        table = Table(title=f"PRIM box: coverage {c.coverage:.2f}, density {c.density:.2f}, mass {c.mass:.2f}")
        for col in ("parameter", "low", "high", "qp low", "qp high"):
            table.add_column(col)
        for r in chosen.dropna(subset=["param"]).itertuples():
            table.add_row(r.param, f"{r.low:.4g}", f"{r.high:.4g}", qp_text(r.qp_low), qp_text(r.qp_high))
        table.caption = f"a restriction with a quasi-p value above {QP_MEANINGFUL:g} may be chance"
        out.print(table)
        if cases < MIN_CASES:
            out.print(f"only {cases} case(s) of interest: a box around so few says little; run more samples")
    elif len(boxes):
        out.print(f"no box reaches a density of {threshold:g}; discover.html shows the peeling trajectory")
    out.print(f"wrote {target}/ (boxes.parquet, experiments.parquet, discover.html)")


@app.command()
@user_errors
def calibrate(
    params: list[str] | None = typer.Option(None, "--param", help="A calibratable parameter to fit (repeat; default: the"
                                                " trade drivers). `hamji params --calibratable` lists them."),
    trials: int = typer.Option(40, "--trials", min=1, max=100_000, help="Candidates to evaluate in all (a resumed study adds up to this)."),
    seeds: int = typer.Option(2, "--seeds", min=1, max=1000, help="Seeds per candidate."),
    scale: str = typer.Option("1000", "--scale", help="1:N for the calibration runs."),
    workers: WorkersOpt = CORES,
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler."),
    sampler_seed: int = typer.Option(1, "--sampler-seed", help="Seed of the TPE sampler, or of what ABC draws (a"
                                     " calibration is repeatable; ABC bit-repeatable with one worker)."),
    out_file: Path | None = typer.Option(None, "--out", help="optuna: the calibrated parameter file to write (default"
                                            " runs/calibration/calibrated.yaml); the study (.study.db) and the seeds in"
                                            " progress (.tasks/) beside it let an interrupted calibration resume. abc: the"
                                            " folder (default runs/abc/) for abc.db, posterior.parquet, diagnostics.parquet"
                                            " and posterior.html; the same --out resumes."),
    method: str = typer.Option("optuna", "--method", help="optuna (one best parameter set) or abc (a posterior: ABC-SMC with pyabc)."),
    population: int = typer.Option(40, "--population", min=2, max=100_000, help="abc: particles per generation."),
    generations: int = typer.Option(4, "--generations", min=1, max=1000, help="abc: generations in all, the first being the"
                                    " prior sample (a resumed run adds up to this)."),
    min_epsilon: float = typer.Option(0.0, "--min-epsilon", min=0.0, help="abc: stop once the tolerance is at or below this"
                                      " (in the units of the optuna loss)."),
    quiet: QuietOpt = False,
) -> None:
    """Fit uncertain parameters to the real China-DPRK trade series (history scenario), with optuna or ABC-SMC.

    optuna writes a parameter file with the fitted values, the fit before (current defaults) and after,
    and how it was made; copy it over src/hamji/calibrated.yaml to make it the shipped defaults. abc
    writes a weighted posterior sample, its diagnostics and a page of marginals, for `hamji compare
    --posterior`.
    """
    from hamji.analysis.ensemble import check_scheduler

    if method not in ("optuna", "abc"):
        raise UserError(f"calibrate --method {method!r}: allowed optuna, abc")
    if scheduler is not None:  # first, so an unreachable scheduler is reported within seconds
        check_scheduler(scheduler)
    if method == "abc":
        _calibrate_abc(params, population, generations, min_epsilon, seeds, scale, workers, scheduler, sampler_seed,
                       out_file or Path("runs/abc"), quiet)
        return
    out_file = out_file or Path("runs/calibration/calibrated.yaml")
    from hamji.analysis.calibration import DEFAULT_PARAMS, CalibrationSpec
    from hamji.analysis.calibration import calibrate as run_calibration
    from hamji.sim import parse_scale

    spec = CalibrationSpec(params=tuple(params) if params else DEFAULT_PARAMS, trials=trials, seeds=seeds,
                           scale=parse_scale(scale), sampler_seed=sampler_seed, workers=workers, scheduler=scheduler)
    spec.check()
    with lazy_progress(f"calibrating {len(spec.params)} parameters ({seeds} seeds per trial)", "trials", quiet) as progress:
        result = run_calibration(spec, out_file, progress=progress)
    before, after = result["fit_before"], result["fit_after"]
    table = Table(title=f"calibration: {result['how']['trials']} trials, loss {before['loss']:.3f} -> {after['loss']:.3f}")
    for col in ("series", "MALE before", "MALE after", "correlation before", "correlation after"):
        table.add_column(col, justify="right")
    for label in (k for k in after if isinstance(after[k], dict)):
        table.add_row(label, f"{before[label]['male']:.3f}", f"{after[label]['male']:.3f}",
                      f"{before[label]['correlation']:.3f}", f"{after[label]['correlation']:.3f}")
    out.print(table)
    for k, v in result["params"].items():
        out.print(f"  {k} = {v:g}  (before {before['params'][k]:g})")
    out.print(f"wrote {out_file}")


@app.command()
@user_errors
def sensitivity(
    method: str = typer.Option("morris", "--method", help="morris (screening, default), sobol (S1 and ST with intervals) or delta."),
    params: list[str] | None = typer.Option(None, "--param", help="A parameter to vary (repeat; a registry name or an event"
                                                " key TYPE.key); default: every parameter declared uncertain."),
    outcomes: list[str] | None = typer.Option(None, "--outcome", help="METRIC:REGION (repeat); default: hsi_mean:HamJi"
                                                  " and regime_revenue_usd:DPRK."),
    effect: str | None = typer.Option(None, "--effect", help="A scenario: each outcome becomes its difference from"
                                         " --scenario on the same seed and parameters (the intervention's effect)."),
    scenario: str = typer.Option("baseline", "--scenario", help="The scenario (or the reference, with --effect)."),
    samples: int | None = typer.Option(None, "--samples", min=2, max=100_000, help="Morris trajectories (default 4),"
                                          " Sobol' base samples N (default 64) or delta samples (default 128)."),
    seeds: int = typer.Option(1, "--seeds", min=1, max=1000, help="Seeds averaged per sample (the same seeds for every sample)."),
    scale: ScaleOpt = str(DEFAULT_SCALE),
    start: StartOpt = None,
    end: EndOpt = None,
    years: YearsOpt = None,
    groups: str | None = typer.Option(None, "--groups", help="module: Morris screening of groups, one per module"
                                         " (fewer runs when many parameters vary)."),
    declared: DeclaredOpt = False,
    workers: WorkersOpt = CORES,
    scheduler: SchedulerOpt = None,
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for sensitivity.parquet, experiments.parquet and"
                                           " sensitivity.html; run again with the same --out to resume."),
    quiet: QuietOpt = False,
) -> None:
    """Global sensitivity analysis (SALib): which uncertain parameters decide an outcome or an intervention's effect.

    Every sample runs the same seeds (common random numbers), so a parameter that cannot change an
    outcome gets an index of exactly zero. Finished runs are kept in OUT/.tasks until the results are
    written: the same command resumes an interrupted analysis.
    """
    from hamji.analysis.ensemble import check_scheduler

    if scheduler is not None:
        check_scheduler(scheduler)
    from hamji.analysis.experiments import resolve_params
    from hamji.analysis.sensitivity import n_runs, ranking, sensitivity_spec
    from hamji.analysis.sensitivity import sensitivity as run_sensitivity
    from hamji.output import default_out_dir

    run_ = run_settings(scenario, seeds, scale, start, end, years, workers, scheduler)
    spec = sensitivity_spec(method, list(params) if params else None, outcomes, effect, samples=samples, groups=groups,
                            declared=declared, run=run_)
    names, notes = resolve_params(spec.params, [scenario] + ([effect] if effect else []))
    for note in notes:
        err.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    target = out_dir if out_dir is not None else default_out_dir(f"sensitivity-{method}")
    runs = n_runs(spec, names)
    with lazy_progress(f"{method}: {len(names)} parameters, {runs} runs", "runs", quiet) as progress:
        indices, _ = run_sensitivity(spec, target, workers=workers, scheduler=scheduler, progress=progress)
    rank = ranking(indices)
    for o in spec.outcomes:
        r = rank[rank.outcome == o.name].head(10)
        table = Table(title=f"{o.name}{' effect of ' + effect if effect else ''}, {o.years[0]}-{o.years[1]}:"
                            f" the parameters that matter most ({r['index'].iloc[0] if len(r) else ''})")
        for col in ("rank", "parameter", "index", "interval"):
            table.add_column(col)
        for _, x in r.iterrows():
            table.add_row(str(x["rank"]), x.param, f"{x.value:.4g}", f"[{x.low:.3g}, {x.high:.3g}]")
        out.print(table)
    out.print(f"wrote {target}/ (sensitivity.parquet, experiments.parquet, sensitivity.html)")


def _calibrate_abc(params: list[str] | None, population: int, generations: int, min_epsilon: float, seeds: int, scale: str,
                   workers: int, scheduler: str | None, sampler_seed: int, out_dir: Path, quiet: bool) -> None:
    """`hamji calibrate --method abc`: run or resume ABC-SMC and print the posterior's summary."""
    from hamji.analysis.abc import RANGE_QUANTILES, ABCSpec, calibrate_abc, summary
    from hamji.analysis.calibration import DEFAULT_PARAMS
    from hamji.sim import parse_scale

    spec = ABCSpec(params=tuple(params) if params else DEFAULT_PARAMS, population=population, generations=generations,
                   min_epsilon=min_epsilon, seeds=seeds, scale=parse_scale(scale), sampler_seed=sampler_seed,
                   workers=workers, scheduler=scheduler)
    spec.check()
    with lazy_progress(f"ABC-SMC, {len(spec.params)} parameters, population {population}", "generations", quiet) as progress:
        posterior, diagnostics = calibrate_abc(spec, out_dir, progress=progress,
                                               log=lambda text: err.print(text, highlight=False, markup=False, soft_wrap=True))
    table = Table(title=f"ABC-SMC: {int(diagnostics.evaluations.sum())} evaluations, {len(diagnostics)} generations")
    for col in ("generation", "epsilon", "acceptance", "ESS"):
        table.add_column(col, justify="right")
    for _, r in diagnostics.iterrows():
        table.add_row(str(int(r.generation)), f"{r.epsilon:.4g}", f"{r.acceptance_rate:.2f}", f"{r.ess:.1f}")
    out.print(table)
    q = f"{round(100 * RANGE_QUANTILES[0])}-{round(100 * RANGE_QUANTILES[1])}%"
    for _, r in summary(posterior).iterrows():
        out.print(f"  {r.param}: mean {r['mean']:.4g}, {q} [{r.low:.4g}, {r.high:.4g}] (shipped {r.shipped:.4g})")
    out.print(f"wrote {out_dir}/ (posterior.parquet, diagnostics.parquet, posterior.html; abc.db resumes)")


# -- the run registry and the web app (issue 17) ------------------------------------------------------------


def _day(text: str | None, option: str) -> dt.date | None:
    """A day filter (YYYY-MM-DD), or None when not given."""
    if text is None:
        return None
    from hamji.scenario import parse_date

    return parse_date(text, option)


@app.command("runs")
@user_errors
def runs_(
    runs_dir: Path = typer.Option(Path("runs"), "--runs", help="The folder holding the run folders (indexed in runs.duckdb there)."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only runs whose scenario name contains this (any case)."),
    param: list[str] | None = typer.Option(None, "--param", help="Only runs with this resolved parameter value: name=value (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Only runs written on or after this day (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Only runs written on or before this day (YYYY-MM-DD)."),
    delete: str | None = typer.Option(None, "--delete", metavar="RUN", help="Delete this run's folder (its id, as listed)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the runs in a runs folder (CLI and web alike), from their manifests; search by scenario, parameter and date."""
    from hamji.run_registry import RunRegistry, parse_param_filter

    if not runs_dir.is_dir():
        raise UserError(f"--runs {runs_dir}: no such folder")
    registry = RunRegistry(runs_dir)
    if delete is not None:
        registry.delete(delete)
        out.print(f"deleted {runs_dir / delete}")
        return
    filters = dict(parse_param_filter(p) for p in param or [])
    found = registry.search(scenario=scenario, params=filters, since=_day(since, "--since"), until=_day(until, "--until"))
    if as_json:
        sys.stdout.write(found.to_json(orient="records", date_format="iso", indent=2) + "\n")
        return
    table = Table(title=f"runs in {runs_dir} ({len(found)})")
    for col in ("id", "scenario", "seed", "scale", "start", "end", "written", "experiment"):
        table.add_column(col, overflow="fold")
    for r in found.itertuples():
        table.add_row(r.id, r.scenario, str(r.seed), f"1:{r.scale}", str(r.start)[:10], str(r.end)[:10],
                      str(r.created)[:16], r.experiment)
    out.print(table)


@app.command()
@user_errors
def optimize(
    budget: float = typer.Option(30e6, "--budget", help="Total budget of the programs, US$ a year (default 30e6)."),
    objectives: list[str] | None = typer.Option(None, "--objective", help="max:METRIC:REGION, min:METRIC:REGION or"
                                                    " min:cost (repeat); each an effect against baseline; default:"
                                                    " max:hsi_mean:HamJi and min:regime_revenue_usd:DPRK."),
    levers: list[str] | None = typer.Option(None, "--lever", help="A lever to search (repeat); default: all of them"
                                                " (the others stay at their defaults). See docs/policy-design.md."),
    trials: int = typer.Option(24, "--trials", min=1, max=100_000, help="Designs to evaluate in all (a resumed search adds up to this)."),
    population: int = typer.Option(8, "--population", min=2, max=10_000, help="Designs per NSGA-II generation (one batch of runs)."),
    seeds: int = typer.Option(1, "--seeds", min=1, max=1000, help="Seeds averaged per design (the same for every design)."),
    scale: ScaleOpt = str(DEFAULT_SCALE),
    start: StartOpt = None,
    end: EndOpt = None,
    years: YearsOpt = None,
    sampler_seed: int = typer.Option(1, "--sampler-seed", help="Seed of the NSGA-II sampler (a search is repeatable)."),
    workers: WorkersOpt = CORES,
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler (its workers must see --out)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for frontier.parquet and frontier.html; the study"
                                           " (study.db) and runs in progress (.tasks) let the same --out resume."),
    quiet: QuietOpt = False,
) -> None:
    """Search the mix of programs under a total budget (NSGA-II): the Pareto front of human security
    gained against regime revenue added, with the paper's recommendations and each program alone as
    reference points."""
    from hamji.analysis.ensemble import check_scheduler

    if scheduler is not None:
        check_scheduler(scheduler)
    from hamji.analysis import policy
    from hamji.output import default_out_dir

    run_ = run_settings(policy.DEFAULT_SCENARIO, seeds, scale, start, end, years, workers, scheduler)
    spec = policy.optimize_spec(budget, objectives, levers, trials, population, sampler_seed, run_)
    target = out_dir if out_dir is not None else default_out_dir("optimize")
    with lazy_progress(f"optimize: {trials} designs x {seeds} seed(s)", "runs", quiet) as progress:
        table = policy.optimize(spec, target, progress=progress)
    front = table[(table.kind == "design") & table.pareto]
    t = Table(title=f"the front: {len(front)} of {int((table.kind == 'design').sum())} designs")
    t.add_column("trial")
    for o in spec.objectives:
        t.add_column(str(o), justify="right")
    t.add_column("design")
    for r in front.sort_values(spec.objectives[0].name).to_dict("records"):
        t.add_row(str(r["trial"]), *(f"{r[o.name]:.4g}" for o in spec.objectives), r["description"])
    out.print(t)
    out.print(f"wrote {target}/ (frontier.parquet, frontier.html)")


@app.command()
@user_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int | None = typer.Option(None, "--workers", min=1, max=512,
                                       help="Local worker processes for runs (Dask LocalCluster); default: this machine's cores."),
    scheduler: str | None = typer.Option(None, "--scheduler",
                                         help="Address of an existing Dask scheduler (tcp://host:port) to run on instead."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs", help="The folder where runs are written and listed (created if absent)."),
) -> None:
    """Start the web app: build, run and compare scenarios in the browser (runs go to background workers)."""
    from hamji.analysis.ensemble import check_scheduler

    if workers is not None and scheduler is not None:
        raise UserError("--workers and --scheduler: give one (local workers, or an existing Dask cluster)")
    if scheduler is not None:  # first, so an unreachable scheduler is reported within seconds
        check_scheduler(scheduler)
    from hamji.web import serve as serve_app

    serve_app(host=host, port=port, workers=workers or CORES, scheduler=scheduler, runs=runs_dir,
              log=lambda text: err.print(text, highlight=False, markup=False, soft_wrap=True))


@app.command()
@user_errors
def robust(
    designs: list[str] = typer.Argument(..., help="Designs: built-in scenario names, scenario files,"
                                        " frontier.parquet (its front) or frontier.parquet:TRIAL."),
    worlds: int = typer.Option(10, "--worlds", min=1, max=100_000,
                               help="Plausible worlds (Latin hypercube over the uncertain parameters)."),
    criterion: str = typer.Option("max:hsi_mean:HamJi", "--criterion", help="What 'best' means: max:METRIC:REGION,"
                                  " min:METRIC:REGION or min:cost, an effect against baseline."),
    satisfice: str | None = typer.Option(None, "--satisfice", help="Thresholds: OUTCOME OP NUMBER [and ...] on the"
                                            " effects, e.g. 'hsi_mean:HamJi > 0 and regime_revenue_usd:DPRK < 1e6'."),
    params: list[str] | None = typer.Option(None, "--param", help="An uncertain parameter to vary (repeat); default: all."),
    declared: bool = typer.Option(False, "--declared-ranges", help="Sample declared ranges instead of plausible ones."),
    posterior: Path | None = typer.Option(None, "--posterior", help="posterior.parquet of `hamji calibrate --method abc`:"
                                             " each world is a weighted draw from it instead of a Latin hypercube point."),
    seeds: int = typer.Option(1, "--seeds", min=1, max=1000, help="Seeds averaged per design and world."),
    scale: ScaleOpt = str(DEFAULT_SCALE),
    start: StartOpt = None,
    end: EndOpt = None,
    years: YearsOpt = None,
    workers: WorkersOpt = CORES,
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler (its workers must see --out)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for robustness.parquet, worlds.parquet and"
                                           " robustness.html; run again with the same --out to resume."),
    quiet: QuietOpt = False,
) -> None:
    """How robust is each design across plausible worlds: the share of worlds where it is best, its
    regret (gap to the best design in each world) and its satisficing rate."""
    from hamji.analysis.ensemble import check_scheduler

    if scheduler is not None:
        check_scheduler(scheduler)
    from hamji.analysis import policy
    from hamji.output import default_out_dir

    run_ = run_settings(policy.DEFAULT_SCENARIO, seeds, scale, start, end, years, workers, scheduler)
    spec = policy.robust_spec(designs, worlds, criterion, satisfice, params, declared, run_, posterior)
    target = out_dir if out_dir is not None else default_out_dir("robust")
    with lazy_progress(f"robust: {len(designs)} design(s) in {worlds} worlds", "runs", quiet) as progress:
        table, _ = policy.robust(spec, target, progress=progress)
    t = Table(title=f"robustness on {criterion} over {worlds} worlds")
    for col in ("design", "mean", "best share", "regret median", f"regret p{policy.REGRET_QUANTILE * 100:.0f}", "satisficing"):
        t.add_column(col, justify="right")
    for r in table.to_dict("records"):
        t.add_row(r["design"], f"{r['criterion_mean']:.4g}", f"{r['best_share']:.0%}", f"{r['regret_median']:.4g}",
                  f"{r['regret_p90']:.4g}", "" if r["satisficing"] != r["satisficing"] else f"{r['satisficing']:.0%}")
    out.print(t)
    out.print(f"wrote {target}/ (robustness.parquet, worlds.parquet, robustness.html)")


if __name__ == "__main__":  # python -m hamji.cli
    app()
