"""The wholesale module's compiled region-level steps equal the NumPy code they replace, to the bit (issue 18).

The weekly paths of a run are checked by the bit-identical runs; these tests also reach the branches a
run at small scale rarely takes: the last-resort payment of share_out, merchants without SME loans or
microloans, partners without live ties.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from _markets import MINE, ONE_YEAR, SCALE, TWO_YEARS, run, series, total

from hamji.modules.wholesale import WEEKS_A_YEAR, Merchants, WholesalePars, _merchant_finance, _share_out, _with_ties
from hamji.payments import share_out
from hamji.sim import Sim


def _households(rng: np.random.Generator, n: int, r: int) -> SimpleNamespace:
    region = np.sort(rng.integers(0, r, n)).astype(np.int8)
    return SimpleNamespace(region=region, cash=rng.random(n) * 50, fx=rng.random(n) * 20,
                           income=(rng.random(n) * 5).astype(np.float32),
                           market_income=(rng.random(n) * 3).astype(np.float32))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weighted", [False, True])
def test_share_out_to_one_group_equals_distribution_share_out(seed: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    r, n = 15, 400
    hh = _households(rng, n, r)
    # members in some provinces only (the others are paid by the last resort), some amounts zero or negative
    members = np.flatnonzero(np.isin(hh.region, rng.choice(r, 6, replace=False)) & (rng.random(n) < 0.4))
    amounts = np.where(rng.random(r) < 0.3, 0.0, rng.normal(100, 80, r))
    amounts[:3] = [0.0, -5.0, 7.5]
    weights = rng.random(len(members)) * (rng.random(len(members)) < 0.8) if weighted else None
    region = hh.region.astype(np.intp)
    trade = SimpleNamespace(region=region)  # the trade state share_out reads (sim.trade)
    sim = SimpleNamespace(people=SimpleNamespace(households=hh), trade=trade)
    fx, income, market_income = hh.fx.copy(), hh.income.copy(), hh.market_income.copy()
    share_out(sim, amounts, [(members, weights)], fx=True)
    _share_out(amounts, members, np.zeros(0) if weights is None else weights, region, fx, income, market_income)
    assert np.array_equal(fx, hh.fx) and np.array_equal(income, hh.income)
    assert np.array_equal(market_income, hh.market_income)


def _finance_numpy(m: SimpleNamespace, pars: dict, incentive_year: bool, new_year: bool, r: int) -> tuple:
    """The NumPy code of Wholesale._incentives and _drawings before issue 18 (books flows: None if none)."""
    paid = np.zeros(len(m.capital))
    flows = [None, None, None]
    if incentive_year:
        trading = m.jilin & (m.partners > 0)
        eligible = trading if trading.any() else m.jilin
        paid += np.where(eligible, pars["grant"] / 52.0, 0.0)
        if new_year:
            loan = np.where(eligible, pars["loan"], 0.0)
            m.sme_loans += loan
            paid += loan
        if paid.any():
            m.capital += paid
            flows[0] = paid.sum()
    if m.sme_loans.any():
        principal = m.sme_loans / pars["term"]
        interest = m.sme_loans * pars["rate"] / 52.0
        due = principal + interest
        pay = np.minimum(np.maximum(m.capital, 0.0), due)
        m.sme_loans -= np.where(due > 0, pay * principal / np.where(due > 0, due, 1.0), 0.0)
        m.capital -= pay
        flows[1] = pay.sum()
    if pars["drawings"] > 0:
        equity = m.capital + m.receivables - m.sme_loans
        if m.microloans is not None:
            equity = equity - m.microloans
        d = np.minimum(np.maximum(equity, 0.0) * pars["drawings"], np.maximum(m.capital, 0.0))
        m.capital -= d
        flows[2] = d.sum()
    return flows, np.bincount(m.region, weights=paid, minlength=r)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("incentive_year,new_year", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("loans,micro,drawings", [(True, True, 0.01), (False, False, 0.0), (True, False, 0.02)])
def test_merchant_finance_equals_numpy(seed: int, incentive_year: bool, new_year: bool, loans: bool, micro: bool,
                                       drawings: float) -> None:
    rng = np.random.default_rng(seed)
    r, n = 15, 40  # more than 8 merchants: NumPy's pairwise sums
    region = rng.integers(11, r, n).astype(np.int8)
    m = SimpleNamespace(region=region, jilin=region <= 12, partners=(rng.integers(0, 3, n) * (seed > 0)).astype(np.int16),
                        capital=rng.normal(5000, 4000, n), sme_loans=rng.random(n) * 3000 * loans,
                        microloans=rng.random(n) * 800 if micro else None, receivables=rng.random(n) * 600 * loans)
    pars = {"grant": 1500.0, "loan": 4000.0, "term": 156, "rate": 0.02, "drawings": drawings}
    c = SimpleNamespace(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(m).items()})
    flows, paid_r = _finance_numpy(m, pars, incentive_year, new_year, r)
    sales, got_r = np.ones(n, dtype=np.float32), np.full(r, np.nan)
    record = WholesalePars(*(np.nan for _ in WholesalePars._fields))._replace(
        grant_week=pars["grant"] / WEEKS_A_YEAR, loan_usd=pars["loan"], term_weeks=float(pars["term"]),
        loan_rate=pars["rate"], drawings=drawings)
    mer = Merchants(c.region, c.jilin, c.partners, c.capital, c.sme_loans,
                    np.zeros(0) if c.microloans is None else c.microloans, np.ones(n, dtype=np.float32), sales, c.receivables)
    got = _merchant_finance(mer, record, incentive_year, new_year, got_r)
    assert [None if g != g else g for g in got] == flows
    assert np.array_equal(got_r, paid_r) and not sales.any()
    assert np.array_equal(c.capital, m.capital) and np.array_equal(c.sme_loans, m.sme_loans)


def test_partners_with_ties_equal_numpy() -> None:
    rng = np.random.default_rng(3)
    n, ties = 500, 300
    b = rng.integers(0, n, ties + 50).astype(np.int32)
    s = (rng.random(ties + 50) * (rng.random(ties + 50) < 0.7)).astype(np.float32)
    idx = np.sort(rng.choice(n, 120, replace=False)).astype(np.int64)
    has_tie = np.zeros(n, dtype=np.bool_)
    has_tie[b[:ties][s[:ties] > 0]] = True
    assert np.array_equal(_with_ties(idx, b, s, ties, n), idx[has_tie[idx]])


# -- wholesale and its three limits ---------------------------------------------------------------
def test_wholesale_happens_and_is_mostly_near_the_border(base):
    assert total(base, "merchant_wholesale_usd") > 1e6
    assert total(base, "nk_goods_sold_usd") > 1e6
    near = total(base, "merchant_wholesale_usd", "HamJi") + sum(
        total(base, "merchant_wholesale_usd", p) for p in ("North Pyongan", "Jagang"))
    assert near > 0.6 * total(base, "merchant_wholesale_usd")
    # partners' purchases are what the core records as merchants' imports
    assert np.allclose(series(base, "merchant_wholesale_usd"), series(base, "imports_usd"))


def test_wholesale_limited_by_merchant_capital(base):
    poor = run(TWO_YEARS, modules=MINE, merchant_capital_usd=1000.0, wholesale_merchant_turnover=0.01,
               wholesale_sme_grant_usd=0.0, wholesale_sme_loan_usd=0.0, wholesale_credit_share=0.0)
    first = slice(0, 13)  # margins rebuild capital later: compare the first quarter
    assert np.nansum(series(poor, "merchant_wholesale_usd")[first]) < 0.5 * np.nansum(series(base, "merchant_wholesale_usd")[first])
    # each week no Chinese area sells more than its merchants can supply
    sim = Sim(seed=1, scale=SCALE, start=ONE_YEAR[0], end=ONE_YEAR[1], modules=MINE,
              overrides=dict(merchant_capital_usd=1000.0, wholesale_merchant_turnover=0.01,
                             wholesale_sme_grant_usd=0.0, wholesale_sme_loan_usd=0.0, wholesale_credit_share=0.0))
    sim.initialize()
    mer = sim.people.merchants
    for _ in range(30):
        cap = np.bincount(mer.region, weights=mer.capital * mer.productivity, minlength=sim.world.n_regions)
        after_drawings = cap * (1.0 - sim.pars.wholesale_merchant_drawings)
        sim.step()
        sold = np.bincount(mer.region, weights=mer.sales, minlength=sim.world.n_regions)
        assert np.all(sold <= after_drawings * sim.pars.wholesale_merchant_turnover * (1 + 1e-6) + 1e-9)


def test_wholesale_limited_by_wahku_cover():
    sim = Sim(seed=1, scale=SCALE, start=ONE_YEAR[0], end=ONE_YEAR[1], modules=MINE)
    sim.initialize()
    cover = 50.0  # simulated US$ of partner imports covered each week
    bought = []
    for _ in range(26):
        sim.market.wholesale_cover = cover
        sim.step()
        bought.append(sim.market.imports_wholesale.sum())
    assert max(bought) <= cover * (1 + 1e-9)
    assert sum(bought) > 0


def test_wholesale_limited_by_crossing_capacity():
    closed = run(modules=MINE, border_open=0.0)
    assert total(closed, "merchant_wholesale_usd") == 0.0
    assert total(closed, "nk_goods_sold_usd") == 0.0
    share = 0.0005
    tight = run(modules=MINE, border_open=share)
    sim = tight
    cap_usd_week = (sim.borders.capacity_t_year.sum() * share / 52.0) * sim.pars.consumer_goods_usd_per_t
    weekly = series(sim, "merchant_wholesale_usd")
    assert weekly.max() <= cap_usd_week * (1 + 1e-9)
    assert weekly.sum() > 0


def test_sme_incentives_paid_in_their_years_only():
    sim = run((dt.date(2005, 1, 3), dt.date(2006, 12, 31)), modules=MINE)
    a = sim.results.annual()
    paid = a[(a.metric == "sme_incentives_usd") & (a.region == "Jilin")].set_index("year").value
    assert paid.loc[2005] > 0 and paid.get(2006, 0.0) == 0.0
    assert sim.books.inflows["sme_incentives"] > 0 and sim.books.outflows["sme_loan_service"] > 0


# -- trade credit (issue 30: border_trade_evidence.csv, topics credit and turnover) -----------------
def _claims_and_debts(sim: Sim) -> tuple[float, float]:
    return float(sim.people.merchants.receivables.sum()), float(sim.people.households.trade_debt.sum())


def test_trade_credit_claims_equal_debts_and_money_is_conserved():
    sim = Sim(seed=2, scale=SCALE, start=TWO_YEARS[0], end=TWO_YEARS[1], modules=MINE)
    sim.initialize()
    seen = 0.0
    for _ in range(60):
        sim.step()
        claims, debts = _claims_and_debts(sim)
        assert claims == pytest.approx(debts, rel=1e-9, abs=1e-6)
        seen = max(seen, claims)
    assert seen > 0  # partners do buy on credit at the defaults
    assert sim.books.max_rel_residual < 1e-9


def test_cash_and_carry_extends_no_credit():
    sim = run(modules=MINE, wholesale_credit_share=0.0)
    assert _claims_and_debts(sim) == (0.0, 0.0)
    assert total(sim, "merchant_credit_usd", "Jilin") == 0.0 and total(sim, "merchant_credit_losses_usd", "Jilin") == 0.0


def test_credit_ties_up_merchants_cash_and_lets_partners_buy_more(base):
    cash = run(modules=MINE, wholesale_credit_share=0.0)
    much = run(modules=MINE, wholesale_credit_share=0.5, wholesale_credit_weeks=8.0)
    late = slice(26, 52)
    credit = series(much, "merchant_credit_usd", "Jilin")[late].mean()
    assert credit > 0.5 * series(much, "merchant_wholesale_usd", "Jilin")[late].mean()  # weeks of sales outstanding
    assert series(much, "merchant_capital_usd", "Jilin")[late].mean() < series(cash, "merchant_capital_usd", "Jilin")[late].mean()
    assert total(much, "merchant_wholesale_usd") > total(cash, "merchant_wholesale_usd")


def test_credit_outstanding_follows_the_repayment_rule():
    """In steady trade the claims are about credit_share x weekly sales x credit_weeks; longer credit, more claims."""
    short = run(modules=MINE, wholesale_credit_weeks=2.0)
    long = run(modules=MINE, wholesale_credit_weeks=6.0)
    late = slice(26, 52)

    def weeks_outstanding(sim: Sim) -> float:
        credit = series(sim, "merchant_credit_usd", "Jilin")[late].mean()
        return credit / (sim.pars.wholesale_credit_share * series(sim, "merchant_wholesale_usd", "Jilin")[late].mean())

    assert 1.0 < weeks_outstanding(short) < 3.0
    assert 4.0 < weeks_outstanding(long) < 8.0


def test_a_closure_freezes_repayments_and_the_losses_follow_the_loss_rate():
    sim = Sim(seed=1, scale=SCALE, start=ONE_YEAR[0], end=ONE_YEAR[1], modules=MINE,
              overrides=dict(wholesale_credit_share=0.5, wholesale_credit_weeks=4.0))
    sim.initialize()
    for _ in range(26):
        sim.step()
    before, _ = _claims_and_debts(sim)
    assert before > 0
    sim.pars.set("border_trips_open", 0.0)  # traders stop crossing: no orders, no repayments
    sim.pars.set("border_open", 0.0)
    for m in sim.modules:
        m.parameters_changed(sim, frozenset({"border_trips_open", "border_open"}))
    weeks = 10
    for _ in range(weeks):
        sim.step()
    after, debts = _claims_and_debts(sim)
    kept = (1.0 - sim.pars.wholesale_credit_loss_rate) ** (weeks / 52.0)
    assert after == pytest.approx(before * kept, rel=1e-6)  # only the write-offs reduced the claims
    assert debts == pytest.approx(after, rel=1e-9)
    lost = sum(series(sim, "merchant_credit_losses_usd", a)[26:26 + weeks].sum() for a in ("Jilin", "Dandong")) / sim.scale
    assert lost == pytest.approx(before - after, rel=1e-6)
