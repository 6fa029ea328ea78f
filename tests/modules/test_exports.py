"""The compiled region-level steps of exports and micro-lending equal, bit for bit, the NumPy code they replaced.

Each reference below is that NumPy code. Inputs are small random arrays over many decades of magnitude (so the
order of float64 sums matters), with crossings short of room, cells without quota, zero stocks and ties, and, for
micro-lending, choices of the smallest merchants that take none, some or all of the loans (and out-of-range
shares, where Python's slices count from the end).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _nkinc import MODULES, annual, make, weekly
from _nkinc import SEEDS as SEEDS_nkinc

from hamji.modules import exports as ex
from hamji.modules import microlending as ml
from hamji.modules.revenue_bases import COMMODITIES
from hamji.scenario import EventSpec, Scenario, ScenarioSpec
from hamji.sim import Sim

SEEDS = range(6)


def _same(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def _exports_inputs(seed: int):
    rng = np.random.default_rng(seed)
    n, n_k, n_c, n_x, r = 300, 23, 7, 5, 9
    stock = 10.0 ** rng.uniform(-3, 6, n)
    stock[rng.random(n) < 0.1] = 0.0
    commodity = rng.integers(0, n_c, n).astype(np.int8)
    company = rng.integers(0, n_k, n).astype(np.int32)
    region = np.sort(rng.integers(0, r - 1, n)).astype(np.int8)  # the last province has no base
    crossing = rng.integers(0, n_x, n).astype(np.int64)
    banned = rng.random(n_c) < 0.3
    quota = 10.0 ** rng.uniform(-2, 6, (n_c, n_k))
    quota[rng.random((n_c, n_k)) < 0.2] = 0.0
    forged = quota * rng.uniform(0, 0.8, (n_c, n_k))
    prices = 10.0 ** rng.uniform(0, 3, n_c)
    cash, revenue = 10.0 ** rng.uniform(2, 8, n_k), 10.0 ** rng.uniform(0, 6, n_k)
    return stock, commodity, company, region, crossing, banned, quota, forged, prices, cash, revenue, n_k, n_x, r


def _granted(at_x: np.ndarray, seed: int) -> np.ndarray:
    """A crossing's room: some crossings take everything, others a part."""
    room = at_x * np.random.default_rng(seed + 100).choice([0.0, 0.37, 1.0, 2.0], len(at_x))
    return np.minimum(at_x, room)


def _exports_reference(stock, commodity, company, region, crossing, banned, quota, forged, prices, cash, revenue,
                       n_k, n_x, r, wahku, weeks_left, seed):
    """Exports.step before it was compiled (offers, wah-ku, crossing room, sales, quota use, outputs)."""
    n_c = len(prices)
    key = commodity.astype(np.int64) * n_k + company
    region_key = region.astype(np.int64) * n_c + commodity
    quota, forged = quota.reshape(-1), forged.reshape(-1)
    offer = stock.copy()
    offer[banned[commodity]] = 0.0
    if wahku:
        want = np.bincount(key, weights=offer, minlength=n_k * n_c)
        cover = (quota + forged) / weeks_left
        f = np.where(want > cover, cover / np.where(want > 0, want, 1.0), 1.0)
        offer *= f[key]
    at_x = np.bincount(crossing, weights=offer, minlength=n_x)
    granted = _granted(at_x, seed)
    g = np.where(at_x > 0, granted / np.where(at_x > 0, at_x, 1.0), 0.0)
    sold = offer * g[crossing]
    stock -= sold
    np.maximum(stock, 0.0, out=stock)
    value = sold * prices[commodity]
    by_company = np.bincount(company, weights=value, minlength=n_k)
    cash += by_company
    revenue += by_company
    sales = by_company.sum()
    forged_used_t = np.zeros(len(stock))
    if wahku:
        used = np.bincount(key, weights=sold, minlength=n_k * n_c)
        from_real = np.minimum(quota, used)
        from_forged = np.minimum(forged, used - from_real)
        np.maximum(quota - from_real, 0.0, out=quota)
        np.maximum(forged - from_forged, 0.0, out=forged)
        share = np.where(used > 0, from_forged / np.where(used > 0, used, 1.0), 0.0)
        forged_used_t = sold * share[key]
    value_rc = np.bincount(region_key, weights=value, minlength=r * n_c).reshape(r, n_c)
    tonnes_r = np.bincount(region, weights=sold, minlength=r)
    forged_r = np.bincount(region, weights=forged_used_t, minlength=r)
    with np.errstate(invalid="ignore", divide="ignore"):
        forged_share = np.where(tonnes_r > 0, forged_r / np.where(tonnes_r > 0, tonnes_r, 1.0), np.nan)
    out_r = np.stack([value_rc.sum(axis=1), tonnes_r, np.bincount(region, weights=offer - sold, minlength=r),
                      forged_share])
    return sales, value_rc, out_r


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("wahku", [True, False])
def test_exports_offers_and_sales_equal_numpy(seed: int, wahku: bool) -> None:
    inp = _exports_inputs(seed)
    ref_inp = [a.copy() if isinstance(a, np.ndarray) else a for a in inp]
    sales_ref, value_rc_ref, out_ref = _exports_reference(*ref_inp, wahku, 13.7, seed)

    stock, commodity, company, region, crossing, banned, quota, forged, prices, cash, revenue, n_k, n_x, r = inp
    b = ex.BaseStock(stock, commodity, company, region, crossing, key=commodity.astype(np.int64) * n_k + company)
    p = ex.ExportsPars(banned, wahku, 0.0)
    x = ex.Offers(np.zeros(len(stock)), np.zeros(len(prices) * n_k), np.zeros(n_x), np.full((r, len(prices)), np.nan))
    q = ex.Quota(quota, forged) if wahku else ex.Quota(np.zeros((0, 0)), np.zeros((0, 0)))
    ex._offers(b, p, q, 13.7, x)
    t = np.full(r, np.nan, dtype=ex.EXPORTS_TALLY)
    sales = ex._sell(b, p, prices, q, _granted(x.at_x, seed), x, ex.Sellers(cash, revenue), t)
    value_rc, out_r = x.value_rc, np.stack([t[name] for name in ex.EXPORTS_TALLY.names])
    assert _same(sales, sales_ref)
    assert _same(value_rc, value_rc_ref) and _same(out_r, out_ref)
    for new, old in zip((stock, cash, revenue, quota, forged), ref_inp[:1] + ref_inp[9:11] + ref_inp[6:8]):
        assert _same(new, old)


