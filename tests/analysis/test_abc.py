"""Calibration with a posterior (`hamji calibrate --method abc`) and `hamji compare --posterior`.

The ABC machinery (files, weights, effective sample size, resumption, repeatability, refusal of a
history made otherwise) is tested with a stand-in for the model's evaluation, a smooth function of
the parameters, so that a run of a few generations takes seconds; one test evaluates the real model
at a tiny size and checks the summaries and the distance it gives. The comparison with a posterior
runs the real model at a tiny size.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hamji.analysis import abc
from hamji.analysis.abc import ABCSpec, calibrate_abc
from hamji.analysis.compare import INTERVAL_POSTERIOR, INTERVAL_SEEDS, posterior_draw, read_posterior
from hamji.cli import app
from hamji.errors import UserError
from hamji.parameters import REGISTRY

runner = CliRunner()
PARAMS = ("china_demand_growth", "state_import_share")
#: the stand-in model fits the data best at these values (inside the declared ranges)
BEST = {"china_demand_growth": 0.15, "state_import_share": 0.7}


class Interrupted(BaseException):
    """Stands for a kill in the middle of a generation."""


def fake_simulate(calls: list, fail_after: int | None = None):
    """The data scaled by exp(distance of the values from BEST, relative to each range): a smooth fit surface."""

    def simulate(values, seeds, scale, start, end, years):
        calls.append(dict(values))
        if fail_after is not None and len(calls) > fail_after:
            raise Interrupted
        off = sum((values[n] - BEST[n]) / (REGISTRY[n].high - REGISTRY[n].low) for n in PARAMS)
        return {k: v * np.exp(off) for k, v in abc.observed(years).items()}

    return simulate


def spec(**kw) -> ABCSpec:
    base = dict(params=PARAMS, population=8, generations=3, seeds=1, scale=20000)
    return ABCSpec(**{**base, **kw})


def test_a_tiny_abc_writes_the_posterior_its_diagnostics_and_the_page(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(abc, "simulate", fake_simulate(calls))
    posterior, diagnostics = calibrate_abc(spec(), tmp_path / "abc")
    files = {p.name for p in (tmp_path / "abc").iterdir()}
    assert {"abc.db", "posterior.parquet", "diagnostics.parquet", "posterior.html"} <= files
    assert not any(name.endswith(".tmp") for name in files)
    written = pd.read_parquet(tmp_path / "abc" / "posterior.parquet")
    pd.testing.assert_frame_equal(written, posterior)
    assert list(written.columns) == [*PARAMS, "weight", "distance", "generation"]
    assert len(written) == 8 and written.weight.sum() == pytest.approx(1.0) and (written.generation == 2).all()
    for n in PARAMS:  # every particle inside the prior's support
        assert written[n].between(REGISTRY[n].low, REGISTRY[n].high).all()
    assert list(diagnostics.generation) == [0, 1, 2]
    assert np.isinf(diagnostics.epsilon.iloc[0]) and diagnostics.epsilon.iloc[2] < diagnostics.epsilon.iloc[1]
    assert ((diagnostics.ess > 0) & (diagnostics.ess <= 8)).all()
    assert diagnostics.acceptance_rate.iloc[0] == 1.0  # generation 0 is the prior sample
    assert diagnostics.evaluations.sum() + 1 == len(calls)  # and one run at the posterior mean for the page
    page = (tmp_path / "abc" / "posterior.html").read_text()
    assert "<svg" in page and "effective sample size" in page and "china_demand_growth" in page
    # the tolerance shrinks towards the stand-in's best values
    assert (written.distance <= diagnostics.epsilon.iloc[2]).all()


def test_an_interrupted_abc_resumes_after_its_last_generation_and_ends_as_an_uninterrupted_one(tmp_path, monkeypatch):
    whole: list = []
    monkeypatch.setattr(abc, "simulate", fake_simulate(whole))
    uninterrupted, _ = calibrate_abc(spec(), tmp_path / "whole")
    gen0 = 8  # generation 0 accepts every prior draw
    calls: list = []
    monkeypatch.setattr(abc, "simulate", fake_simulate(calls, fail_after=gen0 + 3))  # killed inside generation 1
    with pytest.raises(Interrupted):
        calibrate_abc(spec(), tmp_path / "cut")
    assert not (tmp_path / "cut" / "posterior.parquet").exists()
    again: list = []
    monkeypatch.setattr(abc, "simulate", fake_simulate(again))
    logs: list = []
    resumed, diagnostics = calibrate_abc(spec(), tmp_path / "cut", log=logs.append)
    assert any("resuming: 1 of 3 generations" in line for line in logs)
    assert diagnostics.evaluations.iloc[1:].sum() + 1 == len(again)  # generation 0 was not run again
    # one worker, seeded per generation: the resumed calibration is the uninterrupted one, bit for bit
    pd.testing.assert_frame_equal(resumed, uninterrupted)
    # more generations later: continues from the stored ones
    more, diag = calibrate_abc(spec(generations=4), tmp_path / "cut")
    assert list(diag.generation) == [0, 1, 2, 3] and (more.generation == 3).all()


def test_a_history_made_with_other_settings_is_refused_naming_what_differs(tmp_path, monkeypatch):
    monkeypatch.setattr(abc, "simulate", fake_simulate([]))
    calibrate_abc(spec(generations=1), tmp_path / "abc")
    with pytest.raises(UserError, match=r"abc.db: holds an ABC calibration made with other settings \(population 6 here, 8"):
        calibrate_abc(spec(generations=1, population=6), tmp_path / "abc")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "abc.db").write_text("not a database")
    with pytest.raises(UserError, match="does not record how it was made"):
        calibrate_abc(spec(generations=1), tmp_path / "junk")


def test_bad_abc_settings_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(UserError, match="too short|at least 3 years"):
        calibrate_abc(spec(end=dt.date(2004, 12, 31)), tmp_path / "abc")
    with pytest.raises(UserError, match="--population 1"):
        calibrate_abc(spec(population=1), tmp_path / "abc")
    with pytest.raises(UserError, match="unknown parameter 'no_such'"):
        calibrate_abc(spec(params=("no_such",)), tmp_path / "abc")
    assert not (tmp_path / "abc").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="holds files but no ABC calibration"):
        calibrate_abc(spec(), tmp_path / "other")
    result = runner.invoke(app, ["calibrate", "--method", "bayes", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "allowed optuna, abc" in result.stderr
    assert not (tmp_path / "x").exists()


def test_the_real_model_gives_finite_summaries_at_the_target_years_and_the_optuna_loss_as_distance():
    start, end = dt.date(2003, 1, 6), dt.date(2007, 12, 31)
    years = abc.target_years(start, end)
    assert years["total trade"] == [2003, 2004, 2007]
    x = abc.simulate({"china_demand_growth": 0.2}, seeds=1, scale=50000, start=start, end=end, years=years)
    assert all(np.isfinite(v).all() and (v > 0).all() and len(v) == len(years[k]) for k, v in x.items())
    from hamji.analysis.calibration import loss_of

    assert abc.distance(x, abc.observed(years)) == pytest.approx(loss_of(abc.fits_of(x, years)))


# -- compare --posterior ------------------------------------------------------------------------------
def write_posterior(path: Path, **columns) -> Path:
    pd.DataFrame(columns).to_parquet(path, index=False)
    return path


def test_a_weighted_draw_is_reproducible_from_the_seed_and_follows_the_weights():
    post = pd.DataFrame({"china_demand_growth": [0.1, 0.2, 0.3], "weight": [0.0, 0.25, 0.75]})
    assert posterior_draw(post, 7) == posterior_draw(post, 7)
    draws = [posterior_draw(post, s)["china_demand_growth"] for s in range(400)]
    assert 0.1 not in draws  # weight zero: never drawn
    assert 0.65 < draws.count(0.3) / len(draws) < 0.85
    assert len({posterior_draw(post, s)["china_demand_growth"] for s in range(20)}) > 1


def test_compare_with_a_posterior_draws_one_parameter_set_per_seed_shared_by_the_scenarios(tmp_path, monkeypatch):
    import hamji.analysis.ensemble as ensemble

    post = write_posterior(tmp_path / "posterior.parquet", china_demand_growth=[0.05, 0.15, 0.25, 0.3],
                           state_import_share=[0.5, 0.6, 0.7, 0.8], weight=[0.25, 0.25, 0.25, 0.25],
                           distance=[0.1, 0.2, 0.3, 0.4], generation=[2, 2, 2, 2])
    seen: dict = {}
    real = ensemble.run_seed_group

    def spy(scenarios, seed, scale, start, end, overrides=None):
        seen[seed] = (tuple(scenarios), dict(overrides or {}))
        return real(scenarios, seed, scale, start, end, overrides)

    monkeypatch.setattr(ensemble, "run_seed_group", spy)
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", "baseline", "microlending", "--seeds", "3", "--scale", "50000",
                                 "--start", "2000-01-03", "--end", "2000-03-27", "--workers", "1", "--quiet",
                                 "--posterior", str(post), "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    draws = pd.read_csv(out / "posterior_draws.csv").set_index("seed")
    table = read_posterior(post)
    for seed, (scenarios, overrides) in seen.items():
        assert scenarios == ("baseline", "microlending")  # one call per seed: every scenario with the same parameters
        assert overrides == posterior_draw(table, seed) == pytest.approx(draws.loc[seed].to_dict())
    assert len({tuple(sorted(o.items())) for _, o in seen.values()}) > 1  # different parameters across seeds
    diffs = pd.read_csv(out / "differences.csv")
    assert (diffs.interval == INTERVAL_POSTERIOR).all()
    assert INTERVAL_POSTERIOR in (out / "comparison.html").read_text()
    assert INTERVAL_POSTERIOR in result.output
    # the same comparison without a posterior says its intervals are over seeds only
    plain = runner.invoke(app, ["compare", "baseline", "microlending", "--seeds", "2", "--scale", "50000",
                                "--start", "2000-01-03", "--end", "2000-03-27", "--workers", "1", "--quiet",
                                "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0 and (pd.read_csv(tmp_path / "plain" / "differences.csv").interval == INTERVAL_SEEDS).all()


def test_the_stored_tasks_of_a_comparison_are_refused_with_another_posterior(tmp_path):
    from hamji.analysis.compare import comparison_fingerprint, file_digest

    a = write_posterior(tmp_path / "a.parquet", china_demand_growth=[0.1], weight=[1.0])
    b = write_posterior(tmp_path / "b.parquet", china_demand_growth=[0.2], weight=[1.0])
    start, end = dt.date(2000, 1, 3), dt.date(2000, 3, 27)
    fa = comparison_fingerprint(["baseline", "microlending"], [1], 50000, start, end, file_digest(a))
    fb = comparison_fingerprint(["baseline", "microlending"], [1], 50000, start, end, file_digest(b))
    assert fa["posterior"] != fb["posterior"] and "posterior" not in comparison_fingerprint(["baseline"], [1], 50000, start, end)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"not parquet at all", "not a readable Parquet file"),
    ({"china_demand_growth": [0.1]}, "no 'weight' column"),
    ({"no_such_param": [0.1], "weight": [1.0]}, "unknown parameter 'no_such_param'"),
    ({"china_demand_growth": [0.1, 99.0], "weight": [0.5, 0.5]}, "row 2: parameter 'china_demand_growth' = 99 is out of range"),
    ({"china_demand_growth": [0.1, 0.2], "weight": [0.5, -0.5]}, "weights must be finite"),
])
def test_a_bad_posterior_file_is_one_error_line_exit_2_and_nothing_written(tmp_path, content, message):
    path = tmp_path / "posterior.parquet"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write_posterior(path, **content)
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", "baseline", "microlending", "--seeds", "2", "--scale", "50000", "--quiet",
                                 "--workers", "1", "--posterior", str(path), "--out", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["posterior.parquet"] if content is not None else [])


def test_the_calibrate_command_runs_abc_and_prints_the_generations_and_the_posterior(tmp_path, monkeypatch):
    monkeypatch.setattr(abc, "simulate", fake_simulate([]))
    out = tmp_path / "abc"
    result = runner.invoke(app, ["calibrate", "--method", "abc", "--param", PARAMS[0], "--param", PARAMS[1], "--population", "4",
                                 "--generations", "2", "--scale", "20000", "--seeds", "1", "--workers", "1", "--quiet",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    assert "ABC-SMC" in result.output and f"{PARAMS[0]}: mean" in result.output
    assert len(pd.read_parquet(out / "posterior.parquet")) == 4


def test_the_scheduler_path_runs_abc_on_a_separately_started_cluster(tmp_path, monkeypatch):
    """`--scheduler`: pyabc's Dask sampler evaluates the particles on a cluster started apart (threads here, so
    the stand-in model reaches the workers); the posterior is complete and lies within the priors."""
    from distributed import LocalCluster

    calls: list = []
    monkeypatch.setattr(abc, "simulate", fake_simulate(calls))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        posterior, diagnostics = calibrate_abc(spec(scheduler=cluster.scheduler_address), tmp_path / "abc")
    assert len(posterior) == 8 and posterior.weight.sum() == pytest.approx(1.0)
    assert list(diagnostics.generation) == [0, 1, 2] and (diagnostics.ess > 0).all()
    for n in PARAMS:
        assert posterior[n].between(REGISTRY[n].low, REGISTRY[n].high).all()
    assert diagnostics.evaluations.sum() + 1 == len(calls)  # every evaluation ran (on the cluster's threads)
    assert (tmp_path / "abc" / "posterior.html").exists()
