"""Small Numba helpers shared by the household kernels of several modules.

Kernels that pass over every household once are compiled with ``@njit(cache=True)``, no fastmath
(results must equal NumPy's element-wise arithmetic). Those with ``parallel=True`` loop over fixed
blocks of households (:data:`BLOCK`) and sum each block on its own, then the blocks in order
(:func:`reduce_blocks`), so results never depend on the number of threads. Within a block, sums by
province are sequential float64 sums in household order, as ``np.bincount`` computes them. Kernels that divide use
``error_model="numpy"``: a division by zero
gives inf or nan as in NumPy instead of raising, and without that check the compiler can use SIMD
instructions for element-wise passes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def fmin(a, b):
    """``np.minimum`` of two scalars (a NaN in ``a`` propagates)."""
    return b if a > b else a


@njit(cache=True, inline="always")
def fmax(a, b):
    """``np.maximum`` of two scalars (a NaN in ``a`` propagates)."""
    return b if a < b else a


def province_bounds(region: np.ndarray, n_regions: int) -> np.ndarray:
    """Start of each province's households and the end of the last (int64, ``n_regions + 1``).

    The synthesis stores households in province order, so a province is the slice
    ``bounds[r]:bounds[r + 1]``. Kernels that sum by province loop over these slices with the sums
    in local variables (registers) instead of scatter-adding into an array, in the same household
    order, so the sums are the same to the last bit.
    """
    region = np.asarray(region)
    if len(region) > 1 and np.any(region[1:] < region[:-1]):
        raise ValueError("households must be stored in province order (as the synthesis creates them)")
    return np.searchsorted(region, np.arange(n_regions + 1)).astype(np.int64)


# ------------------------------------------------------------------------------------------------
# Parallel household passes in fixed blocks: the same result whatever the number of threads
# ------------------------------------------------------------------------------------------------
#: households per block. A province is cut into blocks of at most this many households; a parallel
#: pass computes each block's sums on its own (any thread) and :func:`reduce_blocks` adds them up
#: province by province in block order. The blocks depend on the households only, never on the
#: number of threads, so neither does any result. A province smaller than a block is one block, and
#: its sums are the sequential sums of the serial passes, to the bit (every province at 1:100 and
#: coarser scales: the largest has about 9,000 households there).
BLOCK = 1 << 16


def household_blocks(bounds: np.ndarray, size: int | None = None) -> np.ndarray:
    """Blocks of households (int64, one row each: first household, end, province), province by province.

    ``bounds`` as :func:`province_bounds` gives them; an empty province has no block. ``size``: households
    per block (default :data:`BLOCK`; tests use small blocks to cut small provinces).
    """
    size = BLOCK if size is None else int(size)
    rows = []
    for r in range(len(bounds) - 1):
        for lo in range(int(bounds[r]), int(bounds[r + 1]), size):
            rows.append((lo, min(lo + size, int(bounds[r + 1])), r))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


@njit(cache=True)
def reduce_blocks(partial, blocks, out) -> None:
    """``out[r, :]`` = the sum of ``partial[b, :]`` over province ``r``'s blocks, in block order (rows of
    provinces without households are 0). The first block is copied, not added to 0, so a province of
    one block has exactly that block's sums."""
    out[:] = 0
    prev = -1
    for b in range(len(blocks)):
        r = blocks[b, 2]
        if r != prev:
            out[r, :] = partial[b, :]
            prev = r
        else:
            out[r, :] += partial[b, :]


def province_lanes(bounds: np.ndarray, n_lanes: int) -> np.ndarray:
    """Provinces dealt to ``n_lanes`` lanes of about equal households (largest first, each to the lightest
    lane), for passes whose provinces are independent but whose households within a province are not
    (sums over clans, which never cross a province). Each lane lists its provinces, padded with -1
    (int64, ``n_lanes`` rows). Which lane does a province changes the time, never a result."""
    sizes = np.diff(np.asarray(bounds, dtype=np.int64))
    load = [0] * n_lanes
    dealt: list[list[int]] = [[] for _ in range(n_lanes)]
    for r in sorted(range(len(sizes)), key=lambda k: (-sizes[k], k)):
        if sizes[r] == 0:
            continue
        ln = min(range(n_lanes), key=lambda k: (load[k], k))
        dealt[ln].append(r)
        load[ln] += int(sizes[r])
    out = np.full((n_lanes, max(1, max(len(d) for d in dealt))), -1, dtype=np.int64)
    for ln, d in enumerate(dealt):
        out[ln, :len(d)] = sorted(d)
    return out


@njit(cache=True)
def compact_blocks(buf, blocks, counts) -> int:
    """Join the lists a parallel pass wrote block by block: block ``b`` wrote ``counts[b]`` entries at
    ``buf[blocks[b, 0]:]``; they are moved, in block order, to the front of ``buf``. Returns their number.
    (Moving forward is safe: an entry never moves past where it was written.)"""
    k = 0
    for b in range(len(blocks)):
        lo = blocks[b, 0]
        if lo != k:
            for j in range(counts[b]):
                buf[k + j] = buf[lo + j]
        k += counts[b]
    return k


