"""The distribution module's compiled region-level step against its NumPy formulas, bit for bit (issue 18).

The references below are the NumPy code the kernels replaced; inputs are random, with most cells of the
ownership matrices empty (as in runs) and, for the shipments, also computed with every cell (``ShipPars.finite``
False) to check that skipping empty cells changes nothing.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from _markets import MINE, ONE_YEAR, SCALE, TWO_YEARS, run, series, total

from hamji.kernels import ratio_or
from hamji.modules.distribution import AdhocPars, Goods, Owners, Shipments, ShipPars, Sites, _adhoc, _ship
from hamji.payments import charge, group_credit, group_totals, pay_from_households, share_out
from hamji.sim import Sim
from hamji.trade import _rescale_stakes, sync_goods, trade_state

R = 15


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.all(a.view(np.uint8) == b.view(np.uint8)))


def sync_ref(qty, trans, tracked, target) -> None:
    col = qty.sum(axis=0)
    add = np.maximum(target - col, 0.0)
    idx = np.arange(len(col))
    qty[idx, idx] += add
    tracked += add
    shrink = target < col
    if shrink.any():
        f = np.where(shrink, target / np.where(col > 0, col, 1.0), 1.0)
        qty *= f[None, :]
        trans *= f[None, :]


def ship_ref(qty, trans, price, demand, per_unit, decay, km_t, seize_at, z, inland, dprk, mobility, usd_per_tkm,
             stake_f32, region, cash, fx, seized):
    r = len(price)
    gap = np.maximum(price[None, :] - price[:, None] - per_unit, 0.0) / np.maximum(price[:, None], 1e-12)
    pull = demand[None, :] * gap * decay
    w_move = np.where(inland, pull, 0.0)
    w_stay = np.where(dprk, demand, 0.0)
    denom = w_move.sum(axis=1) + w_stay
    frac = np.where(denom[:, None] > 0, mobility * w_move / np.where(denom > 0, denom, 1.0)[:, None], 0.0)
    move = qty[:, :, None] * frac[None, :, :]
    cost = move * km_t[None] * usd_per_tkm
    bill = cost.sum(axis=(1, 2))
    ok = np.ones(r)
    billed = bool(bill.any())
    if billed:
        payers = np.flatnonzero(stake_f32 > 0)
        reg = region[payers]
        stake = stake_f32[payers].astype(np.float64)
        tot = np.bincount(reg, weights=stake, minlength=r)
        want = ratio_or(bill, tot)[reg] * stake
        c, f = cash[payers], fx[payers]
        paid = pay_from_households(c, f, want)
        cash[payers], fx[payers] = c, f
        paid_r = np.bincount(reg, weights=paid, minlength=r)
        ok = np.where(bill > 0, np.where(tot > 0, paid_r / np.where(bill > 0, bill, 1.0), 0.0), 1.0)
        move *= ok[:, None, None]
        cost *= ok[:, None, None]
        fee_r = cost.sum(axis=(0, 2))
        diff = paid_r.sum() - fee_r.sum()
        fee_r[np.argmax(fee_r)] += diff
    else:
        fee_r = np.zeros(r)
    trans_move = trans[:, :, None] * frac[None, :, :] * ok[:, None, None]
    flows = move.sum(axis=0)
    seized += np.einsum("ld,ldx->x", flows + trans_move.sum(axis=0), seize_at)
    arrive = (move * (1.0 - z)[None]).sum(axis=1)
    trans_arrive = ((trans_move * (1.0 - z)[None]).sum(axis=1) + cost.sum(axis=1))
    qty -= move.sum(axis=2)
    trans -= trans_move.sum(axis=2)
    qty += arrive
    trans += trans_arrive
    np.maximum(qty, 0.0, out=qty)
    np.maximum(trans, 0.0, out=trans)
    return arrive.sum(axis=0), fee_r, flows, billed


def inputs(seed: int, n_hh: int = 3000):
    rng = np.random.default_rng(seed)
    dprk = np.zeros(R, dtype=bool)
    dprk[:11] = True
    bk = rng.uniform(0, 400, R)
    km = rng.uniform(50, 600, (R, R))
    np.fill_diagonal(km, 0.0)
    inland = dprk[:, None] & dprk[None, :] & (bk[None, :] > bk[:, None])
    hop = rng.integers(0, 4, (R, R, R)).astype(np.int16)
    p = 0.03
    seize_at = np.where(hop > 0, p * (1.0 - p) ** np.maximum(hop - 1, 0), 0.0)
    qty = np.where(rng.random((R, R)) < 0.2, rng.lognormal(3, 3, (R, R)), 0.0)
    trans = np.where(qty > 0, qty * rng.uniform(0, 0.3, (R, R)), 0.0)
    region = np.sort(rng.integers(0, R, n_hh)).astype(np.int8)
    stake = np.where(rng.random(n_hh) < 0.1, rng.lognormal(2, 2, n_hh), 0.0).astype(np.float32)
    cash = np.where(rng.random(n_hh) < 0.5, rng.lognormal(1, 2, n_hh), 0.0)
    fx = np.where(rng.random(n_hh) < 0.5, rng.lognormal(1, 2, n_hh), 0.0)
    return dict(qty=qty, trans=trans, price=rng.uniform(0.8, 2.5, R), demand=rng.uniform(0, 500, R),
                per_unit=km * 0.05 / 400.0, decay=np.exp(-km / 250.0), km_t=km / 400.0, seize_at=seize_at,
                z=seize_at.sum(axis=2), inland=inland, dprk=dprk, mobility=0.3, usd_per_tkm=0.05, stake=stake,
                region=region, cash=cash, fx=fx, seized=rng.uniform(0, 5, R))


def pars(a, on: bool, finite: bool) -> ShipPars:
    """The shipments' parameter record from the inputs."""
    return ShipPars(on, a["mobility"], a["usd_per_tkm"], a["per_unit"], a["decay"], a["km_t"], a["seize_at"], a["z"],
                    a["inland"], a["dprk"], finite)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("route_finite", [True, False])
