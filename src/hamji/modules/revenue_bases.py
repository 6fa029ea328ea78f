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

from typing import TYPE_CHECKING

import numpy as np

from hamji.accounts import BRANCHES
from hamji.kernels import ratio_or, share_or
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


def banned_classes(pars) -> np.ndarray:  # noqa: ANN001 - Parameters
    """Per commodity class (:data:`COMMODITIES` order): True where an export ban holds this week."""
    if not pars.sanctions_on:
        return np.zeros(len(COMMODITIES), dtype=bool)
    return np.array([bool(pars[f"ban_{c}"]) for c in COMMODITIES])


def commodity_prices(sim: "Sim") -> np.ndarray:
    """Export price of each commodity this week (US$/t), in :data:`COMMODITIES` order."""
    return np.array([sim.pars[f"price_{c}_usd_t"] for c in COMMODITIES]) * sim.market.price_index


def free_cash(companies) -> np.ndarray:  # noqa: ANN001 - AgentArrays
    """Company cash not earmarked for the funnel (cash minus this week's unfunnelled revenue), >= 0."""
    return np.maximum(companies.cash - companies.revenue, 0.0)


def deposit_matrix(sim: "Sim") -> np.ndarray:
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

    def setup(self, sim: "Sim") -> None:
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
        self._capacity_r = np.bincount(b.region, weights=b.capacity, minlength=r)
        self._empty_r = self._capacity_r <= 0
        self._unbanned_initial = float(b.capacity[b.commodity == UNBANNED].sum())

    def step(self, sim: "Sim") -> None:
        pars = sim.pars
        b, comp, hh = sim.people.bases, sim.people.companies, sim.people.households
        r = sim.world.n_regions
        if pars.infrastructure_decay_on:
            b.infra *= np.float32((1.0 - pars.infrastructure_decay_rate) ** (1.0 / WEEKS_PER_YEAR))

        banned = banned_classes(pars)
        shifted_r = np.zeros(r)
        if banned.any() and not banned[UNBANNED] and pars.sanctions_shift_rate > 0:
            shifted_r = self.shift(sim, banned)

        # labour present: conscripts plus worker households not in detention
        present = hh.detained[self.worker_hh] == 0
        present_b = np.bincount(self.worker_base, weights=present, minlength=b.n)
        full = b.conscripts + b.workers
        labour = np.where(full > 0, (b.conscripts + present_b) / np.where(full > 0, full, 1.0), 1.0)
        weekly_cap = b.capacity * (sim.market.volume_index / WEEKS_PER_YEAR)  # Chinese investment in capacity
        b.output[:] = weekly_cap * b.infra * labour ** pars.labour_elasticity
        b.stock += b.output
        np.minimum(b.stock, pars.stock_max_weeks * weekly_cap, out=b.stock)

        # wages to present worker households, from the owners' free cash
        wage = pars.base_wage_usd_week
        paid_r = np.zeros(r)
        if wage > 0 and len(self.worker_hh):
            wcomp = b.company[self.worker_base]
            owed = np.bincount(wcomp, weights=present * wage, minlength=comp.n)
            avail = free_cash(comp)
            frac = share_or(avail, owed)
            pay = present * wage * frac[wcomp]
            hh.cash[self.worker_hh] += pay
            hh.income[self.worker_hh] += pay.astype(np.float32)
            comp.cash -= np.bincount(wcomp, weights=pay, minlength=comp.n)
            paid_r = np.bincount(hh.region[self.worker_hh], weights=pay, minlength=r)

        # investment of free cash above the reserve in the bases' infrastructure
        invest_r = np.zeros(r)
        if pars.base_investment_on:
            invest_r = self.invest(sim)

        sim.results.record("revenue_base_workers", self._workers_by_region)
        sim.results.record("base_conscripts", self._conscripts_by_region)
        sim.results.record("base_output_t", np.bincount(b.region, weights=b.output, minlength=r))
        infra_r = np.bincount(b.region, weights=b.capacity * b.infra, minlength=r)
        infra_r[self._empty_r] = np.nan
        sim.results.record("infrastructure_index", infra_r / np.where(self._empty_r, 1.0, self._capacity_r))
        sim.results.record("base_wages_usd", paid_r)
        sim.results.record("base_investment_usd", invest_r)
        sim.results.record("sanctions_shifted_t", shifted_r)
        sim.results.record("unbanned_capacity_t", np.bincount(b.region, weights=np.where(b.commodity == UNBANNED, b.capacity, 0.0),
                                                           minlength=r))

    def shift(self, sim: "Sim", banned: np.ndarray) -> np.ndarray:
        """Banned bases give up capacity to the province's ``unbanned`` bases; returns t/yr added, by province."""
        pars = sim.pars
        b = sim.people.bases
        r = sim.world.n_regions
        unb = b.commodity == UNBANNED
        if not unb.any():
            return np.zeros(r)
        f = 1.0 - (1.0 - pars.sanctions_shift_rate) ** (1.0 / WEEKS_PER_YEAR)
        productivity = np.array([float(pars[f"productivity_{c}_t"]) for c in COMMODITIES])
        give = np.where(banned[b.commodity], b.capacity * f, 0.0)  # simulated t/yr of the banned class
        add = give / productivity[b.commodity] * pars.productivity_unbanned_t  # t/yr of unbanned goods
        room = max(pars.unbanned_capacity_max_multiple * self._unbanned_initial - float(b.capacity[unb].sum()), 0.0)
        total = float(add.sum())
        if total <= 0 or room <= 0:
            return np.zeros(r)
        k = min(1.0, room / total)
        give *= k
        add *= k
        b.capacity -= give
        add_r = np.bincount(b.region, weights=add, minlength=r)
        cap_unb_r = np.bincount(b.region[unb], weights=b.capacity[unb], minlength=r)
        has = cap_unb_r > 0
        national = add_r[~has].sum()  # provinces without unbanned bases: to every unbanned base of the country
        w_local = np.where(unb, b.capacity / np.where(has, cap_unb_r, 1.0)[b.region], 0.0)
        w_nat = np.where(unb, b.capacity / cap_unb_r.sum(), 0.0)
        gain = w_local * np.where(has, add_r, 0.0)[b.region] + w_nat * national
        b.capacity += gain
        return np.bincount(b.region, weights=gain, minlength=r)

    def invest(self, sim: "Sim") -> np.ndarray:
        """Companies invest free cash above their reserve in their bases; returns investment by province."""
        pars = sim.pars
        b, comp = sim.people.bases, sim.people.companies
        excess = free_cash(comp) - pars.company_cash_reserve_weeks * comp.weekly_value
        if not (excess > 0).any():
            return np.zeros(sim.world.n_regions)
        value_b = b.capacity * commodity_prices(sim)[b.commodity]  # US$/yr at infrastructure 1
        cost_b = pars.infrastructure_cost_years * value_b  # US$ per unit of infrastructure
        gap_cost = np.maximum(pars.infrastructure_initial - b.infra, 0.0) * cost_b  # to restore fully
        budget = np.maximum(excess, 0.0)
        room = np.bincount(b.company, weights=gap_cost, minlength=comp.n)
        spend = np.minimum(budget, room)
        share = ratio_or(spend, room)
        inv_b = gap_cost * share[b.company]  # every base of a company restored by the same fraction of its gap
        b.infra += (inv_b / np.where(cost_b > 0, cost_b, 1.0)).astype(np.float32)
        np.minimum(b.infra, np.float32(pars.infrastructure_initial), out=b.infra)
        comp.cash -= spend
        sim.books.outflow("base_investment", spend.sum())
        return np.bincount(b.region, weights=inv_b, minlength=sim.world.n_regions)
