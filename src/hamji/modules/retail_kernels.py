"""The compiled week of :mod:`hamji.modules.retail`, in the order :meth:`Retail.step` calls it.

Arguments are the records of :mod:`hamji.modules.retail`: ``h`` the household arrays (:class:`Households`), ``x``
the province state kept between weeks (:class:`Provinces`), ``g`` the goods in the markets (:class:`Goods`),
``pars`` the parameters (:class:`RetailPars` as one NumPy record, :data:`PARS`: ``p = pars[0]``, then
``p.retail_margin``) and ``w`` this week's province values (a structured array of :data:`WEEK`, one record a
province: ``w.food[i]``), new every week.

Household passes go over the households in fixed blocks (``blocks``, a block lies in one province: see
hamji.kernels.household_blocks), in parallel, with float32 arithmetic as the NumPy formulas in the docstrings and
sums by block in float64 local variables, in household order (counts as integers); hamji.kernels.reduce_blocks adds
the blocks of each province in order. Province kernels compute the arithmetic between two household passes in one
call each (at small scales a week is mostly such arithmetic on 15 values: docs/performance.md), equal to the NumPy
expressions they replaced to the bit: sums in NumPy's order (kernels.psum, colsum, rowsum); powers stay in NumPy,
between the calls, in :meth:`Retail.step` (NumPy's SIMD pow differs from libm's in the last bit).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from hamji.kernels import colsum, fmax, fmin, psum, ratio_or1, reduce_blocks, rowsum, share_or1, span
from hamji.payments import pay_household
from hamji.people import ROLE_NONE, ROLE_PRODUCER, ROLE_SELLER


# -- the records the kernels read (built by Retail; they cross into compiled code as plain tuples and each kernel
# names them again: docs/design.md) ------------------------------------------------------------------------------
class Households(NamedTuple):
    """The household arrays the passes read and write: agent states, need, and the week's float32 work space
    (households never grow; rebuilt when the need changes)."""

    region: np.ndarray
    urban: np.ndarray
    detained: np.ndarray
    role: np.ndarray
    rural_size: np.ndarray  # persons of rural households, 0 for urban ones (float32)
    ties_strength: np.ndarray
    knowhow: np.ndarray
    need: np.ndarray  # weekly food need, US$ at food price index 1 (float32)
    inv_need: np.ndarray
    cash: np.ndarray
    fx: np.ndarray
    income: np.ndarray
    market_income: np.ndarray
    consumption: np.ndarray
    food_ratio: np.ndarray
    inkind: np.ndarray  # food in kind this week, share of need
    budget: np.ndarray  # spending this week
    food: np.ndarray  # food spending (after rationing: what is bought)
    goods: np.ndarray  # goods budget


class Provinces(NamedTuple):
    """Retail's state by province, kept between weeks (updated in place)."""

    dprk: np.ndarray
    capital: np.ndarray  # Pyongyang
    harvest: np.ndarray  # this year's harvest factor
    food_price: np.ndarray  # food price index f (1 = normal supply)
    usual_stock: np.ndarray  # G_usual: usual imported goods in the markets, at unit cost (NaN until measured)
    rural_need: np.ndarray  # food need of rural persons (US$ a week)


class Goods(NamedTuple):
    """The goods in the markets, as the trade state and the market hold them (this week's arrays)."""

    qty: np.ndarray  # landed cost by owner province (rows) and province of the goods (columns)
    trans: np.ndarray  # transport cost, likewise
    company: np.ndarray  # companies' goods by province (zeros without companies)
    companies: bool
    goods_households: np.ndarray
    sales_ema: np.ndarray  # smoothed sales by owner province (for wholesale)
    demand_ema: np.ndarray  # smoothed goods demand at landed cost (for the companies' imports)


@njit(cache=True, inline="always")
def _roles(p):
    """``(tie_effect, knowhow_effect, output_usd)``, the float32 parameters of the market roles, as a tuple: a
    parallel loop cannot take a record (Numba passes a tuple of numbers into it, not a record)."""
    return p.retail_tie_effect, p.retail_knowhow_effect, p.retail_producer_output_usd


