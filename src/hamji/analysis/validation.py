"""The validation scorecard: patterns of MODEL.md section 6 and the fit to the real data series.

Trade: for every year the data give, the model's annual DPRK exports and imports that Chinese customs records
(``exports_recorded_usd``, ``imports_recorded_usd``: :mod:`hamji.customs`; mean over seeds, `history` scenario)
against China's customs-based series (``china_dprk_trade.csv``): log error per year, mean absolute log error (MALE)
and Pearson correlation. The model's totals (every good that crosses, recorded or not) are kept beside them
(``SeriesFit.total_usd_m``) but not scored. Thresholds for total
trade (issue "Real data in, calibration"): MALE < 0.25 and correlation > 0.9.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hamji import data
from hamji.analysis.ensemble import Task, run_ensemble
from hamji.analysis.patterns import (
    CLOSURE_SCENARIOS,
    PATTERN6_SCENARIOS,
    RICE_FIT_YEARS,
    PatternResult,
    data_kpw_per_usd,
    data_rice_usd,
    evaluate,
    evaluate_closure,
    evaluate_pattern_6,
    model_kpw_per_usd,
    model_rice_usd,
    pattern_8,
    pattern_13,
    pattern_14,
    pattern_15,
    rice_level,
)
from hamji.scenario import load_scenario

TRADE_MALE_MAX = 0.25
TRADE_CORR_MIN = 0.9
SERIES = (  # (label, model metric(s) summed, data column): the data are customs data, so the model's recorded series
    ("DPRK exports to China", ("exports_recorded_usd",), "china_imports_from_dprk_usd_m"),
    ("DPRK imports from China", ("imports_recorded_usd",), "china_exports_to_dprk_usd_m"),
    ("total trade", ("exports_recorded_usd", "imports_recorded_usd"), "total_usd_m"),
)
#: the model's totals beside each recorded series (every good that crosses, recorded or not), for the chart
TOTALS = {"DPRK exports to China": ("exports_all_usd",), "DPRK imports from China": ("imports_usd",),
          "total trade": ("exports_all_usd", "imports_usd")}


@dataclass
class SeriesFit:
    """The fit of one model series to one data series."""

    label: str
    years: list[int]
    model_usd_m: list[float]
    data_usd_m: list[float]
    log_errors: list[float] = field(default_factory=list)
    #: the model's total of the same flows, recorded or not (not scored), per year
    total_usd_m: list[float] = field(default_factory=list)
    male: float = float("nan")
    correlation: float = float("nan")

    def compute(self) -> SeriesFit:
        m, d = np.array(self.model_usd_m), np.array(self.data_usd_m)
        ok = (m > 0) & (d > 0)
        self.log_errors = list(np.where(ok, np.log(np.where(ok, m, 1) / np.where(ok, d, 1)), np.nan))
        self.male = float(np.nanmean(np.abs(self.log_errors))) if ok.any() else float("nan")
        self.correlation = float(np.corrcoef(m[ok], d[ok])[0, 1]) if ok.sum() > 2 else float("nan")
        return self


def trade_fit(annual: pd.DataFrame) -> list[SeriesFit]:
    """Model (mean over seeds, DPRK) against the trade data, for each year the data give: the series Chinese customs
    records (:data:`SERIES`), with the model's totals beside them."""
    t = data.trade_series()
    dprk = annual[annual.region == "DPRK"]
    mean = dprk.groupby(["metric", "year"]).value.mean()
    fits = []
    for label, metrics, col in SERIES:
        years = [int(y) for y in t.index if pd.notna(t.loc[y, col]) and all((mm, y) in mean.index for mm in metrics)]
        model = [sum(mean[(mm, y)] for mm in metrics) / 1e6 for y in years]
        totals = TOTALS[label]
        total = [sum(mean[(mm, y)] for mm in totals) / 1e6 if all((mm, y) in mean.index for mm in totals) else float("nan")
                 for y in years]
        fits.append(SeriesFit(label, years, model, [float(t.loc[y, col]) for y in years], total_usd_m=total).compute())
    return fits


