"""Remittances, enforcement and bribery, and the human security index (MODEL.md 3, processes 8-10).

Runs use only these three modules (and small scales) unless said otherwise, and set market roles,
cash or food ratios directly to create the situations the paper describes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hamji import data
from hamji.kernels import province_bounds
from hamji.modules.enforcement import Clans, Enforcement, RegionIndex, bribe_prices, make_clans
from hamji.modules.human_security import HumanSecurity, combine, fear_index, want_index
from hamji.modules.remittances import Remittances, arrivals_before, index_by_region, mondays_in_year, pick_in_region
from hamji.parameters import Parameters
from hamji.people import ROLE_NONE, ROLE_SELLER
from hamji.sim import Sim

MINE = [Remittances, Enforcement, HumanSecurity]
HAMJI = ["South Hamgyong", "North Hamgyong", "Ryanggang", "Rason"]


def make_sim(seed: int = 1, scale: int = 2000, start: dt.date = dt.date(2010, 1, 4), end: dt.date = dt.date(2010, 12, 27),
             modules: list | None = None, **overrides) -> Sim:
    """An initialised simulation of this task's modules."""
    s = Sim(seed=seed, scale=scale, start=start, end=end, overrides=overrides, modules=MINE if modules is None else modules)
    s.initialize()
    return s


def annual(s: Sim, metric: str, unit: str = "DPRK"):
    a = s.results.annual()
    return a[(a.metric == metric) & (a.region == unit)].set_index("year").value


def certain_inspection(**more):
    """Overrides making every trader inspected and found in breach every week."""
    return dict(officials_per_1000_households=50.0, inspection_k=50.0, infraction_rate=1.0, **more)


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


# -- enforcement and bribery ----------------------------------------------------------------------
def test_clans_are_small_kin_groups_within_a_province():
    s = make_sim()
    hh = s.people.households
    clan = hh.clan
    sizes = np.bincount(clan)
    assert sizes.max() == s.pars.clan_size and (sizes >= 1).all()
    # every clan lies in one province
    first = np.full(clan.max() + 1, -1)
    first[clan] = hh.region
    assert (first[clan] == hh.region).all()
    c = Clans(clan)
    values = np.random.default_rng(0).random(hh.n).astype(np.float32)
    assert np.allclose(c.sum_by_clan(values), np.bincount(clan, weights=values), rtol=1e-5)
    assert sorted(c.members(np.array([3]))) == sorted(np.flatnonzero(clan == 3))


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


def test_region_index_matches_bincount():
    region = np.repeat(np.array([0, 2, 3, 7]), [5, 3, 0, 4])
    idx = RegionIndex(region, 10)
    v = np.arange(len(region), dtype=float)
    assert np.allclose(idx.sum(v), np.bincount(region, weights=v, minlength=10))
    ids = np.array([1, 6, 7, 9])
    assert np.allclose(idx.count(ids), np.bincount(region[ids], minlength=10))
    assert np.allclose(idx.fill(np.arange(10.0), np.empty(len(region))), region)
    shuffled = RegionIndex(region[::-1].copy(), 10)
    assert not shuffled.ordered and np.allclose(shuffled.sum(v), np.bincount(region[::-1], weights=v, minlength=10))
    mask = np.arange(len(region)) % 2 == 0
    for index, reg in ((idx, region), (shuffled, region[::-1])):
        assert np.allclose(index.regions_of(np.flatnonzero(mask), index.count(np.flatnonzero(mask))), reg[mask])


