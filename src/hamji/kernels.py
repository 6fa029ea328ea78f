"""Small Numba helpers shared by the household kernels of several modules.

Kernels that pass over every household once are compiled with ``@njit(cache=True)``: no fastmath
(results must equal NumPy's element-wise arithmetic) and no ``parallel=True`` (results must not
depend on the number of threads). Sums by province are sequential float64 sums in household order,
as ``np.bincount`` computes them. Kernels that divide use ``error_model="numpy"``: a division by zero
gives inf or nan as in NumPy instead of raising, and without that check the compiler can use SIMD
instructions for element-wise passes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def fmin(a, b):  # noqa: ANN001, ANN201
    """``np.minimum`` of two scalars (a NaN in ``a`` propagates)."""
    return b if a > b else a


@njit(cache=True, inline="always")
def fmax(a, b):  # noqa: ANN001, ANN201
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