def trade_result(fits: list[SeriesFit]) -> PatternResult:
    """Pattern 7 from the total-trade fit."""
    total = next(f for f in fits if f.label == "total trade")
    ok = total.male < TRADE_MALE_MAX and total.correlation > TRADE_CORR_MIN
    return PatternResult(7, "China-DPRK trade follows the real annual series (history scenario)", total.male,
                         f"total trade: mean absolute log error < {TRADE_MALE_MAX} and correlation > {TRADE_CORR_MIN}",
                         bool(ok), f"MALE {total.male:.2f}, correlation {total.correlation:.2f} over {len(total.years)} years")


def run_history(seeds: int, scale: int, workers: int = 1, progress=None) -> pd.DataFrame:
    """The `history` scenario over ``seeds`` seeds, 2000 to the last year of ``prices.csv`` (2026; at least the
    scenario's own end and the last year of trade data): the trade fit uses the years with data, the rice price
    check 2010-2024, the exchange rate 2013-2021, and the chart of prices shows every year of prices.csv (the
    years after the scenario's end continue its last settings)."""
    last = dt.date(int(data.trade_series().index.max()), 12, 31)
    prices = dt.date(int(data_kpw_per_usd().index.max()), 12, 28)
    end = max(load_scenario("history").spec.end or last, last, prices)
    tasks = [Task("history", s, scale, dt.date(2000, 1, 3), end) for s in range(1, seeds + 1)]
    return run_ensemble(tasks, workers=workers, progress=progress)


def trade_chart_svg(fits: list[SeriesFit], path) -> None:
    """Model against data, one panel per trade series (US$ million, log scale), written as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(fits), figsize=(4.2 * len(fits), 3.6), sharey=True)
    for ax, f in zip(np.atleast_1d(axes), fits):
        ax.plot(f.years, f.data_usd_m, "o", color="black", label="data (china_dprk_trade.csv)")
        ax.plot(f.years, f.model_usd_m, "s--", color="tab:red", label="model: recorded by Chinese customs (mean over seeds)")
        if f.total_usd_m and np.isfinite(f.total_usd_m).any():
            ax.plot(f.years, f.total_usd_m, ":", color="tab:gray", label="model: total, recorded or not (not fitted)")
        ax.set_yscale("log")
        ax.set_title(f"{f.label}\nMALE {f.male:.2f}, correlation {f.correlation:.2f}", fontsize=9)
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("US$ million a year")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


#: the years the chart of prices shows
PRICE_CHART_YEARS = (2010, 2026)


def price_table(history: pd.DataFrame) -> pd.DataFrame:
    """By year: the market rate (KPW per US$), rice in won and rice in US$ per kg, model (history, mean over seeds)
    and data (prices.csv, yearly mean of the three cities), with the sample each year belongs to."""
    p = data.cached("prices.csv")
    rice_kpw = p.groupby(p.date.astype(str).str[:4].astype(int)).rice_kpw_per_kg.mean()
    a = history[(history.metric == "rice_price_kpw") & (history.region == "DPRK")]
    m_rice_kpw = a.pivot_table(index="seed", columns="year", values="value").mean()
    years = list(range(PRICE_CHART_YEARS[0], PRICE_CHART_YEARS[1] + 1))
    t = pd.DataFrame({"kpw_per_usd": model_kpw_per_usd(history).mean(), "kpw_per_usd_data": data_kpw_per_usd(),
                      "rice_kpw": m_rice_kpw, "rice_kpw_data": rice_kpw, "rice_usd": model_rice_usd(history).mean(),
                      "rice_usd_data": data_rice_usd()}).reindex(years)
    t.index.name = "year"
    t["sample"] = ["fit" if y <= RICE_FIT_YEARS[1] else "out of sample" for y in years]
    return t


def price_chart_svg(history: pd.DataFrame, path) -> None:
    """The model's market rate, rice in won and rice in US$ (history: mean over seeds, and the range of the seeds)
    against prices.csv (yearly means of the three cities, and each city's quarterly survey), 2010-2026; the years not
    used to calibrate (2017 on) are shaded. Written as SVG (or PNG if ``path`` ends in .png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = PRICE_CHART_YEARS
    p = data.cached("prices.csv")
    when = pd.to_datetime(p.date)
    p = p.assign(t=when.dt.year + (when.dt.dayofyear - 1) / 365.25)
    p = p[p.t >= lo]
    panels = (("kpw_per_usd", "kpw_per_usd", "market rate, KPW per US$", True),
              ("rice_price_kpw", "rice_kpw_per_kg", "rice, KPW per kg", True),
              ("rice_price_usd", "rice_usd_per_kg", "rice, US$ per kg", False))
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.9))
    for ax, (metric, col, title, log) in zip(axes, panels):
        a = history[(history.metric == metric) & (history.region == "DPRK") & history.year.between(lo, hi)]
        by = a.pivot_table(index="year", columns="seed", values="value")
        x = by.index + 0.5  # a yearly mean sits mid-year
        ax.fill_between(x, by.min(axis=1), by.max(axis=1), color="tab:red", alpha=0.2, lw=0)
        ax.plot(x, by.mean(axis=1), "s-", color="tab:red", ms=3.5, label="model, history (mean and range of seeds)")
        ax.plot(p.t, p[col], ".", color="0.6", ms=3, label="prices.csv, each city's quarterly survey")
        yearly = p.groupby(p.t.astype(int))[col].mean()
        ax.plot(yearly.index + 0.5, yearly.values, "o", color="black", ms=4, mfc="none", label="prices.csv, yearly mean")
        ax.axvspan(RICE_FIT_YEARS[1] + 1, hi + 1, color="0.9", zorder=0, label="out of sample (2017 on)")
        if log:
            ax.set_yscale("log")
        ax.set_xlim(lo, hi + 1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    svg = str(path).endswith(".svg")
    fig.savefig(path, format="svg" if svg else None, metadata={"Date": None} if svg else None)
    plt.close(fig)


#: the stages of the scorecard, in order: (what it runs, runs per seed), as :func:`scorecard` reports them
def scorecard_stages() -> list[tuple[str, int]]:
    return [("patterns 1-5", 3), (f"pattern 6 ({len(PATTERN6_SCENARIOS)} scenarios)", 1),
            (f"patterns 9-11 ({len(CLOSURE_SCENARIOS)} scenarios)", 1),
            ("history: trade, prices and the exchange rate, patterns 8, 13, 14 and 15", 1)]


@dataclass
class Scorecard:
    """The validation scorecard (``hamji validate``): every pattern's result, the trade fits and the rice price
    check, at ``seeds`` seeds and 1:``scale``."""

    seeds: int
    scale: int
    patterns: list[PatternResult]
    trade: list[SeriesFit]
    rice: pd.DataFrame  # per year: model, data, error, sample (index "year")
    history: pd.DataFrame | None = field(default=None, repr=False)  # the history runs' annual results (the charts)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.patterns)

    def as_dict(self) -> dict:
        """The scorecard as plain data: what ``hamji validate --json`` writes."""
        return {"passed": self.passed, "seeds": self.seeds, "scale": self.scale, "patterns": [r.as_dict() for r in self.patterns],
                "trade": [f.__dict__ for f in self.trade],
                "rice_usd_per_kg": self.rice.reset_index(names="year").to_dict(orient="records")}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=float)