@njit(cache=True, inline="always")
def _seller_weight(tie_strength, knowhow, roles):
    """A free seller's weight in the margins: ``(1 + tie_effect s) (1 + knowhow_effect k)`` (float32)."""
    tie_effect, knowhow_effect, _ = roles
    one = np.float32(1.0)
    return (one + tie_effect * tie_strength) * (one + knowhow_effect * knowhow)


@njit(cache=True, inline="always")
def _producer_output(knowhow, roles):
    """A free producer's marketed food: ``output_usd (1 + knowhow_effect k)`` (float32)."""
    _, knowhow_effect, output_usd = roles
    return output_usd * (np.float32(1.0) + knowhow_effect * knowhow)


# -- wages ---------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def free_tally(h, blocks, pars, out) -> None:
    """By block (columns of ``out``): free households, free households without a role, free rural persons, free
    sellers, their summed weights (:func:`_seller_weight`) and free producers' summed output."""
    h = Households(*h)
    roles = _roles(pars[0])
    detained, role, rural_size, ties_strength, knowhow = h.detained, h.role, h.rural_size, h.ties_strength, h.knowhow
    for r in prange(len(blocks)):
        free = idle = sellers = 0
        farm = weight = output = 0.0
        for i in range(*span(blocks, r)):
            if detained[i] == 0:
                free += 1
                farm += rural_size[i]
                if role[i] == ROLE_NONE:
                    idle += 1
                elif role[i] == ROLE_SELLER:
                    sellers += 1
                    weight += _seller_weight(ties_strength[i], knowhow[i], roles)
                elif role[i] == ROLE_PRODUCER:
                    output += _producer_output(knowhow[i], roles)
        out[r, 0] = free
        out[r, 1] = idle
        out[r, 2] = farm
        out[r, 3] = sellers
        out[r, 4] = weight
        out[r, 5] = output


@njit(cache=True, error_model="numpy")
def wages_and_in_kind(free_b, blocks, x, budget, pds_draw, pars, w) -> None:
    """The free households by province (reduced from the blocks of :func:`free_tally`); the state wages taken from
    the branch budgets (all branches in proportion to their positive balances, at most ``retail_wage_budget_share``
    of them) as a wage per free household (Pyongyang's weighted); food in kind as a share of need by province
    (rural households' own production; urban households' plus the state ration where it was delivered:
    ``pds_draw`` below the reliability), float32 for the budget pass."""
    x = Provinces(*x)
    p = pars[0]  # the parameter record (RetailPars)
    r = len(w)
    free = np.empty((r, 6))
    reduce_blocks(free_b, blocks, free)
    weight = np.empty(r)
    units_r = np.empty(r)
    for i in range(r):
        w.free_households[i], w.free_idle[i], w.free_rural_persons[i] = free[i, 0], free[i, 1], free[i, 2]
        w.free_sellers[i], w.seller_weight[i], w.producer_output[i] = free[i, 3], free[i, 4], free[i, 5]
        weight[i] = (p.retail_wage_pyongyang_factor if x.capital[i] else 1.0) * (1.0 if x.dprk[i] else 0.0)
        units_r[i] = free[i, 0] * weight[i]
    units = psum(units_r)
    due = p.retail_state_wage_usd * p.retail_wage_paid_share * units
    positive = np.empty(len(budget))
    for j in range(len(budget)):
        positive[j] = fmax(budget[j], 0.0)
    pos = psum(positive)
    avail = pos * p.retail_wage_budget_share
    total = avail if avail < due else due  # Python's min(due, avail)
    paid = not (total <= 0 or units <= 0)
    if paid:
        for j in range(len(budget)):
            budget[j] -= total * positive[j] / pos
    per = total / units
    for i in range(r):
        wage = per * weight[i] if paid else 0.0
        w.wage[i] = wage
        w.wages[i] = wage * free[i, 0] if paid else 0.0
        harvest = x.harvest[i]
        w.in_kind_rural[i] = np.float32(p.retail_own_production_rural * harvest)
        delivered = pds_draw[i] < (p.retail_pds_reliability_pyongyang if x.capital[i] else p.retail_pds_reliability)
        w.in_kind_urban[i] = np.float32(p.retail_own_production_urban * harvest
                                        + p.retail_pds_share_of_need * (1.0 if delivered else 0.0))
        w.food_price_old[i] = np.float32(x.food_price[i])


