"""The parameters that decide micro-lending's effect stay within what the shipped record says (issue 30).

``src/hamji/data/border_trade_evidence.csv`` is the record; each test reads the row the parameter's source names, so
a default or a plausible range moved outside the evidence fails here, not in a reviewer's reading.
"""

from __future__ import annotations

import pandas as pd
import pytest

from hamji import data
from hamji.parameters import REGISTRY


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    return data.cached("border_trade_evidence.csv")


def row(record: pd.DataFrame, topic: str, words: str) -> pd.Series:
    hit = record[(record.topic == topic) & record.quantity.str.contains(words, regex=False)]
    assert len(hit) == 1, (topic, words)
    return hit.iloc[0]


def test_the_record_is_shipped_with_its_sources(record):
    assert len(record) == 27 and record.source.notna().all() and set(record.confidence) <= {"H", "M", "L"}
    assert "border_trade_evidence.csv" in (data.DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")


def test_the_merchants_margin_is_the_smugglers_commission_of_a_tenth_of_cost(record):
    commission = float(row(record, "merchant_margin", "smuggler's commission").low)  # share of the purchase cost
    p = REGISTRY["merchant_margin"]
    assert p.default == pytest.approx(commission / (1.0 + commission), abs=0.005)  # as a share of the price
    assert p.u_low < p.default < p.u_high <= 0.15


def test_the_turnover_is_six_to_twelve_turns_a_year(record):
    resale_months = float(row(record, "turnover", "resale cycle").high)
    settle_days = float(row(record, "turnover", "settlement after customs").high)
    cycle_weeks = resale_months * 52 / 12 + settle_days / 7  # buy, resell, be paid
    p = REGISTRY["wholesale_merchant_turnover"]
    assert 6 <= p.default * 52 <= 12
    assert p.default == pytest.approx(1.0 / cycle_weeks, rel=0.35)
    assert p.u_high * 52 <= 12.5 and p.u_low * 52 >= 5


def test_the_credit_is_repaid_within_the_weeks_after_customs_the_record_gives(record):
    settle_days = float(row(record, "turnover", "settlement after customs").high)
    p = REGISTRY["wholesale_credit_weeks"]
    assert settle_days / 7 <= p.default <= 2 * settle_days / 7 + 1


def test_the_chain_markup_is_the_2008_rice_chain_and_its_range_the_customs_figures(record):
    chain = row(record, "chain_markup", "Chinese customs export unit value to North Korean market price")
    p = REGISTRY["retail_staples_chain_markup"]
    assert (p.u_low, p.u_high) == (float(chain.low), float(chain.high))
    # 1,654 won/kg with the commission, 2,204 to the vendor, the sellers' margin on top (retail_food_seller_margin)
    vendor = 1504 * (1 + float(row(record, "chain_markup", "vendor's purchase price").low))
    export = 1504 * 1.10
    market = vendor / (1.0 - REGISTRY["retail_food_seller_margin"].default)
    assert p.default == pytest.approx(market / export - 1.0, abs=0.01)
