"""Helpers shared by the tests of several files (formerly in tests/test_network_kernels.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from hamji.kernels import npow

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
