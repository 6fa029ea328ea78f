"""Interventions and shocks: named events, their validation, and common random numbers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hamji.errors import UserError
from hamji.scenario import Scenario, ScenarioSpec, builtin_names, load_scenario
from hamji.sim import Sim

START, END = dt.date(2000, 1, 3), dt.date(2003, 12, 29)


def _run(events, seed=3, **kw):
    spec = ScenarioSpec(name="t", events=events)
    return Sim(Scenario(spec, "test"), seed=seed, scale=2000, start=START, end=END, **kw).run()


def test_microlending_with_zero_budget_is_bit_identical_to_baseline():
    base = Sim("baseline", seed=3, scale=2000, start=START, end=END).run()
    zero = _run([{"type": "microlending", "start": "2001-01-01", "params": {"budget_usd": 0, "interest": 0.3}}])
    assert np.array_equal(base.results.values, zero.results.values, equal_nan=True)


def test_microlending_lends_repays_and_balances_the_books():
    sim = _run([{"type": "microlending", "start": "2001-01-01", "params": {"budget_usd": 2e7}}])
    ann = sim.results.annual()
    out = ann[(ann.metric == "microloans_outstanding_usd") & (ann.region == "Jilin")].set_index("year").value
    assert out.get(2000, 0) == 0 and out[2002] > 5e6
    rate = ann[(ann.metric == "microloan_repayment_rate") & (ann.region == "Jilin")].set_index("year").value
    assert 0.8 < rate[2003] <= 1.0
    assert sim.books.max_rel_residual < 1e-9
    assert sim.books.inflows["microloans"] > 0 and sim.books.outflows["microloan_repayments"] > 0


def test_training_spreads_knowhow_to_north_korean_partners():
    base = Sim("baseline", seed=3, scale=2000, start=START, end=END).run()
    trained = _run([{"type": "training", "start": "2001-01-01", "params": {"trained_per_year": 3000}}])

    def share(sim):
        a = sim.results.annual()
        return a[(a.metric == "knowhow_nk_share") & (a.region == "HamJi") & (a.year == 2003)].value.iloc[0]

    assert share(trained) > share(base) + 0.02
    assert trained.people.merchants.trained.sum() > 0


def test_training_serves_only_the_prefectures_named():
    """``prefectures`` (or the ``in_*`` switches) chooses where courses are given; all three is the default."""
    every = _run([{"type": "training", "start": "2001-01-01", "params": {"trained_per_year": 3000}}])
    named = _run([{"type": "training", "start": "2001-01-01",
                   "params": {"trained_per_year": 3000, "prefectures": ["Baishan", "Tonghua"]}}])
    switches = _run([{"type": "training", "start": "2001-01-01",
                      "params": {"trained_per_year": 3000, "in_yanbian": False}}])
    names = every.world.names
    region = named.people.merchants.region
    trained_in = {n: int(named.people.merchants.trained[region == names.index(n)].sum()) for n in ("Yanbian", "Baishan", "Tonghua")}
    assert trained_in["Yanbian"] == 0 and trained_in["Baishan"] > 0 and trained_in["Tonghua"] > 0
    assert every.people.merchants.trained[every.people.merchants.region == names.index("Yanbian")].sum() > 0
    # the list and the switches are one setting: the same run, bit for bit
    assert np.array_equal(named.results.values, switches.results.values, equal_nan=True)
    with pytest.raises(UserError, match="prefectures.*allowed: a non-empty list of Yanbian, Baishan, Tonghua"):
        _run([{"type": "training", "start": "2001-01-01", "params": {"prefectures": ["Dandong"]}}])


def test_transport_raises_capacity_of_named_crossings_and_reverts():
    sim = _run([{"type": "transport", "start": "2001-01-01", "end": "2002-01-01",
                 "params": {"crossings": ["tumen_namyang"], "capacity_multiplier": 3, "cost_multiplier": 0.5}}])
    assert np.allclose(sim.borders.investment, 1.0)  # reverted at the end date
    assert sim.pars.distribution_usd_per_tkm == pytest.approx(Sim("baseline").pars.distribution_usd_per_tkm)


def test_currency_shock_destroys_won_savings_above_the_limit_only():
    sim = Sim(Scenario(ScenarioSpec(name="t", events=[{"type": "currency_shock", "start": "2000-01-10",
                                                        "params": {"loss_share": 1.0, "exempt_usd": 10}}]), "t"),
              seed=1, scale=5000, start=START, end=dt.date(2000, 1, 10))
    sim.initialize()
    sim.step()
    fx_before = sim.people.households.fx.copy()
    sim.step()
    assert sim.people.households.cash.max() <= 10 + 1e-9 or sim.books.outflows["currency_redenomination"] > 0
    assert sim.books.max_rel_residual < 1e-9
    assert sim.books.outflows["currency_redenomination"] > 0
    assert np.all(sim.people.households.fx >= 0) and fx_before.sum() > 0


@pytest.mark.parametrize("text, message", [
    ("name: x\nevents:\n  - type: microlendin\n    start: 2010-01-01\n", "unknown event type 'microlendin'; allowed: "),
    ("name: x\nevents:\n  - type: microlending\n    start: 2010-01-01\n    params: {budget_usd: -5}\n",
     "microlending_budget_usd' = -5 is out of range; allowed [0, 1e+09]"),
    ("name: x\nevents:\n  - type: training\n    start: 2012-01-01\n    end: 2011-01-01\n",
     "end 2011-01-01 is before start 2012-01-01"),
    ("name: x\nevents:\n  - type: transport\n    start: 2012-01-01\n    params: {crossings: [atlantis]}\n",
     "unknown crossing 'atlantis'; allowed: jilin, all, dandong_sinuiju"),
    ("name: x\nevents:\n  - type: sanctions\n    start: 2017-01-01\n    params: {uranium: true}\n",
     "unknown key 'uranium'; allowed: coal, iron_ore, seafood, timber, textiles, light, unbanned, other"),
])
def test_bad_scenario_files_are_refused_clearly(tmp_path, text, message):
    f = tmp_path / "s.yaml"
    f.write_text(text)
    with pytest.raises(UserError) as err:
        load_scenario(f)
    assert str(f) in str(err.value) and message in str(err.value)


def test_every_builtin_scenario_loads_and_the_required_ones_exist():
    names = builtin_names()
    for required in ("baseline", "history", "microlending", "training", "transport", "recommendations",
                     "forgery_crackdown", "border_closure", "sanctions"):
        assert required in names
    for n in names:
        assert load_scenario(n).spec.description.strip()


def test_sanctions_stop_coal_exports_from_their_date():
    sim = Sim("sanctions", seed=1, scale=5000, start=dt.date(2016, 1, 4), end=dt.date(2018, 6, 25)).run()
    t = sim.results.tidy()
    coal = t[(t.metric == "exports_coal_usd") & (t.region == "DPRK")].set_index("date").value
    assert coal[:"2017-02-12"].sum() > 0 and coal["2017-02-20":].sum() == 0
    textiles = t[(t.metric == "exports_textiles_usd") & (t.region == "DPRK")].set_index("date").value
    assert textiles["2017-03-01":"2017-09-01"].sum() > 0 and textiles["2017-09-18":].sum() == 0
    light = t[(t.metric == "exports_light_usd") & (t.region == "DPRK")].set_index("date").value
    assert light["2017-09-18":"2017-12-17"].sum() > 0 and light["2017-12-25":].sum() == 0
    # the goods outside the bans keep crossing, and grow as banned bases' workforce moves to them
    unbanned = t[(t.metric == "exports_unbanned_usd") & (t.region == "DPRK")].set_index("date").value
    assert unbanned["2018-01-01":].sum() > 2 * unbanned["2016-01-01":"2016-06-25"].sum() > 0
    # banned goods leak through the evasion channel
    evasion = t[(t.metric == "evasion_sales_usd") & (t.region == "DPRK")].set_index("date").value
    assert evasion[:"2017-02-12"].sum() == 0 and evasion["2017-02-20":].sum() > 0
    assert sim.books.inflows["evasion_sales"] > 0


def test_the_old_other_key_bans_textiles_and_light_and_refuses_a_contradiction(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\nevents:\n  - {type: sanctions, start: 2017-09-11, params: {other: true}}\n")
    event = load_scenario(f).events[0]
    assert event.params == {"ban_textiles": True, "ban_light": True}
    f.write_text("name: x\nevents:\n  - {type: sanctions, start: 2017-09-11, params: {other: true, light: false}}\n")
    with pytest.raises(UserError, match="'other' .* and 'light' .* disagree"):
        load_scenario(f)


def test_evasion_enforcement_and_capacity_set_what_leaks():
    def leak(**ov):
        sim = Sim("sanctions", seed=1, scale=5000, start=dt.date(2017, 1, 2), end=dt.date(2018, 12, 31), overrides=ov).run()
        return sim.books.inflows.get("evasion_sales", 0.0) * sim.scale

    base = leak()
    assert leak(evasion_on=False) == 0.0 and leak(evasion_capacity_usd_year=0.0) == 0.0
    assert leak(evasion_enforcement=1.0) == 0.0
    assert 0 < leak(evasion_enforcement=0.5) < base
    # within the channel's capacity (two years at most), less what is seized
    assert base <= 2 * 555e6 * (1 + 1e-9)


def test_border_closure_defaults_and_old_key():
    """The event's new keys default to the 2020 closure; a scenario giving only the old key still loads."""
    old = _scenario_event({"type": "border_closure", "start": "2001-01-01", "params": {"open_share": 0.5}})
    assert old.params["border_open"] == 0.5 and old.params["border_trips_open"] == 0.05
    assert old.params["border_couriers_open"] == 0.3 and old.params["border_zone_fear"] == 0.2
    with pytest.raises(UserError, match="allowed: open_share, trips, couriers"):
        _scenario_event({"type": "border_closure", "start": "2001-01-01", "params": {"shoot": 1}})


