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

Trade credit, as the record has it (``border_trade_evidence.csv``, topics credit and turnover): a partner pays
``1 - credit_share`` of a delivery's value when the goods arrive and owes the rest to the merchants of the area it
buys from; it orders accordingly, ``money x invest_share / (1 - credit_share)`` (the upfront part is what its money
pays). The merchants pay their suppliers in full, so the credit comes out of their cash capital, which is what
turns over (limit 1): capital lent to partners does not supply goods until it is repaid. Each week partners repay
``debt x trips_open / credit_weeks`` from their money (repayments cross with traders, so a closure freezes them and
ties up the merchants' cash), to their area's merchants by claim, and ``1 - (1 - credit_loss_rate)^(1/52)`` of every
debt and every claim is written off (no money moves: the merchants lose the claim, the partner keeps the goods).
A loan to a Jilin merchant thus raises what it can supply where its cash binds, and its cash binds where it lends
to partners: with ``credit_share`` 0 (cash-and-carry) and the record's turnover, no merchant is short of capital.
Partners also sell North Korean goods (seafood, herbs) that acquirer households gather (with
diminishing returns: a province's offer is ``P raw / (raw + P)``, P its potential), under a
company's wah-ku as well (the same matching, ``C / (C + offer)``, since a wah-ku covers trade both
ways; this is the money forgery brings into the border provinces): merchants pay
for them from capital and sell them on in China (money enters the books). Merchants' owners
draw a little capital each week. Chinese SME grants and preferential loans are paid to Jilin
merchants trading with the North in the incentive years.

The week's region-level arithmetic is one compiled call (:func:`_week`): at small scales a week is
mostly calls on a few provinces' values, each costing more than its arithmetic. The kernels read named
records (:class:`WholesalePars`, built when parameters change; the merchants', households', provinces' and
ties' arrays) and return what the merchants paid their Chinese suppliers, which
:func:`hamji.market.pay_chinese_suppliers` books. It is NumPy's arithmetic to the bit: sums in NumPy's order
(:func:`hamji.kernels.psum`, ``np.bincount`` order), float32 where NumPy computes in float32; partners pay as
:func:`hamji.payments.pay_from_households` takes and are paid as :func:`hamji.payments.share_out` pays
(tests/modules/test_wholesale.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from hamji.kernels import fmax, fmin, pairwise_sum, psum, rowsum
from hamji.market import _through, pay_chinese_suppliers, sell_to_merchants
from hamji.module import Metric, Module, State
from hamji.payments import pay_household, share_begin, share_group, share_rest
from hamji.people import ROLE_ACQUIRER, ROLE_PARTNER
from hamji.trade import trade_state

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

#: weeks in a year (grants and loan interest are annual figures paid weekly)
WEEKS_A_YEAR = 52.0
#: floor of the denominators of the gathering's diminishing returns (a province's raw offer and potential)
_TINY = 1e-12


class WholesalePars(NamedTuple):
    """The parameters the wholesale kernels read (float64, as the kernels compute)."""

    grant_week: float  # wholesale_sme_grant_usd / 52: a trading Jilin merchant's SME grant a week
    loan_usd: float  # wholesale_sme_loan_usd: its preferential loan at the new year
    term_weeks: float  # wholesale_sme_loan_term_weeks
    loan_rate: float  # wholesale_sme_loan_rate (a year)
    drawings: float  # wholesale_merchant_drawings: the owners' weekly share of their equity
    inventory_weeks: float  # wholesale_inventory_weeks: partners own at most this many weeks of recent sales
    invest_share: float  # wholesale_partner_invest_share: of a partner's cash and FX ordered a week
    trips_open: float  # border_trips_open: traders' trips across the border (1 normally)
    turnover: float  # wholesale_merchant_turnover: merchants supply capital x productivity x turnover a week
    goods_usd_per_t: float  # consumer_goods_usd_per_t
    margin: float  # merchant_margin
    per_acquirer: float  # wholesale_nk_goods_usd_per_acquirer_week
    knowhow_effect: float  # retail_knowhow_effect
    potential_usd: float  # wholesale_nk_goods_potential_usd: a province's potential P, per person
    nk_usd_per_t: float  # wholesale_nk_goods_usd_per_t
    export_margin: float  # wholesale_partner_export_margin: the partners' share of what acquirers' goods earn
    credit_share: float  # wholesale_credit_share: of a delivery, paid after it
    credit_weeks: float  # wholesale_credit_weeks: weeks to repay, with traders crossing freely
    loss_week: float  # 1 - (1 - wholesale_credit_loss_rate) ** (1 / 52): credit written off a week

    @classmethod
    def of(cls, pars) -> WholesalePars:
        return cls(pars.wholesale_sme_grant_usd / WEEKS_A_YEAR, float(pars.wholesale_sme_loan_usd),
                   float(pars.wholesale_sme_loan_term_weeks), float(pars.wholesale_sme_loan_rate),
                   float(pars.wholesale_merchant_drawings), float(pars.wholesale_inventory_weeks),
                   float(pars.wholesale_partner_invest_share), float(pars.border_trips_open),
                   float(pars.wholesale_merchant_turnover), float(pars.consumer_goods_usd_per_t),
                   float(pars.merchant_margin), float(pars.wholesale_nk_goods_usd_per_acquirer_week),
                   float(pars.retail_knowhow_effect), float(pars.wholesale_nk_goods_potential_usd),
                   float(pars.wholesale_nk_goods_usd_per_t), float(pars.wholesale_partner_export_margin),
                   float(pars.wholesale_credit_share), float(pars.wholesale_credit_weeks),
                   1.0 - (1.0 - float(pars.wholesale_credit_loss_rate)) ** (1.0 / WEEKS_A_YEAR))


class Merchants(NamedTuple):
    """The Chinese merchants' arrays the kernels read and write."""

    region: np.ndarray  # Chinese area
    jilin: np.ndarray  # in Jilin (SME incentives)
    partners: np.ndarray  # partner households tied to it
    capital: np.ndarray
    sme_loans: np.ndarray
    microloans: np.ndarray  # microlending's balances (empty without it)
    productivity: np.ndarray
    sales: np.ndarray  # this week's wholesale
    receivables: np.ndarray  # trade credit to partners not yet repaid, US$


class Households(NamedTuple):
    """The households' arrays the partners' and acquirers' trade reads and writes."""

    region: np.ndarray
    cash: np.ndarray
    fx: np.ndarray
    stake: np.ndarray  # goods_stake: the partners' goods, landed US$
    knowhow: np.ndarray
    income: np.ndarray
    market_income: np.ndarray
    debt: np.ndarray  # trade_debt: what the household owes Chinese merchants, US$


class Provinces(NamedTuple):
    """Each province's route to China (its crossings, the Chinese area across), its persons, and the crossings."""

    country: np.ndarray  # 0: DPRK
    china_of: np.ndarray  # the Chinese area a DPRK province trades with (-1: none)
    persons: np.ndarray
    cross_starts: np.ndarray  # province i's crossings: cross_ids[cross_starts[i]:cross_starts[i + 1]]
    cross_ids: np.ndarray
    capacity: np.ndarray  # borders.capacity_t_year
    multiplier: np.ndarray
    used: np.ndarray  # tonnes used this week
    scale: float


class Goods(NamedTuple):
    """The goods the partners' imports add to (rebuilt each week: the trade state replaces ``tracked``)."""

    qty: np.ndarray  # goods by (province where, owner province)
    sales_ema: np.ndarray  # recent retail sales by owner province
    tracked: np.ndarray
    goods_households: np.ndarray  # sim.market's
    imports: np.ndarray  # sim.market.imports_wholesale


class Ties(NamedTuple):
    """The merchant ties (rebuilt each week: they grow) and the work space that credits their volumes."""

    b: np.ndarray  # the partner's household
    s: np.ndarray  # strength
    vol: np.ndarray  # volume traded
    hw: int  # ties in use
    pos: np.ndarray  # household -> place in a call's partner list (len(pos): not a partner)
    place: np.ndarray  # each tie's partner place


class WholesaleWeek(NamedTuple):
    """This week's inputs: who trades, the incentive calendar, the wah-ku cover and the border."""

    partners: np.ndarray  # free partners with a live merchant tie
    acquirers: np.ndarray
    incentive_year: bool
    new_year: bool
    trade_on: bool  # wholesale_on
    cover: float  # sim.market.wholesale_cover: spare wah-ku quota (inf: unlimited)
    open_share: float  # borders.open_share


class Out(NamedTuple):
    """The week's records by area, and the books' flows by area (``[:k]`` of the counts the kernel returns)."""

    incentives_r: np.ndarray
    bought: np.ndarray  # Chinese goods bought by DPRK province
    nk: np.ndarray  # North Korean goods sold, by DPRK province
    wholesale_r: np.ndarray
    capital_r: np.ndarray
    suppliers: np.ndarray  # each selling area's sale to the partners ...
    capital_before: np.ndarray  # ... and its merchants' capital before it (pay_chinese_suppliers)
    nk_sales: np.ndarray  # each buying area's purchases of North Korean goods
    credit_r: np.ndarray  # merchants' trade credit outstanding, by Chinese area
    losses_r: np.ndarray  # trade credit written off this week, by Chinese area


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
        Metric("merchant_credit_usd", "US$", "Trade credit the Chinese merchants have outstanding with North Korean"
               " partners at the end of the week (wholesale_credit_share of each delivery, until repaid or written off),"
               " by Chinese area.", annual="last", scaled=True),
        Metric("merchant_credit_losses_usd", "US$", "Trade credit written off this week (wholesale_credit_loss_rate): the"
               " merchants' loss, the partners' gain of goods not paid for, by Chinese area.", scaled=True),
    )
    states = (
        State("merchants", "partners", "int16", 0, "partner households with a live tie to the merchant"),
        State("merchants", "productivity", "float32", 1.0, "goods supplied a week per US$ of capital (x turnover)"),
        State("merchants", "quality", "float32", 1.0, "how much partners prefer the merchant when they form ties"),
        State("merchants", "loans", "float64", 0.0, "loans outstanding, US$"),
        State("merchants", "sme_loans", "float64", 0.0, "Chinese SME preferential loans outstanding, US$"),
        State("merchants", "sales", "float32", 0.0, "wholesale to North Korean partners this week, US$"),
        # micro-loans outstanding take from the equity merchants draw on (set by microlending, 0 without it)
        State("merchants", "microloan_balance", "float64", 0.0, "micro-loan not yet repaid or written off, US$"),
        State("merchants", "receivables", "float64", 0.0, "trade credit to North Korean partners not yet repaid, US$"),
        State("households", "trade_debt", "float64", 0.0, "trade credit owed to Chinese merchants, US$"),
    )

    def setup(self, sim: Sim) -> None:
        w = sim.world
        mer = sim.people.merchants
        # trading know-how: its fill is a parameter, so it is added here rather than declared
        mer.add("knowhow", np.float32, fill=sim.pars.wholesale_merchant_knowhow)
        b = sim.borders
        r = w.n_regions
        # each DPRK province trades through its own crossings (else the nearest), with one Chinese area
        china_of = np.full(r, -1, dtype=np.int64)
        china_of[w.dprk] = b.china_region[b.nearest[w.dprk]]
        crossings_of: dict[int, np.ndarray] = {}
        for i in w.dprk:
            own = np.flatnonzero(b.dprk_region == i)
            own = own[b.china_region[own] == china_of[i]]
            crossings_of[int(i)] = own if len(own) else np.array([b.nearest[i]])
        # the same lists in one array (province i: cross_ids[cross_starts[i]:cross_starts[i + 1]])
        lists = [crossings_of.get(i, np.zeros(0, dtype=np.int64)) for i in range(r)]
        starts = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
        hh = sim.people.households
        persons = np.bincount(hh.region, weights=hh.size, minlength=r).astype(float)
        self.provinces = Provinces(w.country, china_of, persons, starts, np.concatenate(lists).astype(np.int64),
                                   b.capacity_t_year, b.multiplier, b.used_t, float(b.scale))
        jilin = np.isin(mer.region, np.array(w.groups.get("Jilin", []), dtype=int))
        # microlending's balances (that module adds them in its set-up, before this one's, when it is in the plan)
        microloans = mer.microloan_balance
        self.merchants = Merchants(mer.region, jilin, mer.partners, mer.capital, mer.sme_loans, microloans,
                                   mer.productivity, mer.sales, mer.receivables)
        self.households = Households(hh.region, hh.cash, hh.fx, hh.goods_stake, hh.knowhow, hh.income, hh.market_income,
                                     hh.trade_debt)
        self._pos = np.full(hh.n, hh.n, dtype=np.int32)  # household -> place in this call's partner list
        self._place = np.empty(0, dtype=np.int64)  # each merchant tie's partner place (work space)
        self.out = Out(*(np.zeros(r) for _ in Out._fields))  # the kernels fill them each week
        self._none = np.zeros(0, dtype=np.int64)  # no households (trade off)
        self._no_ties = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32))
        self._tied: tuple[int, np.ndarray | None] = (-1, None)  # this week's partners with ties

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The kernels' parameter record."""
        self.p = WholesalePars.of(sim.pars)

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        ts = trade_state(sim)
        ts.sync(sim)
        pars = sim.pars
        mkt = sim.market
        trade_on = bool(pars.wholesale_on)
        partners = self._partners(sim, ts) if trade_on else self._none
        acq = ts.role_idx(sim, ROLE_ACQUIRER) if trade_on and len(partners) else self._none
        week = WholesaleWeek(partners, acq, pars.wholesale_sme_start_year <= sim.year <= pars.wholesale_sme_end_year,
                             bool(sim.new_year), trade_on, float(mkt.wholesale_cover), float(sim.borders.open_share))
        goods = Goods(ts.qty, ts.sales_ema, ts.tracked, mkt.goods_households, mkt.imports_wholesale)
        out = self.out
        incentives, service, drawn, k_suppliers, k_nk = _week(tuple(week), tuple(self.p), tuple(self.merchants),
                                                              tuple(self.households), tuple(goods), tuple(self.provinces),
                                                              tuple(self._ties(ts)), tuple(out))
        books = sim.books  # in the order the flows happened (NaN: none)
        if incentives == incentives:
            books.inflow("sme_incentives", incentives)
        if service == service:
            books.outflow("sme_loan_service", service)
        if drawn == drawn:
            books.outflow("merchant_drawings", drawn)
        margin = self.p.margin
        for amount, before in zip(out.suppliers[:k_suppliers].tolist(), out.capital_before[:k_suppliers].tolist()):
            pay_chinese_suppliers(books, amount, before, margin)  # the merchants restock from Chinese suppliers
        for amount in out.nk_sales[:k_nk].tolist():  # merchants sell North Korean goods on in China
            books.inflow("nk_goods_sales", amount)
        res = sim.results
        res.record("merchant_wholesale_usd", out.wholesale_r)
        res.record("nk_goods_sold_usd", out.nk)
        res.record("sme_incentives_usd", out.incentives_r)
        res.record("merchant_capital_usd", out.capital_r)
        res.record("merchant_credit_usd", out.credit_r)
        res.record("merchant_credit_losses_usd", out.losses_r)

    def _partners(self, sim: Sim, ts) -> np.ndarray:
        """Free partner households with at least one active merchant tie (all free partners without a network)."""
        week, idx = self._tied
        if week == sim.week:
            return idx
        idx = ts.role_idx(sim, ROLE_PARTNER)
        if ts.mp is not None and len(idx):
            idx = _with_ties(idx, ts.mp.b, ts.mp.s, ts.mp.hw, len(sim.people.households.region))
        self._tied = (sim.week, idx)
        return idx

    def _ties(self, ts) -> Ties:
        """The merchant ties for the kernels (none, ``hw`` 0, without a network)."""
        mp = ts.mp
        if mp is None:
            return Ties(*self._no_ties, 0, self._pos, self._place)
        if len(self._place) < mp.hw:
            self._place = np.empty(len(mp.s), dtype=np.int64)
        return Ties(mp.b, mp.s, mp.vol, int(mp.hw), self._pos, self._place)


