"""The committed reference pages match the code."""

from __future__ import annotations

from pathlib import Path

from hamji.docs import metrics_page, odd_page, parameters_page

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_metrics_page_is_current():
    assert (DOCS / "metrics.md").read_text(encoding="utf-8") == metrics_page(), "run: python -m hamji.docs"


def test_parameters_page_is_current():
    assert (DOCS / "parameters.md").read_text(encoding="utf-8") == parameters_page(), "run: python -m hamji.docs"


def test_odd_submodels_are_current_and_cover_every_module():
    from hamji.modules import PLAN

    text = (DOCS / "ODD.md").read_text(encoding="utf-8")
    assert text == odd_page(text), "run: python -m hamji.docs"
    for cls in PLAN:
        assert f"`{cls.name}`" in text
    for section in ("## 1. Purpose and patterns", "## 2. Entities", "## 3. Process overview", "## 4. Design concepts",
                    "## 5. Initialization", "## 6. Input data", "## 7. Submodels"):
        assert section in text
