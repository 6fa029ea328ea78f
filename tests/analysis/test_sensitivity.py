"""Global sensitivity analysis, the experiment designs under it, and the uncertain parameters' box."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc

from hamji.analysis import experiments
from hamji.analysis.experiments import parse_outcome, resolve_params, values_from_unit
from hamji.analysis.sensitivity import SensitivitySpec, n_runs, ranking, sensitivity
from hamji.errors import UserError
from hamji.parameters import REGISTRY, uncertain_names
from hamji.scenario import ScenarioWarning, load_scenario
from hamji.sim import Sim

SHORT = dict(scale=20000, start=dt.date(2000, 1, 3), end=dt.date(2001, 12, 31))
YEARS = (2001, 2001)
#: a parameter the baseline never reads (training only acts inside a training event): it cannot change a run
INERT = "training_productivity_gain"


def spec(method: str, params: list[str], outcomes: list[str], samples: int, **kw) -> SensitivitySpec:
    return SensitivitySpec(method=method, params=params, outcomes=[parse_outcome(o, YEARS) for o in outcomes],
                           samples=samples, **{**SHORT, **kw})


@pytest.mark.parametrize("method, samples", [("morris", 2), ("sobol", 4)])
def test_a_parameter_that_cannot_change_a_run_gets_exactly_zero(method, samples):
    idx, exp = sensitivity(spec(method, ["leader_share", INERT], ["leader_fund_usd:DPRK", "hsi_mean:HamJi"], samples))
    inert = idx[idx.param == INERT]
    assert len(inert) > 0
    assert (inert.value.abs().fillna(0) == 0).all()
    assert (inert[["low", "high"]].abs().fillna(0).to_numpy() == 0).all()
    # the parameter that makes the leader's money moves it, and ranks first
    r = ranking(idx)
    assert r[(r.outcome == "leader_fund_usd:DPRK") & (r["rank"] == 1)].param.tolist() == ["leader_share"]
    assert r[(r.outcome == "leader_fund_usd:DPRK") & (r.param == "leader_share")].value.iloc[0] > 0
    assert len(exp) == n_runs(spec(method, ["leader_share", INERT], ["hsi_mean:HamJi"], samples), ["leader_share", INERT])


def test_the_effect_of_an_intervention_is_exactly_zero_for_a_parameter_that_acts_on_both_runs_alike():
    """With --effect, a parameter changes the effect only through what the intervention changes."""
    s = spec("morris", ["leader_share", INERT], ["leader_fund_usd:DPRK"], 2, effect="microlending",
             start=dt.date(2009, 1, 5), end=dt.date(2010, 12, 27))
    s.outcomes = [parse_outcome("leader_fund_usd:DPRK", (2010, 2010))]
    idx, exp = sensitivity(s)
    assert {"base:leader_fund_usd:DPRK", "alt:leader_fund_usd:DPRK"} <= set(exp.columns)
    assert np.allclose(exp["leader_fund_usd:DPRK"], exp["alt:leader_fund_usd:DPRK"] - exp["base:leader_fund_usd:DPRK"])
    assert (idx[idx.param == INERT].value.fillna(0) == 0).all()


def test_results_do_not_depend_on_workers_and_an_interrupted_analysis_resumes(tmp_path, monkeypatch):
    s = spec("morris", ["leader_share", "retail_spend_share"], ["hsi_mean:HamJi"], 2)
    one, exp1 = sensitivity(s, out=tmp_path / "a")
    for name in ("sensitivity.parquet", "experiments.parquet", "sensitivity.html"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    assert not (tmp_path / "a" / ".tasks").exists()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "sensitivity.parquet"), one)

    # a run that stops after two tasks keeps them; the same command then runs only the rest
    real = experiments.run_sample
    calls = []

    def stop_after_two(job):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(job[0])
        return real(job)

    monkeypatch.setattr(experiments, "run_sample", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        sensitivity(s, out=tmp_path / "b")
    assert len(list((tmp_path / "b" / ".tasks").glob("*.parquet"))) == 2
    calls.clear()
    monkeypatch.setattr(experiments, "run_sample", lambda job: (calls.append(job[0]), real(job))[1])
    two, exp2 = sensitivity(s, out=tmp_path / "b")
    assert len(calls) == len(exp1) - 2
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(exp1, exp2)



def test_the_scheduler_path_runs_on_a_separately_started_cluster_with_the_same_figures():
    """Two Dask worker processes on a cluster started apart give the in-process figures, bit for bit."""
    from distributed import LocalCluster

    s = spec("morris", ["leader_share"], ["leader_fund_usd:DPRK"], 2)
    local, _ = sensitivity(s)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        remote, _ = sensitivity(s, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local, remote)


def test_a_parameter_an_event_sets_is_varied_as_the_event_key_and_reaches_the_run():
    names, notes = resolve_params(["microlending_default_rate", "leader_share"], ["baseline", "microlending"])
    assert names == ["microlending.default_rate", "leader_share"] and "microlending.default_rate" in notes[0]
    with pytest.warns(ScenarioWarning, match="microlending.default_rate"):
        load_scenario("microlending", {"microlending_default_rate": 0.5})
    sc = load_scenario("microlending", {"microlending.default_rate": 0.5})
    assert sc.events[0].params["microlending_default_rate"] == 0.5
    with pytest.raises(UserError, match="has no 'microlending' event"):
        load_scenario("baseline", {"microlending.default_rate": 0.5})


def test_bad_analysis_input_is_one_clear_error():
    with pytest.raises(UserError, match="unknown parameter"):
        resolve_params(["no_such_parameter"], ["baseline"])
    with pytest.raises(UserError, match="unknown metric"):
        parse_outcome("no_such_metric:HamJi", YEARS)
    with pytest.raises(UserError, match="unknown region"):
        parse_outcome("hsi_mean:Atlantis", YEARS)
    with pytest.raises(UserError, match="only with --method morris"):
        spec("sobol", ["leader_share"], ["hsi_mean:HamJi"], 4, groups="module").check()


def test_group_screening_costs_one_trajectory_step_per_module():
    names = ["leader_share", "budget_share_of_rest", "retail_spend_share", "retail_goods_share"]
    s = spec("morris", names, ["hsi_mean:HamJi"], 2, groups="module")
    idx, exp = sensitivity(s)
    assert len(exp) == 2 * (2 + 1)  # two modules: funnel and retail
    assert set(idx.param) == {"funnel", "retail"}


# -- every point of the declared box is a valid world --------------------------------------------------

def box_points(declared: bool, n: int) -> pd.DataFrame:
    """A Latin hypercube over every uncertain parameter, with the all-low and all-high corners."""
    names = uncertain_names()
    unit = np.vstack([np.zeros(len(names)), np.ones(len(names)),
                      qmc.LatinHypercube(d=len(names), seed=7).random(n)])
    return values_from_unit(names, unit, declared)


@pytest.mark.parametrize("declared", [False, True], ids=["plausible", "declared"])
def test_every_point_of_the_uncertain_box_runs(declared):
    points = box_points(declared, 4)
    assert len(uncertain_names()) > 150
    for _, row in points.iterrows():
        values = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for k, v in values.items():
            REGISTRY[k].coerce(v, "test")  # inside the declared range
        with warnings.catch_warnings():
            warnings.simplefilter("error", ScenarioWarning)
            sim = Sim("history", seed=3, scale=20000, start=dt.date(2019, 11, 4), end=dt.date(2020, 3, 30),
                      overrides=values).run()
        assert sim.books.max_rel_residual < 1e-6
        annual = sim.results.annual()
        assert np.isfinite(annual.value).all()


def test_plausible_ranges_lie_inside_the_declared_ones_and_sampling_respects_kinds():
    for name in uncertain_names():
        p = REGISTRY[name]
        lo, hi = p.bounds()
        assert p.low <= lo < hi <= p.high
        v = p.from_unit(np.linspace(0, 1, 11))
        assert (v >= lo - 1e-12).all() and (v <= hi + 1e-12).all()
    assert REGISTRY["leader_share"].from_unit(0.5) == pytest.approx(0.2)  # log-uniform: the default at the middle
