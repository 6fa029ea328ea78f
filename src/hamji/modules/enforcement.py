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

Computation: after the household pass that serves detention and lists the traders, the week is two compiled
functions around NumPy's ``exp`` and the week's draws: :func:`_traders_and_prices`, then :func:`_settle`
(:func:`_find_cases`, :func:`_kin_help`, :func:`_pay_bribes`, :func:`_punish`, :func:`_officials_spend`), which
adds in the order of the NumPy formulas above, so results are the same to the bit. The kernels read the
parameters as ``p.<name>`` (:class:`EnforcementPars`, built when parameters change) and the arrays as named
records: the households' states (:class:`Folk`), the provinces' values (:class:`Provinces`), the week's cases
(:class:`Cases`) and the week's sums by province (a structured array, :data:`TALLY`).

Calibration target: the share of non-political cases bought off (``bribe_settled_share``) against
"95 percent of female traders report paying bribes to avoid the penal system" (context_figures.csv).
Companies' bribes and checkpoint inspections along routes are not modelled here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit, prange

from hamji.accounts import CABINET, KPA
from hamji.kernels import compact_blocks, fmax, fmin, psum, span
from hamji.module import Metric, Module, State
from hamji.parameters import Parameters
from hamji.payments import pay_household

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


class EnforcementPars(NamedTuple):
    """The parameters the enforcement kernels read (float64 and int, as the kernels compute with them)."""

    bribe_base_usd: float
    bribe_activity_slope: float
    inspection_k: float  # k
    officials_per_household: float  # officials_per_1000_households / 1000
    infraction_rate: float
    political_share: float
    kin_abroad_political_multiplier: float
    clan_help_share: float  # h
    bribe_org_share: float
    bribe_kpa_share: float
    fine_multiple: float
    detention_prob: float
    detention_weeks: int
    political_detention_weeks: int
    political_confiscation_share: float
    border_guard_strength: float  # S_r in a border province (0 elsewhere)
    border_penalty_multiplier: float  # M_r in a border province (1 elsewhere)
    officials_spending_rate: float

    @classmethod
    def of(cls, pars: Parameters) -> EnforcementPars:
        return cls(**{name: pars[name] for name in cls._fields if name != "officials_per_household"},
                   officials_per_household=pars.officials_per_1000_households / 1000.0)


class Folk(NamedTuple):
    """The household states the kernels read and write (and the buffer of the week's draws), one value each."""

    region: np.ndarray  # int8 province
    detained: np.ndarray  # int16 weeks of detention left
    cash: np.ndarray
    fx: np.ndarray
    income: np.ndarray  # float32
    clan: np.ndarray  # int32 kin group
    kin_abroad: np.ndarray  # int8 defectors abroad (declared here and by remittances, which sets it)
    u: np.ndarray  # float32: the week's uniform draw


class Provinces(NamedTuple):
    """Values by province (one each): H_r, the border flag, A_r, the inspection risk's exponent and its ``exp``,
    the bribe price b_r, and the officials' personal funds (``accounts.officials``, changed in place)."""

    households: np.ndarray  # H_r
    border: np.ndarray  # 1.0 in a province with a border crossing
    traders: np.ndarray  # A_r (float64)
    exponent: np.ndarray  # x_r = -k C_r / max(A_r, 1e-12)
    escape: np.ndarray  # e_r = exp(x_r), from NumPy: p_r = 1 - e_r
    bribe_price: np.ndarray  # b_r
    officials: np.ndarray  # accounts.officials


class Cases(NamedTuple):
    """The week's work space: each listed trader's province, the cases found (at most one per trader), and the
    clan table with the clans' sums of :func:`_kin_help`."""

    t_reg: np.ndarray  # int8 province of each listed trader
    case_id: np.ndarray  # int32 household of each case
    case_kind: np.ndarray  # int8: _CASE_POLITICAL, _CASE_OWN, _CASE_NEED or _CASE_RESCUED
    case_w: np.ndarray  # the case's uniform, given not political
    case_need: np.ndarray  # b_r - m_i for a case in need
    slots: np.ndarray  # (slot, clan) table of household ids (Clans.slots)
    mark: np.ndarray  # bool per household, False between weeks
    needy: np.ndarray  # ids of the clans in need this week
    clan_state: np.ndarray  # int8 per clan, 0 between weeks
    clan_sums: np.ndarray  # (3, clans): needs, have, got


