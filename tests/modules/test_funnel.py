"""The funnel's compiled week gives what the NumPy expressions it replaced give, to the bit (issue 18).

Cases cover home markets that cannot absorb the companies' imports, markets not measured yet (NaN demand),
crossings without room for all, a state import bill above and below what the reserves hold.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _nkinc import MODULES, SEEDS, annual, make, weekly

from hamji.errors import UserError
from hamji.market import sell_to_merchants
from hamji.modules.funnel import (
    ABROAD,
    BUDGET,
    BUDGET_OUT,
    CASH,
    FX,
    GOODS,
    HABIT,
    LEADER,
    LEADER_OUT,
    NEW_HABIT,
    RETAINED,
    REVENUE,
    STATE_IMPORTS,
    TOTALS,
    China,
    Companies,
    FunnelOut,
    FunnelPars,
    HomeMarkets,
    StateAccounts,
    _funnel,
    revenue_split,
)
from hamji.modules.revenue_bases import COMMODITIES
from hamji.scenario import EventSpec, Scenario, ScenarioSpec
from hamji.sim import Sim

R, NX, NB = 15, 9, 3


def reference(w: dict, pars: dict) -> dict:
    """Funnel.step as NumPy (and plain Python for the state's scalars) computed it; changes ``w`` in place."""
    home, branch, crossing = w["home"], w["branch"], w["crossing"]
    rev = w["revenue"].copy()
    want = pars["import_share"] * rev
    want_r = np.bincount(home, weights=want, minlength=R)
    cap_r = pars["market_share"] * w["demand_ema"]
    absorb = np.where(np.isfinite(cap_r) & (want_r > cap_r), cap_r / np.where(want_r > 0, want_r, 1.0), 1.0)
    unabsorbed = want * (1.0 - absorb[home])
    want -= unabsorbed
    to_leader = pars["leader_share"] * rev
    to_budget = pars["budget_share"] * rev + unabsorbed
    w["cash"] -= to_leader + to_budget
    by_leader = np.bincount(home, weights=to_leader, minlength=R)
    w["leader"][0] += by_leader.sum()
    w["state_in"] += by_leader
    by_budget = []
    for k in range(NB):
        mine = branch == k
        by_budget.append(np.bincount(home[mine], weights=to_budget[mine], minlength=R))
        w["budget"][k] += by_budget[k].sum()
        w["state_in"] += by_budget[k]
    want_x = np.bincount(crossing, weights=want, minlength=NX)
    usd_per_t = pars["usd_per_t"]
    tonnes = want_x / usd_per_t
    room = np.maximum(w["capacity"] * w["multiplier"] * w["open_share"] / 52.0 / w["scale"] - w["used"], 0.0)
    tonnes_x = np.where(tonnes > 0, np.minimum(np.maximum(tonnes, 0.0), room), 0.0)
    w["used"] += tonnes_x
    spend_x = np.where(want_x > 0, np.minimum(tonnes_x * usd_per_t, want_x), 0.0)
    frac = np.where(want_x > 0, spend_x / np.where(want_x > 0, want_x, 1.0), 0.0)
    spent = want * frac[crossing]
    w["cash"] -= spent
    spent_x = np.bincount(crossing, weights=spent, minlength=NX)
    sold = np.zeros(NX)
    for x in np.flatnonzero(spent_x > 0):
        sold[x] = sell_to_merchants(w["mer_region"], w["mer_capital"], int(w["china_region"][x]), float(spent_x[x]), w["margin"],
                        np.empty(len(w["mer_capital"])))
    goods = np.bincount(home, weights=spent, minlength=R)
    w["goods_company"] += goods
    w["imports_company"] += goods
    w["goods_claim"] += spent
    w["revenue"][:] = 0.0
    retained = rev - to_leader - to_budget - spent
    # the state
    s_fx = pars["s_fx"]
    leader_out = float(w["leader"][0]) * pars["leader_rate"]
    w["leader"][0] -= leader_out
    budget_out = w["budget"] * pars["budget_rate"]
    w["budget"] -= budget_out
    fx = s_fx * (leader_out + float(budget_out.sum()))
    w["reserves"][0] += fx
    for a in w["outside"]:
        w["reserves"][0] += float(a)
    h = pars["habit"]
    target = fx if fx >= h else min(h, fx + sum(w["outside"].tolist()))
    want_state = min(max(fx, h), float(w["reserves"][0]))
    new_h = h + (target - h) / pars["habit_weeks"]
    state_imports = 0.0
    if want_state > 0:
        c = w["state_crossing"]
        t = min(max(want_state / pars["state_usd_per_t"], 0.0),
                max(w["capacity"][c] * w["multiplier"][c] * w["open_share"] / 52.0 / w["scale"] - w["used"][c], 0.0))
        w["used"][c] += t
        state_imports = min(t * pars["state_usd_per_t"], want_state)
    w["reserves"][0] -= state_imports
    w["imports_state"][w["state_region"]] += state_imports
    abroad = max(float(w["reserves"][0]) - pars["cap_weeks"] * new_h, 0.0)
    w["reserves"][0] -= abroad
    table = {REVENUE: np.bincount(home, weights=rev, minlength=R), LEADER: by_leader, GOODS: goods,
             RETAINED: np.bincount(home, weights=retained, minlength=R),
             CASH: np.bincount(home, weights=w["cash"], minlength=R)}
    for k in range(NB):
        table[BUDGET + k] = by_budget[k]
    state = {LEADER_OUT: leader_out, BUDGET_OUT: float(budget_out.sum()), FX: fx, HABIT: h, NEW_HABIT: new_h,
             STATE_IMPORTS: state_imports, ABROAD: abroad}
    sums = [rev.sum(), to_leader.sum(), to_budget.sum(), unabsorbed.sum(), spent.sum(), retained.sum()]
    return dict(table=table, state=state, spent_x=spent_x, sold=sold, sums=sums, limited=bool((spend_x < want_x).any()))


def world(seed: int, n: int = 225) -> dict:
    rng = np.random.default_rng(seed)
    ema = rng.uniform(0.0, 400.0, R)
    ema[rng.random(R) < 0.3] = np.nan  # not measured yet
    ema[2] = 0.0
    mer_region = rng.integers(20, 26, 60).astype(np.int8)
    return dict(home=rng.integers(0, R, n).astype(np.int8), branch=rng.integers(0, NB, n).astype(np.int8),
                crossing=rng.integers(0, NX, n).astype(np.int64),
                revenue=rng.lognormal(2.0, 1.5, n) * (rng.random(n) < 0.8),
                cash=rng.normal(50.0, 20.0, n), goods_claim=rng.uniform(0.0, 10.0, n), demand_ema=ema,
                goods_company=rng.uniform(0, 5, R), imports_company=np.zeros(R), leader=np.array([rng.uniform(0, 1e3)]),
                budget=rng.uniform(0, 1e3, NB), state_in=np.zeros(R), reserves=np.array([rng.uniform(0, 2e3)]),
                imports_state=np.zeros(R), capacity=rng.uniform(0.0, 1e4, NX) * (np.arange(NX) != 1),  # crossing 1 shut
                multiplier=rng.uniform(0.5, 1.5, NX),
                open_share=0.9, scale=1000.0, used=rng.uniform(0.0, 0.5, NX), outside=rng.uniform(0.0, 30.0, 3),
                state_crossing=4, state_region=0, china_region=rng.integers(20, 27, NX).astype(np.int64),
                mer_region=mer_region, mer_capital=rng.lognormal(8.0, 1.0, 60), margin=0.15)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("habit", [0.0, 5.0, 1e5])  # the bill below, near and above the FX spending and reserves
def test_funnel_week_is_numpys(seed: int, habit: float) -> None:
    pars = dict(leader_share=0.2, budget_share=0.3, import_share=0.25, market_share=0.05, usd_per_t=2000.0,
                leader_rate=0.02, budget_rate=0.05, s_fx=0.98, habit=habit, habit_weeks=52.0, state_usd_per_t=1000.0,
                cap_weeks=52.0)
    w = world(seed)
    ref = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in w.items()}
    want = reference(ref, pars)
    p = FunnelPars(pars["leader_share"], pars["budget_share"], pars["import_share"], pars["market_share"],
                   pars["usd_per_t"], w["margin"], pars["leader_rate"], pars["budget_rate"], pars["s_fx"],
                   sum(w["outside"].tolist()), pars["habit_weeks"], pars["state_usd_per_t"], pars["cap_weeks"])
    by_home, spent_x, sold_x = np.full((CASH + 1, R), np.nan), np.zeros(NX), np.zeros(NX)
    sums, state = np.zeros(len(TOTALS)), np.zeros(7)
    _funnel(Companies(w["revenue"], w["home"], w["branch"], w["crossing"], w["cash"], w["goods_claim"]),
            HomeMarkets(w["demand_ema"], w["goods_company"], w["imports_company"]),
            StateAccounts(w["leader"], w["budget"], w["state_in"], w["reserves"], w["imports_state"], w["outside"],
                          w["state_crossing"], w["state_region"]),
            China(w["capacity"], w["multiplier"], w["used"], w["scale"], w["china_region"], w["mer_region"],
                  w["mer_capital"]),
            p, w["open_share"], pars["habit"], FunnelOut(by_home, spent_x, sold_x, sums, state))
    for k, v in ref.items():
        assert np.array_equal(w[k], v, equal_nan=np.asarray(v).dtype.kind == "f"), k
    for row, v in want["table"].items():
        assert np.array_equal(by_home[row], v), row
    for i, v in want["state"].items():
        assert state[i] == v, i
    assert np.array_equal(spent_x, want["spent_x"]) and np.array_equal(sold_x, want["sold"])
    assert sums.tolist() == [float(s) for s in want["sums"]]
    assert want["sums"][3] > 0 and want["limited"]  # some import money unabsorbed, some crossing short of room