def _scenario_event(event):
    return Scenario(ScenarioSpec(name="t", events=[event]), "test").events[0]


def test_history_runs_to_2024_and_carries_the_closure_phases():
    s = load_scenario("history")
    assert s.spec.end == dt.date(2024, 12, 30)
    closures = [e for e in s.events if e.type == "border_closure"]
    assert [str(e.start) for e in closures] == ["2020-01-27", "2022-01-17", "2022-04-25", "2022-09-26", "2023-08-07"]
    assert closures[2].params["border_open"] == 0.05 and closures[3].params["border_open"] == 0.3


def test_border_closure_stops_trips_and_couriers_and_harshens_border_enforcement():
    """Against the same seed without it: less wholesale, fewer remittances, more detention in the border provinces,
    lower freedom from fear there; money still balances."""
    closed = [{"type": "border_closure", "start": "2002-01-07", "end": "2003-12-29"}]
    base, shut = _run([]), _run(closed)
    b, s = base.results.annual(), shut.results.annual()

    def v(a, metric, region):
        return float(a[(a.metric == metric) & (a.region == region) & (a.year >= 2002)].value.sum())

    assert v(s, "merchant_wholesale_usd", "DPRK") < 0.2 * v(b, "merchant_wholesale_usd", "DPRK")
    assert v(s, "remittances_usd", "DPRK") < 0.6 * v(b, "remittances_usd", "DPRK")
    assert v(s, "detained", "HamJi") > v(b, "detained", "HamJi")
    assert v(s, "freedom_from_fear", "HamJi") < v(b, "freedom_from_fear", "HamJi")
    assert shut.books.max_rel_residual < 1e-9
