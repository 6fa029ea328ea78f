"""The trade network's province-level kernels equal, bit for bit, the NumPy code they replaced (issue 18).

Each reference below is the NumPy code of ``Network`` (or :class:`hamji.ties.Ties`) before it was
compiled. Inputs mix in the awkward cases: provinces without households, roles nobody holds, NaN and negative
incomes, weights summing to 0, free and NaN tie slots, and arrays that must grow.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _markets import MINE, ONE_YEAR, SCALE, series
from _network_refs import SEEDS as SEEDS_network_refs
from _network_refs import WEEKS, cases, pw, ref_update, strengths
from _network_refs import assert_same as assert_same_network_refs

from hamji.kernels import household_blocks, province_bounds, reduce_blocks
from hamji.modules import PLAN
from hamji.modules import network as net
from hamji.parameters import Parameters
from hamji.people import ROLE_NONE, ROLE_PARTNER, ROLE_SELLER, ROLES
from hamji.sim import Sim
from hamji.ties import Ties
from hamji.trade import trade_state

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


def ref_nk_volumes(a, b, pe, weeks, line):  # Network._update (volumes of the ties among North Koreans)
    v = np.minimum(pe[a], pe[b])
    return np.where(v >= line, v * weeks, 0.0)


def pars_record_network_refs(r: int, **values) -> net.NetworkPars:
    """The network's parameter record of the default parameters (``r`` provinces), with ``values`` in its place."""
    return net.NetworkPars.of(Parameters(), np.linspace(0.0, 400.0, r))._replace(**values)


@pytest.mark.parametrize(("seed", "weeks"), cases())
def test_update_nk_ties(seed, weeks, threads):
    """Volumes from the ends' incomes and the update as before; the degrees lose exactly the dropped ties."""
    rng = np.random.default_rng(seed)
    n, m, line = 300, 4000, 1.0 + rng.random()
    gain, half, decay, s_min = 0.3, 5.0, 0.05 if seed % 3 else 0.0, 0.02
    pe = (rng.normal(line, 2.0, n)).astype(F32)
    pe[rng.random(n) < 0.1] = F32(line)  # exactly at the line in float32 (above it in float64, or below)
    pe[rng.random(n) < 0.02] = np.nan
    a, b = rng.integers(0, n, m).astype(np.int32), rng.integers(0, n, m).astype(np.int32)
    s = strengths(rng, m)
    vol = ref_nk_volumes(a, b, pe, weeks, line)
    assert 0 < np.count_nonzero(vol) < m
    want = ref_update(s.copy(), vol, weeks, gain, half, decay, s_min)
    want_deg = np.bincount(a[want > 0], minlength=n) + np.bincount(b[want > 0], minlength=n)  # Network._form
    region = np.sort(rng.integers(0, 4, n)).astype(np.int8)
    ties_r = np.bincount(region[a[s > 0]], minlength=4).astype(float)  # before: dropped ties leave
    got, deg, vol = s.copy(), net._degrees(a, b, s, n), np.zeros(m, dtype=F32)
    hh = net.Households(np.zeros(n, np.int8), region, np.zeros(n, np.int8), np.zeros(n), np.zeros(n), pe,
                        np.zeros(n, F32))
    p = pars_record_network_refs(4, update_weeks_f32=F32(weeks), loss_income_usd=F32(line), tie_gain=F32(gain), tie_half_usd=F32(half),
                    tie_kept=F32((1.0 - decay) ** weeks), tie_min=F32(s_min))
    net._update_nk_ties(a, b, got, vol, hh, p, net.TieCounts(deg, ties_r))
    assert_same_network_refs(got, want)
    assert_same_network_refs(deg, want_deg.astype(np.int32))
    assert_same_network_refs(ties_r, np.bincount(region[a[want > 0]], minlength=4).astype(float))  # Network._refresh
    assert not vol.any()


def ref_knowhow(k, a, b, s, m, h, ms, mer_k, weeks, rate):  # Network._knowhow
    n = len(k)
    gain = np.zeros(n)
    if len(a):
        f = 1.0 - pw(1.0 - rate * s, weeks)
        gap = k[b] - k[a]
        gain += np.bincount(a, weights=f * np.maximum(gap, 0.0), minlength=n)
        gain += np.bincount(b, weights=f * np.maximum(-gap, 0.0), minlength=n)
    if len(m):
        f = 1.0 - pw(1.0 - rate * ms, weeks)
        gain += np.bincount(h, weights=f * np.maximum(mer_k[m] - k[h], 0.0), minlength=n)
    np.minimum(k + gain, 1.0, out=k, casting="unsafe")
    return k


