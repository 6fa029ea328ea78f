"""Tests of "North Korea, Inc.": revenue bases, wah-ku, exports and the revenue funnel.

Runs use only the four modules (plus nothing else), small scales and short periods, so they are
fast and independent of the society modules. Figures are real-world (metrics are scaled).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hamji.errors import UserError
from hamji.modules import Exports, Funnel, RevenueBases, Wahku
from hamji.modules.funnel import revenue_split
from hamji.modules.revenue_bases import COMMODITIES, DEPOSITS
from hamji.modules.wahku import choose_forged_ratio, year_fraction_left
from hamji.scenario import EventSpec, Scenario, ScenarioSpec
from hamji.sim import Sim

MODULES = [RevenueBases, Wahku, Exports, Funnel]
SEEDS = (1, 2, 3)


def make(seed: int = 1, scale: int = 1000, end: dt.date = dt.date(2002, 12, 31), **overrides) -> Sim:
    """A sim with the four modules only, 2000 to ``end``."""
    return Sim(seed=seed, scale=scale, end=end, modules=MODULES, overrides=overrides or None)


def annual(sim: Sim, metric: str, region: str = "DPRK") -> dict[int, float]:
    """Year -> annual value of ``metric`` in ``region`` (as ``Results.annual``, for one series)."""
    res = sim.results
    frame = pd.DataFrame({"v": weekly(sim, metric, region), "year": sim.dates.year})
    how = res.metrics[metric].annual
    g = frame.groupby("year").v
    out = g.sum(min_count=1) if how == "sum" else g.last() if how == "last" else g.mean()
    return {int(y): float(v) for y, v in out.items() if np.isfinite(v)}


def weekly(sim: Sim, metric: str, region: str = "DPRK") -> np.ndarray:
    """Weekly values of ``metric`` in ``region``."""
    res = sim.results
    return res.values[:, res.unit_names.index(region), res._col[metric]]


def module(sim: Sim, name: str):
    return next(m for m in sim.modules if m.name == name)


# -- revenue bases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1000, 2000])
def test_companies_and_bases_are_placed_by_the_rules(scale: int) -> None:
    sim = make(scale=scale)
    sim.initialize()
    comp, b, hh, w = sim.people.companies, sim.people.bases, sim.people.households, sim.world
    # companies are not scaled: 200-250 nationally, ~30 in Ryanggang, all three branches
    assert comp.n == sim.pars.n_companies == 225
    assert (comp.home == w.index["Ryanggang"]).sum() == 30
    assert set(np.unique(comp.branch)) == {0, 1, 2}
    # bases sit in their owner's home province, on that province's deposits
    assert np.array_equal(comp.home[b.company], b.region)
    for j, c in enumerate(COMMODITIES):
        regions = {w.names[g] for g in np.unique(b.region[b.commodity == j])}
        assert regions == set(DEPOSITS[c])
        # volumes are divided by the scale: real national capacity is preserved
        assert b.capacity[b.commodity == j].sum() * scale == pytest.approx(sim.pars[f"capacity_{c}_t"], rel=1e-9)
    # local workers are households of the base's province; conscripts come from the camps
    workers = np.flatnonzero(hh.employer >= 0)
    assert len(workers) == b.workers.sum() > 0
    assert np.array_equal(hh.region[workers], b.region[hh.employer[workers]])
    assert b.conscripts.sum() * scale <= sim.pars.conscript_max_share * w.military_camps + 1e-6
    assert (hh.employer[hh.employer < 0] == -1).all()


def test_workforce_matches_productivity_at_any_scale() -> None:
    """Households at bases times the scale match capacity / productivity x local share (within noise)."""
    pars = make().pars
    expected = sum(pars[f"capacity_{c}_t"] / pars[f"productivity_{c}_t"] for c in COMMODITIES) * (1 - pars.conscript_share)
    for scale, tol in ((200, 0.12), (1000, 0.3)):
        sims = [make(seed=s, scale=scale, end=dt.date(2000, 1, 10)).run() for s in SEEDS]
        got = np.mean([annual(s, "revenue_base_workers")[2000] for s in sims])
        assert got == pytest.approx(expected, rel=tol)
        conscripts = annual(sims[0], "base_conscripts")[2000]
        assert conscripts == pytest.approx(expected * pars.conscript_share / (1 - pars.conscript_share), rel=1e-4)


def test_wages_go_to_present_workers_from_company_cash() -> None:
    sim = make()
    sim.initialize()
    hh, comp = sim.people.households, sim.people.companies
    workers = np.flatnonzero(hh.employer >= 0)
    detained = workers[::3]
    hh.detained[detained] = 5
    cash0 = comp.cash.sum()
    sim.step()
    wage = sim.pars.base_wage_usd_week
    present = np.setdiff1d(workers, detained)
    assert np.allclose(hh.income[present], wage)
    assert (hh.income[detained] == 0).all()
    others = np.setdiff1d(np.arange(hh.n), workers)
    assert (hh.income[others] == 0).all()  # only base wages exist in this four-module run
    paid = weekly(sim, "base_wages_usd")[0] / sim.scale
    assert paid == pytest.approx(wage * len(present), rel=1e-6)
    # company cash changed by export sales minus funnel outflows minus wages (books close)
    assert sim.books.max_rel_residual < 1e-9
    assert comp.cash.sum() != cash0


def test_output_follows_labour_and_infrastructure() -> None:
    sim = make()
    sim.initialize()
    b, hh, pars = sim.people.bases, sim.people.households, sim.pars
    k = int(np.argmax(b.workers))  # the base with most local workers
    hh.detained[hh.employer == k] = 3
    sim.step()
    labour = b.conscripts[k] / (b.conscripts[k] + b.workers[k])
    expected = b.capacity[k] / 52 * b.infra[k] * labour ** pars.labour_elasticity
    assert b.output[k] == pytest.approx(expected, rel=1e-6)
    assert b.infra[k] < pars.infrastructure_initial  # decayed one week


def test_exports_fall_when_infrastructure_decays() -> None:
    for seed in SEEDS[:2]:
        decay = make(seed=seed, end=dt.date(2009, 12, 31)).run()
        flat = make(seed=seed, end=dt.date(2009, 12, 31), infrastructure_decay_on=False).run()
        e, f = annual(decay, "exports_usd"), annual(flat, "exports_usd")
        assert e[2009] < 0.88 * e[2001]  # about 2% a year lost net of the companies' investment
        assert all(e[y + 1] < e[y] for y in range(2001, 2009))
        assert f[2009] == pytest.approx(f[2001], rel=0.03)
        i = annual(decay, "infrastructure_index")
        assert i[2009] < i[2001]


# -- wah-ku ----------------------------------------------------------------------------------------

def test_forged_ratio_choice() -> None:
    h = np.array([0.0, 0.1, 0.3, 1.0, 5.0])
    m = choose_forged_ratio(h, margin=0.25, fine=1.0, m_max=1.0)
    assert m[0] == 1.0  # no risk: forge as much as allowed
    assert np.all(np.diff(m) <= 0) and m[-1] < m[2] < m[0]  # more risk, less forgery
    assert (choose_forged_ratio(h, margin=0.0, fine=1.0, m_max=1.0) == 0).all()  # no gain, no forgery
    # interior optimum near the small-risk approximation m* = a / (2 h (c + a / 2))
    assert m[3] == pytest.approx(0.25 / (2 * 1.0 * 1.125), abs=0.03)


def test_quotas_are_issued_from_expected_output() -> None:
    sim = make()
    sim.initialize()
    sim.step()  # week 0 is a new quota year
    b, comp, pars = sim.people.bases, sim.people.companies, sim.pars
    frac = year_fraction_left(sim.dates[0].date())
    for j, c in enumerate(COMMODITIES):
        mine = b.commodity == j
        issued = pars.wahku_quota_share * np.bincount(b.company[mine], weights=b.capacity[mine], minlength=comp.n) * frac
        left = getattr(comp, f"quota_{c}")
        # one week of exports has used at most a week's share of the quota
        assert np.all(left <= issued * (1 + 1e-9) * 1.0)
        assert left.sum() > 0.9 * issued.sum()
    assert (comp.forged_ratio >= 0).all() and comp.forged_ratio.max() <= pars.forgery_max_ratio
    assert comp.forged_ratio.mean() > 0.1


def test_forgery_raises_trade_volume() -> None:
    gains, cover_gains = [], []
    for seed in SEEDS:
        on = make(seed=seed, end=dt.date(2003, 12, 31)).run()
        off = make(seed=seed, end=dt.date(2003, 12, 31), forgery_on=False).run()
        t_on, t_off = sum(annual(on, "exports_t").values()), sum(annual(off, "exports_t").values())
        gains.append(t_on / t_off - 1)
        cover_gains.append(sum(annual(on, "wholesale_cover_usd").values()) / sum(annual(off, "wholesale_cover_usd").values()) - 1)
        assert np.nanmax(weekly(off, "forged_share")) == 0
        assert sum(annual(off, "wahku_detections").values()) == 0
        assert np.nanmean(weekly(on, "forged_share")) > 0.1
    # forgery adds about a fifth to exported tonnes (real quota = 0.8 of output) and widens cover
    assert min(gains) > 0.12 and max(gains) < 0.35
    assert min(cover_gains) > 0.3


def test_crackdown_reduces_forgery() -> None:
    for seed in SEEDS[:2]:
        normal = make(seed=seed, end=dt.date(2003, 12, 31)).run()
        crack = make(seed=seed, end=dt.date(2003, 12, 31), wahku_crackdown=4.0).run()
        assert np.nanmean(weekly(crack, "wahku_forged_ratio")) < 0.5 * np.nanmean(weekly(normal, "wahku_forged_ratio"))
        assert sum(annual(crack, "exports_t").values()) < sum(annual(normal, "exports_t").values())


def test_detection_punishes_and_cancels_forged_quota() -> None:
    sim = make(end=dt.date(2001, 12, 31), wahku_detection_rate=3.0, forgery_margin=0.9, company_initial_cash_weeks=20)
    sim.run()
    comp, pars = sim.people.companies, sim.pars
    caught = comp.detected
    assert caught.sum() > 10
    for c in COMMODITIES:
        assert (getattr(comp, f"forged_{c}")[caught] == 0).all()
    assert (comp.forged_ratio[caught] == 0).all()
    bribes = sum(annual(sim, "wahku_bribes_usd").values())
    fines = sum(annual(sim, "wahku_fines_usd").values())
    assert bribes > 0 and bribes / (bribes + fines) == pytest.approx(pars.wahku_bribe_share, rel=1e-9)
    assert sim.accounts.officials.sum() > 0  # bribes reached officials of the companies' home provinces
    assert int(comp.detections.sum()) == int(sum(annual(sim, "wahku_detections").values()))
    assert sim.books.max_rel_residual < 1e-9


def test_wholesale_cover_is_set_and_unlimited_without_quotas() -> None:
    sim = make(end=dt.date(2000, 3, 1)).run()
    assert np.isfinite(sim.market.wholesale_cover) and sim.market.wholesale_cover > 0
    free = make(end=dt.date(2000, 3, 1), wahku_on=False).run()
    assert np.isinf(free.market.wholesale_cover)
    # without quotas exports are limited by output and crossings only: more than with quotas
    assert sum(annual(free, "exports_t").values()) > sum(annual(sim, "exports_t").values())


# -- exports ---------------------------------------------------------------------------------------

def test_coal_ban_from_a_date_stops_coal_only() -> None:
    start = dt.date(2001, 6, 6)
    spec = ScenarioSpec(name="coal ban", events=[EventSpec(type="set_parameters", start=start, params={"ban_coal": True})])
    for seed in SEEDS[:2]:
        sim = Sim(scenario=Scenario(spec, "test"), seed=seed, scale=1000, end=dt.date(2002, 6, 30), modules=MODULES).run()
        week = int(np.flatnonzero(sim.dates <= np.datetime64(start))[-1])
        coal = weekly(sim, "exports_coal_usd")
        assert (coal[:week] > 0).all()
        assert (coal[week:] == 0).all()
        for c in ("iron_ore", "seafood", "timber", "textiles", "light", "unbanned"):
            assert (weekly(sim, f"exports_{c}_usd")[week:] > 0).all()
        assert sim.books.max_rel_residual < 1e-9


def test_sanctions_master_switch_and_border_closure() -> None:
    off = make(end=dt.date(2000, 6, 30), ban_coal=True, sanctions_on=False).run()
    assert (weekly(off, "exports_coal_usd") > 0).all()
    closed = make(end=dt.date(2000, 6, 30), border_open=0.0).run()
    assert np.nansum(weekly(closed, "exports_usd")) == 0
    assert np.nansum(weekly(closed, "company_imports_usd")) == 0


def test_exports_respect_crossing_capacity() -> None:
    sim = make(end=dt.date(2000, 3, 31), crossing_capacity_multiplier=0.1)
    sim.initialize()
    for _ in range(10):
        sim.step()
        cap = sim.borders.capacity_t_year * 0.1 / 52 / sim.scale
        assert np.all(sim.borders.used_t <= cap * (1 + 1e-9))
    assert np.nansum(weekly(sim, "export_capacity_blocked_t")[:10]) > 0


def test_baseline_magnitudes() -> None:
    sim = make(end=dt.date(2003, 12, 31)).run()
    e = annual(sim, "exports_usd")
    assert 2e8 < e[2003] < 8e8  # "a few hundred M$" (395 M$ in 2003, china_dprk_trade.csv)
    coal = annual(sim, "exports_coal_usd")[2003]
    parts = sum(annual(sim, f"exports_{c}_usd")[2003] for c in COMMODITIES)
    assert parts == pytest.approx(e[2003], rel=1e-9)
    assert 0.1 < coal / e[2003] < 0.6
    # HamJi exports come from its provinces' bases
    assert annual(sim, "exports_usd", "HamJi")[2003] > 0


# -- funnel and books ------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [
    {},
    {"leader_share": 0.5, "budget_share_of_rest": 0.2, "import_share_of_rest": 0.4 / 0.4, "wahku_crackdown": 3.0,
     "crossing_capacity_multiplier": 0.3, "consumer_goods_usd_per_t": 300.0},
])
def test_every_dollar_of_revenue_ends_in_one_sink(overrides: dict) -> None:
    for seed in SEEDS:
        sim = make(seed=seed, end=dt.date(2001, 12, 31), **overrides).run()
        t = module(sim, "funnel").totals
        leader_share, budget_share, import_share = revenue_split(sim.pars)
        sinks = t["leader"] + t["budgets"] + t["imports"] + t["retained"]
        assert sinks == pytest.approx(t["revenue"], rel=1e-9)
        assert t["leader"] == pytest.approx(leader_share * t["revenue"], rel=1e-9)
        # the budgets get their share, plus the import money the home markets could not absorb
        assert t["budgets"] == pytest.approx(budget_share * t["revenue"] + t["unabsorbed"], rel=1e-9)
        assert t["imports"] + t["unabsorbed"] <= import_share * t["revenue"] * (1 + 1e-9)
        # without retail, revenue is exactly the export sales from Chinese buyers
        assert t["revenue"] == pytest.approx(sim.books.inflows["export_sales"], rel=1e-9)
        # the recorded series agree with the totals (scaled)
        assert sum(annual(sim, "company_revenue_usd").values()) == pytest.approx(t["revenue"] * sim.scale, rel=1e-9)
        budgets = sum(sum(annual(sim, f"budget_{b}_usd").values()) for b in ("kpa", "kwp", "cabinet"))
        assert budgets == pytest.approx(t["budgets"] * sim.scale, rel=1e-9)
        assert sim.books.max_rel_residual < 1e-9
    if overrides:
        assert t["imports"] < 0.99 * import_share * t["revenue"]  # crossing room bound: money kept


def test_company_imports_become_goods_in_the_north() -> None:
    sim = make(end=dt.date(2000, 12, 31))
    sim.initialize()
    cap0 = sim.people.merchants.capital.sum()
    sim.run()
    comp, market = sim.people.companies, sim.market
    imports = sum(annual(sim, "company_imports_usd").values())
    assert imports == pytest.approx(module(sim, "funnel").totals["imports"] * sim.scale, rel=1e-9)
    state = sum(annual(sim, "state_imports_usd").values())
    assert sum(annual(sim, "imports_usd").values()) == pytest.approx(imports + state, rel=1e-9)  # no wholesale here
    # nobody sells them here (no retail module): goods and claims pile up at landed cost
    assert market.goods_company.sum() == pytest.approx(comp.goods_claim.sum(), rel=1e-9)
    assert market.goods_company.sum() * sim.scale == pytest.approx(imports, rel=1e-9)
    margin = sim.pars.merchant_margin
    assert sim.people.merchants.capital.sum() - cap0 == pytest.approx(margin * imports / sim.scale, rel=1e-6)


def test_state_accounts_are_spent_and_stay_bounded() -> None:
    sim = make(end=dt.date(2005, 12, 31)).run()
    pars = sim.pars
    inflow = annual(sim, "leader_fund_usd")[2005] / 52
    level = annual(sim, "leader_accounts_usd")[2005]
    assert level < 1.2 * inflow / pars.leader_spending_rate  # steady state inflow / rate
    assert sum(annual(sim, "leader_spending_usd").values()) > 0
    assert sum(annual(sim, "state_spending_usd").values()) > 0
    assert sim.books.outflows["leader_spending"] > 0 and sim.books.outflows["state_spending"] > 0


@pytest.mark.parametrize("leader, budget, imports", [(1.0, 1.0, 1.0), (0.0, 1.0, 1.0), (0.6, 1.0, 0.0), (0.3, 0.0, 1.0)])
def test_any_funnel_shares_within_their_ranges_split_at_most_the_revenue(leader, budget, imports) -> None:
    """Each share is a share of what the ones before leave, so every corner of the box is a valid split."""
    sim = make(end=dt.date(2000, 6, 1), leader_share=leader, budget_share_of_rest=budget,
               import_share_of_rest=imports).run()
    t = module(sim, "funnel").totals
    split = revenue_split(sim.pars)
    assert sum(split) <= 1.0 + 1e-12 and min(split) >= 0.0
    assert t["leader"] + t["budgets"] + t["imports"] + t["retained"] == pytest.approx(t["revenue"], rel=1e-9)
    assert t["leader"] == pytest.approx(leader * t["revenue"], rel=1e-9)


def test_old_funnel_share_names_say_what_replaced_them() -> None:
    with pytest.raises(UserError, match="use budget_share_of_rest"):
        make(end=dt.date(2000, 2, 1), budget_share=0.5)


def test_annual_helper_matches_results_annual() -> None:
    sim = make(end=dt.date(2001, 12, 31)).run()
    a = sim.results.annual()
    for metric in ("exports_usd", "forged_share", "company_cash_usd", "wholesale_cover_usd"):
        q = a[(a.metric == metric) & (a.region == "DPRK")]
        assert annual(sim, metric) == pytest.approx(dict(zip(q.year.astype(int), q.value)), rel=1e-12)


def test_same_seed_same_results() -> None:
    a = make(seed=7, end=dt.date(2001, 6, 30)).run()
    b = make(seed=7, end=dt.date(2001, 6, 30)).run()
    c = make(seed=8, end=dt.date(2001, 6, 30)).run()
    assert np.array_equal(a.results.values, b.results.values, equal_nan=True)
    assert not np.array_equal(a.results.values, c.results.values, equal_nan=True)


# -- the regime's foreign-currency account -----------------------------------------------------------

def test_reserves_take_named_outside_inflows_and_pay_state_imports_with_balanced_books() -> None:
    sim = make(end=dt.date(2003, 12, 31), fx_arms_usd_year=1e8).run()
    real = sim.scale
    for flow, par in (("fx_workers_abroad", "fx_workers_abroad_usd_year"), ("fx_cyber_theft", "fx_cyber_theft_usd_year"),
                      ("fx_arms", "fx_arms_usd_year")):
        assert sim.books.inflows[flow] * real == pytest.approx(sim.pars[par] / 52 * sim.n_weeks, rel=1e-9)
        assert sum(annual(sim, f"{flow}_usd").values()) == pytest.approx(sim.books.inflows[flow] * real, rel=1e-9)
    state = sum(annual(sim, "state_imports_usd").values())
    assert state == pytest.approx(sim.books.outflows["state_imports"] * real, rel=1e-9) and state > 0
    # the reserves' own account: opening + inflows - state imports - spending abroad = closing
    fx_in = sum(annual(sim, "state_fx_spending_usd").values()) + sum(
        sim.books.inflows[f] * real for f in ("fx_workers_abroad", "fx_cyber_theft", "fx_arms"))
    closing = annual(sim, "reserves_usd")[2003]
    abroad = sim.books.outflows["reserves_spending_abroad"] * real
    assert closing == pytest.approx(sim.pars.reserves_initial_usd + fx_in - state - abroad, rel=1e-9)
    assert closing <= sim.pars.reserves_cap_weeks * module(sim, "funnel").habit * real * (1 + 1e-9)
    assert sim.books.max_rel_residual < 1e-9


def test_state_imports_do_not_collapse_the_week_exports_stop() -> None:
    bans = {f"ban_{c}": True for c in COMMODITIES}
    spec = ScenarioSpec(name="embargo", events=[EventSpec(type="set_parameters", start=dt.date(2003, 1, 6), params=bans)])
    sim = Sim(scenario=Scenario(spec, "test"), seed=1, scale=1000, end=dt.date(2004, 12, 31), modules=MODULES,
              overrides={"evasion_on": False}).run()
    week = int(np.flatnonzero(sim.dates <= np.datetime64("2003-01-06"))[-1])
    assert (weekly(sim, "exports_usd")[week:] == 0).all()
    state = weekly(sim, "state_imports_usd")
    before = state[week - 8:week].mean()
    # the habitual bill falls over state_import_habit_weeks, paid from the reserves: not at once
    assert state[week:week + 4].mean() > 0.8 * before
    assert state[week + 52:].mean() < state[week:week + 4].mean()
    assert sim.books.max_rel_residual < 1e-9


def test_banned_capacity_moves_to_the_goods_outside_the_bans() -> None:
    bans = {"ban_coal": True, "ban_textiles": True}
    spec = ScenarioSpec(name="bans", events=[EventSpec(type="set_parameters", start=dt.date(2001, 1, 1), params=bans)])
    sim = Sim(scenario=Scenario(spec, "test"), seed=1, scale=1000, end=dt.date(2002, 12, 31), modules=MODULES).run()
    b = sim.people.bases
    pars = sim.pars
    cap = {c: b.capacity[b.commodity == j].sum() * sim.scale for j, c in enumerate(COMMODITIES)}
    assert cap["iron_ore"] == pytest.approx(pars.capacity_iron_ore_t, rel=1e-9)  # not banned: unchanged
    assert cap["coal"] < pars.capacity_coal_t and cap["textiles"] < pars.capacity_textiles_t
    # the workforce moved from coal and textiles makes unbanned goods, within the demand ceiling
    moved = (pars.capacity_coal_t - cap["coal"]) / pars.productivity_coal_t + \
        (pars.capacity_textiles_t - cap["textiles"]) / pars.productivity_textiles_t
    gained = cap["unbanned"] - pars.capacity_unbanned_t
    assert gained == pytest.approx(moved * pars.productivity_unbanned_t, rel=1e-6)
    assert cap["unbanned"] <= pars.unbanned_capacity_max_multiple * pars.capacity_unbanned_t * (1 + 1e-9)


def test_light_goods_classes_and_fx_ranges_follow_the_data() -> None:
    from hamji import data
    from hamji.parameters import REGISTRY

    hs = data.load("china_imports_from_dprk_by_hs.csv").set_index("hs_code").china_imports_from_dprk_usd
    rest = hs["TOTAL"] - hs["2701"] - hs["2601"] - hs["03"]  # goods outside coal, iron ore and seafood
    textiles, unbanned = hs["61"] + hs["62"], hs["6704"] + hs["2716"]
    light_cap = sum(REGISTRY[f"capacity_{c}_t"].default for c in ("textiles", "light", "unbanned"))
    assert REGISTRY["capacity_textiles_t"].default / light_cap == pytest.approx(textiles / rest, abs=0.005)
    assert REGISTRY["capacity_unbanned_t"].default / light_cap == pytest.approx(unbanned / rest, abs=0.0005)
    fx = data.load("regime_fx_sources.csv")
    yearly = fx[fx.basis.str.startswith("per year")]
    for channel, par in (("overseas_workers", "fx_workers_abroad_usd_year"), ("cyber_theft", "fx_cyber_theft_usd_year")):
        spec = REGISTRY[par]
        for v in yearly[yearly.channel == channel].usd_m:
            assert spec.low <= v * 1e6 <= spec.high, (par, v)
    coal = fx[fx.channel == "illicit_coal_by_sea"].iloc[0]
    months = 8  # 2019-01-01 to 2019-08-31
    assert coal.period_start == "2019-01-01" and coal.period_end == "2019-08-31"
    assert REGISTRY["evasion_capacity_usd_year"].default == pytest.approx(coal.usd_m * 1e6 * 12 / months)


NEW_PARAMETERS = ("capacity_textiles_t", "capacity_light_t", "capacity_unbanned_t", "price_textiles_usd_t",
                  "price_light_usd_t", "price_unbanned_usd_t", "productivity_unbanned_t", "sanctions_shift_rate",
                  "unbanned_capacity_max_multiple", "evasion_capacity_usd_year", "evasion_discount", "evasion_seizure_share",
                  "evasion_enforcement", "fx_workers_abroad_usd_year", "fx_cyber_theft_usd_year", "fx_arms_usd_year",
                  "reserves_initial_usd", "reserves_cap_weeks", "state_import_habit_weeks")


@pytest.mark.parametrize("name", NEW_PARAMETERS)
def test_the_post_2016_parameters_run_at_both_ends_of_their_ranges(name) -> None:
    from hamji.parameters import REGISTRY

    spec = REGISTRY[name]
    for value in (spec.low, spec.high):
        sim = Sim("sanctions", seed=1, scale=20000, start=dt.date(2017, 6, 5), end=dt.date(2018, 2, 26),
                  overrides={name: value}).run()
        assert sim.books.max_rel_residual < 1e-9, (name, value)
