"""Retail, incomes and consumption: prices, margins, wages, and what households eat.

"Such bottom-up commercial activity in HamJi is growing and considered 'normal.'" "As formal and
informal HamJi commercial networks grew, so too did the level of human security of North Koreans
in Hamgyong Province involved in the related commercial activities. A main factor in this
phenomenon was the increased ability of these North Koreans - i.e., facilitators in producing,
acquiring, shipping, or selling goods - to use newly earned funds to ... raise their material
living standards" (Park 2009).

Each week, by province:

* **Wages.** The branch budgets pay ``retail_state_wage_usd`` per free household times
  ``retail_wage_paid_share`` ("often unpaid"), at most ``retail_wage_budget_share`` of the budgets.
* **Budget.** A household spends ``retail_spend_share`` of its cash and foreign currency: food
  first, then ``retail_goods_share`` of the rest on consumer goods; the remainder is saved.
* **Food.** In kind: the state ration (urban households; ``retail_pds_share_of_need`` of need when
  delivered, a weekly draw per province) and own production (rural households more), times the
  year's harvest. At market households buy up to ``retail_food_target`` of need. Marketed supply:
  rural surplus plus producer households' output, ``retail_food_mobility`` of it pooled
  nationally. Part of the domestic marketed food depends on imported inputs (fertilizer, fuel,
  plastic film, ingredients): both are multiplied by ``1 - retail_import_input_share * (1 - A)``,
  ``A = min(1, G / G_usual)``, G the imported goods in the province's markets at unit cost and
  ``G_usual`` its moving average (weight ``retail_import_input_smoothing`` a week), so a sudden stop
  of what crosses cuts supply for a few years while farms and processors adapt. The food price index moves with demand / supply:
  ``f <- clip(f * (D / S) ** (elasticity * adjustment), min, max)``; when demand at the new price
  still exceeds supply, purchases are rationed. Money spent on food goes to sellers (a margin) and
  to producer and rural households (locally and through the national pool).
* **Imported food.** Of the imported goods offered each week (partners' and companies', below),
  ``retail_imported_food_share`` are staples from China (rice, flour, maize, oil): they join the
  province's marketed food supply (after the national pooling of domestic food) at their unit cost
  as index-1 quantity, and sell in the same proportion as domestic food. What buyers pay for them,
  net of the sellers' food margin, goes to their owners (partners by stake, companies by claim);
  farmers and producers are paid for the domestic share only. So when goods stop crossing (a
  border closure, sanctions on imports) supply falls as the stocks run down while demand falls only
  with incomes, and the food price (rice in US$) rises for everyone who buys food; the partners and
  companies who import lose the food trade with the other goods.
* **Consumer goods.** Stock in the province (partners' goods from distribution plus companies'
  goods) at unit cost u (landed plus transport); ``(1 - retail_imported_food_share) retail_goods_sell_share`` of it is offered at
  ``u (1 + markup) (1 + margin) s`` where the scarcity factor
  ``s = clip((demand / value offered at normal prices) ** elasticity, s_min, s_max)``. The owners
  (partners by stake, companies by goods claim) get cost plus markup; sellers get the rest.
* **Margins.** ``retail_hired_labour_share`` of sellers' margins and of producers' and farmers' food
  income pays day labour of free households without a market role in the province; the rest of the
  margins goes to free sellers, as far as their stalls can handle the turnover
  (``retail_seller_capacity_usd`` each; beyond it households sell for themselves and the margin
  goes to free households without a role), in proportion to
  ``(1 + tie_effect * tie strength) (1 + knowhow_effect * know-how)``. Sellers with a stall in an
  official market (markets x stalls per market) pay the stall fee to the state. No market income
  while detained.
* **Eating.** ``food_ratio`` = smoothed (in kind + bought) / need; ``consumption`` = in kind at
  local food prices plus spending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from hamji.kernels import colsum, fmax, fmin, psum, reduce_blocks, rowsum, span
from hamji.module import Metric, Module
from hamji.payments import pay_household, share_out
from hamji.people import ROLE_NONE, ROLE_PARTNER, ROLE_PRODUCER, ROLE_SELLER
from hamji.trade import trade_state

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


# ------------------------------------------------------------------------------------------------
# Household kernels: each is one pass over the households in fixed blocks (``blocks``, a block lies in
# one province: see hamji.kernels.household_blocks), in parallel, with float32 arithmetic as the NumPy
# formulas in the comments and sums by block in float64 local variables, in household order (counts as
# integers); hamji.kernels.reduce_blocks adds the blocks of each province in order
# ------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _seller_weight(ties_strength, knowhow, tie_effect, knowhow_effect):
    """A free seller's weight in the margins: ``(1 + tie_effect s) (1 + knowhow_effect k)`` (float32)."""
    one = np.float32(1.0)
    return (one + tie_effect * ties_strength) * (one + knowhow_effect * knowhow)


@njit(cache=True, inline="always")
def _producer_output(knowhow, output_usd, knowhow_effect):
    """A free producer's marketed food: ``output_usd (1 + knowhow_effect k)`` (float32)."""
    return output_usd * (np.float32(1.0) + knowhow_effect * knowhow)


