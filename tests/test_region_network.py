"""The trade network's province-level kernels equal, bit for bit, the NumPy code they replaced (issue 18).

Each reference below is the NumPy code of ``Network`` (or :class:`hamji.ties.Ties`) before it was
compiled. Inputs mix in the awkward cases: provinces without households, roles nobody holds, NaN and negative
incomes, weights summing to 0, free and NaN tie slots, and arrays that must grow.
"""

from __future__ import annotations

import numpy as np
import pytest

from hamji.kernels import household_blocks, province_bounds, reduce_blocks
from hamji.modules import network as net
from hamji.parameters import Parameters
from hamji.people import ROLE_NONE, ROLE_PARTNER, ROLE_SELLER, ROLES
from hamji.ties import Ties

F32 = np.float32
SEEDS = range(8)


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    assert np.array_equal(a, b, equal_nan=True), f"{np.count_nonzero(a != b)} of {a.size} differ"


# -- references: the NumPy code each kernel replaced -----------------------------------------------
class RefTies:
    """Ties.add as NumPy code."""

    def __init__(self, capacity: int) -> None:
        self.a = np.zeros(capacity, dtype=np.int32)
        self.b = np.zeros(capacity, dtype=np.int32)
        self.s = np.zeros(capacity, dtype=np.float32)
        self.vol = np.zeros(capacity, dtype=np.float32)
        self.hw = 0

    def add(self, a, b, strength):
        k = len(a)
        if k == 0:
            return
        free = np.flatnonzero(self.s[:self.hw] <= 0)[:k]
        extra = k - len(free)
        if self.hw + extra > len(self.s):
            new = max(len(self.s) + len(self.s) // 4, self.hw + extra)  # a quarter more, or what is needed
            for name in ("a", "b", "s", "vol"):
                old = getattr(self, name)
                arr = np.zeros(new, dtype=old.dtype)
                arr[:len(old)] = old
                setattr(self, name, arr)
        slots = np.concatenate([free, np.arange(self.hw, self.hw + extra)])
        self.hw += extra
        self.a[slots] = a
        self.b[slots] = b
        self.s[slots] = strength
        self.vol[slots] = 0.0


def ref_entry(inc, cnt, households, markets, scale, access, innovation, imitation, effect, weeks):  # Network._roles
    share = cnt.sum(axis=1) / np.maximum(households, 1.0)
    density = markets / np.maximum(households * scale / 1e4, 1e-9)
    p_r = (innovation + imitation * share) * access * (1.0 + effect * density)
    return 1.0 - (1.0 - np.minimum(p_r, 1.0)) ** weeks


@np.errstate(invalid="ignore", divide="ignore")
def ref_attract(inc, cnt, line):  # Network._roles
    mean_role = np.where(cnt > 0, inc / np.maximum(cnt, 1), np.nan)
    mean_all = inc.sum(axis=1) / np.maximum(cnt.sum(axis=1), 1)
    attract = (np.maximum(mean_role, 0.0) + line) / (np.maximum(mean_all, 0.0)[:, None] + line)
    return np.where(np.isfinite(attract) & (cnt > 0), attract, 1.0)


@np.errstate(invalid="ignore", divide="ignore")
def ref_choose_roles(idx, u, attract, base, pa, region, cash, fx, capital):  # Network._choose_roles
    reg = region[idx]
    wr = base[None, :] * attract
    wr[:, ROLE_PARTNER] *= pa
    wr[:, ROLE_NONE] = 0.0
    weights = wr[reg]
    money = cash[idx] + fx[idx]
    weights[:, ROLE_PARTNER] *= np.minimum(1.0, money / max(capital, 1e-9))
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    pick = (u[:, None] * total[:, None] >= cum).sum(axis=1)
    return np.where(total > 0, np.minimum(pick, len(ROLES) - 1), ROLE_SELLER).astype(np.int8)


def ref_merchant_ties(partners, mp_a, mp_b, mp_s, n, target, u, region, p_r, china_of, capital, quality, rw, draws,
                      mer_region):  # Network._form (merchant ties)
    mdeg = np.bincount(mp_b[mp_s > 0], minlength=n)
    formers = partners[(mdeg[partners] < target) & (u[partners] < p_r[region[partners]])]
    mpart = np.bincount(mp_a[mp_s > 0], minlength=len(capital))
    wm = np.maximum(capital, 0.0) * quality * (1.0 + rw * mpart)
    area = china_of[region[formers]]
    draws = draws[formers]
    src, dst = [], []
    for c in np.unique(area):
        ms = np.flatnonzero(mer_region == c)
        if not len(ms) or wm[ms].sum() <= 0:
            continue
        f = formers[area == c]
        cum = np.cumsum(wm[ms])
        j = np.minimum(np.searchsorted(cum, draws[area == c] * cum[-1], side="right"), len(ms) - 1)
        src.append(ms[j])
        dst.append(f)
    if not src:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64)


