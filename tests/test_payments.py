"""Payments to and from households (hamji.payments), against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from _households import F32, SEEDS, R, households, same

from hamji import payments


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("income_share", [1.0, 0.3])
def test_group_payments_match_bincount_and_credit(seed, weighted, income_share):
    h = households(seed)
    rng = np.random.default_rng(100 + seed)
    region = h["region"].astype(np.intp)
    idx = np.flatnonzero(rng.random(len(region)) < 0.3)
    w = (rng.random(len(idx)) * 10.0 ** rng.uniform(-4, 4, len(idx))).astype(F32) if weighted else None
    left = np.where(rng.random(R) < 0.8, rng.random(R) * 1e4, 0.0)
    # reference: share_out's body for one group, and credit()
    reg = region[idx]
    weights = np.ones(len(idx)) if w is None else w.astype(np.float64)
    tot_ref = np.bincount(reg, weights=weights, minlength=R)
    ok = (tot_ref > 0) & (left > 0)
    per = np.where(ok, left / np.where(ok, tot_ref, 1.0), 0.0)
    amt = weights * per[reg]
    sel = amt > 0
    cash, income, mi = h["cash"].copy(), h["income"].copy(), h["market_income"].copy()
    cash[idx[sel]] += amt[sel]
    earned = amt[sel] if income_share == 1.0 else amt[sel] * income_share
    income[idx[sel]] += earned
    mi[idx[sel]] += earned
    # kernels
    tot = np.zeros(R)
    kw = np.ones(0) if w is None else weights
    payments.group_totals(idx, region, kw, tot)
    same(tot, tot_ref)
    c2, i2, m2 = h["cash"].copy(), h["income"].copy(), h["market_income"].copy()
    payments.group_credit(idx, region, kw, per, c2, i2, m2, True, income_share)
    same(c2, cash), same(i2, income), same(m2, mi)
