"""Retail's compiled week against the NumPy formulas of its docstring, to the bit (issue 29).

:func:`reference` is retail's week as NumPy writes the docstring's formulas (the code the kernels replaced: sums of
households by ``np.bincount``, in household order, float32 where the households' states are float32), run on the
same random inputs as the kernels in :meth:`Retail.step`'s order (:func:`compiled`; what the engine does in between,
paying the owners, is left out). Every value is compared with ``np.array_equal``: equal to the bit, but for the sign
of a zero, with NaN where NaN. The powers are NumPy's in both, as the project's rule has them.

Cases cover provinces outside the DPRK, the capital, a province without households, imported inputs and markets not
measured yet (NaN), a province with nothing offered, provinces without sellers, producers or rural persons, wages
the budgets cannot pay, and no stall fee.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _households import SEEDS, block_sums, blocks_of, households, reduced, same
from _households import R as R_households
from _markets import MINE, ONE_YEAR, SCALE, TWO_YEARS, run, series, total

from hamji.kernels import household_blocks, province_bounds, reduce_blocks
from hamji.modules import retail as ret
from hamji.modules import retail_kernels as rk
from hamji.payments import pay_from_households
from hamji.people import ROLE_NONE, ROLE_PRODUCER, ROLE_SELLER, ROLES
from hamji.sim import Sim

R = 8  # provinces 0-5 in the DPRK (0 the capital, 3 without households), 6-7 in China
F32 = np.float32
N = 2000


def parameters(rng, fee: float) -> ret.RetailPars:
    """Random parameters in their ranges, as the module builds them (:func:`retail_pars`)."""
    u = rng.uniform
    pars = dict(
        retail_tie_effect=u(0, 2), retail_knowhow_effect=u(0, 2), retail_producer_output_usd=u(1, 20),
        retail_spend_share=u(0.1, 0.9), retail_food_target=u(0.8, 1.5), retail_goods_share=u(0.1, 0.9),
        retail_food_ratio_smoothing=u(0.05, 0.5), retail_state_wage_usd=u(0.1, 3), retail_wage_paid_share=u(0.1, 1),
        retail_wage_budget_share=u(0.01, 0.5), retail_wage_pyongyang_factor=u(1, 3), retail_own_production_rural=u(0, 0.8),
        retail_own_production_urban=u(0, 0.3), retail_pds_share_of_need=u(0, 0.6), retail_pds_reliability=u(0, 1),
        retail_pds_reliability_pyongyang=u(0, 1), retail_rural_surplus=u(0, 0.5), retail_food_mobility=u(0, 1),
        retail_import_input_share=u(0, 0.6), retail_import_input_smoothing=u(0.001, 0.1),
        retail_food_price_elasticity=u(0.2, 2), retail_price_adjustment=u(0.1, 1), retail_food_price_min=u(0.3, 0.8),
        retail_food_price_max=u(1.5, 5), retail_imported_food_share=u(0, 0.5), retail_goods_sell_share=u(0.1, 0.9),
        retail_staples_chain_markup=u(0, 1), retail_grain_takeover_share=u(0, 0.5), retail_grain_procurement_price=u(0, 1),
        retail_goods_price_elasticity=u(0.2, 2), retail_scarcity_min=u(0.5, 1), retail_scarcity_max=u(1, 3),
        retail_margin=u(0.05, 0.5), retail_wholesale_markup=u(0.05, 0.5), retail_food_seller_margin=u(0.05, 0.3),
        wholesale_sales_smoothing=u(0.01, 0.3), retail_hired_labour_share=u(0, 0.5), retail_seller_capacity_usd=u(1, 200),
        retail_stall_fee_usd=fee, retail_stalls_per_market=u(100, 3000), retail_price_food_weight=u(0, 1),
        retail_rice_usd_per_kg=u(0.3, 1))
    return ret.retail_pars(type("Pars", (), pars))


def world(seed: int, wages_paid: bool) -> dict:
    """Households in province order (none in province 3; province 5 without sellers and producers, province 4 without
    rural persons), the province state, the goods in the markets and the branch budgets."""
    rng = np.random.default_rng(seed)
    region = np.sort(rng.choice([0, 1, 2, 4, 5, 6, 7], N)).astype(np.int8)
    scale = 10.0 ** rng.uniform(-2, 4, N)
    role = rng.integers(0, len(ROLES), N).astype(np.int8)
    role[(region == 5) & ((role == ROLE_SELLER) | (role == ROLE_PRODUCER))] = ROLE_NONE
    urban = (rng.random(N) < 0.5) | (region == 4)
    size = rng.integers(1, 7, N).astype(F32)
    need = (size * rng.uniform(1, 3)).astype(F32)
    h = dict(region=region, urban=urban, detained=np.where(rng.random(N) < 0.1, rng.integers(1, 5, N), 0).astype(np.int16),
             role=role, rural_size=np.where(urban, 0.0, size).astype(F32),
             ties_strength=(rng.random(N) * 3 * (rng.random(N) < 0.7)).astype(F32), knowhow=rng.random(N).astype(F32),
             need=need, inv_need=(1.0 / need).astype(F32), cash=rng.random(N) * scale,
             fx=np.where(rng.random(N) < 0.5, rng.random(N) * scale, 0.0), income=(rng.random(N) * 10).astype(F32),
             market_income=rng.normal(0, 5, N).astype(F32), consumption=(rng.random(N) * 30).astype(F32),
             food_ratio=(rng.random(N) * 1.6).astype(F32), inkind=np.zeros(N, F32), budget=np.zeros(N, F32),
             food=np.zeros(N, F32), goods=np.zeros(N, F32))
    dprk = np.arange(R) < 6
    usual = rng.uniform(0, 500, R)
    usual[[1, 4]] = np.nan  # not measured yet
    x = dict(dprk=dprk, capital=np.arange(R) == 0, harvest=rng.lognormal(0, 0.2, R), food_price=rng.uniform(0.5, 2, R),
             usual_stock=usual, rural_need=np.bincount(region, weights=h["rural_size"] * 2.0, minlength=R))
    qty = rng.uniform(0, 100, (R, R)) * (rng.random((R, R)) < 0.5)
    qty[:, 2] = 0.0  # nothing offered in province 2
    trans = qty * rng.uniform(0, 0.2, (R, R))
    company = rng.uniform(0, 50, R)
    company[2] = 0.0
    ema = rng.uniform(0, 300, R)
    ema[[0, 5]] = np.nan
    g = dict(qty=qty, trans=trans, company=company, goods_households=qty.sum(axis=0), sales_ema=rng.uniform(0, 50, R),
             demand_ema=ema)
    budget = rng.uniform(0, 1e5, 3) if wages_paid else np.array([-5.0, 0.0, -1.0])
    return dict(h=h, x=x, g=g, budget=budget, pds_draw=rng.random(R), official=rng.integers(0, 5, R).astype(float),
                scale=1000.0)


def reference(s: dict, p: ret.RetailPars) -> dict:
    """The week as NumPy computes the docstring's formulas; changes ``s`` in place, returns this week's values."""
    h, x, g, budget = s["h"], s["x"], s["g"], s["budget"]
    reg, dprk = h["region"], x["dprk"]
    hsum = lambda v: np.bincount(reg, weights=v, minlength=R)  # noqa: E731
    free = h["detained"] == 0
    seller, producer, idle_hh = free & (h["role"] == ROLE_SELLER), free & (h["role"] == ROLE_PRODUCER), free & (h["role"] == ROLE_NONE)
    one = F32(1.0)
    w_sell = (one + p.retail_tie_effect * h["ties_strength"]) * (one + p.retail_knowhow_effect * h["knowhow"])
    out_hh = p.retail_producer_output_usd * (one + p.retail_knowhow_effect * h["knowhow"])
    v = dict(free_households=hsum(free), free_idle=hsum(idle_hh), free_rural_persons=hsum(np.where(free, h["rural_size"], F32(0))),
             free_sellers=hsum(seller), seller_weight=hsum(np.where(seller, w_sell, F32(0))),
             producer_output=hsum(np.where(producer, out_hh, F32(0))))
    # wages: the budgets pay the state wage per free household times the paid share, at most the budget share
    weight = np.where(x["capital"], p.retail_wage_pyongyang_factor, 1.0) * np.where(dprk, 1.0, 0.0)
    units = float((v["free_households"] * weight).sum())
    due = p.retail_state_wage_usd * p.retail_wage_paid_share * units
    positive = np.maximum(budget, 0.0)
    total = min(due, float(positive.sum()) * p.retail_wage_budget_share)
    if total <= 0 or units <= 0:
        v["wage"], v["wages"] = np.zeros(R), np.zeros(R)
    else:
        budget -= total * positive / positive.sum()
        v["wage"] = total / units * weight
        v["wages"] = v["wage"] * v["free_households"]
    # food in kind: own production, and the ration in towns where it was delivered; budget and food demand
    delivered = s["pds_draw"] < np.where(x["capital"], p.retail_pds_reliability_pyongyang, p.retail_pds_reliability)
    rural_tab = (p.retail_own_production_rural * x["harvest"]).astype(F32)
    urban_tab = (p.retail_own_production_urban * x["harvest"] + p.retail_pds_share_of_need * delivered).astype(F32)
    fp_old = x["food_price"].copy()
    h["cash"] += np.where(free, v["wage"][reg], 0.0)
    h["income"] = np.where(free, (h["income"] + v["wage"][reg]).astype(F32), h["income"])
    k = rural_tab[reg] + (urban_tab - rural_tab)[reg] * np.where(h["urban"], one, F32(0))
    h["inkind"] = k
    h["budget"] = ((h["cash"] + h["fx"]) * p.retail_spend_share).astype(F32)
    h["food"] = np.minimum(np.maximum(p.retail_food_target - k, F32(0)) * h["need"] * fp_old.astype(F32)[reg], h["budget"])
    fs = v["food"] = hsum(h["food"])
    # imported goods G at unit cost, the staples among them, imported inputs A = min(1, G / G_usual)
    held = g["qty"].sum(axis=0)
    cost = held + g["trans"].sum(axis=0) + g["company"]
    v["goods_qty"], v["cost"], v["company"] = held, cost, g["company"].copy()
    sf, sell = p.retail_imported_food_share, p.retail_goods_sell_share
    # the staples at their Chinese price, and as index-1 food (the chain's markup)
    v["staples_cost"] = np.where(dprk, sf * sell * (held + g["company"]), 0.0)
    v["imported_food"] = v["staples_cost"] * (1.0 + p.retail_staples_chain_markup)
    usual = x["usual_stock"]
    usual[:] = np.where(np.isfinite(usual), usual + p.retail_import_input_smoothing * (cost - usual), cost)
    avail = np.where(usual > 0, np.minimum(1.0, cost / np.where(usual > 0, usual, 1.0)), 1.0)
    v["inputs"] = inputs = 1.0 - p.retail_import_input_share * (1.0 - avail)
    rural = x["rural_need"] * p.retail_rural_surplus * x["harvest"]
    domestic = np.where(dprk, (v["producer_output"] + rural) * inputs, 0.0)
    left = 1.0 - p.retail_grain_takeover_share  # the state's grain takeover
    v["supply"] = supply = domestic * left
    v["taken"] = domestic * p.retail_grain_takeover_share
    a = p.retail_food_mobility
    fs_tot = fs.sum()
    v["supply_eff"] = eff = (1.0 - a) * supply + a * supply.sum() * (fs / fs_tot if fs_tot > 0 else 0.0) + v["imported_food"]
    v["wanted"] = wanted = fs / fp_old
    # the food price: f <- clip(f (D / S) ** (elasticity adjustment), min, max); rationing
    d_over_s = np.minimum(np.where(eff > 0, wanted / np.where(eff > 0, eff, 1.0), 1e6), 1e6)
    step = np.where(wanted > 0, d_over_s ** (p.retail_food_price_elasticity * p.retail_price_adjustment), 1.0)
    fp = x["food_price"]
    fp[:] = np.where(dprk, np.clip(fp_old * step, p.retail_food_price_min, p.retail_food_price_max), 1.0)
    qty_r = fs / fp
    ration = np.where(qty_r > 0, np.minimum(1.0, eff / np.where(qty_r > 0, qty_r, 1.0)), 1.0)
    v["planned"] = planned = fs * ration
    v["imp_frac"] = np.where(eff > 0, v["imported_food"] / np.where(eff > 0, eff, 1.0), 0.0)
    v["food_sold"] = np.where(eff > 0, np.minimum(1.0, planned / fp / np.where(eff > 0, eff, 1.0)), 0.0)
    v["procurement"] = p.retail_grain_procurement_price * fp * v["taken"]  # due (the engine pays what the budget holds)
    # consumer goods: offered at u (1 + markup) (1 + margin) s, s = clip((demand / value offered) ** elasticity)
    h["food"] = h["food"] * ration.astype(F32)[reg]
    h["goods"] = (h["budget"] - h["food"]) * p.retail_goods_share
    v["goods"] = gd = hsum(h["goods"])
    v["offered"] = offered = (1.0 - sf) * sell * cost
    xg = np.where(offered > 0, gd / np.where(offered > 0, offered * p.p0, 1.0), 0.0)
    v["s"] = s_ = np.where(offered > 0, np.clip(xg ** p.retail_goods_price_elasticity, p.s_min, p.s_max), p.retail_scarcity_max)
    sold = np.where(offered > 0, np.minimum(1.0, xg / s_), 0.0)
    v["phi_goods"] = phi_goods = (1.0 - sf) * sell * sold
    v["phi"] = phi = phi_goods + sf * sell * np.where(dprk, v["food_sold"], 0.0)
    v["revenue"] = revenue = phi_goods * cost * p.p0 * s_
    take = np.where(gd > 0, revenue / np.where(gd > 0, gd, 1.0), 0.0)
    # eating: households pay (won first), consume, and the food ratio moves
    spend = (h["food"] + h["goods"] * take.astype(F32)[reg]).astype(np.float64)
    from_cash = np.minimum(h["cash"], spend)
    h["cash"] -= from_cash
    from_fx = np.minimum(h["fx"], spend - from_cash)
    h["fx"] -= from_fx
    paid = from_cash + from_fx
    h["consumption"] = (k * h["need"] * fp.astype(F32)[reg] + paid).astype(F32)
    eaten = k + h["food"] * h["inv_need"] * (1.0 / fp).astype(F32)[reg]
    h["food_ratio"] = h["food_ratio"] + (eaten - h["food_ratio"]) * p.retail_food_ratio_smoothing
    paid_r = hsum(paid)
    sc = np.where(planned + revenue > 0, paid_r / np.where(planned + revenue > 0, planned + revenue, 1.0), 0.0)
    v["food_rev"], v["goods_rev"] = food_rev, goods_rev = planned * sc, revenue * sc
    # owners: cost plus markup of the goods sold, what buyers paid for the staples net of the sellers' food margin
    den = held + g["company"]
    unit_cost = np.where(den > 0, cost / np.where(den > 0, den, 1.0), 1.0)
    v["food_owned"] = food_owned = planned * sc * v["imp_frac"] * (1.0 - p.retail_food_seller_margin)
    per = phi_goods * (1.0 + p.retail_wholesale_markup) * sc + np.where(cost > 0, food_owned / np.where(cost > 0, cost, 1.0), 0.0)
    owner_loc = (g["qty"] + g["trans"]) * per[None, :]
    v["owners"] = owner_loc.sum(axis=0)
    v["company_take"] = per * g["company"]
    v["goods_index"] = np.where(offered > 0, s_, p.retail_scarcity_max) * unit_cost
    v["goods_price"] = v["goods_index"] * p.p0
    # the stocks left, smoothed sales and demand
    sold_by_owner = (g["qty"] * phi[None, :]).sum(axis=1)
    g["qty"] *= (1.0 - phi)[None, :]
    g["trans"] *= (1.0 - phi)[None, :]
    g["goods_households"][:] = g["qty"].sum(axis=0)
    g["company"][:] = v["company"] * (1.0 - phi)
    ws = p.wholesale_sales_smoothing
    g["sales_ema"] += ws * (sold_by_owner - g["sales_ema"])
    v["goods_demand"] = np.where(dprk, gd, 0.0)
    ema = g["demand_ema"]
    ema[:] = np.where(np.isfinite(ema), ema + ws * (v["goods_demand"] / p.p0 - ema), v["goods_demand"] / p.p0)
    wf = p.retail_price_food_weight
    v["price_index"] = np.where(dprk, wf * fp + (1.0 - wf) * v["goods_index"], np.nan)
    v["rice"] = np.where(dprk, p.retail_rice_usd_per_kg * fp, np.nan)
    # margins: day labour, sellers (at most their stalls' capacity), producers and farmers
    margin = p.retail_food_seller_margin
    v["margins"] = margins = goods_rev + food_owned - v["owners"] - v["company_take"] + margin * food_rev
    food_net = food_rev * (1.0 - margin) - food_owned + v["procurement"]
    v["turnover"] = food_rev + goods_rev
    v["food_imported"] = food_rev * v["imp_frac"]
    tot_supply = supply.sum()
    food_income = (1.0 - a) * food_net + (a * food_net.sum() * supply / tot_supply if tot_supply > 0 else a * food_net)
    hired = p.retail_hired_labour_share
    keep = 1.0 - hired
    prod_out = v["producer_output"]
    prod_share = np.where(supply > 0, prod_out * inputs * left / np.where(supply > 0, supply, 1.0), 0.0)
    capacity = v["free_sellers"] * p.retail_seller_capacity_usd
    turnover = v["turnover"]
    handled = np.where(turnover > 0, np.minimum(1.0, capacity / np.where(turnover > 0, turnover, 1.0)), 1.0)
    idle = (margins + food_income) * hired + margins * keep * (1.0 - handled)
    to_sellers = margins * keep * handled
    to_producers = food_income * keep * prod_share
    farm = food_income * keep * (1.0 - prod_share)
    for amount, among in ((to_sellers, v["seller_weight"]), (to_producers, prod_out), (farm, v["free_rural_persons"])):
        empty = among <= 0
        idle[empty] += amount[empty]
        amount[empty] = 0.0
    rate = lambda amount, among: np.where(among > 0, amount / np.where(among > 0, among, 1.0), 0.0)  # noqa: E731
    v["rate_farm"] = farm / np.where(v["free_rural_persons"] > 0, v["free_rural_persons"], 1.0)
    v["rate_idle"], v["rate_seller"] = rate(idle, v["free_idle"]), rate(to_sellers, v["seller_weight"])
    v["rate_producer"] = rate(to_producers, prod_out)
    v["left"] = np.where(v["free_idle"] <= 0, idle, 0.0)
    # free households receive the market's pay; tallies
    recv = np.where(free, v["rate_farm"][reg] * h["rural_size"] + np.where(h["role"] == ROLE_NONE, v["rate_idle"][reg], 0.0), 0.0)
    recv[seller] += v["rate_seller"][reg[seller]] * w_sell[seller]
    recv[producer] += v["rate_producer"][reg[producer]] * out_hh[producer].astype(np.float64)
    h["cash"] += recv
    h["income"] = (h["income"] + recv).astype(F32)
    h["market_income"] = (h["market_income"] + recv).astype(F32)
    tallies = np.column_stack([hsum(h["income"]), hsum(h["consumption"]), hsum(h["food_ratio"] >= 1)])
    # stall fees of sellers with a place in an official market
    fees = np.zeros(R)
    n = v["free_sellers"]
    if p.retail_stall_fee_usd > 0 and n.any():
        stalls = s["official"] * p.retail_stalls_per_market / s["scale"]
        due_r = p.retail_stall_fee_usd * np.where(n > 0, np.minimum(1.0, stalls / np.maximum(n, 1.0)), 0.0)
        idx = np.flatnonzero(seller)
        c, f = h["cash"][idx], h["fx"][idx]
        got = pay_from_households(c, f, due_r[reg[idx]])
        h["cash"][idx], h["fx"][idx] = c, f
        h["market_income"][idx] -= got.astype(F32)
        fees = np.bincount(reg[idx], weights=got, minlength=R)
    f32 = dict(in_kind_rural=rural_tab, in_kind_urban=urban_tab, food_price_old=fp_old.astype(F32), ration=ration.astype(F32),
               spent_share=take.astype(F32), food_price_new=fp.astype(F32), inv_food_price=(1.0 / fp).astype(F32))
    return dict(w=v | f32, owners=owner_loc.sum(axis=1), tallies=tallies, fees=fees)


def compiled(s: dict, p: ret.RetailPars) -> dict:
    """The kernels in :meth:`Retail.step`'s order, on the records the module builds."""
    h, x, pars = ret.Households(**s["h"]), ret.Provinces(**s["x"]), ret.as_record(p)
    g = ret.Goods(companies=True, **s["g"])
    blocks = household_blocks(province_bounds(s["h"]["region"], R), N)
    assert len(blocks) == len(np.unique(s["h"]["region"]))  # one block per province: sums as np.bincount adds them
    nb = len(blocks)
    part, free_b, tally_b, tallies = np.zeros((nb, 1)), np.zeros((nb, 6)), np.zeros((nb, 3)), np.zeros((R, 3))
    w = np.empty(R, ret.WEEK)
    rk.free_tally(h, blocks, pars, free_b)
    rk.wages_and_in_kind(free_b, blocks, x, s["budget"], s["pds_draw"], pars, w)
    rk.budgets(h, blocks, pars, w, part)
    d_over_s = rk.food_supply(part, blocks, g, x, pars, w)
    rk.food_price(d_over_s ** (p.retail_food_price_elasticity * p.retail_price_adjustment), x, pars, w)
    rk.goods_budgets(h, blocks, pars, w, part)
    xg = rk.goods_demand(part, blocks, pars, w)
    rk.goods_sales(xg, xg ** p.retail_goods_price_elasticity, x, pars, w)
    rk.pay_and_eat(h, blocks, pars, w, part)
    owners = rk.owners_take(part, blocks, g, pars, w)
    rk.stocks_left(g, x, pars, w)
    rk.margin_rates(pars, w)
    rk.receive_and_tally(h, blocks, pars, w, tally_b)
    reduce_blocks(tally_b, blocks, tallies)
    fees = np.zeros(R)
    sellers = np.flatnonzero((s["h"]["detained"] == 0) & (s["h"]["role"] == ROLE_SELLER))
    rk.market_fees(sellers, h, s["official"], s["scale"], pars, w, fees)
    return dict(w=w, owners=owners, tallies=tallies, fees=fees)


def equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("wages_paid", "fee"), [(True, 0.97), (False, 0.0)])
def test_retail_week_is_the_docstrings_numpy(seed: int, wages_paid: bool, fee: float) -> None:
    p = parameters(np.random.default_rng(100 + seed), fee)
    s = world(seed, wages_paid)
    ref = {k: {n: a.copy() for n, a in d.items()} if isinstance(d, dict) else np.copy(d) for k, d in s.items()}
    got = compiled(s, p)
    want = reference(ref, p)
    for name in ret.WEEK.names:
        assert equal(got["w"][name], want["w"][name]), name
    for part in ("h", "x", "g"):
        for name, a in s[part].items():
            assert equal(a, ref[part][name]), f"{part}.{name}"
    assert equal(s["budget"], ref["budget"])
    for name in ("owners", "tallies", "fees"):
        assert equal(got[name], want[name]), name
    # the cases the inputs are made for
    w = got["w"]
    assert (w["offered"][2] == 0) and (w["free_sellers"][5] == 0) and (w["free_rural_persons"][4] == 0)
    assert (w["wages"].sum() > 0) == wages_paid and (got["fees"].sum() > 0) == (fee > 0)


# -- the household passes against NumPy, and how retail answers prices and wages ---------------------------
def retail_constants(seed: int) -> tuple:
    rng = np.random.default_rng(200 + seed)
    return float(rng.random()), float(rng.random()), float(rng.random() * 20)