@njit(cache=True, error_model="numpy", parallel=True)
def _free_tally(blocks, detained, role, rural_size, ties_strength, knowhow, c, out) -> None:
    """By block (columns of ``out``): free households, free households without a role, free rural
    persons, free sellers, their summed weights, and free producers' summed output. ``c``: float32 tie
    effect, know-how effect and producer output (US$ a week)."""
    tie_effect, knowhow_effect, output_usd = c
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
                    weight += _seller_weight(ties_strength[i], knowhow[i], tie_effect, knowhow_effect)
                elif role[i] == ROLE_PRODUCER:
                    output += _producer_output(knowhow[i], output_usd, knowhow_effect)
        out[r, 0] = free
        out[r, 1] = idle
        out[r, 2] = farm
        out[r, 3] = sellers
        out[r, 4] = weight
        out[r, 5] = output


@njit(cache=True, error_model="numpy", parallel=True)
def _budgets(blocks, urban, detained, need, wage_r, rural_tab, urban_tab, food_price, spend_share, target,
             cash, fx, income, inkind, budget, food, food_r) -> None:
    """Wages to free households; food in kind (share of need); budget = spend share of money;
    food spending = min(budget, max(target - in kind, 0) x need x food price). Sums food spending by block."""
    one, zero = np.float32(1.0), np.float32(0.0)
    for b in prange(len(blocks)):
        r = blocks[b, 2]
        wage, k_rural, fp = wage_r[r], rural_tab[r], food_price[r]
        k_urban = urban_tab[r] - k_rural
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
        food_r[b, 0] = total


@njit(cache=True, error_model="numpy", parallel=True)
def _goods_budgets(blocks, food, budget, ration, goods_share, goods, goods_r) -> None:
    """Food bought after rationing (in place in ``food``); goods budget = goods share of what is left."""
    for b in prange(len(blocks)):
        rat = ration[blocks[b, 2]]
        total = 0.0
        for i in range(*span(blocks, b)):
            f = food[i] * rat
            food[i] = f
            g = (budget[i] - f) * goods_share
            goods[i] = g
            total += g
        goods_r[b, 0] = total


@njit(cache=True, error_model="numpy", parallel=True)
def _pay_and_eat(blocks, take, food, goods, inkind, need, inv_need, food_price, inv_food_price, smoothing,
                 cash, fx, consumption, food_ratio, paid_r) -> None:
    """Households pay for food and goods (won first, then foreign currency); consumption and the
    smoothed food ratio follow. Sums what was paid by block."""
    for b in prange(len(blocks)):
        r = blocks[b, 2]
        tk, fp, inv_fp = take[r], food_price[r], inv_food_price[r]
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
        paid_r[b, 0] = total


@njit(cache=True, inline="always")
def _receipt(free, ro, rural_size, ties_strength, knowhow, c, farm, idle, sell, prod):
    """What one household receives from the market this week (see :func:`_receive_and_tally`)."""
    if not free:
        return 0.0
    tie_effect, knowhow_effect, output_usd = c
    x = farm * rural_size + (idle if ro == ROLE_NONE else 0.0)
    if ro == ROLE_SELLER:
        x += sell * _seller_weight(ties_strength, knowhow, tie_effect, knowhow_effect)
    elif ro == ROLE_PRODUCER:
        x += prod * _producer_output(knowhow, output_usd, knowhow_effect)
    return x


@njit(cache=True, error_model="numpy")
def _stall_fees(sellers, region, fee_r, cash, fx, market_income, fees_r) -> None:
    """Each seller ``sellers[j]`` pays its province's stall fee (won first, then foreign currency, at most what it
    holds; as :func:`hamji.payments.pay_from_households`), out of its market income; sums the fees by province."""
    fees_r[:] = 0.0
    for j in range(len(sellers)):
        i = sellers[j]
        r = region[i]
        got = pay_household(i, fee_r[r], cash, fx)
        market_income[i] = market_income[i] - np.float32(got)
        fees_r[r] += got


@njit(cache=True, error_model="numpy", parallel=True)
def _receive_and_tally(blocks, detained, role, rural_size, ties_strength, knowhow, c, rates,
                       cash, income, market_income, consumption, food_ratio, out) -> None:
    """Pay each free household what it receives from the market this week, as cash, income and market income:
    its share of the farmers' food income (by rural persons), of day labour (if idle), of the sellers' margins
    (by weight) and of the producers' food income (by output). ``rates`` by province: per rural person, per idle
    household, per unit of seller weight, per US$ of output; ``c`` as in :func:`_free_tally`. Then, as
    :func:`_tally`, income, consumption and food-secure households by block."""
    one = np.float32(1.0)
    for b in prange(len(blocks)):
        r = blocks[b, 2]
        farm, idle, sell, prod = rates[r, 0], rates[r, 1], rates[r, 2], rates[r, 3]
        s_income = s_consumption = 0.0
        secure = 0
        for i in range(*span(blocks, b)):
            x = _receipt(detained[i] == 0, role[i], rural_size[i], ties_strength[i], knowhow[i], c, farm, idle, sell, prod)
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
def _tally(blocks, income, consumption, food_ratio, out) -> None:
    """Income, consumption and food-secure households (food ratio at least 1) by block (columns of ``out``)."""
    one = np.float32(1.0)
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


