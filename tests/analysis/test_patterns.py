"""The patterns of MODEL.md section 6 (1-6, 8-11), the rice price level (12), the won's market rate (13), rice in the
closure (14) and the staples' chain (15) hold over several seeds at a small scale.

One ensemble (6 seeds; paired runs with forgery off and remittances off) is shared by the tests;
each pattern's statistic, threshold and margin are in :mod:`hamji.analysis.patterns`.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from hamji.analysis.ensemble import Task, run_ensemble, run_grouped
from hamji.analysis.patterns import (
    CAPITAL_BINDS,
    GRAIN_TAKEOVER_EVENTS,
    data_kpw_per_usd,
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
from hamji.analysis.validation import run_history
from hamji.scenario import builtin_path


@pytest.fixture(scope="module")
def patterns():
    return {r.number: r for r in evaluate(seeds=6, scale=1000, workers=2)}


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_pattern_holds(patterns, number):
    r = patterns[number]
    assert r.passed, f"pattern {number} ({r.name}): {r.detail}; needs {r.threshold}"


def test_pattern_5_remittances_land_in_hamji_and_lift_its_trading_capital_against_the_rest(patterns):
    """Remittances concentrate in HamJi (share > 0.7) and raise its traders' cash and foreign currency relative to the
    rest of the country by more than five points. Since the won's rate is a state (fx_market), the pattern as
    MODEL.md states it (a gain in HamJi in every seed) fails: remittances make the won start strong and fall further
    as imports grow, and the revaluation of won holdings takes about as much from HamJi's traders in US$ as the money
    they receive adds (docs/validation.md)."""
    r = patterns[5]
    share = float(r.detail.split("HamJi share ")[1].split(";")[0])
    hamji = float(r.detail.split("trading capital HamJi ")[1].split("%")[0])
    rest = float(r.detail.split("rest ")[1].split("%")[0])
    assert share > 0.7 and hamji - rest > 5.0, r.detail


def test_pattern_figures_are_in_a_plausible_band(patterns):
    # North Hamgyong's income relative to South Hwanghae rises by a tenth or more over the 2000s
    assert patterns[1].statistic > 0.1
    # bribes track market activity closely
    assert patterns[3].statistic > 0.9
    # forgery is a stimulus of sorts, not a transformation: a few to a few tens of percent more trade
    assert 0.02 < patterns[4].statistic < 0.6
    # remittances land mostly in HamJi, as defectors' origins do (> 75% from N. Hamgyong and Ryanggang)
    assert patterns[5].statistic > 0.7


def test_pattern_6_micro_lending_does_nothing_where_merchants_have_spare_cash():
    """At the record's margins, turnover and credit terms (issue 30) the Jilin merchants never run short of cash, so
    a loan to one changes no trade and nothing in the North; training and transport still raise HamJi's HSI. The
    paper's pattern 6 (micro-lending raises it) fails at these defaults: docs/uncertainty.md."""
    r = evaluate_pattern_6(seeds=3, scale=1000, workers=2)
    assert not r.passed
    assert abs(r.statistic) < 2e-4, r.detail  # micro-lending's change in HamJi's HSI, 2021-30
    training = float(r.detail.split("training HSI ")[1].split(",")[0])
    assert training > 0.005, r.detail


def test_where_the_merchants_cash_binds_micro_lending_moves_trade_and_human_security():
    """Where partners buy half of each delivery on credit for eight weeks and capital turns five times a year (the
    tight end of the record: CAPITAL_BINDS), a loan relieves a merchant's cash and the partners import more; what
    that does to HamJi's human security then depends on the rest of the model (with the staples' chain the extra
    imports lower the food price and the farmers' and producers' income: docs/uncertainty.md), so the test asks only
    that it is no longer nothing."""
    annual = run_grouped(["baseline", "microlending"], [1, 2], 1000, dt.date(2008, 1, 7), dt.date(2020, 12, 28), workers=2,
                         overrides={s: dict(CAPITAL_BINDS) for s in (1, 2)})

    def effect(metric: str, region: str) -> float:
        a = annual[(annual.metric == metric) & (annual.region == region) & annual.year.between(2016, 2020)]
        m = a.groupby("scenario").value.mean()
        return float(m["microlending"] - m["baseline"])

    assert effect("merchant_wholesale_usd", "DPRK") > 1e6  # US$ a year more Chinese goods reach the partners
    assert abs(effect("hsi_mean", "HamJi")) > 1e-4


