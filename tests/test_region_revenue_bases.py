"""The revenue bases' compiled week gives what the NumPy expressions it replaced give, to the bit (issue 18).

The capacity shift under bans runs only in the history scenario; these cases also cover a province without
unbanned bases, the cap on unbanned capacity, companies without free cash and bases at full infrastructure.
"""

from __future__ import annotations

import numpy as np
import pytest

from hamji.modules.revenue_bases import (
    BASES_TALLY,
    COMMODITIES,
    UNBANNED,
    Bases,
    BasesPars,
    Owners,
    Workforce,
    _output_and_pay,
    _shift,
)

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
