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
