"""The revenue bases' compiled week gives what the NumPy expressions it replaced give, to the bit (issue 18).

The capacity shift under bans runs only in the history scenario; these cases also cover a province without
unbanned bases, the cap on unbanned capacity, companies without free cash and bases at full infrastructure.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _nkinc import MODULES, SEEDS, annual, make, weekly

from hamji.modules.revenue_bases import (
    BASES_TALLY,
    COMMODITIES,
    DEPOSITS,
    UNBANNED,
    Bases,
    BasesPars,
    Owners,
    Workforce,
    _output_and_pay,
    _shift,
)
from hamji.scenario import EventSpec, Scenario, ScenarioSpec
from hamji.sim import Sim

R = 15


def week_pars(**values) -> BasesPars:
    """A parameter record of the bases' week: ``values``, the rest neutral."""
    neutral = dict(decay=np.float32(1.0), shift=False, shift_share=0.0, banned=np.zeros(len(COMMODITIES), dtype=bool),
                   productivity=np.zeros(len(COMMODITIES)), productivity_unbanned_t=0.0, unbanned_max=0.0,
                   stock_max_weeks=0.0, base_wage_usd_week=0.0, base_investment_on=False,
                   company_cash_reserve_weeks=0.0, infrastructure_cost_years=0.0, infrastructure_initial=np.float32(1.0))
    return BasesPars(**{**neutral, **values})


def bases(seed: int, n: int = 300, n_comp: int = 120) -> dict:
    rng = np.random.default_rng(seed)
    region = rng.integers(0, R, n).astype(np.int8)
    commodity = rng.integers(0, len(COMMODITIES), n).astype(np.int8)
    commodity[(region == 3) & (commodity == UNBANNED)] = 0  # a province without unbanned bases
    capacity = rng.lognormal(3.0, 1.0, n)
    capacity[rng.random(n) < 0.05] = 0.0
    return dict(region=region, commodity=commodity, capacity=capacity,
                company=rng.integers(0, n_comp, n).astype(np.int32), infra=rng.uniform(0.3, 1.0, n).astype(np.float32),
                n_comp=n_comp, rng=rng)


def reference_shift(capacity, commodity, region, banned, f, productivity, prod_unb, cap_max):
    """RevenueBases.shift as NumPy computed it."""
    unb = commodity == UNBANNED
    if not unb.any():
        return np.zeros(R)
    give = np.where(banned[commodity], capacity * f, 0.0)
    add = give / productivity[commodity] * prod_unb
    room = max(cap_max - float(capacity[unb].sum()), 0.0)
    total = float(add.sum())
    if total <= 0 or room <= 0:
        return np.zeros(R)
    k = min(1.0, room / total)
    give *= k
    add *= k
    capacity -= give
    add_r = np.bincount(region, weights=add, minlength=R)
    cap_unb_r = np.bincount(region[unb], weights=capacity[unb], minlength=R)
    has = cap_unb_r > 0
    national = add_r[~has].sum()
    w_local = np.where(unb, capacity / np.where(has, cap_unb_r, 1.0)[region], 0.0)
    w_nat = np.where(unb, capacity / cap_unb_r.sum(), 0.0)
    gain = w_local * np.where(has, add_r, 0.0)[region] + w_nat * national
    capacity += gain
    return np.bincount(region, weights=gain, minlength=R)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cap_multiple", [1.01, 2.0, 1e6])  # the cap binds, partly, never
def test_shift_is_numpys(seed: int, cap_multiple: float) -> None:
    b = bases(seed)
    banned = np.array([True, False, True, False, True, True, False])
    productivity = b["rng"].uniform(5.0, 50.0, len(COMMODITIES))
    f = 1.0 - (1.0 - 0.25) ** (1.0 / 52.0)
    cap_max = cap_multiple * float(b["capacity"][b["commodity"] == UNBANNED].sum())
    cap_ref = b["capacity"].copy()
    want = reference_shift(cap_ref, b["commodity"], b["region"], banned, f, productivity, 2.0, cap_max)
    cap = b["capacity"].copy()
    got = np.full(R, np.nan)
    p = week_pars(shift=True, shift_share=f, banned=banned, productivity=productivity, productivity_unbanned_t=2.0,
                  unbanned_max=cap_max)
    _shift(cap, b["commodity"], b["region"], p, got)
    assert want.sum() > 0 and want[3] == 0.0  # capacity moved, none to the province without unbanned bases
    assert np.array_equal(got, want) and np.array_equal(cap, cap_ref)