# -- the compiled week -------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _week(w, p, m, hh, goods, prov, ties, out):
    """The module's week in one call (a call's dispatch costs more than most of its arithmetic at small scale):
    merchants' finance, then (``w.trade_on``) the partners' wholesale and their sales of North Korean goods, then
    the records by area. Returns the books' flows: incentives, loan service, drawings (NaN: none booked) and the
    number of entries in ``out.suppliers`` (with ``out.capital_before``) and ``out.nk_sales``."""
    w = WholesaleWeek(*w)
    p = WholesalePars(*p)
    m = Merchants(*m)
    hh = Households(*hh)
    goods = Goods(*goods)
    prov = Provinces(*prov)
    ties = Ties(*ties)
    out = Out(*out)
    _collect_credit(p, m, hh, prov, out.losses_r)
    incentives, service, drawn = _merchant_finance(m, p, w.incentive_year, w.new_year, out.incentives_r)
    k_suppliers = k_nk = 0
    out.bought[:] = 0.0
    out.nk[:] = 0.0
    if w.trade_on:
        k_suppliers = _wholesale_week(w, p, m, hh, goods, prov, ties, out)
        k_nk = _nk_goods_week(w, p, m, hh, prov, ties, out)
    _area_totals(prov.country, m, out)
    return incentives, service, drawn, k_suppliers, k_nk


