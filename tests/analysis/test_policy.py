"""Policy design (issue 16): levers, the NSGA-II search and its front, robustness across worlds.

The search's properties are checked on a toy evaluator (fast, with a known optimum); the model
itself runs only at 1:20000 over two years, where the programs barely act: those tests check the
plumbing (files, resume, references), not the model's answers.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hamji.analysis import policy
from hamji.analysis.discover import parse_condition
from hamji.analysis.policy import (
    LEVERS,
    Objective,
    OptimizeSpec,
    RobustSpec,
    RunSettings,
    allocate,
    design_scenario,
    optimize,
    pareto_mask,
    parse_objective,
    robust,
    robustness_table,
)
from hamji.cli import app
from hamji.errors import UserError
from hamji.scenario import Scenario, ScenarioSpec

YEARS = (2016, 2020)
HSI, REV = "hsi_mean:HamJi", "regime_revenue_usd:DPRK"
#: the toy optimum: 30% of the budget to micro-lending, 70% of the rest to training
BEST_ML, BEST_TR = 0.3, 0.7
TINY = RunSettings(seeds=1, scale=20000, start=dt.date(2009, 1, 5), end=dt.date(2010, 12, 27), years=(2010, 2010))


def objectives(*texts: str) -> list[Objective]:
    return [parse_objective(t, YEARS) for t in texts]


def toy(candidates, worlds, seeds):
    """HSI gain peaks at BEST_ML; revenue added is least at BEST_TR; a world shifts both, a seed adds nothing."""
    rows = []
    for c in candidates:
        for w in range(max(1, len(worlds))):
            for s in seeds:
                rows.append({"candidate": c.key, "world": w, "seed": s,
                             HSI: -(c.levers["microlending_share"] - BEST_ML) ** 2 + 0.01 * w,
                             REV: (c.levers["training_share"] - BEST_TR) ** 2 + w})
    return pd.DataFrame(rows)


def toy_spec(**kw) -> OptimizeSpec:
    base = dict(objectives=objectives(f"max:{HSI}", f"min:{REV}"), levers=["microlending_share", "training_share"],
                trials=40, population=8, references=())
    return OptimizeSpec(**(base | kw))


def test_every_lever_lies_inside_its_declared_range_and_defaults_make_a_valid_scenario() -> None:
    for lv in LEVERS.values():
        lv.check()
    spec = design_scenario(policy.lever_defaults(), 30e6, "d")
    Scenario(ScenarioSpec.model_validate(spec), "d")  # every event's values are accepted
    money = allocate(policy.lever_defaults(), 30e6)
    assert money["cost_usd"] == pytest.approx(30e6) and money["microlending_usd"] == pytest.approx(10e6)
    assert allocate(policy.lever_defaults() | {"transport_share": 0.0}, 30e6)["cost_usd"] == pytest.approx(20e6)


def test_prefecture_and_route_levers_shape_the_events_and_cost_what_they_buy(tmp_path) -> None:
    """Training and crossing capacity go only where the switches choose; the default switches and split
    give the events of the reference package's proportions; a design costs what its scenario is priced at."""
    import yaml

    d = policy.lever_defaults()
    events = {e["type"]: e["params"] for e in design_scenario(d, 30e6, "d")["events"]}
    assert "prefectures" not in events["training"] and events["transport"]["crossings"] == "jilin"
    assert events["transport"]["capacity_multiplier"] == pytest.approx(1.5)  # 10 M of 20 M: half the package
    assert events["transport"]["cost_multiplier"] == pytest.approx(0.85)
    aimed = d | {"train_yanbian": False, "transport_yanbian": False, "transport_tonghua": False, "roads_share": 0.2}
    events = {e["type"]: e["params"] for e in design_scenario(aimed, 30e6, "a")["events"]}
    assert events["training"]["prefectures"] == ["Baishan", "Tonghua"]
    assert events["transport"]["crossings"] == ["changbai_hyesan"]
    share = policy.capacity_share(["changbai_hyesan"])
    assert 0 < share < 0.2  # one road bridge of nine Jilin crossings
    # 8 M on a crossing priced at its share of the package's 10 M crossing part
    assert events["transport"]["capacity_multiplier"] == pytest.approx(1.0 + 8e6 / (10e6 * share))
    assert events["transport"]["cost_multiplier"] == pytest.approx(1.0 - 2e6 / 10e6 * 0.3)
    for levers in (d, aimed, d | {"roads_share": 1.0}, d | {"transport_share": 0.4, "roads_share": 0.0}):
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(design_scenario(levers, 30e6, "s")))
        assert policy.scenario_cost(str(path)) == pytest.approx(allocate(levers, 30e6)["cost_usd"])
        Scenario(ScenarioSpec.model_validate(design_scenario(levers, 30e6, "s")), "s")
    nothing = d | {f"{p}_{q}": False for p in ("train", "transport") for q in ("yanbian", "baishan", "tonghua")}
    money = allocate(nothing, 30e6)
    assert money["training_usd"] == 0 and money["transport_crossings_usd"] == 0
    assert money["cost_usd"] == pytest.approx(10e6 + 5e6)  # micro-lending and the routes' half only
    assert "US$ 15.0 M unspent" in policy.describe(nothing, 30e6)
    assert policy.scenario_cost("transport") == pytest.approx(20e6)  # the package prices itself