def module(sim: Sim, name: str):
    return next(m for m in sim.modules if m.name == name)


@pytest.mark.parametrize("overrides", [
    {},
    {"leader_share": 0.5, "budget_share_of_rest": 0.2, "import_share_of_rest": 0.4 / 0.4, "wahku_crackdown": 3.0,
     "crossing_capacity_multiplier": 0.3, "consumer_goods_usd_per_t": 300.0},
])
def test_every_dollar_of_revenue_ends_in_one_sink(overrides: dict) -> None:
    for seed in SEEDS:
        sim = make(seed=seed, end=dt.date(2001, 12, 31), **overrides).run()
        t = module(sim, "funnel").totals
        leader_share, budget_share, import_share = revenue_split(sim.pars)
        sinks = t["leader"] + t["budgets"] + t["imports"] + t["retained"]
        assert sinks == pytest.approx(t["revenue"], rel=1e-9)
        assert t["leader"] == pytest.approx(leader_share * t["revenue"], rel=1e-9)
        # the budgets get their share, plus the import money the home markets could not absorb
        assert t["budgets"] == pytest.approx(budget_share * t["revenue"] + t["unabsorbed"], rel=1e-9)
        assert t["imports"] + t["unabsorbed"] <= import_share * t["revenue"] * (1 + 1e-9)
        # without retail, revenue is exactly the export sales from Chinese buyers
        assert t["revenue"] == pytest.approx(sim.books.inflows["export_sales"], rel=1e-9)
        # the recorded series agree with the totals (scaled)
        assert sum(annual(sim, "company_revenue_usd").values()) == pytest.approx(t["revenue"] * sim.scale, rel=1e-9)
        budgets = sum(sum(annual(sim, f"budget_{b}_usd").values()) for b in ("kpa", "kwp", "cabinet"))
        assert budgets == pytest.approx(t["budgets"] * sim.scale, rel=1e-9)
        assert sim.books.max_rel_residual < 1e-9
    if overrides:
        assert t["imports"] < 0.99 * import_share * t["revenue"]  # crossing room bound: money kept