def test_a_household_that_can_pay_bribes_instead_of_being_detained():
    s = make_sim(**certain_inspection(political_share=0.0, detention_prob=1.0, clan_help_share=0.0,
                                      officials_spending_rate=0.0))
    hh = s.people.households
    hh.cash[:], hh.fx[:] = 0.0, 0.0
    traders = np.arange(0, hh.n, 37)  # few traders: each is inspected (officials outnumber them)
    hh.role[traders] = ROLE_SELLER
    rich, poor = traders[::2], traders[1::2]
    hh.cash[rich] = 500.0
    s.books.open()  # the test moved money by hand: take the opening balance again
    s.step()
    price = s.modules[1].bribe_price[hh.region[rich]]
    assert (hh.detained[rich] == 0).all()
    assert np.allclose(hh.cash[rich], 500.0 - price)
    assert (hh.detained[poor] == s.pars.detention_weeks).all()
    bribes = s.results.values[0, s.results.unit_names.index("DPRK"), s.results._col["bribes_usd"]]
    assert bribes == pytest.approx(price.sum() * s.scale)
    # the split: half to the organisations (a fifth of that to the KPA), half to officials' pockets
    assert s.accounts.officials.sum() == pytest.approx(0.5 * price.sum())
    assert s.accounts.budget[0] == pytest.approx(0.5 * 0.2 * price.sum())
    assert s.books.max_rel_residual < 1e-9


def test_political_infractions_are_never_bought_off():
    s = make_sim(**certain_inspection(political_share=1.0))
    hh = s.people.households
    traders = np.arange(0, hh.n, 37)
    hh.role[traders] = ROLE_SELLER
    hh.cash[:] = 10_000.0
    s.books.open()
    s.step()
    assert (hh.detained[traders] == s.pars.political_detention_weeks).all()
    assert np.allclose(hh.cash[traders] + hh.fx[traders], 0.0)  # confiscated
    col = s.results._col
    assert s.results.values[0, :, col["bribes_usd"]].max() == 0.0
    assert s.results.values[0, s.results.unit_names.index("DPRK"), col["political_cases"]] == len(traders) * s.scale
    assert s.books.max_rel_residual < 1e-9


def test_defectors_kin_are_safe_while_listed_as_missing():
    def political(multiplier):
        s = make_sim(**certain_inspection(political_share=0.1, kin_abroad_political_multiplier=multiplier))
        hh = s.people.households
        traders = np.arange(0, hh.n, 37)
        hh.role[traders] = ROLE_SELLER
        hh.kin_abroad[:] = 0
        hh.kin_abroad[traders[::2]] = 1
        s.step()
        return (hh.detained[traders[::2]] == s.pars.political_detention_weeks).mean()

    assert political(1.0) < 0.3  # the cover holds: no more risk than anyone else (10%)
    assert political(10.0) == 1.0  # if it failed, every relative of a defector caught would be 'political'


def test_kin_help_buys_a_relative_out():
    s = make_sim(**certain_inspection(political_share=0.0, detention_prob=1.0, clan_help_share=0.5))
    hh = s.people.households
    hh.cash[:], hh.fx[:] = 0.0, 0.0
    hh.role[:] = ROLE_NONE
    clan = hh.clan
    sizes = np.bincount(clan)
    full = np.flatnonzero(sizes == s.pars.clan_size)
    # in half of the full clans one member trades with no money and another member is rich
    traders, helpers, alone = [], [], []
    for k, c in enumerate(full[:40]):
        members = np.flatnonzero(clan == c)
        traders.append(members[0])
        if k % 2 == 0:
            helpers.append(members[1])
        else:
            alone.append(members[0])
    traders, helpers, alone = map(np.array, (traders, helpers, alone))
    hh.role[traders] = ROLE_SELLER
    hh.fx[helpers] = 1000.0
    s.books.open()
    s.step()
    helped = np.setdiff1d(traders, alone)
    assert (hh.detained[helped] == 0).all()
    assert (hh.detained[alone] == s.pars.detention_weeks).all()
    price = s.modules[1].bribe_price[hh.region[helped]]
    assert np.allclose(hh.fx[helpers], 1000.0 - price)
    kin_help = s.results.values[0, s.results.unit_names.index("DPRK"), s.results._col["kin_help_usd"]]
    assert kin_help == pytest.approx(price.sum() * s.scale)
    assert s.books.max_rel_residual < 1e-9


