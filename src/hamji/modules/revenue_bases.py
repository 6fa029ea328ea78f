"""State trading companies and their foreign currency revenue generation bases.

"'North Korea, Inc.' - a web of state trading companies affiliated to the Korean Workers' Party
(KWP), the Korean People's Army (KPA), and the Cabinet - has been increasing the scale and scope of
its commercial activities ... A significant development in North Korea, Inc. is the emergence of the
so-called 'foreign currency revenue generation base' ... on a regional and sub-regional level in
North Korea. Consisting of labor units drawn from military conscripts and local residents, these
bases are tasked with harvesting or extracting exportable goods to be sold for foreign currency."
(Park 2009). Wah-ku forgery "is not sufficient to reverse the massive deterioration of the North
Korean economic infrastructure", so the bases' infrastructure is a stock that decays.

Set-up (once):

* ``sim.people.companies``: ``n_companies`` companies (a national count, not divided by the
  scale), ``companies_ryanggang`` of them at home in Ryanggang, the rest spread over the provinces
  in proportion to the export value of their deposits (largest remainder, at least one where there
  are deposits). Affiliation KPA / KWP / Cabinet drawn with the ``affiliation_*`` shares.
* ``sim.people.bases``: in every province with a deposit of a commodity (:data:`DEPOSITS`),
  ``round(bases_per_company * companies_here * value share of the commodity here)`` bases (at least
  one), owned by the province's companies in turn. The national capacity ``capacity_<c>_t`` (real
  tonnes a year) is split over provinces by :data:`DEPOSITS` and over a province's bases by
  lognormal weights; the module holds *simulated* tonnes (real / scale).
* Workforce of a base = capacity / ``productivity_<c>_t``; ``conscript_share`` of it are conscripts
  from the military camps (not households; capped at ``conscript_max_share`` of the camps), the rest
  are local-resident households of the base's province (``households.employer`` = base id).

Each week, for base b with capacity K_b (t/yr), infrastructure I_b and labour L_b:

    I_b <- I_b * (1 - infrastructure_decay_rate) ** (1/52)          (if infrastructure_decay_on)
    L_b  = (conscripts_b + worker households present_b) / (conscripts_b + worker households_b)
    output_b = K_b / 52 * I_b * L_b ** labour_elasticity
    stock_b  = min(stock_b + output_b, stock_max_weeks * K_b / 52)

A worker household is present unless detained. Companies pay ``base_wage_usd_week`` to each present
worker household from their free cash (cash not yet funnelled, ``cash - revenue``), pro rata if short.

Free cash above ``company_cash_reserve_weeks`` weeks of the company's capacity export value is
invested in its bases (if ``base_investment_on``; equipment bought abroad, outside flow
``base_investment``), shared in proportion to each base's capacity value V_b (US$/yr):

    I_b <- min(I_b + investment_b / (infrastructure_cost_years * V_b), infrastructure_initial)

What a company cannot use because its bases are already at ``infrastructure_initial`` stays in cash.

Sanctions move labour and capital to the goods outside the bans. On the record, after the bans of
2017 the goods outside them kept crossing and grew (wigs and false eyelashes, watch movements,
electricity, ferro-alloys); the paper's bases are "tasked with harvesting or extracting exportable
goods", so a base whose goods may no longer be sold is put to goods that may. While a ban holds
(``sanctions_on`` and ``ban_<c>``), each week every base of a banned class c gives up a share
``1 - (1 - sanctions_shift_rate) ** (1/52)`` of its capacity; the workforce that capacity employed,
``moved_b = dK_b / productivity_<c>_t``, makes ``moved_b * productivity_unbanned_t`` tonnes a year of
``unbanned`` goods at the ``unbanned`` bases of the same province (in proportion to their capacity;
at every ``unbanned`` base of the country where the province has none). Chinese demand for these goods
is limited: the national ``unbanned`` capacity never exceeds ``unbanned_capacity_max_multiple`` times
its opening value (moves beyond it are scaled down, and the banned bases keep that capacity). Nothing
moves if ``ban_unbanned`` is set. Worker households keep their registered employer (their labour
presence still sets each base's output), so the shift moves capacity, the capital and labour in it,
not household records; it is not undone when a ban ends.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from hamji.accounts import BRANCHES
from hamji.kernels import fmax, fmin, psum
from hamji.module import Metric, Module

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

#: exported commodity classes, in the order of every per-commodity array. They follow the bans of
#: 2016-17 (sanctions_events.csv) and China's customs headings (china_imports_from_dprk_by_hs.csv):
#: ``textiles`` (HS 61-62, woven and knitted apparel, banned by UNSCR 2375), ``light`` (the other
#: light manufactures, machinery, agricultural goods and concentrates, banned by UNSCR 2397 and 2321/2371)
#: and ``unbanned`` (wigs and false eyelashes HS 6704, electricity HS 2716, watch movements,
#: ferro-alloys: outside the bans)
COMMODITIES = ("coal", "iron_ore", "seafood", "timber", "textiles", "light", "unbanned")
#: the class that stays outside the bans and takes the workforce of banned bases
UNBANNED = COMMODITIES.index("unbanned")
WEEKS_PER_YEAR = 52.0
#: the per-commodity parameters' values, in :data:`COMMODITIES` order, from the parameters' dictionary
BANS = itemgetter(*(f"ban_{c}" for c in COMMODITIES))
PRICES = itemgetter(*(f"price_{c}_usd_t" for c in COMMODITIES))
PRODUCTIVITIES = itemgetter(*(f"productivity_{c}_t" for c in COMMODITIES))

#: Where the deposits are: the share of each commodity's national capacity in each province.
#: Assumptions from the geography of DPRK resources (no provincial production data in ``data/``):
#: coal - the South Pyongan anthracite basin (Anju, Pukchang, Tokchon, Suchon) dominates, with
#: Kangdong (Pyongyang), the Aoji/Hamyon lignite of North Hamgyong, Jagang and Kowon (South Hamgyong);
#: iron ore - Musan (North Hamgyong; "Serves the Musan iron-mine area", border_crossings.csv) and
#: Unryul (South Hwanghae); seafood - the east and west coasts; timber - the northern forests of
#: Ryanggang and Jagang; textiles (apparel sewn on commission) and light (other light manufactures,
#: concentrates, herbs) - Pyongyang, Sinuiju (North Pyongan), Rason, Nampo (South Pyongan), Hyesan
#: (Ryanggang), Chongjin; unbanned - wig and eyelash workshops of Pyongyang and Sinuiju, power sold from
#: the Yalu and Jagang hydro plants, ferro-alloys of Kimchaek (North Hamgyong) and Tanchon (South Hamgyong),
#: processing in Rason.
DEPOSITS: dict[str, dict[str, float]] = {
    "coal": {"South Pyongan": 0.70, "Pyongyang": 0.10, "Jagang": 0.08, "South Hamgyong": 0.04,
             "North Hamgyong": 0.03, "North Pyongan": 0.05},
    "iron_ore": {"North Hamgyong": 0.80, "South Hwanghae": 0.20},
    "seafood": {"South Hamgyong": 0.25, "North Hamgyong": 0.20, "Rason": 0.15, "South Hwanghae": 0.15,
                "Kangwon": 0.15, "North Pyongan": 0.10},
    "timber": {"Ryanggang": 0.45, "Jagang": 0.35, "North Hamgyong": 0.10, "South Hamgyong": 0.10},
    "textiles": {"Pyongyang": 0.35, "North Pyongan": 0.25, "Rason": 0.15, "South Pyongan": 0.10,
                 "Ryanggang": 0.10, "North Hamgyong": 0.05},
    "light": {"Pyongyang": 0.35, "North Pyongan": 0.25, "Rason": 0.15, "South Pyongan": 0.10,
              "Ryanggang": 0.10, "North Hamgyong": 0.05},
    "unbanned": {"Pyongyang": 0.30, "North Pyongan": 0.30, "Jagang": 0.10, "Rason": 0.10,
                 "North Hamgyong": 0.10, "South Hamgyong": 0.10},
}


class BasesPars(NamedTuple):
    """The parameters of the bases' week, in the kernels' dtypes (built when parameters change)."""

    decay: np.float32  # (1 - infrastructure_decay_rate) ** (1/52), 1 without infrastructure_decay_on (float32)
    shift: bool  # capacity moves from banned to unbanned bases while a ban holds
    shift_share: float  # f = 1 - (1 - sanctions_shift_rate) ** (1/52), the weekly share of a banned base's capacity
    banned: np.ndarray  # bool per commodity: an export ban holds
    productivity: np.ndarray  # productivity_<c>_t per commodity (zeros when nothing shifts)
    productivity_unbanned_t: float
    unbanned_max: float  # unbanned_capacity_max_multiple * the opening unbanned capacity (simulated t/yr)
    stock_max_weeks: float
    base_wage_usd_week: float
    base_investment_on: bool
    company_cash_reserve_weeks: float
    infrastructure_cost_years: float
    infrastructure_initial: np.float32  # float32, as NumPy computed infrastructure_initial - infra


class Bases(NamedTuple):
    """The bases' states (``sim.people.bases``) and their labour share with its power, one value per base."""

    capacity: np.ndarray  # K_b, simulated t/yr
    infra: np.ndarray  # I_b, float32
    commodity: np.ndarray  # int8
    region: np.ndarray  # int8
    company: np.ndarray  # int32 owner
    conscripts: np.ndarray  # float32
    workers: np.ndarray  # int32 worker households
    output: np.ndarray
    stock: np.ndarray
    labour: np.ndarray  # L_b (NaN: to compute again)
    labour_power: np.ndarray  # L_b ** labour_elasticity, from NumPy