# -- budget --------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def budgets(h, blocks, pars, w, out) -> None:
    """Wages to free households; food in kind ``k`` (share of need); budget = ``retail_spend_share`` of cash and
    foreign currency; food spending = ``min(budget, max(retail_food_target - k, 0) need f)``, f last week's food
    price. Sums food spending by block."""
    h = Households(*h)
    p = pars[0]  # the parameter record (RetailPars)
    one, zero = np.float32(1.0), np.float32(0.0)
    spend_share, target = p.retail_spend_share, p.retail_food_target
    urban, detained, need, cash, fx, income = h.urban, h.detained, h.need, h.cash, h.fx, h.income
    inkind, budget, food = h.inkind, h.budget, h.food
    for b in prange(len(blocks)):
        r = blocks[b, 2]
        wage, k_rural, fp = w.wage[r], w.in_kind_rural[r], w.food_price_old[r]
        k_urban = w.in_kind_urban[r] - k_rural
        total = 0.0
        for i in range(*span(blocks, b)):
            if detained[i] == 0:
                cash[i] += wage
                income[i] = np.float32(income[i] + wage)
            k = k_rural + k_urban * (one if urban[i] else zero)
            inkind[i] = k
            spend = np.float32((cash[i] + fx[i]) * spend_share)
            budget[i] = spend
            f = fmin(fmax(target - k, zero) * need[i] * fp, spend)
            food[i] = f
            total += f
        out[b, 0] = total


# -- the state's grain shops ---------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def grain_shops(h, blocks, pars, avail, price, food_price_old, out) -> None:
    """The state grain shops, after :func:`budgets`, where they have grain this week: each household buys
    ``ks = min(avail, max(retail_food_target - k, 0), budget / (price need))`` of its need (``avail`` the shops' grain
    by province as a share of every household's need, ``price`` their price per unit of need at index 1), paying
    ``ks need price`` from its budget (won first, then foreign currency); ``ks`` joins its food in kind (``h.inkind``:
    it counts in the food ratio as food in kind does), and its market food spending becomes
    ``min(max(target - k - ks, 0) need f, budget left)``. By block (columns of ``out``): market food spending (as
    :func:`budgets` sums it), what was paid to the shops, the shops' grain bought (US$ at index 1)."""
    h = Households(*h)
    p = pars[0]  # the parameter record (RetailPars)
    zero = np.float32(0.0)
    target = p.retail_food_target
    need, cash, fx, inkind, budget, food = h.need, h.cash, h.fx, h.inkind, h.budget, h.food
    for b in prange(len(blocks)):
        r = blocks[b, 2]
        av, pr, fp = avail[r], price[r], food_price_old[r]
        open_ = av > zero and pr > zero  # the province's shops have grain this week
        total = paid = bought = 0.0
        for i in range(*span(blocks, b)):
            if open_:
                k = inkind[i]
                per = pr * need[i]
                ks = fmin(fmin(av, fmax(target - k, zero)), budget[i] / per)
                got = pay_household(i, np.float64(ks * per), cash, fx)
                ks = np.float32(got / per)
                budget[i] = fmax(budget[i] - np.float32(got), zero)
                k = k + ks
                inkind[i] = k
                food[i] = fmin(fmax(target - k, zero) * need[i] * fp, budget[i])
                paid += got
                bought += ks * need[i]
            total += food[i]
        out[b, 0] = total
        out[b, 1] = paid
        out[b, 2] = bought


