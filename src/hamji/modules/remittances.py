"""Remittances: defectors in South Korea and Yanbian migrant workers send money home.

"The second phenomenon is the growing volume of remittances sent largely to HamJi by defectors in
South Korea and ethnic Korean Chinese formerly from the Yanbian region working in other parts of
China. In the case of the former, these defectors are distinct from the earlier group of defectors
in that they previously worked in DPRK state trading companies ... In North Korea, they are not
listed as 'defectors,' but as 'missing.' This enables their family members to avoid punishment.
From their base in Seoul, these defectors regularly send remittances back to their families and
former business colleagues, who, in turn, use these funds for their own commercial activities."
(Park 2009)

Defectors (``sim.people.defectors``, one row per simulated defector):
``origin`` (DPRK region), ``kin`` (household id, -1 if no family left), ``colleague`` (a trading
household of the origin region for former company officials, else -1), ``former_company``,
``income`` (US$ a year), ``habit`` (US$ a year an active sender sends; 0 = does not send),
``arrival_year``. Households get ``kin_abroad`` (int8: defectors whose kin household this is).

Arrivals. Real arrivals of year y are ``a_y = m * arrivals_y`` (defectors.csv; after the data
``defector_arrivals_after_data``; ``m`` = ``defector_arrivals_multiplier``), spread evenly over
the ``W_y`` weeks (Mondays) of the year. Simulated arrivals carry the fractional remainder::

    carry += a_y / (W_y * scale);   k = floor(carry);   carry -= k

with ``carry`` starting at a uniform draw, so over any span of years the simulated count times
the scale equals the data within one scaled defector and is unbiased. The stock before the run
(everyone who arrived before its first year, incl. the ~1998 row) is created at set-up.
Origins: North Hamgyong (as counted in 2008, split with Rason by population) with probability
``s_NH``, Ryanggang ``s_RG``, the rest by population over the other provinces
(defector_origins.csv: > 60% and > 75%). The kin household is drawn uniformly among the
households of the origin province (with probability ``defector_kin_share``); a former company
official's colleague among its households in a market role at his arrival (any household if none).

Sending. Defector i has a habit with probability ``remit_sender_share`` (if he has a recipient);
his yearly amount is ``h_i = krw / krw_per_usd * income_i / mean income``. Each week he sends with
probability ``p = active_share * transfers_per_year / W_y * c`` (``c`` = ``border_couriers_open``: the
brokers' couriers cross the border, so a closure, as in 2020, carries only this share) the amount ``g_i = h_i /
transfers_per_year``, so an active sender's expected yearly total is ``active_share * h_i``.
A former company official sends ``remit_colleague_share`` of it to his former colleague. Brokers
keep the fee ``f * g`` and, with probability ``remit_loss_prob`` ("only 65 percent believed the
remainder was entirely delivered"), also ``l * (1 - f) * g``; the recipient gets the rest as
foreign currency (``fx``: trading capital for "their own commercial activities") and income. Money path: outside
("defector_remittances") -> brokers
(fee and loss) -> households; brokers spend their takings outside the same week ("broker_spending").

Yanbian workers. ``N * r / W_y / scale`` US$ a week enter the Yanbian households' account
(``accounts.jilin_households``, outside flow "yanbian_migrant_remittances"; "formerly from the
Yanbian region": all to Yanbian); a share ``c`` is lent or invested as the capital of Yanbian
merchants (equal shares per merchant). Every Jilin household account spends ``jilin_household_
spending_rate`` of its holdings a week in China ("jilin_household_spending", outside).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from hamji import data
from hamji.kernels import province_bounds, psum
from hamji.module import Metric, Module, State

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def mondays_in_year(year: int) -> int:
    """Number of weeks (Mondays) of a calendar year: 52 or 53."""
    first = dt.date(year, 1, 1)
    monday = first + dt.timedelta(days=(7 - first.weekday()) % 7)
    return (dt.date(year, 12, 31) - monday).days // 7 + 1


def arrivals_before(year: int) -> dict[int, float]:
    """Recorded arrivals before ``year`` by arrival year (the '~1998' cumulative row booked to 1998)."""
    d = data.cached("defectors.csv")
    out = {1998: float(d.loc[d.period.astype(str).str.startswith("~1998"), "arrivals_total"].sum())}
    out.update({y: a for y, a in data.defector_arrivals().items() if y < year})
    return {y: a for y, a in out.items() if y < year}


def pick_in_region(region_of: np.ndarray, order: np.ndarray | None, starts: np.ndarray, counts: np.ndarray,
                   u: np.ndarray) -> np.ndarray:
    """A uniformly drawn member of each target region (``u`` in [0, 1)), or -1 where it has none.

    ``order`` lists candidates sorted by region (``None``: every household, in region order); ``starts`` and
    ``counts`` index it by region.
    """
    c = counts[region_of]
    out = np.full(len(region_of), -1, dtype=np.int64)
    ok = c > 0
    pos = starts[region_of[ok]] + np.minimum((u[ok] * c[ok]).astype(np.int64), c[ok] - 1)
    out[ok] = pos if order is None else order[pos]
    return out

def index_by_region(region: np.ndarray, mask: np.ndarray | None, n_regions: int,
                    bounds: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(order, starts, counts): candidate ids sorted by region, for :func:`pick_in_region`.

    ``bounds`` (:func:`hamji.kernels.province_bounds`) says that ``region`` is in province order: the
    candidates are then already sorted (a stable sort would not move them) and are counted by province
    with a binary search instead of a sort; with no ``mask`` either, ``order`` is ``None`` (every household, in
    order: an identity list would take 8 bytes a household).
    """
    if mask is None and bounds is not None:
        counts = np.diff(bounds)
        return None, bounds[:-1], counts
    ids = np.arange(len(region)) if mask is None else np.flatnonzero(mask)
    if bounds is None:
        order = ids[np.argsort(region[ids], kind="stable")]
        counts = np.bincount(region[ids], minlength=n_regions)
    else:
        order = ids
        counts = np.diff(np.searchsorted(ids, bounds))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, starts, counts


