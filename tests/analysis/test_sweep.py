"""An interrupted sweep loses nothing: killed at any moment, the same command resumes, reruns only
the missing tasks and ends with the results of an uninterrupted run; tasks of another sweep are
refused; an unreachable Dask scheduler is one line within seconds."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from hamji.analysis.calibration import CalibrationSpec, calibrate
from hamji.analysis.compare import comparison_fingerprint, partial_dir
from hamji.analysis.sweep import TaskStore
from hamji.cli import app
from hamji.errors import UserError

runner = CliRunner()
SEEDS = 4
SHORT = ["--scale", "20000", "--start", "2000-01-03", "--end", "2001-12-31", "--workers", "1", "--quiet"]
#: the hamji command line in a subprocess; with HAMJI_TEST_TASK_LOG set, each seed group actually run
#: (not loaded from the store) appends its seed to that file
RUNNER = """
import os, sys
import hamji.analysis.ensemble as ensemble
log = os.environ.get("HAMJI_TEST_TASK_LOG")
if log:
    run_seed_group = ensemble.run_seed_group
    def counted(*args, **kwargs):
        frame = run_seed_group(*args, **kwargs)
        with open(log, "a") as f:
            f.write(f"{args[1]}\\n")
        return frame
    ensemble.run_seed_group = counted
from hamji.cli import app
app(prog_name="hamji")
"""
SCENARIO = """name: early-lending
description: Micro-lending from 2001, so that the two scenarios differ within a short run.
overrides: {}
events:
  - type: microlending
    start: 2001-01-01
    params: {budget_usd: %d, loan_size_usd: 5000, interest: 0.12, term_weeks: 104, default_rate: 0.05, target_small: 1.0}