@njit(cache=True, error_model="numpy")
def _collect_credit(p, m, hh, prov, losses_r) -> None:
    """Trade credit's week: ``loss_week`` of every debt and every claim is written off (``losses_r``: the merchants'
    loss by Chinese area), then each household in debt repays ``min(money, debt x trips_open / credit_weeks)`` (won
    first, then foreign currency) to the merchants of the area its province buys from, shared by their claims. Nothing
    is collected in an area whose merchants hold no claim (a debt then only waits to be written off)."""
    losses_r[:] = 0.0
    claims = m.receivables
    r = len(losses_r)
    held = np.zeros(r)
    for i in range(len(claims)):
        if claims[i] > 0:
            lost = claims[i] * p.loss_week
            claims[i] -= lost
            losses_r[m.region[i]] += lost
            held[m.region[i]] += claims[i]
    if not np.any(held > 0):
        return
    rate = p.trips_open / p.credit_weeks
    debt, region = hh.debt, hh.region
    repaid = np.zeros(r)
    for i in range(len(debt)):
        if debt[i] > 0:
            debt[i] -= debt[i] * p.loss_week
            area = prov.china_of[region[i]]
            if area >= 0 and held[area] > 0:
                paid = pay_household(i, fmin(debt[i], debt[i] * rate), hh.cash, hh.fx)
                debt[i] -= paid
                repaid[area] += paid
    for i in range(len(claims)):
        c = m.region[i]
        if repaid[c] > 0 and claims[i] > 0:
            back = repaid[c] * claims[i] / held[c]
            claims[i] -= back
            m.capital[i] += back


