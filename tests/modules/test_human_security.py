"""The human security index's province-level kernels equal, bit for bit, the NumPy code they replaced (issue 18)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from _security import make_sim

from hamji.kernels import household_blocks, province_bounds, reduce_blocks
from hamji.modules import human_security as hs
from hamji.modules.enforcement import Clans, bribe_prices
from hamji.modules.human_security import combine, fear_index, want_index
from hamji.parameters import Parameters
from hamji.people import ROLE_NONE, ROLE_SELLER
from hamji.results import HIST_BINS


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    assert np.array_equal(a, b, equal_nan=True), f"{np.count_nonzero(a != b)} of {a.size} differ"


@pytest.mark.parametrize("seed", range(8))
def test_bribe_price_is_enforcements(seed):
    """The price the fear pass uses is enforcement's bribe_prices of the free traders' share, in float32."""
    rng = np.random.default_rng(seed)
    r = 15
    households = rng.integers(0, 1000, r).astype(float) * (rng.random(r) < 0.8)
    traders = np.floor(households * rng.random(r))
    pars = SimpleNamespace(bribe_base_usd=float(rng.choice([0.0, 50.0, 123.4 * rng.random()])),
                           bribe_activity_slope=float(rng.choice([0.0, 1.0, 3.7 * rng.random()])))
    want = bribe_prices(pars, traders / np.maximum(households, 1.0)).astype(np.float32)
    got = np.zeros(r, dtype=np.float32)
    hs._bribe_price(traders, np.maximum(households, 1.0), pars.bribe_base_usd, pars.bribe_activity_slope, got)
    assert_same(got, want)


@pytest.mark.parametrize("seed", range(8))
def test_province_tallies_as_numpy(seed):
    """Block histograms and sums added by province, and the values recorded from them, as the NumPy step had them."""
    rng = np.random.default_rng(seed)
    n, r = 4000, 15
    region = np.sort(rng.choice(np.flatnonzero(rng.random(r) < 0.7), n))
    blocks = household_blocks(province_bounds(region, r), int(rng.choice([150, 1 << 16])))
    nb = len(blocks)
    hist_b = rng.integers(0, 30, (nb, HIST_BINS))
    sums_b = rng.random((nb, 8)) * 10.0 ** rng.uniform(-3, 4, (nb, 8))
    sums_b[:, [0, 5, 6]] = rng.integers(0, 500, (nb, 3))  # counts: participants, poor, below borderline
    households = np.bincount(region, minlength=r).astype(float)

    want_hist, want_sums = np.zeros((r, HIST_BINS), dtype=np.int64), np.zeros((r, 8))
    reduce_blocks(hist_b, blocks, want_hist)
    reduce_blocks(sums_b, blocks, want_sums)
    n_p, s_hsi, s_part, s_want, s_fear, poor, below_border, under = want_sums.T
    want = [s_hsi, s_part, n_p, s_hsi - s_part, households - n_p, s_want, s_fear, poor,
            np.maximum(below_border - poor, 0.0), households - np.maximum(below_border, poor), under]

    hist, sums = np.full((r, HIST_BINS), 5, dtype=np.int64), np.full((r, 8), 5.0)
    out = np.full((len(hs.TALLY_ROWS), r), 5.0)
    hs._province_tallies(hist_b, sums_b, blocks, households, hist, sums, out)
    assert_same(hist, want_hist)
    assert_same(sums, want_sums)
    assert len(want) == len(hs.TALLY_ROWS)
    for got_row, want_row in zip(out, want):
        assert_same(got_row, want_row)


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