# -- food ----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def food_supply(food_b, blocks, g, x, pars, w):
    """Food spending D by province (reduced from the blocks of :func:`budgets`); imported goods in the markets at unit
    cost and the staples among them (at their Chinese price x ``1 + retail_staples_chain_markup`` as index-1 food);
    imported inputs' availability ``A = min(1, G / G_usual)`` (``x.usual_stock``
    updated); marketed food supply S (domestic times ``1 - retail_import_input_share (1 - A)``, less the
    ``retail_grain_takeover_share`` the state takes, ``w.taken``; ``retail_food_mobility`` of it pooled nationally,
    plus imported staples). Returns ``D / S`` by province, the
    quantity wanted at last week's price over the supply (at most 1e6), for the food price's power."""
    g = Goods(*g)
    x = Provinces(*x)
    p = pars[0]  # the parameter record (RetailPars)
    r = len(w)
    food = np.empty((r, 1))
    reduce_blocks(food_b, blocks, food)
    fs = food[:, 0].copy()
    held = colsum(g.qty)
    transport = colsum(g.trans)
    staples_offered = p.retail_imported_food_share * p.retail_goods_sell_share
    chain = 1.0 + p.retail_staples_chain_markup
    a = p.retail_food_mobility
    takeover = p.retail_grain_takeover_share
    keep = 1.0 - takeover
    supply = np.empty(r)
    for i in range(r):
        cost = held[i] + transport[i] + g.company[i]
        w.food[i] = fs[i]
        w.goods_qty[i] = held[i]
        w.cost[i] = cost
        w.company[i] = g.company[i]
        # staples offered at their Chinese price, and as food at index 1 (the chain's markup)
        w.staples_cost[i] = staples_offered * (held[i] + g.company[i]) if x.dprk[i] else 0.0
        w.imported_food[i] = w.staples_cost[i] * chain
        u = x.usual_stock[i]
        x.usual_stock[i] = u + p.retail_import_input_smoothing * (cost - u) if np.isfinite(u) else cost
        inputs = 1.0 - p.retail_import_input_share * (1.0 - share_or1(cost, x.usual_stock[i], 1.0))
        w.inputs[i] = inputs
        rural = x.rural_need[i] * p.retail_rural_surplus * x.harvest[i]
        domestic = (w.producer_output[i] + rural) * inputs if x.dprk[i] else 0.0
        supply[i] = domestic * keep  # what the state's grain takeover leaves on the market
        w.supply[i] = supply[i]
        w.taken[i] = domestic * takeover
    pooled = a * psum(supply)
    fs_tot = psum(fs)
    demand_over_supply = np.empty(r)
    for i in range(r):
        share = pooled * (fs[i] / fs_tot) if fs_tot > 0 else pooled * 0.0
        eff = (1.0 - a) * supply[i] + share + w.imported_food[i]
        w.supply_eff[i] = eff
        wanted = fs[i] / x.food_price[i]
        w.wanted[i] = wanted
        demand_over_supply[i] = fmin(ratio_or1(wanted, eff, 1e6), 1e6)
    return demand_over_supply


@njit(cache=True, error_model="numpy")
def food_price(step, x, pars, w) -> None:
    """The new food price ``f <- clip(f step, min, max)`` (in ``x.food_price``; 1 outside the DPRK; ``step`` =
    ``(D / S) ** (elasticity adjustment)``, 1 where nothing is wanted); the rationing of purchases when demand at the
    new price exceeds supply; the share of the supply bought, the imported staples' share of it, and the goods
    offered as consumer goods (the rest of the imported goods offered); the procurement price due for the grain the
    state took (``retail_grain_procurement_price`` x the new price x ``w.taken``)."""
    x = Provinces(*x)
    p = pars[0]  # the parameter record (RetailPars)
    offered_share = (1.0 - p.retail_imported_food_share) * p.retail_goods_sell_share
    for i in range(len(w)):
        step_i = step[i] if w.wanted[i] > 0 else 1.0
        fp = fmin(fmax(x.food_price[i] * step_i, p.retail_food_price_min), p.retail_food_price_max) if x.dprk[i] else 1.0
        x.food_price[i] = fp
        fs, eff = w.food[i], w.supply_eff[i]
        ration = share_or1(eff, fs / fp, 1.0)
        w.ration[i] = np.float32(ration)
        planned = fs * ration
        w.planned[i] = planned
        w.imp_frac[i] = ratio_or1(w.imported_food[i], eff, 0.0)
        w.food_sold[i] = share_or1(planned / fp, eff, 0.0)
        w.offered[i] = offered_share * w.cost[i]
        w.procurement[i] = p.retail_grain_procurement_price * fp * w.taken[i]  # due; Retail pays what the budget holds