# ------------------------------------------------------------------------------------------------
# Region-level kernels: the province arithmetic of a week between the household passes, each stretch
# compiled as one call (at small scales a week is mostly such arithmetic on 15 values: docs/performance.md).
# Each equals the NumPy expressions in its comments to the bit: sums as NumPy adds them (kernels.psum,
# colsum, rowsum); powers stay in NumPy, between the calls (its AVX-512 pow differs from libm's in the last bit).
# ``c`` holds the parameters named in :data:`_PARS` (then the derived values C_P0, C_S_MIN, C_S_HI); ``w`` the
# week's province values, one row each (the W_* names), new every week.
# ------------------------------------------------------------------------------------------------
_PARS = ("retail_pds_reliability", "retail_pds_reliability_pyongyang", "retail_wage_pyongyang_factor", "retail_state_wage_usd",
         "retail_wage_paid_share", "retail_wage_budget_share",
         "retail_own_production_rural", "retail_own_production_urban", "retail_pds_share_of_need",
         "retail_imported_food_share", "retail_goods_sell_share", "retail_rural_surplus",
         "retail_import_input_smoothing", "retail_import_input_share", "retail_food_mobility", "retail_food_price_min",
         "retail_food_price_max", "retail_wholesale_markup", "retail_scarcity_max", "retail_food_seller_margin",
         "wholesale_sales_smoothing", "retail_hired_labour_share", "retail_seller_capacity_usd",
         "retail_price_food_weight", "retail_rice_usd_per_kg", "retail_kpw_per_usd")
(C_PDS_REL, C_PDS_REL_PY, C_WAGE_PY, C_WAGE, C_WAGE_PAID, C_WAGE_BUDGET, C_OWN_RURAL, C_OWN_URBAN, C_PDS, C_IMP_FOOD, C_SELL, C_SURPLUS,
 C_INPUT_SMOOTH, C_INPUT_SHARE, C_MOBILITY, C_FP_MIN, C_FP_MAX, C_MARKUP, C_S_MAX, C_SELLER_MARGIN, C_SALES_SMOOTH,
 C_HIRED, C_CAPACITY, C_FOOD_WEIGHT, C_RICE, C_KPW, C_P0, C_S_MIN, C_S_HI) = range(len(_PARS) + 3)
_WROWS = ("wage", "wages", "food", "goods_qty", "cost", "company", "imported_food", "inputs", "supply", "supply_eff",
          "wanted", "x", "food_price", "planned", "imp_frac", "food_sold", "offered", "goods", "xg", "s", "phi_goods",
          "phi", "revenue", "paid", "food_rev", "goods_rev", "food_owned", "owners", "company_take", "margins",
          "goods_index", "goods_price", "goods_demand", "turnover", "price_index", "rice", "food_imported", "left")
(W_WAGE, W_WAGES, W_FOOD, W_GOODS_QTY, W_COST, W_COMPANY, W_IMPORTED_FOOD, W_INPUTS, W_SUPPLY, W_SUPPLY_EFF, W_WANTED,
 W_X, W_FOOD_PRICE, W_PLANNED, W_IMP_FRAC, W_FOOD_SOLD, W_OFFERED, W_GOODS, W_XG, W_S, W_PHI_GOODS, W_PHI, W_REVENUE,
 W_PAID, W_FOOD_REV, W_GOODS_REV, W_FOOD_OWNED, W_OWNERS, W_COMPANY_TAKE, W_MARGINS, W_GOODS_INDEX, W_GOODS_PRICE,
 W_GOODS_DEMAND, W_TURNOVER, W_PRICE_INDEX, W_RICE, W_FOOD_IMPORTED, W_LEFT) = range(len(_WROWS))
#: float32 rows (household passes' inputs)
(F_RURAL_TAB, F_URBAN_TAB, F_FOOD_PRICE_OLD, F_RATION, F_TAKE, F_FOOD_PRICE, F_INV_FOOD_PRICE) = range(7)


@njit(cache=True, inline="always")
def _q(num, den, default):
    """``num / den`` if ``den > 0`` else ``default`` (kernels.ratio_or, one value)."""
    return num / den if den > 0 else default


@njit(cache=True, inline="always")
def _q1(num, den, default):
    """``min(1, num / den)`` if ``den > 0`` else ``default`` (kernels.share_or, one value)."""
    return fmin(num / den, 1.0) if den > 0 else default


@njit(cache=True, error_model="numpy")
def _wages_and_in_kind(free_b, blocks, free, capital, dprk, budget, pds_draw, harvest, fp_old, c, w, f) -> None:
    """Free households by province (reduced from the blocks); the state wages taken from the branch budgets (all
    branches in proportion to their positive balances, at most C_WAGE_BUDGET of them) as a wage per free
    household (Pyongyang's weighted); food in kind by province (rural households' own production; urban
    households' plus the state ration where it was delivered: ``pds_draw`` below the reliability), as float32."""
    reduce_blocks(free_b, blocks, free)
    r = len(dprk)
    weight = np.empty(r)
    for i in range(r):
        weight[i] = (c[C_WAGE_PY] if capital[i] else 1.0) * (1.0 if dprk[i] else 0.0)
    units = psum(free[:, 0] * weight)
    due = c[C_WAGE] * c[C_WAGE_PAID] * units
    positive = np.empty(len(budget))
    for j in range(len(budget)):
        positive[j] = fmax(budget[j], 0.0)
    pos = psum(positive)
    avail = pos * c[C_WAGE_BUDGET]
    total = avail if avail < due else due  # Python's min(due, avail)
    paid = not (total <= 0 or units <= 0)
    if paid:
        for j in range(len(budget)):
            budget[j] -= total * positive[j] / pos
    per = total / units
    for i in range(r):
        wage = per * weight[i] if paid else 0.0
        w[W_WAGE, i] = wage
        w[W_WAGES, i] = wage * free[i, 0] if paid else 0.0
        h = harvest[i]
        f[F_RURAL_TAB, i] = np.float32(c[C_OWN_RURAL] * h)
        delivered = pds_draw[i] < (c[C_PDS_REL_PY] if capital[i] else c[C_PDS_REL])
        f[F_URBAN_TAB, i] = np.float32(c[C_OWN_URBAN] * h + c[C_PDS] * (1.0 if delivered else 0.0))
        f[F_FOOD_PRICE_OLD, i] = np.float32(fp_old[i])


