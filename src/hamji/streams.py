"""Named random streams (common random numbers, as Starsim does).

Every stochastic decision draws from a generator derived from (run seed, stream name, week). A
stream's draws therefore never depend on how many numbers any other stream used, nor on what
happened in earlier weeks of its own stream: a scenario that changes one decision leaves every other
draw unchanged, and the difference between two scenarios is the intervention, not noise.

Convention for modules: draw for *every* agent of the kind (``size=n``) and mask afterwards, so an
agent keeps its number when eligibility changes between scenarios.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit

_M32 = 0xFFFFFFFF
#: PCG64's 128-bit multiplier (numpy/random/src/pcg64: PCG_DEFAULT_MULTIPLIER_128)
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341


def _words(n: int) -> list[int]:
    """The 32-bit words of a non-negative integer, least significant first (as SeedSequence splits it)."""
    if n == 0:
        return [0]
    out = []
    while n > 0:
        out.append(n & _M32)
        n >>= 32
    return out


@njit(cache=True)
def _seed_words(entropy):
    """``SeedSequence(entropy).generate_state(4, uint64)`` as eight 32-bit words (pool size 4).

    NumPy's algorithm (``numpy/random/bit_generator.pyx``: hashmix, mix, mix_entropy,
    generate_state), written out with 32-bit wrap-around in 64-bit integers; a test checks it
    against NumPy for thousands of inputs.
    """
    m32 = np.uint64(0xFFFFFFFF)
    sh = np.uint64(16)
    hc = np.uint64(0x43B0D7E5)
    pool = np.zeros(4, np.uint64)
    n = len(entropy)
    for i in range(4 + 4 * 3 + 4 * max(n - 4, 0)):
        # the hashmix sequence: the first 4 fill the pool, then each source word is mixed into every other slot
        if i < 4:
            v = entropy[i] if i < n else np.uint64(0)
        elif i < 16:
            v = pool[(i - 4) // 3]
        else:
            v = entropy[4 + (i - 16) // 4]
        v ^= hc
        hc = (hc * np.uint64(0x931E8875)) & m32
        v = (v * hc) & m32
        v ^= v >> sh
        if i < 4:
            pool[i] = v
            continue
        if i < 16:
            src, k = (i - 4) // 3, (i - 4) % 3
            d = k if k < src else k + 1
        else:
            d = (i - 16) % 4
        r = (np.uint64(0xCA01F9DD) * pool[d] - np.uint64(0x4973F715) * v) & m32
        r ^= r >> sh
        pool[d] = r
    out = np.zeros(8, np.uint64)
    hb = np.uint64(0x8B51F9DD)
    for i in range(8):
        v = pool[i % 4] ^ hb
        hb = (hb * np.uint64(0x58F38DED)) & m32
        v = (v * hb) & m32
        v ^= v >> sh
        out[i] = v
    return out


_U32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_MULT_HI, _MULT_LO = np.uint64(_PCG_MULT >> 64), np.uint64(_PCG_MULT & 0xFFFFFFFFFFFFFFFF)


@njit(cache=True, inline="always")
def _mul64(a, b):
    """The full 128-bit product of two uint64, as (high, low) words."""
    a0, a1, b0, b1 = a & _LOW32, a >> _U32, b & _LOW32, b >> _U32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _U32) + (p01 & _LOW32) + (p10 & _LOW32)
    return p11 + (p01 >> _U32) + (p10 >> _U32) + (mid >> _U32), (p00 & _LOW32) | (mid << _U32)


@njit(cache=True)
def _pcg64_words(entropy):
    """The state of ``PCG64(SeedSequence(entropy))`` computed directly (a quarter of the cost of building one), in
    64-bit words: state high, state low, increment high, increment low.

    PCG64 seeds itself with the sequence's first four 64-bit words (state, increment) and two steps of its
    generator (``pcg_setseq_128_srandom_r``); the 128-bit arithmetic is done in pairs of uint64 with carries.
    """
    one = np.uint64(1)
    w = _seed_words(entropy)
    u0, u1 = w[0] | (w[1] << _U32), w[2] | (w[3] << _U32)
    u2, u3 = w[4] | (w[5] << _U32), w[6] | (w[7] << _U32)
    inc_hi, inc_lo = (u2 << one) | (u3 >> np.uint64(63)), (u3 << one) | one
    s_lo = inc_lo + u1  # inc + (u0, u1)
    s_hi = inc_hi + u0 + np.uint64(s_lo < inc_lo)
    hi, lo = _mul64(s_lo, _MULT_LO)  # x multiplier, mod 2**128
    hi += s_lo * _MULT_HI + s_hi * _MULT_LO
    out_lo = lo + inc_lo  # + inc
    out_hi = hi + inc_hi + np.uint64(out_lo < lo)
    return out_hi, out_lo, inc_hi, inc_lo


def name_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


class Streams:
    """Factory of named generators for one run."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._keys: dict[str, int] = {}
        self._words: dict[str, list[int]] = {}
        self._bits: dict[str, np.random.PCG64] = {}  # one bit generator per stream, reset at each get
        self._gens: dict[str, np.random.Generator] = {}  # ... and the generator drawing from it
        self._entropy: dict[str, np.ndarray] = {}  # the entropy words of a stream, the week's last

    def get(self, name: str, week: int = -1) -> np.random.Generator:
        """The generator of stream ``name`` for ``week`` (-1 for set-up draws).

        Equal, draw for draw, to ``Generator(PCG64(SeedSequence([seed, key(name), week + 1])))``. The
        generator is valid until the next ``get`` of the same stream, which resets it.
        """
        entropy = self._entropy.get(name)
        if entropy is None:
            self._keys[name] = name_key(name)
            bits = self._bits[name] = np.random.PCG64(0)
            self._gens[name] = np.random.Generator(bits)
            # the entropy as SeedSequence splits it: 32-bit words of the seed, the key, then the week (one word:
            # weeks are below 2**32)
            self._words[name] = [x for v in (self.seed, self._keys[name]) for x in _words(v)]
            entropy = self._entropy[name] = np.array(self._words[name] + [0], dtype=np.uint64)
        if not 0 <= week + 1 <= _M32:
            raise ValueError(f"week {week} out of range")
        entropy[-1] = week + 1
        s_hi, s_lo, i_hi, i_lo = _pcg64_words(entropy)
        self._bits[name].state = {"bit_generator": "PCG64", "state": {"state": (int(s_hi) << 64) | int(s_lo),
                                                                      "inc": (int(i_hi) << 64) | int(i_lo)},
                                  "has_uint32": 0, "uinteger": 0}
        return self._gens[name]

    @property
    def names(self) -> list[str]:
        """Every stream name used so far in this run."""
        return sorted(self._keys)