@njit(cache=True, error_model="numpy")
def _merchant_finance(m, p, incentive_year, new_year, paid_r):
    """The merchants' week before trade: SME grants (``grant_week``) and loans (``loan_usd`` at the new year) to
    Jilin merchants trading with the North (all Jilin merchants if none trades), loan service
    ``min(max(capital, 0), L / term_weeks + L x loan_rate / 52)``, then the owners' drawings
    ``min(max(capital + receivables - L - microloans, 0) x drawings, max(capital, 0))`` (owners draw on their
    equity, claims on partners included, but only from cash).

    ``paid_r``: incentives paid by area; ``m.microloans`` empty if merchants have no microloans. Returns the
    books' flows (incentives, loan service, drawings), each NaN where none is booked."""
    region, jilin, capital, sme_loans, microloans = m.region, m.jilin, m.capital, m.sme_loans, m.microloans
    n = len(capital)
    m.sales[:] = 0.0
    paid = np.zeros(n)
    inflow_incentives = np.nan
    if incentive_year:
        trading = False
        for i in range(n):
            trading |= jilin[i] and m.partners[i] > 0
        any_paid = False
        for i in range(n):
            eligible = jilin[i] and (m.partners[i] > 0 or not trading)
            paid[i] += p.grant_week if eligible else 0.0
            if new_year:
                loan = p.loan_usd if eligible else 0.0
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
            principal = sme_loans[i] / p.term_weeks
            interest = sme_loans[i] * p.loan_rate / WEEKS_A_YEAR
            due = principal + interest
            pay[i] = fmin(fmax(capital[i], 0.0), due)
            if due > 0:
                sme_loans[i] -= pay[i] * principal / due
            capital[i] -= pay[i]
        outflow_service = psum(pay)
    outflow_drawings = np.nan
    if p.drawings > 0:  # owners take a share of their own capital (not of borrowed money)
        d = np.empty(n)
        for i in range(n):
            equity = capital[i] + m.receivables[i] - sme_loans[i]
            if len(microloans):
                equity = equity - microloans[i]
            d[i] = fmin(fmax(equity, 0.0) * p.drawings, fmax(capital[i], 0.0))
            capital[i] -= d[i]
        outflow_drawings = psum(d)
    paid_r[:] = 0.0
    for i in range(n):  # np.bincount(region, weights=paid)
        paid_r[region[i]] += paid[i]
    return inflow_incentives, outflow_service, outflow_drawings


