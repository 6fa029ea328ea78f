"""The patterns of MODEL.md section 6 (1-6, 8-11), the rice price level (12) and the won's market rate (13) hold
over several seeds at a small scale.

One ensemble (6 seeds; paired runs with forgery off and remittances off) is shared by the tests;
each pattern's statistic, threshold and margin are in :mod:`hamji.analysis.patterns`.
"""

from __future__ import annotations

import pytest

from hamji.analysis.patterns import evaluate, evaluate_closure, evaluate_pattern_6, pattern_8, pattern_13, rice_level
from hamji.analysis.validation import run_history


@pytest.fixture(scope="module")
def patterns():
    return {r.number: r for r in evaluate(seeds=6, scale=1000, workers=2)}


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_pattern_holds(patterns, number):
    r = patterns[number]
    assert r.passed, f"pattern {number} ({r.name}): {r.detail}; needs {r.threshold}"


def test_pattern_figures_are_in_a_plausible_band(patterns):
    # North Hamgyong's income relative to South Hwanghae rises by a tenth or more over the 2000s
    assert patterns[1].statistic > 0.1
    # bribes track market activity closely
    assert patterns[3].statistic > 0.9
    # forgery is a stimulus of sorts, not a transformation: a few to a few tens of percent more trade
    assert 0.02 < patterns[4].statistic < 0.6
    # remittances land mostly in HamJi, as defectors' origins do (> 75% from N. Hamgyong and Ryanggang)
    assert patterns[5].statistic > 0.7


def test_pattern_6_the_recommendations_raise_human_security_and_regime_revenue():
    """Micro-lending, training and transport against baseline (paired seeds, forked from a common trunk)."""
    r = evaluate_pattern_6(seeds=4, scale=1000, workers=2)
    assert r.passed, f"pattern 6: {r.detail}; needs {r.threshold}"


@pytest.fixture(scope="module")
def history():
    """history from 2000 to prices.csv's last year (2026), 3 seeds at 1:1000: pattern 8, the rice price level and the
    won's market rate."""
    return run_history(3, 1000, 2)


def test_pattern_8_the_2017_sanctions_cut_exports_far_more_than_imports_and_revenue(history):
    """history, 2018-19 against 2016 (thresholds from the record, in hamji.analysis.patterns)."""
    r = pattern_8(history)
    assert r.passed, f"pattern 8: {r.detail}; needs {r.threshold}"


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


def test_pattern_13_the_wons_market_rate_follows_prices_csv(history):
    """The won per US$ (history, 3 seeds): every yearly mean over 2013-2019 within 20% of prices.csv, and the 2021
    mean at least 20% below 2019's (the closure's appreciation; prices.csv -29%)."""
    r = pattern_13(history)
    assert r.passed, f"pattern 13: {r.detail}; needs {r.threshold}"