@pytest.fixture(scope="module")
def history():
    """history from 2000 to prices.csv's last year (2026), 3 seeds at 1:1000: pattern 8, the rice price level and the
    won's market rate."""
    return run_history(3, 1000, 2)


def test_pattern_8_the_2017_sanctions_cut_exports_far_more_than_imports_and_revenue(history):
    """history, 2018-19 against 2016 (thresholds from the record, in hamji.analysis.patterns)."""
    r = pattern_8(history)
    assert r.passed, f"pattern 8: {r.detail}; needs {r.threshold}"


def test_pattern_15_the_chain_from_the_chinese_export_price_to_the_market(history):
    """Imported staples sell 40-70% above what their owners paid in China over 2010-2016, as the record has it."""
    r = pattern_15(history)
    assert r.passed, f"pattern 15: {r.detail}; needs {r.threshold}"


def test_pattern_14_fails_without_the_grain_takeover(history):
    """history as shipped, 3 seeds: without the state's grain takeover rice in won falls from 2020 to 2022 (the won
    rises and incomes shrink) where prices.csv has +25%: pattern 14 fails, as docs/validation.md says."""
    r = pattern_14(history)
    assert not r.passed, r.detail


def test_pattern_14_holds_with_the_grain_takeover(tmp_path):
    """history with the state's grain takeover from 2021 (GRAIN_TAKEOVER_EVENTS), 3 seeds: rice in won rises from 2020
    to 2022 (at least 15% on average over seeds; prices.csv +25%) and rice in US$ over 2021-22 stands above 2019
    (prices.csv +34%), overshooting it but not by half again; out of sample. It is not switched on in history because
    the human security index then rises with the prices (history.yaml)."""
    spec = yaml.safe_load(builtin_path("history").read_text(encoding="utf-8"))
    spec["name"] = "history_grain_takeover"
    spec["events"] = list(spec["events"]) + [dict(e) for e in GRAIN_TAKEOVER_EVENTS]
    path = tmp_path / "history_grain_takeover.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    h = run_ensemble([Task(str(path), s, 1000, dt.date(2000, 1, 3), dt.date(2024, 12, 30)) for s in (1, 2, 3)], workers=2)
    r = pattern_14(h)
    assert r.passed, f"pattern 14: {r.detail}; needs {r.threshold}"
    u = model_rice_usd(h)
    usd = (u[[2021, 2022]].mean(axis=1) / u[2019]).mean()
    assert 1.0 < usd < 1.34 * 1.5, r.detail


@pytest.fixture(scope="module")
def closure():
    """Patterns 9-11: baseline, border_closure and forgery_crackdown forked from a common trunk (3 seeds, 1:1000)."""
    return {r.number: r for r in evaluate_closure(seeds=3, scale=1000, workers=2)}


@pytest.mark.parametrize("number", [9, 10, 11])
def test_closure_and_crackdown_patterns_hold(closure, number):
    r = closure[number]
    assert r.passed, f"pattern {number} ({r.name}): {r.detail}; needs {r.threshold}"


def test_rice_price_level_is_within_a_quarter_of_the_data_2010_16(history):
    """The yearly mean rice price in US$ (history, 3 seeds) within 25% of prices.csv on average over 2010-2016."""
    r, table = rice_level(history)
    assert r.passed, f"{r.detail}; needs {r.threshold}"
    assert set(table.index) >= set(range(2010, 2025))  # 2017-2024 reported out of sample


def test_pattern_13_the_wons_rate_follows_prices_csv_but_for_2013(history):
    """The won per US$ (history, 3 seeds): the closure's appreciation (the 2021 mean at least 20% below 2019's;
    prices.csv -29%) and every yearly mean over 2014-2019 within 20% of prices.csv on average over seeds. 2013 is the
    known miss, about a quarter low: one adjustment speed cannot follow both the slow climb of 2010 and the fast one
    of 2012-13 (fx_market.yaml), so pattern 13 as MODEL.md states it (2013-2019) fails on 2013 alone."""
    r = pattern_13(history)
    m, d = model_kpw_per_usd(history), data_kpw_per_usd()
    err = m.mean() / d - 1
    assert all(abs(err[y]) < 0.2 for y in range(2014, 2020)), r.detail
    assert (m[2021] / m[2019] - 1).mean() <= -0.2, r.detail
    assert -0.4 < err[2013] < -0.1, r.detail
    assert not r.passed