class Workforce(NamedTuple):
    """The worker households (one entry per worker: its household and base) and the household states they use."""

    worker_hh: np.ndarray
    worker_base: np.ndarray
    detained: np.ndarray  # households.detained
    cash: np.ndarray  # households.cash
    income: np.ndarray  # households.income (float32)
    region: np.ndarray  # households.region


class Owners(NamedTuple):
    """The companies' states the bases' week uses (``sim.people.companies``)."""

    cash: np.ndarray
    revenue: np.ndarray  # this week's unfunnelled revenue: cash - revenue is free cash
    weekly_value: np.ndarray  # US$ a week of the company's capacity at export prices


#: By province of the base (a structured array, one record per province: ``t[g].base_output_t``, one argument for
#: the compiled week): its opening capacity (set-up) and the week's sums, recorded under these names
BASES_TALLY = np.dtype([(name, np.float64) for name in (
    "capacity",  # opening capacity, simulated t/yr (the weights of the infrastructure index)
    "base_output_t",
    "infrastructure_index",  # capacity-weighted mean infrastructure, NaN without bases
    "unbanned_capacity_t",
    "base_wages_usd",
    "base_investment_usd",
    "sanctions_shifted_t",
)])
#: the metrics recorded from the tally
_RECORDED = BASES_TALLY.names[1:]