def retail_records(h: dict, te: float, ke: float, out_usd: float) -> tuple:
    """The retail kernels' household record (work space zero) and parameter record (the roles' constants; the
    other fields 0), as the kernels take it."""
    n = len(h["region"])
    z32 = np.zeros(n, F32)
    hh = ret.Households(h["region"], np.zeros(n, bool), h["detained"], h["role"], h["rural_size"], h["ties_strength"],
                        h["knowhow"], z32, z32, h["cash"], h["fx"], h["income"], h["market_income"], h["consumption"],
                        h["food_ratio"], z32, z32, z32, z32)
    p = ret.RetailPars(**({n: 0.0 for n in ret.RetailPars._fields}
                          | dict(retail_tie_effect=F32(te), retail_knowhow_effect=F32(ke),
                                 retail_producer_output_usd=F32(out_usd))))
    return hh, ret.as_record(p)


@pytest.mark.parametrize("seed", SEEDS)
def test_retail_free_tally_matches_numpy(seed, threads, block):
    h = households(seed)
    te, ke, out_usd = retail_constants(seed)
    blocks = blocks_of(h["region"], block)
    part = np.zeros((len(blocks), 6))
    hh, p = retail_records(h, te, ke, out_usd)
    rk.free_tally(hh, blocks, p, part)
    out = reduced(part, blocks)
    free = h["detained"] == 0
    seller = (h["role"] == ROLE_SELLER) & free
    prod = (h["role"] == ROLE_PRODUCER) & free
    w_sell = np.where(seller, (1.0 + te * h["ties_strength"]) * (1.0 + ke * h["knowhow"]), 0.0)
    prod_out = np.where(prod, out_usd * (1.0 + ke * h["knowhow"]), 0.0)
    same(out[:, 0], block_sums(free, blocks))
    same(out[:, 1], block_sums(free & (h["role"] == ROLE_NONE), blocks))
    same(out[:, 2], block_sums(np.where(free, h["rural_size"], 0.0), blocks))
    same(out[:, 3], block_sums(seller, blocks))
    same(out[:, 4], block_sums(w_sell, blocks))
    same(out[:, 5], block_sums(prod_out, blocks))
    if block is None:  # one block per province: the sums np.bincount makes
        reg = h["region"]
        same(out[:, 4], np.bincount(reg[seller], weights=w_sell[seller], minlength=R_households))