@njit(cache=True, error_model="numpy")
def _wholesale_week(w, p, m, hh, goods, prov, ties, out):
    """Partners' orders of Chinese goods, ``(cash + fx) x invest_share x clip(1 - owned / (inventory_weeks x
    sales), 0, 1) x trips_open / (1 - credit_share)``, cut by merchant capital, wah-ku cover and crossing room; the
    partners pay ``1 - credit_share`` of what is delivered (won first, then foreign currency) and owe the rest to the
    merchants, who are paid; the goods land in the partners' provinces. ``out.bought``:
    value bought by DPRK province; ``out.suppliers[:k]`` and ``out.capital_before[:k]`` (k returned): the sale of
    each area that sold and its merchants' capital before it (the books), areas in order."""
    idx, region, cash, fx = w.partners, hh.region, hh.cash, hh.fx
    value_r = out.bought
    r = len(value_r)
    n = len(idx)
    value_r[:] = 0.0
    if n == 0:
        return 0
    upfront = 1.0 - p.credit_share  # of a delivery, paid when it arrives
    # partners do not order beyond some weeks of their province's recent sales
    owned = rowsum(goods.qty)
    factor = np.empty(r)
    for c in range(r):
        cap_stock = p.inventory_weeks * goods.sales_ema[c]
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
        got[j] = (cash[i] + fx[i]) * p.invest_share * factor[region[i]] * p.trips_open / upfront
        area[j] = prov.china_of[region[i]]
        demand[area[j]] += got[j]
    # 1. merchant capital: what the Chinese area's merchants can supply this week
    fill = _fill(_supply(m, p.turnover, r), demand)
    for j in range(n):
        got[j] *= fill[area[j]]
    # 2. wah-ku cover: an order finds a company to import under with probability C / (C + D)
    k = _matched(w.cover, psum(got))
    if k != 1.0:
        for j in range(n):
            got[j] *= k
    # 3. crossing capacity
    tonnes = np.zeros(r)
    for j in range(n):
        tonnes[region[idx[j]]] += got[j]
    for c in range(r):
        tonnes[c] /= p.goods_usd_per_t
    granted = np.empty(r)
    _through(prov.capacity, prov.multiplier, w.open_share, prov.scale, prov.used, tonnes, prov.cross_starts,
             prov.cross_ids, granted)
    # the partners pay the upfront part (payments.pay_from_households: won cash first, then foreign currency) and owe
    # the rest: what is delivered is what the upfront part paid for
    paid = np.empty(n)
    for j in range(n):
        i = idx[j]
        if upfront == 1.0:  # cash-and-carry
            paid[j] = pay_household(i, got[j] * granted[region[i]], cash, fx)
        else:
            paid[j] = pay_household(i, got[j] * granted[region[i]] * upfront, cash, fx) / upfront
            hh.debt[i] += paid[j] * p.credit_share
        value_r[region[i]] += paid[j]
    amounts, before = np.zeros(r), np.zeros(r)
    _pay_merchants(area, paid, m, p.margin, p.credit_share, amounts, before)
    k = 0
    for c in range(r):  # the merchants restock from Chinese suppliers (pay_chinese_suppliers books it)
        if amounts[c] != 0.0:
            out.suppliers[k] = amounts[c]
            out.capital_before[k] = before[c]
            k += 1
    # the goods land in the partner's province and belong to the partners who paid
    for j in range(n):
        hh.stake[idx[j]] += np.float32(paid[j])
    for c in range(r):
        goods.qty[c, c] += value_r[c]
        goods.tracked[c] += value_r[c]
        goods.goods_households[c] += value_r[c]
        goods.imports[c] += value_r[c]
    _tie_volumes(idx, paid, ties)
    return k