def test_company_imports_become_goods_in_the_north() -> None:
    sim = make(end=dt.date(2000, 12, 31))
    sim.initialize()
    cap0 = sim.people.merchants.capital.sum()
    sim.run()
    comp, market = sim.people.companies, sim.market
    imports = sum(annual(sim, "company_imports_usd").values())
    assert imports == pytest.approx(module(sim, "funnel").totals["imports"] * sim.scale, rel=1e-9)
    state = sum(annual(sim, "state_imports_usd").values())
    assert sum(annual(sim, "imports_usd").values()) == pytest.approx(imports + state, rel=1e-9)  # no wholesale here
    # nobody sells them here (no retail module): goods and claims pile up at landed cost
    assert market.goods_company.sum() == pytest.approx(comp.goods_claim.sum(), rel=1e-9)
    assert market.goods_company.sum() * sim.scale == pytest.approx(imports, rel=1e-9)
    margin = sim.pars.merchant_margin
    assert sim.people.merchants.capital.sum() - cap0 == pytest.approx(margin * imports / sim.scale, rel=1e-6)


def test_state_accounts_are_spent_and_stay_bounded() -> None:
    sim = make(end=dt.date(2005, 12, 31)).run()
    pars = sim.pars
    inflow = annual(sim, "leader_fund_usd")[2005] / 52
    level = annual(sim, "leader_accounts_usd")[2005]
    assert level < 1.2 * inflow / pars.leader_spending_rate  # steady state inflow / rate
    assert sum(annual(sim, "leader_spending_usd").values()) > 0
    assert sum(annual(sim, "state_spending_usd").values()) > 0
    assert sim.books.outflows["leader_spending"] > 0 and sim.books.outflows["state_spending"] > 0


