"""The crossings' weekly room: the compiled allocation gives what the plain Python rule gives, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from hamji.market import Borders


class _Borders(Borders):
    def __init__(self, capacity: np.ndarray, multiplier: np.ndarray, open_share: float, scale: int) -> None:
        self.capacity_t_year = capacity
        self.multiplier = multiplier
        self.open_share = open_share
        self.scale = scale
        self.used_t = np.zeros(len(capacity))


def reference_through(b: Borders, tonnes: np.ndarray, crossings_of: dict[int, np.ndarray]) -> np.ndarray:
    """The rule as it was written in Python: split by room, grant per crossing, the same fraction to every province."""
    req: dict[int, float] = {}
    parts = []
    room_all = b.room_t(np.arange(len(b.used_t)))
    for i in np.flatnonzero(tonnes > 0):
        cs = crossings_of[int(i)]
        room = room_all[cs]
        w = room / room.sum() if room.sum() > 0 else np.full(len(cs), 1.0 / len(cs))
        for c, share in zip(cs, w):
            t = float(tonnes[i] * share)
            req[int(c)] = req.get(int(c), 0.0) + t
            parts.append((int(i), int(c), t))
    ratio = {}
    for c, t in req.items():
        room = float(np.maximum(b.capacity_t_year * b.multiplier * b.open_share / 52.0 / b.scale - b.used_t, 0.0)[c])
        granted = float(min(max(t, 0.0), room))
        b.used_t[c] += granted
        ratio[c] = granted / t if t > 0 else 0.0
    granted_i = np.zeros(len(tonnes))
    for i, c, t in parts:
        granted_i[i] += t * ratio[c]
    return np.where(tonnes > 0, granted_i / np.where(tonnes > 0, tonnes, 1.0), 0.0)


@pytest.mark.parametrize("seed", range(40))
def test_through_equals_the_python_rule_and_uses_the_same_room(seed):
    rng = np.random.default_rng(seed)
    n_x, n_r = int(rng.integers(1, 12)), int(rng.integers(1, 15))
    cap = rng.uniform(0, 5e5, n_x) * (rng.random(n_x) > 0.2)  # some crossings closed
    mult = rng.uniform(0.2, 3.0, n_x)
    crossings_of = {i: np.sort(rng.choice(n_x, int(rng.integers(1, min(n_x, 4) + 1)), replace=False)) for i in range(n_r)}
    starts = np.concatenate([[0], np.cumsum([len(crossings_of[i]) for i in range(n_r)])]).astype(np.int64)
    ids = np.concatenate([crossings_of[i] for i in range(n_r)]).astype(np.int64)
    a, b = _Borders(cap, mult, 0.7, 1000), _Borders(cap, mult, 0.7, 1000)
    for _ in range(3):  # the room left by one call is what the next one finds
        tonnes = rng.uniform(0, 40, n_r) * (rng.random(n_r) > 0.3)
        want = reference_through(a, tonnes, crossings_of)
        got = b.through(tonnes, starts, ids)
        assert np.array_equal(got, want) and np.array_equal(a.used_t, b.used_t)
        asked = rng.uniform(0, 20, n_x) * (rng.random(n_x) > 0.4)
        each = b.allocate_each(asked)
        for x in range(n_x):
            assert each[x] == (a.allocate(x, float(asked[x])) if asked[x] > 0 else 0.0)
        assert np.array_equal(a.used_t, b.used_t)


def test_pairwise_sum_is_numpys_sum_bit_for_bit():
    from hamji.kernels import pairwise_sum

    rng = np.random.default_rng(3)
    for n in [*range(0, 300), 1000, 4097]:
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)
        assert pairwise_sum(a, 0, n) == a.sum()
        if n > 3:
            assert pairwise_sum(a, 2, n - 3) == a[2:n - 1].sum()