def test_pareto_flag_is_exactly_the_non_dominated_set() -> None:
    rng = np.random.default_rng(3)
    v = rng.normal(size=(60, 2))
    v[5] = v[4]  # a tie: neither dominates the other
    objs = objectives(f"max:{HSI}", f"min:{REV}")
    mask = pareto_mask(v, objs)
    better = v * np.array([1, -1])
    for i in range(len(v)):
        dominated = any((better[j] >= better[i]).all() and (better[j] > better[i]).any() for j in range(len(v)))
        assert mask[i] == (not dominated)
    assert mask[4] == mask[5]


def test_the_search_finds_the_toy_optimum_and_flags_its_front() -> None:
    table = optimize(toy_spec(), evaluator=toy)
    assert len(table) == 40 and table.kind.eq("design").all()
    best = table.loc[table[HSI].idxmax()]
    assert abs(best.microlending_share - BEST_ML) < 0.05
    assert abs(table.loc[table[REV].idxmin()].training_share - BEST_TR) < 0.05
    v = table[[HSI, REV]].to_numpy() * np.array([1, -1])
    for i, row in table.iterrows():  # on the front = nobody beats it on both
        beaten = ((v >= v[i]).all(axis=1) & (v > v[i]).any(axis=1)).any()
        assert row.pareto == (not beaten)


def test_an_interrupted_search_resumes_to_what_an_uninterrupted_one_finds(tmp_path) -> None:
    whole = optimize(toy_spec(trials=12), tmp_path / "whole", evaluator=toy)
    calls = []

    def dies_in_the_second_batch(c, w, s):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return toy(c, w, s)

    with pytest.raises(KeyboardInterrupt):
        optimize(toy_spec(trials=12), tmp_path / "cut", evaluator=dies_in_the_second_batch)
    assert not (tmp_path / "cut" / "frontier.parquet").exists()
    resumed = optimize(toy_spec(trials=12), tmp_path / "cut", evaluator=toy)
    pd.testing.assert_frame_equal(whole, resumed)
    assert (tmp_path / "cut" / "frontier.parquet").exists() and (tmp_path / "cut" / "frontier.html").exists()
    with pytest.raises(UserError, match="another --out"):
        optimize(toy_spec(trials=12, budget=10e6), tmp_path / "cut", evaluator=toy)


def test_robustness_arithmetic_on_a_constructed_table() -> None:
    # criterion: max HSI; world 0: a best (regret b 1, c 3); world 1: b best (a 2, c 1); world 2: a and c tie
    means = pd.DataFrame({"candidate": list("abc") * 3, "world": [0] * 3 + [1] * 3 + [2] * 3,
                          HSI: [5, 4, 2, 1, 3, 2, 7, 6, 7], REV: [1, 0, 0, 2, 0, 0, 3, 0, 0]})
    cond = parse_condition(f"{HSI} >= 2 and {REV} < 2", YEARS)
    t = robustness_table(means, parse_objective(f"max:{HSI}", YEARS), cond).set_index("design")
    assert t.best_share.to_dict() == pytest.approx({"a": 2 / 3, "b": 1 / 3, "c": 1 / 3})
    assert t.regret_median.to_dict() == pytest.approx({"a": 0, "b": 1, "c": 1})
    assert t.regret_p90.to_dict() == pytest.approx({"a": 1.6, "b": 1.0, "c": 2.6})  # numpy's linear quantile
    assert t.satisficing.to_dict() == pytest.approx({"a": 1 / 3, "b": 1.0, "c": 1.0})
    low = robustness_table(means, parse_objective(f"min:{REV}", YEARS)).set_index("design")
    assert low.best_share.to_dict() == pytest.approx({"a": 0, "b": 1, "c": 1}) and low.satisficing.isna().all()