# -- consumer goods ------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def goods_budgets(h, blocks, pars, w, out) -> None:
    """Food bought after rationing (in place in ``h.food``); goods budget = ``retail_goods_share`` of what is left of
    the budget. Sums goods spending by block."""
    h = Households(*h)
    p = pars[0]  # the parameter record (RetailPars)
    food, budget, goods, goods_share = h.food, h.budget, h.goods, p.retail_goods_share
    for b in prange(len(blocks)):
        ration = w.ration[blocks[b, 2]]
        total = 0.0
        for i in range(*span(blocks, b)):
            f = food[i] * ration
            food[i] = f
            gb = (budget[i] - f) * goods_share
            goods[i] = gb
            total += gb
        out[b, 0] = total


@njit(cache=True, error_model="numpy")
def goods_demand(goods_b, blocks, pars, w):
    """Goods spending by province (reduced from the blocks of :func:`goods_budgets`). Returns it over the value
    offered at normal prices (``u (1 + markup) (1 + margin)``; 0 where nothing is offered), for the scarcity
    factor's power."""
    p = pars[0]  # the parameter record (RetailPars)
    r = len(w)
    goods = np.empty((r, 1))
    reduce_blocks(goods_b, blocks, goods)
    xg = np.empty(r)
    for i in range(r):
        gd = goods[i, 0]
        w.goods[i] = gd
        off = w.offered[i]
        xg[i] = gd / (off * p.p0 if off > 0 else 1.0) if off > 0 else 0.0
    return xg


@njit(cache=True, error_model="numpy")
def goods_sales(xg, scarcity, x, pars, w) -> None:
    """The scarcity factor ``s = clip(scarcity, s_min, s_max)`` (``scarcity = xg ** elasticity``; ``retail_scarcity_max``
    where nothing is offered), the goods sold (``min(1, xg / s)``), the shares of the stock sold as consumer goods
    and as food, the planned goods revenue and the share of their goods budgets households spend (``spent_share``); the
    prices households pay, float32 for the payment pass."""
    x = Provinces(*x)
    p = pars[0]  # the parameter record (RetailPars)
    sell = p.retail_goods_sell_share
    offered_share = (1.0 - p.retail_imported_food_share) * sell
    food_share = p.retail_imported_food_share * sell
    for i in range(len(w)):
        on = w.offered[i] > 0
        s = fmin(fmax(scarcity[i], p.s_min), p.s_max) if on else p.retail_scarcity_max
        w.s[i] = s
        sold = fmin(xg[i] / s, 1.0) if on else 0.0
        phi_goods = offered_share * sold
        w.phi_goods[i] = phi_goods
        w.phi[i] = phi_goods + food_share * (w.food_sold[i] if x.dprk[i] else 0.0)
        revenue = phi_goods * w.cost[i] * p.p0 * s
        w.revenue[i] = revenue
        w.spent_share[i] = np.float32(ratio_or1(revenue, w.goods[i], 0.0))
        fp = x.food_price[i]
        w.food_price_new[i] = np.float32(fp)
        w.inv_food_price[i] = np.float32(1.0 / fp)


