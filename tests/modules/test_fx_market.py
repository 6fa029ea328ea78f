"""The market for foreign currency (hamji.modules.fx_market): the won's rate answers shocks as the record does.

prices.csv has the won falling from about 38 new won per US$ before the 2009 redenomination to about 8,000 by 2013,
and rising (fewer won per US$) while the border was closed in 2020-22; border_trade_evidence.csv (rows ``fx``)
names the import stop and, after the reopening, import demand as the movers.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _markets import series

from hamji.modules.fx_market import FxMarket
from hamji.scenario import Scenario, ScenarioSpec
from hamji.sim import Sim

SCALE = 1000
START, END = dt.date(2000, 1, 3), dt.date(2006, 12, 31)


def run(events=(), end=END, seed: int = 1, **overrides) -> Sim:
    spec = ScenarioSpec(name="fx test", events=list(events))
    return Sim(Scenario(spec, "test", overrides), seed=seed, scale=SCALE, start=START, end=end).run()


def year_mean(sim: Sim, metric: str, year: int) -> float:
    years = np.array([d.year for d in sim.dates])
    return float(np.nanmean(series(sim, metric)[years == year]))


def fx(sim: Sim) -> FxMarket:
    return next(m for m in sim.modules if m.name == "fx_market")


@pytest.fixture(scope="module")
def base() -> Sim:
    return run()


def test_the_week_is_the_docstrings_formula() -> None:
    """One week by hand: the flows' moving averages, E* = A (D~/S~)^eta, the log partial adjustment, and the
    revaluation of households' won by E_old / E_new."""
    s = Sim(seed=2, scale=SCALE, start=START, end=dt.date(2001, 12, 31), overrides={"fx_rebalancing": 0.02})
    s.initialize()
    for _ in range(60):
        s.step()
    m, p = fx(s), s.pars
    rate, s_ema, d_ema = m.rate, m.supply_ema, m.demand_ema
    s.step()
    res = s.results
    supply = res.values[s.week, res.unit_names.index("DPRK"), res._col["fx_supply_usd"]] / SCALE
    demand = res.values[s.week, res.unit_names.index("DPRK"), res._col["fx_demand_usd"]] / SCALE
    s_new = s_ema + p.fx_flow_smoothing * (supply - s_ema)
    d_new = d_ema + p.fx_flow_smoothing * (demand - d_ema)
    assert m.supply_ema == pytest.approx(s_new, rel=1e-12) and m.demand_ema == pytest.approx(d_new, rel=1e-12)
    target = np.log(m.anchor) + p.fx_flow_elasticity * np.log(d_new / s_new)
    assert m.rate == pytest.approx(np.exp(np.log(rate) + p.fx_rate_adjustment * (target - np.log(rate))), rel=1e-12)
    reval = res.values[s.week, res.unit_names.index("DPRK"), res._col["won_revaluation_usd"]] / SCALE
    assert reval != 0.0 and np.sign(reval) == np.sign(rate - m.rate)  # the won falls: its holders lose
    # the revaluation: cash x (1 - theta (1 - E_old / E_new)), booked as the flow won_revaluation
    cash = s.people.households.cash
    before, out = cash.copy(), s.books.outflows["won_revaluation"]
    assert FxMarket._revalue(s, 0.8) == pytest.approx(-0.2 * before.sum(), rel=1e-12)
    assert np.allclose(cash, 0.8 * before, rtol=1e-15)
    assert s.books.outflows["won_revaluation"] - out == pytest.approx(0.2 * before.sum(), rel=1e-12)
    s.pars.set("fx_won_revaluation", 0.5, "test")
    before = cash.copy()
    assert FxMarket._revalue(s, 1.25) == pytest.approx(0.125 * before.sum(), rel=1e-12)  # appreciation: a gain


def test_more_foreign_currency_coming_in_appreciates_the_won(base: Sim) -> None:
    """Twice the Yanbian workers' remittances (foreign currency households earn and sell for won): fewer won per
    US$, and the supply of foreign currency larger, in every year after the first."""
    more = run(yanbian_remit_usd_per_worker_year=3000.0)
    for year in (2003, 2006):
        assert year_mean(more, "fx_supply_usd", year) > 1.2 * year_mean(base, "fx_supply_usd", year)
        assert year_mean(more, "kpw_per_usd", year) < 0.85 * year_mean(base, "kpw_per_usd", year)


def test_more_import_demand_depreciates_the_won(base: Sim) -> None:
    """Households wanting more of their money in foreign currency (a larger store-of-value share): more won per US$."""
    hoard = run(fx_store_share=0.4)
    assert year_mean(hoard, "fx_demand_usd", 2006) > 1.1 * year_mean(base, "fx_demand_usd", 2006)
    assert year_mean(hoard, "kpw_per_usd", 2006) > 1.1 * year_mean(base, "kpw_per_usd", 2006)