def test_shipments_as_numpy(seed: int, route_finite: bool) -> None:
    a = inputs(seed)
    if seed % 4 == 1:
        a["cash"][:] = 0.0  # owners cannot pay everything
        a["fx"] *= 0.01
    if seed % 4 == 2:
        a["stake"][:] = 0.0  # nobody to bill
    ref = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in a.items()}
    goods = ref["qty"].sum(axis=0) * np.where(np.arange(R) % 3 == 0, 0.9, 1.05)  # some columns shrink, some grow
    tracked = ref["qty"].sum(axis=1)
    tracked_ref = tracked.copy()
    sync_ref(ref["qty"], ref["trans"], tracked_ref, goods)
    moved_r, fee_r, flows_r, billed_r = ship_ref(ref["qty"], ref["trans"], ref["price"], ref["demand"], ref["per_unit"],
                                                 ref["decay"], ref["km_t"], ref["seize_at"], ref["z"], ref["inland"],
                                                 ref["dprk"], ref["mobility"], ref["usd_per_tkm"], ref["stake"],
                                                 ref["region"], ref["cash"], ref["fx"], ref["seized"])
    goods_out, seized_total = goods.copy(), np.ones(R)
    out = Shipments(*np.full((3, R, R, R), 7.0), np.full(R, 7.0), np.full(R, 7.0), np.full((R, R), 7.0))
    moved, fee, flows = out.moved_in, out.fee, out.flows
    billed = _ship(Goods(a["qty"], a["trans"], tracked, goods_out, a["price"], a["demand"], a["seized"], seized_total),
                   pars(a, True, route_finite), Owners(a["stake"], a["region"], a["cash"], a["fx"]), out)
    assert billed == billed_r
    for mine, theirs in [(a["qty"], ref["qty"]), (a["trans"], ref["trans"]), (a["cash"], ref["cash"]),
                         (a["fx"], ref["fx"]), (a["seized"], ref["seized"]), (tracked, tracked_ref), (moved, moved_r),
                         (fee, fee_r), (flows, flows_r), (goods_out, ref["qty"].sum(axis=0)),
                         (seized_total, 1.0 + ref["seized"])]:
        assert same(mine, theirs)