@njit(cache=True, error_model="numpy")
def _nk_goods_week(w, p, m, hh, prov, ties, out):
    """Acquirers' North Korean goods, ``per_acquirer x trips_open x (1 + knowhow_effect x knowhow)`` each, with
    diminishing returns to a province's potential (offer ``P raw / (raw + P)``), offered through its partners, cut
    by the merchants' capital left this week, wah-ku cover and crossing room; the merchants buy them and pay
    partners and acquirers in foreign currency. ``out.nk``: value sold by DPRK province (all 0 if nothing sold);
    ``out.nk_sales[:k]`` (k returned): each buying area's purchases (books), areas in order."""
    acq, partners, region, china_of = w.acquirers, w.partners, hh.region, prov.china_of
    value = out.nk
    r = len(value)
    na = len(acq)
    value[:] = 0.0
    if na == 0 or len(partners) == 0 or p.per_acquirer <= 0:
        return 0
    # out = per_acquirer x (1 + effect x knowhow): float32, as NumPy computes a float32 array with Python floats
    out32 = np.empty(na, dtype=np.float32)
    raw = np.zeros(r)
    base, effect = np.float32(p.per_acquirer * p.trips_open), np.float32(p.knowhow_effect)
    for j in range(na):
        out32[j] = base * (np.float32(1.0) + effect * hh.knowhow[acq[j]])
        raw[region[acq[j]]] += out32[j]
    # gathering has diminishing returns: the province's seafood and herbs saturate at its potential
    offer = np.zeros(r)
    kept = np.zeros(r)  # share of its raw output an acquirer sells
    for c in range(r):
        if raw[c] > 0:
            potential = p.potential_usd * prov.persons[c]
            offer[c] = potential * raw[c] / fmax(raw[c] + potential, _TINY)
            kept[c] = offer[c] / fmax(raw[c], _TINY)
    sold_each = np.empty(na)
    for j in range(na):
        sold_each[j] = out32[j] * kept[region[acq[j]]]
    has_partner = np.zeros(r, dtype=np.bool_)
    for j in range(len(partners)):
        has_partner[region[partners[j]]] = True
    # merchants buy with what capital they have left this week
    capacity = _supply(m, p.turnover, r)
    sold_r = np.zeros(r)
    for i in range(len(m.sales)):
        sold_r[m.region[i]] += m.sales[i]
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
    k = _matched(w.cover, psum(value))
    tonnes = np.empty(r)
    for c in range(r):
        if k != 1.0:
            value[c] *= k
        tonnes[c] = value[c] / p.nk_usd_per_t
    granted = np.empty(r)
    _through(prov.capacity, prov.multiplier, w.open_share, prov.scale, prov.used, tonnes, prov.cross_starts,
             prov.cross_ids, granted)
    for c in range(r):
        value[c] *= granted[c]
    if psum(value) <= 0:
        value[:] = 0.0
        return 0
    # merchants pay the partners (and through them the acquirers) v(1 - margin), then sell on in China for v
    sold = np.zeros(r)
    _buy_nk_goods(area, value, m, p.margin, sold)
    k = 0
    for c in range(r):
        if sold[c] != 0.0:
            out.nk_sales[k] = sold[c]
            k += 1
    to_partners, to_acquirers = np.empty(r), np.empty(r)
    for c in range(r):
        pay_hh = value[c] * (1.0 - p.margin)
        to_partners[c] = pay_hh * p.export_margin
        to_acquirers[c] = pay_hh * (1.0 - p.export_margin)
    _share_out(to_partners, partners, np.zeros(0), region, hh.fx, hh.income, hh.market_income)
    _share_out(to_acquirers, acq, sold_each, region, hh.fx, hh.income, hh.market_income)
    if ties.hw > 0:  # each partner's tie volumes: an equal share of its province's sales
        cnt = np.zeros(r, dtype=np.int64)
        for j in range(len(partners)):
            cnt[region[partners[j]]] += 1
        pay_p = np.empty(len(partners))
        for j in range(len(partners)):
            c = region[partners[j]]
            pay_p[j] = value[c] / max(cnt[c], 1)
        _tie_volumes(partners, pay_p, ties)
    return k