@njit(cache=True, error_model="numpy")
def _food_supply(food_b, blocks, food, qty, trans, company, dprk, usual, free, rural_need, harvest, fp_old, c, w) -> None:
    """Food spending by province (reduced from the blocks); imported goods in the markets at unit cost and the
    staples among them; imported inputs' availability against their usual level (``usual`` updated); marketed
    food supply (domestic, ``C_MOBILITY`` of it pooled nationally, plus imported staples) and the quantity
    wanted at last week's price; their ratio ``x`` (the food price moves with ``min(x, 1e6) ** elasticity``)."""
    reduce_blocks(food_b, blocks, food)
    fs = w[W_FOOD]
    fs[:] = food[:, 0]
    h = colsum(qty)
    tr = colsum(trans)
    sf_sell = c[C_IMP_FOOD] * c[C_SELL]
    a = c[C_MOBILITY]
    r = len(dprk)
    for i in range(r):
        cost = h[i] + tr[i] + company[i]
        w[W_GOODS_QTY, i] = h[i]
        w[W_COST, i] = cost
        w[W_COMPANY, i] = company[i]
        w[W_IMPORTED_FOOD, i] = sf_sell * cost if dprk[i] else 0.0
        u = usual[i]
        usual[i] = u + c[C_INPUT_SMOOTH] * (cost - u) if np.isfinite(u) else cost
        inputs = 1.0 - c[C_INPUT_SHARE] * (1.0 - _q1(cost, usual[i], 1.0))
        w[W_INPUTS, i] = inputs
        rural = rural_need[i] * c[C_SURPLUS] * harvest[i]
        w[W_SUPPLY, i] = (free[i, 5] + rural) * inputs if dprk[i] else 0.0
    pooled = a * psum(w[W_SUPPLY])
    fs_tot = psum(fs)
    for i in range(r):
        share = pooled * (fs[i] / fs_tot) if fs_tot > 0 else pooled * 0.0
        eff = (1.0 - a) * w[W_SUPPLY, i] + share + w[W_IMPORTED_FOOD, i]
        w[W_SUPPLY_EFF, i] = eff
        wanted = fs[i] / fp_old[i]
        w[W_WANTED, i] = wanted
        w[W_X, i] = fmin(_q(wanted, eff, 1e6), 1e6)


@njit(cache=True, error_model="numpy")
def _food_price(step_x, dprk, fp_old, c, w, f) -> None:
    """The new food price (``fp_old x step``, clipped; 1 outside the DPRK; ``step_x = min(x, 1e6) ** elasticity``),
    the rationing of purchases, the share of the supply bought, the imported staples' share of it, and the goods
    offered as consumer goods (the rest of the imported goods offered)."""
    offered_share = (1.0 - c[C_IMP_FOOD]) * c[C_SELL]
    for i in range(len(dprk)):
        step = step_x[i] if w[W_WANTED, i] > 0 else 1.0
        fp = fmin(fmax(fp_old[i] * step, c[C_FP_MIN]), c[C_FP_MAX]) if dprk[i] else 1.0
        w[W_FOOD_PRICE, i] = fp
        fs, eff = w[W_FOOD, i], w[W_SUPPLY_EFF, i]
        ration = _q1(eff, fs / fp, 1.0)
        f[F_RATION, i] = np.float32(ration)
        planned = fs * ration
        w[W_PLANNED, i] = planned
        w[W_IMP_FRAC, i] = _q(w[W_IMPORTED_FOOD, i], eff, 0.0)
        w[W_FOOD_SOLD, i] = _q1(planned / fp, eff, 0.0)
        w[W_OFFERED, i] = offered_share * w[W_COST, i]