@pytest.mark.parametrize("leader, budget, imports", [(1.0, 1.0, 1.0), (0.0, 1.0, 1.0), (0.6, 1.0, 0.0), (0.3, 0.0, 1.0)])
def test_any_funnel_shares_within_their_ranges_split_at_most_the_revenue(leader, budget, imports) -> None:
    """Each share is a share of what the ones before leave, so every corner of the box is a valid split."""
    sim = make(end=dt.date(2000, 6, 1), leader_share=leader, budget_share_of_rest=budget,
               import_share_of_rest=imports).run()
    t = module(sim, "funnel").totals
    split = revenue_split(sim.pars)
    assert sum(split) <= 1.0 + 1e-12 and min(split) >= 0.0
    assert t["leader"] + t["budgets"] + t["imports"] + t["retained"] == pytest.approx(t["revenue"], rel=1e-9)
    assert t["leader"] == pytest.approx(leader * t["revenue"], rel=1e-9)


def test_old_funnel_share_names_say_what_replaced_them() -> None:
    with pytest.raises(UserError, match="use budget_share_of_rest"):
        make(end=dt.date(2000, 2, 1), budget_share=0.5)


def test_reserves_take_named_outside_inflows_and_pay_state_imports_with_balanced_books() -> None:
    sim = make(end=dt.date(2003, 12, 31), fx_arms_usd_year=1e8).run()
    real = sim.scale
    for flow, par in (("fx_workers_abroad", "fx_workers_abroad_usd_year"), ("fx_cyber_theft", "fx_cyber_theft_usd_year"),
                      ("fx_arms", "fx_arms_usd_year")):
        assert sim.books.inflows[flow] * real == pytest.approx(sim.pars[par] / 52 * sim.n_weeks, rel=1e-9)
        assert sum(annual(sim, f"{flow}_usd").values()) == pytest.approx(sim.books.inflows[flow] * real, rel=1e-9)
    state = sum(annual(sim, "state_imports_usd").values())
    assert state == pytest.approx(sim.books.outflows["state_imports"] * real, rel=1e-9) and state > 0
    # the reserves' own account: opening + inflows - state imports - spending abroad = closing
    fx_in = sum(annual(sim, "state_fx_spending_usd").values()) + sum(
        sim.books.inflows[f] * real for f in ("fx_workers_abroad", "fx_cyber_theft", "fx_arms"))
    closing = annual(sim, "reserves_usd")[2003]
    abroad = sim.books.outflows["reserves_spending_abroad"] * real
    assert closing == pytest.approx(sim.pars.reserves_initial_usd + fx_in - state - abroad, rel=1e-9)
    assert closing <= sim.pars.reserves_cap_weeks * module(sim, "funnel").habit * real * (1 + 1e-9)
    assert sim.books.max_rel_residual < 1e-9


def test_state_imports_do_not_collapse_the_week_exports_stop() -> None:
    bans = {f"ban_{c}": True for c in COMMODITIES}
    spec = ScenarioSpec(name="embargo", events=[EventSpec(type="set_parameters", start=dt.date(2003, 1, 6), params=bans)])
    sim = Sim(scenario=Scenario(spec, "test"), seed=1, scale=1000, end=dt.date(2004, 12, 31), modules=MODULES,
              overrides={"evasion_on": False}).run()
    week = int(np.flatnonzero(sim.dates <= np.datetime64("2003-01-06"))[-1])
    assert (weekly(sim, "exports_usd")[week:] == 0).all()
    state = weekly(sim, "state_imports_usd")
    before = state[week - 8:week].mean()
    # the habitual bill falls over state_import_habit_weeks, paid from the reserves: not at once
    assert state[week:week + 4].mean() > 0.8 * before
    assert state[week + 52:].mean() < state[week:week + 4].mean()
    assert sim.books.max_rel_residual < 1e-9
