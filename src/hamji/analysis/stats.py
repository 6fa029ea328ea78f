"""Statistics the analyses and the web app share: the Student-t interval of a mean over seeds."""

from __future__ import annotations

import numpy as np

#: the confidence of the intervals hamji reports by default (``hamji compare``, ``optimize``, ``robust``, the web)
CONFIDENCE = 0.90


def t_half_width(x: object, confidence: float = CONFIDENCE) -> float:
    """Half the width of the two-sided Student-t ``confidence`` interval of the mean of ``x`` (NaN with fewer
    than two values): ``t(0.5 + confidence / 2, n - 1) * sd / sqrt(n)``, with the sample standard deviation."""
    from scipy import stats  # ~0.3 s to import: the engine and the CLI's start-up import this file's users

    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 2:
        return np.nan
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))


def t_interval(x: object, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The mean of ``x`` and its Student-t ``confidence`` interval: ``(mean, low, high)``; NaN bounds with one
    value, NaN throughout with none. Values that are not finite are left out."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return np.nan, np.nan, np.nan
    mean, half = float(x.mean()), t_half_width(x, confidence)
    return mean, mean - half, mean + half