@njit(cache=True, inline="always")
def span(blocks, b):
    """Block ``b``'s households as unsigned bounds: ``for i in range(*span(blocks, b))``. An unsigned index
    cannot be negative, so the compiler drops the wrap-around test of every array access and can use SIMD
    instructions (with signed bounds read from an array the element-wise passes ran three times slower)."""
    return np.uint64(blocks[b, 0]), np.uint64(blocks[b, 1])


# ------------------------------------------------------------------------------------------------
# Region-level ratios: one compiled call instead of four NumPy calls on a few values
# ------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def ratio_or1(num, den, default):
    """:func:`ratio_or` of one value, for compiled code: ``num / den`` if ``den > 0`` else ``default``."""
    return num / den if den > 0 else default


@njit(cache=True, inline="always")
def share_or1(num, den, default):
    """:func:`share_or` of one value, for compiled code: ``min(1, num / den)`` if ``den > 0`` else ``default``."""
    return fmin(num / den, 1.0) if den > 0 else default


@njit(cache=True, error_model="numpy")
def _ratio_or(num, den, default, cap):
    out = np.empty(len(den))
    for i in range(len(den)):
        out[i] = share_or1(num[i], den[i], default) if cap else ratio_or1(num[i], den[i], default)
    return out


def ratio_or(num: np.ndarray, den: np.ndarray, default: float = 0.0) -> np.ndarray:
    """``num / den`` where ``den > 0``, else ``default`` (float64; 1-D arrays of one length).

    The same values as ``np.where(den > 0, num / np.where(den > 0, den, 1.0), default)`` (a division is
    exactly rounded either way), in one call: at small scales a week is mostly such calls on a few
    provinces' values (docs/performance.md).
    """
    return _ratio_or(num, den, float(default), False)


def share_or(num: np.ndarray, den: np.ndarray, default: float = 0.0) -> np.ndarray:
    """``min(1, num / den)`` where ``den > 0``, else ``default``: :func:`ratio_or` capped at 1 (as
    ``np.minimum(1.0, ...)``, a NaN ratio stays NaN)."""
    return _ratio_or(num, den, float(default), True)


# ------------------------------------------------------------------------------------------------
# NumPy's sums inside compiled code, to the bit: region-level steps compiled as one function must add
# in the order NumPy does, or results would move in the last bit
# ------------------------------------------------------------------------------------------------
@njit(cache=True)
def _pairwise_block(a, lo, n):
    """NumPy's pairwise sum of ``a[lo:lo + n]`` for ``n <= 128`` (numpy/_core/src/umath/loops_utils.h.src):
    sequential below 8 values, else 8 running sums added as a tree, then the rest in order."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def pairwise_sum(a, lo, n):
    """NumPy's pairwise sum of ``a[lo:lo + n]`` (contiguous values; NumPy then adds it to +0.0): above 128 values,
    the sum of the two halves (cut at a multiple of 8), each summed the same way. The recursion is
    unrolled on a small stack (Numba cannot cache recursive functions called from other modules)."""
    if n <= 128:
        return _pairwise_block(a, lo, n)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    state = np.empty(64, dtype=np.int64)  # 0: left half next, 1: right half next, 2: both summed
    vals = np.empty(64)
    los[0], ns[0], state[0] = lo, n, 0
    sp = 1
    vp = 0
    while sp > 0:
        t = sp - 1
        l, m = los[t], ns[t]
        if m <= 128:
            vals[vp] = _pairwise_block(a, l, m)
            vp += 1
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        if state[t] == 0:
            state[t] = 1
            los[sp], ns[sp], state[sp] = l, half, 0
            sp += 1
        elif state[t] == 1:
            state[t] = 2
            los[sp], ns[sp], state[sp] = l + half, m - half, 0
            sp += 1
        else:
            vp -= 1
            vals[vp - 1] = vals[vp - 1] + vals[vp]
            sp -= 1
    return vals[0]


@njit(cache=True)
def psum(a):
    """``a.sum()`` of a 1-D float64 array, bit for bit (NumPy starts from +0.0, then adds the pairwise sum)."""
    return 0.0 + pairwise_sum(a, 0, len(a))


@njit(cache=True)
def colsum(m):
    """``m.sum(axis=0)`` of a C-ordered 2-D float64 array, bit for bit: row after row from +0.0 (a single
    column is one contiguous run for NumPy, so a pairwise sum)."""
    out = np.zeros(m.shape[1])
    if m.shape[1] == 1:
        out[0] = psum(np.ascontiguousarray(m[:, 0]))
        return out
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            out[j] += m[i, j]
    return out


@njit(cache=True)
def rowsum(m):
    """``m.sum(axis=1)`` of a C-ordered 2-D float64 array, bit for bit (a pairwise sum of each row)."""
    out = np.empty(m.shape[0])
    for i in range(m.shape[0]):
        out[i] = 0.0 + pairwise_sum(m[i], 0, m.shape[1])
    return out


@njit(cache=True, inline="always")
def npow(x, w):
    """``x ** weeks`` as NumPy computes it for a float array and a Python int (``w`` = weeks in ``x``'s dtype).

    NumPy squares for 2 and calls ``pow`` otherwise; ``pow(x, 2)`` can differ from ``x * x`` in the last bit.
    """
    return x * x if w == 2 else x ** w