#: The week's sums by province, written by :func:`_settle`: one record per province (``t[r].inspections``; one
#: argument for the compiled week, where a record of 13 arrays costs Numba ~1.5 us a call to dispatch)
TALLY = np.dtype([(name, np.float64) for name in (
    "inspections", "infractions_found", "political_cases", "bribes_usd", "kin_help_usd", "fines_usd", "detentions",
    "officials_spending_usd", "detained",  # recorded under these names
    "payers",  # non-political cases bought off
    "cases",  # non-political cases
    "kpa_share",  # bribes to the KPA's budget
    "cabinet_share",  # bribes to the Cabinet's budget
)])
#: the metrics recorded from the tally
_RECORDED = TALLY.names[:9]
# what a case found this week turned out to be
_CASE_POLITICAL, _CASE_OWN, _CASE_NEED, _CASE_RESCUED = range(4)


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

    # the defectors abroad of each household make a political charge likelier; remittances sets them (without that
    # module nobody has kin abroad)
    states = (State("households", "kin_abroad", "int8", 0, "defectors whose kin household this is"),)

    def setup(self, sim: Sim) -> None:
        hh, pars = sim.people.households, sim.pars
        r = sim.world.n_regions
        self.n_regions = r
        self._region = hh.region  # (int8: a copy as int64 would take 8 bytes a household)
        self._households = np.bincount(self._region, minlength=r).astype(float)
        u = sim.streams.get("enforcement.clan").random(hh.n)
        hh.add("clan", np.int32, values=make_clans(self._region, pars.clan_size, u))
        self.clans = Clans(hh.clan)
        self.n_clans = self.clans.n_clans
        self.border = border_provinces(sim)
        self._u = np.empty(hh.n, dtype=np.float32)  # reused buffers (fresh large arrays are slow)
        self._t_buf = np.empty(hh.n, dtype=np.int32)
        self._t_counts = np.zeros(len(sim.blocks), dtype=np.int64)
        self.folk = Folk(self._region, hh.detained, hh.cash, hh.fx, hh.income, hh.clan, hh.kin_abroad, self._u)
        self.bribe_price = bribe_prices(pars, np.zeros(r))
        self.provinces = Provinces(self._households, self.border, np.zeros(r), np.zeros(r), np.zeros(r),
                                   self.bribe_price, sim.accounts.officials)
        self.cases = Cases(**self._trader_buffers(0), slots=self.clans.slots, mark=np.zeros(hh.n, dtype=bool),
                           needy=np.empty(self.n_clans, dtype=np.int64),
                           clan_state=np.zeros(self.n_clans, dtype=np.int8),  # 0 between weeks
                           clan_sums=np.zeros((3, self.n_clans)))
        self.tally = np.zeros(r, dtype=TALLY)

    def _trader_buffers(self, traders: int) -> dict[str, np.ndarray]:
        """The part of :class:`Cases` indexed by listed trader (their provinces; the cases found, at most one per
        trader), for ``traders`` and a quarter more, so it grows with the trade and not with the households (22
        bytes a trader)."""
        n = traders + traders // 4
        return dict(t_reg=np.empty(n, dtype=np.int8),  # provinces, as households.region
                    case_id=np.empty(n, dtype=np.int32),  # household ids, as the traders' list (_t_buf)
                    case_kind=np.empty(n, dtype=np.int8), case_w=np.empty(n), case_need=np.empty(n))

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The kernels' parameter record."""
        self.p = EnforcementPars.of(sim.pars)

    def step(self, sim: Sim) -> None:
        pars, hh, res, acc = sim.pars, sim.people.households, sim.results, sim.accounts
        # free traders (detained members cannot trade)
        t_idx = _serve_and_list(sim.blocks, hh.detained, hh.role, self._t_buf, self._t_counts)
        # border provinces: more guards and harsher punishment while the border is sealed (border_guard_strength s,
        # border_penalty_multiplier m; both neutral by default)
        prov = self.provinces
        _traders_and_prices(sim.blocks, self._t_counts, tuple(prov), tuple(self.p))
        inspect = bool(pars.enforcement_on and len(t_idx))
        if inspect:
            # the inspection risk is 1 - e: NumPy's exp, as the project's rule for powers and exponentials on arrays
            # wants (compiled code rounds differently in the last bit)
            np.exp(prov.exponent, out=prov.escape)
            # one uniform u per household decides, by nested thresholds, inspection, infraction, the
            # political label and (for unpaid cases) detention; each conditional decision uses the
            # rescaled remainder of u, which is again uniform on [0, 1)
            sim.rng("enforcement.inspection").random(hh.n, dtype=np.float32, out=self._u)
        if len(t_idx) > len(self.cases.t_reg):
            self.cases = self.cases._replace(**self._trader_buffers(len(t_idx)))
        t = self.tally
        _settle(inspect, t_idx, sim.blocks, tuple(self.folk), tuple(prov), tuple(self.cases), tuple(self.p), t)
        if inspect:
            acc.to_budget(KPA, t["kpa_share"])
            acc.to_budget(CABINET, t["cabinet_share"])
            acc.to_budget(CABINET, t["fines_usd"])  # fines and confiscations: state budget
        for name in _RECORDED:
            res.record(name, t[name])
        res.record("bribe_price_usd", prov.bribe_price)
        res.record_ratio("bribe_settled_share", t["payers"], t["cases"])


