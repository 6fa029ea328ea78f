"""Ties between agents: undirected edge arrays with spare capacity, and how a tie's strength changes.

The network module keeps two tie sets (merchant - partner ties across the border, and ties among North Korean
facilitators); wholesale credits merchant ties with the partners' orders. A slot with strength 0 is free.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hamji.kernels import npow


@njit(cache=True, inline="always")
def new_strength(s, vol, w, gain, half, decayed, s_min):
    """A tie's strength after ``w`` weeks that carried ``vol`` (float32 throughout, as NumPy with Python scalars).

    With trade it grows, ``1 - (1 - s) (1 - gain v / (v + half)) ** w`` (``v = vol / w``); idle, it is scaled by
    ``decayed`` = ``(1 - decay) ** w``; a free slot or a tie below ``s_min`` gets 0. Most ties that trade are at
    s = 1, where the growth is ``1 - 0 x`` a power in [0, 1], exactly 1: the power is skipped there.
    """
    one, zero = np.float32(1.0), np.float32(0.0)
    v = vol / w
    if v > 0:
        base = one - gain * v / (v + half)
        new = one - (one - s) * (npow(base, w) if s != one or not zero <= base <= one else zero)
    else:
        new = s * decayed
    return new if s > 0 and new >= s_min else zero


@njit(cache=True)
def update_ties(s, vol, w, gain, half, decayed, s_min) -> None:
    """New strengths after ``w`` weeks (:func:`new_strength`); volumes reset."""
    for i in range(len(s)):
        s[i] = new_strength(s[i], vol[i], w, gain, half, decayed, s_min)
        vol[i] = 0.0


@njit(cache=True, error_model="numpy")
def insert_ties(a, b, s, vol, hw, new_a, new_b, strength):
    """Write ties ``(new_a[i], new_b[i])`` with ``strength`` into the free slots below ``hw`` (strength <= 0) in slot
    order, then from ``hw`` up (:meth:`Ties.add`). Returns the new high-water mark, or minus the slots needed if the
    arrays are too short (then nothing is written)."""
    k = len(new_a)
    free = 0
    for i in range(hw):
        if free == k:
            break
        free += s[i] <= 0
    need = hw + (k - free)
    if need > len(s):
        return -need
    slot = 0
    for i in range(k):
        while slot < hw and not s[slot] <= 0:
            slot += 1
        a[slot], b[slot], s[slot], vol[slot] = new_a[i], new_b[i], strength, 0.0
        slot += 1
    return need


_GROWTH_DIVISOR = 4  # tie arrays grow by 1/4 of their length when full (16 bytes a slot, plus 4 of work space)


class Ties:
    """Undirected ties as edge arrays with spare capacity; a slot with strength 0 is free."""

    def __init__(self, capacity: int) -> None:
        capacity = max(int(capacity), 16)
        self.a = np.zeros(capacity, dtype=np.int32)
        self.b = np.zeros(capacity, dtype=np.int32)
        self.s = np.zeros(capacity, dtype=np.float32)  # strength in (0, 1]; 0 = free slot
        self.vol = np.zeros(capacity, dtype=np.float32)  # trade carried since the last update (US$)
        self.hw = 0  # high-water mark: slots in use are below it

    @property
    def active(self) -> np.ndarray:
        """Mask of live ties among the first ``hw`` slots."""
        return self.s[:self.hw] > 0

    def count(self) -> int:
        """Live ties."""
        return int(np.count_nonzero(self.active))

    def add(self, a: np.ndarray, b: np.ndarray, strength: float) -> None:
        """Add ties (a[i], b[i]) with the given strength, reusing free slots first."""
        if len(a) == 0:
            return
        strength = np.float32(strength)
        hw = insert_ties(self.a, self.b, self.s, self.vol, self.hw, a, b, strength)
        if hw < 0:  # grow by a quarter (or to what is needed): doubling left up to half the slots unused at 1:1
            new = max(len(self.s) + len(self.s) // _GROWTH_DIVISOR, -hw)
            for name in ("a", "b", "s", "vol"):
                old = getattr(self, name)
                arr = np.zeros(new, dtype=old.dtype)
                arr[:len(old)] = old
                setattr(self, name, arr)
            hw = insert_ties(self.a, self.b, self.s, self.vol, self.hw, a, b, strength)
        self.hw = hw

    def update(self, weeks: int, gain: float, half: float, decay: float, s_min: float) -> None:
        """Strengthen ties that carried trade, decay idle ones, drop weak ones; reset volumes."""
        f32 = np.float32
        update_ties(self.s[:self.hw], self.vol[:self.hw], f32(weeks), f32(gain), f32(half), f32((1.0 - decay) ** weeks),
                     f32(s_min))
