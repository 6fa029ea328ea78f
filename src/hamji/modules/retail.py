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

from hamji.kernels import fmax, fmin, ratio_or, reduce_blocks, share_or, span
from hamji.module import Metric, Module
from hamji.modules.distribution import share_out, trade_state
from hamji.people import ROLE_NONE, ROLE_PARTNER, ROLE_PRODUCER, ROLE_SELLER, ROLES

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


# ------------------------------------------------------------------------------------------------
# Household kernels: each is one pass over the households in fixed blocks (``blocks``, a block lies in
# one province: see hamji.kernels.household_blocks), in parallel, with float32 arithmetic as the NumPy
# formulas in the comments and sums by block in float64 local variables, in household order (counts as
# integers); hamji.kernels.reduce_blocks adds the blocks of each province in order
# ------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _seller_weight(ties_strength, knowhow, tie_effect, knowhow_effect):  # noqa: ANN001, ANN201
    """A free seller's weight in the margins: ``(1 + tie_effect s) (1 + knowhow_effect k)`` (float32)."""
    one = np.float32(1.0)
    return (one + tie_effect * ties_strength) * (one + knowhow_effect * knowhow)


@njit(cache=True, inline="always")
def _producer_output(knowhow, output_usd, knowhow_effect):  # noqa: ANN001, ANN201
    """A free producer's marketed food: ``output_usd (1 + knowhow_effect k)`` (float32)."""
    return output_usd * (np.float32(1.0) + knowhow_effect * knowhow)