@pytest.mark.parametrize("seed", SEEDS)
def test_exports_evasion_equals_numpy(seed: int) -> None:
    stock, commodity, company, region, _, banned, _, _, prices, cash, revenue, n_k, _, r = _exports_inputs(seed)
    banned[0] = True
    keep, seized = 1.0 - 0.35, np.random.default_rng(seed).random(len(stock)) < 0.4
    # NumPy: Exports.evade before it was compiled
    price_e = prices[commodity] * keep
    on_offer = np.where(banned[commodity], stock, 0.0)
    value_offer = float((on_offer * price_e).sum())
    b = ex.BaseStock(stock, commodity, company, region, np.zeros(len(stock), dtype=np.int64),
                     np.zeros(len(stock), dtype=np.int64))
    p = ex.ExportsPars(banned, False, keep)
    assert _same(ex._evasion_offer(b, p, prices), value_offer)
    frac = min(1.0, 0.3 * value_offer / value_offer)
    shipped = on_offer * frac
    stock_ref = np.maximum(stock - shipped, 0.0)
    value = shipped * price_e
    sold = np.where(seized, 0.0, value)
    by_company = np.bincount(company, weights=sold, minlength=n_k)
    cash_ref, revenue_ref = cash + by_company, revenue + by_company
    out_ref = np.stack([np.bincount(region, weights=w, minlength=r) for w in (sold, value - sold, shipped)])
    t = np.full(r, np.nan, dtype=ex.EVASION_TALLY)
    total = ex._evasion_ship(b, p, prices, frac, seized, ex.Sellers(cash, revenue), t)
    out_r = np.stack([t[name] for name in ex.EVASION_TALLY.names])
    assert _same(total, by_company.sum()) and _same(out_r, out_ref)
    assert _same(stock, stock_ref) and _same(cash, cash_ref) and _same(revenue, revenue_ref)


def _lending_reference(balance, instalment, capital, jilin, jilin_only, key, n_loans, target_small, principal, annuity):
    """The choice of borrowers in Microlending.step before it was compiled (the stream's draw given as ``key``)."""
    new = np.zeros(len(balance))
    eligible = (balance == 0) & (jilin if jilin_only else True)
    idx = np.flatnonzero(eligible)
    if n_loans and len(idx):
        order_small = idx[np.argsort(capital[idx], kind="stable")]
        k_small = int(round(n_loans * target_small))
        chosen = order_small[:k_small]
        rest = np.setdiff1d(idx, chosen, assume_unique=True)
        chosen = np.concatenate([chosen, rest[np.argsort(key[rest], kind="stable")][: n_loans - len(chosen)]])
        new[chosen] = principal
        balance[chosen] = principal
        instalment[chosen] = annuity
        capital += new
    return new, new.sum()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n_loans,target_small", [(1, 1.0), (5, 0.4), (5, 0.0), (40, 0.5), (200, 1.0), (6, 1.5),
                                                  (3, -0.5)])