@pytest.mark.parametrize("seed", SEEDS)
def test_retail_receipts_credit_and_tally_match_numpy(seed, threads, block):
    h = households(seed)
    te, ke, out_usd = retail_constants(seed)
    rng = np.random.default_rng(300 + seed)
    rates = rng.random((R_households, 4)) * 10.0 ** rng.uniform(-3, 3, (R_households, 4))
    blocks = blocks_of(h["region"], block)
    cash, income, mi = h["cash"].copy(), h["income"].copy(), h["market_income"].copy()
    part = np.zeros((len(blocks), 3))
    hh, p = retail_records(dict(h, cash=cash, income=income, market_income=mi), te, ke, out_usd)
    w = np.zeros(R_households, ret.WEEK)
    for k, name in enumerate(("rate_farm", "rate_idle", "rate_seller", "rate_producer")):
        w[name] = rates[:, k]
    rk.receive_and_tally(hh, blocks, p, w, part)
    out = reduced(part, blocks)
    # reference: day labour and farms, the sellers' and producers' shares added by fancy indexing, credit, tally
    reg, free = h["region"], h["detained"] == 0
    recv = np.where(free, rates[reg, 0] * h["rural_size"] + np.where(h["role"] == ROLE_NONE, rates[reg, 1], 0.0), 0.0)
    sellers = np.flatnonzero((h["role"] == ROLE_SELLER) & free)
    prod = np.flatnonzero((h["role"] == ROLE_PRODUCER) & free)
    w_sell = (1.0 + te * h["ties_strength"][sellers]) * (1.0 + ke * h["knowhow"][sellers])
    prod_out = np.asarray(out_usd * (1.0 + ke * h["knowhow"][prod]), dtype=np.float64)
    recv[sellers] += rates[reg[sellers], 2] * w_sell
    recv[prod] += rates[reg[prod], 3] * prod_out
    same(cash, h["cash"] + recv)
    same(income, (h["income"] + recv).astype(F32))
    same(mi, (h["market_income"] + recv).astype(F32))
    same(out[:, 0], block_sums(income, blocks))
    same(out[:, 1], block_sums(h["consumption"], blocks))
    same(out[:, 2], block_sums(h["food_ratio"] >= 1, blocks))
    if block is None:
        same(out[:, 0], np.bincount(reg, weights=income, minlength=R_households))
    part2 = np.zeros((len(blocks), 3))
    rk.tally(hh, blocks, part2)
    same(reduced(part2, blocks), out)