@njit(cache=True)
def _area_totals(country, m, out) -> None:
    """The week's records by area: ``out.wholesale_r`` what DPRK provinces bought (``out.bought``) and what each
    Chinese area's merchants sold; ``out.capital_r`` the merchants' capital and ``out.credit_r`` their claims on
    partners (np.bincount sums, in merchant order)."""
    bought = out.bought
    sold = np.zeros(len(bought))
    out.capital_r[:] = 0.0
    out.credit_r[:] = 0.0
    for i in range(len(m.sales)):
        sold[m.region[i]] += m.sales[i]
        out.capital_r[m.region[i]] += m.capital[i]
        out.credit_r[m.region[i]] += m.receivables[i]
    for c in range(len(bought)):
        out.wholesale_r[c] = bought[c] if country[c] == 0 else sold[c]


# -- the kernels' parts ------------------------------------------------------------------------------


@njit(cache=True)
def _supply(m, turnover, r):
    """What each area's merchants can supply this week: ``bincount(region, capital x productivity) x turnover``."""
    supply = np.zeros(r)
    for i in range(len(m.capital)):
        supply[m.region[i]] += m.capital[i] * m.productivity[i]
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
def _pay_merchants(area, paid, m, margin, credit_share, amounts, capital_before):
    """Each Chinese area's merchants are paid what the partners of its provinces paid for (``paid``, ``area``):
    sales by capital, then the sale itself (:func:`hamji.market.sell_to_merchants`), areas in order; the credit part
    of each merchant's sale, ``credit_share`` of it, moves from its capital to its claims on partners.
    ``amounts[c]`` is area c's amount (0 if it sold nothing), ``capital_before[c]`` its merchants' capital
    before the sale (the books need to know whether anybody was paid)."""
    capital = m.capital
    n_areas = len(amounts)
    buf = np.empty(max(len(paid), len(capital)))
    by_area = _by_area(area, paid, n_areas)
    for c in range(n_areas):
        amounts[c] = 0.0
        if not by_area[c] > 0:  # nothing sold there
            continue
        amount, wsum = _area_total(area, paid, c, buf), _area_total(m.region, capital, c, buf)
        amounts[c] = amount
        if amount == 0.0:
            continue
        if wsum > 0:
            for i in range(len(capital)):
                if m.region[i] == c:
                    m.sales[i] += np.float32(amount * capital[i] / wsum)
        capital_before[c] = sell_to_merchants(m.region, capital, c, amount, margin, buf)
        if credit_share > 0 and capital_before[c] > 0:  # buf holds each merchant's capital before the sale
            lent = amount * credit_share
            for i in range(len(capital)):
                if m.region[i] == c:
                    share = lent * buf[i] / capital_before[c]
                    capital[i] -= share
                    m.receivables[i] += share