@njit(cache=True, error_model="numpy", parallel=True)
def _free_tally(blocks, detained, role, rural_size, ties_strength, knowhow, c, out) -> None:  # noqa: ANN001
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
def _budgets(blocks, urban, detained, need, wage_r, rural_tab, urban_tab, food_price, spend_share, target,  # noqa: ANN001
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
def _goods_budgets(blocks, food, budget, ration, goods_share, goods, goods_r) -> None:  # noqa: ANN001
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
def _pay_and_eat(blocks, take, food, goods, inkind, need, inv_need, food_price, inv_food_price, smoothing,  # noqa: ANN001
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
def _receipt(free, ro, rural_size, ties_strength, knowhow, c, farm, idle, sell, prod):  # noqa: ANN001, ANN201
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
def _stall_fees(sellers, region, fee_r, cash, fx, market_income, fees_r) -> None:  # noqa: ANN001
    """Each seller ``sellers[j]`` pays its province's stall fee (won first, then foreign currency, at most what it
    holds; as :func:`hamji.accounts.pay_from_households`), out of its market income; sums the fees by province."""
    fees_r[:] = 0.0
    for j in range(len(sellers)):
        i = sellers[j]
        r = region[i]
        amount = fmax(fee_r[r], 0.0)
        from_cash = fmin(cash[i], amount)
        cash[i] -= from_cash
        from_fx = fmin(fx[i], amount - from_cash)
        fx[i] -= from_fx
        got = from_cash + from_fx
        market_income[i] = market_income[i] - np.float32(got)
        fees_r[r] += got


@njit(cache=True, error_model="numpy", parallel=True)
def _receive_and_tally(blocks, detained, role, rural_size, ties_strength, knowhow, c, rates,  # noqa: ANN001
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
def _tally(blocks, income, consumption, food_ratio, out) -> None:  # noqa: ANN001
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

    def setup(self, sim: "Sim") -> None:
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

    def _need(self, sim: "Sim") -> np.ndarray:
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
    def step(self, sim: "Sim") -> None:
        ts = trade_state(sim)
        ts.begin_week(sim)
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
        roles_c = (f32(pars.retail_tie_effect), f32(pars.retail_knowhow_effect), f32(pars.retail_producer_output_usd))
        _free_tally(blocks, hh.detained, hh.role, self.rural_size, hh.ties_strength, hh.knowhow, roles_c, self._free_b)
        reduce_blocks(self._free_b, blocks, self._free)
        free_r = self._free[:, 0].copy()
        wage_r, wages_r = self._wages(sim, free_r)

        # ---- wages, food in kind (share of need), budgets, food demand: one pass
        rel = np.where(self.capital, pars.retail_pds_reliability_pyongyang, pars.retail_pds_reliability)
        delivered = sim.rng("retail.pds").random(r) < rel
        rural_tab = pars.retail_own_production_rural * self.harvest
        urban_tab = pars.retail_own_production_urban * self.harvest + pars.retail_pds_share_of_need * delivered
        fp_old = self.food_price
        inkind, budget, food = b32["inkind"], b32["budget"], b32["food"]
        _budgets(blocks, hh.urban, hh.detained, need, wage_r, rural_tab.astype(f32), urban_tab.astype(f32), fp_old.astype(f32),
                 float(pars.retail_spend_share), f32(pars.retail_food_target), hh.cash, hh.fx, hh.income,
                 inkind, budget, food, by_b["food"])
        reduce_blocks(by_b["food"], blocks, by_r["food"])
        fs_r = by_r["food"][:, 0].copy()

        # ---- imported goods in the province's markets (partners' and companies'), at unit cost (landed + transport)
        comp = sim.people.companies
        has_comp = comp.n > 0 and hasattr(comp, "goods_claim") and hasattr(comp, "cash")
        c_r = sim.market.goods_company.copy() if has_comp else np.zeros(r)
        h_r = ts.qty.sum(axis=0)
        cost_r = h_r + ts.trans.sum(axis=0) + c_r
        sf = pars.retail_imported_food_share
        imported_food = np.where(self.dprk, sf * pars.retail_goods_sell_share * cost_r, 0.0)  # staples offered this week

        # ---- food market: supply (domestic, pooled in part nationally, plus imported staples), price, rationing
        prod_r = self._free[:, 5].copy()  # free producers' output
        rural_r = self._rural_need * pars.retail_rural_surplus * self.harvest
        # imported inputs (fertilizer, fuel, film, ingredients): availability = imported goods in the province's
        # markets against their usual level (a slow moving average)
        usual = self.usual_stock
        usual[:] = np.where(np.isfinite(usual), usual + pars.retail_import_input_smoothing * (cost_r - usual), cost_r)
        avail = share_or(cost_r, usual, 1.0)
        inputs = self._inputs = 1.0 - pars.retail_import_input_share * (1.0 - avail)
        supply = np.where(self.dprk, (prod_r + rural_r) * inputs, 0.0)
        a = pars.retail_food_mobility
        fs_tot = fs_r.sum()
        supply_eff = (1.0 - a) * supply + a * supply.sum() * (fs_r / fs_tot if fs_tot > 0 else 0.0) + imported_food
        qty_wanted = fs_r / fp_old
        x = ratio_or(qty_wanted, supply_eff, 1e6)
        step = np.where(qty_wanted > 0, np.minimum(x, 1e6) ** (pars.retail_food_price_elasticity * pars.retail_price_adjustment), 1.0)
        self.food_price = np.where(self.dprk, np.clip(fp_old * step, pars.retail_food_price_min, pars.retail_food_price_max), 1.0)
        fp = self.food_price
        qty_r = fs_r / fp
        ration = share_or(supply_eff, qty_r, 1.0)
        food_planned = fs_r * ration
        with np.errstate(invalid="ignore", divide="ignore"):
            imp_frac = ratio_or(imported_food, supply_eff)
            # share of the supply bought: imported staples sell in the same proportion as domestic food
            food_sold = share_or(food_planned / fp, supply_eff)

        # ---- consumer goods market (the rest of the imported goods offered)
        goods_budget = b32["goods"]
        _goods_budgets(blocks, food, budget, ration.astype(f32), f32(pars.retail_goods_share), goods_budget, by_b["goods"])
        reduce_blocks(by_b["goods"], blocks, by_r["goods"])
        gd_r = by_r["goods"][:, 0].copy()
        wm, rm = pars.retail_wholesale_markup, pars.retail_margin
        p0 = (1.0 + wm) * (1.0 + rm)
        offered = (1.0 - sf) * pars.retail_goods_sell_share * cost_r
        with np.errstate(invalid="ignore", divide="ignore"):
            xg = np.where(offered > 0, gd_r / np.where(offered > 0, offered * p0, 1.0), 0.0)
        s_min = max(pars.retail_scarcity_min, 1.0 / (1.0 + rm))  # sellers never sell below the owners' price
        s = np.where(offered > 0, np.clip(xg ** pars.retail_goods_price_elasticity, s_min,
                                          max(pars.retail_scarcity_max, s_min)), pars.retail_scarcity_max)
        sold = np.where(offered > 0, np.minimum(1.0, xg / s), 0.0)
        phi_goods = (1.0 - sf) * pars.retail_goods_sell_share * sold  # share of the stock sold as consumer goods
        phi = phi_goods + sf * pars.retail_goods_sell_share * np.where(self.dprk, food_sold, 0.0)  # ... and as food
        revenue_r = phi_goods * cost_r * p0 * s
        take = ratio_or(revenue_r, gd_r)

        # ---- households pay, then consume and eat
        _pay_and_eat(blocks, take.astype(f32), food, goods_budget, inkind, need, self._inv_need, fp.astype(f32),
                     (1.0 / fp).astype(f32), f32(pars.retail_food_ratio_smoothing), hh.cash, hh.fx, hh.consumption,
                     hh.food_ratio, by_b["paid"])
        reduce_blocks(by_b["paid"], blocks, by_r["paid"])
        paid_r = by_r["paid"][:, 0].copy()
        planned = food_planned + revenue_r
        sc = ratio_or(paid_r, planned)
        food_rev = food_planned * sc
        goods_rev = revenue_r * sc

        # ---- owners of goods: partners (by stake) and companies (by claim); only the markup is income
        unit_cost = ratio_or(cost_r, h_r + c_r, 1.0)
        # imported staples: what buyers paid for them (net of the sellers' food margin) goes to their owners
        food_owned = food_planned * sc * imp_frac * (1.0 - pars.retail_food_seller_margin)
        per_cost = ratio_or(food_owned, cost_r)
        owner_loc = (ts.qty + ts.trans) * (phi_goods * (1.0 + wm) * sc + per_cost)[None, :]
        company_take = (phi_goods * (1.0 + wm) * sc + per_cost) * c_r if has_comp else np.zeros(r)
        stake_idx = np.flatnonzero(hh.goods_stake > 0)
        share_out(sim, owner_loc.sum(axis=1), [(stake_idx, hh.goods_stake[stake_idx]), (ts.role_idx(sim, ROLE_PARTNER), None)],
                  income_share=wm / (1.0 + wm))
        if has_comp:
            self._pay_companies(sim, company_take)
        sold_by_owner = (ts.qty * phi[None, :]).sum(axis=1)
        ts.qty *= (1.0 - phi)[None, :]
        ts.trans *= (1.0 - phi)[None, :]
        sim.market.goods_households[:] = ts.qty.sum(axis=0)
        if has_comp:
            sim.market.goods_company[:] = c_r * (1.0 - phi)
        ts.rescale_stakes(sim)
        ts.sales_ema += pars.wholesale_sales_smoothing * (sold_by_owner - ts.sales_ema)
        # households' goods spending at landed cost, smoothed: what the companies' imports are measured against
        demand = np.where(self.dprk, gd_r, 0.0) / p0
        ema = sim.market.goods_demand_ema
        ema[:] = np.where(np.isfinite(ema), ema + pars.wholesale_sales_smoothing * (demand - ema), demand)

        # ---- sellers, day labour, producers and farmers (net of the owners' take)
        margins = goods_rev + food_owned - owner_loc.sum(axis=0) - company_take + pars.retail_food_seller_margin * food_rev
        fees_r = self._pay_market(sim, ts, margins, food_rev * (1.0 - pars.retail_food_seller_margin) - food_owned, prod_r,
                                  roles_c, supply, food_rev + goods_rev)

        # ---- for other modules
        ts.goods_demand = np.where(self.dprk, gd_r, 0.0)
        ts.turnover = food_rev + goods_rev
        ts.goods_turnover = goods_rev
        self.goods_index = np.where(offered > 0, s * unit_cost, pars.retail_scarcity_max * unit_cost)
        ts.goods_price = self.goods_index * p0

        # ---- metrics (income, consumption and food security were tallied as the market paid out)
        res = sim.results
        res.record_ratio("income_per_capita_usd", self._tally[:, 0], self.persons)
        res.record_ratio("consumption_per_capita_usd", self._tally[:, 1], self.persons)
        res.record_ratio("food_secure_share", self._tally[:, 2], self.households)
        wf = pars.retail_price_food_weight
        res.record("price_index", np.where(self.dprk, wf * fp + (1.0 - wf) * self.goods_index, np.nan))
        res.record("rice_price_kpw", np.where(self.dprk, pars.retail_rice_usd_per_kg * fp * pars.retail_kpw_per_usd, np.nan))
        res.record("market_fees_usd", fees_r)
        res.record("state_wages_paid_usd", wages_r)
        res.record("goods_retail_usd", goods_rev)
        res.record("food_market_usd", food_rev)
        res.record("food_imported_usd", food_rev * imp_frac)

    # -- parts ------------------------------------------------------------------------------------
    def _wages(self, sim: "Sim", free_r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State wages from the branch budgets to free households (Pyongyang's weighted).

        Takes the money from the budgets and returns (wage per free household, wages paid) by province;
        the households are paid in the budget pass.
        """
        pars = sim.pars
        budget = sim.accounts.budget
        weight_r = np.where(self.capital, pars.retail_wage_pyongyang_factor, 1.0) * np.where(self.dprk, 1.0, 0.0)
        units = float((free_r * weight_r).sum())
        due = pars.retail_state_wage_usd * pars.retail_wage_paid_share * units
        positive = np.maximum(budget, 0.0)
        total = min(due, float(positive.sum()) * pars.retail_wage_budget_share)
        if total <= 0 or units <= 0:
            return np.zeros(len(free_r)), np.zeros(len(free_r))
        budget -= total * positive / positive.sum()
        per_r = total / units * weight_r
        return per_r, per_r * free_r

    def _pay_companies(self, sim: "Sim", take: np.ndarray) -> None:
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

    def _pay_market(self, sim: "Sim", ts, margins: np.ndarray, food_net: np.ndarray,  # noqa: ANN001
                    prod_r: np.ndarray, roles_c: tuple, supply: np.ndarray, turnover: np.ndarray) -> np.ndarray:
        """Pay sellers' margins, day labour, producers and farmers (dense, one pass); sellers pay stall fees.

        ``prod_r``: free producers' output by province; ``roles_c``: the constants of :func:`_free_tally`.
        Returns the fees by province.
        """
        pars = sim.pars
        hh = sim.people.households
        r = len(margins)
        nroles = len(ROLES)
        # food income: local share to the province's producers and farmers, pooled share nationally
        a = pars.retail_food_mobility
        tot_supply = supply.sum()
        food_income = (1.0 - a) * food_net + (a * food_net.sum() * supply / tot_supply if tot_supply > 0 else a * food_net)
        keep = 1.0 - pars.retail_hired_labour_share
        prod_share = ratio_or(prod_r * self._inputs, supply)
        # sellers handle at most their stalls' capacity; beyond it households sell for themselves (petty vending)
        n_sellers = self._free[:, 3]
        capacity = n_sellers * pars.retail_seller_capacity_usd
        handled = share_or(capacity, turnover, 1.0)
        amount = np.zeros((r, nroles))
        amount[:, ROLE_NONE] = (margins + food_income) * pars.retail_hired_labour_share + margins * keep * (1.0 - handled)
        amount[:, ROLE_SELLER] = margins * keep * handled
        amount[:, ROLE_PRODUCER] = food_income * keep * prod_share
        farm = food_income * keep * (1.0 - prod_share)
        # weights: 1 per free idle household; free sellers by ties and know-how; producers by output
        tot = np.zeros((r, nroles))
        tot[:, ROLE_NONE] = self._free[:, 1]
        tot[:, ROLE_SELLER] = self._free[:, 4]
        tot[:, ROLE_PRODUCER] = prod_r
        farm_tot = self._free[:, 2]
        # provinces without members of a class: sellers', producers' and farmers' shares go to the idle
        for role in (ROLE_SELLER, ROLE_PRODUCER):
            empty = tot[:, role] <= 0
            amount[empty, ROLE_NONE] += amount[empty, role]
            amount[empty, role] = 0.0
        empty = farm_tot <= 0
        amount[empty, ROLE_NONE] += farm[empty]
        farm = np.where(empty, 0.0, farm)
        rate = np.where(tot > 0, amount / np.where(tot > 0, tot, 1.0), 0.0)
        rates = np.column_stack([farm / np.where(farm_tot > 0, farm_tot, 1.0), rate[:, ROLE_NONE], rate[:, ROLE_SELLER],
                                 rate[:, ROLE_PRODUCER]])
        # paid, and this week's income, consumption and food security tallied (for the metrics)
        _receive_and_tally(self._blocks, hh.detained, hh.role, self.rural_size, hh.ties_strength, hh.knowhow, roles_c,
                           rates, hh.cash, hh.income, hh.market_income, hh.consumption, hh.food_ratio, self._tally_b)
        reduce_blocks(self._tally_b, self._blocks, self._tally)
        left = np.where(tot[:, ROLE_NONE] <= 0, amount[:, ROLE_NONE], 0.0)
        if left.any():  # nobody idle and free: every household of the province
            share_out(sim, left, [])
            _tally(self._blocks, hh.income, hh.consumption, hh.food_ratio, self._tally_b)
            reduce_blocks(self._tally_b, self._blocks, self._tally)
        # stall fees of sellers with a place in an official market
        fee = pars.retail_stall_fee_usd
        if fee <= 0 or not n_sellers.any():
            return np.zeros(r)
        stalls = ts.official * pars.retail_stalls_per_market / sim.scale
        official = np.where(n_sellers > 0, np.minimum(1.0, stalls / np.maximum(n_sellers, 1.0)), 0.0)
        fees_r = np.zeros(r)
        _stall_fees(ts.role_idx(sim, ROLE_SELLER), hh.region, fee * official, hh.cash, hh.fx, hh.market_income, fees_r)
        sim.accounts.to_budget(int(pars.retail_fee_branch), fees_r)
        return fees_r
