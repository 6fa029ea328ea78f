"""Enforcement and bribery: inspections find infractions; traders buy their way out, or are punished.

"In areas where these markets operate, there has been a concomitant rise in corruption. Defectors
note that bribes provide officials with funds, which are used for operating budgets for their
respective government organizations, as well as for personal use." ... "As their level of
individual prosperity rises, a major benefit is their increased ability to bribe their way out of
trouble with state security forces in many instances. As long as infractions are not labeled as
political crimes, this growing benefit appears to extend to a wide circle of family members and
relatives." (Park 2009)

State: ``households.clan`` (int32 kin-group id: ``clan_size`` households of one province, drawn
at random at set-up) and ``households.detained`` (weeks left, declared by the synthesis).

Each week, in province r (all formulas per week):

* Detention runs down: ``detained -= 1`` where positive. Traders are the free households in a
  market role (``role > 0``, not detained); A_r of them, ``a_r = A_r / H_r`` their share of the
  province's H_r households.
* Officials: ``C_r = officials_per_1000_households / 1000 * H_r``.
* Inspection risk of a trader, Epstein's (2002) civil-violence arrest form, "safety in numbers"::

      p_r = 1 - exp(-k * C_r / A_r)

  (k = ``inspection_k``, inspections one official can make in a week). The province's inspections,
  ``A_r p_r <= k C_r``, rise with the number of traders but each trader's risk falls.
* An inspected trader is found in breach with probability ``infraction_rate``; an infraction found
  is political with probability ``q_i = political_share * (kin_abroad_political_multiplier if the
  household has kin abroad else 1)`` (the defector's family is safe while he is "listed as missing").
* Bribe price, rising with market activity: ``b_r = bribe_base_usd * (1 + bribe_activity_slope * a_r)``.
* A non-political case is bought off if the household's money ``m_i = cash + fx`` covers it
  (``m_i >= b_r``), or else if its clan can: the free, non-needy members j of clan c give up to
  ``h * m_j`` (h = ``clan_help_share``). If ``h * sum_j m_j >= sum of the needs (b_r - m_i)`` of
  the clan's cases this week, each case pays all its own money and the members give the rest, each
  in proportion to its money; otherwise nobody in that clan is rescued this week.
* Bribe split: ``bribe_org_share`` to the organisations' budgets (``bribe_kpa_share`` of it to the
  KPA: border guards and military checkpoints; the rest to the Cabinet: People's Security and the
  market managers of the people's committees, which the model books under the Cabinet); the rest
  to the officials' personal funds ``accounts.officials[r]``.
* A non-political case not bought off pays a fine (or confiscation of its cash)
  ``min(fine_multiple * M_r * b_r, m_i)`` to the Cabinet budget (courts and police: state budget) and is
  detained ``M_r * detention_weeks`` with probability ``1 - (1 - detention_prob) / (1 + S_r)``.
* Border provinces (a DPRK province with a crossing) under a sealed border: the 2020 closure came
  with a buffer zone along the river where guards were ordered to shoot and heavier penalties for
  smuggling. There officials are ``C_r (1 + S_r)``, ``S_r`` = ``border_guard_strength``, and
  ``M_r`` = ``border_penalty_multiplier``; elsewhere (and normally) ``S_r = 0``, ``M_r = 1``. A political case loses
  ``political_confiscation_share`` of its money (Cabinet budget) and is detained
  ``political_detention_weeks``.
* Officials spend ``officials_spending_rate`` of their personal funds each week in their province's
  markets: paid in equal shares to its free traders (as their cash and income), or to all its free
  households where nobody trades.

Randomness: one uniform ``u_i`` per household and week (stream ``enforcement.inspection``, drawn
for every household) decides by nested thresholds: inspected if ``u < p_r``, found if
``u < p_r * infraction_rate``, political if ``u / (p_r * infraction_rate) < q_i``, and, for a
non-political case nobody pays, detained if the rescaled remainder ``(u / (p_r *
infraction_rate) - q_i) / (1 - q_i) < detention_prob`` (each remainder is again uniform).

Calibration target: the share of non-political cases bought off (``bribe_settled_share``) against
"95 percent of female traders report paying bribes to avoid the penal system" (context_figures.csv).
Companies' bribes and checkpoint inspections along routes are not modelled here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from hamji.accounts import CABINET, KPA, pay_from_households
from hamji.kernels import compact_blocks, span
from hamji.module import Metric, Module
from hamji.parameters import Parameters

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def bribe_prices(pars: Parameters, participants_share: np.ndarray) -> np.ndarray:
    """Bribe price per province (US$): ``bribe_base_usd * (1 + bribe_activity_slope * a_r)``."""
    return pars.bribe_base_usd * (1.0 + pars.bribe_activity_slope * participants_share)


def border_provinces(sim: "Sim") -> np.ndarray:
    """1.0 for each DPRK province with a border crossing (world.yaml), else 0.0 (one value per region)."""
    out = np.zeros(sim.world.n_regions)
    out[np.unique(sim.world.crossings.dprk_region.to_numpy().astype(np.int64))] = 1.0
    return out


def inspection_risk(k: float, officials: np.ndarray, traders: np.ndarray) -> np.ndarray:
    """Epstein's arrest risk ``1 - exp(-k C / A)`` per province (1 where nobody trades)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(traders > 0, 1.0 - np.exp(-k * officials / np.maximum(traders, 1e-12)), 1.0)


