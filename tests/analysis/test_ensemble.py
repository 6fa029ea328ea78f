"""Ensembles on Dask, the Python entry points and scenario comparison."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hamji.analysis.compare import differences, outcomes
from hamji.analysis.ensemble import Task, run_ensemble

END = dt.date(2001, 12, 31)


def _tasks(scenarios=("baseline",), seeds=(1, 2)):
    return [Task(s, k, 5000, dt.date(2000, 1, 3), END) for s in scenarios for k in seeds]


def test_one_and_two_workers_give_identical_results(tmp_path, monkeypatch):
    import hamji.analysis.ensemble
    from hamji.analysis.ensemble import check_scheduler, local_cluster
    from hamji.analysis.sweep import TaskStore

    a = run_ensemble(_tasks(), workers=1)
    keys = [f"{t.scenario}-seed-{t.seed}" for t in _tasks()]
    with local_cluster(2, None) as address, TaskStore(tmp_path / "tasks", {"sweep": "test"}) as store:
        check_scheduler(address)  # a live scheduler passes the check
        b = run_ensemble(_tasks(), scheduler=address, store=store, keys=keys)
        assert store.done() == set(keys)  # each task kept as it came back from the workers
        monkeypatch.setattr(hamji.analysis.ensemble, "run_task", lambda task: pytest.fail("a stored task was run again"))
        c = run_ensemble(_tasks(), store=store, keys=keys)  # run again: every task loaded, none run
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_paired_differences_with_intervals():
    rows = []
    for scen, shift in (("ref", 0.0), ("alt", 0.05)):
        for seed in range(1, 6):
            noise = 0.01 * seed
            for metric, region, v in (("hsi_mean", "HamJi", 0.5 + shift + noise), ("hsi_mean", "Rest of DPRK", 0.4 + noise),
                                      ("hsi_participants", "DPRK", 0.6), ("hsi_nonparticipants", "DPRK", 0.4),
                                      ("regime_revenue_usd", "DPRK", 1e6 * (1 + shift)), ("leader_fund_usd", "DPRK", 1e6)):
                rows.append(dict(scenario=scen, seed=seed, region=region, metric=metric, year=2030, value=v))
    ann = pd.DataFrame(rows)
    out = outcomes(ann, (2030, 2030))
    assert out.shape == (10, 5)
    d = differences(ann, (2030, 2030), "ref").set_index("outcome")
    # common random numbers: the seed noise cancels in the paired difference, so the interval is tight
    assert d.loc["HSI, HamJi", "mean_change"] == pytest.approx(0.05)
    assert d.loc["HSI, HamJi", "high90"] - d.loc["HSI, HamJi", "low90"] == pytest.approx(0, abs=1e-9)
    assert d.loc["HSI, Rest of DPRK", "mean_change"] == pytest.approx(0.0)
    assert d.loc["Regime revenue, US$ M a year", "mean_change"] == pytest.approx(0.05)  # 1e6 * 0.05 / 1e6


def test_python_entry_points():
    import hamji
    from hamji.api import model_function

    df = hamji.run(scale=5000, end="2000-06-26")
    assert list(df.columns) == ["date", "region", "metric", "value"]
    f = model_function(scale=5000, end="2001-12-31", years=(2001, 2001))
    res = f(border_open=0.5)
    assert set(res) >= {"hsi_hamji", "exports_usd", "imports_usd"}
    assert all(isinstance(v, float) for v in res.values())
    assert np.isfinite(res["imports_usd"])


def test_forked_scenarios_are_bit_identical_to_separate_runs():
    from hamji.analysis.ensemble import run_grouped

    # history diverges in 2009 (redenomination), microlending in 2010: both forked from the trunk
    scen = ["baseline", "microlending", "history"]
    end = dt.date(2011, 6, 27)
    grouped = run_grouped(scen, [4], 10000, dt.date(2000, 1, 3), end)
    alone = run_ensemble([Task(s, 4, 10000, dt.date(2000, 1, 3), end) for s in scen])
    pd.testing.assert_frame_equal(grouped, alone)


def test_compare_measures_the_years_in_which_the_scenarios_differ():
    """A short shock is measured over its own years, a programme without an end to the end of the run."""
    import datetime as dt

    from hamji.analysis.compare import differing_years

    start, end = dt.date(2000, 1, 3), dt.date(2030, 12, 30)
    assert differing_years(["baseline", "border_closure"], start, end) == (2020, 2023)  # to the wider reopening
    assert differing_years(["baseline", "microlending"], start, end) == (2010, 2030)
    assert differing_years(["baseline", "baseline"], start, end) == (2000, 2030)
    assert differing_years(["baseline", "border_closure"], start, dt.date(2020, 12, 28)) == (2020, 2020)
    assert differing_years(["baseline", "border_closure"], start, dt.date(2010, 12, 27)) == (2000, 2010)