def scorecard(seeds: int = 3, scale: int = 1000, workers: int = 1,
              progress: Callable[[str, int, int], None] | None = None) -> Scorecard:
    """Run the validation scorecard: patterns 1-6 and 8-11 of MODEL.md section 6, the fit to the real trade data
    (pattern 7), the rice price level (12), the won's market rate (13), rice in the closure (14) and the staples'
    chain (15). ``progress(stage, runs done, runs)`` is called as each stage's runs finish (the stages of
    :func:`scorecard_stages`)."""
    stages = [name for name, _ in scorecard_stages()]

    def report(k: int) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(stages[k], done, total))

    results = evaluate(seeds=seeds, scale=scale, workers=workers, progress=report(0))
    results.append(evaluate_pattern_6(seeds=seeds, scale=scale, workers=workers, progress=report(1)))
    results += evaluate_closure(seeds=seeds, scale=scale, workers=workers, progress=report(2))
    history = run_history(seeds, scale, workers, progress=report(3))
    fits = trade_fit(history)
    results.append(pattern_8(history))  # the 2017 sanctions, in the same history runs
    results.append(trade_result(fits))
    rice, rice_table = rice_level(history)
    results.append(rice)
    results.append(pattern_13(history))  # the won's market rate, in the same history runs
    results.append(pattern_14(history))  # rice in the closure as the state ran it, in the same history runs
    results.append(pattern_15(history))  # the chain's markup, in the same history runs
    results.sort(key=lambda r: r.number)
    return Scorecard(seeds, scale, results, fits, rice_table, history)
