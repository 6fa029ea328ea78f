"""One set of run settings for every entry point: the default window, the evaluation years that follow
it, and the same defaults from the command line, the Python API, the EMA adapter and the web jobs."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

import hamji
from hamji.analysis import compare as compare_mod
from hamji.analysis import discover as discover_mod
from hamji.analysis import ema, policy, settings
from hamji.analysis import sensitivity as sensitivity_mod
from hamji.analysis.settings import DEFAULT_END, DEFAULT_START, RunSettings, default_years, run_settings
from hamji.cli import app
from hamji.errors import UserError
from hamji.web import jobs

#: windows (start, end) and the evaluation years each gets by default
WINDOWS = [(None, None, (2016, 2020)), ("2004-01-05", "2006-12-25", (2004, 2006)),
           ("2004-01-05", "2008-12-29", (2004, 2008)), ("2010-01-04", "2025-12-29", (2021, 2025)),
           ("2012-01-02", "2012-12-31", (2012, 2012))]


class Captured(Exception):
    """Raised by a stand-in for an analysis: the spec it was given, and nothing run."""


@pytest.fixture
def capture(monkeypatch):
    """Replace the analyses' runners with one that records the spec and stops."""
    seen = []

    def fake(spec, *args, **kwargs):
        seen.append(spec)
        raise Captured()

    monkeypatch.setattr(sensitivity_mod, "sensitivity", fake)
    monkeypatch.setattr(discover_mod, "discover", fake)
    monkeypatch.setattr(policy, "optimize", fake)
    return seen


def test_the_defaults_are_written_once_and_give_the_last_five_years():
    r = RunSettings()
    assert (r.start, r.end, r.years) == (DEFAULT_START, DEFAULT_END, (2016, 2020))
    assert default_years(dt.date(2004, 1, 5), dt.date(2006, 12, 25)) == (2004, 2006)
    assert r.replace(start=dt.date(2004, 1, 5), end=dt.date(2006, 12, 25)).years == (2004, 2006)
    assert run_settings() == r


def test_the_ema_adapter_accepts_any_window_and_chooses_its_years_inside():
    m = ema.model(scenario="baseline", scale=1000, start="2004-01-05", end="2006-12-25")
    assert (m.function.start, m.function.end) == (dt.date(2004, 1, 5), dt.date(2006, 12, 25))
    assert {o.years for o in m.function.outcomes} == {(2004, 2006)}
    with pytest.raises(UserError, match=r"years \(2016, 2020\): expected .* within 2004-2006"):
        ema.model(scenario="baseline", scale=1000, start="2004-01-05", end="2006-12-25", years=(2016, 2020))


@pytest.mark.parametrize("start, end, years", WINDOWS)
def test_every_entry_point_chooses_the_same_default_years(start, end, years, capture):
    window = [a for k, v in (("--start", start), ("--end", end)) if v is not None for a in (k, v)]
    # the command line
    for command in (["sensitivity"], ["discover", "--condition", "hsi_mean:HamJi > 0"], ["optimize"]):
        result = CliRunner().invoke(app, [*command, *window, "--quiet", "--workers", "1"])
        assert isinstance(result.exception, Captured), result.output
    # the Python API
    kw = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    for call in (lambda: hamji.sensitivity(**kw), lambda: hamji.discover("hsi_mean:HamJi > 0", **kw),
                 lambda: hamji.optimize(**kw)):
        with pytest.raises(Captured):
            call()
    cli_sens, cli_disc, cli_opt, api_sens, api_disc, api_opt = capture
    found = {tuple(o.years for o in cli_sens.outcomes), tuple(o.years for o in api_sens.outcomes)}
    assert found == {(years, years)}
    assert {o.years for s in (cli_disc, api_disc) for o in s.condition.outcomes} == {years}
    assert {o.outcome.years for s in (cli_opt, api_opt) for o in s.objectives} == {years}
    assert cli_sens.run.replace(workers=1) == api_sens.run
    # the EMA adapter and the web jobs
    assert {o.years for o in ema.model(**kw).function.outcomes} == {years}
    assert jobs.optimize_spec(kw).run.years == years
    assert sensitivity_mod.sensitivity_spec(**kw).run.years == years


