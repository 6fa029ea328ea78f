"""Pattern-oriented validation: the patterns of MODEL.md section 6 as statistics with thresholds.

Each pattern is computed from an ensemble of runs (several seeds; paired runs with one mechanism
switched off where the pattern is about that mechanism), so a pass means the pattern holds on
average over seeds with the stated margin, not in one lucky run. ``hamji validate`` prints them; the
test suite checks them at a small scale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Callable

import pandas as pd

from hamji.ensemble import Task, run_ensemble

#: the regions "farther away from the Sino-DPRK border" (more than 350 road km from a crossing)
FAR_FROM_BORDER = ("South Hwanghae", "North Hwanghae", "Kangwon")


@dataclass
class PatternResult:
    """One pattern's statistic, its threshold and whether it holds."""

    number: int
    name: str
    statistic: float
    threshold: str
    passed: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _val(a: pd.DataFrame, metric: str, region: str, years: tuple[int, int]) -> pd.Series:
    """Per seed: the metric's mean over ``years`` for ``region``."""
    s = a[(a.metric == metric) & (a.region == region) & a.year.between(*years)]
    return s.groupby("seed").value.mean()


def _far(a: pd.DataFrame, metric: str, years: tuple[int, int]) -> pd.Series:
    """Per seed: household-weighted mean of a metric over the regions far from the border."""
    s = a[(a.metric.isin([metric, "households"])) & a.region.isin(FAR_FROM_BORDER) & a.year.between(*years)]
    w = s.pivot_table(index=["seed", "region", "year"], columns="metric", values="value")
    w["x"] = w[metric] * w["households"]
    g = w.groupby("seed")[["x", "households"]].sum()
    return g.x / g.households


def pattern_1(a: pd.DataFrame) -> PatternResult:
    """North Hamgyong rises relative to South Hwanghae over the 2000s (income per capita)."""
    def ratio(years):  # noqa: ANN001, ANN202
        return _val(a, "income_per_capita_usd", "North Hamgyong", years) / _val(a, "income_per_capita_usd", "South Hwanghae", years)
    r0, r1 = ratio((2000, 2001)), ratio((2009, 2010))
    change = r1 - r0
    return PatternResult(1, "North Hamgyong rises relative to South Hwanghae over the 2000s", float(change.mean()),
                         "ratio of income per capita NH/SH, 2009-10 minus 2000-01 > 0 in every seed",
                         bool((change > 0).all()), f"ratio {r0.mean():.2f} (2000-01) -> {r1.mean():.2f} (2009-10)")


def pattern_2(a: pd.DataFrame) -> PatternResult:
    """Within HamJi participants do better, and the gap is larger than far from the border."""
    years = (2005, 2015)
    gap_h = _val(a, "hsi_participants", "HamJi", years) - _val(a, "hsi_nonparticipants", "HamJi", years)
    gap_f = _far(a, "hsi_participants", years) - _far(a, "hsi_nonparticipants", years)
    diff = gap_h - gap_f
    # the mean over seeds, not every seed: at small scales a far province has only a few dozen
    # participants, so one seed's far gap is noisy (the share of seeds with a positive difference is reported)
    ok = bool((gap_h > 0).all() and diff.mean() > 0)
    return PatternResult(2, "HamJi participants above non-participants, by more than far from the border", float(diff.mean()),
                         "HSI gap in HamJi > 0 in every seed; gap HamJi minus gap far from border > 0 on average over seeds (2005-15)",
                         ok, f"gap HamJi {gap_h.mean():.3f}, far from border ({', '.join(FAR_FROM_BORDER)}) {gap_f.mean():.3f};"
                         f" larger in HamJi in {int((diff > 0).sum())} of {len(diff)} seeds")


def pattern_3(a: pd.DataFrame) -> PatternResult:
    """Bribes paid rise with market activity (correlation over years, and across provinces)."""
    d = a[(a.region == "DPRK") & a.metric.isin(["bribes_usd", "participants_share"])]
    w = d.pivot_table(index=["seed", "year"], columns="metric", values="value")
    corr = w.groupby("seed").apply(lambda g: g.bribes_usd.corr(g.participants_share))
    return PatternResult(3, "Bribes paid rise with market activity", float(corr.mean()),
                         "correlation over years of DPRK bribes with the participants share > 0.7 in every seed",
                         bool((corr > 0.7).all()), f"correlation per seed {', '.join(f'{c:.2f}' for c in corr)}")


