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

Partners pay (``pay_from_households``) and the merchants are paid (``sell_to_merchants``: they
keep their margin and restock from Chinese suppliers). The goods land in the partner's province.
Partners also sell North Korean goods (seafood, herbs) that acquirer households gather (with
diminishing returns: a province's offer is ``P raw / (raw + P)``, P its potential), under a
company's wah-ku as well (the same matching, ``C / (C + offer)``, since a wah-ku covers trade both
ways; this is the money forgery brings into the border provinces): merchants pay
for them from capital and sell them on in China (money enters the books). Merchants' owners
draw a little capital each week. Chinese SME grants and preferential loans are paid to Jilin
merchants trading with the North in the incentive years.

The week's region-level arithmetic is one compiled call (:func:`_week`): at small scales a week is
mostly calls on a few provinces' values, each costing more than its arithmetic. It is NumPy's
arithmetic to the bit: sums in NumPy's order (:func:`hamji.kernels.psum`, ``np.bincount`` order),
float32 where NumPy computes in float32; partners pay as :func:`hamji.payments.pay_from_households`
takes and are paid as :func:`hamji.payments.share_out` pays (tests/test_region_wholesale.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji.kernels import fmax, fmin, pairwise_sum, psum, rowsum
from hamji.market import _through, sell_to_merchants
from hamji.module import Metric, Module
from hamji.payments import pay_household, share_begin, share_group, share_rest
from hamji.people import ROLE_ACQUIRER, ROLE_PARTNER
from hamji.trade import trade_state

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

#: weeks in a year (grants and loan interest are annual figures paid weekly)
WEEKS_A_YEAR = 52.0
#: floor of the denominators of the gathering's diminishing returns (a province's raw offer and potential)
_TINY = 1e-12


@njit(cache=True)
def _area_total(key, values, c, buf):
    """``values[key == c].sum()``, as NumPy sums the selected values (``buf``: work space)."""
    k = 0
    for j in range(len(values)):
        if key[j] == c:
            buf[k] = values[j]
            k += 1
    return pairwise_sum(buf, 0, k)


@njit(cache=True)
def _by_area(area, values, n_areas):
    """``np.bincount(area, weights=values, minlength=n_areas)`` (in order, as np.bincount adds)."""
    out = np.zeros(n_areas)
    for j in range(len(values)):
        out[area[j]] += values[j]
    return out


@njit(cache=True)
def _pay_merchants(area, paid, n_areas, mer_region, capital, sales, margin, amounts, capital_before):
    """Each Chinese area's merchants are paid what the partners of its provinces paid (``paid``, ``area``):
    sales by capital, then the sale itself (:func:`hamji.market.sell_to_merchants`), areas in order.
    ``amounts[c]`` is area c's amount (0 if it sold nothing), ``capital_before[c]`` its merchants' capital
    before the sale (the books need to know whether anybody was paid)."""
    buf = np.empty(max(len(paid), len(capital)))
    by_area = _by_area(area, paid, n_areas)
    for c in range(n_areas):
        amounts[c] = 0.0
        if not by_area[c] > 0:  # nothing sold there
            continue
        amount, wsum = _area_total(area, paid, c, buf), _area_total(mer_region, capital, c, buf)
        amounts[c] = amount
        if amount == 0.0:
            continue
        if wsum > 0:
            for i in range(len(capital)):
                if mer_region[i] == c:
                    sales[i] += np.float32(amount * capital[i] / wsum)
        capital_before[c] = sell_to_merchants(mer_region, capital, c, amount, margin, buf)


@njit(cache=True)
def _buy_nk_goods(area, value, n_areas, mer_region, capital, margin, sold):
    """Each area's merchants buy the North Korean goods of its provinces (``value``) by capital and keep the
    margin of their resale; ``sold[c]``: area c's purchases (0 if none, or if its merchants hold nothing)."""
    buf = np.empty(max(len(value), len(capital)))
    by_area = _by_area(area, value, n_areas)
    for c in range(n_areas):
        sold[c] = 0.0
        if not by_area[c] > 0:
            continue
        v, wsum = _area_total(area, value, c, buf), _area_total(mer_region, capital, c, buf)
        if v == 0.0 or wsum <= 0:
            continue
        for i in range(len(capital)):
            if mer_region[i] == c:
                capital[i] += v * margin * capital[i] / wsum
        sold[c] = v


@njit(cache=True)
def _credit_ties(b, s, vol, hw, pos, amount, strength, place) -> None:
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


@njit(cache=True)
def _tie_volumes(idx, amount, b, s, vol, hw, pos, place) -> None:
    """Credit each merchant tie of the partners ``idx`` with its share (by strength) of the partner's trade
    ``amount`` (no ties: nothing); ``pos`` is left as it was found (every entry ``len(pos)``)."""
    if hw == 0 or len(idx) == 0:
        return
    n = len(pos)
    for j in range(len(idx)):
        pos[idx[j]] = j
    _credit_ties(b, s, vol, hw, pos, amount, np.zeros(len(idx)), place)
    for j in range(len(idx)):
        pos[idx[j]] = n  # back to "not a partner" for the next call


@njit(cache=True)
def _with_ties(idx, b, s, hw, n_households):
    """The households of ``idx`` (in order) with at least one live merchant tie (strength > 0 among the first
    ``hw`` ties)."""
    has_tie = np.zeros(n_households, dtype=np.bool_)
    for e in range(hw):
        if s[e] > 0:
            has_tie[b[e]] = True
    out = np.empty(len(idx), dtype=idx.dtype)
    k = 0
    for j in range(len(idx)):
        if has_tie[idx[j]]:
            out[k] = idx[j]
            k += 1
    return out[:k]


@njit(cache=True, error_model="numpy")
def _merchant_finance(region, jilin, partners, capital, sme_loans, microloans, sales, incentive_year, new_year,
                      grant_week, loan_usd, term_weeks, loan_rate, weeks_a_year, drawings, paid_r):
    """The merchants' week before trade: SME grants (weekly) and loans (at the new year) to Jilin merchants
    trading with the North (all Jilin merchants if none trades), loan service, then the owners' drawings.

    ``paid_r``: incentives paid by area; ``microloans`` empty if merchants have no microloans. Returns the
    books' flows (incentives, loan service, drawings), each NaN where none is booked."""
    n = len(capital)
    sales[:] = 0.0
    paid = np.zeros(n)
    inflow_incentives = np.nan
    if incentive_year:
        trading = False
        for i in range(n):
            trading |= jilin[i] and partners[i] > 0
        any_paid = False
        for i in range(n):
            eligible = jilin[i] and (partners[i] > 0 or not trading)
            paid[i] += grant_week if eligible else 0.0
            if new_year:
                loan = loan_usd if eligible else 0.0
                sme_loans[i] += loan
                paid[i] += loan
            any_paid |= paid[i] != 0.0
        if any_paid:
            for i in range(n):
                capital[i] += paid[i]
            inflow_incentives = psum(paid)
    outflow_service = np.nan
    if np.any(sme_loans != 0.0):
        pay = np.empty(n)
        for i in range(n):
            principal = sme_loans[i] / term_weeks
            interest = sme_loans[i] * loan_rate / weeks_a_year
            due = principal + interest
            pay[i] = fmin(fmax(capital[i], 0.0), due)
            if due > 0:
                sme_loans[i] -= pay[i] * principal / due
            capital[i] -= pay[i]
        outflow_service = psum(pay)
    outflow_drawings = np.nan
    if drawings > 0:  # owners take a share of their own capital (not of borrowed money)
        d = np.empty(n)
        for i in range(n):
            equity = capital[i] - sme_loans[i]
            if len(microloans):
                equity = equity - microloans[i]
            d[i] = fmin(fmax(equity, 0.0) * drawings, fmax(capital[i], 0.0))
            capital[i] -= d[i]
        outflow_drawings = psum(d)
    paid_r[:] = 0.0
    for i in range(n):  # np.bincount(region, weights=paid)
        paid_r[region[i]] += paid[i]
    return inflow_incentives, outflow_service, outflow_drawings


@njit(cache=True)
def _supply(mer_region, capital, productivity, turnover, r):
    """What each area's merchants can supply this week: ``bincount(region, capital x productivity) x turnover``."""
    supply = np.zeros(r)
    for m in range(len(capital)):
        supply[mer_region[m]] += capital[m] * productivity[m]
    for c in range(r):
        supply[c] *= turnover
    return supply


@njit(cache=True, error_model="numpy")
def _fill(supply, demand):
    """Share of each area's demand its merchants fill: ``min(1, supply / demand)``, 0 without demand."""
    out = np.empty(len(demand))
    for c in range(len(demand)):
        out[c] = fmin(supply[c] / demand[c], 1.0) if demand[c] > 0 else 0.0
    return out


@njit(cache=True, error_model="numpy")
def _matched(cover, total):
    """Share of orders ``total`` that find a company's wah-ku: ``C / (C + total)`` (1 without a finite cover
    or orders)."""
    if np.isfinite(cover) and total > 0:
        c = fmax(cover, 0.0)  # max(cover, 0.0)
        return c / (c + total)
    return 1.0


@njit(cache=True, error_model="numpy")
def _wholesale_week(idx, region, cash, fx, stake, qty, sales_ema, tracked, goods_households, imports, china_of,
                    mer_region, capital, productivity, sales, inventory_weeks, invest_share, trips_open, turnover,
                    cover, usd_per_t, margin, crossings, cross_mult, open_share, scale, cross_used, cross_starts,
                    cross_ids, tie_b, tie_s, tie_vol, hw, pos, place, value_r, suppliers):
    """Partners' orders of Chinese goods cut by merchant capital, wah-ku cover and crossing room, paid by the
    partners (won first, then foreign currency) and to the merchants; the goods land in the partners'
    provinces. ``value_r``: value bought by DPRK province; ``suppliers[:k]`` (k returned): what the merchants
    of each area that sold pay their Chinese suppliers (books), areas in order."""
    r = len(value_r)
    n = len(idx)
    value_r[:] = 0.0
    if n == 0:
        return 0
    # partners do not order beyond some weeks of their province's recent sales
    owned = rowsum(qty)
    factor = np.empty(r)
    for c in range(r):
        cap_stock = inventory_weeks * sales_ema[c]
        if cap_stock > 0:
            factor[c] = fmin(fmax(1.0 - owned[c] / cap_stock, 0.0), 1.0)  # np.clip(1 - owned / cap, 0, 1)
        else:
            factor[c] = 1.0 if owned[c] <= 0 else 0.0
    # a partner's orders need trips across the border (or a smuggler): a closure cuts them before any other limit
    got = np.empty(n)
    area = np.empty(n, dtype=np.int64)
    demand = np.zeros(r)
    for j in range(n):
        i = idx[j]
        got[j] = (cash[i] + fx[i]) * invest_share * factor[region[i]] * trips_open
        area[j] = china_of[region[i]]
        demand[area[j]] += got[j]
    # 1. merchant capital: what the Chinese area's merchants can supply this week
    fill = _fill(_supply(mer_region, capital, productivity, turnover, r), demand)
    for j in range(n):
        got[j] *= fill[area[j]]
    # 2. wah-ku cover: an order finds a company to import under with probability C / (C + D)
    k = _matched(cover, psum(got))
    if k != 1.0:
        for j in range(n):
            got[j] *= k
    # 3. crossing capacity
    tonnes = np.zeros(r)
    for j in range(n):
        tonnes[region[idx[j]]] += got[j]
    for c in range(r):
        tonnes[c] /= usd_per_t
    granted = np.empty(r)
    _through(crossings, cross_mult, open_share, scale, cross_used, tonnes, cross_starts, cross_ids, granted)
    # the partners pay (payments.pay_from_households: won cash first, then foreign currency)
    paid = np.empty(n)
    for j in range(n):
        i = idx[j]
        paid[j] = pay_household(i, got[j] * granted[region[i]], cash, fx)
        value_r[region[i]] += paid[j]
    amounts, before = np.zeros(r), np.zeros(r)
    _pay_merchants(area, paid, r, mer_region, capital, sales, margin, amounts, before)
    k = 0
    for c in range(r):  # the merchants restock from Chinese suppliers (leaves the books)
        if amounts[c] != 0.0:
            suppliers[k] = amounts[c] * (1.0 - margin) if before[c] > 0 else amounts[c]
            k += 1
    # the goods land in the partner's province and belong to the partners who paid
    for j in range(n):
        stake[idx[j]] += np.float32(paid[j])
    for c in range(r):
        qty[c, c] += value_r[c]
        tracked[c] += value_r[c]
        goods_households[c] += value_r[c]
        imports[c] += value_r[c]
    _tie_volumes(idx, paid, tie_b, tie_s, tie_vol, hw, pos, place)
    return k


@njit(cache=True, error_model="numpy")
def _share_out(amounts, idx, weights, region, money, income, market_income) -> None:
    """:func:`hamji.payments.share_out` of ``amounts`` to one group (households ``idx``, ``weights``;
    empty: equal shares) as market income, in compiled code: each province's amount to the group's members there by
    weight, else equally to all the province's households."""
    r = len(amounts)
    left, paid = np.empty(r), np.zeros(r)
    more = share_begin(amounts, left)
    if more and len(idx) > 0:
        more = share_group(idx, region, weights, left, paid, money, income, market_income, True, 1.0)
    if more:
        share_rest(region, left, paid, money, income, market_income, True, 1.0)


@njit(cache=True, error_model="numpy")
def _nk_goods_week(acq, partners, region, hh_region, knowhow, fx, income, market_income, persons, china_of, mer_region,
                   capital, productivity, sales, per_acquirer, trips_open, knowhow_effect, potential_usd, turnover,
                   cover, usd_per_t, margin, export_margin, crossings, cross_mult, open_share, scale, cross_used,
                   cross_starts, cross_ids, tie_b, tie_s, tie_vol, hw, pos, place, value, nk_sales):
    """Acquirers' North Korean goods (diminishing returns to a province's potential) offered through its
    partners, cut by the merchants' capital left this week, wah-ku cover and crossing room; the merchants buy
    them and pay partners and acquirers in foreign currency. ``value``: value sold by DPRK province (all 0 if
    nothing sold); ``nk_sales[:k]`` (k returned): each buying area's purchases (books), areas in order."""
    r = len(value)
    na = len(acq)
    value[:] = 0.0
    if na == 0 or len(partners) == 0 or per_acquirer <= 0:
        return 0
    # out = per_acquirer x (1 + effect x knowhow): float32, as NumPy computes a float32 array with Python floats
    out32 = np.empty(na, dtype=np.float32)
    raw = np.zeros(r)
    base, effect = np.float32(per_acquirer * trips_open), np.float32(knowhow_effect)
    for j in range(na):
        out32[j] = base * (np.float32(1.0) + effect * knowhow[acq[j]])
        raw[hh_region[acq[j]]] += out32[j]
    # gathering has diminishing returns: the province's seafood and herbs saturate at its potential
    offer = np.zeros(r)
    kept = np.zeros(r)  # share of its raw output an acquirer sells
    for c in range(r):
        if raw[c] > 0:
            potential = potential_usd * persons[c]
            offer[c] = potential * raw[c] / fmax(raw[c] + potential, _TINY)
            kept[c] = offer[c] / fmax(raw[c], _TINY)
    out = np.empty(na)
    for j in range(na):
        out[j] = out32[j] * kept[hh_region[acq[j]]]
    has_partner = np.zeros(r, dtype=np.bool_)
    for j in range(len(partners)):
        has_partner[hh_region[partners[j]]] = True
    # merchants buy with what capital they have left this week
    capacity = _supply(mer_region, capital, productivity, turnover, r)
    sold_r = np.zeros(r)
    for m in range(len(sales)):
        sold_r[mer_region[m]] += sales[m]
    area = np.empty(r, dtype=np.int64)
    demand = np.zeros(r)
    for c in range(r):
        capacity[c] = fmax(capacity[c] - sold_r[c], 0.0)
        if not has_partner[c]:
            offer[c] = 0.0
        area[c] = china_of[c] if china_of[c] >= 0 else 0
        demand[area[c]] += offer[c]
    fill = _fill(capacity, demand)
    for c in range(r):
        value[c] = offer[c] * fill[area[c]]
    # the partners sell under a company's wah-ku too (a wah-ku covers trade or barter both ways): same matching
    k = _matched(cover, psum(value))
    tonnes = np.empty(r)
    for c in range(r):
        if k != 1.0:
            value[c] *= k
        tonnes[c] = value[c] / usd_per_t
    granted = np.empty(r)
    _through(crossings, cross_mult, open_share, scale, cross_used, tonnes, cross_starts, cross_ids, granted)
    for c in range(r):
        value[c] *= granted[c]
    if psum(value) <= 0:
        value[:] = 0.0
        return 0
    # merchants pay the partners (and through them the acquirers) v(1 - margin), then sell on in China for v
    sold = np.zeros(r)
    _buy_nk_goods(area, value, r, mer_region, capital, margin, sold)
    k = 0
    for c in range(r):
        if sold[c] != 0.0:
            nk_sales[k] = sold[c]
            k += 1
    to_partners, to_acquirers = np.empty(r), np.empty(r)
    for c in range(r):
        pay_hh = value[c] * (1.0 - margin)
        to_partners[c] = pay_hh * export_margin
        to_acquirers[c] = pay_hh * (1.0 - export_margin)
    _share_out(to_partners, partners, np.zeros(0), region, fx, income, market_income)
    _share_out(to_acquirers, acq, out, region, fx, income, market_income)
    if hw > 0:  # each partner's tie volumes: an equal share of its province's sales
        cnt = np.zeros(r, dtype=np.int64)
        for j in range(len(partners)):
            cnt[hh_region[partners[j]]] += 1
        pay_p = np.empty(len(partners))
        for j in range(len(partners)):
            c = hh_region[partners[j]]
            pay_p[j] = value[c] / max(cnt[c], 1)
        _tie_volumes(partners, pay_p, tie_b, tie_s, tie_vol, hw, pos, place)
    return k


@njit(cache=True)
def _area_totals(country, bought, mer_region, sales, capital, wholesale, capital_r) -> None:
    """The week's records by area: ``wholesale`` what DPRK provinces bought (``bought``) and what each Chinese
    area's merchants sold; ``capital_r`` the merchants' capital (np.bincount sums, in merchant order)."""
    sold = np.zeros(len(bought))
    capital_r[:] = 0.0
    for m in range(len(sales)):
        sold[mer_region[m]] += sales[m]
        capital_r[mer_region[m]] += capital[m]
    for c in range(len(bought)):
        wholesale[c] = bought[c] if country[c] == 0 else sold[c]


@njit(cache=True, error_model="numpy")
def _week(mer_region, jilin, mer_partners, capital, sme_loans, microloans, productivity, sales,  # merchants
          incentive_year, new_year, grant_week, loan_usd, term_weeks, loan_rate, weeks_a_year, drawings,
          trade_on, partners, acq, hh_region, region, cash, fx, stake, knowhow, income, market_income,  # trade
          qty, sales_ema, tracked, goods_households, imports, china_of, persons,
          inventory_weeks, invest_share, trips_open, turnover, cover, goods_usd_per_t, margin,
          per_acquirer, knowhow_effect, potential_usd, nk_usd_per_t, export_margin,
          crossings, cross_mult, open_share, scale, cross_used, cross_starts, cross_ids,  # borders
          tie_b, tie_s, tie_vol, hw, pos, place,  # merchant ties
          country, incentives_r, bought, nk, wholesale_r, capital_r, suppliers, nk_sales):
    """The module's week in one call (a call's dispatch costs more than most of its arithmetic at small scale):
    merchants' finance, then (``trade_on``) the partners' wholesale and their sales of North Korean goods, then
    the records by area. Returns the books' flows: incentives, loan service, drawings (NaN: none booked) and the
    number of entries in ``suppliers`` and ``nk_sales``."""
    incentives, service, drawn = _merchant_finance(mer_region, jilin, mer_partners, capital, sme_loans, microloans,
                                                   sales, incentive_year, new_year, grant_week, loan_usd, term_weeks,
                                                   loan_rate, weeks_a_year, drawings, incentives_r)
    k_suppliers = k_nk = 0
    bought[:] = 0.0
    nk[:] = 0.0
    if trade_on:
        k_suppliers = _wholesale_week(
            partners, hh_region, cash, fx, stake, qty, sales_ema, tracked, goods_households, imports, china_of,
            mer_region, capital, productivity, sales, inventory_weeks, invest_share, trips_open, turnover, cover,
            goods_usd_per_t, margin, crossings, cross_mult, open_share, scale, cross_used, cross_starts, cross_ids,
            tie_b, tie_s, tie_vol, hw, pos, place, bought, suppliers)
        k_nk = _nk_goods_week(
            acq, partners, region, hh_region, knowhow, fx, income, market_income, persons, china_of, mer_region,
            capital, productivity, sales, per_acquirer, trips_open, knowhow_effect, potential_usd, turnover, cover,
            nk_usd_per_t, margin, export_margin, crossings, cross_mult, open_share, scale, cross_used, cross_starts,
            cross_ids, tie_b, tie_s, tie_vol, hw, pos, place, nk, nk_sales)
    _area_totals(country, bought, mer_region, sales, capital, wholesale_r, capital_r)
    return incentives, service, drawn, k_suppliers, k_nk


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

    def setup(self, sim: Sim) -> None:
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
        # the week's region-level results, and the books' flows by area (the kernels fill them)
        self._incentives_r, self._bought, self._nk = np.zeros(r), np.zeros(r), np.zeros(r)
        self._wholesale_r, self._capital_r = np.zeros(r), np.zeros(r)
        self._suppliers, self._nk_sales = np.zeros(r), np.zeros(r)
        self._none = np.zeros(0, dtype=np.int64)  # no households (trade off)
        self._no_loans = np.zeros(0)  # merchants without microloans
        self._no_ties = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32))

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        ts = trade_state(sim)
        ts.sync(sim)
        pars = sim.pars
        hh = sim.people.households
        mer = sim.people.merchants
        mkt = sim.market
        b = sim.borders
        trade_on = bool(pars.wholesale_on)
        partners = self._partners(sim, ts) if trade_on else self._none
        acq = ts.role_idx(sim, ROLE_ACQUIRER) if trade_on and len(partners) else self._none
        tie_b, tie_s, tie_vol, hw = self._ties(ts)
        incentives, service, drawn, k_suppliers, k_nk = _week(
            mer.region, self.jilin, mer.partners, mer.capital, mer.sme_loans,
            mer.microloan_balance if "microloan_balance" in mer.states else self._no_loans, mer.productivity, mer.sales,
            pars.wholesale_sme_start_year <= sim.year <= pars.wholesale_sme_end_year, bool(sim.new_year),
            pars.wholesale_sme_grant_usd / WEEKS_A_YEAR, float(pars.wholesale_sme_loan_usd),
            float(pars.wholesale_sme_loan_term_weeks), float(pars.wholesale_sme_loan_rate), WEEKS_A_YEAR,
            float(pars.wholesale_merchant_drawings),
            trade_on, partners, acq, hh.region, ts.region, hh.cash, hh.fx, hh.goods_stake, hh.knowhow, hh.income,
            hh.market_income, ts.qty, ts.sales_ema, ts.tracked, mkt.goods_households, mkt.imports_wholesale,
            self.china_of, self.persons,
            float(pars.wholesale_inventory_weeks), float(pars.wholesale_partner_invest_share),
            float(pars.border_trips_open), float(pars.wholesale_merchant_turnover), float(mkt.wholesale_cover),
            float(pars.consumer_goods_usd_per_t), float(pars.merchant_margin),
            float(pars.wholesale_nk_goods_usd_per_acquirer_week), float(pars.retail_knowhow_effect),
            float(pars.wholesale_nk_goods_potential_usd), float(pars.wholesale_nk_goods_usd_per_t),
            float(pars.wholesale_partner_export_margin),
            b.capacity_t_year, b.multiplier, float(b.open_share), float(b.scale), b.used_t, self._cross_starts,
            self._cross_ids, tie_b, tie_s, tie_vol, hw, self._pos, self._place,
            sim.world.country, self._incentives_r, self._bought, self._nk, self._wholesale_r, self._capital_r,
            self._suppliers, self._nk_sales)
        books = sim.books  # in the order the flows happened (NaN: none)
        if incentives == incentives:
            books.inflow("sme_incentives", incentives)
        if service == service:
            books.outflow("sme_loan_service", service)
        if drawn == drawn:
            books.outflow("merchant_drawings", drawn)
        for amount in self._suppliers[:k_suppliers].tolist():  # the merchants restock from Chinese suppliers
            books.outflow("chinese_suppliers", amount)
        for amount in self._nk_sales[:k_nk].tolist():  # merchants sell North Korean goods on in China
            books.inflow("nk_goods_sales", amount)
        res = sim.results
        res.record("merchant_wholesale_usd", self._wholesale_r)
        res.record("nk_goods_sold_usd", self._nk)
        res.record("sme_incentives_usd", self._incentives_r)
        res.record("merchant_capital_usd", self._capital_r)

    def _partners(self, sim: Sim, ts) -> np.ndarray:
        """Free partner households with at least one active merchant tie (all free partners without a network)."""
        cached = getattr(self, "_tied", None)
        if cached is not None and cached[0] == sim.week:
            return cached[1]
        idx = ts.role_idx(sim, ROLE_PARTNER)
        if ts.mp is not None and len(idx):
            idx = _with_ties(idx, ts.mp.b, ts.mp.s, ts.mp.hw, len(sim.people.households.region))
        self._tied = (sim.week, idx)
        return idx

    def _ties(self, ts):
        """The merchant ties' arrays for the kernels (none, ``hw`` 0, without a network)."""
        mp = ts.mp
        if mp is None:
            return self._no_ties + (0,)
        if len(self._place) < mp.hw:
            self._place = np.empty(len(mp.s), dtype=np.int64)
        return mp.b, mp.s, mp.vol, int(mp.hw)