def test_a_redenomination_depreciates_the_won(base: Sim) -> None:
    """The 2009 redenomination as history has it (confiscation above the limit, the anchor devalued 291 times): the
    won loses most of its value within three years, climbing gradually as in prices.csv 2010-2013 (not at once);
    won holders lose US$ value as it falls (won_revaluation < 0), foreign-currency holders keep theirs."""
    shock = {"type": "currency_shock", "start": dt.date(2002, 1, 7),
             "params": {"loss_share": 0.9, "exempt_usd": 50.0, "devaluation": 291.0}}
    s = run([shock])
    before = year_mean(base, "kpw_per_usd", 2001)
    assert year_mean(s, "kpw_per_usd", 2001) == pytest.approx(before, rel=1e-12)  # nothing changes before it
    assert 5 < year_mean(s, "kpw_per_usd", 2002) / before < 100  # gradual, not the whole step in the first year
    assert year_mean(s, "kpw_per_usd", 2005) / before > 100
    assert s.books.outflows["won_revaluation"] > s.books.inflows.get("won_revaluation", 0.0)
    # the confiscation alone (devaluation 1) takes won, so households hold more of their money in foreign currency
    # than they want and sell it: the won does not fall, it rises a little
    alone = run([{**shock, "params": {"loss_share": 0.9, "exempt_usd": 50.0}}])
    assert year_mean(alone, "kpw_per_usd", 2003) < year_mean(base, "kpw_per_usd", 2003)


def test_a_closure_appreciates_the_won() -> None:
    """A border closure (2020 defaults: freight 5%, traders' trips 5%, couriers 30%) from 2004 cuts both the foreign
    currency households earn (sales to Jilin merchants, defectors' remittances) and the partners' imports that need
    it. Imports fall further (to about a twentieth) than earnings (the Yanbian workers' remittances go on), so demand
    falls more than supply and the won rises, as it did in 2020-22 (prices.csv: 8,160 in 2019, 5,790 in 2021)."""
    kw = {"end": dt.date(2006, 12, 31)}
    open_ = run(**kw)
    closed = run([{"type": "border_closure", "start": dt.date(2004, 1, 5)}], **kw)
    year = 2005
    s_fall = year_mean(closed, "fx_supply_usd", year) / year_mean(open_, "fx_supply_usd", year)
    d_fall = year_mean(closed, "fx_demand_usd", year) / year_mean(open_, "fx_demand_usd", year)
    assert d_fall < s_fall < 1.0
    assert year_mean(closed, "kpw_per_usd", year) < 0.8 * year_mean(open_, "kpw_per_usd", year)
    # won holders gain US$ value as the won rises: the books' inflow won_revaluation
    assert closed.books.inflows["won_revaluation"] > open_.books.inflows.get("won_revaluation", 0.0)


def test_money_is_conserved_with_the_market_on() -> None:
    """The books balance every week with the rate moving both ways (a redenomination, then a closure), and the
    revaluation is named in them: an outflow while the won falls, an inflow while it rises."""
    s = run([{"type": "currency_shock", "start": dt.date(2001, 1, 1), "params": {"devaluation": 100.0}},
             {"type": "border_closure", "start": dt.date(2004, 1, 5)}])
    assert s.books.max_rel_residual < 1e-9
    assert s.books.outflows["won_revaluation"] > 0 and s.books.inflows["won_revaluation"] > 0
    total = sum(s.books.totals().values())
    assert np.isfinite(total) and total > 0


def test_a_dated_change_of_the_anchor_moves_the_rate_gradually(base: Sim) -> None:
    """set_parameters on fx_kpw_per_usd_balanced from 2003: the rate nearly doubles over the following years, not at once."""
    double = 2.0 * base.pars.fx_kpw_per_usd_balanced
    s = run([{"type": "set_parameters", "start": dt.date(2003, 1, 6), "params": {"fx_kpw_per_usd_balanced": double}}])
    r = {y: year_mean(s, "kpw_per_usd", y) / year_mean(base, "kpw_per_usd", y) for y in (2002, 2003, 2006)}
    # (a little less than double: won holders lose US$ value as it falls, so they want less foreign currency)
    assert r[2002] == pytest.approx(1.0, rel=1e-12) and 1.1 < r[2003] < 1.6 < r[2006] < 2.0


def test_switched_off_the_rate_is_the_anchor_and_nothing_is_revalued() -> None:
    s = run(end=dt.date(2001, 12, 31), fx_market_on=False, fx_kpw_per_usd_balanced=8000.0)
    assert np.all(series(s, "kpw_per_usd") == 8000.0)
    assert "won_revaluation" not in s.books.inflows and "won_revaluation" not in s.books.outflows
    rice = series(s, "rice_price_kpw") / series(s, "rice_price_usd")
    assert np.allclose(rice, 8000.0, rtol=1e-12)


def test_rice_in_won_is_rice_in_usd_times_the_rate(base: Sim) -> None:
    rate = series(base, "kpw_per_usd", "North Hamgyong")
    rice = series(base, "rice_price_kpw", "North Hamgyong") / series(base, "rice_price_usd", "North Hamgyong")
    assert np.allclose(rice, rate, rtol=1e-12)


def test_the_rate_stays_positive_and_finite_over_31_years() -> None:
    """The history scenario from 2000 to 2030 at 1:1000 (the redenomination, the sanctions, the closure and after):
    one rate a week, positive and finite, in every province of the North (and NaN in Jilin)."""
    s = Sim("history", seed=1, scale=SCALE, start=dt.date(2000, 1, 3), end=dt.date(2030, 12, 30)).run()
    assert s.n_weeks > 31 * 52
    rate = series(s, "kpw_per_usd")
    assert np.all(np.isfinite(rate)) and np.all(rate > 0)
    assert np.all(np.isnan(series(s, "kpw_per_usd", "Yanbian")))
    assert s.books.max_rel_residual < 1e-9
    assert 10 < rate.max() / rate.min() < 1e4  # the redenomination moved it by about two orders of magnitude
