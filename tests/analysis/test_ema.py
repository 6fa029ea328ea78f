"""The EMA Workbench adapter: a small EMA experiment through ``hamji.ema.model``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

pytest.importorskip("ema_workbench")

#: a tiny model: 1:20000 over 2010, the first year of micro-lending, so six EMA experiments of a
#: scenario pair take seconds; in that year the loans reach Jilin's merchants, not yet the North
SCALE = 20000
START, END, YEARS = dt.date(2010, 1, 4), dt.date(2010, 12, 27), (2010, 2010)


def test_ema_experiment_through_the_adapter() -> None:
    from ema_workbench import BooleanParameter, IntegerParameter, Policy, RealParameter, SequentialEvaluator, perform_experiments

    import hamji.ema

    m = hamji.ema.model("baseline", outcomes=["merchant_capital_usd:Jilin", "leader_fund_usd:DPRK"], effect="microlending",
                        uncertainties=["leader_share", "detention_weeks", "enforcement_on"],
                        levers=["microlending.budget_usd", "microlending.term_weeks"],
                        scale=SCALE, start=START, end=END, years=YEARS)
    kinds = {p.name: type(p) for p in list(m.uncertainties) + list(m.levers)}
    assert kinds == {"leader_share": RealParameter, "detention_weeks": IntegerParameter, "enforcement_on": BooleanParameter,
                     "microlending__budget_usd": RealParameter, "microlending__term_weeks": IntegerParameter}
    assert m.hamji_names["microlending__budget_usd"] == "microlending.budget_usd"
    assert m.hamji_names["leader_fund_usd__DPRK"] == "leader_fund_usd:DPRK"
    # two fixed policies of loans that outlast the year (a loan of a few weeks is repaid with its
    # interest inside it, so it lowers capital: a real effect, not the one this test is about); the
    # scenarios come from EMA's Latin hypercube, seeded so the test is the same on every run
    policies = [Policy("small", microlending__budget_usd=2e8, microlending__term_weeks=104),
                Policy("large", microlending__budget_usd=6e8, microlending__term_weeks=260)]
    np.random.seed(20100104)
    with SequentialEvaluator(m) as evaluator:
        experiments, outcomes = perform_experiments(m, scenarios=3, policies=policies, evaluator=evaluator)
    assert len(experiments) == 6
    assert {"leader_share", "detention_weeks", "enforcement_on", "microlending__budget_usd"} <= set(experiments.columns)
    assert set(outcomes) == {"merchant_capital_usd__Jilin", "leader_fund_usd__DPRK"}
    effect = np.asarray(outcomes["merchant_capital_usd__Jilin"], dtype=float)
    assert effect.shape == (6,) and np.isfinite(effect).all()
    assert (effect > 0).all()  # loans still out at the end of the year add to the merchants' capital
    by_policy = {name: effect[(experiments["policy"] == name).to_numpy()] for name in ("small", "large")}
    assert by_policy["large"].min() > by_policy["small"].max()  # as much as the budget lever allows
    assert np.isfinite(np.asarray(outcomes["leader_fund_usd__DPRK"], dtype=float)).all()


def test_defaults_are_the_uncertain_parameters_and_event_keys() -> None:
    import hamji
    from hamji.analysis.ema import model
    from hamji.parameters import REGISTRY, uncertain_names

    assert hamji.ema.model is model  # hamji.ema on first use, without an import of its own

    m = model("microlending", outcomes=["hsi_mean:HamJi"], scale=SCALE, start=START, end=END, years=YEARS)
    names = [m.hamji_names[p.name] for p in m.uncertainties]
    assert len(names) == len(uncertain_names())
    assert all(n in REGISTRY or "." in n for n in names)
    p = next(p for p in m.uncertainties if p.name == "leader_share")
    assert (p.lower_bound, p.upper_bound) == pytest.approx(REGISTRY["leader_share"].bounds())


@pytest.mark.parametrize("kwargs, message", [
    ({"outcomes": ["nope:DPRK"]}, "unknown metric"),
    ({"uncertainties": ["no_such_parameter"]}, "unknown parameter"),
    ({"levers": ["leader_share"], "uncertainties": ["leader_share"]}, "both"),
    ({"years": (1990, 2010)}, "years"),
])
def test_bad_arguments_are_one_line(kwargs: dict, message: str) -> None:
    from hamji.analysis.ema import model
    from hamji.errors import UserError

    with pytest.raises(UserError, match=message):
        model("baseline", **{"scale": SCALE, "start": START, "end": END, "years": YEARS, **kwargs})
