"""Helpers shared by the tests of several files (formerly in tests/test_household_kernels.py)."""

from __future__ import annotations

import numpy as np

from hamji.kernels import household_blocks, province_bounds, reduce_blocks
from hamji.people import ROLES

SEEDS = range(5)


R = 7  # provinces; province 3 has no households


F32 = np.float32


def households(seed: int, n: int = 3000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    region = np.sort(rng.choice([0, 1, 2, 4, 5, 6], n)).astype(np.int8)
    scale = 10.0 ** rng.uniform(-3, 6, n)
    return {
        "region": region,
        "role": rng.integers(0, len(ROLES), n).astype(np.int8),
        "detained": np.where(rng.random(n) < 0.1, rng.integers(1, 5, n), 0).astype(np.int16),
        "cash": rng.random(n) * scale,
        "fx": np.where(rng.random(n) < 0.5, rng.random(n) * scale, 0.0),
        "income": (rng.random(n) * 10).astype(F32),
        "market_income": (rng.normal(0, 5, n)).astype(F32),
        "consumption": (rng.random(n) * 30).astype(F32),
        "food_ratio": (rng.random(n) * 1.6).astype(F32),
        "rural_size": np.where(rng.random(n) < 0.4, rng.integers(1, 7, n), 0).astype(F32),
        "ties_strength": (rng.random(n) * 3 * (rng.random(n) < 0.7)).astype(F32),
        "knowhow": rng.random(n).astype(F32),
    }


def blocks_of(region: np.ndarray, block: int | None) -> np.ndarray:
    return household_blocks(province_bounds(region, R), block)


def block_sums(values: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Sums by province as the blocked passes make them: each block in household order (as ``np.bincount``
    adds), the blocks of a province added in order."""
    values = np.asarray(values, dtype=np.float64)
    part = np.array([[np.bincount(np.zeros(hi - lo, np.intp), weights=values[lo:hi], minlength=1)[0]]
                     for lo, hi, _ in blocks]).reshape(-1, 1)
    out = np.zeros((R, 1))
    reduce_blocks(part, blocks, out)
    return out[:, 0]


def reduced(part: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """A kernel's sums by block, added by province."""
    out = np.zeros((R,) + part.shape[1:], dtype=part.dtype)
    reduce_blocks(part, blocks, out)
    return out


def same(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(a, b, equal_nan=True), f"{np.count_nonzero(a != b)} of {a.size} differ"
