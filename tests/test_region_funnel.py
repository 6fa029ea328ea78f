"""The funnel's compiled week gives what the NumPy expressions it replaced give, to the bit (issue 18).

Cases cover home markets that cannot absorb the companies' imports, markets not measured yet (NaN demand),
crossings without room for all, a state import bill above and below what the reserves hold.
"""

from __future__ import annotations

import numpy as np
import pytest

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
)

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