def pattern_4(a: pd.DataFrame, off: pd.DataFrame) -> PatternResult:
    """Forgery raises trade volume and the number of ad hoc markets along routes."""
    years = (2005, 2015)
    trade_on = _val(a, "exports_usd", "DPRK", years) + _val(a, "imports_usd", "DPRK", years)
    trade_off = _val(off, "exports_usd", "DPRK", years) + _val(off, "imports_usd", "DPRK", years)
    adhoc_on, adhoc_off = _val(a, "markets_adhoc", "DPRK", years), _val(off, "markets_adhoc", "DPRK", years)
    dt_, dm = trade_on / trade_off - 1, adhoc_on - adhoc_off
    return PatternResult(4, "Forgery raises trade volume and ad hoc markets", float(dt_.mean()),
                         "forgery on vs off (paired seeds, 2005-15): trade higher and ad hoc markets higher on average, trade in every seed",
                         bool((dt_ > 0).all() and dm.mean() > 0), f"trade {100 * dt_.mean():+.1f}%, ad hoc markets {dm.mean():+.1f}")


def pattern_5(a: pd.DataFrame, off: pd.DataFrame) -> PatternResult:
    """Remittances concentrate in HamJi and raise trading capital there."""
    years = (2005, 2015)
    # pooled over seeds: at small scales a seed has only a handful of defectors
    share = _val(a, "remittances_usd", "HamJi", years).sum() / _val(a, "remittances_usd", "DPRK", years).sum()
    gain_h = _val(a, "trading_capital_usd", "HamJi", years) / _val(off, "trading_capital_usd", "HamJi", years) - 1
    gain_r = _val(a, "trading_capital_usd", "Rest of DPRK", years) / _val(off, "trading_capital_usd", "Rest of DPRK", years) - 1
    ok = bool(share > 0.7 and (gain_h > 0).all() and gain_h.mean() > gain_r.mean())
    return PatternResult(5, "Remittances concentrate in HamJi and raise trading capital there", float(share),
                         "share of remittances received in HamJi (pooled over seeds, 2005-15) > 0.7; remittances on vs off raise HamJi"
                         " trading capital in every seed, by more than elsewhere (relative)",
                         ok, f"HamJi share {share:.2f}; trading capital HamJi {100 * gain_h.mean():+.1f}%, rest {100 * gain_r.mean():+.1f}%")


def evaluate(seeds: int = 3, scale: int = 1000, end: dt.date = dt.date(2015, 12, 28), workers: int = 1,
             progress: Callable[[int, int], None] | None = None,
             overrides: dict | None = None) -> list[PatternResult]:
    """Run the ensembles patterns 1-5 need and return each pattern's result (``overrides``: parameters for all runs)."""
    start = dt.date(2000, 1, 3)
    variants = {"baseline": {}, "no_forgery": {"forgery_on": False}, "no_remittances": {"remittances_on": False}}
    total = len(variants) * seeds
    runs = []
    for k, ov in enumerate(variants.values()):
        tasks = [Task("baseline", s, scale, start, end, {**(overrides or {}), **ov}) for s in range(1, seeds + 1)]
        runs.append(run_ensemble(tasks, workers=workers,
                                 progress=None if progress is None else (lambda d, t, k=k: progress(k * seeds + d, total))))
    base, no_f, no_r = runs
    return [pattern_1(base), pattern_2(base), pattern_3(base), pattern_4(base, no_f), pattern_5(base, no_r)]


#: the scenarios pattern 6 compares, and the window of years it averages (the interventions start in 2021)
PATTERN6_SCENARIOS = ("baseline", "microlending", "training", "transport", "recommendations")
PATTERN6_YEARS = (2021, 2030)


def pattern_6(annual: pd.DataFrame) -> PatternResult:
    """Micro-lending raises HamJi's human security and regime revenue; training and transport add to it.

    Paired over seeds against ``baseline`` (common random numbers), 2021-30: micro-lending's mean
    change in HamJi's HSI and in regime revenue are both above zero, and the paper's three together
    (``recommendations``) raise HamJi's HSI by more than micro-lending alone.
    """
    from hamji.compare import REVENUE_LABEL, differences

    d = differences(annual, PATTERN6_YEARS, "baseline").set_index(["scenario", "outcome"])
    hsi = {s: float(d.loc[(s, "HSI, HamJi"), "mean_change"]) for s in PATTERN6_SCENARIOS[1:]}
    rev = {s: float(d.loc[(s, REVENUE_LABEL), "mean_change"]) for s in PATTERN6_SCENARIOS[1:]}
    ok = hsi["microlending"] > 0 and rev["microlending"] > 0 and hsi["recommendations"] > hsi["microlending"]
    return PatternResult(6, "Micro-lending raises HamJi's human security and regime revenue; training and transport add to it",
                         hsi["microlending"],
                         "2021-30 vs baseline, mean over seeds: micro-lending HSI HamJi > 0 and regime revenue > 0;"
                         " recommendations HSI HamJi > micro-lending's", bool(ok),
                         "; ".join(f"{s} HSI {hsi[s]:+.4f}, revenue {rev[s]:+.2f} M$/yr" for s in PATTERN6_SCENARIOS[1:]))