def test_explicit_years_outside_the_window_are_one_clear_message_everywhere(capture):
    result = CliRunner().invoke(app, ["sensitivity", "--start", "2004-01-05", "--end", "2006-12-25", "--years", "2016-2020"])
    assert result.exit_code == 2 and "inside the run's years 2004-2006" in result.output
    with pytest.raises(UserError, match="inside the run's years 2004-2006"):
        hamji.sensitivity(start="2004-01-05", end="2006-12-25", years="2016-2020")
    with pytest.raises(UserError, match="is before"):
        run_settings(start="2010-01-04", end="2009-12-28")
    assert not capture


def test_the_window_follows_a_scenario_that_declares_its_end():
    r = run_settings("history")
    assert r.end == settings.scenario_end("history") == dt.date(2024, 12, 30)
    assert r.years == (2020, 2024)
    assert run_settings("history", end="2020-12-28").end == DEFAULT_END


@pytest.fixture
def capture_compare(monkeypatch):
    """Replace the comparison's runner with one that records the spec and stops."""
    seen = []

    def fake(spec, *args, **kwargs):
        seen.append(spec)
        raise Captured()

    monkeypatch.setattr(compare_mod, "run_comparison", fake)
    return seen


@pytest.mark.parametrize("given", [{}, {"start": "2004-01-05", "end": "2012-12-31", "from_year": 2011},
                                   {"seeds": 3, "scale": "1:500", "first_seed": 7, "to_year": 2015}])
def test_compare_defaults_the_same_from_the_command_line_and_the_python_api(given, capture_compare, tmp_path):
    options = {"start": "--start", "end": "--end", "seeds": "--seeds", "scale": "--scale", "first_seed": "--first-seed",
               "from_year": "--from-year", "to_year": "--to-year"}
    args = [a for k, v in given.items() for a in (options[k], str(v))]
    result = CliRunner().invoke(app, ["compare", "baseline", "microlending", *args, "--quiet", "--workers", "1",
                                      "--out", str(tmp_path / "c")])
    assert isinstance(result.exception, Captured), result.output
    kw = {k: v for k, v in given.items() if k not in ("from_year", "to_year")}
    if "from_year" in given or "to_year" in given:
        kw["years"] = (given.get("from_year"), given.get("to_year"))
    with pytest.raises(Captured):
        hamji.compare(["baseline", "microlending"], **kw)
    cli, api = capture_compare
    assert (cli.scenarios, cli.first_seed, cli.posterior, cli.run) == (api.scenarios, api.first_seed,
                                                                       api.posterior, api.run)
    start = dt.date.fromisoformat(given.get("start", str(settings.COMPARE_START)))
    end = dt.date.fromisoformat(given.get("end", str(settings.COMPARE_END)))
    differ = compare_mod.differing_years(["baseline", "microlending"], start, end)
    assert api.run.years == (given.get("from_year", differ[0]), given.get("to_year", differ[1]))
    assert (api.run.start, api.run.end, api.run.seeds, api.run.scale, api.run.scenario) == (
        start, end, given.get("seeds", settings.COMPARE_SEEDS), 500 if "scale" in given else settings.COMPARE_SCALE, "baseline")
    assert api.seed_list == list(range(given.get("first_seed", 1), given.get("first_seed", 1) + api.run.seeds))


def test_compare_keeps_its_own_defaults_the_whole_run_and_the_years_the_scenarios_differ():
    from hamji import run_window
    from hamji.sim import DEFAULT_END as SIM_END
    from hamji.sim import DEFAULT_START as SIM_START

    spec = compare_mod.compare_spec(["baseline", "microlending"])
    assert (spec.run.start, spec.run.end) == (SIM_START, SIM_END) == (run_window.DEFAULT_START, run_window.DEFAULT_END)
    assert (spec.run.seeds, spec.run.scale, spec.first_seed, spec.run.years) == (8, 100, 1, (2010, 2030))
    assert compare_mod.compare_spec(["baseline", "border_closure"]).run.years == (2020, 2023)
    assert spec.seed_list == list(range(1, 9)) and spec.scenario == "baseline"
    with pytest.raises(UserError, match="--from-year/--to-year 2031-2030: must be an ordered window"):
        compare_mod.compare_spec(["baseline", "microlending"], years=(2031, None))