@pytest.mark.parametrize("seed", SEEDS)
def test_stall_fees_match_charge(seed):
    h = households(seed)
    rng = np.random.default_rng(400 + seed)
    fee_r = rng.random(R_households) * 50
    sellers = np.flatnonzero((h["role"] == ROLE_SELLER) & (h["detained"] == 0))
    cash, fx, mi = h["cash"].copy(), h["fx"].copy(), h["market_income"].copy()
    fees = np.zeros(R_households)
    hh, _ = retail_records(dict(h, cash=cash, fx=fx, market_income=mi), 0.0, 0.0, 0.0)
    rk.stall_fees(sellers, hh, fee_r, fees)
    c, f = h["cash"][sellers], h["fx"][sellers]
    got = pay_from_households(c, f, fee_r[h["region"][sellers]])
    cash_ref, fx_ref, mi_ref = h["cash"].copy(), h["fx"].copy(), h["market_income"].copy()
    cash_ref[sellers], fx_ref[sellers] = c, f
    mi_ref[sellers] -= got.astype(F32)
    same(cash, cash_ref), same(fx, fx_ref), same(mi, mi_ref)
    same(fees, np.bincount(h["region"][sellers], weights=got, minlength=R_households))


# -- retail, incomes, consumption -----------------------------------------------------------------
def test_food_ratio_responds_to_prices(base):
    scarce = run(TWO_YEARS, modules=MINE, retail_rural_surplus=0.1)
    last = slice(-26, None)
    assert np.nanmean(series(scarce, "rice_price_kpw")[last]) > 1.2 * np.nanmean(series(base, "rice_price_kpw")[last])
    assert np.nanmean(series(scarce, "food_secure_share")[last]) < np.nanmean(series(base, "food_secure_share")[last])
    hh = base.people.households
    assert 0.3 < float(hh.food_ratio.mean()) < 1.5
    assert np.all(hh.consumption >= 0)