def test_no_shipments_when_off() -> None:
    a = inputs(3)
    qty, trans = a["qty"].copy(), a["trans"].copy()
    goods = qty.sum(axis=0)
    out = Shipments(*np.zeros((3, R, R, R)), np.full(R, 7.0), np.full(R, 7.0), np.full((R, R), 7.0))
    moved, fee, flows = out.moved_in, out.fee, out.flows
    billed = _ship(Goods(qty, trans, qty.sum(axis=1), goods, a["price"], a["demand"], a["seized"], np.zeros(R)),
                   pars(a, False, True), Owners(a["stake"], a["region"], a["cash"], a["fx"]), out)
    assert not billed and not moved.any() and not fee.any() and not flows.any()
    assert same(qty, a["qty"]) and same(trans, a["trans"])


def test_sync_and_stakes_as_numpy() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        qty = np.where(rng.random((R, R)) < 0.3, rng.lognormal(2, 3, (R, R)), 0.0)
        trans = qty * 0.1
        tracked = rng.uniform(0, 100, R) * (rng.random(R) < 0.8)
        target = qty.sum(axis=0) * rng.uniform(0.5, 1.5, R)
        q2, t2, tr2 = qty.copy(), trans.copy(), tracked.copy()
        sync_ref(q2, t2, tr2, target)
        sync_goods(qty, trans, tracked, target)
        assert same(qty, q2) and same(trans, t2) and same(tracked, tr2)
        region = np.sort(rng.integers(0, R, 2000)).astype(np.int8)
        stake = np.where(rng.random(2000) < 0.3, rng.lognormal(2, 2, 2000), 0.0).astype(np.float32)
        s2 = stake.copy()
        actual = qty.sum(axis=1)
        ratio = ratio_or(actual, tracked)
        idx = np.flatnonzero(s2 > 0)
        s2[idx] *= ratio[region[idx]].astype(np.float32)
        assert same(_rescale_stakes(qty, tracked, stake, region), actual) and same(stake, s2)


def share_out_ref(sim, amounts, groups, market=True, fx=False, income_share=1.0):
    """share_out as it was in NumPy (with its compiled group sums and credits, unchanged)."""
    region = sim.trade.region
    r = len(amounts)
    left = np.where(amounts > 0, amounts, 0.0)
    paid = np.zeros(r)
    hh = sim.people.households
    money = hh.fx if fx else hh.cash
    for idx, w in groups:
        if not left.any():
            break
        if len(idx) == 0:
            continue
        weights = np.ones(0) if w is None else w.astype(np.float64, copy=False)  # empty: equal shares
        tot = np.zeros(r)
        group_totals(idx, region, weights, tot)
        ok = (tot > 0) & (left > 0)
        if not ok.any():
            continue
        per = np.where(ok, left / np.where(ok, tot, 1.0), 0.0)
        group_credit(idx, region, weights, per, money, hh.income, hh.market_income, market, float(income_share))
        paid += np.where(ok, left, 0.0)
        left = np.where(ok, 0.0, left)
    if left.any():
        idx = np.flatnonzero(left[region] > 0)
        reg = region[idx]
        cnt = np.bincount(reg, minlength=r).astype(float)
        amt = (left / np.where(cnt > 0, cnt, 1.0))[reg]
        money[idx] += amt
        earned = amt if income_share == 1.0 else amt * income_share
        hh.income[idx] += earned
        if market:
            hh.market_income[idx] += earned
        paid += np.where(cnt > 0, left, 0.0)
    return paid


def fake_sim(rng, n: int):
    region = np.sort(rng.integers(0, R, n)).astype(np.intp)
    hh = SimpleNamespace(cash=rng.lognormal(1, 1, n), fx=rng.lognormal(1, 1, n),
                         income=rng.lognormal(1, 1, n).astype(np.float32),
                         market_income=rng.lognormal(0, 1, n).astype(np.float32))
    return SimpleNamespace(people=SimpleNamespace(households=hh), trade=SimpleNamespace(region=region))


