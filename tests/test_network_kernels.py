"""The trade network's Numba kernels equal, bit for bit, the NumPy formulas they replaced.

Each reference below is the NumPy code the kernel replaced (float32 arrays with Python scalars, as
NumPy computes them under NEP 50; sums as ``np.bincount`` adds them). Inputs are small random arrays
with the awkward cases mixed in: free slots (strength 0), values at the loss line and the minimum
strength, idle ties, and weeks of 1 and 2 (NumPy's ``x ** 2`` squares instead of calling ``pow``).

Exact equality is asserted only where both sides do the same IEEE operations in the same order. The one
transcendental function, ``x ** weeks``, is not NumPy's in the references: NumPy picks its ``power`` code
by CPU (its AVX-512 code differs from the C library's ``pow`` in the last bits), so the references raise to
a power with :func:`pw`, the kernels' own ``pow``, and test the kernels' logic. How far NumPy's ``power``
may be from that ``pow`` is a separate test with a stated bound in units in the last place
(:func:`test_numpy_power_is_within_two_ulp_of_the_kernels_pow`).
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from hamji.kernels import household_blocks, npow, province_bounds, reduce_blocks
from hamji.modules import network as net
from hamji.parameters import Parameters
from hamji.people import ROLE_NONE, ROLE_PARTNER, ROLES
from hamji.ties import Ties

SEEDS = range(6)
WEEKS = (1, 2, 3, 4, 13)
F32 = np.float32


def cases():
    return [(seed, w) for seed in SEEDS for w in WEEKS]


def strengths(rng: np.random.Generator, m: int) -> np.ndarray:
    """Tie strengths in [0, 1] with free slots (0), values at 0.02 (the default minimum) and 1, and tiny ones."""
    s = rng.random(m).astype(F32)
    s[rng.random(m) < 0.2] = 0.0
    s[rng.random(m) < 0.05] = F32(0.02)
    s[rng.random(m) < 0.05] = F32(1.0)
    tiny = rng.random(m) < 0.3  # magnitudes over 12 decades, so that float64 sums round and their order matters
    s[tiny] *= (10.0 ** -rng.uniform(0, 12, np.count_nonzero(tiny))).astype(F32)
    return s


@njit(cache=True)
def _pow_each(x, w, out):
    for i in range(len(x)):
        out[i] = npow(x[i], w)


def pw(x, weeks) -> np.ndarray:
    """``x ** weeks`` element by element as the kernels compute it (``x``'s dtype kept, as NumPy would)."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _pow_each(x.ravel(), x.dtype.type(weeks), out.ravel())
    return out


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    assert np.array_equal(a, b, equal_nan=True), f"{np.count_nonzero(a != b)} of {a.size} differ"


# -- references: the NumPy code each kernel replaced -----------------------------------------------
@np.errstate(invalid="ignore")
def ref_update(s, vol, weeks, gain, half, decay, s_min):  # Ties.update
    v = vol / weeks
    on = s > 0
    grown = 1.0 - (1.0 - s) * pw(1.0 - gain * v / (v + half), weeks)
    decayed = s * (1.0 - decay) ** weeks
    new = np.where(v > 0, grown, decayed)
    return np.where(on & (new >= s_min), new, 0.0)


def ref_nk_volumes(a, b, pe, weeks, line):  # Network._update (volumes of the ties among North Koreans)
    v = np.minimum(pe[a], pe[b])
    return np.where(v >= line, v * weeks, 0.0)


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


def ref_strengths(n, a, b, s, h, ms):  # Network._strengths
    tot = np.bincount(a, weights=s, minlength=n) + np.bincount(b, weights=s, minlength=n)
    tot += np.bincount(h, weights=ms, minlength=n)
    out = np.zeros(n, dtype=F32)
    out[:] = tot
    return out


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


def ref_entrants(role, free, cash, fx, region, v, p_r, capital):  # Network._roles
    cand = np.flatnonzero((role == ROLE_NONE) & free)
    cf = np.minimum(1.0, (cash[cand] + fx[cand]) / capital)
    return cand[v[cand] < p_r[region[cand]] * cf]


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


def pars_record(r: int, **values) -> net.NetworkPars:
    """The network's parameter record of the default parameters (``r`` provinces), with ``values`` in its place."""
    return net.NetworkPars.of(Parameters(), np.linspace(0.0, 400.0, r))._replace(**values)


def exits(role, cash, fx, pe, ties, u, weeks, line, exit_capital, base, loss_extra, tie_effect, region=None, r=5,
          block=None):
    """net._exits on a copy of ``role``: (roles after, summed incomes and counts of those who stay)."""
    role = role.copy()
    region = np.zeros(len(role), dtype=np.int8) if region is None else region
    blocks = blocks_of(region, r, block)
    inc_b, cnt_b = np.zeros((len(blocks), len(ROLES))), np.zeros((len(blocks), len(ROLES)), dtype=np.int64)
    inc, cnt = np.zeros((r, len(ROLES))), np.zeros((r, len(ROLES)), dtype=np.int64)
    hh = net.Households(role, region, np.zeros(len(role), np.int8), cash, fx, pe, ties)
    p = pars_record(r, update_weeks=float(weeks), loss_income_usd=F32(line), exit_capital_usd=exit_capital,
                    exit_base=base, exit_loss=loss_extra, tie_exit_effect=F32(tie_effect))
    net._exits(blocks, hh, u, p, net.RoleSums(inc_b, cnt_b, inc, cnt))
    reduce_blocks(inc_b, blocks, inc)
    reduce_blocks(cnt_b, blocks, cnt)
    return role, inc, cnt


def random_ties(rng: np.random.Generator, n: int, m: int, n_mer: int, m_mp: int):
    """Ties among ``n`` households and from ``n_mer`` merchants (a few households with many ties, as by referral)."""
    hub = rng.integers(0, n, 5)

    def ends(k: int) -> np.ndarray:
        return np.where(rng.random(k) < 0.3, hub[rng.integers(0, 5, k)], rng.integers(0, n, k)).astype(np.int32)

    s = strengths(rng, m)
    s = s[np.maximum.accumulate(np.where(rng.random(m) < 0.5, 0, np.arange(m)))]  # runs of equal strengths
    return ends(m), ends(m), s, rng.integers(0, n_mer, m_mp).astype(np.int32), ends(m_mp), strengths(rng, m_mp)


# -- tests -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("seed", "weeks"), cases())
def test_update_ties(seed, weeks):
    rng = np.random.default_rng(seed)
    m = 5000
    gain, half, decay, s_min = 0.05 + 0.5 * rng.random(), 1.0 + 50 * rng.random(), 0.2 * rng.random(), 0.02
    if seed % 3 == 0:  # no decay: idle ties at float32(0.02) stay at the minimum (kept in float32, dropped in float64)
        decay = 0.0
    s = strengths(rng, m)
    vol = (rng.random(m) * 100).astype(F32)
    vol[rng.random(m) < 0.4] = 0.0
    vol[rng.random(m) < 0.01] = np.inf  # gives NaN (dropped), also at s = 1 where the power is otherwise skipped
    want = ref_update(s.copy(), vol.copy(), weeks, gain, half, decay, s_min)
    t = Ties(m)
    t.add(np.zeros(m, dtype=np.int32), np.ones(m, dtype=np.int32), 0.5)
    t.s[:m], t.vol[:m] = s, vol
    t.update(weeks, gain, half, decay, s_min)
    assert_same(t.s[:m], want)
    assert not t.vol.any()
    assert 0 < np.count_nonzero(want) < m  # some ties survive, some are dropped


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
    p = pars_record(4, update_weeks_f32=F32(weeks), loss_income_usd=F32(line), tie_gain=F32(gain), tie_half_usd=F32(half),
                    tie_kept=F32((1.0 - decay) ** weeks), tie_min=F32(s_min))
    net._update_nk_ties(a, b, got, vol, hh, p, net.TieCounts(deg, ties_r))
    assert_same(got, want)
    assert_same(deg, want_deg.astype(np.int32))
    assert_same(ties_r, np.bincount(region[a[want > 0]], minlength=4).astype(float))  # Network._refresh
    assert not vol.any()


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
    assert_same(got, want)
    assert np.count_nonzero(want != k) > (n // 10 if len(a) or len(m) else -1)  # know-how moved (if any ties)


@pytest.mark.parametrize("seed", SEEDS)
def test_strength_sums(seed, threads):
    rng = np.random.default_rng(seed)
    n = 300
    a, b, s, _, h, ms = random_ties(rng, n, 5000, 10, 700 if seed else 0)
    got = np.full(n, -1.0, dtype=F32)
    net._strength_sums(a, b, s, h, ms, got)
    assert_same(got, ref_strengths(n, a, b, s, h, ms))


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
    assert_same(got, ref_strengths(n, a, b, s, h, ms))
    assert got[0] == F32(want)
    # know-how: household 0 (k = 0) gains k of the other end of each tie
    k = np.array([0.0] + [x / 4 for x in terms], dtype=F32)
    ones = np.ones(len(a), dtype=F32)
    m, mer_k = np.arange(len(im), dtype=np.int32), k[other[im]]
    want_k = ref_knowhow(k.copy(), a, b, ones, m, h, np.ones(len(im), F32), mer_k, 1, 1.0)
    got = k.copy()
    net._knowhow_flow(got, a, b, ones, m, h, np.ones(len(im), F32), mer_k, F32(1), F32(1.0))
    assert_same(got, want_k)
    assert got[0] == F32(want / 4)


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
    assert_same(got, want)
    small = exits(role, cash, fx, pe, ties, u, weeks, *pars, region=region, block=97)  # several blocks a province
    assert_same(small[0], want)
    assert_same(small[2], cnt)
    assert 0 < np.count_nonzero(got != role) < np.count_nonzero(role)
    want_inc, want_cnt = ref_role_sums(region, want, pe, 5)  # Network._roles, after the exits
    assert_same(inc, want_inc)
    assert_same(cnt, want_cnt)


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
    assert_same(got, np.minimum(p, 1.0))
    # draws just below, at and just above the chance: the shortcut (u above w p) must not decide any of them
    chance = 1.0 - pw(1.0 - np.minimum(p, 1.0), weeks)
    at = chance.astype(F32)
    u = np.concatenate([np.nextafter(at, F32(0)), at, np.nextafter(at, F32(1))])
    role = np.full(3 * m, ROLE_PARTNER, dtype=np.int8)
    cash = np.where(np.tile(loss, 3), 0.0, 100.0)
    got, _, _ = exits(role, cash, cash, np.full(3 * m, 5.0, F32), np.tile(ties, 3), u, weeks, 1.0, 2.0, base,
                      loss_extra, tie_effect)
    assert_same(got, ref_exits(role.copy(), cash, cash, np.full(3 * m, 5.0, F32), np.tile(ties, 3), u, weeks, 1.0,
                               2.0, base, loss_extra, tie_effect))
    assert 0 < np.count_nonzero(got == ROLE_NONE) < 3 * m


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
    assert_same(got, want)
    assert 0 < len(want) < np.count_nonzero(role == ROLE_NONE)


@pytest.mark.parametrize("seed", SEEDS)
def test_live_counts(seed):
    rng = np.random.default_rng(seed)
    n = 300
    a, b, s, m, h, ms = random_ties(rng, n, 4000, 10, 500)
    region = rng.integers(0, 7, n).astype(np.int8)
    deg = np.zeros(n, dtype=np.int64)
    net._count_live(a, s, deg)
    net._count_live(b, s, deg)
    assert_same(deg, np.bincount(a[s > 0], minlength=n) + np.bincount(b[s > 0], minlength=n))  # Network._form
    assert_same(net._degrees(a, b, s, n), deg.astype(np.int32))
    mpart = np.zeros(10, dtype=np.int64)
    net._count_live(m, ms, mpart)
    assert_same(mpart, np.bincount(m[ms > 0], minlength=10))
    ties = np.zeros(7)
    net._count_live_by_region(region, a, s, ties)
    net._count_live_by_region(region, h, ms, ties)
    want = np.bincount(region[a[s > 0]], minlength=7).astype(float)  # Network._refresh
    want += np.bincount(region[h[ms > 0]], minlength=7)
    assert_same(ties, want)


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
        assert_same(got, members)
        p_r = 1.0 - pw(1.0 - np.minimum(tie_form * access, 1.0), weeks)  # by province, as the module passes it
        assert_same(net._formers(got, deg, target, u, region, p_r), formers)
        assert 0 < len(formers) < len(members)


@pytest.mark.parametrize("seed", SEEDS)
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
    assert_same(got_pe, want_pe)
    assert_same(part_r[:, 0], np.bincount(region, weights=role != ROLE_NONE, minlength=r))


@pytest.mark.parametrize("seed", SEEDS)
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
    assert_same(got[0], want[0])
    assert_same(got[1], want[1])
    assert len(want[0]) > 10
    empty = net._pick_in_region(region, cand[:0], formers, weights[:0], draws, r)
    assert len(empty[0]) == len(empty[1]) == 0
    # integer weights and draws of k/8: targets fall exactly on cumulative weights (searchsorted "right" matters)
    weights = 1.0 + rng.integers(0, 3, len(cand)).astype(float)
    draws = (rng.integers(0, 8, len(formers)) / 8).astype(F32)
    got, want = net._pick_in_region(region, cand, formers, weights, draws, r), ref_pick_in_region(region, cand, formers, weights, draws, r)
    assert_same(got[0], want[0])
    assert_same(got[1], want[1])


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
    assert_same(f, 1.0 - pw(1.0 - rate * s, weeks))  # Network._knowhow


def test_kept_tie_counts_equal_a_recount():
    """The live ties kept across months by household and by province (dropped ties leave, added ones join) equal
    a count over all ties."""
    import datetime as dt

    from hamji.modules import PLAN
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
        assert_same(nw._deg, net._degrees(nk.a[:nk.hw], nk.b[:nk.hw], nk.s[:nk.hw], hh.n))
        live = nk.s[:nk.hw] > 0
        assert_same(nw._ties_nk, np.bincount(hh.region[nk.a[:nk.hw][live]], minlength=sim.world.n_regions).astype(float))
    assert dropped > 100 and added > 100, (dropped, added)


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