# -- eating --------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", parallel=True)
def pay_and_eat(h, blocks, pars, w, out) -> None:
    """Households pay for food and goods (won first, then foreign currency); ``consumption`` = in kind at the local
    food price plus what was paid; ``food_ratio`` moves to (in kind + bought) / need by
    ``retail_food_ratio_smoothing``. Sums what was paid by block."""
    h = Households(*h)
    p = pars[0]  # the parameter record (RetailPars)
    food, goods, inkind, need, inv_need = h.food, h.goods, h.inkind, h.need, h.inv_need
    cash, fx, consumption, food_ratio = h.cash, h.fx, h.consumption, h.food_ratio
    smoothing = p.retail_food_ratio_smoothing
    for b in prange(len(blocks)):
        r = blocks[b, 2]
        tk, fp, inv_fp = w.spent_share[r], w.food_price_new[r], w.inv_food_price[r]
        total = 0.0
        for i in range(*span(blocks, b)):
            spend = np.float64(food[i] + goods[i] * tk)
            from_cash = fmin(cash[i], spend)
            cash[i] -= from_cash
            from_fx = fmin(fx[i], spend - from_cash)
            fx[i] -= from_fx
            paid = from_cash + from_fx
            total += paid
            k = inkind[i]
            consumption[i] = np.float32(k * need[i] * fp + paid)
            eaten = k + food[i] * inv_need[i] * inv_fp
            food_ratio[i] += (eaten - food_ratio[i]) * smoothing
        out[b, 0] = total


# -- owners of the goods, stocks, margins ------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def owners_take(paid_b, blocks, g, pars, w):
    """What households paid by province (reduced from the blocks of :func:`pay_and_eat`) against what was planned
    scales food and goods revenue; the owners of the goods (by the province where they own them) get cost plus
    markup of the goods sold and what buyers paid for imported staples net of the sellers' food margin; so do the
    companies of theirs. Returns the owners' take by owner province (``owner_loc.sum(axis=1)``)."""
    g = Goods(*g)
    p = pars[0]  # the parameter record (RetailPars)
    r = len(w)
    paid = np.empty((r, 1))
    reduce_blocks(paid_b, blocks, paid)
    markup = 1.0 + p.retail_wholesale_markup
    per = np.empty(r)
    for i in range(r):
        planned, revenue = w.planned[i], w.revenue[i]
        sc = ratio_or1(paid[i, 0], planned + revenue, 0.0)
        w.food_rev[i] = planned * sc
        w.goods_rev[i] = revenue * sc
        cost = w.cost[i]
        unit_cost = ratio_or1(cost, w.goods_qty[i] + w.company[i], 1.0)
        owned = planned * sc * w.imp_frac[i] * (1.0 - p.retail_food_seller_margin)
        w.food_owned[i] = owned
        per[i] = w.phi_goods[i] * markup * sc + ratio_or1(owned, cost, 0.0)
        w.company_take[i] = per[i] * w.company[i] if g.companies else 0.0
        w.goods_index[i] = (w.s[i] if w.offered[i] > 0 else p.retail_scarcity_max) * unit_cost
        w.goods_price[i] = w.goods_index[i] * p.p0
    owner_loc = (g.qty + g.trans) * per.reshape(1, r)
    owners = colsum(owner_loc)
    for i in range(r):
        w.owners[i] = owners[i]
    return rowsum(owner_loc)


@njit(cache=True, error_model="numpy")
def stocks_left(g, x, pars, w) -> None:
    """After the sales: what each owner province sold (``g.sales_ema`` smoothed, for wholesale), the stocks left
    (``g.qty``, ``g.trans``, ``g.goods_households``, the companies' ``g.company``), the households' goods demand at
    landed cost (``g.demand_ema`` smoothed); the price indices."""
    g = Goods(*g)
    x = Provinces(*x)
    p = pars[0]  # the parameter record (RetailPars)
    r = len(w)
    phi = np.empty(r)
    for i in range(r):
        phi[i] = w.phi[i]
    qty, trans = g.qty, g.trans
    sold = rowsum(qty * phi.reshape(1, r))
    keep_phi = (1.0 - phi).reshape(1, r)
    qty *= keep_phi
    trans *= keep_phi
    g.goods_households[:] = colsum(qty)
    ws = p.wholesale_sales_smoothing
    for o in range(r):
        g.sales_ema[o] += ws * (sold[o] - g.sales_ema[o])
    for i in range(r):
        if g.companies:
            g.company[i] = w.company[i] * (1.0 - phi[i])
        gd = w.goods[i] if x.dprk[i] else 0.0
        w.goods_demand[i] = gd
        demand = gd / p.p0
        e = g.demand_ema[i]
        g.demand_ema[i] = e + ws * (demand - e) if np.isfinite(e) else demand
        fp = x.food_price[i]
        wf = p.retail_price_food_weight
        w.price_index[i] = wf * fp + (1.0 - wf) * w.goods_index[i] if x.dprk[i] else np.nan
        w.rice[i] = p.retail_rice_usd_per_kg * fp if x.dprk[i] else np.nan  # US$ per kg