# -- inputs ----------------------------------------------------------------------------------------
def pars_record(r: int, **values) -> net.NetworkPars:
    """The network's parameter record of the default parameters (``r`` provinces), with ``values`` in its place."""
    return net.NetworkPars.of(Parameters(), np.linspace(0.0, 400.0, r))._replace(**values)


def provinces(rng: np.random.Generator, n: int, r: int) -> np.ndarray:
    """Sorted provinces of ``n`` households, some provinces empty."""
    present = np.flatnonzero(rng.random(r) < 0.7)
    present = present if len(present) else np.array([0])
    return np.sort(rng.choice(present, n)).astype(np.int8)


def role_sums(rng: np.random.Generator, blocks: np.ndarray):
    """Block sums of smoothed incomes and counts by role: none of role 0, roles nobody holds, NaN and negative sums."""
    nb = len(blocks)
    cnt_b = rng.integers(0, 6, (nb, len(ROLES))) * (rng.random((nb, len(ROLES))) < 0.7)
    cnt_b[:, ROLE_NONE] = 0
    inc_b = rng.normal(2.0, 5.0, (nb, len(ROLES))) * cnt_b * 10.0 ** rng.uniform(-3, 3, (nb, len(ROLES)))
    inc_b[rng.random((nb, len(ROLES))) < 0.03] = np.nan
    inc_b[rng.random((nb, len(ROLES))) < 0.02] = np.inf
    return inc_b, cnt_b.astype(np.int64)


@pytest.mark.parametrize("seed", SEEDS)
def test_ties_add_as_numpy(seed):
    """Ties fill free slots (strength <= 0, not NaN) in order, then grow past the high-water mark by a quarter."""
    rng = np.random.default_rng(seed)
    ours, ref = Ties(16), RefTies(16)
    for _ in range(40):
        k = int(rng.integers(0, 30))
        a, b = rng.integers(0, 1000, k), rng.integers(0, 1000, k).astype(np.int32)
        strength = float(rng.choice([0.1, 0.3 + rng.random(), 1.0]))
        ours.add(a, b, strength)
        ref.add(a, b, strength)
        for name in ("a", "b", "s", "vol"):
            assert_same(getattr(ours, name), getattr(ref, name))
        assert ours.hw == ref.hw
        # ties die, and some slots hold NaN (not free)
        live = ours.s[:ours.hw]
        die = rng.random(len(live)) < 0.3
        nan = rng.random(len(live)) < 0.03
        vol = rng.random(len(live)).astype(F32)
        for t in (ours, ref):
            t.s[:t.hw][die] = 0.0
            t.s[:t.hw][nan] = np.nan
            t.vol[:t.hw] = vol
    assert len(ours.s) > 16