@njit(cache=True, error_model="numpy")
def _goods_demand(goods_b, blocks, goods, c, w) -> None:
    """Goods spending by province (reduced from the blocks) against the value offered at normal prices (``xg``; the
    scarcity factor is ``xg ** elasticity``)."""
    reduce_blocks(goods_b, blocks, goods)
    for i in range(goods.shape[0]):
        gd = goods[i, 0]
        w[W_GOODS, i] = gd
        off = w[W_OFFERED, i]
        w[W_XG, i] = gd / (off * c[C_P0] if off > 0 else 1.0) if off > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _goods_sales(scarcity, dprk, c, w, f) -> None:
    """The scarcity factor (``scarcity = xg ** elasticity`` clipped), the goods sold, the shares of the stock sold
    as consumer goods and as food, the planned goods revenue and the share of their goods budgets households
    spend (``take``); the prices the households pay, as float32."""
    sell = c[C_SELL]
    offered_share = (1.0 - c[C_IMP_FOOD]) * sell
    food_share = c[C_IMP_FOOD] * sell
    for i in range(len(dprk)):
        on = w[W_OFFERED, i] > 0
        s = fmin(fmax(scarcity[i], c[C_S_MIN]), c[C_S_HI]) if on else c[C_S_MAX]
        w[W_S, i] = s
        sold = fmin(w[W_XG, i] / s, 1.0) if on else 0.0
        phi_goods = offered_share * sold
        w[W_PHI_GOODS, i] = phi_goods
        w[W_PHI, i] = phi_goods + food_share * (w[W_FOOD_SOLD, i] if dprk[i] else 0.0)
        revenue = phi_goods * w[W_COST, i] * c[C_P0] * s
        w[W_REVENUE, i] = revenue
        f[F_TAKE, i] = np.float32(_q(revenue, w[W_GOODS, i], 0.0))
        fp = w[W_FOOD_PRICE, i]
        f[F_FOOD_PRICE, i] = np.float32(fp)
        f[F_INV_FOOD_PRICE, i] = np.float32(1.0 / fp)


@njit(cache=True, error_model="numpy")
def _owners_take(paid_b, blocks, paid, qty, trans, has_comp, c, w):
    """What households paid by province (reduced from the blocks) against what was planned scales food and goods
    revenue; the owners of the goods (by the province where they own them) get cost plus markup of the goods
    sold and what buyers paid for imported staples net of the sellers' margin; so do the companies of theirs.
    Returns the owners' take by owner province (``owner_loc.sum(axis=1)``)."""
    reduce_blocks(paid_b, blocks, paid)
    r = qty.shape[0]
    markup = 1.0 + c[C_MARKUP]
    per = np.empty(r)
    for i in range(r):
        p = paid[i, 0]
        w[W_PAID, i] = p
        planned, revenue = w[W_PLANNED, i], w[W_REVENUE, i]
        sc = _q(p, planned + revenue, 0.0)
        w[W_FOOD_REV, i] = planned * sc
        w[W_GOODS_REV, i] = revenue * sc
        cost = w[W_COST, i]
        unit_cost = _q(cost, w[W_GOODS_QTY, i] + w[W_COMPANY, i], 1.0)
        owned = planned * sc * w[W_IMP_FRAC, i] * (1.0 - c[C_SELLER_MARGIN])
        w[W_FOOD_OWNED, i] = owned
        per[i] = w[W_PHI_GOODS, i] * markup * sc + _q(owned, cost, 0.0)
        w[W_COMPANY_TAKE, i] = per[i] * w[W_COMPANY, i] if has_comp else 0.0
        w[W_GOODS_INDEX, i] = (w[W_S, i] if w[W_OFFERED, i] > 0 else c[C_S_MAX]) * unit_cost
        w[W_GOODS_PRICE, i] = w[W_GOODS_INDEX, i] * c[C_P0]
    owner_loc = (qty + trans) * per.reshape(1, r)
    w[W_OWNERS] = colsum(owner_loc)
    return rowsum(owner_loc)