@njit(cache=True, error_model="numpy")
def margin_rates(pars, w) -> None:
    """The sellers' margins and the food income (the local share to the province's producers and farmers, the pooled
    share nationally by supply; with them what the state paid for the grain it took, ``w.procurement``), and the
    weekly rate each kind of free household is paid by province (``rate_farm`` per rural person, ``rate_idle`` per
    household without a role, ``rate_seller`` per unit of seller weight, ``rate_producer`` per US$ of producers'
    output); ``left``: what no free household without a role can take."""
    p = pars[0]  # the parameter record (RetailPars)
    r = len(w)
    margin = p.retail_food_seller_margin
    food_net = np.empty(r)
    supply = np.empty(r)
    for i in range(r):
        food_rev = w.food_rev[i]
        w.margins[i] = w.goods_rev[i] + w.food_owned[i] - w.owners[i] - w.company_take[i] + margin * food_rev
        food_net[i] = food_rev * (1.0 - margin) - w.food_owned[i] + w.procurement[i]  # the state pays for its grain
        w.turnover[i] = food_rev + w.goods_rev[i]
        w.food_imported[i] = food_rev * w.imp_frac[i]
        supply[i] = w.supply[i]
    a = p.retail_food_mobility
    keep_share = 1.0 - p.retail_grain_takeover_share  # supply is what the takeover left on the market
    tot_supply = psum(supply)
    pooled = a * psum(food_net)
    hired = p.retail_hired_labour_share
    keep = 1.0 - hired
    for i in range(r):
        food_income = (1.0 - a) * food_net[i] + (pooled * supply[i] / tot_supply if tot_supply > 0 else a * food_net[i])
        prod = w.producer_output[i]
        prod_share = ratio_or1(prod * w.inputs[i] * keep_share, supply[i], 0.0)
        # sellers handle at most their stalls' capacity; beyond it households sell for themselves (petty vending)
        handled = share_or1(w.free_sellers[i] * p.retail_seller_capacity_usd, w.turnover[i], 1.0)
        m = w.margins[i]
        idle = (m + food_income) * hired + m * keep * (1.0 - handled)
        seller = m * keep * handled
        producer = food_income * keep * prod_share
        farm = food_income * keep * (1.0 - prod_share)
        # provinces without members of a class: sellers', producers' and farmers' shares go to the idle
        rural, n_idle, weight = w.free_rural_persons[i], w.free_idle[i], w.seller_weight[i]
        if weight <= 0:
            idle += seller
            seller = 0.0
        if prod <= 0:
            idle += producer
            producer = 0.0
        if rural <= 0:
            idle += farm
            farm = 0.0
        w.rate_farm[i] = farm / (rural if rural > 0 else 1.0)
        w.rate_idle[i] = idle / n_idle if n_idle > 0 else 0.0
        w.rate_seller[i] = seller / weight if weight > 0 else 0.0
        w.rate_producer[i] = producer / prod if prod > 0 else 0.0
        w.left[i] = idle if n_idle <= 0 else 0.0