class RemittancePars(NamedTuple):
    """The parameters the remittance kernels read."""

    transfers_per_year: float  # remit_transfers_per_year
    broker_fee: float  # share of a transfer the brokers keep
    loss_share: float  # remit_loss_share: share of a transfer lost when it is lost
    loss_prob: float  # remit_loss_prob
    colleague_share: float  # remit_colleague_share: to a former colleague when there is kin too
    capital_share: float  # yanbian_remit_capital_share: of Yanbian workers' money, to merchants' capital
    spending_rate: float  # jilin_household_spending_rate: weekly

    @classmethod
    def of(cls, pars) -> RemittancePars:
        return cls(float(pars.remit_transfers_per_year), float(pars.broker_fee), float(pars.remit_loss_share),
                   float(pars.remit_loss_prob), float(pars.remit_colleague_share),
                   float(pars.yanbian_remit_capital_share), float(pars.jilin_household_spending_rate))


class Senders(NamedTuple):
    """The defectors' arrays a week's transfers read (rebuilt each week: the defectors grow each year)."""

    habit: np.ndarray  # US$ a year each sends
    kin: np.ndarray  # household it sends to, or -1
    colleague: np.ndarray  # former colleague's household, or -1
    origin: np.ndarray  # province it left


class Receivers(NamedTuple):
    """The households' arrays the transfers write."""

    region: np.ndarray
    fx: np.ndarray
    income: np.ndarray