@njit(cache=True, error_model="numpy")
def _stocks_and_rates(qty, trans, goods_households, company_goods, has_comp, sales_ema, demand_ema, free, dprk, c, w):
    """After the sales: what each owner province sold (for wholesale), the stocks left, the smoothed goods
    demand at landed cost; the sellers' margins and the food income, and the weekly rate each kind of free
    household is paid by province (columns: per rural person, per idle household, per unit of seller weight,
    per US$ of producers' output). ``w[W_LEFT]``: what no free household without a role can take."""
    r = qty.shape[0]
    phi = w[W_PHI]
    sold = rowsum(qty * phi.reshape(1, r))
    keep_phi = (1.0 - phi).reshape(1, r)
    qty *= keep_phi
    trans *= keep_phi
    goods_households[:] = colsum(qty)
    ws = c[C_SALES_SMOOTH]
    for o in range(r):
        sales_ema[o] += ws * (sold[o] - sales_ema[o])
    for i in range(r):
        if has_comp:
            company_goods[i] = w[W_COMPANY, i] * (1.0 - phi[i])
        gd = w[W_GOODS, i] if dprk[i] else 0.0
        w[W_GOODS_DEMAND, i] = gd
        demand = gd / c[C_P0]
        e = demand_ema[i]
        demand_ema[i] = e + ws * (demand - e) if np.isfinite(e) else demand
    margin = c[C_SELLER_MARGIN]
    food_net = np.empty(r)
    for i in range(r):
        food_rev = w[W_FOOD_REV, i]
        w[W_MARGINS, i] = (w[W_GOODS_REV, i] + w[W_FOOD_OWNED, i] - w[W_OWNERS, i] - w[W_COMPANY_TAKE, i]
                           + margin * food_rev)
        food_net[i] = food_rev * (1.0 - margin) - w[W_FOOD_OWNED, i]
        w[W_TURNOVER, i] = food_rev + w[W_GOODS_REV, i]
        w[W_FOOD_IMPORTED, i] = food_rev * w[W_IMP_FRAC, i]
        fp = w[W_FOOD_PRICE, i]
        wf = c[C_FOOD_WEIGHT]
        w[W_PRICE_INDEX, i] = wf * fp + (1.0 - wf) * w[W_GOODS_INDEX, i] if dprk[i] else np.nan
        w[W_RICE, i] = c[C_RICE] * fp * c[C_KPW] if dprk[i] else np.nan
    # food income: local share to the province's producers and farmers, pooled share nationally
    a = c[C_MOBILITY]
    supply = w[W_SUPPLY]
    tot_supply = psum(supply)
    pooled = a * psum(food_net)
    hired = c[C_HIRED]
    keep = 1.0 - hired
    rates = np.empty((r, 4))
    for i in range(r):
        food_income = (1.0 - a) * food_net[i] + (pooled * supply[i] / tot_supply if tot_supply > 0 else a * food_net[i])
        prod = free[i, 5]
        prod_share = _q(prod * w[W_INPUTS, i], supply[i], 0.0)
        # sellers handle at most their stalls' capacity; beyond it households sell for themselves (petty vending)
        handled = _q1(free[i, 3] * c[C_CAPACITY], w[W_TURNOVER, i], 1.0)
        m = w[W_MARGINS, i]
        idle = (m + food_income) * hired + m * keep * (1.0 - handled)
        seller = m * keep * handled
        producer = food_income * keep * prod_share
        farm = food_income * keep * (1.0 - prod_share)
        # provinces without members of a class: sellers', producers' and farmers' shares go to the idle
        if free[i, 4] <= 0:
            idle += seller
            seller = 0.0
        if prod <= 0:
            idle += producer
            producer = 0.0
        if free[i, 2] <= 0:
            idle += farm
            farm = 0.0
        rates[i, 0] = farm / (free[i, 2] if free[i, 2] > 0 else 1.0)
        rates[i, 1] = idle / free[i, 1] if free[i, 1] > 0 else 0.0
        rates[i, 2] = seller / free[i, 4] if free[i, 4] > 0 else 0.0
        rates[i, 3] = producer / prod if prod > 0 else 0.0
        w[W_LEFT, i] = idle if free[i, 1] <= 0 else 0.0
    return rates


@njit(cache=True, error_model="numpy")
def _market_fees(sellers, region, official_markets, free, stalls_per_market, scale, fee, cash, fx, market_income, fees):
    """Sellers with a stall in an official market (``stalls_per_market`` each, over the scale; shared among the free
    sellers, at most one each) pay the stall fee; ``fees`` by province. False (nothing charged) when the fee is not
    positive or the provinces have no free sellers."""
    r = len(fees)
    any_seller = False
    for i in range(r):
        any_seller = any_seller or free[i, 3] != 0
    if fee <= 0 or not any_seller:
        return False
    due = np.empty(r)
    for i in range(r):
        n = free[i, 3]
        due[i] = fee * (fmin(official_markets[i] * stalls_per_market / scale / fmax(n, 1.0), 1.0) if n > 0 else 0.0)
    _stall_fees(sellers, region, due, cash, fx, market_income, fees)
    return True


