"""Ties between agents (hamji.ties): how strengths grow with trade and decay."""

from __future__ import annotations

import numpy as np
import pytest
from _network_refs import F32, assert_same, cases, ref_update, strengths

from hamji.ties import Ties


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


# -- the trade network ----------------------------------------------------------------------------
def test_ties_strengthen_with_trade_and_decay_when_idle():
    t = Ties(4)
    t.add(np.array([0, 1, 2]), np.array([5, 6, 7]), 0.1)
    t.vol[:3] = [100.0, 0.0, 0.0]
    t.update(4, gain=0.3, half=5.0, decay=0.05, s_min=0.02)
    assert t.s[0] > 0.5 and 0.0 < t.s[1] < 0.1
    for _ in range(30):
        t.update(4, gain=0.3, half=5.0, decay=0.05, s_min=0.02)
    assert t.count() == 0  # idle ties are dropped
    t.add(np.array([3, 4, 5, 6, 7]), np.array([8, 9, 10, 11, 12]), 0.1)  # slots are reused, capacity grows
    assert t.count() == 5
