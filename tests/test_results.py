"""Results (hamji.results): the annual table."""

from __future__ import annotations

import datetime as dt

import pytest
from _nkinc import annual, make


def test_annual_helper_matches_results_annual() -> None:
    sim = make(end=dt.date(2001, 12, 31)).run()
    a = sim.results.annual()
    for metric in ("exports_usd", "forged_share", "company_cash_usd", "wholesale_cover_usd"):
        q = a[(a.metric == metric) & (a.region == "DPRK")]
        assert annual(sim, metric) == pytest.approx(dict(zip(q.year.astype(int), q.value)), rel=1e-12)