@pytest.mark.parametrize("seed", SEEDS)
def test_entry_chance_attractiveness_and_roles_as_numpy(seed):
    """The stayers' sums by province, the entry chance, the roles' attractiveness and the roles entrants draw."""
    rng = np.random.default_rng(seed)
    n, r, weeks = 3000, 9, int(rng.choice([1, 2, 4]))
    region = provinces(rng, n, r)
    blocks = household_blocks(province_bounds(region, r), int(rng.choice([100, 700, 1 << 16])))
    inc_b, cnt_b = role_sums(rng, blocks)
    households = np.bincount(region, minlength=r).astype(float)
    markets = rng.random(r) * 40 * (rng.random(r) < 0.8)
    access = np.exp(-rng.random(r) * 4)
    scale = int(rng.choice([1, 100, 1000]))
    innovation, imitation, effect = 0.001 * rng.random(), 0.5 * rng.random(), rng.random()
    want_inc, want_cnt = np.zeros((r, len(ROLES))), np.zeros((r, len(ROLES)), dtype=np.int64)
    reduce_blocks(inc_b, blocks, want_inc)
    reduce_blocks(cnt_b, blocks, want_cnt)
    inc, cnt, stay = np.full((r, len(ROLES)), 7.0), np.full((r, len(ROLES)), 7, dtype=np.int64), np.zeros(r)
    sums = net.RoleSums(inc_b, cnt_b, inc, cnt)
    entry = net.Entry(np.maximum(households, 1.0), np.maximum(households * scale / 1e4, 1e-9), stay,
                      np.zeros((r, len(ROLES))))
    net._entry_chance(blocks, markets, pars_record(r, access=access, entry_innovation=innovation,
                                                   entry_imitation=imitation, market_access_effect=effect), sums, entry)
    assert_same(inc, want_inc)
    assert_same(cnt, want_cnt)
    assert_same(1.0 - stay ** weeks, ref_entry(inc, cnt, households, markets, scale, access, innovation, imitation,
                                               effect, weeks))

    line = float(rng.choice([0.0, 1.3, 5.0]))
    attract = np.zeros((r, len(ROLES)))
    net._attractiveness(inc, cnt, line, attract)
    want_attract = ref_attract(inc, cnt, line)
    assert_same(attract, want_attract)

    base = rng.random(len(ROLES)) * (rng.random(len(ROLES)) < 0.85)
    pa = np.exp(-rng.random(r) * 3) * (rng.random(r) < 0.9)
    cash = rng.exponential(50.0, n) * (rng.random(n) < 0.9)
    fx = rng.exponential(50.0, n) * (rng.random(n) < 0.3)
    capital = float(rng.choice([0.0, 30.0, 200.0]))
    idx = np.flatnonzero(rng.random(n) < 0.3)
    for u in (rng.random(n).astype(F32), rng.random(n)):  # the monthly draws (float32) and those of the set-up
        role = rng.integers(0, len(ROLES), n).astype(np.int8)
        want = role.copy()
        want[idx] = ref_choose_roles(idx, u[idx], want_attract, base, pa, region, cash, fx, capital)
        net._pick_roles(idx, u, want_attract, net.Households(role, region, np.zeros(n, np.int8), cash, fx,
                                                             np.zeros(n, F32), np.zeros(n, F32)),
                        pars_record(r, role_weights=base, partner_access=pa, partner_capital_usd=float(max(capital, 1e-9))))
        assert_same(role, want)

    role = rng.integers(0, len(ROLES), n).astype(np.int8)
    pe = rng.normal(1.0, 3.0, n).astype(F32)
    u = rng.random(n).astype(F32)
    want_role, want_pe = role.copy(), pe.copy()
    want_role[idx] = ref_choose_roles(idx, u[idx], want_attract, base, pa, region, cash, fx, capital)
    want_pe[idx] = 0.0
    p = pars_record(r, loss_income_usd_f64=line, role_weights=base, partner_access=pa,
                    partner_capital_usd=float(max(capital, 1e-9)))
    net._enter(idx, u, net.Households(role, region, np.zeros(n, np.int8), cash, fx, pe, np.zeros(n, F32)), p, sums,
               entry)
    assert_same(role, want_role)
    assert_same(pe, want_pe)