@pytest.mark.parametrize("seed", range(8))
def test_share_out_as_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 1500
    sims = [fake_sim(np.random.default_rng(seed), n) for _ in range(2)]
    amounts = np.where(rng.random(R) < 0.7, rng.lognormal(3, 2, R), -1.0 * (rng.random(R) < 0.5))
    g1 = np.sort(rng.choice(n, 40, replace=False))
    g2 = np.sort(rng.choice(n, 300, replace=False))
    w32 = rng.lognormal(0, 1, len(g2)).astype(np.float32)
    cases = [([(g1, None), (g2, None)], {}), ([(g2, w32), (g1, None)], {"fx": True}),
             ([(g1, rng.lognormal(0, 1, len(g1)))], {"market": False, "income_share": 0.3}),
             ([], {}), ([(np.zeros(0, dtype=np.int64), None), (g2, None)], {"income_share": 0.5})]
    for groups, kw in cases:
        a = share_out(sims[0], amounts, groups, **kw)
        b = share_out_ref(sims[1], amounts, groups, **kw)
        assert same(a, b)
        for k in ("cash", "fx", "income", "market_income"):
            assert same(getattr(sims[0].people.households, k), getattr(sims[1].people.households, k))


def test_adhoc_markets_as_numpy() -> None:
    rng = np.random.default_rng(2)
    n_e, dprk = 18, np.arange(11)
    site_region = np.concatenate([rng.integers(0, 11, n_e), dprk])
    n = len(site_region)
    st = dict(flow_ema=np.zeros(n), above=np.zeros(n, dtype=int), below=np.zeros(n, dtype=int), adhoc=np.zeros(n))
    ref = {k: v.copy() for k, v in st.items()}
    ty, ty_ref, official, markets, adhoc_r = np.zeros(R), np.zeros(R), rng.uniform(0, 40, R), np.zeros(R), np.zeros(R)
    thr, per_m, mx, persist, fade_w, fade_s, a = 2e5, 1e5, 6, 4, 8, 0.25, 0.1
    for week in range(300):
        on = (week // 60) % 2 == 0
        edge = rng.lognormal(4, 2, n_e) * on
        iw, ic = rng.lognormal(3, 2, R) * on, rng.lognormal(3, 2, R) * on
        turnover = rng.uniform(0, 100, R)
        sites = Sites(site_region, dprk, st["flow_ema"], st["above"], st["below"], st["adhoc"], iw, ic, ty, adhoc_r,
                      official, markets)
        _adhoc(edge, turnover, AdhocPars(1000.0, a, thr, per_m, float(mx), float(persist), float(fade_w), fade_s), sites)
        site_flow = np.concatenate([edge, (iw + ic)[dprk]]) * 1000
        ref["flow_ema"] += a * (site_flow - ref["flow_ema"])
        hot = ref["flow_ema"] >= thr
        ref["above"] = np.where(hot, ref["above"] + 1, 0)
        ref["below"] = np.where(hot, 0, ref["below"] + 1)
        target = np.minimum(np.floor(ref["flow_ema"] / per_m), mx)
        grow = hot & (ref["above"] >= persist) & (ref["adhoc"] < target)
        ref["adhoc"] = np.where(grow, ref["adhoc"] + 1.0, ref["adhoc"])
        fade = ref["below"] >= fade_w
        ref["adhoc"] = np.where(fade, ref["adhoc"] - np.ceil(ref["adhoc"] * fade_s), ref["adhoc"])
        ref["adhoc"] = np.maximum(ref["adhoc"], 0.0)
        ty_ref += turnover
        by_r = np.bincount(site_region, weights=ref["adhoc"], minlength=R)
        for k in st:
            assert same(st[k], ref[k])
        assert same(ty, ty_ref) and same(adhoc_r, by_r) and same(markets, official + by_r)
    assert ref["adhoc"].max() > 0


def test_charge_as_numpy() -> None:
    rng = np.random.default_rng(9)
    for dup in (False, True):
        n = 800
        sims = [fake_sim(np.random.default_rng(1), n) for _ in range(2)]
        broke = rng.random(n) < 0.3
        for s in sims:
            s.people.households.cash[broke] = 0.0
        idx = np.sort(rng.choice(n, 200, replace=dup))
        amount = rng.normal(2, 4, len(idx))
        paid = charge(sims[0], idx, amount)
        hh = sims[1].people.households
        c, f = hh.cash[idx], hh.fx[idx]
        ref = pay_from_households(c, f, amount)
        hh.cash[idx], hh.fx[idx] = c, f
        assert same(paid, ref)
        for k in ("cash", "fx"):
            assert same(getattr(sims[0].people.households, k), getattr(hh, k))


# -- distribution and markets ---------------------------------------------------------------------
def test_goods_move_inland_and_fewer_reach_distant_provinces(base):
    assert total(base, "goods_moved_usd") > 0
    assert total(base, "transport_cost_usd") > 0
    assert total(base, "goods_seized_usd") > 0
    pop = base.results.values[-1, :, base.results._col["population"]]
    units = base.results.unit_names

    def per_capita(region: str) -> float:
        return total(base, "goods_retail_usd", region) / pop[units.index(region)]

    border = np.mean([per_capita(p) for p in ("Ryanggang", "North Hamgyong", "Rason")])
    far = np.mean([per_capita(p) for p in ("South Hwanghae", "Kangwon", "North Hwanghae")])
    assert border > 2 * far
    # distance and scarcity show in prices: goods cost more far from the border
    retail = next(m for m in base.modules if m.name == "retail")
    w = base.world
    assert retail.goods_index[w.index["South Hwanghae"]] > retail.goods_index[w.index["Ryanggang"]]


def test_seizures_follow_the_inspection_share():
    none = run(TWO_YEARS, modules=MINE, distribution_seize_share=0.0)
    many = run(TWO_YEARS, modules=MINE, distribution_seize_share=0.2)
    assert total(none, "goods_seized_usd") == 0.0
    assert total(many, "goods_seized_usd") > 0.05 * total(many, "goods_moved_usd")
    assert trade_state(many).seized_total.sum() > 0


def test_adhoc_markets_appear_with_persistent_flow_and_fade_when_it_stops():
    sim = Sim(seed=1, scale=SCALE, start=TWO_YEARS[0], end=TWO_YEARS[1], modules=MINE)
    sim.initialize()
    dist = next(m for m in sim.modules if m.name == "distribution")
    for _ in range(4):
        sim.step()
    assert dist.adhoc.sum() == 0  # not before the flow has persisted
    for _ in range(48):
        sim.step()
    peak = dist.adhoc.sum()
    assert peak > 0
    sim.pars.set("border_open", 0.0)  # trade stops
    for _ in range(40):
        sim.step()
    assert dist.adhoc.sum() < 0.2 * peak


def test_more_cover_more_trade_and_more_adhoc_markets():
    def trade_and_markets(cover: float) -> tuple[float, float]:
        sim = Sim(seed=1, scale=SCALE, start=ONE_YEAR[0], end=ONE_YEAR[1], modules=MINE)
        sim.initialize()
        while sim.week + 1 < sim.n_weeks:
            sim.market.wholesale_cover = cover
            sim.step()
        return total(sim, "merchant_wholesale_usd"), float(np.nansum(series(sim, "markets_adhoc")[-4:]))

    low, high = trade_and_markets(200.0), trade_and_markets(2000.0)
    assert high[0] > low[0] and high[1] > low[1]


def test_official_markets_start_from_csis_and_never_shrink():
    sim = run((dt.date(2000, 1, 3), dt.date(2003, 12, 31)), modules=MINE)
    official = series(sim, "markets_official")
    assert 250 <= official[0] <= 350  # 436 in 2018 scaled back to 2000
    assert np.all(np.diff(official) >= 0)
    nh = series(sim, "markets_official", "North Hamgyong")[0]
    assert nh == pytest.approx(48 * 436 / 421 * sim.pars.distribution_markets_initial_ratio, abs=1)
