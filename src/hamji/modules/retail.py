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
  province's marketed food supply (after the national pooling of domestic food) as index-1 quantity
  worth ``(1 + retail_staples_chain_markup)`` times what their owners paid for them in China (the
  Chinese export price), and sell in the same proportion as domestic food. The chain's markup is the
  record's (``border_trade_evidence.csv``, chain_markup: rice 1,504 won/kg in China, 1,654 with the
  Chinese smuggler's commission, 2,204 to the North Korean vendor, the gap mostly the border guard's bribe
  and the Korean smuggler's share): what buyers pay for them, net of the sellers' food margin, goes to
  their owners (partners by stake, companies by claim), who carry the goods across, pay the bribes
  (the enforcement module) and the carriage (distribution);
  farmers and producers are paid for the domestic share only. So when goods stop crossing (a
  border closure, sanctions on imports) supply falls as the stocks run down while demand falls only
  with incomes, and the food price (rice in US$) rises for everyone who buys food; the partners and
  companies who import lose the food trade with the other goods.
* **The state's grain takeover** (the closure as the state ran it, from January 2021: ``border_trade_evidence.csv``,
  topic food). ``retail_grain_takeover_share`` (0 unless an event sets it) of the domestic marketed food (after the
  imported inputs' factor, before pooling) is taken out of the market; the state pays the farms and producers
  ``retail_grain_procurement_price`` times the new food price for it from the budget of ``retail_grain_branch``, as
  far as that budget holds money (what it cannot pay is not paid: the farms lose the rest), through the same rates
  as their food income. Next week ``retail_grain_shop_share`` of it is offered in the state grain shops of the
  province where they have grain (a weekly draw per province, ``retail_grain_shop_delivery``: "once or twice a
  month, often with nothing to sell"), at ``1 - retail_grain_shop_discount`` times last week's market price:
  households buy it before going to market, in proportion to their need (at most up to the food target and what
  their budget allows), pay the state (the same budget), and it counts as food in kind (food ratio, and consumption
  at the market price); the rest, and what is not bought, the state holds (army, stocks). So the takeover lowers the
  food on the market and raises its price for every buyer, while the shops' buyers pay less for what they get there.
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

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from hamji.kernels import reduce_blocks
from hamji.module import Metric, Module
from hamji.modules.retail_kernels import (
    Goods,
    Households,
    Provinces,
    budgets,
    food_price,
    food_supply,
    free_tally,
    goods_budgets,
    goods_demand,
    goods_sales,
    grain_shops,
    margin_rates,
    market_fees,
    owners_take,
    pay_and_eat,
    receive_and_tally,
    stocks_left,
    tally,
    wages_and_in_kind,
)
from hamji.payments import share_out
from hamji.people import ROLE_PARTNER, ROLE_SELLER

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


class RetailPars(NamedTuple):
    """The parameters the retail kernels read, named as the parameters, in the kernels' dtypes (float32 where the
    household passes compute in float32), and three derived values."""

    # household passes (float32, but the spend share)
    retail_tie_effect: np.float32
    retail_knowhow_effect: np.float32
    retail_producer_output_usd: np.float32
    retail_spend_share: float
    retail_food_target: np.float32
    retail_goods_share: np.float32
    retail_food_ratio_smoothing: np.float32
    # wages and food in kind
    retail_state_wage_usd: float
    retail_wage_paid_share: float
    retail_wage_budget_share: float
    retail_wage_pyongyang_factor: float
    retail_own_production_rural: float
    retail_own_production_urban: float
    retail_pds_share_of_need: float
    retail_pds_reliability: float
    retail_pds_reliability_pyongyang: float
    # food market
    retail_rural_surplus: float
    retail_food_mobility: float
    retail_import_input_share: float
    retail_import_input_smoothing: float
    retail_food_price_elasticity: float  # the powers are NumPy's, in Retail.step
    retail_price_adjustment: float
    retail_food_price_min: float
    retail_food_price_max: float
    retail_imported_food_share: float
    retail_staples_chain_markup: float  # imported staples at index 1 per US$ of their Chinese price, minus 1
    retail_grain_takeover_share: float  # the state's grain takeover (0: off)
    retail_grain_procurement_price: float
    # consumer goods, owners, stocks
    retail_goods_sell_share: float
    retail_goods_price_elasticity: float
    retail_scarcity_max: float  # the scarcity factor where nothing is offered
    retail_wholesale_markup: float
    retail_food_seller_margin: float
    wholesale_sales_smoothing: float
    # margins and fees
    retail_hired_labour_share: float
    retail_seller_capacity_usd: float
    retail_stall_fee_usd: float
    retail_stalls_per_market: float
    # metrics
    retail_price_food_weight: float
    retail_rice_usd_per_kg: float
    # derived: the retail price of goods at normal supply per US$ landed, (1 + markup) (1 + margin), and the scarcity
    # factor's bounds (sellers never sell below the owners' price)
    p0: float
    s_min: float
    s_max: float


#: fields computed in float32 (the household passes'), and the exponents of the powers, kept as given (NumPy's power
#: of a float array depends on the exponent's type: an int 2 squares); the other fields are float64
_F32 = ("retail_tie_effect", "retail_knowhow_effect", "retail_producer_output_usd", "retail_food_target",
        "retail_goods_share", "retail_food_ratio_smoothing")
_AS_GIVEN = ("retail_food_price_elasticity", "retail_price_adjustment", "retail_goods_price_elasticity")


def retail_pars(pars) -> RetailPars:
    """:class:`RetailPars` from the simulation's parameters."""
    rm = pars.retail_margin
    s_min = max(pars.retail_scarcity_min, 1.0 / (1.0 + rm))
    derived = dict(p0=(1.0 + pars.retail_wholesale_markup) * (1.0 + rm), s_min=s_min, s_max=max(pars.retail_scarcity_max, s_min))

    def value(name: str):
        if name in derived:
            return float(derived[name])
        v = getattr(pars, name)
        return np.float32(v) if name in _F32 else v if name in _AS_GIVEN else float(v)

    return RetailPars(*(value(n) for n in RetailPars._fields))


#: :class:`RetailPars` as one NumPy record, the form the kernels take it in (``p = pars[0]``, then ``p.retail_margin``):
#: a Numba call unboxes a one-record array in ~0.3 us, a NamedTuple of these 41 numbers in ~6 us (measured here: the
#: week's 14 calls took 100 us more with the NamedTuple)
PARS = np.dtype([(n, np.float32 if n in _F32 else np.float64) for n in RetailPars._fields], align=True)


def as_record(p: RetailPars) -> np.ndarray:
    """``p`` as a one-record array of :data:`PARS`, for the kernels (the same values, in the same dtypes)."""
    return np.array([tuple(p)], dtype=PARS)


#: this week's values by province, one record a province (``w.food_price_old[i]``); float32 fields are read by the
#: household passes
WEEK = np.dtype([(n, np.float64) for n in (
    # free households (reduced from the blocks): all, without a role, rural persons, sellers, their weight, producers'
    # output
    "free_households", "free_idle", "free_rural_persons", "free_sellers", "seller_weight", "producer_output",
    "wage", "wages",  # wage per free household, wages paid
    # food: spending D, imported goods G (goods_qty + transport + company at unit cost), staples, inputs' factor,
    # domestic supply, supply S, quantity wanted at last week's price, what is bought, shares
    "food", "goods_qty", "cost", "company", "imported_food", "staples_cost", "inputs", "supply", "supply_eff", "wanted", "planned",
    "imp_frac", "food_sold",
    # the state's grain takeover: domestic food taken off the market (index 1), the procurement price paid for it
    "taken", "procurement",
    # consumer goods: offered at unit cost, spending, scarcity factor, shares of the stock sold, planned revenue
    "offered", "goods", "s", "phi_goods", "phi", "revenue",
    # paid: food and goods revenue, staples' owners' share, owners' take by province of the goods, companies'
    "food_rev", "goods_rev", "food_owned", "owners", "company_take",
    "goods_index", "goods_price", "goods_demand", "price_index", "rice",
    # margins and the rates the market pays (per rural person, idle household, seller weight, producers' US$)
    "margins", "turnover", "food_imported", "rate_farm", "rate_idle", "rate_seller", "rate_producer", "left")]
    + [(n, np.float32) for n in ("in_kind_rural", "in_kind_urban", "food_price_old", "ration", "spent_share", "food_price_new",
                                 "inv_food_price")], align=True)


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
        Metric("rice_price_kpw", "KPW per kg", "Rice price in won: rice in US$ (rice_price_usd) x the won's market rate"
               " this week (kpw_per_usd, fx_market).", agg="mean", annual="mean"),
        Metric("rice_price_usd", "US$ per kg", "Rice price in US$: retail_rice_usd_per_kg x food price index.",
               agg="mean", annual="mean"),
        Metric("market_fees_usd", "US$", "Market fees and stall rents paid by sellers with stalls in official markets to"
               " the state budget (retail_fee_branch); calibration level 56.8 M$ a year in 2018.", scaled=True),
        Metric("state_wages_paid_usd", "US$", "State wages paid from the branch budgets to households.", scaled=True),
        Metric("goods_retail_usd", "US$", "Consumer goods sold at retail (partners' and companies' goods), at retail"
               " prices.", scaled=True),
        Metric("food_market_usd", "US$", "Food sold at market, at market prices.", scaled=True),
        Metric("imported_food_cost_usd", "US$", "The imported staples sold at market this week at what their owners paid"
               " for them in China (the Chinese export price): food_imported_usd / imported_food_cost_usd - 1 is the markup"
               " from the Chinese export price to the North Korean market price (pattern 15).", scaled=True),
        Metric("grain_taken_usd", "US$", "Domestic marketed food the state took out of the market this week (its grain"
               " takeover, retail_grain_takeover_share), at the market food price.", scaled=True),
        Metric("grain_procurement_usd", "US$", "What the state paid farms and producers for the grain it took (from the"
               " budget of retail_grain_branch; at most what it holds).", scaled=True),
        Metric("grain_shop_sales_usd", "US$", "What households paid in the state grain shops (to the budget of"
               " retail_grain_branch), at the shops' discounted price.", scaled=True),
        Metric("food_imported_usd", "US$", "Imported staples sold at market (retail_imported_food_share of the imported"
               " goods offered), at market prices.", scaled=True),
    )

    def setup(self, sim: Sim) -> None:
        ts = sim.trade
        hh = sim.people.households
        world = sim.world
        r = world.n_regions
        self.persons = np.bincount(hh.region, weights=hh.size, minlength=r).astype(float)
        self.households = np.bincount(hh.region, minlength=r).astype(float)
        self.rural_size = np.where(hh.urban, 0.0, hh.size).astype(np.float32)
        capital = np.zeros(r, dtype=bool)
        if "Pyongyang" in world.index:
            capital[world.index["Pyongyang"]] = True
        self.x = Provinces(dprk=world.country == 0, capital=capital, harvest=np.ones(r), food_price=np.ones(r),
                           usual_stock=np.full(r, np.nan), rural_need=np.zeros(r))
        self.goods_index = np.ones(r)
        self._no_company = np.zeros(r)  # company goods by province when the run has no companies
        ts.turnover = np.zeros(r)
        ts.goods_turnover = np.zeros(r)
        self._work = {k: np.empty(hh.n, np.float32) for k in ("inkind", "budget", "food", "goods")}
        self._blocks = sim.blocks
        nb = len(sim.blocks)
        # sums by block as the household passes make them, and by province
        self._part = np.zeros((nb, 1))  # a pass's one sum (food, goods spending, what was paid)
        self._free_b = np.zeros((nb, 6))  # free, idle, rural persons, sellers, sellers' weight, producers' output
        self._tally_b = np.zeros((nb, 3))
        self._tally = np.zeros((r, 3))  # income, consumption, food-secure households
        self._shop_b = np.zeros((nb, 3))  # the grain shops' pass: market food spending, paid to the shops, bought
        self._shop = np.zeros((r, 3))
        self._grain = np.zeros(r)  # the grain the state took last week, by province (US$ at index 1)
        self.need_by_province = np.zeros(r)

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        self.p = retail_pars(sim.pars)
        self._pars = as_record(self.p)  # what the kernels read
        if "food_need_usd_per_person_week" in names:  # the households' weekly food need
            hh = sim.people.households
            par = sim.pars.food_need_usd_per_person_week
            need = (hh.size * par).astype(np.float32)
            self.x.rural_need[:] = np.bincount(hh.region, weights=self.rural_size * par, minlength=len(self.x.dprk))
            self.need_by_province = np.bincount(hh.region, weights=need, minlength=len(self.x.dprk))
            work = self._work
            self.h = Households(hh.region, hh.urban, hh.detained, hh.role, self.rural_size, hh.ties_strength, hh.knowhow,
                                need, (1.0 / need).astype(np.float32), hh.cash, hh.fx, hh.income, hh.market_income,
                                hh.consumption, hh.food_ratio, work["inkind"], work["budget"], work["food"], work["goods"])

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        if not sim.pars.retail_on:
            return
        ts, market = sim.trade, sim.market
        ts.sync(sim)
        p, pars, h, x, blocks, part = self.p, self._pars, self.h, self.x, self._blocks, self._part
        r = ts.n_regions
        w = np.empty(r, WEEK)  # this week's values by province (new every week)
        if sim.new_year:
            sig = sim.pars.retail_harvest_sigma
            x.harvest[:] = np.exp(sim.rng("retail.harvest").normal(-0.5 * sig**2, sig, r))
        companies = sim.people.companies.n > 0  # companies exist with their cash, revenue and goods claims
        g = Goods(ts.qty, ts.trans, market.goods_company if companies else self._no_company, companies,
                  market.goods_households, ts.sales_ema, market.goods_demand_ema)

        # ---- wages: from the branch budgets, per free household; food in kind (ration, own production)
        free_tally(tuple(h), blocks, pars, self._free_b)
        wages_and_in_kind(self._free_b, blocks, tuple(x), sim.accounts.budget, sim.rng("retail.pds").random(r), pars, w)

        # ---- budget: wages paid; spend share of money; food spending at last week's food price
        budgets(tuple(h), blocks, pars, w, part)
        shop_sales = self._grain_shops(sim, w)  # the state grain shops sell what it took last week

        # ---- food and imported food: marketed supply S (domestic, pooled in part, times the imported inputs'
        # factor, plus imported staples), demand D; f <- clip(f (D / S) ** (elasticity adjustment), min, max), then
        # rationing. The power is NumPy's, here, between the kernels (the project's rule: powers and exponentials
        # on arrays stay in NumPy, whose SIMD pow differs from libm's in the last bit)
        d_over_s = food_supply(part, blocks, tuple(g), tuple(x), pars, w)
        food_price(d_over_s ** (p.retail_food_price_elasticity * p.retail_price_adjustment), tuple(x), pars, w)
        self._procure(sim, w)  # the state pays for the grain it took, as far as its budget holds money

        # ---- consumer goods: goods budgets after food; s = clip((demand / value offered) ** elasticity, s_min,
        # s_max), the power NumPy's as above
        goods_budgets(tuple(h), blocks, pars, w, part)
        xg = goods_demand(part, blocks, pars, w)
        goods_sales(xg, xg ** p.retail_goods_price_elasticity, tuple(x), pars, w)

        # ---- eating: households pay for food and goods, consume, and their food ratio moves
        pay_and_eat(tuple(h), blocks, pars, w, part)

        # ---- owners of the goods and the imported staples: partners (by stake) and companies (by claim) get cost
        # plus markup (only the markup is income); the stocks left
        owners = owners_take(part, blocks, tuple(g), pars, w)
        hh = sim.people.households
        stake_idx = np.flatnonzero(hh.goods_stake > 0)
        wm = p.retail_wholesale_markup
        share_out(sim, owners, [(stake_idx, hh.goods_stake[stake_idx]), (ts.role_idx(sim, ROLE_PARTNER), None)],
                  income_share=wm / (1.0 + wm))
        if companies:
            self._pay_companies(sim, np.ascontiguousarray(w["company_take"]))
        stocks_left(tuple(g), tuple(x), pars, w)
        ts.rescale_stakes(sim)

        # ---- margins: sellers, day labour, producers and farmers paid; stall fees
        margin_rates(pars, w)
        fees = self._pay_market(sim, w)

        # ---- for other modules
        ts.goods_demand = w["goods_demand"].copy()
        ts.turnover = w["turnover"].copy()
        ts.goods_turnover = w["goods_rev"].copy()
        self.goods_index = w["goods_index"].copy()
        ts.goods_price = w["goods_price"].copy()

        # ---- metrics (income, consumption and food security were tallied as the market paid out)
        res = sim.results
        res.record_ratio("income_per_capita_usd", self._tally[:, 0], self.persons)
        res.record_ratio("consumption_per_capita_usd", self._tally[:, 1], self.persons)
        res.record_ratio("food_secure_share", self._tally[:, 2], self.households)
        res.record("price_index", w["price_index"])
        res.record("rice_price_kpw", w["rice"] * sim.market.kpw_per_usd)
        res.record("rice_price_usd", w["rice"])
        res.record("market_fees_usd", fees)
        res.record("state_wages_paid_usd", w["wages"])
        res.record("goods_retail_usd", w["goods_rev"])
        res.record("food_market_usd", w["food_rev"])
        res.record("food_imported_usd", w["food_imported"])
        res.record("grain_taken_usd", w["taken"] * x.food_price)
        res.record("grain_procurement_usd", w["procurement"])
        res.record("grain_shop_sales_usd", shop_sales)
        res.record("imported_food_cost_usd", w["staples_cost"] * w["food_sold"])

    # -- parts ------------------------------------------------------------------------------------
    def _grain_shops(self, sim: Sim, w: np.ndarray) -> np.ndarray:
        """The state grain shops this week (:func:`grain_shops`): ``retail_grain_shop_share`` of the grain taken last
        week, in the provinces whose shops have grain (a weekly draw); households' payments to the budget of
        ``retail_grain_branch``, their market food spending summed again. Returns what they paid by province."""
        r = len(w)
        if not self._grain.any():  # nothing taken (the takeover is off): no draw, nothing changes
            return np.zeros(r)
        pg = sim.pars
        open_ = sim.rng("retail.grain_shops").random(r) < pg.retail_grain_shop_delivery
        offered = pg.retail_grain_shop_share * self._grain * open_
        need = self.need_by_province
        avail = np.where(need > 0, offered / np.where(need > 0, need, 1.0), 0.0).astype(np.float32)
        fp_old = np.ascontiguousarray(w["food_price_old"])
        price = ((1.0 - pg.retail_grain_shop_discount) * fp_old).astype(np.float32)
        grain_shops(tuple(self.h), self._blocks, self._pars, avail, price, fp_old, self._shop_b)
        self._part[:, 0] = self._shop_b[:, 0]
        reduce_blocks(self._shop_b, self._blocks, self._shop)
        paid = self._shop[:, 1].copy()
        sim.accounts.to_budget(int(pg.retail_grain_branch), paid)
        return paid

    def _procure(self, sim: Sim, w: np.ndarray) -> None:
        """The procurement price due for the grain taken this week (``w["procurement"]``), paid from the budget of
        ``retail_grain_branch`` as far as it holds money (the rest is not paid); margin_rates passes it to the farms
        and producers. Keeps this week's takeover for next week's shops."""
        taken = w["taken"]
        self._grain = taken.copy()
        if not taken.any():
            return
        budget = sim.accounts.budget
        branch = int(sim.pars.retail_grain_branch)
        due = float(w["procurement"].sum())
        paid = min(due, max(float(budget[branch]), 0.0))
        w["procurement"] *= paid / due if due > 0 else 0.0
        budget[branch] -= paid

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
        comp.revenue += total * share
        sold_cost = total / (1.0 + sim.pars.retail_wholesale_markup)
        comp.goods_claim -= np.minimum(claim, sold_cost * share)

    def _pay_market(self, sim: Sim, w: np.ndarray) -> np.ndarray:
        """Pay free households what the market gives them (the rates of :func:`margin_rates`; ``w["left"]``: what no
        free household without a role can take, paid to every household of the province) and tally income,
        consumption and food security; sellers pay stall fees. Returns the fees by province."""
        ts = sim.trade
        h, pars, blocks = self.h, self._pars, self._blocks
        receive_and_tally(tuple(h), blocks, pars, w, self._tally_b)
        reduce_blocks(self._tally_b, blocks, self._tally)
        left = np.ascontiguousarray(w["left"])
        if left.any():  # nobody idle and free: every household of the province
            share_out(sim, left, [])
            tally(h, blocks, self._tally_b)
            reduce_blocks(self._tally_b, blocks, self._tally)
        # stall fees of sellers with a place in an official market
        fees = np.zeros(len(left))
        if market_fees(ts.role_idx(sim, ROLE_SELLER), tuple(h), ts.official, float(sim.scale), pars, w, fees):
            sim.accounts.to_budget(int(sim.pars.retail_fee_branch), fees)
        return fees
