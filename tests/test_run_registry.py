"""The run registry (`hamji runs`): run folders listed from their manifests, indexed with DuckDB;
the pieces of the web app that need no browser (scenario checks, the size cap, the charts); and the
one-line errors of `hamji runs` and `hamji serve`."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hamji.cli import app
from hamji.errors import UserError
from hamji.output import write_run
from hamji.run_registry import INDEX_NAME, RunRegistry, new_run_dir
from hamji.sim import Sim

runner = CliRunner()
TINY = dict(scale=20000, start=dt.date(2009, 10, 5), end=dt.date(2010, 6, 28))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """A runs folder with two seeds of the baseline and one of micro-lending (tiny runs)."""
    root = tmp_path_factory.mktemp("runs")
    for scenario, seed in (("baseline", 1), ("baseline", 2), ("microlending", 1)):
        write_run(Sim(scenario, seed=seed, **TINY).run(), new_run_dir(root, scenario, seed))
    (root / "not-a-run").mkdir()  # a folder without a manifest is not listed
    return root


def test_lists_every_run_from_its_manifest_and_groups_seeds_into_experiments(runs) -> None:
    reg = RunRegistry(runs)
    found = reg.search()
    assert sorted(found.scenario) == ["baseline", "baseline", "microlending"]
    assert (runs / INDEX_NAME).exists()
    exps = reg.experiments()
    assert len(exps) == 2
    base = exps[exps.scenario == "baseline"].iloc[0]
    assert base.seeds == [1, 2] and len(base.runs) == 2


def test_search_by_scenario_parameter_and_date(runs) -> None:
    reg = RunRegistry(runs)
    assert set(reg.search(scenario="MICRO").scenario) == {"microlending"}
    # resolved parameters as the manifest records them (the programme's budget is set by its event)
    assert list(reg.search(params={"microlending_budget_usd": "2e7"}).scenario) == ["microlending"]
    assert len(reg.search(params={"microlending_budget_usd": "0"})) == 2
    assert len(reg.search(since=dt.date.today())) == 3 and reg.search(until=dt.date(2000, 1, 1)).empty


def test_the_index_follows_the_folders_and_survives_damage(runs, tmp_path) -> None:
    import shutil

    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    reg = RunRegistry(copy)
    assert len(reg.search()) == 3
    victim = reg.search(scenario="microlending").id.iloc[0]
    reg.delete(victim)
    assert not (copy / victim).exists() and len(reg.search()) == 2
    shutil.rmtree(copy / reg.search().id.iloc[0])  # deleted by hand: dropped from the index
    assert len(reg.search()) == 1
    (copy / INDEX_NAME).write_bytes(b"not a database")  # a damaged index is rebuilt from the manifests
    assert len(reg.search()) == 1
    with pytest.raises(UserError, match="no run folder"):
        reg.delete("../etc")


def test_a_second_process_holding_the_index_does_not_stop_a_search(runs) -> None:
    hold = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
                             " print('held', flush=True); time.sleep(30)", str(runs / INDEX_NAME)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "held"
        assert len(RunRegistry(runs).search()) == 3  # an index in memory, from the same manifests
    finally:
        hold.kill()
        hold.wait()


def test_hamji_runs_lists_and_filters(runs) -> None:
    res = runner.invoke(app, ["runs", "--runs", str(runs), "--json", "--scenario", "baseline"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert sorted(r["seed"] for r in rows) == [1, 2] and {r["scenario"] for r in rows} == {"baseline"}
    res = runner.invoke(app, ["runs", "--runs", str(runs), "--json", "--param", "microlending_budget_usd=20000000"])
    assert res.exit_code == 0 and [r["scenario"] for r in json.loads(res.output)] == ["microlending"]
    res = runner.invoke(app, ["runs", "--runs", str(runs)])
    assert res.exit_code == 0 and "runs in" in res.output and "(3)" in res.output


@pytest.mark.parametrize("args, words", [
    (["--param", "microlending_budget_usd"], "expected name=value"),
    (["--param", "no_such=1"], "unknown parameter"),
    (["--since", "last week"], "not a date"),
    (["--delete", "nothing-here"], "no run folder"),
])
def test_hamji_runs_bad_input_is_one_line_and_exit_2(runs, args, words) -> None:
    res = runner.invoke(app, ["runs", "--runs", str(runs), *args])
    assert res.exit_code == 2 and words in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_hamji_runs_and_serve_refuse_a_missing_folder_a_taken_port_and_two_backends(tmp_path) -> None:
    res = runner.invoke(app, ["runs", "--runs", str(tmp_path / "absent")])
    assert res.exit_code == 2 and "no such folder" in res.output
    res = runner.invoke(app, ["serve", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert res.exit_code == 2 and "give one" in res.output
    (tmp_path / "file").write_text("x")
    res = runner.invoke(app, ["serve", "--runs", str(tmp_path / "file")])
    assert res.exit_code == 2 and "is a file" in res.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        res = runner.invoke(app, ["serve", "--port", str(s.getsockname()[1]), "--runs", str(tmp_path)])
    assert res.exit_code == 2 and "cannot listen there" in res.output and len(res.output.strip().splitlines()) == 1


def test_web_pieces_without_a_browser(runs) -> None:
    """The size cap, the builder's YAML round trip and the charts, on the tiny runs."""
    from hamji.web import builder, figures
    from hamji.web.jobs import MAX_RUN_SECONDS, check_size, estimated_seconds

    assert estimated_seconds(20000, dt.date(2009, 1, 5), dt.date(2011, 12, 26), 2) < MAX_RUN_SECONDS
    with pytest.raises(UserError, match="too large"):
        check_size(1, dt.date(2000, 1, 3), dt.date(2030, 12, 30), 10)
    spec = builder.template("microlending")
    spec["events"][0]["params"]["budget_usd"] = 123
    assert builder.check_yaml(builder.to_yaml(spec)).pars is not None
    assert "budget_usd: 123" in builder.to_yaml(spec)
    assert [f.key for f in builder.event_fields(spec["events"][0])][0] == "budget_usd"
    reg = RunRegistry(runs)
    a = figures.read_annual([runs / r for r in reg.search(scenario="baseline").id])
    fig = figures.province_map(figures.map_values(a, "hsi_mean", 2010), "t", "index")
    assert {t.name for t in fig.data} >= {"North Hamgyong", "Rason", "Pyongyang"}
    assert len(figures.lines(a, "hsi_mean", ["HamJi"], "index").data) == 2  # band and mean