# ------------------------------------------------------------------------------------------------
# Set-up and the formulas in NumPy (the tests' references; human security reads prices and borders)
# ------------------------------------------------------------------------------------------------
def bribe_prices(pars: Parameters, participants_share: np.ndarray) -> np.ndarray:
    """Bribe price per province (US$): ``bribe_base_usd * (1 + bribe_activity_slope * a_r)``."""
    return pars.bribe_base_usd * (1.0 + pars.bribe_activity_slope * participants_share)


@njit(cache=True, inline="always")
def bribe_price(base, slope, share):
    """:func:`bribe_prices` for one province, in compiled code (the same arithmetic, so the same value)."""
    return base * (1.0 + slope * share)


def border_provinces(sim: Sim) -> np.ndarray:
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
        self.clan = np.asarray(clan, dtype=np.int32)  # households.clan itself (no copy), never changed after set-up
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


# ------------------------------------------------------------------------------------------------
# The compiled week
# ------------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def _serve_and_list(blocks, detained, role, buf, counts):
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
def _pay_listed(idx, reg, amount, amount32, cash, income) -> None:
    """``cash[i] += amount[r]`` and ``income[i] += amount32[r]`` (float32) for each listed household ``i = idx[j]``
    of province ``r = reg[j]``."""
    for j in range(len(idx)):
        i, r = idx[j], reg[j]
        cash[i] += amount[r]
        income[i] += amount32[r]


@njit(cache=True, error_model="numpy")
def _traders_and_prices(blocks, counts, prov, p) -> None:
    """Free traders ``A_r`` by province (from the per-block counts of :func:`_serve_and_list`), the exponent
    ``x_r = -k C_r / max(A_r, 1e-12)`` of the inspection risk, with ``C_r = officials_per_household H_r (1 + S_r)``
    (its ``np.exp`` stays in NumPy, whose SVML rounding compiled code does not share), and the bribe prices
    ``b_r = bribe_base_usd (1 + bribe_activity_slope a_r)`` (the formula of :func:`bribe_prices`)."""
    prov = Provinces(*prov)
    p = EnforcementPars(*p)
    a = prov.traders
    a[:] = 0.0
    for b in range(len(blocks)):
        a[blocks[b, 2]] += counts[b]
    for r in range(len(a)):
        prov.bribe_price[r] = bribe_price(p.bribe_base_usd, p.bribe_activity_slope,
                                          a[r] / fmax(prov.households[r], 1.0))
        officials = p.officials_per_household * prov.households[r] * (1.0 + p.border_guard_strength * prov.border[r])
        prov.exponent[r] = -p.inspection_k * officials / fmax(a[r], 1e-12)