def evaluate_pattern_6(seeds: int = 3, scale: int = 1000, workers: int = 1,
                       progress: Callable[[int, int], None] | None = None) -> PatternResult:
    """Run the five scenarios of pattern 6 (forked from a common trunk) and return its result."""
    from hamji.ensemble import run_grouped

    annual = run_grouped(list(PATTERN6_SCENARIOS), list(range(1, seeds + 1)), scale, dt.date(2000, 1, 3),
                         dt.date(PATTERN6_YEARS[1], 12, 30), workers=workers, progress=progress)
    return pattern_6(annual)


#: pattern 8: the year before the sanctions and the years after them (the closure starts in 2020)
PATTERN8_BEFORE = (2016, 2016)
PATTERN8_AFTER = (2018, 2019)
#: thresholds, set from the record, not from the model: China's customs figures as issue 14 gives them
#: (DPRK exports to China fell by about 90% from 2016 to 2018, its imports from China by about a third;
#: ``china_dprk_trade.csv`` ends in 2016, so they are not in the shipped data). Exports must fall by more
#: than half, and by at least 0.25 more than imports (about half the recorded gap of some 0.57)
PATTERN8_EXPORT_FALL_MIN = 0.5
PATTERN8_GAP_MIN = 0.25


def pattern_8(a: pd.DataFrame) -> PatternResult:
    """The 2017 sanctions cut exports far more than imports, and regime revenue by less than exports.

    ``history`` scenario, per seed, DPRK: the fall of the 2018-19 mean against 2016 of exports to China
    (customs trade, without the evasion channel), imports from China and regime revenue. Holds if in every
    seed exports fall by more than :data:`PATTERN8_EXPORT_FALL_MIN`, by at least :data:`PATTERN8_GAP_MIN`
    more than imports, and regime revenue falls by less than exports. The statistic is the mean gap
    (exports' fall minus imports' fall).
    """
    def fall(metric: str) -> pd.Series:
        return 1.0 - _val(a, metric, "DPRK", PATTERN8_AFTER) / _val(a, metric, "DPRK", PATTERN8_BEFORE)

    ex, im, rev = fall("exports_usd"), fall("imports_usd"), fall("regime_revenue_usd")
    gap = ex - im
    ok = bool((ex > PATTERN8_EXPORT_FALL_MIN).all() and (gap > PATTERN8_GAP_MIN).all() and (rev < ex).all())
    return PatternResult(8, "The 2017 sanctions cut exports far more than imports, and regime revenue by less than exports",
                         float(gap.mean()),
                         f"history, 2018-19 mean vs 2016, every seed: exports fall > {PATTERN8_EXPORT_FALL_MIN:g},"
                         f" exports' fall - imports' fall > {PATTERN8_GAP_MIN:g}, regime revenue's fall < exports'"
                         " (record: exports about -90%, imports about -33%)", ok,
                         f"exports {-100 * ex.mean():+.0f}%, imports {-100 * im.mean():+.0f}%, regime revenue"
                         f" {-100 * rev.mean():+.0f}% (mean over {len(ex)} seeds; per seed exports"
                         f" {', '.join(f'{-100 * x:+.0f}%' for x in ex)}, imports {', '.join(f'{-100 * x:+.0f}%' for x in im)})")


def evaluate_pattern_8(seeds: int = 3, scale: int = 1000, workers: int = 1,
                       progress: Callable[[int, int], None] | None = None) -> PatternResult:
    """Run ``history`` from 2000 to the end of 2019 over ``seeds`` seeds and return pattern 8."""
    tasks = [Task("history", s, scale, dt.date(2000, 1, 3), dt.date(PATTERN8_AFTER[1], 12, 30))
             for s in range(1, seeds + 1)]
    return pattern_8(run_ensemble(tasks, workers=workers, progress=progress))
