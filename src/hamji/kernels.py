"""Small Numba helpers shared by the household kernels of several modules.

Kernels that pass over every household once are compiled with ``@njit(cache=True)``: no fastmath
(results must equal NumPy's element-wise arithmetic) and no ``parallel=True`` (results must not
depend on the number of threads). Sums by province are sequential float64 sums in household order,
as ``np.bincount`` computes them.
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