"""


def _hamji(args: list[str], log: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ)
    if log is not None:
        env["HAMJI_TEST_TASK_LOG"] = str(log)
    return subprocess.Popen([sys.executable, "-c", RUNNER, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _seeds_run(log: Path) -> list[int]:
    return sorted(int(x) for x in log.read_text().split()) if log.exists() else []


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "early.yaml"
    path.write_text(SCENARIO % 20_000_000)
    return path


def test_a_killed_comparison_resumes_and_ends_as_an_uninterrupted_one(tmp_path, scenario):
    args = ["compare", "baseline", str(scenario), "--seeds", str(SEEDS), *SHORT]
    # the same comparison, killed (SIGKILL) as soon as one seed is stored and not all
    out = tmp_path / "resumed"
    store = partial_dir(out)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    proc = _hamji([*args, "--out", str(out)], log=first_log)
    deadline = time.monotonic() + 120
    while not list(store.glob("*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    stored = sorted(int(p.stem.split("-")[1]) for p in store.glob("*.parquet"))
    assert 1 <= len(stored) < SEEDS, f"killed with {len(stored)} of {SEEDS} seeds stored: cannot test a resume"
    assert not out.exists()  # nothing half-written where the results go
    assert set(stored) <= set(_seeds_run(first_log))
    # the same command resumes: it runs the missing seeds only, then writes what an uninterrupted run writes
    t0 = time.monotonic()
    proc = _hamji([*args, "--out", str(out)], log=second_log)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"resuming: {len(stored)} of {SEEDS} seeds already done" in err
    assert _seeds_run(second_log) == sorted(set(range(1, SEEDS + 1)) - set(stored))
    print(f"killed with seeds {stored} stored; resume ran {_seeds_run(second_log)} in {time.monotonic() - t0:.1f} s")
    full = runner.invoke(app, [*args, "--out", str(tmp_path / "full")])  # uninterrupted, in this process
    assert full.exit_code == 0, full.output
    a, b = (pd.read_parquet(tmp_path / name / "comparison.parquet") for name in ("full", "resumed"))
    assert a.equals(b)
    assert (tmp_path / "full" / "differences.csv").read_bytes() == (out / "differences.csv").read_bytes()
    assert sorted(a.scenario.unique()) == ["baseline", "early-lending"] and sorted(a.seed.unique()) == list(range(1, SEEDS + 1))
    assert not store.exists()  # the finished tasks are gone once the results are written
    # a finished folder is still refused without --overwrite
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 2 and "--overwrite" in res.output


@pytest.mark.parametrize("change", ["seeds", "scale", "scenario content", "hamji version", "dates"])
def test_a_store_of_another_sweep_is_refused_with_one_line(tmp_path, scenario, change):
    import datetime as dt

    out = tmp_path / "cmp"
    seeds, scale, end = list(range(1, SEEDS + 1)), 20000, dt.date(2001, 12, 31)
    theirs = {"seeds": dict(seeds=seeds[:3]), "scale": dict(scale=10000), "dates": dict(end=dt.date(2001, 6, 25))}.get(change, {})
    kwargs = dict(seeds=seeds, scale=scale, start=dt.date(2000, 1, 3), end=end) | theirs
    if change == "scenario content":  # the same file name, with other content
        scenario.write_text(SCENARIO % 30_000_000)
    fingerprint = comparison_fingerprint(["baseline", str(scenario)], **kwargs)
    if change == "hamji version":
        fingerprint["hamji version"] = "0.0.1"
    with TaskStore(partial_dir(out), fingerprint) as store:
        store.put("seed-1", pd.DataFrame({"value": [1.0]}))
    scenario.write_text(SCENARIO % 20_000_000)
    res = runner.invoke(app, ["compare", "baseline", str(scenario), "--seeds", str(SEEDS), *SHORT, "--out", str(out)])
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert str(partial_dir(out)) in line and change in line, line
    assert not out.exists() and (partial_dir(out) / "seed-1.parquet").exists()  # nothing written, nothing lost


def test_the_store_writes_whole_files_and_allows_one_process_at_a_time(tmp_path):
    frame = pd.DataFrame({"scenario": ["a", "b"], "seed": [1, 1], "value": [0.1, 1 / 3]})
    with TaskStore(tmp_path / "s", {"sweep": "test", "seeds": [1, 2]}) as store:
        (store.folder / ".seed-2.parquet.999.tmp").write_bytes(b"half a file")  # as a killed writer leaves it
        store.put("seed-1", frame)
        assert store.done() == {"seed-1"} and store.get("seed-1").equals(frame)
        with pytest.raises(UserError, match="in use by another hamji process"):
            TaskStore(tmp_path / "s", {"sweep": "test", "seeds": [1, 2]})
    with TaskStore(tmp_path / "s", {"sweep": "test", "seeds": [1, 2]}) as store:  # reopened: the tasks are there
        assert store.done() == {"seed-1"} and not list(store.folder.glob("*.tmp"))
    with pytest.raises(UserError, match=r"seeds 1-3 here, 1,2 in the store"):
        TaskStore(tmp_path / "s", {"sweep": "test", "seeds": [1, 2, 3]})
    with TaskStore(tmp_path / "s", {"sweep": "test", "seeds": [1, 2, 3]}, replace=True) as store:  # --overwrite
        assert store.done() == set()
        assert json.loads((store.folder / "fingerprint.json").read_text())["seeds"] == [1, 2, 3]


def _trials(db: Path) -> list[tuple]:
    study = optuna.load_study(study_name="hamji-trade", storage=f"sqlite:///{db}")
    return [(t.params, t.value) for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def test_an_interrupted_calibration_resumes_to_the_same_result(tmp_path, monkeypatch):
    import datetime as dt

    # runs of 2000-2007 instead of 2000-2016, for speed: the fit is scored on the years both have (2003, 2004, 2007)
    monkeypatch.setattr(CalibrationSpec, "dates", lambda self: (dt.date(2000, 1, 3), dt.date(2007, 12, 31)))

    def spec() -> CalibrationSpec:
        return CalibrationSpec(params=("china_demand_growth", "state_import_share"), trials=3, seeds=1, scale=100000)

    whole = calibrate(spec(), tmp_path / "whole.yaml")
    out = tmp_path / "cut.yaml"

    class Killed(Exception):
        pass

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Killed

    with pytest.raises(Killed):  # stopped between trials
        calibrate(spec(), out, progress=stop_after_two)
    # and as a killed process leaves it: a trial RUNNING, with a value suggested and nothing else
    study = optuna.load_study(study_name="hamji-trade", storage=f"sqlite:///{out.with_suffix('.study.db')}")
    stale = study.ask()
    stale.suggest_float("china_demand_growth", 0.0, 0.1)
    resumed = calibrate(spec(), out)
    states = [t.state for t in optuna.load_study(study_name="hamji-trade", storage=f"sqlite:///{out.with_suffix('.study.db')}").trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1 and optuna.trial.TrialState.RUNNING not in states
    # the same suggestions, in the same order, and the same file (but for the date it was made)
    assert _trials(out.with_suffix(".study.db")) == _trials(tmp_path / "whole.study.db")
    for result in (whole, resumed):
        result["how"].pop("date")
    assert resumed == whole
    assert math.isfinite(whole["fit_after"]["loss"]) and whole["how"]["trials"] == 3
    assert not out.with_suffix(".tasks").exists()
    # a study made otherwise is refused, naming what differs
    other = spec()
    other.seeds = 2
    with pytest.raises(UserError, match=r"cut.study.db: holds a study of another calibration \(seeds 1,2 here, 1 in the study\)"):
        calibrate(other, out)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "tcp://nonexistent.invalid:8786", "127.0.0.1", "http://x:1"])
def test_an_unreachable_or_malformed_scheduler_is_one_line_within_seconds(tmp_path, address):
    for command in (["compare", "baseline", "microlending", *SHORT, "--out", str(tmp_path / "c")],
                    ["calibrate", "--trials", "1", "--seeds", "1", "--scale", "100000", "--quiet", "--out", str(tmp_path / "k.yaml")]):
        t0 = time.monotonic()
        res = runner.invoke(app, [*command, "--scheduler", address])
        assert time.monotonic() - t0 < 10
        assert res.exit_code == 2, res.output
        line = res.output.strip()
        assert len(line.splitlines()) == 1 and line.startswith(f"error: --scheduler {address}: ")
        assert "cannot connect" in line or "not a Dask scheduler address" in line
        assert list(tmp_path.iterdir()) == []  # nothing written
