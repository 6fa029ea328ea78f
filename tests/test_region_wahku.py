"""Wah-ku's compiled week against the NumPy formulas it replaced, to the bit (hamji.modules.wahku).

Each reference below is written in plain NumPy from the kernel's docstring: sums by home province as
``np.bincount`` adds them (in company order), totals as ``np.sum`` adds them.
"""

from __future__ import annotations

import numpy as np
import pytest

from hamji.modules.wahku import Forgers, _detect, _hazard_exponent, _quota_left

R = 15  # provinces


def companies(seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "forged_ratio": np.where(rng.random(n) < 0.6, rng.random(n) * 0.5, 0.0).astype(np.float32),
        "detected": rng.random(n) < 0.2,
        "detections": rng.integers(0, 4, n).astype(np.int16),
        "forged": rng.random((6, n)) * 100.0,
        "forged_value": rng.random(n) * 5e4,
        "cash": rng.random(n) * 1e5,
        "revenue": rng.random(n) * 6e4,
        "home": rng.integers(0, R, n).astype(np.int8),
        "u": rng.random(n),
        "escape": np.exp(-rng.random(n) * 0.3),
    }


def ref_detect(c: dict, fine_multiple: float, bribe_share: float, officials: np.ndarray):
    """The NumPy week: who is caught, what they pay, where it goes, and the province tallies."""
    hit = (c["u"] < 1.0 - c["escape"]) & ~c["detected"] & (c["forged_ratio"] > 0)
    out = np.zeros((4, R))
    home = c["home"].astype(np.int64)
    if hit.any():
        free_cash = np.maximum(c["cash"] - c["revenue"], 0.0)
        penalty = np.where(hit, np.minimum(fine_multiple * c["forged_value"], free_cash), 0.0)
        c["cash"] -= penalty
        bribe = penalty * bribe_share
        out[2] = np.bincount(home, weights=bribe, minlength=R)
        out[1] = np.bincount(home, weights=penalty - bribe, minlength=R)
        officials += out[2]
        c["forged"][:, hit] = 0.0
        c["forged_ratio"][hit] = 0.0
        c["detected"][hit] = True
        c["detections"][hit] += 1
    penalties = out[2].sum() + out[1].sum()
    out[0] = np.bincount(home, weights=hit.astype(np.float64), minlength=R)
    n_home = np.bincount(home, minlength=R)
    ratio_sum = np.bincount(home, weights=c["forged_ratio"].astype(np.float64), minlength=R)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[3] = np.where(n_home > 0, ratio_sum / np.maximum(n_home, 1), np.nan)
    return bool(hit.any()), penalties, out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [1, 7, 300])
def test_detection_equals_numpy(seed: int, n: int) -> None:
    ours, ref = companies(seed, n), companies(seed, n)
    officials_ours, officials_ref = np.arange(R, dtype=float), np.arange(R, dtype=float)
    out_r = np.full((4, R), 7.0)  # the kernel zeroes it
    fine, share = 1.5 + seed * 0.25, 0.1 * (seed % 4)
    forgers = Forgers(*(ours[k] for k in Forgers._fields))
    hit, penalties = _detect(ours["escape"], ours["u"], forgers, fine, share, officials_ours, out_r)
    hit_ref, penalties_ref, out_ref = ref_detect(ref, fine, share, officials_ref)
    assert hit == hit_ref and penalties == penalties_ref
    np.testing.assert_array_equal(out_r, out_ref)
    np.testing.assert_array_equal(officials_ours, officials_ref)
    for k in ours:
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)


def test_detection_catches_someone_in_the_cases_above() -> None:
    """The cases are not vacuous: some seeds catch forgers, so the penalty branch is compared too."""
    caught = sum(ref_detect(companies(seed, 300), 2.0, 0.2, np.zeros(R))[0] for seed in range(8))
    assert caught >= 6


@pytest.mark.parametrize("seed", range(5))
def test_hazard_exponent_and_quota_left_equal_numpy(seed: int) -> None:
    c = companies(seed, 200)
    h, weeks = 0.3 + seed, 52.0
    got = np.empty(200)
    _hazard_exponent(c["forged_ratio"], h, weeks, got)
    np.testing.assert_array_equal(got, -h * c["forged_ratio"].astype(np.float64) / weeks)
    rng = np.random.default_rng(seed)
    real, forged = rng.random(200) * 1e4, rng.random(200) * 1e3
    left = np.full(R, 3.0)
    totals = _quota_left(real, forged, c["home"], left)
    np.testing.assert_array_equal(left, np.bincount(c["home"].astype(np.int64), weights=real + forged, minlength=R))
    assert totals == (real.sum(), forged.sum())