@njit(cache=True, error_model="numpy")
def _settle(inspect, t_idx, blocks, hh, prov, cases, p, t) -> None:
    """The week's enforcement after the draws: inspections and cases (if ``inspect``), kin help, bribes, fines
    and detention, then the officials' spending; the sums by province go to the tally ``t``.

    ``t_idx``: the free traders in household order (:func:`_serve_and_list`); ``cases.t_reg`` is filled with their
    provinces. Counts and sums by province run in household order, payers and the punished in the order of the
    NumPy formulas' ``np.bincount`` sums (tests/modules/test_enforcement.py keeps them), so every sum is the same to
    the bit.
    """
    hh = Folk(*hh)
    prov = Provinces(*prov)
    cases = Cases(*cases)
    p = EnforcementPars(*p)
    for r in range(len(t)):
        _zero(t[r])
    for j in range(len(t_idx)):
        cases.t_reg[j] = hh.region[t_idx[j]]
    if inspect:
        n_cases = _find_cases(t_idx, hh, prov, cases, p, t)
        _kin_help(n_cases, hh, cases, p, t)
        _pay_bribes(n_cases, hh, prov, cases, p, t)
        _punish(n_cases, hh, prov, cases, p, t)
    _officials_spend(t_idx, hh, prov, cases, p, t)
    for b in range(len(blocks)):
        held = 0
        for i in range(*span(blocks, b)):
            held += hh.detained[i] != 0
        t[blocks[b, 2]].detained += held


@njit(cache=True, error_model="numpy")
def _find_cases(t_idx, hh, prov, cases, p, t):
    """Inspections of the listed traders and the infractions found (returns their number): trader i of province
    r is inspected if ``u_i < p_r = 1 - exp(x_r)`` (1 where nobody trades; float32), found in breach if
    ``u_i < p_r infraction_rate``; the case is political if ``w = u_i / (p_r infraction_rate) < q_i``, else it
    keeps ``(w - q_i) / (1 - q_i)`` and is paid by the household's own money ``m_i = cash + fx`` if
    ``m_i >= b_r`` (``_CASE_OWN``), or is in need of ``b_r - m_i`` (``_CASE_NEED``)."""
    n_reg = len(prov.traders)
    risk = np.empty(n_reg, dtype=np.float32)
    for r in range(n_reg):
        risk[r] = np.float32(1.0 - prov.escape[r]) if prov.traders[r] > 0 else np.float32(1.0)
    ir = np.float32(p.infraction_rate)
    u, price = hh.u, prov.bribe_price
    n_cases = 0
    for j in range(len(t_idx)):
        i, r = t_idx[j], cases.t_reg[j]
        if u[i] < risk[r]:
            t[r].inspections += 1.0
            pf = risk[r] * ir  # float32, as NumPy computes it
            if u[i] < pf:
                w = u[i] / pf  # float32, uniform on [0, 1) given an infraction found
                q = p.political_share
                if hh.kin_abroad[i] > 0:
                    q = fmin(q * p.kin_abroad_political_multiplier, 1.0)
                t[r].infractions_found += 1.0
                cases.case_id[n_cases] = i
                if w < q:
                    cases.case_kind[n_cases] = _CASE_POLITICAL
                    t[r].political_cases += 1.0
                else:
                    cases.case_w[n_cases] = (w - q) / fmax(1.0 - q, 1e-12)  # float64: uniform, given not political
                    t[r].cases += 1.0
                    money = hh.cash[i] + hh.fx[i]
                    if money >= price[r]:
                        cases.case_kind[n_cases] = _CASE_OWN
                    else:
                        cases.case_kind[n_cases] = _CASE_NEED
                        cases.case_need[n_cases] = price[r] - money
                n_cases += 1
    return n_cases


