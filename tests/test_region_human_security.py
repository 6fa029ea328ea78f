"""The human security index's province-level kernels equal, bit for bit, the NumPy code they replaced (issue 18)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hamji.kernels import household_blocks, province_bounds, reduce_blocks
from hamji.modules import human_security as hs
from hamji.modules.enforcement import bribe_prices
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