def reference_rest(b: dict, hh: dict, comp: dict, lp: np.ndarray, pars: dict, prices: np.ndarray,
                   capacity_r: np.ndarray) -> tuple:
    """Output, wages and investment (RevenueBases.step and .invest) as NumPy computed them."""
    weekly_cap = b["capacity"] * pars["volume_week"]
    output = weekly_cap * b["infra"] * lp
    stock = np.minimum(b["stock"] + output, pars["stock_max_weeks"] * weekly_cap)
    wh, wb = hh["worker_hh"], hh["worker_base"]
    present = hh["detained"][wh] == 0
    wcomp = b["company"][wb]
    owed = np.bincount(wcomp, weights=present * pars["wage"], minlength=len(comp["cash"]))
    avail = np.maximum(comp["cash"] - comp["revenue"], 0.0)
    frac = np.where(owed > 0, np.minimum(1.0, avail / np.where(owed > 0, owed, 1.0)), 0.0)
    pay = present * pars["wage"] * frac[wcomp]
    hh["cash"][wh] += pay
    hh["income"][wh] += pay.astype(np.float32)
    comp["cash"] -= np.bincount(wcomp, weights=pay, minlength=len(comp["cash"]))
    paid_r = np.bincount(hh["region"][wh], weights=pay, minlength=R)
    excess = np.maximum(comp["cash"] - comp["revenue"], 0.0) - pars["reserve_weeks"] * comp["weekly_value"]
    infra = b["infra"]
    inv_r, total = np.zeros(R), None
    if (excess > 0).any():
        cost_b = pars["cost_years"] * (b["capacity"] * prices[b["commodity"]])
        gap_cost = np.maximum(pars["infra_initial"] - infra, 0.0) * cost_b
        room = np.bincount(b["company"], weights=gap_cost, minlength=len(comp["cash"]))
        spend = np.minimum(np.maximum(excess, 0.0), room)
        share = np.where(room > 0, spend / np.where(room > 0, room, 1.0), 0.0)
        inv_b = gap_cost * share[b["company"]]
        infra += (inv_b / np.where(cost_b > 0, cost_b, 1.0)).astype(np.float32)
        np.minimum(infra, np.float32(pars["infra_initial"]), out=infra)
        comp["cash"] -= spend
        total = spend.sum()
        inv_r = np.bincount(b["region"], weights=inv_b, minlength=R)
    infra_r = np.bincount(b["region"], weights=b["capacity"] * infra, minlength=R)
    infra_r[capacity_r <= 0] = np.nan
    table = {"base_output_t": np.bincount(b["region"], weights=output, minlength=R),
             "infrastructure_index": infra_r / np.where(capacity_r <= 0, 1.0, capacity_r), "base_wages_usd": paid_r,
             "base_investment_usd": inv_r,
             "unbanned_capacity_t": np.bincount(b["region"], weights=np.where(b["commodity"] == UNBANNED, b["capacity"],
                                                                                0.0), minlength=R)}
    return output, stock, total, table


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("infra_initial", [1.0, 0.85])
def test_output_wages_and_investment_are_numpys(seed: int, infra_initial: float) -> None:
    b = bases(seed)
    rng = b["rng"]
    n, nc = len(b["capacity"]), b["n_comp"]
    b["stock"] = rng.uniform(0.0, 5.0, n)
    b["infra"][rng.random(n) < 0.2] = np.float32(infra_initial)  # already fully restored
    n_hh = 400
    hh = dict(cash=rng.normal(10.0, 3.0, n_hh), income=rng.uniform(0, 5, n_hh).astype(np.float32),
              region=rng.integers(0, R, n_hh).astype(np.int8), detained=(rng.random(n_hh) < 0.2).astype(np.int16),
              worker_hh=np.sort(rng.choice(n_hh, 150, replace=False)).astype(np.int64))
    hh["worker_base"] = rng.integers(0, n, len(hh["worker_hh"])).astype(np.int64)
    comp = dict(cash=rng.normal(40.0, 30.0, nc), revenue=rng.uniform(0.0, 10.0, nc),
                weekly_value=rng.uniform(0.1, 8.0, nc))
    pars = dict(stock_max_weeks=8.0, volume_week=1.3 / 52.0, wage=0.5, reserve_weeks=4.0, cost_years=10.0,
                infra_initial=infra_initial)
    p = week_pars(stock_max_weeks=pars["stock_max_weeks"], base_wage_usd_week=pars["wage"], base_investment_on=True,
                  company_cash_reserve_weeks=pars["reserve_weeks"], infrastructure_cost_years=pars["cost_years"],
                  infrastructure_initial=np.float32(infra_initial))
    prices = rng.uniform(20.0, 900.0, len(COMMODITIES))
    lp = rng.uniform(0.0, 1.0, n) ** 0.7
    capacity_r = np.bincount(b["region"], weights=b["capacity"], minlength=R)
    capacity_r[4] = 0.0  # a province without bases

    ref_b = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in b.items()}
    ref_hh = {k: v.copy() for k, v in hh.items()}
    ref_comp = {k: v.copy() for k, v in comp.items()}
    output, stock, total, table = reference_rest(ref_b, ref_hh, ref_comp, lp, pars, prices, capacity_r)

    out, st, infra = np.zeros(n), b["stock"].copy(), b["infra"].copy()
    none = np.zeros(n)  # what the rest of the week does not read
    bases_ = Bases(b["capacity"], infra, b["commodity"], b["region"], b["company"], none, none, out, st, none, lp)
    workforce = Workforce(hh["worker_hh"], hh["worker_base"], hh["detained"], hh["cash"], hh["income"], hh["region"])
    tally = np.zeros(R, dtype=BASES_TALLY)
    for name in BASES_TALLY.names:
        tally[name] = capacity_r if name == "capacity" else np.nan
    invested, got_total = _output_and_pay(bases_, workforce, Owners(comp["cash"], comp["revenue"], comp["weekly_value"]),
                                          p, pars["volume_week"], prices, tally)
    assert np.array_equal(out, output) and np.array_equal(st, stock) and np.array_equal(infra, ref_b["infra"])
    assert invested and total is not None and got_total == total
    for k in ("cash", "income"):
        assert np.array_equal(hh[k], ref_hh[k])
    assert np.array_equal(comp["cash"], ref_comp["cash"])
    for name, want in table.items():
        assert np.array_equal(tally[name], want, equal_nan=True), name
    assert np.isnan(tally["sanctions_shifted_t"]).all()  # left to _shift


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