class Remittances(Module):
    """Defectors arrive and send money home through brokers; Yanbian workers send money to Jilin."""

    name = "remittances"
    passage = (
        "Defectors in Seoul and Yanbian migrant workers send remittances home, through brokers, mostly to HamJi.\n"
        "\"From their base in Seoul, these defectors regularly send remittances back to their families and former"
        " business colleagues, who, in turn, use these funds for their own commercial activities.\" (Park 2009)"
    )
    metrics = (
        Metric("remittances_usd", "US$", "Defectors' remittances delivered to households (after brokers' fees and"
               " losses), by the recipients' province.", scaled=True),
        Metric("remittances_sent_usd", "US$", "Defectors' remittances sent from South Korea (before fees), by the"
               " defectors' province of origin.", scaled=True),
        Metric("broker_fees_usd", "US$", "Kept by remittance brokers (fees and losses), by the defectors' province of"
               " origin.", scaled=True),
        Metric("defectors_abroad", "persons", "Defectors in South Korea (cumulative arrivals), by province of origin.",
               annual="last", scaled=True),
        Metric("defector_arrivals", "persons", "Defectors arriving in South Korea, by province of origin.", scaled=True),
        Metric("kin_abroad_share", "fraction of households", "Households with at least one defector relative abroad.",
               agg="mean", annual="mean"),
        Metric("jilin_remittances_usd", "US$", "Remittances of Yanbian migrant workers elsewhere in China received by"
               " Jilin households, by Chinese area.", scaled=True),
        Metric("remittance_capital_usd", "US$", "Part of Yanbian workers' remittances lent or invested as Chinese"
               " merchants' capital, by Chinese area.", scaled=True),
    )

    states = (
        State("households", "kin_abroad", "int8", 0, "defectors whose kin household this is"),
        State("defectors", "origin", "int8", 0, "province the defector left"),
        State("defectors", "kin", "int32", -1, "the household at home the defector sends to (-1: none)"),
        State("defectors", "colleague", "int32", -1, "a former colleague's household it also sends to (-1: none)"),
        State("defectors", "former_company", "bool", False, "worked for a state trading company before leaving"),
        State("defectors", "income", "float32", 0.0, "income in South Korea, US$ a year"),
        State("defectors", "habit", "float32", 0.0, "US$ a year it sends home"),
        State("defectors", "arrival_year", "int16", 0, "year of arrival in South Korea"),
    )

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The kernels' parameter record."""
        self.p = RemittancePars.of(sim.pars)

    def setup(self, sim: Sim) -> None:
        hh, w, pars = sim.people.households, sim.world, sim.pars
        r = w.n_regions
        self.n_regions = r
        self._hh_bounds = province_bounds(hh.region, r)
        self._receivers = Receivers(hh.region, hh.fx, hh.income)
        self._senders = None  # made at the first transfers, again whenever the defectors grow
        self._hh_index = index_by_region(hh.region, None, r, self._hh_bounds)
        self._arrivals = data.defector_arrivals()
        self._last_data_year = max(self._arrivals)
        self._carry = float(sim.streams.get("remittances.carry").random())
        self._yanbian = w.index.get("Yanbian", -1)
        self._weeks_in_year: dict[int, int] = {}
        self._stock = np.zeros(r)  # defectors abroad by origin (simulated)
        self._kin_households = np.zeros(r)  # households with kin abroad, by region
        self._households = np.bincount(hh.region, minlength=r).astype(float)
        self._none = np.zeros(r)  # no arrivals this week (recorded, never written)
        self._out_r = np.zeros((5, r))  # delivered, sent, fees, Jilin remittances, capital, by province
        # the stock of defectors who arrived before the run's first year
        first = int(sim.dates[0].year)
        before = arrivals_before(first)
        years = np.array(sorted(before), dtype=np.int64)
        expected = np.array([before[y] for y in years]) * pars.defector_arrivals_multiplier / sim.scale
        rng = sim.streams.get("remittances.stock")
        counts = np.floor(expected + rng.random(len(years))).astype(np.int64)  # stochastic rounding
        if counts.sum():
            self._arrive(sim, np.repeat(years, counts), rng)

    # -- arrivals ------------------------------------------------------------------------------
    def origin_probabilities(self, sim: Sim) -> np.ndarray:
        """Probability of each region being a defector's province of origin (zero outside the DPRK)."""
        w, pars = sim.world, sim.pars
        pop = np.where(w.country == 0, w.population, 0.0)
        p = np.zeros(w.n_regions)
        nh = [w.index[n] for n in ("North Hamgyong", "Rason") if n in w.index]
        rg = [w.index[n] for n in ("Ryanggang",) if n in w.index]
        p[nh] = pars.defector_origin_north_hamgyong_share * pop[nh] / pop[nh].sum()
        p[rg] = pars.defector_origin_ryanggang_share * pop[rg] / pop[rg].sum()
        rest = pop.copy()
        rest[nh + rg] = 0.0
        p += max(1.0 - p.sum(), 0.0) * rest / rest.sum()
        return p / p.sum()

    def _arrive(self, sim: Sim, years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Create ``len(years)`` defectors who arrived in ``years``; returns their ids."""
        pars, hh = sim.pars, sim.people.households
        k = len(years)
        u = rng.random((6, k))
        p = self.origin_probabilities(sim)
        cum = np.cumsum(p)
        origin = np.minimum(np.searchsorted(cum, u[0] * cum[-1], side="right"), np.flatnonzero(p > 0)[-1])
        kin = pick_in_region(origin, *self._hh_index, u[1])
        kin = np.where(u[2] < pars.defector_kin_share, kin, -1)
        former = u[3] < pars.defector_former_company_share
        colleague = np.full(k, -1, dtype=np.int64)
        if former.any():  # a former colleague: a household in a market role in the origin province, if any
            traders = index_by_region(hh.region, hh.role > 0, self.n_regions, self._hh_bounds)
            pick = pick_in_region(origin, *traders, u[4])
            pick = np.where(pick >= 0, pick, pick_in_region(origin, *self._hh_index, u[4]))
            colleague = np.where(former, pick, -1)
        sigma = pars.defector_income_sigma
        income = pars.defector_income_usd_year * rng.lognormal(-0.5 * sigma**2, sigma, k)
        has_recipient = (kin >= 0) | (colleague >= 0)
        habit = np.where((u[5] < pars.remit_sender_share) & has_recipient,
                         pars.remit_krw_per_year / pars.krw_per_usd * income / pars.defector_income_usd_year, 0.0)
        ids = sim.people.defectors.grow(k, origin=origin, kin=kin, colleague=colleague, former_company=former,
                                        income=income, habit=habit, arrival_year=years)
        linked, times = np.unique(kin[kin >= 0], return_counts=True)
        first = linked[hh.kin_abroad[linked] == 0]
        hh.kin_abroad[linked] = np.minimum(hh.kin_abroad[linked].astype(np.int64) + times, np.iinfo(np.int8).max)
        # outputs that change only when defectors arrive
        self._stock += np.bincount(origin, minlength=self.n_regions)
        self._kin_households += np.bincount(hh.region[first], minlength=self.n_regions)
        return ids

    def weeks_in(self, year: int) -> int:
        """Mondays in ``year`` (cached)."""
        if year not in self._weeks_in_year:
            self._weeks_in_year[year] = mondays_in_year(year)
        return self._weeks_in_year[year]

    def yearly_arrivals(self, sim: Sim, year: int) -> float:
        """Real arrivals in ``year``: the data (or the after-data parameter) times the multiplier."""
        pars = sim.pars
        base = self._arrivals.get(year, pars.defector_arrivals_after_data if year > self._last_data_year else 0.0)
        return base * pars.defector_arrivals_multiplier

    # -- the week --------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        pars, d, res = sim.pars, sim.people.defectors, sim.results
        r = self.n_regions
        year = sim.year
        weeks = self.weeks_in(year)

        self._carry += self.yearly_arrivals(sim, year) / weeks / sim.scale
        k = int(np.floor(self._carry))
        self._carry -= k
        arrived = self._none
        if k > 0:
            ids = self._arrive(sim, np.full(k, year), sim.rng("remittances.arrival"))
            arrived = np.bincount(d.origin[ids], minlength=r).astype(float)
        res.record("defector_arrivals", arrived)
        res.record("defectors_abroad", self._stock)
        res.record_ratio("kin_abroad_share", self._kin_households, self._households)

        out_r = self._out_r  # delivered, sent, fees, Jilin remittances, capital, by province
        out_r[:] = 0.0
        y, amount = -1, 0.0
        if pars.remittances_on:
            self._defectors_send(sim, weeks, out_r)
            y, amount = self._yanbian_workers(sim, weeks)
        # Yanbian merchants' capital from the workers' money; Jilin households spend part of what they hold in China
        spend = _jilin_week(sim.accounts.jilin_households, sim.people.merchants.region, sim.people.merchants.capital, y,
                            amount, tuple(self.p), out_r)
        sim.books.outflow("jilin_household_spending", spend)
        res.record("remittances_usd", out_r[0])
        res.record("remittances_sent_usd", out_r[1])
        res.record("broker_fees_usd", out_r[2])
        res.record("jilin_remittances_usd", out_r[3])
        res.record("remittance_capital_usd", out_r[4])

    def _defectors_send(self, sim: Sim, weeks: int, out_r: np.ndarray) -> None:
        """This week's transfers: outside -> brokers (fee, losses) -> kin and colleagues (fx, income); ``out_r``
        rows 0-2 get (delivered, sent, fees) by province."""
        pars, d = sim.pars, sim.people.defectors
        if d.n == 0:
            return
        n_tr = pars.remit_transfers_per_year
        # the brokers' couriers cross the border: a closure carries only border_couriers_open of the transfers
        p_send = min(pars.remit_active_share * n_tr / weeks, 1.0) * pars.border_couriers_open
        u = sim.rng("remittances.send").random((2, d.n))
        if self._senders is None or self._senders.habit is not d.habit:  # the defectors grew: their arrays are new
            self._senders = Senders(d.habit, d.kin, d.colleague, d.origin)
        n_send, gross, taken = _transfers(u, p_send, tuple(self._senders), tuple(self.p), tuple(self._receivers), out_r)
        if not n_send:
            return
        sim.books.inflow("defector_remittances", gross)
        sim.accounts.brokers += taken
        # brokers (in China and South Korea) spend their takings outside the model
        taken = float(sim.accounts.brokers.sum())
        sim.accounts.brokers[:] = 0.0
        sim.books.outflow("broker_spending", taken)

    def _yanbian_workers(self, sim: Sim, weeks: int) -> tuple[int, float]:
        """Yanbian migrant workers' money this week: outside -> Yanbian households (its region and US$, booked
        by :func:`_jilin_week` with the part to Yanbian merchants' capital; region -1 if none)."""
        pars = sim.pars
        if self._yanbian < 0:
            return -1, 0.0
        amount = pars.yanbian_migrant_workers * pars.yanbian_remit_usd_per_worker_year / weeks / sim.scale
        if amount <= 0:
            return -1, 0.0
        sim.books.inflow("yanbian_migrant_remittances", amount)
        return self._yanbian, amount


# ------------------------------------------------------------------------------------------------
# The week's money movements, compiled (a few defectors, merchants and provinces, where NumPy would
# spend about a microsecond a call). Scatter-adds are sequential in the NumPy order (np.add.at and
# np.bincount), so results are those of the NumPy formulas to the bit.
# ------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _receive(recipient, amount, idx, n_send, fx, income, hh_region, out_r) -> None:
    """Sender ``idx[j]``'s ``amount[j]`` to its household ``recipient[idx[j]]`` (if any) in foreign currency, as income;
    added to what the recipients' provinces received (``out_r[0]``)."""
    for j in range(n_send):
        h, a = recipient[idx[j]], amount[j]
        if h >= 0 and a > 0:
            fx[h] += a
            income[h] += np.float32(a)
            out_r[0, hh_region[h]] += a


@njit(cache=True, error_model="numpy")
def _transfers(u, p_send, d, p, hh, out_r):
    """This week's transfers of the defectors ``d`` (:class:`Senders`) who send (``u[0] < p_send``, with a habit):
    ``g = habit / transfers_per_year``, the brokers' fee ``g broker_fee`` and losses ``(g - fee) loss_share`` (when
    ``u[1] < loss_prob``), the rest to kin and colleagues (``colleague_share`` to a colleague when both exist) in
    the households' ``hh`` (:class:`Receivers`) foreign currency and income; all kin first, then all colleagues, as
    NumPy adds them. ``out_r`` rows 0-2 get (delivered, sent, fees and losses) by province. Returns the number
    sending, the US$ sent and the brokers' takings (as NumPy sums them)."""
    d = Senders(*d)
    p = RemittancePars(*p)
    hh = Receivers(*hh)
    habit, kin, colleague, origin = d.habit, d.kin, d.colleague, d.origin
    hh_region, fx, income = hh.region, hh.fx, hh.income
    n_send = 0
    for i in range(len(habit)):
        if u[0, i] < p_send and habit[i] > 0:
            n_send += 1
    gross = np.empty(n_send)
    taken = np.empty(n_send)
    to_kin = np.empty(n_send)
    to_colleague = np.empty(n_send)
    idx = np.empty(n_send, dtype=np.int64)
    k = 0
    for i in range(len(habit)):
        if u[0, i] < p_send and habit[i] > 0:
            g = np.float64(habit[i]) / p.transfers_per_year
            fee = g * p.broker_fee
            lost = (g - fee) * p.loss_share * (1.0 if u[1, i] < p.loss_prob else 0.0)
            net = g - fee - lost
            share = (p.colleague_share if kin[i] >= 0 else 1.0) if colleague[i] >= 0 else 0.0
            gross[k] = g
            taken[k] = fee + lost
            to_colleague[k] = share * net
            to_kin[k] = net - to_colleague[k]
            idx[k] = i
            k += 1
    _receive(kin, to_kin, idx, n_send, fx, income, hh_region, out_r)  # kin first, then colleagues (np.add.at order)
    _receive(colleague, to_colleague, idx, n_send, fx, income, hh_region, out_r)
    for j in range(n_send):
        out_r[1, origin[idx[j]]] += gross[j]
        out_r[2, origin[idx[j]]] += taken[j]
    return n_send, psum(gross), psum(taken)


@njit(cache=True, error_model="numpy")
def _jilin_week(jilin, merchant_region, capital, y, amount, p, out_r):
    """Yanbian workers' ``amount`` into Yanbian (region ``y``; none if ``y < 0``), ``p.capital_share`` of it
    to the capital of its merchants in equal shares (``out_r`` rows 3-4: received, capital); then every
    Jilin account spends ``p.spending_rate`` of its holdings. Returns the spending (as NumPy sums it)."""
    p = RemittancePars(*p)
    capital_share, spending_rate = p.capital_share, p.spending_rate
    if y >= 0:
        jilin[y] += amount
        out_r[3, y] += amount
        n_mine = 0
        for i in range(len(merchant_region)):
            if merchant_region[i] == y:
                n_mine += 1
        if n_mine:
            invest = amount * capital_share
            jilin[y] -= invest
            each = invest / n_mine
            for i in range(len(merchant_region)):
                if merchant_region[i] == y:
                    capital[i] += each
            out_r[4, y] += invest
    spend = np.empty(len(jilin))
    for j in range(len(jilin)):
        spend[j] = jilin[j] * spending_rate
        jilin[j] -= spend[j]
    return psum(spend)