@njit(cache=True, error_model="numpy")
def _kin_help(n_cases, hh, cases, p, t) -> None:
    """Clans that can cover all their members' needs this week pay them: each case in need (``_CASE_NEED``)
    of such a clan becomes ``_CASE_RESCUED`` and is given its share; ``t[r].kin_help_usd`` adds what it got.

    Per clan ``c`` (rows of ``clan_sums``): ``needs`` summed over its cases in household order, ``have`` the
    money ``cash + fx`` of its free members without a case (the donors) in slot order, ``got`` what they gave:
    the order of the ``np.bincount`` sums of the NumPy formulas. A clan helps if ``h * have >= needs``; each donor
    j gives ``m_j * needs / have`` (at most h of its money). ``mark`` and ``clan_state`` are left zero.
    """
    clan, slots, mark, needy, clan_state = hh.clan, cases.slots, cases.mark, cases.needy, cases.clan_state
    case_id, case_kind, case_need = cases.case_id, cases.case_kind, cases.case_need
    cash, fx, detained = hh.cash, hh.fx, hh.detained
    needs, have, got = cases.clan_sums[0], cases.clan_sums[1], cases.clan_sums[2]
    n_needy = 0
    for j in range(n_cases):
        if case_kind[j] == _CASE_NEED:
            c = clan[case_id[j]]
            if clan_state[c] == 0:
                clan_state[c] = 1
                needy[n_needy] = c
                n_needy += 1
                needs[c] = 0.0
            needs[c] += case_need[j]
    if n_needy == 0:
        return
    for j in range(n_cases):  # no household with a case gives
        mark[case_id[j]] = True
    n, width = len(clan), slots.shape[0]
    for jc in range(n_needy):
        c = needy[jc]
        h = 0.0
        for s in range(width):
            i = slots[s, c]
            if i < n and not mark[i] and detained[i] == 0:
                h += cash[i] + fx[i]
        have[c] = h
        g = 0.0
        if needs[c] > 0 and p.clan_help_share * h >= needs[c]:  # ok: each donor gives in proportion to its money
            clan_state[c] = 2
            for s in range(width):
                i = slots[s, c]
                if i < n and not mark[i] and detained[i] == 0:
                    # give = money * needs / max(have, 1e-300): at most clan_help_share of its money
                    g += pay_household(i, (cash[i] + fx[i]) * needs[c] / fmax(h, 1e-300), cash, fx)
        got[c] = g
    # the money passes through the rescued household, which then pays the whole bribe
    for j in range(n_cases):
        i = case_id[j]
        mark[i] = False
        if case_kind[j] == _CASE_NEED and clan_state[clan[i]] == 2:
            c = clan[i]
            received = got[c] * case_need[j] / fmax(needs[c], 1e-300)
            cash[i] += received
            t[hh.region[i]].kin_help_usd += received
            case_kind[j] = _CASE_RESCUED
    for jc in range(n_needy):
        clan_state[needy[jc]] = 0


@njit(cache=True, error_model="numpy")
def _pay_bribes(n_cases, hh, prov, cases, p, t) -> None:
    """Bribes b_r: those who pay alone, then the rescued (who pay all they hold, kin the rest); split
    ``bribe_org_share`` to the organisations (``bribe_kpa_share`` of it to the KPA, the rest to the Cabinet), the
    rest to the officials' personal funds."""
    for kind in (_CASE_OWN, _CASE_RESCUED):
        for j in range(n_cases):
            if cases.case_kind[j] == kind:
                i = cases.case_id[j]
                r = hh.region[i]
                t[r].bribes_usd += pay_household(i, prov.bribe_price[r], hh.cash, hh.fx)
                t[r].payers += 1.0
    for r in range(len(prov.officials)):
        org = t[r].bribes_usd * p.bribe_org_share
        t[r].kpa_share = org * p.bribe_kpa_share
        t[r].cabinet_share = org * (1.0 - p.bribe_kpa_share)
        prov.officials[r] += t[r].bribes_usd * (1.0 - p.bribe_org_share)


