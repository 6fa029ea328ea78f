"""The trade network's Numba kernels equal, bit for bit, the NumPy formulas they replaced.

Each reference below is the NumPy code the kernel replaced (float32 arrays with Python scalars, as
NumPy computes them under NEP 50; sums as ``np.bincount`` adds them). Inputs are small random arrays
with the awkward cases mixed in: free slots (strength 0), values at the loss line and the minimum
strength, idle ties, and weeks of 1 and 2 (NumPy's ``x ** 2`` squares instead of calling ``pow``).
"""

from __future__ import annotations

import numpy as np
import pytest

from hamji.modules import network as net
from hamji.people import ROLE_NONE, ROLE_PARTNER, ROLES

SEEDS = range(6)
WEEKS = (1, 2, 3, 4, 13)
F32 = np.float32


def cases():
    return [(seed, w) for seed in SEEDS for w in WEEKS]


def strengths(rng: np.random.Generator, m: int) -> np.ndarray:
    """Tie strengths in [0, 1] with free slots (0), values at and near 0.02 (the default minimum) and 1."""
    s = rng.random(m).astype(F32)
    s[rng.random(m) < 0.2] = 0.0
    s[rng.random(m) < 0.05] = F32(0.02)
    s[rng.random(m) < 0.05] = F32(1.0)
    s[rng.random(m) < 0.1] *= F32(0.05)
    return s


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=True), f"{np.count_nonzero(a != b)} of {a.size} differ"


# -- references: the NumPy code each kernel replaced -----------------------------------------------
def ref_update(s, vol, weeks, gain, half, decay, s_min):  # Ties.update
    v = vol / weeks
    on = s > 0
    grown = 1.0 - (1.0 - s) * (1.0 - gain * v / (v + half)) ** weeks
    decayed = s * (1.0 - decay) ** weeks
    new = np.where(v > 0, grown, decayed)
    return np.where(on & (new >= s_min), new, 0.0)


def ref_nk_volumes(a, b, pe, weeks, line):  # Network._update
    v = np.minimum(pe[a], pe[b])
    return np.where(v >= line, v * weeks, 0.0)


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
    want = ref_update(s.copy(), vol.copy(), weeks, gain, half, decay, s_min)
    t = net.Ties(m)
    t.add(np.zeros(m, dtype=np.int32), np.ones(m, dtype=np.int32), 0.5)
    t.s[:m], t.vol[:m] = s, vol
    t.update(weeks, gain, half, decay, s_min)
    assert_same(t.s[:m], want)
    assert not t.vol.any()
    assert 0 < np.count_nonzero(want) < m  # some ties survive, some are dropped


@pytest.mark.parametrize(("seed", "weeks"), cases())
def test_nk_volumes(seed, weeks):
    rng = np.random.default_rng(seed)
    n, m, line = 300, 4000, 1.0 + rng.random()
    pe = (rng.normal(line, 2.0, n)).astype(F32)
    pe[rng.random(n) < 0.1] = F32(line)  # exactly at the line in float32 (above it in float64, or below)
    pe[rng.random(n) < 0.02] = np.nan
    a, b = rng.integers(0, n, m).astype(np.int32), rng.integers(0, n, m).astype(np.int32)
    want = ref_nk_volumes(a, b, pe, weeks, line)
    vol = np.full(m, -1.0, dtype=F32)
    net._nk_volumes(a, b, pe, vol, F32(weeks), F32(line))
    assert_same(vol, want)
    assert 0 < np.count_nonzero(want) < m