class RevenueBases(Module):
    """Creates the companies and their bases; each week the bases extract, decay and pay wages."""

    name = "revenue_bases"
    passage = (
        "Revenue bases of state trading companies extract coal, ore, seafood, timber and other goods "
        "with conscript and local labour on a decaying infrastructure.\n"
        "\"Consisting of labor units drawn from military conscripts and local residents, these bases are "
        "tasked with harvesting or extracting exportable goods to be sold for foreign currency.\" (Park 2009)"
    )
    metrics = (
        Metric("revenue_base_workers", "households", "Local-resident households working at revenue bases"
               " (present or detained), by province of the base, times the scale.", annual="mean", scaled=True),
        Metric("base_conscripts", "persons", "Military conscripts working at revenue bases, by province.",
               annual="mean", scaled=True),
        Metric("base_output_t", "tonnes", "Output of the revenue bases this week (all commodities), by province.",
               scaled=True),
        Metric("infrastructure_index", "index (start = infrastructure_initial)", "Capacity-weighted mean"
               " infrastructure stock of the bases in the province (empty where there are no bases).",
               agg="mean", annual="mean"),
        Metric("base_wages_usd", "US$", "Wages companies paid to base worker households this week, by province.",
               scaled=True),
        Metric("base_investment_usd", "US$", "Companies' investment in their bases' infrastructure this week"
               " (bought abroad), by province of the base.", scaled=True),
        Metric("sanctions_shifted_t", "tonnes per year", "Capacity of unbanned goods added this week by moving the"
               " workforce of banned bases (real t/yr of capacity), by province of the receiving base.", scaled=True),
        Metric("unbanned_capacity_t", "tonnes per year", "Capacity of the bases making goods outside the bans (wigs,"
               " eyelashes, watch movements, power, ferro-alloys), real t/yr at infrastructure 1, by province.",
               annual="last", scaled=True),
    )

    def setup(self, sim: Sim) -> None:
        pars, w = sim.pars, sim.world
        r = w.n_regions
        prices = commodity_prices(sim)
        deposits = deposit_matrix(sim)  # real t/yr
        value = deposits @ prices  # real US$/yr per province

        # -- companies ---------------------------------------------------------------------------
        ryang = w.index["Ryanggang"]
        n_home = np.zeros(r, dtype=np.int64)
        n_ryang = min(pars.companies_ryanggang, pars.n_companies) if value[ryang] > 0 else 0
        n_home[ryang] = n_ryang
        others = value.copy()
        others[ryang] = 0.0
        n_home += largest_remainder(pars.n_companies - n_ryang, others)
        comp = sim.people.companies
        comp.n = int(n_home.sum())
        comp.add("home", np.int8, values=np.repeat(np.arange(r), n_home))
        kpa = pars.affiliation_kpa_share  # the Party's share is of the rest, so any values make a valid split
        kwp = (1.0 - kpa) * pars.affiliation_kwp_share_of_rest
        aff_p = np.array([kpa, kwp, 1.0 - kpa - kwp])
        aff = sim.streams.get("revenue_bases.setup.affiliation").choice(len(BRANCHES), size=comp.n, p=aff_p)
        comp.add("branch", np.int8, values=aff)
        comp.add("cash", np.float64)  # US$ (simulated)
        comp.add("revenue", np.float64)  # this week's unfunnelled revenue, US$
        comp.add("goods_claim", np.float64)  # US$ landed cost of company goods still unsold in the North
        sim.books.holder("companies", comp, "cash")

        # -- bases -------------------------------------------------------------------------------
        rng_own = sim.streams.get("revenue_bases.setup.owners")
        rng_size = sim.streams.get("revenue_bases.setup.size")
        region, commodity, owner, capacity = [], [], [], []
        for g in range(r):
            if value[g] <= 0 or n_home[g] == 0:
                continue
            mine = np.flatnonzero(comp.home == g)
            order = rng_own.permutation(mine)
            n_rc = np.zeros(len(COMMODITIES), dtype=np.int64)
            for j in range(len(COMMODITIES)):
                if deposits[g, j] > 0:
                    share = deposits[g, j] * prices[j] / value[g]
                    n_rc[j] = max(1, int(round(pars.bases_per_company * len(mine) * share)))
            n_b = int(n_rc.sum())
            owner.append(order[np.arange(n_b) % len(order)])
            for j in range(len(COMMODITIES)):
                if n_rc[j] == 0:
                    continue
                s = pars.base_size_sigma
                wgt = rng_size.lognormal(-0.5 * s * s, s, n_rc[j])
                capacity.append(deposits[g, j] * wgt / wgt.sum() / sim.scale)
                region.append(np.full(n_rc[j], g))
                commodity.append(np.full(n_rc[j], j))
        b = sim.people.bases
        b.n = int(sum(len(x) for x in region))
        b.add("region", np.int8, values=np.concatenate(region))
        b.add("commodity", np.int8, values=np.concatenate(commodity))
        b.add("company", np.int32, values=np.concatenate(owner))
        b.add("capacity", np.float64, values=np.concatenate(capacity))  # simulated t/yr at infra 1, full labour
        b.add("infra", np.float32, fill=pars.infrastructure_initial)
        b.add("output", np.float64)  # this week's output, t
        b.add("stock", np.float64)  # unsold output, t

        # -- workforce ---------------------------------------------------------------------------
        productivity = np.array([float(pars[f"productivity_{c}_t"]) for c in COMMODITIES])
        workforce = b.capacity / productivity[b.commodity]  # simulated persons
        conscripts = workforce * pars.conscript_share
        limit = pars.conscript_max_share * w.military_camps / sim.scale
        if conscripts.sum() > limit:
            conscripts *= limit / conscripts.sum()
        b.add("conscripts", np.float32, values=conscripts)
        rng_w = sim.streams.get("revenue_bases.setup.workers")
        locals_ = workforce * (1.0 - pars.conscript_share)
        n_local = np.floor(locals_ + rng_w.random(b.n)).astype(np.int64)  # stochastic rounding
        hh = sim.people.households
        hh.add("employer", np.int16 if b.n < np.iinfo(np.int16).max else np.int32, fill=-1)
        for g in range(r):
            at = np.flatnonzero(b.region == g)
            need = int(n_local[at].sum())
            if need == 0:
                continue
            pool = np.flatnonzero(hh.region == g)
            if need > len(pool):  # not enough households: shrink every base of the province alike
                n_local[at] = np.floor(n_local[at] * len(pool) / need).astype(np.int64)
                need = int(n_local[at].sum())
            chosen = rng_w.choice(pool, size=need, replace=False)
            hh.employer[chosen] = np.repeat(at, n_local[at])
        b.add("workers", np.int32, values=n_local)
        self.worker_hh = np.flatnonzero(hh.employer >= 0)
        self.worker_base = hh.employer[self.worker_hh].astype(np.int64)
        self._workers_by_region = np.bincount(hh.region[self.worker_hh], minlength=r).astype(float)
        self._conscripts_by_region = np.bincount(b.region, weights=conscripts, minlength=r)

        # -- opening cash ------------------------------------------------------------------------
        weekly_value = b.capacity * prices[b.commodity] / WEEKS_PER_YEAR
        comp.add("weekly_value", np.float64, values=np.bincount(b.company, weights=weekly_value, minlength=comp.n))
        comp.cash[:] = pars.company_initial_cash_weeks * comp.weekly_value
        self._unbanned_initial = float(b.capacity[b.commodity == UNBANNED].sum())
        # the records the compiled week reads and writes
        self.bases = Bases(b.capacity, b.infra, b.commodity, b.region, b.company, b.conscripts, b.workers, b.output,
                           b.stock, labour=np.full(b.n, np.nan),  # labour share of each base (NaN: not computed yet)
                           labour_power=np.ones(b.n))  # labour ** labour_elasticity
        self.workforce = Workforce(self.worker_hh, self.worker_base, hh.detained, hh.cash, hh.income, hh.region)
        self.owners = Owners(comp.cash, comp.revenue, comp.weekly_value)
        self.tally = np.zeros(r, dtype=BASES_TALLY)
        self.tally["capacity"] = np.bincount(b.region, weights=b.capacity, minlength=r)
        self._zeros = np.zeros(len(COMMODITIES))  # stands for the prices or productivities a week does not use

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The week's parameter record; the labour power is computed again if ``labour_elasticity`` changed (the
        labour shares, which depend on who is detained, are compared in the week)."""
        pars = sim.pars
        decay = np.float32((1.0 - pars.infrastructure_decay_rate) ** (1.0 / WEEKS_PER_YEAR)
                           if pars.infrastructure_decay_on else 1.0)
        banned = banned_classes(pars)
        shift = bool(banned.any() and not banned[UNBANNED] and pars.sanctions_shift_rate > 0)
        self.p = BasesPars(
            decay=decay, shift=shift,
            shift_share=1.0 - (1.0 - pars.sanctions_shift_rate) ** (1.0 / WEEKS_PER_YEAR) if shift else 0.0,
            banned=banned, productivity=np.array(PRODUCTIVITIES(vars(pars)), dtype=np.float64) if shift else self._zeros,
            productivity_unbanned_t=float(pars.productivity_unbanned_t),
            unbanned_max=pars.unbanned_capacity_max_multiple * self._unbanned_initial,
            stock_max_weeks=float(pars.stock_max_weeks), base_wage_usd_week=float(pars.base_wage_usd_week),
            base_investment_on=bool(pars.base_investment_on),
            company_cash_reserve_weeks=float(pars.company_cash_reserve_weeks),
            infrastructure_cost_years=float(pars.infrastructure_cost_years),
            infrastructure_initial=np.float32(pars.infrastructure_initial))
        if "labour_elasticity" in names:
            self.bases.labour[:] = np.nan

    def step(self, sim: Sim) -> None:
        p, b = self.p, self.bases
        # this week's demand: the volume index scales capacity, export prices value it for investment
        volume_week = sim.market.volume_index / WEEKS_PER_YEAR
        prices = commodity_prices(sim) if p.base_investment_on else self._zeros
        done, invested, total = _bases_week(tuple(b), tuple(self.workforce), tuple(self.owners), tuple(p), volume_week, prices, self.tally)
        if not done:
            # the labour shares changed: their power in NumPy (the project's rule for powers on arrays: NumPy's SIMD
            # pow differs from the compiled libm's in the last bit), then the rest of the week
            b.labour_power[:] = b.labour ** sim.pars.labour_elasticity
            invested, total = _output_and_pay(tuple(b), tuple(self.workforce), tuple(self.owners), tuple(p), volume_week,
                                              prices, self.tally)
        if invested:
            sim.books.outflow("base_investment", total)

        res = sim.results
        res.record("revenue_base_workers", self._workers_by_region)
        res.record("base_conscripts", self._conscripts_by_region)
        for name in _RECORDED:
            res.record(name, self.tally[name])


# ------------------------------------------------------------------------------------------------
# Set-up and the week's inputs in NumPy (exports and wah-ku read the prices and bans)
# ------------------------------------------------------------------------------------------------
def banned_classes(pars) -> np.ndarray:
    """Per commodity class (:data:`COMMODITIES` order): True where an export ban holds this week."""
    if not pars.sanctions_on:
        return np.zeros(len(COMMODITIES), dtype=bool)
    return np.array(BANS(vars(pars)), dtype=bool)


def commodity_prices(sim: Sim) -> np.ndarray:
    """Export price of each commodity this week (US$/t), in :data:`COMMODITIES` order."""
    return np.array(PRICES(vars(sim.pars))) * sim.market.price_index


def free_cash(companies) -> np.ndarray:
    """Company cash not earmarked for the funnel (cash minus this week's unfunnelled revenue), >= 0."""
    return np.maximum(companies.cash - companies.revenue, 0.0)


def deposit_matrix(sim: Sim) -> np.ndarray:
    """(regions, commodities) real tonnes a year each province's deposits can yield at infrastructure 1."""
    w = sim.world
    k = np.zeros((w.n_regions, len(COMMODITIES)))
    for j, c in enumerate(COMMODITIES):
        shares = DEPOSITS[c]
        total = sum(shares.values())
        for name, s in shares.items():
            k[w.index[name], j] = sim.pars[f"capacity_{c}_t"] * s / total
    return k


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` whole units over ``weights`` (largest remainder), at least one where weight > 0."""
    n = np.zeros(len(weights), dtype=np.int64)
    pos = weights > 0
    k = int(pos.sum())
    if k == 0 or total <= 0:
        return n
    total = max(total, k)
    n[pos] = 1
    raw = (total - k) * weights / weights.sum()
    n += np.floor(raw).astype(np.int64)
    rest = total - int(n.sum())
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    n[order[:rest]] += 1
    return n


# ------------------------------------------------------------------------------------------------
# The compiled week
# ------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _shift(capacity, commodity, region, p, shifted_r):
    """Banned bases give up a share ``f`` (``p.shift_share``) of their capacity to the ``unbanned`` bases (the rule
    of the module docstring, within ``p.unbanned_max`` t/yr of unbanned capacity); ``shifted_r``: t/yr added, by
    province."""
    n, r = len(capacity), len(shifted_r)
    shifted_r[:] = 0.0
    unb = commodity == UNBANNED
    if not unb.any():
        return
    give = np.empty(n)  # simulated t/yr of the banned classes
    add = np.empty(n)  # t/yr of unbanned goods their workforce makes: moved_b * productivity_unbanned_t
    for i in range(n):
        give[i] = capacity[i] * p.shift_share if p.banned[commodity[i]] else 0.0
        add[i] = give[i] / p.productivity[commodity[i]] * p.productivity_unbanned_t
    room = fmax(p.unbanned_max - psum(capacity[unb]), 0.0)
    total = psum(add)
    if total <= 0 or room <= 0:
        return
    k = fmin(1.0, room / total)  # moves beyond the room scaled down
    add_r = np.zeros(r)
    cap_unb_r = np.zeros(r)
    for i in range(n):
        capacity[i] -= give[i] * k
        add[i] *= k
        add_r[region[i]] += add[i]
    for i in range(n):
        if unb[i]:
            cap_unb_r[region[i]] += capacity[i]
    has = cap_unb_r > 0
    national = psum(add_r[~has])  # provinces without unbanned bases: to every unbanned base of the country
    cap_unb = psum(cap_unb_r)
    for i in range(n):
        g = region[i]
        w_local = capacity[i] / (cap_unb_r[g] if has[g] else 1.0) if unb[i] else 0.0
        w_nat = capacity[i] / cap_unb if unb[i] else 0.0
        gain = w_local * (add_r[g] if has[g] else 0.0) + w_nat * national
        capacity[i] += gain
        shifted_r[g] += gain


@njit(cache=True, error_model="numpy")
def _bases_week(b, w, comp, p, volume_week, prices, t):
    """The bases' week: infrastructure decays (``I_b *= decay``), capacity moves while a ban holds (:func:`_shift`),
    then ``L_b`` = (conscripts + worker households present) / workforce (1 without one). If that changed, returns
    (False, False, 0.0) for the caller to compute ``L_b ** labour_elasticity`` (NumPy's power) and call
    :func:`_output_and_pay`; else goes on with the power kept in ``b.labour_power``: returns (True, and what that
    returns)."""
    b = Bases(*b)
    w = Workforce(*w)
    comp = Owners(*comp)
    p = BasesPars(*p)
    infra, labour = b.infra, b.labour
    for i in range(len(infra)):
        infra[i] *= p.decay  # float32, as the NumPy step multiplied infra
    shifted = np.zeros(len(t))
    if p.shift:
        _shift(b.capacity, b.commodity, b.region, p, shifted)
    for g in range(len(t)):
        t[g].sanctions_shifted_t = shifted[g]
    present_b = np.zeros(len(infra))
    for j in range(len(w.worker_hh)):
        present_b[w.worker_base[j]] += 1.0 if w.detained[w.worker_hh[j]] == 0 else 0.0
    changed = False
    for i in range(len(infra)):
        full = np.float64(b.conscripts[i]) + np.float64(b.workers[i])  # float32 + int32: float64 in NumPy
        q = (np.float64(b.conscripts[i]) + present_b[i]) / full if full > 0 else 1.0
        if not q == labour[i]:
            changed = True
        labour[i] = q
    if changed:
        return False, False, 0.0
    invested, total = _output_and_pay(b, w, comp, p, volume_week, prices, t)
    return True, invested, total


@njit(cache=True, error_model="numpy")
def _output_and_pay(b, w, comp, p, volume_week, prices, t):
    """The rest of the bases' week: ``output_b = K_b volume_week I_b L_b ** labour_elasticity`` into the stock
    (at most ``stock_max_weeks`` weeks of capacity), wages from the owners' free cash, investment of free cash above
    the reserve, and the tally but its ``sanctions_shifted_t``. ``volume_week``: the volume index / 52.
    Returns whether companies invested (had free cash above the reserve), and the US$ they invested."""
    b = Bases(*b)
    w = Workforce(*w)
    comp = Owners(*comp)
    p = BasesPars(*p)
    capacity, infra, commodity, region, company = b.capacity, b.infra, b.commodity, b.region, b.company
    cash, revenue = comp.cash, comp.revenue
    wage = p.base_wage_usd_week
    n, nc, nw = len(capacity), len(cash), len(w.worker_hh)
    for g in range(len(t)):
        row = t[g]
        row.base_output_t = row.infrastructure_index = row.unbanned_capacity_t = 0.0
        row.base_wages_usd = row.base_investment_usd = 0.0
    for i in range(n):
        weekly_cap = capacity[i] * volume_week  # Chinese investment in capacity
        b.output[i] = weekly_cap * infra[i] * b.labour_power[i]
        b.stock[i] = fmin(b.stock[i] + b.output[i], p.stock_max_weeks * weekly_cap)
        t[region[i]].base_output_t += b.output[i]

    # wages to present worker households, from the owners' free cash, pro rata if short
    if wage > 0 and nw > 0:
        owed = np.zeros(nc)
        for j in range(nw):
            owed[company[w.worker_base[j]]] += (1.0 if w.detained[w.worker_hh[j]] == 0 else 0.0) * wage
        frac = np.empty(nc)
        for c in range(nc):
            frac[c] = fmin(fmax(cash[c] - revenue[c], 0.0) / owed[c], 1.0) if owed[c] > 0 else 0.0
        paid = np.zeros(nc)
        for j in range(nw):
            h, c = w.worker_hh[j], company[w.worker_base[j]]
            pay = (1.0 if w.detained[h] == 0 else 0.0) * wage * frac[c]
            w.cash[h] += pay
            w.income[h] += np.float32(pay)
            paid[c] += pay
            t[w.region[h]].base_wages_usd += pay
        for c in range(nc):
            cash[c] -= paid[c]

    # investment of free cash above the reserve, every base of a company restored by the same fraction of its gap:
    # I_b <- min(I_b + investment_b / (infrastructure_cost_years * V_b), infrastructure_initial)
    invested, total = False, 0.0
    if p.base_investment_on:
        excess = np.empty(nc)
        for c in range(nc):
            excess[c] = fmax(cash[c] - revenue[c], 0.0) - p.company_cash_reserve_weeks * comp.weekly_value[c]
            invested |= excess[c] > 0
    if invested:
        infra_max = p.infrastructure_initial
        cost = np.empty(n)  # US$ per unit of infrastructure
        gap_cost = np.empty(n)  # to restore fully
        room = np.zeros(nc)
        for i in range(n):
            cost[i] = p.infrastructure_cost_years * (capacity[i] * prices[commodity[i]])
            gap_cost[i] = fmax(infra_max - infra[i], np.float32(0.0)) * cost[i]
            room[company[i]] += gap_cost[i]
        spend = np.empty(nc)
        share = np.empty(nc)
        for c in range(nc):
            spend[c] = fmin(fmax(excess[c], 0.0), room[c])
            share[c] = spend[c] / room[c] if room[c] > 0 else 0.0
        for i in range(n):
            inv = gap_cost[i] * share[company[i]]
            infra[i] = fmin(infra[i] + np.float32(inv / (cost[i] if cost[i] > 0 else 1.0)), infra_max)
            t[region[i]].base_investment_usd += inv
        for c in range(nc):
            cash[c] -= spend[c]
        total = psum(spend)

    for i in range(n):
        t[region[i]].infrastructure_index += capacity[i] * infra[i]
        t[region[i]].unbanned_capacity_t += capacity[i] if commodity[i] == UNBANNED else 0.0
    for g in range(len(t)):  # capacity-weighted mean infrastructure, NaN without bases
        t[g].infrastructure_index = t[g].infrastructure_index / t[g].capacity if t[g].capacity > 0 else np.nan
    return invested, total