@njit(cache=True, inline="always")
def _receipt(h, i, roles, farm, idle, sell, prod):
    """What household ``i`` receives from the market this week (see :func:`receive_and_tally`)."""
    if h.detained[i] != 0:
        return 0.0
    ro = h.role[i]
    x = farm * h.rural_size[i] + (idle if ro == ROLE_NONE else 0.0)
    if ro == ROLE_SELLER:
        x += sell * _seller_weight(h.ties_strength[i], h.knowhow[i], roles)
    elif ro == ROLE_PRODUCER:
        x += prod * _producer_output(h.knowhow[i], roles)
    return x


@njit(cache=True, error_model="numpy", parallel=True)
def receive_and_tally(h, blocks, pars, w, out) -> None:
    """Pay each free household what it receives from the market this week, as cash, income and market income:
    its share of the farmers' food income (by rural persons), of day labour (if idle), of the sellers' margins
    (by weight) and of the producers' food income (by output), at the rates of :func:`margin_rates`. Then, as
    :func:`tally`, income, consumption and food-secure households by block."""
    h = Households(*h)
    roles = _roles(pars[0])
    one = np.float32(1.0)
    cash, income, market_income, consumption, food_ratio = h.cash, h.income, h.market_income, h.consumption, h.food_ratio
    for b in prange(len(blocks)):
        r = blocks[b, 2]
        farm, idle, sell, prod = w.rate_farm[r], w.rate_idle[r], w.rate_seller[r], w.rate_producer[r]
        s_income = s_consumption = 0.0
        secure = 0
        for i in range(*span(blocks, b)):
            x = _receipt(h, i, roles, farm, idle, sell, prod)
            cash[i] += x
            inc = np.float32(income[i] + x)
            income[i] = inc
            market_income[i] = np.float32(market_income[i] + x)
            s_income += inc
            s_consumption += consumption[i]
            secure += food_ratio[i] >= one
        out[b, 0] = s_income
        out[b, 1] = s_consumption
        out[b, 2] = secure


@njit(cache=True, error_model="numpy", parallel=True)
def tally(h, blocks, out) -> None:
    """Income, consumption and food-secure households (food ratio at least 1) by block (columns of ``out``)."""
    one = np.float32(1.0)
    income, consumption, food_ratio = h.income, h.consumption, h.food_ratio
    for b in prange(len(blocks)):
        s_income = s_consumption = 0.0
        secure = 0
        for i in range(*span(blocks, b)):
            s_income += income[i]
            s_consumption += consumption[i]
            secure += food_ratio[i] >= one
        out[b, 0] = s_income
        out[b, 1] = s_consumption
        out[b, 2] = secure


@njit(cache=True, error_model="numpy")
def stall_fees(sellers, h, fee_r, fees_r) -> None:
    """Each seller ``sellers[j]`` pays its province's stall fee (won first, then foreign currency, at most what it
    holds; as :func:`hamji.payments.pay_from_households`), out of its market income; sums the fees by province."""
    fees_r[:] = 0.0
    for j in range(len(sellers)):
        i = sellers[j]
        r = h.region[i]
        got = pay_household(i, fee_r[r], h.cash, h.fx)
        h.market_income[i] = h.market_income[i] - np.float32(got)
        fees_r[r] += got


@njit(cache=True, error_model="numpy")
def market_fees(sellers, h, official_markets, scale, pars, w, fees):
    """Sellers with a stall in an official market (``retail_stalls_per_market`` each, over the scale; shared among
    the free sellers, at most one each) pay ``retail_stall_fee_usd``; ``fees`` by province. False (nothing charged)
    when the fee is not positive or the provinces have no free sellers."""
    h = Households(*h)
    p = pars[0]  # the parameter record (RetailPars)
    r = len(fees)
    any_seller = False
    for i in range(r):
        any_seller = any_seller or w.free_sellers[i] != 0
    fee = p.retail_stall_fee_usd
    if fee <= 0 or not any_seller:
        return False
    due = np.empty(r)
    for i in range(r):
        n = w.free_sellers[i]
        due[i] = fee * (fmin(official_markets[i] * p.retail_stalls_per_market / scale / fmax(n, 1.0), 1.0) if n > 0
                        else 0.0)
    stall_fees(sellers, h, due, fees)
    return True