def test_robust_ranks_designs_from_a_frontier_across_worlds(tmp_path) -> None:
    optimize(toy_spec(trials=8), tmp_path / "opt", evaluator=toy)
    front = pd.read_parquet(tmp_path / "opt" / "frontier.parquet")
    spec = RobustSpec(designs=["training", "training"], criterion=parse_objective(f"max:{HSI}", YEARS), worlds=3,
                      params=["leader_share"], run=RunSettings())
    with pytest.raises(UserError, match="twice"):
        robust(spec, tmp_path / "rob", evaluator=toy)
    assert not (tmp_path / "rob").exists()
    spec.designs = [str(tmp_path / "opt" / "frontier.parquet")]  # its front
    table, worlds = robust(spec, tmp_path / "rob", evaluator=toy)
    assert len(table) == int(front.pareto.sum()) and len(worlds) == 3 * len(table)
    assert table.best_share.max() == 1.0 and (table.regret_median >= 0).all()
    assert {"robustness.parquet", "worlds.parquet", "robustness.html"} <= {p.name for p in (tmp_path / "rob").iterdir()}


def test_the_model_end_to_end_at_a_tiny_scale(tmp_path) -> None:
    spec = OptimizeSpec(objectives=objectives(f"max:{HSI}", f"min:{REV}", "min:cost"), trials=2, population=2,
                        references=("training",), run=TINY)
    spec.objectives = [parse_objective(str(o), TINY.years) for o in spec.objectives]
    table = optimize(spec, tmp_path / "o")
    assert list(table.design) == ["trial-0", "trial-1", "ref-training"]
    assert {HSI, f"{HSI}_low", f"{HSI}_high", REV, "cost", "pareto", "beaten_by_reference", "description"} <= set(table.columns)
    page = (tmp_path / "o" / "frontier.html").read_text(encoding="utf-8")
    assert "<svg" in page and "training" in page and "<script" not in page
    assert not (tmp_path / "o" / ".tasks").exists()
    rob = RobustSpec(designs=["training", f"{tmp_path / 'o' / 'frontier.parquet'}:0"],
                     criterion=parse_objective(f"max:{HSI}", TINY.years), worlds=2, params=["training_knowhow"], run=TINY)
    table, _ = robust(rob, tmp_path / "r")
    assert list(table.design) == ["ref-training", "trial-0"] and table.best_share.max() == 1.0


runner = CliRunner()


@pytest.mark.parametrize("args", [
    ["optimize", "--budget", "-5"],
    ["optimize", "--objective", "max:nonsense:HamJi"],
    ["optimize", "--objective", "up:hsi_mean:HamJi"],
    ["optimize", "--lever", "colour"],
    ["optimize", "--years", "1990-1991"],
    ["robust", "no-such-scenario"],
    ["robust", "training", "--worlds", "1"],
    ["robust", "training", "--satisfice", "hsi_mean:HamJi ~ 3"],
    ["robust", "training", "--criterion", "max:cost:HamJi"],
    ["robust", "nothing.parquet"],
])
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(tmp_path, args) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, [*args, "--out", str(out), "--quiet", "--workers", "1"])
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert not out.exists()


def test_both_commands_have_help() -> None:
    for cmd in ("optimize", "robust"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "--out" in res.output


def test_an_out_that_is_a_file_is_one_error_line(tmp_path) -> None:
    (tmp_path / "f").write_text("x")
    res = runner.invoke(app, ["optimize", "--trials", "1", "--out", str(tmp_path / "f"), "--quiet", "--workers", "1"])
    assert res.exit_code == 2 and res.output.startswith("error:"), res.output


def test_robust_draws_its_worlds_from_a_posterior(tmp_path) -> None:
    """With --posterior each world is a weighted draw from it: only its parameters vary, reproducibly."""
    post = pd.DataFrame({"leader_share": [0.1, 0.3], "china_demand_growth": [0.1, 0.2], "weight": [0.0, 1.0],
                         "distance": [0.5, 0.4], "generation": [2, 2]})
    post.to_parquet(tmp_path / "posterior.parquet")
    seen = []

    def recording(candidates, worlds, seeds):
        seen.append(worlds.copy())
        return pd.DataFrame([{"candidate": c.key, "world": w, "seed": s, HSI: float(i + w), REV: 0.0}
                             for i, c in enumerate(candidates) for w in range(len(worlds)) for s in seeds])

    spec = RobustSpec(designs=["training", "microlending"], criterion=parse_objective(f"max:{HSI}", YEARS), worlds=3,
                      run=RunSettings(), posterior=str(tmp_path / "posterior.parquet"))
    table, worlds = robust(spec, tmp_path / "rob", evaluator=recording)
    assert list(seen[0].columns) == ["leader_share", "china_demand_growth"]
    assert (seen[0].leader_share == 0.3).all()  # all the weight on the second particle
    assert table.best_share.tolist() == [0.0, 1.0] or sorted(table.best_share) == [0.0, 1.0]
    bad = RobustSpec(designs=["training"], criterion=parse_objective(f"max:{HSI}", YEARS), worlds=3, run=RunSettings(),
                     posterior=str(tmp_path / "missing.parquet"))
    with pytest.raises(UserError, match="robust --posterior .*no such file"):
        robust(bad, tmp_path / "rob2", evaluator=recording)
    assert not (tmp_path / "rob2").exists()