def make_clans(region: np.ndarray, clan_size: int, u: np.ndarray) -> np.ndarray:
    """Kin-group ids: households of each province in random order (keys ``u``), cut in runs of ``clan_size``."""
    n = len(region)
    order = np.lexsort((u, region))
    counts = np.bincount(region, minlength=int(region.max()) + 1 if n else 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    offsets = np.concatenate([[0], np.cumsum(-(-counts // clan_size))[:-1]])
    reg_sorted = region[order]
    pos = np.arange(n) - starts[reg_sorted]
    clan = np.empty(n, dtype=np.int32)
    clan[order] = offsets[reg_sorted] + pos // clan_size
    return clan


class Clans:
    """Kin groups as a (slot, clan) table of household ids, for fast sums over each household's clan.

    Slot j of clan c holds its j-th member, or ``n`` (a dummy zero value) where the clan is smaller
    than the largest one. A clan sum is a gather into the table and a sum over slots.
    """

    def __init__(self, clan: np.ndarray) -> None:
        n = len(clan)
        self.clan = clan.astype(np.int32)
        self.n_clans = int(clan.max()) + 1 if n else 0
        self.size = np.bincount(clan, minlength=self.n_clans)
        order = np.argsort(clan, kind="stable")
        start = np.concatenate([[0], np.cumsum(self.size)[:-1]]).astype(np.int64)
        width = int(self.size.max()) if n else 0
        pos = np.arange(n) - start[clan[order]]
        self.slots = np.full((width, self.n_clans), n, dtype=np.int32)
        self.slots[pos, clan[order]] = order
        # float32 work space: clan sums feed the index, never the books
        self._ext = np.zeros(n + 1, dtype=np.float32)
        self._table = np.empty((width, self.n_clans), dtype=np.float32)
        self._sums = np.empty(self.n_clans, dtype=np.float32)

    def members(self, clans: np.ndarray) -> np.ndarray:
        """Household ids of every member of ``clans`` (distinct clan ids)."""
        ids = self.slots[:, clans].ravel()
        return ids[ids < len(self.clan)]

    def sum_by_clan(self, values: np.ndarray) -> np.ndarray:
        """Sum of household ``values`` per clan, in float32 (an internal buffer, valid until the next call)."""
        self._ext[:-1] = values
        np.take(self._ext, self.slots, out=self._table)
        return np.add.reduce(self._table, axis=0, out=self._sums)

    def sum_per_household(self, values: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over each household's clan (itself included), written to ``out``."""
        return np.take(self.sum_by_clan(values), self.clan, out=out)


@njit(cache=True, parallel=True)
def _serve_and_list(blocks, detained, role, buf, counts):  # noqa: ANN001, ANN201
    """One pass: a week of detention served (``detained -= 1`` where held); returns the ids of households in a
    market role and free, in household order (a view of ``buf``). Blocks in parallel, joined in block order."""
    for b in prange(len(blocks)):
        k = lo = blocks[b, 0]
        for i in range(*span(blocks, b)):
            if detained[i] != 0:
                detained[i] -= 1
            buf[k] = i
            k += role[i] > 0 and detained[i] == 0
        counts[b] = k - lo
    return buf[:compact_blocks(buf, blocks, counts)]


@njit(cache=True)
def _pay_listed(idx, reg, amount, amount32, cash, income) -> None:  # noqa: ANN001
    """``cash[i] += amount[r]`` and ``income[i] += amount32[r]`` (float32) for each listed household ``i = idx[j]``
    of province ``r = reg[j]``."""
    for j in range(len(idx)):
        i, r = idx[j], reg[j]
        cash[i] += amount[r]
        income[i] += amount32[r]


@njit(cache=True)
def _inspections(u, t_idx, t_reg, p, infraction_rate, inspections, found_idx, w) -> int:  # noqa: ANN001
    """One pass over the traders: inspected if ``u < p`` (counted by province), an infraction found if
    ``u < p x infraction_rate`` (float32, as NumPy computes it); writes the ids found and their
    rescaled uniform ``u / (p x infraction_rate)`` and returns how many were found."""
    k = 0
    for j in range(len(t_idx)):
        i, r = t_idx[j], t_reg[j]
        pr = p[r]
        if u[i] < pr:
            inspections[r] += 1.0
            pf = pr * infraction_rate
            if u[i] < pf:
                found_idx[k] = i
                w[k] = u[i] / pf
                k += 1
    return k


class RegionIndex:
    """Fast sums and counts of households by province.

    The synthesis stores households in province order; then a province is a slice and sums are
    ``np.add.reduceat`` over slices (an order of magnitude faster than a weighted ``bincount``),
    and counts of an ascending id list are two ``searchsorted`` calls. Falls back to ``bincount``
    if the order is ever different.
    """

    def __init__(self, region: np.ndarray, n_regions: int) -> None:
        self.region = region.astype(np.int64)
        self.n_regions = n_regions
        self.ordered = bool(np.all(self.region[1:] >= self.region[:-1]))
        self.bounds = np.searchsorted(self.region, np.arange(n_regions + 1))
        self._starts = self.bounds[:-1][self.bounds[:-1] < self.bounds[1:]]
        self._nonempty = self.bounds[:-1] < self.bounds[1:]

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (one per household) by province, in float64."""
        if not self.ordered:
            return np.bincount(self.region, weights=values, minlength=self.n_regions)
        out = np.zeros(self.n_regions)
        if len(self._starts):
            out[self._nonempty] = np.add.reduceat(values, self._starts, dtype=np.float64)
        return out

    def fill(self, values: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write each province's value to its households (``out``, one per household)."""
        if not self.ordered:
            out[:] = values[self.region]
            return out
        for r in np.flatnonzero(self._nonempty):
            out[self.bounds[r]:self.bounds[r + 1]] = values[r]
        return out

    def regions_of(self, idx: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Province of each household of the ascending id list ``idx`` (``counts`` per province)."""
        if not self.ordered:
            return self.region[idx]
        return np.repeat(np.arange(self.n_regions), counts.astype(np.int64))

    def count(self, idx: np.ndarray) -> np.ndarray:
        """Households of the ascending id list ``idx`` by province."""
        if not self.ordered:
            return np.bincount(self.region[idx], minlength=self.n_regions).astype(float)
        return np.diff(np.searchsorted(idx, self.bounds)).astype(float)


class Enforcement(Module):
    """Inspections of traders, bribes (with kin's help), fines, confiscation and detention."""

    name = "enforcement"
    passage = (
        "Inspections find traders' infractions; non-political ones are bought off (with kin's help), else fined or detained.\n"
        "\"As long as infractions are not labeled as political crimes, this growing benefit appears to extend to a"
        " wide circle of family members and relatives.\" (Park 2009)"
    )
    metrics = (
        Metric("inspections", "inspections", "Inspections of traders (households in a market role), by province.", scaled=True),
        Metric("infractions_found", "cases", "Infractions found at inspections (political or not), by province.", scaled=True),
        Metric("political_cases", "cases", "Infractions found that are labelled political (never bought off).", scaled=True),
        Metric("bribes_usd", "US$", "Bribes paid by households (with their kin's help) to avoid punishment, by the"
               " payer's province.", scaled=True),
        Metric("kin_help_usd", "US$", "Part of the bribes paid by clan members for a relative.", scaled=True),
        Metric("bribe_price_usd", "US$ per case", "Bribe asked for a non-political infraction: rises with the share"
               " of households in market roles.", agg="mean", annual="mean"),
        Metric("bribe_settled_share", "fraction of cases", "Non-political infractions found that were bought off"
               " (calibration target: '95 percent of female traders report paying bribes', context_figures.csv).",
               agg="mean", annual="mean"),
        Metric("fines_usd", "US$", "Fines and confiscated cash paid to the state budget (Cabinet), by province.", scaled=True),
        Metric("detentions", "households", "Households newly detained this week.", scaled=True),
        Metric("detained", "households", "Households with a member in detention (stock).", annual="mean", scaled=True),
        Metric("officials_spending_usd", "US$", "Officials' personal bribe money spent in the province's markets.", scaled=True),
    )

    def setup(self, sim: "Sim") -> None:
        hh, pars = sim.people.households, sim.pars
        r = sim.world.n_regions
        self.n_regions = r
        self._region = hh.region.astype(np.int64)
        self._index = RegionIndex(self._region, r)
        self._households = np.bincount(self._region, minlength=r).astype(float)
        u = sim.streams.get("enforcement.clan").random(hh.n)
        hh.add("clan", np.int32, values=make_clans(self._region, pars.clan_size, u))
        self.clans = Clans(hh.clan)
        self._u = np.empty(hh.n, dtype=np.float32)  # reused buffers (fresh large arrays are slow)
        self._mark = np.zeros(hh.n, dtype=bool)
        self._t_buf = np.empty(hh.n, dtype=np.int32)
        self._t_counts = np.zeros(len(sim.blocks), dtype=np.int64)
        self.n_clans = self.clans.n_clans
        self.bribe_price = bribe_prices(pars, np.zeros(r))
        self.border = border_provinces(sim)

    def step(self, sim: "Sim") -> None:
        pars, hh, res = sim.pars, sim.people.households, sim.results
        r, reg = self.n_regions, self._region
        det = hh.detained
        t_idx = _serve_and_list(sim.blocks, det, hh.role, self._t_buf, self._t_counts)  # free traders (detained members cannot trade)
        a = self._index.count(t_idx)
        t_reg = self._index.regions_of(t_idx, a)
        self.bribe_price = price = bribe_prices(pars, a / np.maximum(self._households, 1.0))
        z = np.zeros(r)
        out = {m: z for m in ("inspections", "infractions_found", "political_cases", "bribes_usd", "kin_help_usd",
                              "fines_usd", "detentions")}
        settled_cases = np.zeros((2, r))
        if pars.enforcement_on and len(t_idx):
            out, settled_cases = self._inspect(sim, t_idx, t_reg, a, price)
        spent = self._officials_spend(sim, t_idx, t_reg, a)
        for name, v in out.items():
            res.record(name, v)
        res.record("officials_spending_usd", spent)
        res.record("bribe_price_usd", price)
        res.record_ratio("bribe_settled_share", settled_cases[0], settled_cases[1])
        res.record("detained", self._index.count(np.flatnonzero(det != 0)))

    def _inspect(self, sim: "Sim", t_idx: np.ndarray, t_reg: np.ndarray, a: np.ndarray, price: np.ndarray
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Inspections of the traders ``t_idx``, infractions and their outcomes; returns sums by province."""
        pars, hh, acc = sim.pars, sim.people.households, sim.accounts
        r, reg = self.n_regions, self._region
        # border provinces: more guards and harsher punishment while the border is sealed (border_guard_strength s,
        # border_penalty_multiplier m; both neutral by default)
        s_r = pars.border_guard_strength * self.border
        m_r = 1.0 + (pars.border_penalty_multiplier - 1.0) * self.border
        officials = pars.officials_per_1000_households / 1000.0 * self._households * (1.0 + s_r)
        p = inspection_risk(pars.inspection_k, officials, a).astype(np.float32)
        # one uniform u per household decides, by nested thresholds, inspection, infraction, the
        # political label and (for unpaid cases) detention; each conditional decision uses the
        # rescaled remainder of u, which is again uniform on [0, 1)
        u = sim.rng("enforcement.inspection").random(hh.n, dtype=np.float32, out=self._u)
        inspections = np.zeros(r)
        found_idx, w = np.empty(len(t_idx), dtype=np.int64), np.empty(len(t_idx), dtype=np.float32)
        k = _inspections(u, t_idx, t_reg, p, np.float32(pars.infraction_rate), inspections, found_idx, w)
        found_idx, w = found_idx[:k], w[:k]  # w: uniform on [0, 1) given an infraction found
        q = np.full(len(found_idx), pars.political_share)
        kin_abroad = getattr(hh, "kin_abroad", None)  # declared by remittances
        if kin_abroad is not None:
            q = np.where(kin_abroad[found_idx] > 0, np.minimum(q * pars.kin_abroad_political_multiplier, 1.0), q)
        political = w < q
        w_case = (w[~political] - q[~political]) / np.maximum(1.0 - q[~political], 1e-12)  # uniform, given not political
        pol_idx, case_idx = found_idx[political], found_idx[~political]
        b = price[reg[case_idx]]
        money = hh.cash[case_idx] + hh.fx[case_idx]
        own = money >= b
        # kin help: the clan pays when the household cannot
        need_idx, need, w_need = case_idx[~own], (b - money)[~own], w_case[~own]
        rescued = np.zeros(len(need_idx), dtype=bool)
        help_r = np.zeros(r)
        if len(need_idx):
            rescued, help_r = self._kin_help(sim, need_idx, need, found_idx)
        payer_idx = np.concatenate([case_idx[own], need_idx[rescued]])
        c, f = hh.cash[payer_idx], hh.fx[payer_idx]
        paid = pay_from_households(c, f, price[reg[payer_idx]])  # rescued households pay all they hold, kin the rest
        hh.cash[payer_idx], hh.fx[payer_idx] = c, f
        bribes_r = np.bincount(reg[payer_idx], weights=paid, minlength=r)
        org = bribes_r * pars.bribe_org_share
        acc.to_budget(KPA, org * pars.bribe_kpa_share)
        acc.to_budget(CABINET, org * (1.0 - pars.bribe_kpa_share))
        acc.officials += bribes_r * (1.0 - pars.bribe_org_share)
        # punishment: a fine or confiscation of cash (state budget), detention
        unpaid_idx = need_idx[~rescued]
        punished = np.concatenate([unpaid_idx, pol_idx])
        c, f = hh.cash[punished], hh.fx[punished]
        fine_due = np.concatenate([pars.fine_multiple * (price * m_r)[reg[unpaid_idx]],
                                   pars.political_confiscation_share * (c[len(unpaid_idx):] + f[len(unpaid_idx):])])
        fines = pay_from_households(c, f, fine_due)
        hh.cash[punished], hh.fx[punished] = c, f
        acc.to_budget(CABINET, np.bincount(hh.region[punished], weights=fines, minlength=r))
        p_detain = np.where(s_r > 0, 1.0 - (1.0 - pars.detention_prob) / (1.0 + s_r), pars.detention_prob)[reg[unpaid_idx]]
        detain = unpaid_idx[w_need[~rescued] < p_detain]
        hh.detained[detain] = np.round(pars.detention_weeks * m_r[reg[detain]]).astype(hh.detained.dtype)
        hh.detained[pol_idx] = pars.political_detention_weeks

        out = {
            "inspections": inspections,
            "infractions_found": self._index.count(found_idx),
            "political_cases": self._index.count(pol_idx),
            "bribes_usd": bribes_r,
            "kin_help_usd": help_r,
            "fines_usd": np.bincount(reg[punished], weights=fines, minlength=r),
            "detentions": self._index.count(detain) + self._index.count(pol_idx),
        }
        payers = np.bincount(reg[payer_idx], minlength=r).astype(float)  # ids not in order
        return out, np.vstack([payers, self._index.count(case_idx)])

    def _kin_help(self, sim: "Sim", need_idx: np.ndarray, need: np.ndarray, cases: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Clans that can cover all their members' needs pay them; returns (rescued, help by province).

        ``need_idx``: households that cannot pay alone, ``need`` what they lack; ``cases``: every
        household with a case this week (none of them gives).
        """
        pars, hh = sim.pars, sim.people.households
        clan = hh.clan
        needy = np.unique(clan[need_idx])  # the clans involved; sums below are over them only (in a compact index)
        members = self.clans.members(needy)
        is_case = self._mark  # all False between calls
        is_case[cases] = True
        donor_idx = members[~is_case[members] & (hh.detained[members] == 0)]
        is_case[cases] = False
        money = hh.cash[donor_idx] + hh.fx[donor_idx]
        d_pos, n_pos = np.searchsorted(needy, clan[donor_idx]), np.searchsorted(needy, clan[need_idx])
        have = np.bincount(d_pos, weights=money, minlength=len(needy))
        needs = np.bincount(n_pos, weights=need, minlength=len(needy))
        ok = (needs > 0) & (pars.clan_help_share * have >= needs)
        rescued = ok[n_pos]
        give_ok = ok[d_pos]
        donor_idx, money, dc = donor_idx[give_ok], money[give_ok], d_pos[give_ok]
        give = money * needs[dc] / np.maximum(have[dc], 1e-300)  # at most clan_help_share of their money
        c, f = hh.cash[donor_idx], hh.fx[donor_idx]
        given = pay_from_households(c, f, give)
        hh.cash[donor_idx], hh.fx[donor_idx] = c, f
        # the money passes through the rescued household, which then pays the whole bribe
        got = np.bincount(dc, weights=given, minlength=len(needy))
        r_idx, r_pos = need_idx[rescued], n_pos[rescued]
        received = got[r_pos] * need[rescued] / np.maximum(needs[r_pos], 1e-300)
        hh.cash[r_idx] += received
        return rescued, np.bincount(self._region[r_idx], weights=received, minlength=self.n_regions)

    def _officials_spend(self, sim: "Sim", t_idx: np.ndarray, t_reg: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Officials spend part of their personal funds in their province's markets; returns the amounts.

        Paid in equal shares to the province's free traders (``t_idx``, in provinces ``t_reg``; ``a`` per
        province), or to all its free households where nobody trades.
        """
        acc, hh, pars = sim.accounts, sim.people.households, sim.pars
        spend = acc.officials * pars.officials_spending_rate
        if spend.sum() <= 0:
            return np.zeros(self.n_regions)
        per = spend / np.maximum(a, 1.0)
        _pay_listed(t_idx, t_reg, per, per.astype(np.float32), hh.cash, hh.income)
        idle = (a == 0) & (spend > 0)
        if idle.any():  # nobody trades there: officials buy from any free household
            free_idx = np.flatnonzero(idle[self._region] & (hh.detained == 0))
            n_free = np.bincount(self._region[free_idx], minlength=self.n_regions)
            spend = np.where(idle & (n_free == 0), 0.0, spend)
            per_free = np.where(idle, spend / np.maximum(n_free, 1), 0.0)
            amount = per_free[self._region[free_idx]]
            hh.cash[free_idx] += amount
            hh.income[free_idx] += amount.astype(np.float32)
        acc.officials -= spend
        return spend