def test_incomes_fees_and_wages(base):
    assert total(base, "market_fees_usd") > 0
    assert total(base, "income_per_capita_usd") > 0
    # participants earn more than non-participants, more so near the border
    hh = base.people.households
    w = base.world
    part = hh.role > 0
    hamji = np.isin(hh.region, [w.index[p] for p in ("North Hamgyong", "Ryanggang", "Rason", "South Hamgyong")])
    money = hh.cash + hh.fx
    assert money[part & hamji].mean() > money[~part & hamji].mean()


def test_state_wages_come_from_budgets_and_are_often_unpaid():
    sim = Sim(seed=1, scale=SCALE, start=ONE_YEAR[0], end=ONE_YEAR[1], modules=MINE)
    sim.initialize()
    sim.accounts.budget[:] = 1e9  # rich state: wages paid at the paid share
    sim.books.open()
    sim.step()
    due = sim.pars.retail_state_wage_usd * sim.pars.retail_wage_paid_share
    paid = series(sim, "state_wages_paid_usd")[0] / sim.scale
    households = sim.people.households.n
    assert households * due * 0.99 < paid < households * due * sim.pars.retail_wage_pyongyang_factor
    broke = run(modules=MINE, retail_wage_budget_share=0.0)
    assert total(broke, "state_wages_paid_usd") == 0.0