class Retail(Module):
    """Markets clear each week: wages, food and goods prices, margins and fees, consumption and food ratio."""

    name = "retail"
    passage = ("Prices respond to supply, demand and distance; sellers earn margins; households live on (often unpaid)"
               " state wages, market income and remittances, and eat.\n'... facilitators in producing, acquiring, shipping,"
               " or selling goods - to use newly earned funds to not only raise their material living standards' (Park 2009).")
    metrics = (
        Metric("income_per_capita_usd", "US$ per person", "Money income of households this week (state wages, market"
               " income, remittances, any other payment) per person; annual values sum the weeks (US$ per person per year)."
               " Group values from households.", agg="mean", annual="sum"),
        Metric("consumption_per_capita_usd", "US$ per person", "Consumption this week (food in kind at local prices, food"
               " and goods bought) per person; annual values sum the weeks.", agg="mean", annual="sum"),
        Metric("food_secure_share", "share of households", "Households whose smoothed food ratio (food eaten / need)"
               " is at least 1.", agg="mean", annual="mean"),
        Metric("price_index", "index (1 = border prices)", "Weighted food price index (1 = normal supply) and consumer"
               " goods price index (1 = landed cost with normal markup and margin); retail_price_food_weight on food.",
               agg="mean", annual="mean"),
        Metric("rice_price_kpw", "KPW per kg", "Rice price in won: retail_rice_usd_per_kg x food price index x"
               " retail_kpw_per_usd.", agg="mean", annual="mean"),
        Metric("market_fees_usd", "US$", "Market fees and stall rents paid by sellers with stalls in official markets to"
               " the state budget (retail_fee_branch); calibration level 56.8 M$ a year in 2018.", scaled=True),
        Metric("state_wages_paid_usd", "US$", "State wages paid from the branch budgets to households.", scaled=True),
        Metric("goods_retail_usd", "US$", "Consumer goods sold at retail (partners' and companies' goods), at retail"
               " prices.", scaled=True),
        Metric("food_market_usd", "US$", "Food sold at market, at market prices.", scaled=True),
        Metric("food_imported_usd", "US$", "Imported staples sold at market (retail_imported_food_share of the imported"
               " goods offered), at market prices.", scaled=True),
    )

    def setup(self, sim: Sim) -> None:
        ts = trade_state(sim)
        hh = sim.people.households
        w = sim.world
        r = w.n_regions
        self.persons = np.bincount(hh.region, weights=hh.size, minlength=r).astype(float)
        self.households = np.bincount(hh.region, minlength=r).astype(float)
        self.rural_size = np.where(hh.urban, 0.0, hh.size).astype(np.float32)
        self.dprk = w.country == 0
        self.food_price = np.ones(r)
        self.goods_index = np.ones(r)
        self.harvest = np.ones(r)
        self.usual_stock = np.full(r, np.nan)  # usual imported goods in the province's markets (for imported inputs)
        self._no_company = np.zeros(r)  # company goods by province when the run has no companies
        self._need_key: float | None = None
        self.capital = np.zeros(r, dtype=bool)
        if "Pyongyang" in w.index:
            self.capital[w.index["Pyongyang"]] = True
        ts.turnover = np.zeros(r)
        ts.goods_turnover = np.zeros(r)
        n = hh.n
        self._f32 = {k: np.empty(n, np.float32) for k in ("inkind", "budget", "food", "goods")}
        self._blocks = blocks = sim.blocks
        nb = len(blocks)
        # sums by province (columns), and the same by block as the passes make them
        self._by_region = {k: np.zeros((r, 1)) for k in ("food", "goods", "paid")}
        self._by_block = {k: np.zeros((nb, 1)) for k in ("food", "goods", "paid")}
        self._free = np.zeros((r, 6))  # free, idle, rural persons, sellers, sellers' weight, producers' output
        self._free_b = np.zeros((nb, 6))
        self._tally = np.zeros((r, 3))
        self._tally_b = np.zeros((nb, 3))

    def _need(self, sim: Sim) -> np.ndarray:
        """Weekly food need of each household (US$ at food price index 1), cached until the parameter changes."""
        par = sim.pars.food_need_usd_per_person_week
        if self._need_key != par:
            hh = sim.people.households
            self._need_arr = (hh.size * par).astype(np.float32)
            self._inv_need = (1.0 / self._need_arr).astype(np.float32)
            self._rural_need = np.bincount(hh.region, weights=self.rural_size * par, minlength=sim.world.n_regions)
            self._need_key = par
        return self._need_arr

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        ts = trade_state(sim)
        if not sim.pars.retail_on:
            return
        ts.sync(sim)
        pars = sim.pars
        hh = sim.people.households
        r = ts.n_regions
        f32 = np.float32
        if sim.new_year:
            sig = pars.retail_harvest_sigma
            self.harvest = np.exp(sim.rng("retail.harvest").normal(-0.5 * sig**2, sig, r))
        need = self._need(sim)
        blocks, by_r, by_b, b32 = self._blocks, self._by_region, self._by_block, self._f32
        free = self._free
        c = self._constants(pars)
        w = np.empty((len(_WROWS), r))  # this week's province values (rows W_*): new arrays every week
        f = np.empty((7, r), dtype=f32)  # ... and those the household passes read in float32 (rows F_*)
        roles_c = (f32(pars.retail_tie_effect), f32(pars.retail_knowhow_effect), f32(pars.retail_producer_output_usd))
        _free_tally(blocks, hh.detained, hh.role, self.rural_size, hh.ties_strength, hh.knowhow, roles_c, self._free_b)

        # ---- wages from the branch budgets, food in kind (share of need), budgets, food demand
        fp_old = self.food_price
        _wages_and_in_kind(self._free_b, blocks, free, self.capital, self.dprk, sim.accounts.budget,
                           sim.rng("retail.pds").random(r), self.harvest, fp_old, c, w, f)
        inkind, budget, food = b32["inkind"], b32["budget"], b32["food"]
        _budgets(blocks, hh.urban, hh.detained, need, w[W_WAGE], f[F_RURAL_TAB], f[F_URBAN_TAB], f[F_FOOD_PRICE_OLD],
                 float(pars.retail_spend_share), f32(pars.retail_food_target), hh.cash, hh.fx, hh.income,
                 inkind, budget, food, by_b["food"])

        # ---- imported goods in the markets (partners' and companies'), imported inputs, food supply and price
        comp = sim.people.companies
        has_comp = comp.n > 0 and hasattr(comp, "goods_claim") and hasattr(comp, "cash")
        company = sim.market.goods_company if has_comp else self._no_company
        _food_supply(by_b["food"], blocks, by_r["food"], ts.qty, ts.trans, company, self.dprk, self.usual_stock, free,
                     self._rural_need, self.harvest, fp_old, c, w)
        _food_price(w[W_X] ** (pars.retail_food_price_elasticity * pars.retail_price_adjustment), self.dprk, fp_old, c,
                    w, f)
        self.food_price = w[W_FOOD_PRICE]

        # ---- consumer goods market (the rest of the imported goods offered)
        goods_budget = b32["goods"]
        _goods_budgets(blocks, food, budget, f[F_RATION], f32(pars.retail_goods_share), goods_budget, by_b["goods"])
        _goods_demand(by_b["goods"], blocks, by_r["goods"], c, w)
        _goods_sales(w[W_XG] ** pars.retail_goods_price_elasticity, self.dprk, c, w, f)

        # ---- households pay, then consume and eat
        _pay_and_eat(blocks, f[F_TAKE], food, goods_budget, inkind, need, self._inv_need, f[F_FOOD_PRICE],
                     f[F_INV_FOOD_PRICE], f32(pars.retail_food_ratio_smoothing), hh.cash, hh.fx, hh.consumption,
                     hh.food_ratio, by_b["paid"])

        # ---- owners of goods: partners (by stake) and companies (by claim); only the markup is income
        owners = _owners_take(by_b["paid"], blocks, by_r["paid"], ts.qty, ts.trans, has_comp, c, w)
        stake_idx = np.flatnonzero(hh.goods_stake > 0)
        wm = pars.retail_wholesale_markup
        share_out(sim, owners, [(stake_idx, hh.goods_stake[stake_idx]), (ts.role_idx(sim, ROLE_PARTNER), None)],
                  income_share=wm / (1.0 + wm))
        if has_comp:
            self._pay_companies(sim, w[W_COMPANY_TAKE])

        # ---- the stocks left, smoothed sales and demand; sellers, day labour, producers and farmers paid
        rates = _stocks_and_rates(ts.qty, ts.trans, sim.market.goods_households, sim.market.goods_company, has_comp,
                                  ts.sales_ema, sim.market.goods_demand_ema, free, self.dprk, c, w)
        ts.rescale_stakes(sim)
        fees_r = self._pay_market(sim, ts, rates, w[W_LEFT], roles_c)

        # ---- for other modules
        ts.goods_demand = w[W_GOODS_DEMAND]
        ts.turnover = w[W_TURNOVER]
        ts.goods_turnover = w[W_GOODS_REV]
        self.goods_index = w[W_GOODS_INDEX]
        ts.goods_price = w[W_GOODS_PRICE]

        # ---- metrics (income, consumption and food security were tallied as the market paid out)
        res = sim.results
        res.record_ratio("income_per_capita_usd", self._tally[:, 0], self.persons)
        res.record_ratio("consumption_per_capita_usd", self._tally[:, 1], self.persons)
        res.record_ratio("food_secure_share", self._tally[:, 2], self.households)
        res.record("price_index", w[W_PRICE_INDEX])
        res.record("rice_price_kpw", w[W_RICE])
        res.record("market_fees_usd", fees_r)
        res.record("state_wages_paid_usd", w[W_WAGES])
        res.record("goods_retail_usd", w[W_GOODS_REV])
        res.record("food_market_usd", w[W_FOOD_REV])
        res.record("food_imported_usd", w[W_FOOD_IMPORTED])

    # -- parts ------------------------------------------------------------------------------------
    def _constants(self, pars) -> np.ndarray:
        """The parameters the region-level kernels read (:data:`_PARS`) and three derived values: the retail price
        of goods at normal supply per US$ landed (C_P0) and the scarcity factor's bounds (sellers never sell below
        the owners' price)."""
        wm, rm = pars.retail_wholesale_markup, pars.retail_margin
        s_min = max(pars.retail_scarcity_min, 1.0 / (1.0 + rm))
        return np.array([getattr(pars, n) for n in _PARS] + [(1.0 + wm) * (1.0 + rm), s_min,
                                                              max(pars.retail_scarcity_max, s_min)], dtype=float)

    def _pay_companies(self, sim: Sim, take: np.ndarray) -> None:
        """Retail proceeds of company goods to the companies in proportion to their goods claims."""
        comp = sim.people.companies
        total = float(take.sum())
        if total <= 0:
            return
        claim = np.maximum(comp.goods_claim, 0.0)
        csum = float(claim.sum())
        share = claim / csum if csum > 0 else np.full(comp.n, 1.0 / comp.n)
        comp.cash += total * share
        if hasattr(comp, "revenue"):
            comp.revenue += total * share
        sold_cost = total / (1.0 + sim.pars.retail_wholesale_markup)
        comp.goods_claim -= np.minimum(claim, sold_cost * share)

    def _pay_market(self, sim: Sim, ts, rates: np.ndarray, left: np.ndarray, roles_c: tuple) -> np.ndarray:
        """Pay free households what the market gives them (``rates`` by province, from :func:`_stocks_and_rates`;
        ``left``: what no free household without a role can take, paid to every household of the province) and
        tally income, consumption and food security; sellers pay stall fees. Returns the fees by province."""
        pars = sim.pars
        hh = sim.people.households
        _receive_and_tally(self._blocks, hh.detained, hh.role, self.rural_size, hh.ties_strength, hh.knowhow, roles_c,
                           rates, hh.cash, hh.income, hh.market_income, hh.consumption, hh.food_ratio, self._tally_b)
        reduce_blocks(self._tally_b, self._blocks, self._tally)
        if left.any():  # nobody idle and free: every household of the province
            share_out(sim, left, [])
            _tally(self._blocks, hh.income, hh.consumption, hh.food_ratio, self._tally_b)
            reduce_blocks(self._tally_b, self._blocks, self._tally)
        # stall fees of sellers with a place in an official market
        fees_r = np.zeros(len(left))
        if _market_fees(ts.role_idx(sim, ROLE_SELLER), hh.region, ts.official, self._free,
                        float(pars.retail_stalls_per_market), float(sim.scale), float(pars.retail_stall_fee_usd),
                        hh.cash, hh.fx, hh.market_income, fees_r):
            sim.accounts.to_budget(int(pars.retail_fee_branch), fees_r)
        return fees_r
