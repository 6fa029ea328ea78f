"""Process-level tuning for the weekly loop.

The weekly loop creates many temporary arrays of a few hundred kilobytes (one value per
household). glibc hands allocations above 128 KiB to ``mmap`` and returns them to the system on
``free``, so every temporary costs page faults. Raising the mmap and trim thresholds keeps that
memory in the heap for reuse: about 10% faster at 1:100, and results are unchanged (it only changes
where memory comes from). Does nothing on systems without glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_DONE = False
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def tune_allocator() -> bool:
    """Keep large temporary arrays in the heap (glibc only); returns True if applied."""
    global _DONE
    if _DONE:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024) == 1
    except (OSError, AttributeError):
        return False
    _DONE = bool(ok)
    return _DONE


#: runs with fewer households than this step every household pass on one thread: a pass over a few
#: thousand households takes microseconds, less than waking a second thread (measured in
#: docs/performance.md). Threads never change a result (hamji.kernels.BLOCK), only the time.
PARALLEL_MIN_HOUSEHOLDS = 100_000


def kernel_threads(n_households: int) -> int:
    """Threads for the household passes of a run of ``n_households``: 1 below PARALLEL_MIN_HOUSEHOLDS (or
    ``HAMJI_PARALLEL_MIN``), else ``HAMJI_THREADS`` if set (Dask workers get their share of the cores this
    way), else Numba's (the cores, or ``NUMBA_NUM_THREADS``)."""
    import os

    import numba

    least = os.environ.get("HAMJI_PARALLEL_MIN", "").strip()  # to measure or test threads on small runs
    if n_households < (int(least) if least.isdigit() else PARALLEL_MIN_HOUSEHOLDS):
        return 1
    top = numba.config.NUMBA_NUM_THREADS
    want = os.environ.get("HAMJI_THREADS", "").strip()
    return max(1, min(top, int(want))) if want.isdigit() else top


def use_threads(n: int) -> None:
    """Let the next parallel passes of this thread use ``n`` threads."""
    import numba

    if numba.get_num_threads() != n:
        numba.set_num_threads(n)