@njit(cache=True)
def _buy_nk_goods(area, value, m, margin, sold):
    """Each area's merchants buy the North Korean goods of its provinces (``value``) by capital and keep the
    margin of their resale; ``sold[c]``: area c's purchases (0 if none, or if its merchants hold nothing)."""
    capital = m.capital
    n_areas = len(sold)
    buf = np.empty(max(len(value), len(capital)))
    by_area = _by_area(area, value, n_areas)
    for c in range(n_areas):
        sold[c] = 0.0
        if not by_area[c] > 0:
            continue
        v, wsum = _area_total(area, value, c, buf), _area_total(m.region, capital, c, buf)
        if v == 0.0 or wsum <= 0:
            continue
        for i in range(len(capital)):
            if m.region[i] == c:
                capital[i] += v * margin * capital[i] / wsum
        sold[c] = v


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


@njit(cache=True)
def _tie_volumes(idx, amount, t) -> None:
    """Credit each merchant tie of the partners ``idx`` with its share (by strength) of the partner's trade
    ``amount``, ``vol += s / (sum of the partner's s) x amount`` (no ties: nothing); ``t.pos`` is left as it was
    found (every entry ``len(pos)``)."""
    if t.hw == 0 or len(idx) == 0:
        return
    pos = t.pos
    n = len(pos)
    for j in range(len(idx)):
        pos[idx[j]] = j
    _credit_ties(t, amount, np.zeros(len(idx)))
    for j in range(len(idx)):
        pos[idx[j]] = n  # back to "not a partner" for the next call


@njit(cache=True)
def _credit_ties(t, amount, strength) -> None:
    """Tie volumes in two passes over the merchant ties: each partner's summed tie strength (float64, in
    tie order), then ``vol += share x amount`` for the live ties of this call's partners (``t.pos`` maps a
    household to its place in the partner list, or to ``len(pos)`` if it is not a partner). The first pass
    notes each tie's place in ``t.place`` (work space, at least ``hw`` long), so the scattered reads of ``pos``
    are done once."""
    b, s, vol, pos, place = t.b, t.s, t.vol, t.pos, t.place
    n = len(pos)
    for e in range(t.hw):
        k = pos[b[e]] if s[e] > 0 else n
        place[e] = k
        if k < n:
            strength[k] += s[e]
    for e in range(t.hw):
        k = place[e]
        if k < n:
            vol[e] += np.float32(s[e] / strength[k] * amount[k])


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