@njit(cache=True, error_model="numpy")
def _punish(n_cases, hh, prov, cases, p, t) -> None:
    """A fine ``min(fine_multiple M_r b_r, m_i)`` for each case nobody paid, confiscation of
    ``political_confiscation_share`` of a political case's money, then detention: ``M_r detention_weeks`` with
    probability ``1 - (1 - detention_prob) / (1 + S_r)`` for a case nobody paid, ``political_detention_weeks`` for a
    political case (``S_r``, ``M_r``: the sealed border's strength and penalty in a border province)."""
    case_id, case_kind = cases.case_id, cases.case_kind
    cash, fx, region, border = hh.cash, hh.fx, hh.region, prov.border
    for j in range(n_cases):
        if case_kind[j] == _CASE_NEED:
            i = case_id[j]
            r = region[i]
            m_r = 1.0 + (p.border_penalty_multiplier - 1.0) * border[r]
            t[r].fines_usd += pay_household(i, p.fine_multiple * (prov.bribe_price[r] * m_r), cash, fx)
    for j in range(n_cases):
        if case_kind[j] == _CASE_POLITICAL:
            i = case_id[j]
            t[region[i]].fines_usd += pay_household(i, p.political_confiscation_share * (cash[i] + fx[i]), cash, fx)
    for j in range(n_cases):
        i = case_id[j]
        r = region[i]
        if case_kind[j] == _CASE_NEED:
            s_r = p.border_guard_strength * border[r]
            p_detain = 1.0 - (1.0 - p.detention_prob) / (1.0 + s_r) if s_r > 0 else p.detention_prob
            if cases.case_w[j] < p_detain:
                m_r = 1.0 + (p.border_penalty_multiplier - 1.0) * border[r]
                hh.detained[i] = np.int16(np.rint(p.detention_weeks * m_r))
                t[r].detentions += 1.0
        elif case_kind[j] == _CASE_POLITICAL:
            hh.detained[i] = p.political_detention_weeks
            t[r].detentions += 1.0


@njit(cache=True, error_model="numpy")
def _officials_spend(t_idx, hh, prov, cases, p, t) -> None:
    """Officials spend ``officials_spending_rate`` of their funds (``t[r].officials_spending_usd``): equal shares to
    the province's free traders, or to all its free households where nobody trades (nothing where nobody is free)."""
    officials, a, region, detained = prov.officials, prov.traders, hh.region, hh.detained
    n_reg = len(officials)
    spend = np.empty(n_reg)
    for r in range(n_reg):
        spend[r] = officials[r] * p.officials_spending_rate
    if not psum(spend) > 0:
        return  # the tally keeps 0
    per = np.empty(n_reg)
    per32 = np.empty(n_reg, dtype=np.float32)
    for r in range(n_reg):
        per[r] = spend[r] / fmax(a[r], 1.0)
        per32[r] = per[r]
    _pay_listed(t_idx, cases.t_reg, per, per32, hh.cash, hh.income)
    idle = np.zeros(n_reg, dtype=np.bool_)
    for r in range(n_reg):
        idle[r] = a[r] == 0 and spend[r] > 0
    if idle.any():
        n_free = np.zeros(n_reg, dtype=np.int64)
        for i in range(len(region)):
            if idle[region[i]] and detained[i] == 0:
                n_free[region[i]] += 1
        for r in range(n_reg):
            if idle[r] and n_free[r] == 0:
                spend[r] = 0.0
        for i in range(len(region)):
            r = region[i]
            if idle[r] and detained[i] == 0:
                amount = spend[r] / max(n_free[r], 1)
                hh.cash[i] += amount
                hh.income[i] += np.float32(amount)
    for r in range(n_reg):
        t[r].officials_spending_usd = spend[r]
        officials[r] -= spend[r]


@njit(cache=True, inline="always")
def _zero(row) -> None:
    """Zero one province's tally."""
    row.inspections = row.infractions_found = row.political_cases = row.bribes_usd = row.kin_help_usd = 0.0
    row.fines_usd = row.detentions = row.officials_spending_usd = row.detained = 0.0
    row.payers = row.cases = row.kpa_share = row.cabinet_share = 0.0
