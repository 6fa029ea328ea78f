"""The market for foreign currency: the won's market rate (KPW per US$), set each week.

North Korean households and traders earn yuan and dollars (selling goods to Jilin merchants, remittances from
defectors and from Yanbian workers) and pay them out (the Chinese goods the partners buy), and save in them; the
won's price in foreign currency is set in the markets by money changers, not by the state (``prices.csv``: about
100 new won per US$ after the November 2009 redenomination, about 8,000 in 2013-2019, 5,790 in 2021 while the
border was closed, 14,000-22,000 in 2024-25). The record explains the two movements after the paper by the flows:
the won rose in the closure when imports stopped, and fell after the reopening with "post-closure import demand"
(``border_trade_evidence.csv``, rows ``fx``).

The rate E is one national rate (``prices.csv`` has the three cities within a few percent of each other in every
quarter, so no provincial spread). Each week, from the flows of this week (US$, the unit of the books):

* **supply** S: the foreign currency households earn from outside and sell for won: the book inflows
  ``nk_goods_sales`` (what Jilin merchants pay for North Korean goods, smuggling included), ``defector_remittances``
  and ``yanbian_migrant_remittances`` (:data:`FX_EARNINGS`);
* **demand** D: the foreign currency the partners need to pay for the Chinese goods they buy
  (``sim.market.imports_wholesale``);
* **store of value**: households want a share ``fx_store_share`` (sigma) of their money, won ``C`` and foreign
  currency ``F`` together (US$), held in foreign currency, and each week buy ``fx_rebalancing`` (kappa) of the gap:
  ``kappa (sigma (C + F) - F)``, added to D when they hold too little and to S (they sell) when they hold too much.
  The model does not re-sort households' holdings between won and foreign currency (payments take won first, as
  :mod:`hamji.payments` does): the gap is a pressure on the rate, not a transfer.

The state's trade (companies' exports and imports, the reserves) is paid in foreign currency the state holds and is
not in S or D (an approximation: the companies also sell their imports for won; what share of their imports the
state buys with won on the market the record does not say).

Both are smoothed (``fx_flow_smoothing``, the weight of this week), and the rate moves in logs toward the level that
clears the market::

    E*     = A (D~ / S~) ** fx_flow_elasticity
    log E <- log E + fx_rate_adjustment (log E* - log E)      (E = E* in the run's first week)

A (``fx_kpw_per_usd_balanced``) is the nominal anchor: the rate at which the flows balance, set by the won in
circulation against what it buys. Between events it is constant; a redenomination (``currency_shock`` with
``devaluation``) multiplies it: in 2009 the state exchanged old won 100:1 but paid wages at their old figures in new
won (about 100 times more won per unit of goods) and the confiscation drove savings out of the won, so the new won's
anchor is a multiple of the old won's over 100 (the multiple is calibrated on ``prices.csv``'s 2010-2016 rates; the
rate then climbs to it at the adjustment speed, as the record's did over 2010-2013).

**Won holdings and the rate.** Households' ``cash`` is their won, valued in US$ (the books' unit). A change of the
rate revalues it: with ``fx_won_revaluation`` = 1 it is multiplied by E_old / E_new each week, so a depreciation
takes US$ value from won holders (an inflation tax) and an appreciation gives it. The books name the change: the
flow ``won_revaluation``, an outflow when the won falls and an inflow when it rises (the counterpart is outside the
model's holders: the goods and foreign currency that the won buys at the new rate). Foreign currency (``fx``) keeps
its US$ value. The state's accounts, companies' cash and merchants' capital are kept in foreign currency (the state
trades in dollars and yuan) and are not revalued.

The module steps after wholesale (this week's partners' imports and sales to China are known, remittances and the
funnel before them) and before retail, which reads this week's rate (``sim.market.kpw_per_usd``) to price rice in
won. With ``fx_market_on`` false the rate stays at A and nothing is revalued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hamji.module import Metric, Module

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

#: the book inflows that are foreign currency earned by North Korean households and sold on the won market
FX_EARNINGS = ("nk_goods_sales", "defector_remittances", "yanbian_migrant_remittances")


#: a numerical guard, not a modelling choice: the flows' ratio D~ / S~ is kept within [1/1000, 1000] (the rate within
#: a thousand-fold of the anchor to the power of the elasticity), so that a week in which almost nothing is earned or
#: wanted (tiny runs, corners of the declared ranges) cannot send the rate to zero or infinity
_RATIO_BOUND = 1000.0


class FxMarket(Module):
    """The won's market rate: set each week by the foreign currency households earn, pay for imports and save."""

    name = "fx_market"
    passage = ("The won's market rate moves toward the level at which the foreign currency households earn (sales to"
               " China, remittances) pays for what they buy from China and save in it (MODEL.md; prices.csv).")
    metrics = (
        Metric("kpw_per_usd", "KPW per US$", "The won's market rate (national; new won throughout: the rates before"
               " the 2009 redenomination are old won / 100, as prices.csv gives them).", agg="mean", annual="mean"),
        Metric("fx_supply_usd", "US$", "Foreign currency households earn from outside and sell for won this week (sales"
               " to Jilin merchants, remittances; national).", scaled=True),
        Metric("fx_demand_usd", "US$", "Foreign currency households want this week: partners' payments for Chinese goods"
               " and the store-of-value purchases fx_rebalancing x (fx_store_share x money - foreign currency), if positive"
               " (national; if negative it adds to the supply).", scaled=True),
        Metric("won_revaluation_usd", "US$", "Change of the US$ value of households' won holdings from the rate's move"
               " this week (negative when the won falls; the books' flow won_revaluation).", scaled=True),
    )

    def setup(self, sim: Sim) -> None:
        self.devalued = 1.0  # the redenominations' factors so far
        self.anchor = float(sim.pars.fx_kpw_per_usd_balanced)  # A: multiplied by a redenomination
        self.rate = self.anchor
        sim.market.kpw_per_usd = self.rate
        self.supply_ema = np.nan  # S~, D~ (US$ a week, simulated); NaN until the first week
        self.demand_ema = np.nan
        self._earned = self._earnings(sim)  # the book inflows so far, to take this week's difference
        self._national = np.where(sim.world.country == 0, 1.0, np.nan)

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """An event that sets ``fx_kpw_per_usd_balanced`` moves the anchor (times the redenominations so far); the
        rate follows at its adjustment speed."""
        if "fx_kpw_per_usd_balanced" in names:
            self.anchor = float(sim.pars.fx_kpw_per_usd_balanced) * self.devalued

    def devalue(self, factor: float) -> None:
        """A redenomination's lasting loss of the won's value: the anchor A is multiplied by ``factor``."""
        self.devalued *= float(factor)
        self.anchor *= float(factor)

    @staticmethod
    def _revalue(sim: Sim, ratio: float) -> float:
        """Households' won holdings (US$) times ``1 - fx_won_revaluation (1 - E_old / E_new)``; the change is the
        books' flow ``won_revaluation`` (an outflow when the won falls, an inflow when it rises). Returns it."""
        theta = sim.pars.fx_won_revaluation
        if theta <= 0 or ratio == 1.0:
            return 0.0
        cash = sim.people.households.cash
        before = cash.sum()
        cash *= 1.0 - theta * (1.0 - ratio)
        change = float(cash.sum() - before)
        if change < 0:
            sim.books.outflow("won_revaluation", -change)
        elif change > 0:
            sim.books.inflow("won_revaluation", change)
        return change

    @staticmethod
    def _earnings(sim: Sim) -> float:
        inflows = sim.books.inflows
        return float(sum(inflows.get(k, 0.0) for k in FX_EARNINGS))

    def step(self, sim: Sim) -> None:
        pars, hh = sim.pars, sim.people.households
        earned = self._earnings(sim)
        supply = earned - self._earned
        self._earned = earned
        won, fx = float(hh.cash.sum()), float(hh.fx.sum())
        gap = pars.fx_rebalancing * (pars.fx_store_share * (won + fx) - fx)  # store of value: buy (> 0) or sell
        demand = float(sim.market.imports_wholesale.sum()) + max(gap, 0.0)
        supply += max(-gap, 0.0)
        w = pars.fx_flow_smoothing
        first = self.supply_ema != self.supply_ema  # NaN: the run's first week
        if first:  # the flows as they are
            self.supply_ema, self.demand_ema = supply, demand
        else:
            self.supply_ema += w * (supply - self.supply_ema)
            self.demand_ema += w * (demand - self.demand_ema)
        old, revalued = self.rate, 0.0
        if not pars.fx_market_on:
            self.rate = self.anchor
        else:
            if self.supply_ema > 0 and self.demand_ema > 0:
                ratio = min(max(self.demand_ema / self.supply_ema, 1.0 / _RATIO_BOUND), _RATIO_BOUND)
                target = np.log(self.anchor) + pars.fx_flow_elasticity * np.log(ratio)
            else:  # no market this week (nothing earned or nothing wanted): the anchor
                target = np.log(self.anchor)
            if first:  # the run starts at the rate that clears its first week's market: nothing to revalue
                self.rate = float(np.exp(target))
            else:
                self.rate = float(np.exp(np.log(old) + pars.fx_rate_adjustment * (target - np.log(old))))
                revalued = self._revalue(sim, old / self.rate)
        sim.market.kpw_per_usd = self.rate

        res = sim.results
        res.record("kpw_per_usd", self._national * self.rate)  # every DPRK province, so every group has it
        res.record_total("fx_supply_usd", supply)
        res.record_total("fx_demand_usd", demand)
        res.record_total("won_revaluation_usd", revalued)
