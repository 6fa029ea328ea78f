"""Remittances' compiled week against the NumPy formulas it replaced, to the bit (hamji.modules.remittances).

The references are plain NumPy written from the kernels' docstrings: scatter-adds with ``np.add.at`` (sequential,
in sender order, kin first, then colleagues), totals as ``np.sum`` adds them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _security import annual, make_sim

from hamji import data
from hamji.kernels import province_bounds
from hamji.modules.remittances import (
    Receivers,
    RemittancePars,
    Remittances,
    Senders,
    _jilin_week,
    _transfers,
    arrivals_before,
    index_by_region,
    mondays_in_year,
    pick_in_region,
)

R = 15  # provinces


def world(seed: int, n_def: int, n_hh: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    kin = np.where(rng.random(n_def) < 0.7, rng.integers(0, n_hh, n_def), -1).astype(np.int32)
    colleague = np.where(rng.random(n_def) < 0.3, rng.integers(0, n_hh, n_def), -1).astype(np.int32)
    return {
        "u": rng.random((2, n_def)),
        "habit": np.where(rng.random(n_def) < 0.8, rng.random(n_def) * 3000.0, 0.0).astype(np.float32),
        "kin": kin, "colleague": colleague,
        "origin": rng.integers(0, R, n_def).astype(np.int8),
        "hh_region": np.sort(rng.integers(0, R, n_hh)).astype(np.int8),
        "fx": rng.random(n_hh) * 100.0,
        "income": (rng.random(n_hh) * 10.0).astype(np.float32),
    }


def ref_transfers(w: dict, p_send, per_year, fee_share, loss_share, loss_prob, colleague_share, out):
    idx = np.flatnonzero((w["u"][0] < p_send) & (w["habit"] > 0))
    g = w["habit"][idx].astype(np.float64) / per_year
    fee = g * fee_share
    lost = (g - fee) * loss_share * (w["u"][1, idx] < loss_prob)
    net = g - fee - lost
    share = np.where(w["colleague"][idx] >= 0, np.where(w["kin"][idx] >= 0, colleague_share, 1.0), 0.0)
    to_colleague = share * net
    to_kin = net - to_colleague
    for recipients, amount in ((w["kin"], to_kin), (w["colleague"], to_colleague)):
        h = recipients[idx]
        ok = (h >= 0) & (amount > 0)
        np.add.at(w["fx"], h[ok], amount[ok])
        np.add.at(w["income"], h[ok], amount[ok].astype(np.float32))
        np.add.at(out[0], w["hh_region"][h[ok]].astype(np.int64), amount[ok])
    np.add.at(out[1], w["origin"][idx].astype(np.int64), g)
    np.add.at(out[2], w["origin"][idx].astype(np.int64), fee + lost)
    return len(idx), g.sum(), (fee + lost).sum()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_def", [0, 1, 40, 2000])
def test_transfers_equal_numpy(seed: int, n_def: int) -> None:
    ours, ref = world(seed, n_def, 500), world(seed, n_def, 500)
    args = (0.2 + 0.1 * seed, 12.0, 0.1 + 0.02 * seed, 0.5, 0.3, 0.4)
    out_ours, out_ref = np.zeros((5, R)), np.zeros((5, R))
    p = RemittancePars(*args[1:], capital_share=0.0, spending_rate=0.0)
    senders = Senders(ours["habit"], ours["kin"], ours["colleague"], ours["origin"])
    got = _transfers(ours["u"], args[0], senders, p, Receivers(ours["hh_region"], ours["fx"], ours["income"]), out_ours)
    want = ref_transfers(ref, *args, out_ref)
    assert got == want
    np.testing.assert_array_equal(out_ours, out_ref)
    for k in ("fx", "income"):
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)
    if n_def >= 40:
        assert got[0] > 0  # the case is not vacuous


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("y", [-1, 0, 3])
def test_jilin_week_equals_numpy(seed: int, y: int) -> None:
    rng = np.random.default_rng(seed)
    jilin, capital = rng.random(4) * 1e6, rng.random(30) * 1e5
    region = rng.integers(0, 4, 30).astype(np.int8)
    amount, share, rate = 5e5 * (seed + 1), 0.3, 0.05
    j2, c2, out, out_ref = jilin.copy(), capital.copy(), np.zeros((5, 4)), np.zeros((5, 4))
    p = RemittancePars(12.0, 0.1, 0.5, 0.3, 0.4, capital_share=share, spending_rate=rate)
    spend = _jilin_week(jilin, region, capital, y, amount, p, out)
    if y >= 0:  # the reference: Yanbian's workers' money in, a share to its merchants' capital equally
        j2[y] += amount
        out_ref[3, y] += amount
        mine = region == y
        if mine.any():
            invest = amount * share
            j2[y] -= invest
            c2[mine] += invest / mine.sum()
            out_ref[4, y] += invest
    s = j2 * rate
    j2 -= s
    assert spend == s.sum()
    for a, b in ((jilin, j2), (capital, c2), (out, out_ref)):
        np.testing.assert_array_equal(a, b)


# -- remittances ---------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [100, 1000])
def test_arrivals_follow_the_data(scale):
    s = make_sim(scale=scale, start=dt.date(2000, 1, 3), end=dt.date(2012, 12, 31), modules=[Remittances])
    stock0 = s.people.defectors.n
    s.run()
    arrivals = data.defector_arrivals()
    sim = annual(s, "defector_arrivals")
    for year in range(2000, 2013):
        # carried remainders: each year's count is the data within one simulated defector
        assert abs(sim[year] - arrivals[year]) <= scale + 1e-9, year
    total = sum(arrivals[y] for y in range(2000, 2013))
    assert abs(sim.loc[2000:2012].sum() - total) <= scale + 1e-9
    before = sum(arrivals_before(2000).values())  # the ~1998 stock and 1999
    assert abs(stock0 * scale - before) <= 2 * scale
    assert annual(s, "defectors_abroad")[2012] == pytest.approx(s.people.defectors.n * scale)


def test_mondays_in_a_year_as_the_calendar_counts_them():
    """53 weeks when the year starts on a Monday, or on a Sunday in a leap year; else 52 (as pandas counts)."""
    import pandas as pd

    for year in range(1990, 2061):
        assert mondays_in_year(year) == len(pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="W-MON"))
    assert [y for y in range(2000, 2031) if mondays_in_year(y) == 53] == [2001, 2007, 2012, 2018, 2024, 2029]


def test_arrival_multiplier_and_years_after_the_data():
    base = make_sim(scale=100, start=dt.date(2026, 1, 5), end=dt.date(2027, 12, 27), modules=[Remittances]).run()
    more = make_sim(scale=100, start=dt.date(2026, 1, 5), end=dt.date(2027, 12, 27), modules=[Remittances],
                    defector_arrivals_multiplier=2.0, defector_arrivals_after_data=1000.0).run()
    assert annual(base, "defector_arrivals")[2026] == pytest.approx(220, abs=100)
    assert annual(more, "defector_arrivals")[2026] == pytest.approx(2000, abs=100)


def test_origins_and_remittances_concentrate_in_hamji():
    s = make_sim(scale=100, start=dt.date(2000, 1, 3), end=dt.date(2015, 12, 28), modules=[Remittances]).run()
    d = s.people.defectors
    w = s.world
    origin_share = np.isin(d.origin, [w.index[n] for n in ("North Hamgyong", "Rason", "Ryanggang")]).mean()
    assert origin_share > 0.7  # data: > 75% from North Hamgyong and Ryanggang
    received = annual(s, "remittances_usd", "HamJi").sum() / annual(s, "remittances_usd").sum()
    assert received > 0.7
    kin = annual(s, "kin_abroad_share", "HamJi")[2015]
    assert kin > 3 * annual(s, "kin_abroad_share", "Rest of DPRK")[2015]
    assert s.books.max_rel_residual < 1e-9


def test_total_remittances_around_ten_million_in_2011():
    sent = [annual(make_sim(seed=k, scale=100, start=dt.date(2011, 1, 3), end=dt.date(2011, 12, 26),
                            modules=[Remittances]).run(), "remittances_sent_usd")[2011] for k in (1, 2, 3)]
    assert 6e6 < np.mean(sent) < 15e6  # remittances.csv: ~10 M US$ a year around 2011


@pytest.mark.parametrize("loss_prob,loss_share", [(0.0, 0.0), (1.0, 0.2)])
def test_broker_fee_share_as_parameterised(loss_prob, loss_share):
    s = make_sim(scale=100, start=dt.date(2008, 1, 7), end=dt.date(2010, 12, 27), modules=[Remittances],
                 broker_fee=0.25, remit_loss_prob=loss_prob, remit_loss_share=loss_share)
    fx0 = s.people.households.fx.sum()
    s.run()
    sent, fees = annual(s, "remittances_sent_usd").sum(), annual(s, "broker_fees_usd").sum()
    delivered = annual(s, "remittances_usd").sum()
    assert sent > 0
    assert fees / sent == pytest.approx(0.25 + 0.75 * loss_share, rel=1e-9)
    assert delivered == pytest.approx(sent - fees, rel=1e-9)
    # the money arrives as foreign currency of kin and colleagues
    assert (s.people.households.fx.sum() - fx0) * s.scale == pytest.approx(delivered, rel=1e-9)
    assert s.accounts.brokers.sum() == 0.0  # brokers spend their takings outside
    assert s.books.max_rel_residual < 1e-9


def test_yanbian_workers_remit_and_part_becomes_merchants_capital():
    s = make_sim(scale=1000, modules=[Remittances], yanbian_migrant_workers=100000.0,
                 yanbian_remit_usd_per_worker_year=1500.0, yanbian_remit_capital_share=0.2)
    y = s.world.index["Yanbian"]
    m = s.people.merchants
    cap0 = m.capital[m.region == y].sum()
    other0 = m.capital[m.region != y].sum()
    s.run()
    assert annual(s, "jilin_remittances_usd", "Yanbian")[2010] == pytest.approx(1.5e8, rel=1e-9)
    assert annual(s, "jilin_remittances_usd", "Jilin")[2010] == pytest.approx(1.5e8, rel=1e-9)
    assert (m.capital[m.region == y].sum() - cap0) * s.scale == pytest.approx(0.2 * 1.5e8, rel=1e-9)
    assert m.capital[m.region != y].sum() == pytest.approx(other0)
    assert s.books.max_rel_residual < 1e-9


def test_picks_in_region_without_an_identity_list_are_the_sorted_picks():
    """Every household as candidates (no mask, households in province order) is indexed without an id list; the picks
    are those of the sorted-id index, and the same as without the province bounds (a stable sort)."""
    rng = np.random.default_rng(5)
    region = np.sort(rng.integers(0, 6, 500)).astype(np.int8)
    region[region == 3] = 2  # a province with no households
    bounds = province_bounds(region, 7)
    order, starts, counts = index_by_region(region, None, 7, bounds)
    assert order is None and counts.tolist() == np.bincount(region, minlength=7).tolist()
    origin, u = rng.integers(0, 7, 300), rng.random(300)
    got = pick_in_region(origin, order, starts, counts, u)
    want = pick_in_region(origin, *index_by_region(region, None, 7), u)
    assert got.tolist() == want.tolist()
    assert (got[np.isin(origin, [3, 6])] == -1).all() and (region[got[got >= 0]] == origin[got >= 0]).all()
    traders = rng.random(500) < 0.3  # with a mask, the ids are listed
    a, b = index_by_region(region, traders, 7, bounds), index_by_region(region, traders, 7)
    assert all(x.tolist() == y.tolist() for x, y in zip(a, b))
