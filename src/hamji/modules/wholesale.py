"""Cross-border wholesale: Chinese merchants supply North Korean partners through the crossings.

"Local Chinese merchants - mostly ethnic Korean Chinese - in Jilin Province play a middleman role
by supplying Chinese consumer goods on a wholesale basis to be sold by North Korean business
partners on a retail basis, predominantly in Hamgyong Province" (Park 2009). And: "In the late
1990s and early 2000s, Chinese authorities reportedly incentivized small and medium Chinese
companies to engage in commercial activities in North Korea with grants and preferential loans in
an effort to foster economic growth in the northeastern Chinese provinces and to stimulate market
activity in bordering North Korean areas."

Each week every wholesale partner household (role ``ROLE_PARTNER``, not detained, with at least
one tie to a merchant) wants to spend a share of its cash and foreign currency on Chinese goods,
less when the goods its province's partners already own exceed some weeks of their recent sales.
Orders go to the merchants of the Chinese area across the partner's crossing and are cut, in this
order, by

1. merchant capital: the area's merchants supply at most ``capital x productivity x turnover``;
2. wah-ku cover: partners import under a company's wah-ku and compete for the spare quota,
   ``C`` = ``sim.market.wholesale_cover`` a week (set by the wah-ku module: mostly forged quota;
   infinite until it runs). Orders ``D`` in total find a company with probability ``C / (C + D)``
   (a matching rate, so more forged quota always means more trade: forgery "serves as an economic
   stimulus in key regions", and a crackdown cuts the partners' trade, the goods that reach the
   markets along the routes and the incomes of those who trade them);
3. crossing capacity: tonnes (value / ``consumer_goods_usd_per_t``) at the province's crossings
   still free after the companies' exports (``sim.borders.allocate``).

Orders, and the North Korean goods partners sell to China, need traders' trips across the border
(or a smuggler): both are scaled by ``border_trips_open`` (1 normally; a border closure, as in 2020,
lowers it), so the partners' and acquirers' incomes fall with the goods that cross.

Partners pay (``pay_from_households``) and the merchants are paid (``buy_from_merchants``: they
keep their margin and restock from Chinese suppliers). The goods land in the partner's province.
Partners also sell North Korean goods (seafood, herbs) that acquirer households gather (with
diminishing returns: a province's offer is ``P raw / (raw + P)``, P its potential), under a
company's wah-ku as well (the same matching, ``C / (C + offer)``, since a wah-ku covers trade both
ways; this is the money forgery brings into the border provinces): merchants pay
for them from capital and sell them on in China (money enters the books). Merchants' owners
draw a little capital each week. Chinese SME grants and preferential loans are paid to Jilin
merchants trading with the North in the incentive years.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji.kernels import share_or
from hamji.market import _sell, pairwise_sum
from hamji.module import Metric, Module
from hamji.modules.distribution import charge, share_out, trade_state
from hamji.people import ROLE_ACQUIRER, ROLE_PARTNER

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


@njit(cache=True)
def _area_total(key, values, c, buf):  # noqa: ANN001, ANN201
    """``values[key == c].sum()``, as NumPy sums the selected values (``buf``: work space)."""
    k = 0
    for j in range(len(values)):
        if key[j] == c:
            buf[k] = values[j]
            k += 1
    return pairwise_sum(buf, 0, k)


@njit(cache=True)
def _area_and_capital(area, values, mer_region, capital, c, buf):  # noqa: ANN001, ANN201
    """Area ``c``'s total of ``values`` and its merchants' capital, each summed as NumPy sums the selection;
    (0, 0) where the area has nothing (``np.bincount`` of ``values`` by area not positive)."""
    by_area = 0.0
    for j in range(len(values)):  # in order, as np.bincount adds
        if area[j] == c:
            by_area += values[j]
    if not by_area > 0:
        return 0.0, 0.0
    return _area_total(area, values, c, buf), _area_total(mer_region, capital, c, buf)


@njit(cache=True)
def _pay_merchants(area, paid, n_areas, mer_region, capital, sales, margin, amounts, capital_before):  # noqa: ANN001
    """Each Chinese area's merchants are paid what the partners of its provinces paid (``paid``, ``area``):
    sales by capital, then the sale itself (:func:`hamji.market.buy_from_merchants`), areas in order.
    ``amounts[c]`` is area c's amount (0 if it sold nothing), ``capital_before[c]`` its merchants' capital
    before the sale (the books need to know whether anybody was paid)."""
    buf = np.empty(max(len(paid), len(capital)))
    for c in range(n_areas):
        amount, wsum = _area_and_capital(area, paid, mer_region, capital, c, buf)
        amounts[c] = amount
        if amount == 0.0:
            continue
        if wsum > 0:
            for i in range(len(capital)):
                if mer_region[i] == c:
                    sales[i] += np.float32(amount * capital[i] / wsum)
        capital_before[c] = _sell(mer_region, capital, c, amount, margin, buf)


@njit(cache=True)
def _buy_nk_goods(area, value, n_areas, mer_region, capital, margin, sold):  # noqa: ANN001
    """Each area's merchants buy the North Korean goods of its provinces (``value``) by capital and keep the
    margin of their resale; ``sold[c]``: area c's purchases (0 if none, or if its merchants hold nothing)."""
    buf = np.empty(max(len(value), len(capital)))
    for c in range(n_areas):
        sold[c] = 0.0
        v, wsum = _area_and_capital(area, value, mer_region, capital, c, buf)
        if v == 0.0 or wsum <= 0:
            continue
        for i in range(len(capital)):
            if mer_region[i] == c:
                capital[i] += v * margin * capital[i] / wsum
        sold[c] = v