def test_microlending_choice_equals_numpy(seed: int, n_loans: int, target_small: float) -> None:
    rng = np.random.default_rng(seed)
    n = 90
    balance = np.where(rng.random(n) < 0.4, 10.0 ** rng.uniform(0, 4, n), 0.0)
    instalment = balance * 0.01
    capital = np.round(10.0 ** rng.uniform(-1, 6, n), 0)
    capital[rng.random(n) < 0.2] = 5.0  # ties
    jilin = rng.random(n) < 0.6
    key = rng.random(n)
    for jilin_only in (True, False):
        ref = [a.copy() for a in (balance, instalment, capital)]
        new_ref, lent_ref = _lending_reference(*ref, jilin, jilin_only, key, n_loans, target_small, 7142.9, 81.5)
        b, i, c, new = balance.copy(), instalment.copy(), capital.copy(), np.zeros(n)
        chosen, rest = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        k_small = int(round(n_loans * target_small))
        n_elig, n_chosen, n_rest = ml._candidates(b, jilin, jilin_only, c, k_small, chosen, rest)
        lent = 0.0
        if n_elig:
            lent = ml._lend(chosen, n_chosen, rest, n_rest, key, n_loans, 7142.9, 81.5, b, i, c, new)
        assert _same(new, new_ref) and _same(lent, lent_ref)
        assert _same(b, ref[0]) and _same(i, ref[1]) and _same(c, ref[2])


def test_exports_fall_when_infrastructure_decays() -> None:
    for seed in SEEDS_nkinc[:2]:
        decay = make(seed=seed, end=dt.date(2009, 12, 31)).run()
        flat = make(seed=seed, end=dt.date(2009, 12, 31), infrastructure_decay_on=False).run()
        e, f = annual(decay, "exports_usd"), annual(flat, "exports_usd")
        assert e[2009] < 0.88 * e[2001]  # about 2% a year lost net of the companies' investment
        assert all(e[y + 1] < e[y] for y in range(2001, 2009))
        assert f[2009] == pytest.approx(f[2001], rel=0.03)
        i = annual(decay, "infrastructure_index")
        assert i[2009] < i[2001]


def test_coal_ban_from_a_date_stops_coal_only() -> None:
    start = dt.date(2001, 6, 6)
    spec = ScenarioSpec(name="coal ban", events=[EventSpec(type="set_parameters", start=start, params={"ban_coal": True})])
    for seed in SEEDS_nkinc[:2]:
        sim = Sim(scenario=Scenario(spec, "test"), seed=seed, scale=1000, end=dt.date(2002, 6, 30), modules=MODULES).run()
        week = int(np.flatnonzero(sim.dates <= np.datetime64(start))[-1])
        coal = weekly(sim, "exports_coal_usd")
        assert (coal[:week] > 0).all()
        assert (coal[week:] == 0).all()
        for c in ("iron_ore", "seafood", "timber", "textiles", "light", "unbanned"):
            assert (weekly(sim, f"exports_{c}_usd")[week:] > 0).all()
        assert sim.books.max_rel_residual < 1e-9


def test_sanctions_master_switch_and_border_closure() -> None:
    off = make(end=dt.date(2000, 6, 30), ban_coal=True, sanctions_on=False).run()
    assert (weekly(off, "exports_coal_usd") > 0).all()
    closed = make(end=dt.date(2000, 6, 30), border_open=0.0).run()
    assert np.nansum(weekly(closed, "exports_usd")) == 0
    assert np.nansum(weekly(closed, "company_imports_usd")) == 0


def test_exports_respect_crossing_capacity() -> None:
    sim = make(end=dt.date(2000, 3, 31), crossing_capacity_multiplier=0.1)
    sim.initialize()
    for _ in range(10):
        sim.step()
        cap = sim.borders.capacity_t_year * 0.1 / 52 / sim.scale
        assert np.all(sim.borders.used_t <= cap * (1 + 1e-9))
    assert np.nansum(weekly(sim, "export_capacity_blocked_t")[:10]) > 0


def test_baseline_magnitudes() -> None:
    sim = make(end=dt.date(2003, 12, 31)).run()
    e = annual(sim, "exports_usd")
    assert 2e8 < e[2003] < 8e8  # "a few hundred M$" (395 M$ in 2003, china_dprk_trade.csv)
    coal = annual(sim, "exports_coal_usd")[2003]
    parts = sum(annual(sim, f"exports_{c}_usd")[2003] for c in COMMODITIES)
    assert parts == pytest.approx(e[2003], rel=1e-9)
    assert 0.1 < coal / e[2003] < 0.6
    # HamJi exports come from its provinces' bases
    assert annual(sim, "exports_usd", "HamJi")[2003] > 0