@pytest.mark.parametrize("seed", SEEDS)
def test_tie_picks_as_numpy(seed):
    """Ties among North Koreans with referral weights; merchant ties across the crossings, as the NumPy loop."""
    rng = np.random.default_rng(seed)
    n, r, n_mer = 2000, 9, int(rng.choice([1, 5, 13]))
    region = provinces(rng, n, r).astype(np.int8)
    part = np.flatnonzero(rng.random(n) < 0.4)
    deg = rng.integers(0, 6, n).astype(np.int32)
    formers = part[rng.random(len(part)) < 0.2]
    draws = rng.random(n).astype(F32)
    rw = float(rng.choice([0.0, 0.5, 2.0]))
    want = net._pick_in_region(region, part, formers, 1.0 + rw * deg[part], draws[formers], r)
    got = net._nk_picks(region, part, formers, deg, rw, draws, r)
    for g, w in zip(got, want):
        assert_same(g, w)

    # merchants in China's provinces 9..12 (one without merchants), some with no capital
    china_of = np.where(rng.random(r) < 0.85, rng.integers(9, 13, r), -1).astype(np.int64)
    mer_region = rng.choice([9, 10, 12], n_mer).astype(np.int8)
    capital = rng.exponential(100.0, n_mer) * (rng.random(n_mer) < 0.7) - 5.0 * (rng.random(n_mer) < 0.2)
    m = 400
    mp_a, mp_b = rng.integers(0, n_mer, m).astype(np.int32), rng.integers(0, n, m).astype(np.int32)
    mp_s = (rng.random(m) * (rng.random(m) < 0.7)).astype(F32)
    partners = np.flatnonzero(rng.random(n) < 0.2)
    u = rng.random(n).astype(F32)
    p_r = rng.random(r) * (rng.random(r) < 0.9)
    target = int(rng.choice([1, 2, 3]))
    for quality in (rng.random(n_mer).astype(F32), np.ones(n_mer)):
        formers, area, wm = net._merchant_formers(partners, mp_a, mp_b, mp_s, target, u, region, p_r, china_of, capital,
                                                  quality, rw)
        got = net._merchant_picks(formers, area, draws, mer_region, wm)
        want = ref_merchant_ties(partners, mp_a, mp_b, mp_s, n, target, u, region, p_r, china_of, capital, quality, rw,
                                 draws, mer_region)
        for g, w in zip(got, want):
            assert_same(g, w)


@pytest.mark.parametrize("seed", SEEDS)
def test_refresh_counts_as_numpy(seed):
    """Participants, households at the know-how threshold (compared in float32) and live ties by province; merchants'
    partners."""
    rng = np.random.default_rng(seed)
    n, r = 3000, 9
    region = provinces(rng, n, r)
    blocks = household_blocks(province_bounds(region, r), int(rng.choice([100, 1 << 16])))
    role = np.where(rng.random(n) < 0.5, ROLE_NONE, rng.integers(1, len(ROLES), n)).astype(np.int8)
    threshold = 0.1000000020  # rounds to float32(0.1): float32(0.1) is at it in float32, below it in float64
    knowhow = rng.random(n).astype(F32)
    knowhow[rng.random(n) < 0.1] = F32(0.1)
    knowhow[rng.random(n) < 0.01] = np.nan
    m = 500
    ends, s = rng.integers(0, n, m).astype(np.int32), (rng.random(m) * (rng.random(m) < 0.7)).astype(F32)
    ties_nk = rng.integers(0, 50, r).astype(float)
    part_r, know_r, ties_r = np.full(r, 3.0), np.full(r, 3.0), np.full(r, 3.0)
    net._refresh_counts(blocks, role, knowhow, F32(threshold), region, ends, s, ties_nk, part_r, know_r, ties_r)
    assert_same(part_r, np.bincount(region, weights=np.not_equal(role, ROLE_NONE), minlength=r))
    assert_same(know_r, np.bincount(region, weights=np.greater_equal(knowhow, threshold), minlength=r))
    assert_same(ties_r, ties_nk + np.bincount(region[ends[s > 0]], minlength=r))

    n_mer = 13
    mer = rng.integers(0, n_mer, m).astype(np.int32)
    partners = np.full(n_mer, 99, dtype=np.int16)
    net._partner_counts(mer, s, partners)
    want = np.zeros(n_mer, dtype=np.int64)
    net._count_live(mer, s, want)
    assert_same(partners, want.astype(np.int16))
