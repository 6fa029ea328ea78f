"""The committed reference pages match the code."""

from __future__ import annotations

from pathlib import Path

from hamji.docs import metrics_page, parameters_page

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_metrics_page_is_current():
    assert (DOCS / "metrics.md").read_text(encoding="utf-8") == metrics_page(), "run: python -m hamji.docs"


def test_parameters_page_is_current():
    assert (DOCS / "parameters.md").read_text(encoding="utf-8") == parameters_page(), "run: python -m hamji.docs"