@njit(cache=True)
def _credit_ties(b, s, vol, hw, pos, amount, strength, place) -> None:  # noqa: ANN001
    """Tie volumes in two passes over the merchant ties: each partner's summed tie strength (float64, in
    tie order), then ``vol += share x amount`` for the live ties of this call's partners (``pos`` maps a
    household to its place in the partner list, or to ``len(pos)`` if it is not a partner). The first pass
    notes each tie's place in ``place`` (work space, at least ``hw`` long), so the scattered reads of ``pos``
    are done once."""
    n = len(pos)
    for e in range(hw):
        k = pos[b[e]] if s[e] > 0 else n
        place[e] = k
        if k < n:
            strength[k] += s[e]
    for e in range(hw):
        k = place[e]
        if k < n:
            vol[e] += np.float32(s[e] / strength[k] * amount[k])


class Wholesale(Module):
    """Merchants' wholesale to NK partners (capital, cover and capacity limits), partners' sales of NK goods, SME incentives."""

    name = "wholesale"
    passage = ("Chinese merchants sell consumer goods wholesale to North Korean partners through the crossings, limited by"
               " capital, demand, wah-ku cover and capacity; Chinese SME incentives.\n'Local Chinese merchants ... play a"
               " middleman role by supplying Chinese consumer goods on a wholesale basis to be sold by North Korean business"
               " partners on a retail basis' (Park 2009).")
    metrics = (
        Metric("merchant_wholesale_usd", "US$", "Chinese consumer goods merchants sold wholesale to North Korean partner"
               " households this week: DPRK provinces by destination, Chinese areas by the merchants' area (so the DPRK"
               " group and the Chinese areas each give the total; do not add them).", scaled=True),
        Metric("nk_goods_sold_usd", "US$", "North Korean goods (seafood, herbs) partners sold to Chinese merchants, by"
               " the DPRK province they came from (Chinese price).", scaled=True),
        Metric("sme_incentives_usd", "US$", "Chinese state grants and preferential loans paid to merchants, by Chinese"
               " area.", scaled=True),
        Metric("merchant_capital_usd", "US$", "Working capital of the Chinese merchants at the end of the week, by Chinese"
               " area.", annual="last", scaled=True),
    )

    def setup(self, sim: "Sim") -> None:
        ts = trade_state(sim)
        w = sim.world
        mer = sim.people.merchants
        pars = sim.pars
        for name, dtype, fill in (("partners", np.int16, 0), ("productivity", np.float32, 1.0),
                                  ("quality", np.float32, 1.0), ("loans", np.float64, 0.0),
                                  ("sme_loans", np.float64, 0.0), ("sales", np.float32, 0.0)):
            if name not in mer.states:
                mer.add(name, dtype, fill=fill)
        if "knowhow" not in mer.states:
            mer.add("knowhow", np.float32, fill=pars.wholesale_merchant_knowhow)
        b = sim.borders
        r = w.n_regions
        # each DPRK province trades through its own crossings (else the nearest), with one Chinese area
        self.china_of = np.full(r, -1, dtype=np.int64)
        self.china_of[w.dprk] = b.china_region[b.nearest[w.dprk]]
        self.crossings_of: dict[int, np.ndarray] = {}
        for i in w.dprk:
            own = np.flatnonzero(b.dprk_region == i)
            own = own[b.china_region[own] == self.china_of[i]]
            self.crossings_of[int(i)] = own if len(own) else np.array([b.nearest[i]])
        # the same lists in one array (province i: _cross_ids[_cross_starts[i]:_cross_starts[i + 1]])
        lists = [self.crossings_of.get(i, np.zeros(0, dtype=np.int64)) for i in range(r)]
        self._cross_starts = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
        self._cross_ids = np.concatenate(lists).astype(np.int64)
        hh = sim.people.households
        self.persons = np.bincount(hh.region, weights=hh.size, minlength=r).astype(float)
        jilin = w.groups.get("Jilin", [])
        self.jilin = np.isin(mer.region, np.array(jilin, dtype=int))
        self._pos = np.full(hh.n, hh.n, dtype=np.int32)  # household -> place in this call's partner list
        self._place = np.empty(0, dtype=np.int64)  # each merchant tie's partner place (work space)

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: "Sim") -> None:
        ts = trade_state(sim)
        ts.begin_week(sim)
        ts.sync(sim)
        r = ts.n_regions
        mer = sim.people.merchants
        mer.sales[:] = 0.0
        incentives = self._incentives(sim)
        self._drawings(sim)
        bought = np.zeros(r)
        nk = np.zeros(r)
        if sim.pars.wholesale_on:
            bought = self._wholesale(sim, ts)
            nk = self._nk_goods(sim, ts)
        res = sim.results
        by_area = np.bincount(mer.region, weights=mer.sales, minlength=r)
        res.record("merchant_wholesale_usd", np.where(sim.world.country == 0, bought, by_area))
        res.record("nk_goods_sold_usd", nk)
        res.record("sme_incentives_usd", incentives)
        res.record("merchant_capital_usd", np.bincount(mer.region, weights=mer.capital, minlength=r))

    def _partners(self, sim: "Sim", ts) -> np.ndarray:  # noqa: ANN001
        """Free partner households with at least one active merchant tie (all free partners without a network)."""
        cached = getattr(self, "_tied", None)
        if cached is not None and cached[0] == sim.week:
            return cached[1]
        idx = ts.role_idx(sim, ROLE_PARTNER)
        if ts.mp is not None and len(idx):
            hw = ts.mp.hw
            has_tie = np.zeros(len(sim.people.households.region), dtype=np.bool_)
            has_tie[ts.mp.b[:hw][ts.mp.s[:hw] > 0]] = True
            idx = idx[has_tie[idx]]
        self._tied = (sim.week, idx)
        return idx

    def _through_crossings(self, sim: "Sim", tonnes: np.ndarray) -> np.ndarray:
        """Share of each province's tonnes its crossings can take this week (uses up their room)."""
        return sim.borders.through(tonnes, self._cross_starts, self._cross_ids)

    def _wholesale(self, sim: "Sim", ts) -> np.ndarray:  # noqa: ANN001
        """Partners buy Chinese goods; returns the value bought by DPRK province."""
        pars = sim.pars
        hh = sim.people.households
        mer = sim.people.merchants
        r = ts.n_regions
        idx = self._partners(sim, ts)
        if not len(idx):
            return np.zeros(r)
        reg = hh.region[idx]
        liquid = hh.cash[idx] + hh.fx[idx]
        # partners do not order beyond some weeks of their province's recent sales
        owned = ts.qty.sum(axis=1)
        cap_stock = pars.wholesale_inventory_weeks * ts.sales_ema
        factor = np.where(cap_stock > 0, np.clip(1.0 - owned / np.where(cap_stock > 0, cap_stock, 1.0), 0.0, 1.0),
                          (owned <= 0).astype(float))
        # a partner's orders need trips across the border (or a smuggler): a closure cuts them before any other limit
        want = liquid * pars.wholesale_partner_invest_share * factor[reg] * pars.border_trips_open
        # 1. merchant capital: what the Chinese area's merchants can supply this week
        area = self.china_of[reg]
        supply = np.bincount(mer.region, weights=mer.capital * mer.productivity, minlength=r) * pars.wholesale_merchant_turnover
        demand = np.bincount(area, weights=want, minlength=r)
        fill = share_or(supply, demand)
        got = want * fill[area]
        # 2. wah-ku cover: partners compete for the companies' spare (mostly forged) wah-ku; an order finds a company to
        # import under with probability C / (C + D), so more cover (more forgery) always means more trade
        cover = sim.market.wholesale_cover
        total = got.sum()
        if np.isfinite(cover) and total > 0:
            c = max(float(cover), 0.0)
            got *= c / (c + total)
        # 3. crossing capacity
        value_r = np.bincount(reg, weights=got, minlength=r)
        granted = self._through_crossings(sim, value_r / pars.consumer_goods_usd_per_t)
        got *= granted[reg]
        paid = charge(sim, idx, got)
        value_r = np.bincount(reg, weights=paid, minlength=r)
        amounts, before = np.zeros(r), np.zeros(r)
        mm = float(pars.merchant_margin)
        _pay_merchants(area, paid, r, mer.region, mer.capital, mer.sales, mm, amounts, before)
        for c in np.flatnonzero(amounts != 0.0):  # the merchants restock from Chinese suppliers (leaves the books)
            sim.books.outflow("chinese_suppliers", amounts[c] * (1.0 - mm) if before[c] > 0 else amounts[c])
        # the goods land in the partner's province and belong to the partners who paid
        hh.goods_stake[idx] += paid.astype(np.float32)
        diag = np.arange(r)
        ts.qty[diag, diag] += value_r
        ts.tracked += value_r
        sim.market.goods_households += value_r
        sim.market.imports_wholesale += value_r
        if ts.mp is not None:
            self._tie_volumes(ts, idx, paid)
        return value_r

    def _tie_volumes(self, ts, idx: np.ndarray, amount: np.ndarray) -> None:  # noqa: ANN001
        """Credit each merchant tie of a partner with its share (by strength) of the partner's trade."""
        mp = ts.mp
        if mp.hw == 0 or not len(idx):
            return
        n = len(self._pos)
        self._pos[idx] = np.arange(len(idx), dtype=np.int32)
        if len(self._place) < mp.hw:
            self._place = np.empty(len(mp.s), dtype=np.int64)
        _credit_ties(mp.b, mp.s, mp.vol, mp.hw, self._pos, np.asarray(amount, dtype=np.float64),
                     np.zeros(len(idx)), self._place)
        self._pos[idx] = n  # back to "not a partner" for the next call

    def _nk_goods(self, sim: "Sim", ts) -> np.ndarray:  # noqa: ANN001
        """Acquirers' North Korean goods sold through partners to merchants; returns value by DPRK province."""
        pars = sim.pars
        hh = sim.people.households
        mer = sim.people.merchants
        r = ts.n_regions
        acq = ts.role_idx(sim, ROLE_ACQUIRER)
        partners = self._partners(sim, ts)
        if not len(acq) or not len(partners) or pars.wholesale_nk_goods_usd_per_acquirer_week <= 0:
            return np.zeros(r)
        out = (pars.wholesale_nk_goods_usd_per_acquirer_week * pars.border_trips_open
               * (1.0 + pars.retail_knowhow_effect * hh.knowhow[acq]))
        raw = np.bincount(hh.region[acq], weights=out, minlength=r)
        # gathering has diminishing returns: the province's seafood and herbs saturate at its potential
        potential = pars.wholesale_nk_goods_potential_usd * self.persons
        offer = np.where(raw > 0, potential * raw / np.maximum(raw + potential, 1e-12), 0.0)
        out = out * np.where(raw > 0, offer / np.maximum(raw, 1e-12), 0.0)[hh.region[acq]]
        has_partner = np.bincount(hh.region[partners], minlength=r) > 0
        offer = np.where(has_partner, offer, 0.0)
        area = np.where(self.china_of >= 0, self.china_of, 0)
        # merchants buy with what capital they have left this week
        capacity = np.bincount(mer.region, weights=mer.capital * mer.productivity, minlength=r) * pars.wholesale_merchant_turnover
        capacity = np.maximum(capacity - np.bincount(mer.region, weights=mer.sales, minlength=r), 0.0)
        demand = np.bincount(area, weights=offer, minlength=r)
        fill = share_or(capacity, demand)
        value = offer * fill[area]
        # the partners sell under a company's wah-ku too (a wah-ku covers trade or barter both ways): same matching
        cover = sim.market.wholesale_cover
        total = value.sum()
        if np.isfinite(cover) and total > 0:
            c = max(float(cover), 0.0)
            value *= c / (c + total)
        value *= self._through_crossings(sim, value / pars.wholesale_nk_goods_usd_per_t)
        if value.sum() <= 0:
            return np.zeros(r)
        mm = pars.merchant_margin
        pay_hh = value * (1.0 - mm)
        # merchants pay the partners (and through them the acquirers), then sell on in China
        sold = np.zeros(r)  # merchants paid v(1 - mm) to households and sold for v
        _buy_nk_goods(area, value, r, mer.region, mer.capital, float(mm), sold)
        for c in np.flatnonzero(sold != 0.0):
            sim.books.inflow("nk_goods_sales", sold[c])
        pm = pars.wholesale_partner_export_margin
        share_out(sim, pay_hh * pm, [(partners, None)], fx=True)
        share_out(sim, pay_hh * (1.0 - pm), [(acq, out)], fx=True)
        if ts.mp is not None:
            reg = hh.region[partners]
            cnt = np.bincount(reg, minlength=r)
            pay_p = (value / np.maximum(cnt, 1))[reg]
            self._tie_volumes(ts, partners, pay_p)
        return value

    def _incentives(self, sim: "Sim") -> np.ndarray:
        """Chinese SME grants and preferential loans to Jilin merchants trading with the North; loan service."""
        pars = sim.pars
        mer = sim.people.merchants
        r = sim.world.n_regions
        paid = np.zeros(mer.n)
        if pars.wholesale_sme_start_year <= sim.year <= pars.wholesale_sme_end_year:
            trading = self.jilin & (mer.partners > 0)
            eligible = trading if trading.any() else self.jilin
            paid += np.where(eligible, pars.wholesale_sme_grant_usd / 52.0, 0.0)
            if sim.new_year:
                loan = np.where(eligible, pars.wholesale_sme_loan_usd, 0.0)
                mer.sme_loans += loan
                paid += loan
            if paid.any():
                mer.capital += paid
                sim.books.inflow("sme_incentives", paid.sum())
        if mer.sme_loans.any():
            principal = mer.sme_loans / pars.wholesale_sme_loan_term_weeks
            interest = mer.sme_loans * pars.wholesale_sme_loan_rate / 52.0
            due = principal + interest
            pay = np.minimum(np.maximum(mer.capital, 0.0), due)
            mer.sme_loans -= np.where(due > 0, pay * principal / np.where(due > 0, due, 1.0), 0.0)
            mer.capital -= pay
            sim.books.outflow("sme_loan_service", pay.sum())
        return np.bincount(mer.region, weights=paid, minlength=r)

    def _drawings(self, sim: "Sim") -> None:
        """Merchants' owners take a share of their own capital (not of borrowed money) for their households."""
        rate = sim.pars.wholesale_merchant_drawings
        if rate > 0:
            mer = sim.people.merchants
            equity = mer.capital - mer.sme_loans
            if "microloan_balance" in mer.states:
                equity = equity - mer.microloan_balance
            d = np.minimum(np.maximum(equity, 0.0) * rate, np.maximum(mer.capital, 0.0))
            mer.capital -= d
            sim.books.outflow("merchant_drawings", d.sum())
