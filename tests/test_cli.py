"""The command line: outputs, exit codes, nothing half-written."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from hamji.cli import app

runner = CliRunner()
SHORT = ["--scale", "5000", "--start", "2000-01-03", "--end", "2000-12-25", "--quiet"]


def test_run_writes_the_four_files(tmp_path):
    out = tmp_path / "r"
    res = runner.invoke(app, ["run", *SHORT, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["annual.csv", "manifest.json", "report.html", "series.parquet"]
    series = pd.read_parquet(out / "series.parquet")
    assert list(series.columns) == ["date", "region", "metric", "value"]
    assert {"population", "households"} <= set(series.metric.astype(str))
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 1 and man["scale"] == 5000 and man["scenario"]["name"] == "baseline"
    assert "border_open" in man["parameters"] and man["hamji_version"]
    html = (out / "report.html").read_text()
    assert "<svg" in html and "not a forecast" in html
    assert "src=\"http" not in html and "<link" not in html and "<script" not in html  # self-contained


def test_same_seed_same_series(tmp_path):
    for name in ("a", "b"):
        assert runner.invoke(app, ["run", *SHORT, "--seed", "9", "--out", str(tmp_path / name)]).exit_code == 0
    a, b = (pd.read_parquet(tmp_path / n / "series.parquet") for n in ("a", "b"))
    pd.testing.assert_frame_equal(a, b)


def test_unknown_parameter_exits_2_with_one_line_and_no_folder(tmp_path):
    out = tmp_path / "r"
    res = runner.invoke(app, ["run", *SHORT, "--set", "no_such_param=1", "--out", str(out)])
    assert res.exit_code == 2
    assert "unknown parameter 'no_such_param'" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists() and not any(tmp_path.iterdir())


def test_out_of_range_scenario_exits_2(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\noverrides:\n  border_open: 2\n")
    out = tmp_path / "r"
    res = runner.invoke(app, ["run", str(f), *SHORT, "--out", str(out)])
    assert res.exit_code == 2 and "bad.yaml" in res.output and "border_open" in res.output and "[0, 1]" in res.output
    assert not out.exists()


def test_bad_dates_and_existing_folder_exit_2(tmp_path):
    assert runner.invoke(app, ["run", "--start", "yesterday", "--quiet"]).exit_code == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    res = runner.invoke(app, ["run", *SHORT, "--out", str(tmp_path / "full")])
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert (tmp_path / "full" / "x").read_text() == "keep"


def test_params_json_lists_every_parameter():
    from hamji.parameters import REGISTRY

    res = runner.invoke(app, ["params", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.output)
    assert len(rows) == len(REGISTRY)
    for r in rows:
        assert {"name", "default", "range", "unit", "source", "description"} <= set(r)


def test_plan_and_scenarios_and_help():
    assert "funnel" in runner.invoke(app, ["plan"]).output
    res = runner.invoke(app, ["scenarios"])
    assert res.exit_code == 0 and "baseline" in res.output
    res = runner.invoke(app, ["scenarios", "show", "baseline"])
    assert res.exit_code == 0 and "name: baseline" in res.output
    assert runner.invoke(app, ["scenarios", "show", "nope"]).exit_code == 2
    for cmd in ("run", "params", "plan", "scenarios"):
        assert runner.invoke(app, [cmd, "--help"]).exit_code == 0


def test_a_renamed_parameter_is_refused_before_the_run_naming_its_replacement(tmp_path):
    out = tmp_path / "r"
    res = runner.invoke(app, ["run", *SHORT, "--set", "leader_share=0.6", "--set", "budget_share=0.6", "--out", str(out)])
    assert res.exit_code == 2 and "use budget_share_of_rest" in res.output and not out.exists()


def test_calibrate_refuses_a_fixed_parameter_and_a_bad_out_file_with_exit_2(tmp_path):
    res = runner.invoke(app, ["calibrate", "--param", "road_factor", "--trials", "1", "--out", str(tmp_path / "c.yaml"), "-q"])
    assert res.exit_code == 2 and "not declared calibratable" in res.output
    res = runner.invoke(app, ["calibrate", "--trials", "1", "--out", str(tmp_path / "c.txt"), "-q"])
    assert res.exit_code == 2 and "must be a .yaml file" in res.output
    assert not list(tmp_path.iterdir())


def test_usage_errors_are_one_line_with_exit_2(tmp_path):
    for args in (["run", "--seed", "1.5"], ["run", "--no-such-option"], ["run", "a", "b"], ["scenarios", "show"],
                 ["run", "--seed", "-1"], ["run", "--start", "2021-02-30"]):
        res = runner.invoke(app, [*args, "--out", str(tmp_path / "r")] if args[0] == "run" else args)
        assert res.exit_code == 2, (args, res.output)
        assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: "), (args, res.stderr)
        assert "Traceback" not in res.output and "Usage" not in res.output
    assert not any(tmp_path.iterdir())


def test_an_unwritable_out_is_found_before_the_first_week(tmp_path, monkeypatch):
    from hamji.sim import Sim

    def never(self, *a, **k):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(Sim, "initialize", never)
    (tmp_path / "file").write_text("x")
    res = runner.invoke(app, ["run", *SHORT, "--out", str(tmp_path / "file" / "r")])
    assert res.exit_code == 2 and "is a file" in res.stderr and res.exception.__class__ is SystemExit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_the_report_marks_each_shock_on_its_charts(tmp_path):
    """Each named event of the scenario is a labelled dotted line on the charts and a row of the events table."""
    out = tmp_path / "h"
    result = runner.invoke(app, ["run", "history", "--scale", "20000", "--start", "2016-01-04", "--end", "2020-12-28",
                                 "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "Events of the scenario" in page
    for label in ("sanctions 2017-02", "border closure 2020-01"):
        assert page.count(label) >= 5  # on every time chart
    assert "currency shock" not in page  # 2009: outside this run
