"""The compiled helpers shared by the modules (hamji.kernels): NumPy's sums and ratios, to the bit."""

from __future__ import annotations

import numpy as np
import pytest
from _households import SEEDS, same

from hamji.kernels import colsum, province_bounds, psum, ratio_or, rowsum, share_or


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("default", [0.0, 1.0, 1e6, np.nan])
def test_ratio_or_and_share_or_match_the_numpy_expressions(seed, default):
    """Bit for bit, with zero, negative, tiny, huge, NaN and infinite numerators and denominators."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, -1.0, 1e-300, 5e-324, 1e300, np.inf, -np.inf, np.nan, 1.0])
    num = np.concatenate([rng.lognormal(0, 3, 40) * rng.choice([-1, 1], 40), special, rng.choice(special, 20)])
    den = np.concatenate([rng.lognormal(0, 3, 40) * rng.choice([-1, 1, 1], 40), rng.choice(special, 10),
                          rng.choice(special, 20)])
    with np.errstate(all="ignore"):
        want_ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), default)
        want_share = np.where(den > 0, np.minimum(1.0, num / np.where(den > 0, den, 1.0)), default)
    for got, want in ((ratio_or(num, den, default), want_ratio), (share_or(num, den, default), want_share)):
        assert got.dtype == np.float64
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    assert len(ratio_or(np.zeros(0), np.zeros(0))) == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_compiled_sums_add_in_numpys_order(seed):
    """psum, colsum and rowsum equal ``a.sum()``, ``m.sum(axis=0)`` and ``m.sum(axis=1)`` to the bit (sign of zero
    included) for lengths 0-400, magnitudes over 30 decades and special values: the order of a float64 sum
    changes its last bits, and the compiled region-level steps must not."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, 1e-300, 5e-324, 1e300, np.inf, -np.inf, np.nan])

    def draw(shape):
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-15, 15, shape)
        if a.size and rng.random() < 0.3:
            a.flat[rng.integers(0, a.size, 3)] = rng.choice(special, 3)
        if a.size and rng.random() < 0.1:
            a[...] = -0.0
        return a

    def same(got, want):
        return np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))

    with np.errstate(all="ignore"):
        for n in list(range(0, 140)) + list(rng.integers(140, 400, 30)):
            a = draw(n)
            assert same(psum(a), a.sum()), n
        for _ in range(300):
            m = draw(tuple(rng.integers(0, 40, 2)))
            assert same(colsum(m), m.sum(axis=0)), m.shape
            assert same(rowsum(m), m.sum(axis=1)), m.shape


def test_province_bounds_are_slices_and_refuse_another_order():
    region = np.array([0, 0, 2, 2, 2, 3], dtype=np.int8)
    same(province_bounds(region, 5), [0, 2, 2, 5, 6, 6])
    with pytest.raises(ValueError, match="province order"):
        province_bounds(region[::-1].copy(), 5)