def test_imported_staples_join_the_food_market_and_their_stop_raises_the_food_price():
    """A fifth of the imported goods offered are staples sold as food; when the border shuts (set_parameters from a
    date), imported food dries up and in the following months the rice price rises against the same seed left open
    (supply falls at once; later, as incomes collapse with the trade, demand falls too and the price with it)."""
    from hamji.scenario import Scenario, ScenarioSpec

    period = (dt.date(2000, 1, 3), dt.date(2002, 12, 30))
    shut = ScenarioSpec(name="t", events=[{"type": "set_parameters", "start": "2002-01-07",
                                           "params": {"border_open": 0.0, "border_trips_open": 0.0}}])
    open_ = Sim(seed=1, scale=SCALE, start=period[0], end=period[1]).run()
    closed = Sim(Scenario(shut, "test"), seed=1, scale=SCALE, start=period[0], end=period[1]).run()
    assert total(open_, "food_imported_usd") > 0
    late = slice(-26, None)  # the second half of 2002
    assert series(closed, "food_imported_usd")[late].sum() < 0.2 * series(open_, "food_imported_usd")[late].sum()
    first = slice(-51, -38)  # the first quarter of 2002, after the shut
    assert np.nanmean(series(closed, "rice_price_kpw")[first]) > 1.02 * np.nanmean(series(open_, "rice_price_kpw")[first])
    assert closed.books.max_rel_residual < 1e-9


# -- the state's grain takeover (issue 30: the closure as the state ran it) -------------------------------------------
TAKEOVER_FROM = "2001-01-01"


def _takeover_runs():
    """The same seed with and without the state's grain takeover (a third of the marketed food) from 2001."""
    from hamji.scenario import Scenario, ScenarioSpec

    spec = ScenarioSpec(name="t", events=[{"type": "set_parameters", "start": TAKEOVER_FROM,
                                           "params": {"retail_grain_takeover_share": 0.33}}])
    free = Sim(seed=1, scale=SCALE, start=TWO_YEARS[0], end=TWO_YEARS[1]).run()
    taken = Sim(Scenario(spec, "test"), seed=1, scale=SCALE, start=TWO_YEARS[0], end=TWO_YEARS[1]).run()
    return free, taken


