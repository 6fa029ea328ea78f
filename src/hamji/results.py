"""Weekly results by region and group, and their tidy and annual forms.

Storage is one preallocated float64 array ``(weeks, units, metrics)``, where units are the regions
followed by the groups; nothing grows inside the weekly loop. Modules record region values (group
values follow from each metric's ``agg``) or household values (group values computed from the
households themselves, so a group's median is the median of its households).

Region values are only stored when recorded; the groups of every metric recorded that way are
computed once at the end of the week, in one compiled pass with sums in a fixed order (region order),
so the figures do not depend on the CPU's linear-algebra kernels and a week costs one call instead of
one per metric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit

from hamji.module import Metric

HIST_BINS = 200  # resolution of household quantiles of values in [0, 1]: 0.005


@njit(cache=True, error_model="numpy")
def _group_week(raw, den, pending, is_mean, is_ratio, weight, factor, starts, members, out):
    """Output-unit values of the metrics recorded from region values this week (``out`` = one week's row).

    A unit's value is the sum of its member regions' finite values in region order ("sum"), or their
    mean weighted by ``weight`` (households per region; "mean"); non-finite region values count as
    0 in a sum and are left out of a mean. A ratio metric is the sum of ``raw`` over the sum of
    ``den`` (NaN where that is not positive). ``factor`` is the scale for scaled metrics, else 1.
    """
    n_units = len(starts) - 1
    for k in range(raw.shape[1]):
        if not pending[k]:
            continue
        for u in range(n_units):
            s = 0.0
            sw = 0.0
            for j in range(starts[u], starts[u + 1]):
                r = members[j]
                v = raw[r, k]
                if is_ratio[k]:
                    s += v
                    sw += den[r, k]
                    continue
                fin = np.isfinite(v)
                if is_mean[k]:
                    w = weight[r] if fin else 0.0
                    s += (v if fin else 0.0) * w
                    sw += w
                elif fin:
                    s += v
            if is_ratio[k]:
                out[u, k] = (s / sw if sw > 0 else np.nan) * factor[k]
            else:
                out[u, k] = (s / sw if is_mean[k] else s) * factor[k]


@njit(cache=True)
def _unit_quantiles(hist, starts, members, qs, out) -> None:
    """Quantiles ``qs`` of each output unit from its member regions' histograms (``hist``, counts by bin):
    the bin centre of the first bin whose cumulative count reaches ``q`` of the total (NaN if empty).
    Counts are whole numbers, so sums and comparisons are exact in any order."""
    bins = hist.shape[1]
    cum = np.zeros(bins, dtype=np.int64)
    for u in range(len(starts) - 1):
        cum[:] = 0
        for j in range(starts[u], starts[u + 1]):
            cum += hist[members[j]]
        for b in range(1, bins):
            cum[b] += cum[b - 1]
        total = np.float64(cum[bins - 1])
        for k in range(len(qs)):
            if total > 0:
                target = qs[k] * total
                idx = 0
                for b in range(bins):
                    idx += np.float64(cum[b]) < target
                out[k, u] = (min(idx, bins - 1) + 0.5) / bins
            else:
                out[k, u] = np.nan


class Results:
    """The recorder of one run."""

    def __init__(self, dates: pd.DatetimeIndex, unit_names: list[str], group_matrix: np.ndarray,
                 metrics: list[Metric], scale: int) -> None:
        self.dates = dates
        self.unit_names = unit_names
        self.gm = group_matrix  # (U, R)
        self.metrics = {m.name: m for m in metrics}
        self._col = {m.name: i for i, m in enumerate(metrics)}
        self.scale = scale
        self._values = np.full((len(dates), len(unit_names), len(metrics)), np.nan)
        self.week = 0
        self.region_weight = np.ones(group_matrix.shape[1])  # households per region, set by the sim
        # region values recorded this week, turned into unit values by flush() (once a week)
        self._raw = np.full((group_matrix.shape[1], len(metrics)), np.nan)
        self._den = np.zeros_like(self._raw)  # denominators of ratio metrics (record_ratio)
        self._pending = np.zeros(len(metrics), dtype=np.bool_)
        self._is_ratio = np.zeros(len(metrics), dtype=np.bool_)
        self._is_mean = np.array([m.agg != "sum" for m in metrics], dtype=np.bool_)
        self._factor = np.array([float(scale) if m.scaled else 1.0 for m in metrics])
        self._starts = np.concatenate([[0], np.cumsum((group_matrix != 0).sum(axis=1))]).astype(np.int64)
        self._members = np.concatenate([np.flatnonzero(row) for row in group_matrix]).astype(np.int64)

    @property
    def values(self) -> np.ndarray:
        """Every recorded value, ``(weeks, units, metrics)`` (NaN where a metric has no value)."""
        self.flush()
        return self._values

    # -- recording -------------------------------------------------------------------------------
    def record(self, name: str, region_values: np.ndarray) -> None:
        """Record a metric from one value per region; groups by the metric's ``agg`` (at :meth:`flush`)."""
        c = self._col[name]
        self._raw[:, c] = region_values
        self._pending[c] = True
        self._is_ratio[c] = False

    def this_week(self, name: str) -> np.ndarray | None:
        """The region values of ``name`` recorded this week with :meth:`record` (simulated, before the scale), or None
        if the metric is not declared or was not recorded so this week."""
        c = self._col.get(name)
        if c is None or not self._pending[c] or self._is_ratio[c]:
            return None
        return self._raw[:, c]

    def record_ratio(self, name: str, region_sums: np.ndarray, region_counts: np.ndarray) -> None:
        """Record a metric whose unit value is the sum of ``region_sums`` over the sum of ``region_counts``
        (a mean of household values, say), NaN where the count is 0."""
        c = self._col[name]
        self._raw[:, c] = region_sums
        self._den[:, c] = region_counts
        self._pending[c] = True
        self._is_ratio[c] = True

    def flush(self) -> None:
        """Compute the output units of the metrics recorded from region values since the last flush."""
        if self._pending.any():
            _group_week(self._raw, self._den, self._pending, self._is_mean, self._is_ratio, self.region_weight, self._factor,
                        self._starts, self._members, self._values[self.week])
            self._pending[:] = False

    def begin_week(self, week: int) -> None:
        """Close the previous week's recording and record into ``week`` from now on."""
        self.flush()
        self.week = week

    def record_units(self, name: str, unit_values: np.ndarray) -> None:
        """Record a metric given one value per output unit (regions, then groups)."""
        c = self._col[name]
        v = np.asarray(unit_values, dtype=float)
        self._values[self.week, :, c] = v * self._factor[c] if self._factor[c] != 1.0 else v
        self._pending[c] = False  # the last record of a metric in a week wins, whichever way it was made

    def record_total(self, name: str, value: float, unit: str = "DPRK") -> None:
        """Record a metric that exists only for one unit (a national total, say); the others stay NaN."""
        c = self._col[name]
        self._pending[c] = False
        row = self._values[self.week, :, c]
        row[:] = np.nan
        row[self.unit_names.index(unit)] = value * self._factor[c]

    # -- household statistics ------------------------------------------------------------------
    def unit_sums(self, region: np.ndarray, values: np.ndarray | None, mask: np.ndarray | None = None) -> np.ndarray:
        """Sum of household ``values`` (or a count if None) per output unit, over ``mask``."""
        r = self.gm.shape[1]
        w = None if values is None else values.astype(np.float64, copy=False)
        if mask is not None:
            w = mask.astype(np.float64) if w is None else np.where(mask, w, 0.0)
        return self.gm @ np.bincount(region, weights=w, minlength=r)

    def household_mean(self, region: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None,
                       weights: np.ndarray | None = None) -> np.ndarray:
        """Mean of household values per unit (optionally over ``mask``, weighted by ``weights``)."""
        w = np.ones(len(values)) if weights is None else weights.astype(np.float64)
        num = self.unit_sums(region, values * w, mask)
        den = self.unit_sums(region, w, mask)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

    def household_quantiles(self, region: np.ndarray, values01: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
        """Quantiles ``qs`` per unit of household values in [0, 1] (histogram, resolution 1/200)."""
        r = self.gm.shape[1]
        b = np.minimum((values01 * HIST_BINS).astype(np.int64), HIST_BINS - 1)
        hist = np.bincount(region.astype(np.int64) * HIST_BINS + b, minlength=r * HIST_BINS).reshape(r, HIST_BINS)
        return self.quantiles_from_histogram(hist, qs)

    def quantiles_from_histogram(self, hist: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
        """Quantiles per unit from a (regions, HIST_BINS) histogram of values in [0, 1] (bin centres)."""
        out = np.empty((len(qs), len(self._starts) - 1))
        _unit_quantiles(np.ascontiguousarray(hist, dtype=np.int64), self._starts, self._members,
                        np.asarray(qs, dtype=np.float64), out)
        return out

    # -- output forms ----------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """Columns date, region, metric, value; rows with no value dropped."""
        t, u, m = self.values.shape
        names = list(self.metrics)
        frame = pd.DataFrame({
            "date": np.repeat(self.dates.values, u * m),
            "region": pd.Categorical.from_codes(np.tile(np.repeat(np.arange(u), m), t), self.unit_names),
            "metric": pd.Categorical.from_codes(np.tile(np.arange(m), t * u), names),
            "value": self.values.reshape(-1),
        })
        return frame[np.isfinite(frame.value.values)].reset_index(drop=True)

    def annual(self) -> pd.DataFrame:
        """Calendar-year values: flows summed, levels averaged, stocks at year end (per metric doc).

        Rows are ordered by metric, then unit, then year.
        """
        w, u, k = self.values.shape
        by_year = self.dates.year.values
        years = np.unique(by_year)
        agg = np.empty((len(years), u, k))
        for name, j in self._col.items():  # per metric: a wide frame sums in another order (last bits)
            frame = pd.DataFrame(self.values[:, :, j]).groupby(by_year)
            kind = self.metrics[name].annual
            agg[:, :, j] = (frame.sum(min_count=1) if kind == "sum" else frame.last() if kind == "last"
                            else frame.mean()).values
        value = agg.transpose(2, 1, 0).ravel()  # metric, unit, year
        out = pd.DataFrame({
            "year": np.tile(years, u * k),
            "region": np.tile(np.repeat(np.array(self.unit_names, dtype=object), len(years)), k),
            "metric": np.repeat(np.array(list(self._col), dtype=object), u * len(years)),
            "value": value,
        })
        return out[np.isfinite(value)].reset_index(drop=True)