def random_ties(rng: np.random.Generator, n: int, m: int, n_mer: int, m_mp: int):
    """Ties among ``n`` households and from ``n_mer`` merchants (a few households with many ties, as by referral)."""
    hub = rng.integers(0, n, 5)

    def ends(k: int) -> np.ndarray:
        return np.where(rng.random(k) < 0.3, hub[rng.integers(0, 5, k)], rng.integers(0, n, k)).astype(np.int32)

    s = strengths(rng, m)
    s = s[np.maximum.accumulate(np.where(rng.random(m) < 0.5, 0, np.arange(m)))]  # runs of equal strengths
    return ends(m), ends(m), s, rng.integers(0, n_mer, m_mp).astype(np.int32), ends(m_mp), strengths(rng, m_mp)


@pytest.mark.parametrize(("seed", "weeks"), cases())
@pytest.mark.parametrize("merchants", [True, False])
def test_knowhow_flow(seed, weeks, merchants, threads):
    rng = np.random.default_rng(seed)
    n, n_mer = 400, 20
    a, b, s, m, h, ms = random_ties(rng, n, 6000, n_mer, 800 if merchants else 0)
    if seed == 0:  # no ties among North Koreans
        a, b, s = a[:0], b[:0], s[:0]
    k = (rng.random(n) ** 3 * 10.0 ** -rng.uniform(0, 8, n)).astype(F32)
    k[rng.random(n) < 0.2] = 0.0
    k[rng.random(n) < 0.05] = 1.0
    if seed == 3:
        k[rng.random(n) < 0.01] = np.nan  # spreads to both ends of its ties, as in NumPy
    mer_k = (0.5 + 0.5 * rng.random(n_mer)).astype(F32)
    rate = 0.5 * rng.random() if seed % 2 else 0.02
    want = ref_knowhow(k.copy(), a, b, s, m, h, ms, mer_k, weeks, rate)
    got = k.copy()
    net._knowhow_flow(got, a, b, s, m, h, ms, mer_k, F32(weeks), F32(rate))
    assert_same_network_refs(got, want)
    assert np.count_nonzero(want != k) > (n // 10 if len(a) or len(m) else -1)  # know-how moved (if any ties)


def ref_strengths(n, a, b, s, h, ms):  # Network._strengths
    tot = np.bincount(a, weights=s, minlength=n) + np.bincount(b, weights=s, minlength=n)
    tot += np.bincount(h, weights=ms, minlength=n)
    out = np.zeros(n, dtype=F32)
    out[:] = tot
    return out


@pytest.mark.parametrize("seed", SEEDS_network_refs)
def test_strength_sums(seed, threads):
    rng = np.random.default_rng(seed)
    n = 300
    a, b, s, _, h, ms = random_ties(rng, n, 5000, 10, 700 if seed else 0)
    got = np.full(n, -1.0, dtype=F32)
    net._strength_sums(a, b, s, h, ms, got)
    assert_same_network_refs(got, ref_strengths(n, a, b, s, h, ms))


E = 2.0 ** -54  # a quarter of the float64 spacing at 1


@pytest.mark.parametrize(("a_terms", "b_terms", "m_terms", "want"), [
    ([1.0], [E, E, E, 2.0 ** -24], [], 1.0 + 2.0 ** -23),  # b ends apart: 1 + (2^-24 + 3E) rounds up past the midpoint
    ([1.0], [], [E, E, E, 2.0 ** -24], 1.0 + 2.0 ** -23),  # merchant ties apart, the same
    ([1.0], [E], [2.0 ** -24, 2 * E], 1.0),  # merchant ties after a + b: (1 + E) + (2^-24 + 2E) = midpoint, even
])
def test_sums_keep_bincount_grouping(a_terms, b_terms, m_terms, want):
    """Household 0's terms at its a ends, at its b ends and on merchant ties; its float32 total is ``want``.

    Summed one by one (or grouped otherwise than (a + b) + m) each of these totals rounds the other way: a test
    that the kernels group the float64 sums as np.bincount and the additions in the module did. Know-how: the
    same at a quarter of the scale, as gaps to better informed ends, with f = 1 (rate 1, strength 1, one week).
    """
    terms = a_terms + b_terms + m_terms
    ia, ib = range(len(a_terms)), range(len(a_terms), len(a_terms) + len(b_terms))
    im = range(len(a_terms) + len(b_terms), len(terms))
    other = np.arange(1, len(terms) + 1, dtype=np.int32)  # one other household per term
    # strengths
    a = np.concatenate([np.zeros(len(ia), np.int32), other[ib]])
    b = np.concatenate([other[ia], np.zeros(len(ib), np.int32)])
    s = np.array([terms[i] for i in ia] + [terms[i] for i in ib], dtype=F32)
    h, ms = np.zeros(len(im), np.int32), np.array([terms[i] for i in im], dtype=F32)
    n = len(terms) + 1
    got = np.zeros(n, dtype=F32)
    net._strength_sums(a, b, s, h, ms, got)
    assert_same_network_refs(got, ref_strengths(n, a, b, s, h, ms))
    assert got[0] == F32(want)
    # know-how: household 0 (k = 0) gains k of the other end of each tie
    k = np.array([0.0] + [x / 4 for x in terms], dtype=F32)
    ones = np.ones(len(a), dtype=F32)
    m, mer_k = np.arange(len(im), dtype=np.int32), k[other[im]]
    want_k = ref_knowhow(k.copy(), a, b, ones, m, h, np.ones(len(im), F32), mer_k, 1, 1.0)
    got = k.copy()
    net._knowhow_flow(got, a, b, ones, m, h, np.ones(len(im), F32), mer_k, F32(1), F32(1.0))
    assert_same_network_refs(got, want_k)
    assert got[0] == F32(want / 4)


def ref_exits(role, cash, fx, pe, ties, u, weeks, line, exit_capital, base, loss_extra, tie_effect):  # Network._roles
    part = np.flatnonzero(role != ROLE_NONE)
    money = cash[part] + fx[part]
    loss = (pe[part] < line) | (money < exit_capital)
    p = (base + loss_extra * loss) / (1.0 + tie_effect * ties[part])
    p = 1.0 - pw(1.0 - np.minimum(p, 1.0), weeks)
    role[part[u[part] < p]] = ROLE_NONE
    return role


def ref_role_sums(region, role, pe, r):  # Network._roles
    pidx = np.flatnonzero(role != ROLE_NONE)
    key = region[pidx] * len(ROLES) + role[pidx]
    inc = np.bincount(key, weights=pe[pidx], minlength=r * len(ROLES)).reshape(r, len(ROLES))
    cnt = np.bincount(key, minlength=r * len(ROLES)).reshape(r, len(ROLES))
    return inc, cnt


def households(rng: np.random.Generator, n: int, r: int = 5):
    """Province, role (half without one), cash, fx and smoothed market income around a loss line of 1.3."""
    region = np.sort(rng.integers(0, r, n)).astype(np.intp)
    role = np.where(rng.random(n) < 0.5, ROLE_NONE, rng.integers(1, len(ROLES), n)).astype(np.int8)
    cash = rng.exponential(5.0, n) * (rng.random(n) < 0.9)
    fx = rng.exponential(5.0, n) * (rng.random(n) < 0.3)
    pe = rng.normal(1.0, 3.0, n).astype(F32)
    pe[rng.random(n) < 0.1] = F32(1.3)  # at the loss line 1.3 in float32, below it in float64
    return region, role, cash, fx, pe


def blocks_of(region: np.ndarray, r: int, block: int | None = None) -> np.ndarray:
    """The household blocks of provinces ``region`` (sorted), of ``block`` households (default: one per province here)."""
    return household_blocks(province_bounds(region, r), block)


def exits(role, cash, fx, pe, ties, u, weeks, line, exit_capital, base, loss_extra, tie_effect, region=None, r=5,
          block=None):
    """net._exits on a copy of ``role``: (roles after, summed incomes and counts of those who stay)."""
    role = role.copy()
    region = np.zeros(len(role), dtype=np.int8) if region is None else region
    blocks = blocks_of(region, r, block)
    inc_b, cnt_b = np.zeros((len(blocks), len(ROLES))), np.zeros((len(blocks), len(ROLES)), dtype=np.int64)
    inc, cnt = np.zeros((r, len(ROLES))), np.zeros((r, len(ROLES)), dtype=np.int64)
    hh = net.Households(role, region, np.zeros(len(role), np.int8), cash, fx, pe, ties)
    p = pars_record_network_refs(r, update_weeks=float(weeks), loss_income_usd=F32(line), exit_capital_usd=exit_capital,
                    exit_base=base, exit_loss=loss_extra, tie_exit_effect=F32(tie_effect))
    net._exits(blocks, hh, u, p, net.RoleSums(inc_b, cnt_b, inc, cnt))
    reduce_blocks(inc_b, blocks, inc)
    reduce_blocks(cnt_b, blocks, cnt)
    return role, inc, cnt


@pytest.mark.parametrize(("seed", "weeks"), cases())
def test_exits(seed, weeks, threads):
    rng = np.random.default_rng(seed)
    n = 5000
    region, role, cash, fx, pe = households(rng, n)
    tiny = (rng.random(n) < 0.3) & (pe > 0)  # (still above or below the line) so that the order of the sums matters
    pe[tiny] = F32(1.3) + pe[tiny] * (10.0 ** -rng.uniform(5, 12, np.count_nonzero(tiny))).astype(F32)
    ties = (rng.random(n) * 3).astype(F32)
    u = rng.random(n, dtype=F32)
    pars = (1.3, 2.0, 0.05 * rng.random(), 0.3 * rng.random(), 1.0 + rng.random())
    want = ref_exits(role.copy(), cash, fx, pe, ties, u, weeks, *pars)
    got, inc, cnt = exits(role, cash, fx, pe, ties, u, weeks, *pars, region=region)
    assert_same_network_refs(got, want)
    small = exits(role, cash, fx, pe, ties, u, weeks, *pars, region=region, block=97)  # several blocks a province
    assert_same_network_refs(small[0], want)
    assert_same_network_refs(small[2], cnt)
    assert 0 < np.count_nonzero(got != role) < np.count_nonzero(role)
    want_inc, want_cnt = ref_role_sums(region, want, pe, 5)  # Network._roles, after the exits
    assert_same_network_refs(inc, want_inc)
    assert_same_network_refs(cnt, want_cnt)


@pytest.mark.parametrize(("seed", "weeks"), cases())
def test_exit_chance(seed, weeks):
    """The weekly chance itself (decisions hide differences in its last bits), and decisions at the threshold."""
    rng = np.random.default_rng(seed)
    m = 500
    loss, ties = rng.random(m) < 0.5, (rng.random(m) * 3).astype(F32)
    base, loss_extra, tie_effect = 0.05 * rng.random(), 0.3 * rng.random(), 0.7 + rng.random()
    if seed == 0:
        loss_extra = 3.0  # chance 1 for some
    if seed == 1:  # tiny chances, where rounding can put the computed chance above w p
        base, loss_extra = base * 1e-11, loss_extra * 1e-11
    p = (base + loss_extra * loss) / (1.0 + tie_effect * ties)
    got = np.array([net._exit_p(loss[i], ties[i], base, loss_extra, F32(tie_effect)) for i in range(m)])
    assert_same_network_refs(got, np.minimum(p, 1.0))
    # draws just below, at and just above the chance: the shortcut (u above w p) must not decide any of them
    chance = 1.0 - pw(1.0 - np.minimum(p, 1.0), weeks)
    at = chance.astype(F32)
    u = np.concatenate([np.nextafter(at, F32(0)), at, np.nextafter(at, F32(1))])
    role = np.full(3 * m, ROLE_PARTNER, dtype=np.int8)
    cash = np.where(np.tile(loss, 3), 0.0, 100.0)
    got, _, _ = exits(role, cash, cash, np.full(3 * m, 5.0, F32), np.tile(ties, 3), u, weeks, 1.0, 2.0, base,
                      loss_extra, tie_effect)
    assert_same_network_refs(got, ref_exits(role.copy(), cash, cash, np.full(3 * m, 5.0, F32), np.tile(ties, 3), u, weeks, 1.0,
                               2.0, base, loss_extra, tie_effect))
    assert 0 < np.count_nonzero(got == ROLE_NONE) < 3 * m


def ref_entrants(role, free, cash, fx, region, v, p_r, capital):  # Network._roles
    cand = np.flatnonzero((role == ROLE_NONE) & free)
    cf = np.minimum(1.0, (cash[cand] + fx[cand]) / capital)
    return cand[v[cand] < p_r[region[cand]] * cf]


@pytest.mark.parametrize(("seed", "weeks"), cases())
@pytest.mark.parametrize("block", [None, 97])
def test_entrants(seed, weeks, threads, block):
    rng = np.random.default_rng(seed)
    n = 5000
    region, role, cash, fx, _ = households(rng, n)
    free = rng.random(n) < 0.9
    v = rng.random(n, dtype=F32)
    p_r = 1.0 - (1.0 - np.minimum(rng.random(5), 1.0)) ** weeks
    if seed == 0:
        p_r[1] = -0.1  # not a chance, but negative money makes p x money positive: these must not be skipped
        cash[np.flatnonzero(region == 1)[:50]] = -100.0
    want = ref_entrants(role, free, cash, fx, region, v, p_r, 10.0)
    blocks = blocks_of(region, 5, block)
    detained = np.where(free, 0, 3).astype(np.int16)
    got = net._entrants(blocks, role, detained, cash, fx, v, p_r, 10.0, np.empty(n, np.int64),
                        np.zeros(len(blocks), np.int64))
    assert_same_network_refs(got, want)
    assert 0 < len(want) < np.count_nonzero(role == ROLE_NONE)


@pytest.mark.parametrize("seed", SEEDS_network_refs)
def test_live_counts(seed):
    rng = np.random.default_rng(seed)
    n = 300
    a, b, s, m, h, ms = random_ties(rng, n, 4000, 10, 500)
    region = rng.integers(0, 7, n).astype(np.int8)
    deg = np.zeros(n, dtype=np.int64)
    net._count_live(a, s, deg)
    net._count_live(b, s, deg)
    assert_same_network_refs(deg, np.bincount(a[s > 0], minlength=n) + np.bincount(b[s > 0], minlength=n))  # Network._form
    assert_same_network_refs(net._degrees(a, b, s, n), deg.astype(np.int32))
    mpart = np.zeros(10, dtype=np.int64)
    net._count_live(m, ms, mpart)
    assert_same_network_refs(mpart, np.bincount(m[ms > 0], minlength=10))
    ties = np.zeros(7)
    net._count_live_by_region(region, a, s, ties)
    net._count_live_by_region(region, h, ms, ties)
    want = np.bincount(region[a[s > 0]], minlength=7).astype(float)  # Network._refresh
    want += np.bincount(region[h[ms > 0]], minlength=7)
    assert_same_network_refs(ties, want)


@pytest.mark.parametrize(("seed", "weeks"), cases())
@pytest.mark.parametrize("block", [None, 97])
def test_members_and_formers(seed, weeks, threads, block):
    rng = np.random.default_rng(seed)
    n, r, target, tie_form = 3000, 5, 4, 0.1 + rng.random()
    region, role, _, _, _ = households(rng, n, r)
    detained = np.where(rng.random(n) < 0.1, rng.integers(1, 50, n), 0).astype(np.int16)
    deg = rng.integers(0, 8, n)
    u = rng.random(n, dtype=F32)
    access = np.exp(-rng.random(r) * 3)
    free = detained == 0
    blocks = blocks_of(region, r, block)
    got_part, got_partners = net._members(blocks, role, detained, np.empty(n, np.int64), np.empty(n, np.int64),
                                          np.zeros((len(blocks), 2), np.int64))
    for members, got in (((role != ROLE_NONE) & free, got_part), ((role == ROLE_PARTNER) & free, got_partners)):
        members = np.flatnonzero(members)  # Network._form
        p = 1.0 - pw(1.0 - np.minimum(tie_form * access[region[members]], 1.0), weeks)
        formers = members[(deg[members] < target) & (u[members] < p)]
        assert_same_network_refs(got, members)
        p_r = 1.0 - pw(1.0 - np.minimum(tie_form * access, 1.0), weeks)  # by province, as the module passes it
        assert_same_network_refs(net._formers(got, deg, target, u, region, p_r), formers)
        assert 0 < len(formers) < len(members)


@pytest.mark.parametrize("seed", SEEDS_network_refs)
@pytest.mark.parametrize("block", [None, 97])
def test_smooth_and_count(seed, threads, block):
    rng = np.random.default_rng(seed)
    n, r = 4000, 6
    region, role, _, _, pe = households(rng, n, r)
    income = rng.normal(2.0, 5.0, n).astype(F32)
    smoothing = 0.1 + 0.5 * rng.random()
    want_pe = pe.copy()
    want_pe += (income - want_pe) * F32(smoothing)
    blocks = blocks_of(region, r, block)
    part_b, part_r = np.full((len(blocks), 1), -1.0), np.full((r, 1), -1.0)
    got_pe = pe.copy()
    net._smooth_and_count(blocks, role, income, got_pe, F32(smoothing), part_b)
    reduce_blocks(part_b, blocks, part_r)
    assert_same_network_refs(got_pe, want_pe)
    assert_same_network_refs(part_r[:, 0], np.bincount(region, weights=role != ROLE_NONE, minlength=r))


def ref_pick_in_region(region, cand, formers, weights, draws, r):  # Network._pick_in_region
    if not len(formers) or not len(cand):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(region[cand], kind="stable")
    cs, ws = cand[order], weights[order]
    creg = region[cs]
    start = np.searchsorted(creg, np.arange(r), side="left")
    stop = np.searchsorted(creg, np.arange(r), side="right")
    cum = np.cumsum(ws)
    base = np.concatenate([[0.0], cum])
    freg = region[formers]
    lo, hi = start[freg], stop[freg]
    ok = hi > lo
    f, lo, hi, d = formers[ok], lo[ok], hi[ok], draws[ok]
    target = base[lo] + d * (base[hi] - base[lo])
    j = np.clip(np.searchsorted(cum, target, side="right"), lo, hi - 1)
    dst = cs[j]
    keep = dst != f
    return f[keep], dst[keep]


@pytest.mark.parametrize("seed", SEEDS_network_refs)
def test_pick_in_region(seed):
    rng = np.random.default_rng(seed)
    n, r = 3000, 6
    region = (np.sort if seed % 2 else np.asarray)(rng.integers(0, r - 1, n)).astype(np.int8)  # province 5 empty
    cand = np.flatnonzero(rng.random(n) < 0.4)
    if seed == 0:
        cand = cand[region[cand] != 2]  # formers of province 2 find no candidate
    formers = cand[rng.random(len(cand)) < 0.3]
    formers = np.concatenate([formers, np.flatnonzero(region == 2)[:5]])
    formers.sort()
    weights = 1.0 + (rng.random() * 2) * rng.integers(0, 6, len(cand))
    weights[rng.random(len(cand)) < 0.1] *= 1e-9  # wide range: rounding in the cumulative sums
    draws = rng.random(len(formers), dtype=F32)
    draws[:3] = [0.0, np.nextafter(F32(1), F32(0)), 0.5]
    got, want = net._pick_in_region(region, cand, formers, weights, draws, r), ref_pick_in_region(region, cand, formers, weights, draws, r)
    assert_same_network_refs(got[0], want[0])
    assert_same_network_refs(got[1], want[1])
    assert len(want[0]) > 10
    empty = net._pick_in_region(region, cand[:0], formers, weights[:0], draws, r)
    assert len(empty[0]) == len(empty[1]) == 0
    # integer weights and draws of k/8: targets fall exactly on cumulative weights (searchsorted "right" matters)
    weights = 1.0 + rng.integers(0, 3, len(cand)).astype(float)
    draws = (rng.integers(0, 8, len(formers)) / 8).astype(F32)
    got, want = net._pick_in_region(region, cand, formers, weights, draws, r), ref_pick_in_region(region, cand, formers, weights, draws, r)
    assert_same_network_refs(got[0], want[0])
    assert_same_network_refs(got[1], want[1])


@pytest.mark.parametrize(("seed", "weeks"), cases())
def test_strength_factors(seed, weeks, threads):
    """The remembered powers equal NumPy's, also when strengths share a slot of the table (5000 values, 4096 slots)
    and over several chunks of ties (each with its table)."""
    rng = np.random.default_rng(seed)
    pool = np.concatenate([strengths(rng, 5000), [np.nan, -0.0, 0.0, 1.0]]).astype(F32)
    s = pool[rng.integers(0, len(pool), 20000 if seed % 2 else 2 * net.FACTOR_CHUNK + 123)]
    rate = 0.02 if seed % 2 else rng.random()
    f = np.empty(len(s), dtype=F32)
    net._strength_factors(s, F32(weeks), F32(rate), f)
    assert_same_network_refs(f, 1.0 - pw(1.0 - rate * s, weeks))  # Network._knowhow


def test_kept_tie_counts_equal_a_recount():
    """The live ties kept across months by household and by province (dropped ties leave, added ones join) equal
    a count over all ties."""

    from hamji.sim import Sim

    mine = [m for m in PLAN if m.name in ("wholesale", "distribution", "retail", "network", "population")]
    sim = Sim(seed=3, scale=2000, start=dt.date(2000, 1, 3), end=dt.date(2002, 12, 30), modules=mine)
    sim.initialize()
    nw = next(m for m in sim.modules if m.name == "network")
    dropped = added = 0
    while sim.week + 1 < sim.n_weeks:
        before = nw.nk.s[:nw.nk.hw] > 0
        sim.step()
        nk = nw.nk
        now = nk.s[:nk.hw] > 0
        dropped += np.count_nonzero(before & ~now[:len(before)])
        added += np.count_nonzero(now[len(before):]) + np.count_nonzero(~before & now[:len(before)])
        hh = sim.people.households
        assert_same_network_refs(nw._deg, net._degrees(nk.a[:nk.hw], nk.b[:nk.hw], nk.s[:nk.hw], hh.n))
        live = nk.s[:nk.hw] > 0
        assert_same_network_refs(nw._ties_nk, np.bincount(hh.region[nk.a[:nk.hw][live]], minlength=sim.world.n_regions).astype(float))
    assert dropped > 50 and added > 100, (dropped, added)  # both paths taken many times


#: How far NumPy's ``power`` may be from the kernels' ``pow``, in units in the last place: each is within about
#: one unit of the exact power (the C library's ``powf`` and ``pow``; NumPy's AVX-512 code, 1 ULP by Intel's
#: documentation), so they are within two of each other on any CPU.
POW_ULP = 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weeks", WEEKS)
def test_numpy_power_is_within_two_ulp_of_the_kernels_pow(dtype, weeks):
    """The bound that the references' use of :func:`pw` rests on: the model, which calls NumPy's ``power`` outside
    the kernels, differs across CPUs by at most this much in each power (README, "Reproducibility")."""
    rng = np.random.default_rng(weeks)
    x = np.concatenate([rng.random(20000), 1.0 - rng.random(2000) * 1e-6, rng.random(2000) * 1e-6, [0.0, 1.0]])
    x = x.astype(dtype)
    ours, numpy_s = pw(x, weeks), x ** weeks
    ulp = np.abs(ours.astype(np.float64) - numpy_s.astype(np.float64)) / np.spacing(np.abs(numpy_s)).astype(np.float64)
    assert np.all(np.isfinite(ours)) and np.all(ours >= 0)
    assert ulp.max() <= POW_ULP, f"{np.count_nonzero(ulp > POW_ULP)} of {len(x)} powers differ by more than {POW_ULP} ULP"


def test_network_ties_and_knowhow_spread_near_the_border(base):
    ts = trade_state(base)
    assert ts.mp.count() > 0 and ts.nk.count() > 0
    assert base.people.merchants.partners.sum() > 0
    ties_hamji = series(base, "ties", "HamJi")
    assert ties_hamji[-1] > 0
    # merchants' know-how reaches households along ties: more near the border than far from it
    hh, w = base.people.households, base.world
    kn = hh.knowhow[np.isin(hh.region, w.groups["HamJi"])].mean()
    kn_far = hh.knowhow[hh.region == w.index["South Hwanghae"]].mean()
    assert kn > 0.02 and kn > kn_far


def test_roles_change_and_participation_is_higher_near_the_border():
    sim = Sim(seed=1, scale=SCALE, start=ONE_YEAR[0], end=ONE_YEAR[1], modules=MINE)
    sim.initialize()
    start = sim.people.households.role.copy()
    sim.run()
    end = sim.people.households.role
    assert (start != end).sum() > 0.01 * len(end)
    assert ((start == 0) & (end > 0)).any() and ((start > 0) & (end == 0)).any()
    assert series(sim, "participants_share", "HamJi")[-1] > series(sim, "participants_share", "Rest of DPRK")[-1]