@pytest.fixture(scope="module")
def takeover():
    return _takeover_runs()


def test_grain_takeover_raises_the_food_price_and_lowers_the_food_on_the_market(takeover):
    """From the event on, the state takes food off the market: the market's price (rice in US$) rises against the same
    seed without it, the quantity sold at market (food sold over the price index) falls, the state pays a
    procurement price and its grain shops sell; before the event the two runs are the same to the bit (off means
    off); money is conserved every week."""
    free, taken = takeover
    weeks = free.results.values.shape[0]
    before = slice(0, 52)  # 2000: the takeover is off in both
    for metric in ("rice_price_usd", "food_market_usd", "income_per_capita_usd", "regime_revenue_usd"):
        assert np.array_equal(series(free, metric)[before], series(taken, metric)[before], equal_nan=True), metric
    assert total(free, "grain_taken_usd") == total(free, "grain_shop_sales_usd") == total(free, "grain_procurement_usd") == 0
    late = slice(weeks - 39, weeks)  # the last three quarters of 2001
    rice_free, rice_taken = np.nanmean(series(free, "rice_price_usd")[late]), np.nanmean(series(taken, "rice_price_usd")[late])
    assert rice_taken > 1.1 * rice_free
    per_kg = free.pars.retail_rice_usd_per_kg  # rice in US$ = per_kg x food price index: quantity = value / index

    def quantity(sim):
        return np.nansum(series(sim, "food_market_usd")[late] / (series(sim, "rice_price_usd")[late] / per_kg))

    assert quantity(taken) < 0.95 * quantity(free)
    assert total(taken, "grain_taken_usd") > 0
    assert 0 < total(taken, "grain_procurement_usd") <= taken.pars.retail_grain_procurement_price * total(taken, "grain_taken_usd") * 1.0001
    assert 0 < total(taken, "grain_shop_sales_usd") < total(taken, "grain_taken_usd")
    assert taken.books.max_rel_residual < 1e-9 and free.books.max_rel_residual < 1e-9


def test_households_buying_in_state_grain_shops_pay_the_discounted_price():
    """The shops' pass on the households after their budgets: each buys at most the shops' grain per unit of need (and
    its food target, and its budget), pays ``1 - discount`` times last week's market price for it from its money,
    gets it as food in kind, and spends less at market; what they paid is what the pass reports."""
    p = parameters(np.random.default_rng(7), 0.0)
    s = world(3, True)
    h, x, pars = ret.Households(**s["h"]), ret.Provinces(**s["x"]), ret.as_record(p)
    blocks = household_blocks(province_bounds(s["h"]["region"], R), N)
    nb = len(blocks)
    part, free_b = np.zeros((nb, 1)), np.zeros((nb, 6))
    w = np.empty(R, ret.WEEK)
    rk.free_tally(h, blocks, pars, free_b)
    rk.wages_and_in_kind(free_b, blocks, x, s["budget"], s["pds_draw"], pars, w)
    rk.budgets(h, blocks, pars, w, part)
    money0, inkind0, food0, budget0 = h.cash + h.fx, h.inkind.copy(), h.food.copy(), h.budget.copy()
    avail = np.where(s["x"]["dprk"], 0.3, 0.0).astype(F32)
    avail[1] = 0.0  # a province whose shops have nothing to sell this week
    fp_old = np.ascontiguousarray(w["food_price_old"])
    price = (0.8 * fp_old).astype(F32)  # 20% under the market
    out = np.zeros((nb, 3))
    rk.grain_shops(h, blocks, pars, avail, price, fp_old, out)
    paid = money0 - (h.cash + h.fx)
    ks = (h.inkind - inkind0).astype(np.float64)
    reg = s["h"]["region"]
    assert (ks > 0).sum() > N // 4 and np.all(ks <= avail[reg] + 1e-7) and np.all(ks[avail[reg] == 0] == 0)
    bought = ks > 0
    # paid = grain x need x 0.8 f_old: the discounted price of last week's market price (the grain read back from the
    # float32 food in kind, to its precision)
    np.testing.assert_allclose(paid[bought], (ks * h.need * 0.8 * fp_old[reg])[bought], rtol=1e-5, atol=1e-6)
    assert np.all(paid[~bought] == 0)
    assert np.all(paid <= budget0 * (1 + 1e-6))  # within the week's budget
    assert np.all(h.food <= food0) and (h.food < food0).sum() > N // 5  # less bought at market
    np.testing.assert_allclose(out[:, 1].sum(), paid.sum(), rtol=1e-9)
    np.testing.assert_allclose(out[:, 0].sum(), h.food.astype(np.float64).sum(), rtol=1e-6)
