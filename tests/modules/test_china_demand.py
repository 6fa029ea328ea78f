"""China's demand driver and the state's own imports: the index, its effect on trade, and the books."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from hamji.modules.china_demand import demand_index
from hamji.parameters import Parameters
from hamji.sim import Sim


def test_demand_index_is_log_linear_to_the_peak_then_follows_the_post_peak_rate():
    p = Parameters({"china_demand_growth": 0.2, "china_demand_peak_year": 2010, "china_demand_post_growth": -0.1})
    assert demand_index(p, 2000.0) == pytest.approx(1.0)
    assert demand_index(p, 2010.0) == pytest.approx(math.exp(2.0))
    assert demand_index(p, 2015.0) == pytest.approx(math.exp(2.0 - 0.5))
    p.set("china_demand_on", False)
    assert demand_index(p, 2015.0) == 1.0


def _run(on: bool, seed: int = 1) -> Sim:
    return Sim("history", seed=seed, scale=5000, start=dt.date(2000, 1, 3), end=dt.date(2012, 12, 31),
               overrides={"china_demand_on": on}).run()


def _annual(sim: Sim, metric: str, year: int, region: str = "DPRK") -> float:
    a = sim.results.annual()
    return float(a[(a.metric == metric) & (a.year == year) & (a.region == region)].value.iloc[0])


@pytest.fixture(scope="module")
def runs():
    return {on: _run(on) for on in (True, False)}


def test_the_boom_raises_export_prices_volumes_and_trade(runs):
    on, off = runs[True], runs[False]
    p = on.pars
    d2012 = demand_index(p, 2012.5)
    # the price index is D^s, recorded every week
    assert _annual(on, "export_price_index", 2012) == pytest.approx(d2012 ** p.china_demand_price_share, rel=0.05)
    assert _annual(off, "export_price_index", 2012) == 1.0
    # exports grow several-fold with the boom and not without it
    assert _annual(on, "exports_usd", 2012) > 3 * _annual(off, "exports_usd", 2012)
    assert _annual(on, "exports_t", 2012) > 1.5 * _annual(off, "exports_t", 2012)
    assert _annual(on, "imports_usd", 2012) > 2 * _annual(off, "imports_usd", 2012)


def test_state_imports_land_in_the_capital_count_as_imports_and_the_books_balance(runs):
    sim = runs[True]
    state = _annual(sim, "state_imports_usd", 2012, "Pyongyang")
    assert state > 0
    assert _annual(sim, "state_imports_usd", 2012, "North Hamgyong") == 0
    parts = sum(_annual(sim, m, 2012) for m in ("company_imports_usd", "state_imports_usd"))
    assert _annual(sim, "imports_usd", 2012) >= parts * (1 - 1e-9)
    assert sim.books.max_rel_residual < 1e-9
    # the state's imports are paid from its reserves: never more than what the reserves held at the start
    # of the year plus what came in (its foreign-currency share of spending and the outside channels)
    spent = _annual(sim, "leader_spending_usd", 2012) + _annual(sim, "state_spending_usd", 2012)
    fx = _annual(sim, "state_fx_spending_usd", 2012)
    assert fx == pytest.approx(sim.pars.state_import_share * spent, rel=1e-9)
    outside = sum(_annual(sim, m, 2012) for m in ("fx_workers_abroad_usd", "fx_cyber_theft_usd", "fx_arms_usd"))
    assert state <= (_annual(sim, "reserves_usd", 2011) + fx + outside) * (1 + 1e-9)
