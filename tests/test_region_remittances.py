"""Remittances' compiled week against the NumPy formulas it replaced, to the bit (hamji.modules.remittances).

The references are plain NumPy written from the kernels' docstrings: scatter-adds with ``np.add.at`` (sequential,
in sender order, kin first, then colleagues), totals as ``np.sum`` adds them.
"""

from __future__ import annotations

import numpy as np
import pytest

from hamji.modules.remittances import Receivers, RemittancePars, Senders, _jilin_week, _transfers

R = 15  # provinces


def world(seed: int, n_def: int, n_hh: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    kin = np.where(rng.random(n_def) < 0.7, rng.integers(0, n_hh, n_def), -1).astype(np.int32)
    colleague = np.where(rng.random(n_def) < 0.3, rng.integers(0, n_hh, n_def), -1).astype(np.int32)
    return {
        "u": rng.random((2, n_def)),
        "habit": np.where(rng.random(n_def) < 0.8, rng.random(n_def) * 3000.0, 0.0).astype(np.float32),
        "kin": kin, "colleague": colleague,
        "origin": rng.integers(0, R, n_def).astype(np.int8),
        "hh_region": np.sort(rng.integers(0, R, n_hh)).astype(np.int8),
        "fx": rng.random(n_hh) * 100.0,
        "income": (rng.random(n_hh) * 10.0).astype(np.float32),
    }


def ref_transfers(w: dict, p_send, per_year, fee_share, loss_share, loss_prob, colleague_share, out):
    idx = np.flatnonzero((w["u"][0] < p_send) & (w["habit"] > 0))
    g = w["habit"][idx].astype(np.float64) / per_year
    fee = g * fee_share
    lost = (g - fee) * loss_share * (w["u"][1, idx] < loss_prob)
    net = g - fee - lost
    share = np.where(w["colleague"][idx] >= 0, np.where(w["kin"][idx] >= 0, colleague_share, 1.0), 0.0)
    to_colleague = share * net
    to_kin = net - to_colleague
    for recipients, amount in ((w["kin"], to_kin), (w["colleague"], to_colleague)):
        h = recipients[idx]
        ok = (h >= 0) & (amount > 0)
        np.add.at(w["fx"], h[ok], amount[ok])
        np.add.at(w["income"], h[ok], amount[ok].astype(np.float32))
        np.add.at(out[0], w["hh_region"][h[ok]].astype(np.int64), amount[ok])
    np.add.at(out[1], w["origin"][idx].astype(np.int64), g)
    np.add.at(out[2], w["origin"][idx].astype(np.int64), fee + lost)
    return len(idx), g.sum(), (fee + lost).sum()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_def", [0, 1, 40, 2000])
def test_transfers_equal_numpy(seed: int, n_def: int) -> None:
    ours, ref = world(seed, n_def, 500), world(seed, n_def, 500)
    args = (0.2 + 0.1 * seed, 12.0, 0.1 + 0.02 * seed, 0.5, 0.3, 0.4)
    out_ours, out_ref = np.zeros((5, R)), np.zeros((5, R))
    p = RemittancePars(*args[1:], capital_share=0.0, spending_rate=0.0)
    senders = Senders(ours["habit"], ours["kin"], ours["colleague"], ours["origin"])
    got = _transfers(ours["u"], args[0], senders, p, Receivers(ours["hh_region"], ours["fx"], ours["income"]), out_ours)
    want = ref_transfers(ref, *args, out_ref)
    assert got == want
    np.testing.assert_array_equal(out_ours, out_ref)
    for k in ("fx", "income"):
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)
    if n_def >= 40:
        assert got[0] > 0  # the case is not vacuous


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("y", [-1, 0, 3])
def test_jilin_week_equals_numpy(seed: int, y: int) -> None:
    rng = np.random.default_rng(seed)
    jilin, capital = rng.random(4) * 1e6, rng.random(30) * 1e5
    region = rng.integers(0, 4, 30).astype(np.int8)
    amount, share, rate = 5e5 * (seed + 1), 0.3, 0.05
    j2, c2, out, out_ref = jilin.copy(), capital.copy(), np.zeros((5, 4)), np.zeros((5, 4))
    p = RemittancePars(12.0, 0.1, 0.5, 0.3, 0.4, capital_share=share, spending_rate=rate)
    spend = _jilin_week(jilin, region, capital, y, amount, p, out)
    if y >= 0:  # the reference: Yanbian's workers' money in, a share to its merchants' capital equally
        j2[y] += amount
        out_ref[3, y] += amount
        mine = region == y
        if mine.any():
            invest = amount * share
            j2[y] -= invest
            c2[mine] += invest / mine.sum()
            out_ref[4, y] += invest
    s = j2 * rate
    j2 -= s
    assert spend == s.sum()
    for a, b in ((jilin, j2), (capital, c2), (out, out_ref)):
        np.testing.assert_array_equal(a, b)