def test_detention_runs_out_and_detained_do_not_trade():
    s = make_sim(enforcement_on=False)
    hh = s.people.households
    hh.role[:] = ROLE_SELLER
    hh.detained[:10] = 3
    for week in range(3):
        s.step()
        assert (hh.detained[:10] == 2 - week).all()
    col, dprk = s.results._col, s.results.unit_names.index("DPRK")
    assert s.results.values[0, dprk, col["detained"]] == 10 * s.scale
    assert s.results.values[2, dprk, col["detained"]] == 0


def test_inspection_risk_falls_as_traders_outnumber_officials():
    def risk(share, seed):
        s = make_sim(seed=seed, scale=1000, end=dt.date(2010, 6, 28), modules=[Enforcement], political_share=0.0)
        hh = s.people.households
        hh.role[:] = np.where(s.streams.get("test.roles").random(hh.n) < share, ROLE_SELLER, ROLE_NONE)
        hh.cash[:] = 1e6
        s.run()
        traders = (hh.role > 0).sum() * s.scale * s.n_weeks
        return annual(s, "inspections").sum() / traders, annual(s, "inspections").sum()

    low, high = np.array([risk(0.1, k) for k in (1, 2, 3)]), np.array([risk(0.5, k) for k in (1, 2, 3)])
    assert low[:, 0].mean() > 1.5 * high[:, 0].mean()  # each trader's risk falls ("safety in numbers")
    assert high[:, 1].mean() > low[:, 1].mean()  # but there are more inspections in all


def test_bribes_rise_with_market_participation():
    def bribes(share, seed):
        s = make_sim(seed=seed, scale=1000, end=dt.date(2010, 6, 28), modules=[Enforcement])
        hh = s.people.households
        hh.role[:] = np.where(s.streams.get("test.roles").random(hh.n) < share, ROLE_SELLER, ROLE_NONE)
        hh.cash[:] = 1e6
        s.run()
        return annual(s, "bribes_usd")[2010], annual(s, "bribe_price_usd")[2010]

    for seed in (1, 2, 3):
        (b_lo, p_lo), (b_hi, p_hi) = bribes(0.1, seed), bribes(0.4, seed)
        assert b_hi > 1.5 * b_lo
        assert p_hi > p_lo
    assert bribe_prices(Parameters(), np.array([0.0, 0.5]))[1] == pytest.approx(8.0 * (1 + 4.0 * 0.5))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_money_is_conserved(seed):
    s = make_sim(seed=seed, scale=2000, start=dt.date(2005, 1, 3), end=dt.date(2007, 12, 31))
    hh = s.people.households
    rng = s.streams.get("test.roles")
    hh.role[:] = np.where(rng.random(hh.n) < 0.4, ROLE_SELLER, ROLE_NONE)
    hh.cash *= rng.random(hh.n) * 3  # some can pay, some need kin, some cannot
    s.books.open()
    s.run()
    assert s.books.max_rel_residual < 1e-9
    assert annual(s, "bribes_usd").sum() > 0 and annual(s, "kin_help_usd").sum() > 0
    assert annual(s, "fines_usd").sum() > 0


# -- human security -------------------------------------------------------------------------------
def test_index_parts_are_monotone_and_bounded():
    pars = Parameters()
    n = 101
    need = np.full(n, 10.0, dtype=np.float32)
    ramp = np.linspace(0.0, 1.5, n).astype(np.float32)
    money = np.linspace(0.0, 2000.0, n)
    zeros32 = np.zeros(n, dtype=np.float32)
    free = np.ones(n, dtype=bool)
    price = np.full(n, 20.0, dtype=np.float32)

    def hsi(consumption, food, m, free_, kin_money=None, kin_det=None):
        want = want_index(pars, consumption, food, m, need)
        fear = fear_index(pars, free_, m, (zeros32 if kin_money is None else kin_money).copy(), price,
                          (zeros32 if kin_det is None else kin_det).copy())
        return combine(pars, want, fear)

    by_food = hsi(zeros32, ramp, np.full(n, 50.0), free)
    by_money = hsi(zeros32, np.full(n, 0.8, dtype=np.float32), money, free)
    by_cons = hsi(ramp * 20, np.full(n, 0.8, dtype=np.float32), np.full(n, 50.0), free)
    for v in (by_food, by_money, by_cons):
        assert (v >= 0).all() and (v <= 1).all()
        assert (np.diff(v) >= 0).all() and v[-1] > v[0]
    detained = hsi(zeros32, ramp, np.full(n, 50.0), np.zeros(n, dtype=bool))
    assert (detained < by_food).all()
    # kin: their money raises freedom from fear of a poor household; a detained relative lowers it
    poor = np.zeros(n)
    alone = hsi(zeros32, ramp, poor, free)
    with_kin = hsi(zeros32, ramp, poor, free, kin_money=np.full(n, 100.0, dtype=np.float32))
    kin_held = hsi(zeros32, ramp, poor, free, kin_det=np.full(n, 0.5, dtype=np.float32))
    assert (with_kin > alone).all() and (kin_held < alone).all()


def test_household_index_in_the_simulation():
    s = make_sim(end=dt.date(2010, 3, 1))
    hh = s.people.households
    rng = s.streams.get("test.state")
    hh.role[:] = np.where(rng.random(hh.n) < 0.3, ROLE_SELLER, ROLE_NONE)
    s.step()
    h = hh.hsi.copy()
    assert h.dtype == np.float32 and (h >= 0).all() and (h <= 1).all()
    # more food, more savings: higher index; detention: lower
    fr = hh.food_ratio.copy()
    hh.food_ratio[:] = np.minimum(fr + 0.3, 1.0)
    hh.cash += 100.0
    s.modules[2].step(s)
    assert (hh.hsi >= h - 1e-6).all() and hh.hsi.mean() > h.mean()
    before = hh.hsi.copy()
    hh.detained[:50] = 10
    s.modules[2].step(s)
    assert (hh.hsi[:50] < before[:50]).all()


def test_quantiles_are_ordered_and_match_the_results_method():
    s = make_sim(seed=2, end=dt.date(2011, 12, 26))
    hh = s.people.households
    hh.role[:] = np.where(s.streams.get("test.roles").random(hh.n) < 0.3, ROLE_SELLER, ROLE_NONE)
    s.run()
    col = s.results._col
    p10, p50, p90 = (s.results.values[:, :, col[m]] for m in ("hsi_p10", "hsi_p50", "hsi_p90"))
    dprk = [s.results.unit_names.index(u) for u in s.world.names if s.world.country[s.world.index[u]] == 0]
    dprk += [s.results.unit_names.index(g) for g in ("HamJi", "Rest of DPRK", "DPRK")]
    for a, b in ((p10, p50), (p50, p90)):
        assert (a[:, dprk] <= b[:, dprk]).all()
    mine = np.stack([s.results.values[-1, :, col[m]] for m in ("hsi_p10", "hsi_p50", "hsi_p90")])
    core = s.results.household_quantiles(hh.region, hh.hsi, (0.1, 0.5, 0.9))
    assert np.allclose(mine, core, equal_nan=True)
    mean = s.results.values[-1, :, col["hsi_mean"]]
    assert np.allclose(mean[dprk[:-3]], [hh.hsi[hh.region == s.world.index[u]].mean() for u in
                                         [s.results.unit_names[k] for k in dprk[:-3]]], atol=1e-5)


def test_index_kernel_equals_the_reference_functions():
    """The Numba passes compute exactly what want_index, fear_index and combine compute."""
    s = make_sim(seed=3, end=dt.date(2010, 6, 28))
    hh = s.people.households
    rng = s.streams.get("test.state")
    hh.role[:] = np.where(rng.random(hh.n) < 0.3, ROLE_SELLER, ROLE_NONE)
    hh.cash *= rng.random(hh.n) * 3
    s.run()
    hh.detained[rng.random(hh.n) < 0.05] = 3  # some households and kin held
    s.modules[2].step(s)
    pars, clans = s.pars, Clans(hh.clan)
    money = hh.cash + hh.fx
    free = hh.detained == 0
    need = hh.size.astype(np.float32) * np.float32(pars.food_need_usd_per_person_week)
    own = np.multiply(money, free, out=np.empty(hh.n, np.float32), casting="same_kind")
    kin_money = clans.sum_per_household(own, np.empty(hh.n, np.float32)) - own
    held = np.bincount(hh.clan[~free], minlength=clans.n_clans).astype(np.float32)[hh.clan]
    held[~free] -= 1.0
    kin_det = held / np.maximum(clans.size[hh.clan] - 1, 1).astype(np.float32)
    a = (hh.role > 0) & free
    traders = np.bincount(hh.region[a], minlength=s.world.n_regions)
    price = bribe_prices(pars, traders / np.bincount(hh.region, minlength=s.world.n_regions).clip(1))
    want = want_index(pars, hh.consumption, hh.food_ratio, money, need)
    fear = fear_index(pars, free, money, kin_money, price.astype(np.float32)[hh.region], kin_det)
    assert np.array_equal(combine(pars, want, fear), hh.hsi)


def test_food_security_classes_and_undernourishment():
    s = make_sim(fcs_poor_below=0.6, fcs_borderline_below=0.9, undernourished_below=0.85)
    hh = s.people.households
    third = np.arange(hh.n) % 3
    hh.food_ratio[:] = np.array([0.3, 0.8, 1.2], dtype=np.float32)[third]
    s.modules[2].step(s)
    col, dprk = s.results._col, s.results.unit_names.index("DPRK")
    v = s.results.values[0, dprk]
    share = np.bincount(third) / hh.n
    assert v[col["fcs_poor_share"]] == pytest.approx(share[0])
    assert v[col["fcs_borderline_share"]] == pytest.approx(share[1])
    assert v[col["fcs_acceptable_share"]] == pytest.approx(share[2])
    persons = hh.size.astype(float)
    assert v[col["undernourished_share"]] == pytest.approx(persons[third < 2].sum() / persons.sum())


def test_participants_and_nonparticipants_are_reported_separately():
    s = make_sim()
    hh = s.people.households
    trader = s.streams.get("test.roles").random(hh.n) < 0.3
    hh.role[:] = np.where(trader, ROLE_SELLER, ROLE_NONE)
    hh.cash[trader] += 200.0  # traders are richer
    s.modules[2].step(s)
    col = s.results._col
    for unit in ("HamJi", "Rest of DPRK", "DPRK"):
        v = s.results.values[0, s.results.unit_names.index(unit)]
        assert v[col["hsi_participants"]] > v[col["hsi_nonparticipants"]]


def test_make_clans_groups_of_clan_size():
    region = np.repeat(np.arange(3), [7, 10, 1])
    clan = make_clans(region, 3, np.random.default_rng(0).random(len(region)))
    assert np.bincount(clan).tolist() == [3, 3, 1, 3, 3, 3, 1, 1]


def test_same_seed_same_results():
    def run(seed):
        s = make_sim(seed=seed, scale=2000, start=dt.date(2008, 1, 7), end=dt.date(2009, 6, 29))
        hh = s.people.households
        hh.role[:] = np.where(s.streams.get("test.roles").random(hh.n) < 0.4, ROLE_SELLER, ROLE_NONE)
        return s.run().results.values

    a, b, c = run(5), run(5), run(6)
    assert np.array_equal(a, b, equal_nan=True)
    assert not np.array_equal(a, c, equal_nan=True)
