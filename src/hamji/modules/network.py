"""The trade network: ties that strengthen with trade, form by referral and proximity, and decay.

"This has led to the monetization of relationships - recurring commercial activity has fostered the
development of a nascent network of suppliers, distributors, and customers. The HamJi network, in
turn, has facilitated the emergence of resilient and agile markets in Hamgyong Province" (Park
2009). And: "Through these expanded transportation routes, development-focused NGOs and trade
promotion agencies can disseminate improved techniques and practices in the North Korean side of
HamJi as lessons learned by Chinese can be transferred to their North Korean partners."

Two tie sets, stored as edge arrays with spare capacity (:class:`Ties`): merchant - partner ties
(``a`` = merchant, ``b`` = household) and ties among North Korean facilitators (producer,
acquirer, shipper, seller, partner; ``a``, ``b`` = households in the same province). Each week a
North Korean tie carries trade while both its ends earn; the wholesale module credits merchant ties with the partner's orders
each week. Every
``network_update_weeks`` weeks, with ``U`` = the interval and ``v`` = mean weekly volume (for a tie
among North Koreans: the smaller of its ends' smoothed market incomes, if at least the loss line):

* strength ``s <- 1 - (1 - s) (1 - gain v / (v + half)) ** U`` if the tie carried trade, else
  ``s <- s (1 - decay) ** U``; ties below ``network_tie_min`` are dropped;
* know-how flows from the better to the worse informed end: ``k <- k + (1 - (1 - rate s) ** U) gap``
  (merchants' know-how to partners; between North Koreans both ways);
* exits: a participant leaves with probability ``1 - (1 - p) ** U``,
  ``p = (exit_base + exit_loss * loss) / (1 + tie_exit_effect * S)`` where ``loss`` = smoothed
  market income below the loss line or no money left, and S = summed tie strength;
* entries (Bass diffusion): a free household without a role enters with
  ``p = (innovation + imitation * participation share) * access * (1 + market_effect * markets per
  10,000 households) * min(1, money / entry capital)``, access = ``exp(-border km / access km)``;
  its role is drawn from base weights times relative profitability of the role in the province
  ((mean income of the role + loss line) / (mean income of all participants + loss line)); the
  partner weight falls with distance (``network_partner_km``) and scales with money up to the
  partner capital;
* tie formation: a participant short of ties forms one with probability ``tie_form * access``, to a
  participant of its province chosen with weight ``1 + referral_weight * ties`` (referral); a
  partner short of merchant ties links to a merchant across its crossing, weight capital x quality
  x (1 + referral_weight * partners), with probability ``tie_form * partner access *
  border_trips_open`` (a closed border stops the trips that make new merchant ties; idle ones decay).

Initial roles: a share of households from ``network_participation_floor`` far away to
``network_participation_border`` at the border (times access), richer households first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit, prange

from hamji.kernels import compact_blocks, fmax, fmin, npow, psum, reduce_blocks, rowsum, span
from hamji.module import Metric, Module, State
from hamji.people import ROLE_ACQUIRER, ROLE_NONE, ROLE_PARTNER, ROLE_PRODUCER, ROLE_SELLER, ROLE_SHIPPER, ROLES
from hamji.ties import Ties, new_strength
from hamji.trade import trade_state

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

MARKET_ROLES = (ROLE_SELLER, ROLE_PRODUCER, ROLE_ACQUIRER, ROLE_SHIPPER, ROLE_PARTNER)


# ------------------------------------------------------------------------------------------------
# Records the kernels read
# ------------------------------------------------------------------------------------------------
class NetworkPars(NamedTuple):
    """The parameters the network's kernels read, in the kernels' dtypes, with what they give by province
    (``parameters_changed``; ``U`` = network_update_weeks)."""

    update_weeks: float  # U (exit chances)
    update_weeks_f32: np.float32  # U in float32 (strengths, know-how)
    income_smoothing: np.float32  # network_income_smoothing
    loss_income_usd: np.float32  # the loss line, against the float32 smoothed incomes
    loss_income_usd_f64: float  # the loss line in float64 (the roles' attractiveness)
    tie_gain: np.float32  # network_tie_gain
    tie_half_usd: np.float32  # network_tie_half_usd
    tie_kept: np.float32  # (1 - network_tie_decay) ** U (Python's power on a scalar)
    tie_min: np.float32  # network_tie_min
    knowhow_rate: np.float32  # network_knowhow_rate
    knowhow_threshold: np.float32  # network_knowhow_threshold
    exit_capital_usd: float  # network_exit_capital_usd
    exit_base: float  # network_exit_base
    exit_loss: float  # network_exit_loss
    tie_exit_effect: np.float32  # network_tie_exit_effect
    entry_innovation: float  # network_entry_innovation
    entry_imitation: float  # network_entry_imitation
    market_access_effect: float  # network_market_access_effect
    entry_capital_usd: float  # max(network_entry_capital_usd, 1e-9)
    partner_capital_usd: float  # max(network_partner_capital_usd, 1e-9)
    role_weights: np.ndarray  # base weights of the roles an entrant takes (network_mix_*; 0 for none)
    access: np.ndarray  # exp(-border km / network_access_km) by province (0 outside the DPRK)
    partner_access: np.ndarray  # exp(-border km / network_partner_km)
    form_nk: np.ndarray  # 1 - (1 - min(tie_form access, 1)) ** U: a tie among North Koreans in U weeks
    form_mp: np.ndarray  # 1 - (1 - min(tie_form partner access border_trips_open, 1)) ** U: a merchant tie

    @classmethod
    def of(cls, pars, border_km: np.ndarray) -> NetworkPars:
        """The record of parameters ``pars`` for provinces ``border_km`` from the border (NumPy's exp and power on
        arrays, between kernels: the project's rule for powers)."""
        f32, weeks = np.float32, pars.network_update_weeks
        base = np.zeros(len(ROLES))
        base[ROLE_SELLER], base[ROLE_PRODUCER] = pars.network_mix_seller, pars.network_mix_producer
        base[ROLE_ACQUIRER], base[ROLE_SHIPPER] = pars.network_mix_acquirer, pars.network_mix_shipper
        base[ROLE_PARTNER] = pars.network_mix_partner
        access = np.exp(-border_km / pars.network_access_km)
        partner_access = np.exp(-border_km / pars.network_partner_km)
        form_nk = 1.0 - (1.0 - np.minimum(pars.network_tie_form * access, 1.0)) ** weeks
        # a new merchant tie needs a trip across the border (border_trips_open: 1 unless the border is closed)
        form_mp = 1.0 - (1.0 - np.minimum(pars.network_tie_form * partner_access * pars.border_trips_open, 1.0)) ** weeks
        return cls(float(weeks), f32(weeks), f32(pars.network_income_smoothing), f32(pars.network_loss_income_usd),
                   float(pars.network_loss_income_usd), f32(pars.network_tie_gain), f32(pars.network_tie_half_usd),
                   f32((1.0 - pars.network_tie_decay) ** weeks), f32(pars.network_tie_min), f32(pars.network_knowhow_rate),
                   f32(pars.network_knowhow_threshold), float(pars.network_exit_capital_usd), float(pars.network_exit_base),
                   float(pars.network_exit_loss), f32(pars.network_tie_exit_effect), float(pars.network_entry_innovation),
                   float(pars.network_entry_imitation), float(pars.network_market_access_effect),
                   float(max(pars.network_entry_capital_usd, 1e-9)), float(max(pars.network_partner_capital_usd, 1e-9)),
                   base, access, partner_access, form_nk, form_mp)


class Households(NamedTuple):
    """The households' states the network's kernels read and write (arrays of the households, never reallocated)."""

    role: np.ndarray  # market role (int8)
    region: np.ndarray  # province (int8)
    detained: np.ndarray
    cash: np.ndarray  # won
    fx: np.ndarray  # foreign currency
    profit_ema: np.ndarray  # smoothed net market income (float32)
    ties_strength: np.ndarray  # S: summed tie strength (float32)


class RoleSums(NamedTuple):
    """The stayers' smoothed market incomes summed and counted by role: by household block, then by province."""

    inc_b: np.ndarray  # [block, role]
    cnt_b: np.ndarray
    inc: np.ndarray  # [province, role]
    cnt: np.ndarray


class Entry(NamedTuple):
    """Province-level inputs and outputs of the entries."""

    households: np.ndarray  # households of each province, floored at 1
    density_den: np.ndarray  # ten thousands of real households of each province, floored at 1e-9
    stay: np.ndarray  # q: the chance of not entering in a week
    attract: np.ndarray  # [province, role] the roles' relative profitability


class TieCounts(NamedTuple):
    """Live ties among North Koreans, kept up to date as ties are dropped and added."""

    deg: np.ndarray  # of each household, at either end (int32)
    by_region: np.ndarray  # by the province of end a


# ------------------------------------------------------------------------------------------------
# The module
# ------------------------------------------------------------------------------------------------
class Network(Module):
    """Ties (merchant-partner and among NK facilitators), know-how spread, and entry into and exit from market roles."""

    name = "network"
    passage = ("Repeated trades strengthen ties, ties form by referral and proximity, idle ties decay; households enter and"
               " leave market roles.\n'... the monetization of relationships - recurring commercial activity has fostered the"
               " development of a nascent network of suppliers, distributors, and customers' (Park 2009).")
    metrics = (
        Metric("participants_share", "share of households", "Households in a market role (seller, producer, acquirer,"
               " shipper or wholesale partner). Group values from households.", agg="mean", annual="mean"),
        Metric("ties", "ties", "Active trade ties: among North Korean facilitators (counted in the province of one end)"
               " plus merchant-partner ties (counted in the partner's province), times the scale.",
               annual="last", scaled=True),
        Metric("knowhow_nk_share", "share of households", "North Korean households whose trading know-how is at least"
               " network_knowhow_threshold. Group values from households.", agg="mean", annual="mean"),
    )

    states = (
        State("households", "profit_ema", "float32", 0.0, "smoothed net market income (US$ a week)"),
        State("merchants", "partners", "int16", 0, "live ties with partners"),
        State("merchants", "quality", "float32", 1.0, "quality of the merchant's goods (a tie's weight)"),
    )

    def setup(self, sim: Sim) -> None:
        ts = trade_state(sim)
        hh = sim.people.households
        w = sim.world
        r = w.n_regions
        self.hh = Households(hh.role, hh.region, hh.detained, hh.cash, hh.fx, hh.profit_ema, hh.ties_strength)
        self.households = np.bincount(hh.region, minlength=r).astype(float)
        self._part_r = np.zeros((r, 1))
        nb = len(sim.blocks)
        self._part_b = np.zeros((nb, 1))
        self._counts = np.zeros((nb, 2), dtype=np.int64)
        # lists of households made by the monthly passes (room for every household)
        self._buf = np.empty(hh.n, dtype=np.int32)
        self._buf2 = np.empty(hh.n, dtype=np.int32)
        # the stayers' sums by block and province, and the entries' province-level inputs and work space (with the
        # floors of the entry chance's denominators)
        self.sums = RoleSums(np.zeros((nb, len(ROLES))), np.zeros((nb, len(ROLES)), dtype=np.int64),
                             np.zeros((r, len(ROLES))), np.zeros((r, len(ROLES)), dtype=np.int64))
        self.entry = Entry(np.maximum(self.households, 1.0), np.maximum(self.households * sim.scale / 1e4, 1e-9),
                           np.zeros(r), np.ones((r, len(ROLES))))
        self._part_month, self._knowhow_r, self._ties_r = np.zeros(r), np.zeros(r), np.zeros(r)
        self._g = np.zeros(2 * hh.n)  # sums at the ends of ties (_knowhow_flow, _strength_sums)
        self._d = np.empty(0, dtype=np.float32)  # one per tie among North Koreans (_knowhow_flow)
        self.border_km = np.where(w.country == 0, w.border_km, np.inf)
        self.p = NetworkPars.of(sim.pars, self.border_km)  # the initial roles need it (parameters_changed: again)
        b = sim.borders
        self.china_of = np.full(r, -1, dtype=np.int64)
        self.china_of[w.dprk] = b.china_region[b.nearest[w.dprk]]
        cap = max(64, int(hh.n * 0.5))
        self.nk = Ties(cap)
        self.mp = Ties(max(64, hh.n // 20))
        ts.nk, ts.mp = self.nk, self.mp
        self._initial_roles(sim)
        self._form(sim, sim.streams.get("network.setup.tie_form"), sim.streams.get("network.setup.tie_pick"), initial=True)
        # live ties among North Koreans of each household and by province (of end a), kept up to date as ties are
        # dropped and added rather than counted over all ties each month
        nk = self.nk
        self._deg = _degrees(nk.a[:nk.hw], nk.b[:nk.hw], nk.s[:nk.hw], hh.n)
        self._ties_nk = np.zeros(r)
        _count_live_by_region(hh.region, nk.a[:nk.hw], nk.s[:nk.hw], self._ties_nk)
        self.kept = TieCounts(self._deg, self._ties_nk)
        self._refresh(sim)

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The kernels' parameter record (:class:`NetworkPars`: access by province, chances of forming ties...)."""
        self.p = NetworkPars.of(sim.pars, self.border_km)

    # -- set-up ----------------------------------------------------------------------------------
    def _initial_roles(self, sim: Sim) -> None:
        """A share of households starts in a market role, higher near the border, richer households first."""
        pars = sim.pars
        hh = sim.people.households
        r = sim.world.n_regions
        lo, hi = pars.network_participation_floor, pars.network_participation_border
        p_r = lo + (hi - lo) * self.p.access
        liquid = hh.cash + hh.fx
        cf = np.minimum(1.0, liquid / max(pars.network_entry_capital_usd, 1e-9))
        mean_cf = np.bincount(hh.region, weights=cf, minlength=r) / np.maximum(self.households, 1.0)
        prob = np.minimum(1.0, p_r[hh.region] * cf / np.maximum(mean_cf[hh.region], 1e-9))
        u = sim.streams.get("network.setup.roles").random(hh.n)
        idx = np.flatnonzero(u < prob)
        v = sim.streams.get("network.setup.role_choice").random(hh.n)
        self._choose_roles(sim, idx, v, np.ones((r, len(ROLES))))

    def _choose_roles(self, sim: Sim, idx: np.ndarray, u: np.ndarray, attract: np.ndarray) -> None:
        """Roles of entrants ``idx`` into ``households.role`` (``u``: a draw per household): base weights x
        attractiveness; partner needs access and capital (:func:`_pick_roles`)."""
        _pick_roles(idx, u, attract, tuple(self.hh), tuple(self.p))

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        pars = sim.pars
        hh = sim.people.households
        _smooth_and_count(sim.blocks, hh.role, hh.market_income, hh.profit_ema, self.p.income_smoothing, self._part_b)
        reduce_blocks(self._part_b, sim.blocks, self._part_r)
        part_r = self._part_r[:, 0]
        weeks = pars.network_update_weeks
        if pars.network_on and sim.week % weeks == weeks - 1:
            self._update(sim, weeks)
            part_r = self._part_month  # roles changed (counted by _refresh)
        res = sim.results
        res.record_ratio("participants_share", part_r, self.households)
        res.record("ties", self._ties_r)
        res.record_ratio("knowhow_nk_share", self._knowhow_r, self.households)

    def _update(self, sim: Sim, weeks: int) -> None:
        """Monthly: tie strength, know-how, exits, entries, new ties."""
        pars = sim.pars
        hh = sim.people.households
        mer = sim.people.merchants
        nk = self.nk
        # a tie among North Koreans carries the smaller of its ends' smoothed market incomes (as Ties.update)
        _update_nk_ties(nk.a[:nk.hw], nk.b[:nk.hw], nk.s[:nk.hw], nk.vol[:nk.hw], tuple(self.hh), tuple(self.p), tuple(self.kept))
        self.mp.update(weeks, pars.network_tie_gain, pars.network_tie_half_mp_usd, pars.network_tie_decay, pars.network_tie_min)
        self._knowhow(sim, weeks)
        self._roles(sim, weeks)
        trade_state(sim).invalidate()
        added = self._form(sim, sim.rng("network.tie_form"), sim.rng("network.tie_pick"), initial=False, deg=self._deg)
        for src, dst in added:
            _add_new_ties(src, dst, hh.region, self._deg, self._ties_nk)
        self._refresh(sim)
        trade_state(sim).invalidate()
        _partner_counts(self.mp.a[:self.mp.hw], self.mp.s[:self.mp.hw], mer.partners)

    def _knowhow(self, sim: Sim, weeks: int) -> None:
        """Know-how flows along ties from the better informed end (merchants to partners; both ways in the North)."""
        pars = sim.pars
        hh = sim.people.households
        mer = sim.people.merchants
        rate = pars.network_knowhow_rate
        if rate <= 0:
            return
        nk, mp = self.nk, self.mp
        # merchants have know-how if wholesale gave it (its initial value is wholesale's parameter: not declared here)
        mhw = mp.hw if "knowhow" in mer.states else 0
        mer_k = mer.knowhow if mhw else np.zeros(0, dtype=np.float32)
        if len(self._d) < nk.hw:  # grown as the tie arrays are (to their length)
            self._d = np.empty(len(nk.s), dtype=np.float32)
        _knowhow_flow(hh.knowhow, nk.a[:nk.hw], nk.b[:nk.hw], nk.s[:nk.hw], mp.a[:mhw], mp.b[:mhw], mp.s[:mhw], mer_k,
                      self.p.update_weeks_f32, self.p.knowhow_rate, self._d, self._g)

    def _roles(self, sim: Sim, weeks: int) -> None:
        """Exits by losses and ties, entries by diffusion, access, markets and capital."""
        hh = sim.people.households
        n = hh.n
        p = self.p
        # exits
        u = sim.rng("network.exit").random(n, dtype=np.float32)
        _exits(sim.blocks, tuple(self.hh), u, tuple(p), tuple(self.sums))
        # entries
        _entry_chance(sim.blocks, trade_state(sim).markets, tuple(p), tuple(self.sums), tuple(self.entry))
        p_r = 1.0 - self.entry.stay ** weeks  # NumPy's power, between kernels (the rule for powers)
        v = sim.rng("network.entry").random(n, dtype=np.float32)
        enter = _entrants(sim.blocks, hh.role, hh.detained, hh.cash, hh.fx, v, p_r, p.entry_capital_usd, self._buf,
                          self._counts[:, 0])
        if len(enter):
            # roles drawn with the relative profitability of each role in each province
            c = sim.rng("network.role_choice").random(n, dtype=np.float32)
            _enter(enter, c, tuple(self.hh), tuple(p), tuple(self.sums), tuple(self.entry))

    def _form(self, sim: Sim, rng_form: np.random.Generator, rng_pick: np.random.Generator,
              initial: bool, deg: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """New ties: participants short of ties link to others of their province; partners to merchants.

        ``deg``: each household's live ties among North Koreans (``self._deg``), counted here if not given; it is
        not changed. Returns the new ties among North Koreans, (ends a, ends b) for each round."""
        pars = sim.pars
        hh = sim.people.households
        mer = sim.people.merchants
        n = hh.n
        r = sim.world.n_regions
        u = rng_form.random(n, dtype=np.float32)
        pick = rng_pick.random(n, dtype=np.float32)
        part, partners = _members(sim.blocks, hh.role, hh.detained, self._buf, self._buf2, self._counts)
        nk = self.nk
        if deg is None:
            deg = _degrees(nk.a[:nk.hw], nk.b[:nk.hw], nk.s[:nk.hw], n)
        # chance of forming a tie by province (the same as per household: elementwise)
        p_nk, p_mp = (np.ones(r), np.ones(r)) if initial else (self.p.form_nk, self.p.form_mp)
        referral = float(pars.network_referral_weight)
        added = []
        if len(part) and pars.network_ties_target_nk > 0:
            formers = _formers(part, deg, pars.network_ties_target_nk, u, hh.region, p_nk)
            rounds = pars.network_ties_target_nk if initial else 1
            for k in range(rounds):  # at set-up, build each participant's ties in a few rounds
                src, dst = _nk_picks(hh.region, part, formers, deg, referral,
                                     pick if k == 0 else rng_pick.random(n, dtype=np.float32), r)
                nk.add(src, dst, pars.network_tie_initial)
                added.append((src, dst))  # (the rounds all use the degrees from before)
        mp = self.mp
        if len(partners) and mer.n and pars.network_ties_target_mp > 0:
            formers, area, wm = _merchant_formers(partners, mp.a[:mp.hw], mp.b[:mp.hw], mp.s[:mp.hw],
                                                  pars.network_ties_target_mp, u, hh.region, p_mp, self.china_of,
                                                  mer.capital, mer.quality, referral)
            rounds = pars.network_ties_target_mp if initial else 1
            for k in range(rounds):
                src, dst = _merchant_picks(formers, area, pick if k == 0 else rng_pick.random(n, dtype=np.float32),
                                           mer.region, wm)
                mp.add(src, dst, pars.network_tie_initial)
        return added

    def _refresh(self, sim: Sim) -> None:
        """Cached counts for the metrics: participants, ties and know-how by province; summed strengths."""
        hh = sim.people.households
        nk, mp = self.nk, self.mp
        _refresh_counts(sim.blocks, hh.role, hh.knowhow, self.p.knowhow_threshold, hh.region,
                        mp.b[:mp.hw], mp.s[:mp.hw], self._ties_nk, self._part_month, self._knowhow_r, self._ties_r)
        _strength_sums(nk.a[:nk.hw], nk.b[:nk.hw], nk.s[:nk.hw], mp.b[:mp.hw], mp.s[:mp.hw], hh.ties_strength, self._g)


# ------------------------------------------------------------------------------------------------
# Compiled kernels
# ------------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def _smooth_and_count(blocks, role, market_income, profit_ema, smoothing, part_b) -> None:
    """Smooth each household's market income (float32, as ``ema += s * (x - ema)``); participants by block
    (integers, exact in any order)."""
    for b in prange(len(blocks)):
        count = 0
        for i in range(*span(blocks, b)):
            profit_ema[i] += (market_income[i] - profit_ema[i]) * smoothing
            count += role[i] != ROLE_NONE
        part_b[b, 0] = count


@njit(cache=True, parallel=True)
def _update_nk_ties(a, b, s, vol, hh, p, kept) -> None:
    """New strengths ``s`` of the ties among North Koreans (ends ``a``, ``b``; ``vol`` work space) after ``U`` weeks
    (:func:`hamji.ties.new_strength`, ``p``: :class:`NetworkPars`); the ties dropped leave ``kept``
    (:class:`TieCounts`: live ties of each household and by the province of end a).

    A tie carried ``U`` x the smaller of its ends' smoothed market incomes if that is at least the loss line,
    else nothing (float32; a NaN end gives 0, as with np.minimum). The volumes are gathered in a pass of their
    own (calls to pow between scattered reads slow them down), then reset. Both passes are element-wise over the
    ties, in parallel; a dropped tie is marked in ``vol`` (1, else 0) and the counts are updated after, in tie
    order (whole numbers: exact in any order).
    """
    hh = Households(*hh)
    p = NetworkPars(*p)
    kept = TieCounts(*kept)
    profit_ema, region, deg, ties_r = hh.profit_ema, hh.region, kept.deg, kept.by_region
    w, line = p.update_weeks_f32, p.loss_income_usd
    gain, half, decayed, s_min = p.tie_gain, p.tie_half_usd, p.tie_kept, p.tie_min
    for i in prange(len(s)):
        pa, pb = profit_ema[a[i]], profit_ema[b[i]]
        vol[i] = (pa if pa < pb else pb) * w if pa >= line and pb >= line else np.float32(0.0)
    for i in prange(len(s)):
        was_live = s[i] > 0
        s[i] = new_strength(s[i], vol[i], w, gain, half, decayed, s_min)
        vol[i] = np.float32(1.0) if was_live and not s[i] > 0 else np.float32(0.0)
    for i in range(len(s)):
        if vol[i] != 0:
            vol[i] = 0.0
            deg[a[i]] -= 1
            deg[b[i]] -= 1
            ties_r[region[a[i]]] -= 1.0


@njit(cache=True)
def _scatter_ends(a, b, values, n, g) -> None:
    """``g[a[i]] += values[i]`` and ``g[n + b[i]] += values[i]`` for every tie, in tie order (as np.bincount adds).

    One thread: the writes go to random places in 16 bytes per household, so the pass waits on memory; cutting
    the households in ranges, one per thread (each reading every tie), was no faster with two threads.
    """
    for i in range(len(values)):
        g[a[i]] += values[i]
        g[n + b[i]] += values[i]


#: ties per chunk of the parallel strength factors (each chunk keeps its own table of powers)
FACTOR_CHUNK = 1 << 16


@njit(cache=True, parallel=True)
def _strength_factors(s, w, rate, f) -> None:
    """``f = 1 - (1 - rate s) ** w`` for each tie (float32), remembered by strength in a table of 4096.

    Ties share few strengths (most are at 1; idle ones at ``s0 (1 - decay) ** (k w)``), so most powers are
    looked up; a hit needs the same strength, so the value is the same. Chunks of ties in parallel, each with a
    table of its own.
    """
    one = np.float32(1.0)
    bits = s.view(np.uint32)
    for c in prange((len(s) + FACTOR_CHUNK - 1) // FACTOR_CHUNK):
        keys, vals = np.full(4096, np.nan, dtype=np.float32), np.zeros(4096, dtype=np.float32)
        for i in range(c * FACTOR_CHUNK, min((c + 1) * FACTOR_CHUNK, len(s))):
            h = ((np.int64(bits[i]) * 2654435761) & 0xFFFFFFFF) >> 20  # 12 bits of a multiplicative hash
            if keys[h] != s[i]:  # (never equal to NaN)
                keys[h], vals[h] = s[i], one - npow(one - rate * s[i], w)
            f[i] = vals[h]


@njit(cache=True, parallel=True)
def _gaps(k, nk_a, nk_b, d) -> None:
    """``d *= k[b] - k[a]`` for each tie (the know-how gap, float32), in parallel."""
    for i in prange(len(d)):
        d[i] *= k[nk_b[i]] - k[nk_a[i]]


@njit(cache=True)
def _gains(k, nk_a, nk_b, nk_s, d, w, rate, g) -> None:
    """Every household's gains along the ties among North Koreans, in tie order (see :func:`_knowhow_flow`); one
    thread, as :func:`_scatter_ends`."""
    one, zero = np.float32(1.0), np.float32(0.0)
    n = len(k)
    for i in range(len(d)):
        x = d[i]
        if np.isfinite(x):
            if x != 0:  # adding 0 changes no sum (they start at +0 and only grow): skip the scattered write
                g[nk_a[i] if x > 0 else n + nk_b[i]] += abs(x)
        else:
            f, gap = one - npow(one - rate * nk_s[i], w), k[nk_b[i]] - k[nk_a[i]]
            g[nk_a[i]] += f * fmax(gap, zero)
            g[n + nk_b[i]] += f * fmax(-gap, zero)


@njit(cache=True)
def _merchant_gains(k, mp_m, mp_h, mp_s, mer_k, w, rate, g) -> None:
    """Partners' gains from their merchants, added after the ties among North Koreans (see :func:`_add_ends`)."""
    one, zero = np.float32(1.0), np.float32(0.0)
    n = len(k)
    _add_ends(g, mp_h)
    for i in range(len(mp_s)):
        f = one - npow(one - rate * mp_s[i], w)
        g[n + mp_h[i]] += f * fmax(mer_k[mp_m[i]] - k[mp_h[i]], zero)


@njit(cache=True, parallel=True)
def _raise_knowhow(k, g) -> None:
    """``k = min(k + (gains at a ends + gains at b ends), 1)``, element-wise in parallel."""
    n = len(k)
    for j in prange(n):
        k[j] = fmin(k[j] + (g[j] + g[n + j]), 1.0)


def _knowhow_flow(k, nk_a, nk_b, nk_s, mp_m, mp_h, mp_s, mer_k, w, rate, d=None, g=None) -> None:
    """Raise know-how ``k`` (float32, capped at 1) by ``f = 1 - (1 - rate s) ** w`` of the gap along each tie, from
    the better informed end (both ways among North Koreans, merchant to partner).

    Gains are float64 sums in tie order, as np.bincount adds them: the a ends (``g[:n]``), the b ends (``g[n:]``)
    and the partners summed apart, then added (see :func:`_add_ends`). Of ``f max(gap, 0)`` at end a and
    ``f max(-gap, 0)`` at end b one is ``f x 0``, which changes no sum: only ``|f gap|`` is added, at the worse
    informed end (both terms as NumPy if ``f gap`` is not finite). Passes over the ties, as NumPy's: ``f``
    (:func:`_strength_factors`), ``f gap`` (scattered reads), the sums (scattered writes); one pass that read,
    then wrote at an address known only after the read, was twice as slow. ``d`` (float32, one per tie) and
    ``g`` (float64, two per household) are optional work space.
    """
    n, m = len(k), len(nk_s)
    d = np.empty(m, dtype=np.float32) if d is None or len(d) < m else d[:m]
    if g is None:
        g = np.zeros(2 * n)
    else:
        g[:] = 0.0
    _strength_factors(nk_s, w, rate, d)
    _gaps(k, nk_a, nk_b, d)
    _gains(k, nk_a, nk_b, nk_s, d, w, rate, g)
    _merchant_gains(k, mp_m, mp_h, mp_s, mer_k, w, rate, g)
    _raise_knowhow(k, g)


@njit(cache=True)
def _add_ends(g, h) -> None:
    """For each household ``h[i]``: ``g[h] += g[n + h]`` and ``g[n + h] = 0`` (a second time adds 0).

    ``g`` holds each household's sums over its a ends (``g[:n]``) and its b ends (``g[n:]``); NumPy then adds a
    third sum over merchant ties, ``(a + b) + m``. Households with merchant ties get ``a + b`` here and ``m`` in
    ``g[n + h]``; for the others the result is ``g[j] + g[n + j]`` = ``a + b`` (+ 0), without a pass over all.
    """
    n = len(g) // 2
    for i in range(len(h)):
        g[h[i]] += g[n + h[i]]
        g[n + h[i]] = 0.0


@njit(cache=True)
def _merchant_strengths(mp_h, mp_s, g) -> None:
    """Partners' merchant-tie strengths, added after the ties among North Koreans (see :func:`_add_ends`)."""
    n = len(g) // 2
    _add_ends(g, mp_h)
    for i in range(len(mp_s)):
        g[n + mp_h[i]] += mp_s[i]


@njit(cache=True, parallel=True)
def _sum_ends(g, strength) -> None:
    """``strength = sums at a ends + sums at b ends`` (float32), element-wise in parallel."""
    n = len(strength)
    for j in prange(n):
        strength[j] = g[j] + g[n + j]


def _strength_sums(nk_a, nk_b, nk_s, mp_h, mp_s, strength, g=None) -> None:
    """Summed tie strength of each household into ``strength`` (float32), as np.bincount adds it: float64 sums in
    tie order over the a ends, the b ends and the merchant ties apart, then added (see :func:`_add_ends`). ``g``
    (float64, two per household) is optional work space."""
    n = len(strength)
    if g is None:
        g = np.zeros(2 * n)
    else:
        g[:] = 0.0
    _scatter_ends(nk_a, nk_b, nk_s, n, g)
    _merchant_strengths(mp_h, mp_s, g)
    _sum_ends(g, strength)


@njit(cache=True, inline="always")
def _exit_p(loss, strength, base, loss_extra, tie_effect):
    """Weekly chance of leaving a role, ``min(p, 1)`` with ``p = (base + loss_extra * loss) / (1 + tie_effect * S)``:
    float64, but ``1 + tie_effect * S`` in float32 (a float32 array with Python scalars in NumPy)."""
    return fmin((base + loss_extra * (1.0 if loss else 0.0)) / (np.float32(1.0) + tie_effect * strength), 1.0)


@njit(cache=True, parallel=True)
def _exits(blocks, hh, u, p, sums) -> None:
    """Participants leave their role where ``u < 1 - (1 - e) ** U``, ``e = (exit_base + exit_loss loss) / (1 +
    tie_exit_effect S)`` (:func:`_exit_p`; ``p``: :class:`NetworkPars`); loss = smoothed market income below the loss
    line (float32) or money below ``exit_capital_usd``. Those who stay are counted in ``sums.cnt_b`` and their
    smoothed market incomes summed in ``sums.inc_b`` by block and role (float64 sums in household order, as np.bincount; blocks
    added in order by :func:`hamji.kernels.reduce_blocks`).

    ``1 - (1 - e) ** U <= U e`` (Bernoulli's inequality), so a draw above ``U e + 1e-9`` (a margin far above any
    rounding) stays without computing the power: most do.
    """
    hh = Households(*hh)
    p = NetworkPars(*p)
    sums = RoleSums(*sums)
    role, cash, fx, profit_ema, ties_strength = hh.role, hh.cash, hh.fx, hh.profit_ema, hh.ties_strength
    w, line, exit_capital = p.update_weeks, p.loss_income_usd, p.exit_capital_usd
    base, loss_extra, tie_effect = p.exit_base, p.exit_loss, p.tie_exit_effect
    inc, cnt = sums.inc_b, sums.cnt_b
    for b in prange(len(blocks)):
        inc[b, :] = 0.0
        cnt[b, :] = 0
        for i in range(*span(blocks, b)):
            if role[i] != ROLE_NONE:
                loss = profit_ema[i] < line or cash[i] + fx[i] < exit_capital
                e = _exit_p(loss, ties_strength[i], base, loss_extra, tie_effect)
                if u[i] < w * e + 1e-9 and u[i] < 1.0 - npow(1.0 - e, w):
                    role[i] = ROLE_NONE
                else:
                    inc[b, role[i]] += profit_ema[i]
                    cnt[b, role[i]] += 1


@njit(cache=True, parallel=True)
def _entrants(blocks, role, detained, cash, fx, v, p_r, capital, buf, counts):
    """Free households without a role that enter one: ``v < p_r[province] * min(1, money / capital)``, in
    household order (blocks in parallel, joined in order; a view of ``buf``)."""
    for b in prange(len(blocks)):
        p = p_r[blocks[b, 2]]
        k = lo = blocks[b, 0]
        for i in range(*span(blocks, b)):
            if v[i] < p or p < 0:  # p x min(1, .) <= p if p >= 0: most households are skipped here
                if role[i] == ROLE_NONE and detained[i] == 0 and v[i] < p * fmin((cash[i] + fx[i]) / capital, 1.0):
                    buf[k] = i
                    k += 1
        counts[b] = k - lo
    return buf[:compact_blocks(buf, blocks, counts)]


@njit(cache=True)
def _count_live(ends, s, out) -> None:
    """Add 1 to ``out[ends[i]]`` for each live tie (strength > 0): np.bincount of the live ties' ends."""
    for i in range(len(s)):
        out[ends[i]] += s[i] > 0


@njit(cache=True)
def _degrees(a, b, s, n):
    """Live ties of each of ``n`` households, at either end (int32)."""
    deg = np.zeros(n, dtype=np.int32)
    for i in range(len(s)):
        live = s[i] > 0
        deg[a[i]] += live
        deg[b[i]] += live
    return deg


@njit(cache=True)
def _add_new_ties(a, b, region, deg, ties_r) -> None:
    """Add new ties (a[i], b[i]) to ``deg`` (live ties of each household) and ``ties_r`` (by province of end a)."""
    for i in range(len(a)):
        deg[a[i]] += 1
        deg[b[i]] += 1
        ties_r[region[a[i]]] += 1.0


@njit(cache=True)
def _count_live_by_region(region, ends, s, out) -> None:
    """Add 1 to ``out[region[ends[i]]]`` for each live tie: live ties by the province of one end.

    Counted in a register along runs of one province (most ties follow one of the same province), as in
    :func:`_smooth_and_count`.
    """
    cur, count = 0, 0
    for i in range(len(s)):
        if s[i] > 0:
            if region[ends[i]] != cur:
                out[cur] += count
                cur, count = region[ends[i]], 0
            count += 1
    out[cur] += count


@njit(cache=True, parallel=True)
def _members(blocks, role, detained, part, partners, counts):
    """Free households in a market role, and those of them in the partner role, in household order (blocks in
    parallel, joined in order; views of ``part`` and ``partners``).

    Without branches (each index is written and kept if it belongs): a branch on the role mispredicts often.
    """
    for b in prange(len(blocks)):
        lo = blocks[b, 0]
        k = m = lo
        for i in range(*span(blocks, b)):
            inside = (detained[i] == 0) & (role[i] != ROLE_NONE)
            part[k] = i
            k += inside
            partners[m] = i
            m += inside & (role[i] == ROLE_PARTNER)
        counts[b, 0] = k - lo
        counts[b, 1] = m - lo
    return part[:compact_blocks(part, blocks, counts[:, 0])], partners[:compact_blocks(partners, blocks, counts[:, 1])]


@njit(cache=True)
def _formers(members, deg, target, u, region, p_r):
    """Members short of ties (``deg < target``) that form one this time: ``u < p_r[province]``."""
    out = np.empty(len(members), dtype=np.int64)
    k = 0
    for i in members:
        if deg[i] < target and u[i] < p_r[region[i]]:
            out[k] = i
            k += 1
    return out[:k].copy()


@njit(cache=True)
def _pick_in_region(region, cand, formers, weights, draws, r):
    """For each former, a candidate of its province drawn with ``weights`` (self-picks dropped): (formers, picks).

    As the NumPy it replaced: candidates in a stable order by province, float64 cumulative weights in that order,
    the target ``base[lo] + draw (base[hi] - base[lo])`` located with np.searchsorted (right) and clipped to the
    province.
    """
    n_c = len(cand)
    start = np.zeros(r + 1, dtype=np.int64)  # candidates of province p: positions start[p] to start[p + 1]
    for c in cand:
        start[region[c] + 1] += 1
    for p in range(r):
        start[p + 1] += start[p]
    pos = start.copy()
    cs, cum = np.empty(n_c, dtype=np.int64), np.empty(n_c)
    for i in range(n_c):  # counting sort: stable
        p = region[cand[i]]
        cs[pos[p]], cum[pos[p]] = cand[i], weights[i]
        pos[p] += 1
    base = np.zeros(n_c + 1)
    for i in range(n_c):
        base[i + 1] = base[i] + cum[i]
        cum[i] = base[i + 1]
    src, dst = np.empty(len(formers), dtype=np.int64), np.empty(len(formers), dtype=np.int64)
    k = 0
    for i in range(len(formers)):
        f = formers[i]
        lo, hi = start[region[f]], start[region[f] + 1]
        if hi > lo:
            target = base[lo] + draws[i] * (base[hi] - base[lo])
            j = min(max(np.searchsorted(cum, target, side="right"), lo), hi - 1)
            if cs[j] != f:
                src[k], dst[k] = f, cs[j]
                k += 1
    return src[:k].copy(), dst[:k].copy()


@njit(cache=True, error_model="numpy")
def _entry_chance(blocks, markets, p, sums, e) -> None:
    """The stayers' summed smoothed incomes and counts by province and role (``sums.inc``, ``sums.cnt``: blocks added
    in order) and each province's chance of not entering in a week, ``e.stay = q = 1 - min(x, 1)``, ``x =
    (entry_innovation + entry_imitation x share) x access x (1 + market_access_effect x density)`` (share =
    participants / ``e.households``, density = ``markets`` / ``e.density_den``: households and ten thousands of
    households, floored; ``p``: :class:`NetworkPars`). The chance over ``U`` weeks, ``1 - q ** U``, is NumPy's
    power, taken outside."""
    p = NetworkPars(*p)
    sums = RoleSums(*sums)
    e = Entry(*e)
    inc, cnt, q = sums.inc, sums.cnt, e.stay
    hh_den, density_den, access = e.households, e.density_den, p.access
    innovation, imitation, market_effect = p.entry_innovation, p.entry_imitation, p.market_access_effect
    reduce_blocks(sums.inc_b, blocks, inc)
    reduce_blocks(sums.cnt_b, blocks, cnt)
    for j in range(len(q)):
        participants = 0
        for k in range(cnt.shape[1]):
            participants += cnt[j, k]
        share = participants / hh_den[j]
        x = (innovation + imitation * share) * access[j] * (1.0 + market_effect * (markets[j] / density_den[j]))
        q[j] = 1.0 - fmin(x, 1.0)


@njit(cache=True, error_model="numpy")
def _attractiveness(inc, cnt, line, out) -> None:
    """Relative profitability of each role in each province: ``(max(mean income of the role, 0) + line) /
    (max(mean income of all participants, 0) + line)``, 1 where nobody is in the role or the ratio is not finite."""
    total = rowsum(inc)  # inc.sum(axis=1)
    for j in range(inc.shape[0]):
        participants = 0
        for k in range(cnt.shape[1]):
            participants += cnt[j, k]
        den = fmax(total[j] / max(participants, 1), 0.0) + line
        for k in range(inc.shape[1]):
            x = (fmax(inc[j, k] / cnt[j, k], 0.0) + line) / den if cnt[j, k] > 0 else 1.0
            out[j, k] = x if np.isfinite(x) else 1.0


@njit(cache=True, error_model="numpy")
def _pick_roles(idx, u, attract, hh, p) -> None:
    """Role of each entrant ``idx[i]`` into ``hh.role[idx[i]]`` (``u``: a draw per household): drawn with weights
    ``role_weights x attract`` of its province, the partner's times ``partner_access`` and ``min(1, money /
    partner_capital_usd)``, none's 0 (``p``: :class:`NetworkPars`); the first role whose cumulative weight (float64,
    in role order) exceeds ``u x total``; a seller if all are 0."""
    hh = Households(*hh)
    p = NetworkPars(*p)
    base, partner_access, partner_capital = p.role_weights, p.partner_access, p.partner_capital_usd
    region, cash, fx, out = hh.region, hh.cash, hh.fx, hh.role
    n_roles = len(base)
    cum = np.empty(n_roles)
    for i in range(len(idx)):
        h = idx[i]
        r = region[h]
        acc = 0.0
        for k in range(n_roles):
            w = base[k] * attract[r, k]
            if k == ROLE_PARTNER:
                w = w * partner_access[r] * fmin((cash[h] + fx[h]) / partner_capital, 1.0)
            if k == ROLE_NONE:
                w = 0.0
            acc = w if k == 0 else acc + w  # np.cumsum
            cum[k] = acc
        t = u[h] * acc
        pick = 0
        for k in range(n_roles):
            pick += t >= cum[k]
        out[h] = min(pick, n_roles - 1) if acc > 0 else ROLE_SELLER


@njit(cache=True, error_model="numpy")
def _enter(enter, u, hh, p, sums, e) -> None:
    """Entrants take a role (:func:`_pick_roles`, weighted by :func:`_attractiveness` of the stayers' ``sums`` into
    ``e.attract``) and start with a smoothed market income of 0."""
    hh = Households(*hh)
    p = NetworkPars(*p)
    sums = RoleSums(*sums)
    e = Entry(*e)
    _attractiveness(sums.inc, sums.cnt, p.loss_income_usd_f64, e.attract)
    _pick_roles(enter, u, e.attract, hh, p)
    for h in enter:
        hh.profit_ema[h] = 0.0


@njit(cache=True, error_model="numpy")
def _nk_picks(region, part, formers, deg, referral, draws, r):
    """One round of ties among North Koreans: :func:`_pick_in_region` with candidate weights ``1 + referral x ties``
    and the formers' draws (``draws``: one per household)."""
    weights = np.empty(len(part))
    for i in range(len(part)):
        weights[i] = 1.0 + referral * deg[part[i]]
    d = np.empty(len(formers), dtype=draws.dtype)
    for i in range(len(formers)):
        d[i] = draws[formers[i]]
    return _pick_in_region(region, part, formers, weights, d, r)


@njit(cache=True, error_model="numpy")
def _merchant_formers(partners, mp_a, mp_b, mp_s, target, u, region, p_r, china_of, capital, quality, referral):
    """Partners short of merchant ties that form one this time (:func:`_formers`), the province of China across their
    crossing, and each merchant's weight ``max(capital, 0) x quality x (1 + referral x partners)``."""
    mdeg = np.zeros(len(region), dtype=np.int32)  # live merchant ties of each household
    _count_live(mp_b, mp_s, mdeg)
    formers = _formers(partners, mdeg, target, u, region, p_r)
    mpart = np.zeros(len(capital), dtype=np.int64)  # live ties of each merchant
    _count_live(mp_a, mp_s, mpart)
    wm = np.empty(len(capital))
    for j in range(len(capital)):
        wm[j] = fmax(capital[j], 0.0) * quality[j] * (1.0 + referral * mpart[j])
    area = np.empty(len(formers), dtype=np.int64)
    for i in range(len(formers)):
        area[i] = china_of[region[formers[i]]]
    return formers, area, wm


@njit(cache=True, error_model="numpy")
def _merchant_picks(formers, area, draws, mer_region, wm):
    """For each former, a merchant of the province across its crossing drawn with weights ``wm`` (np.searchsorted,
    right, on the float64 cumulative weights; provinces whose weights sum to at most 0 skipped): (merchants,
    formers), province by province in ascending order, formers in their order within one."""
    src, dst = np.empty(len(formers), dtype=np.int64), np.empty(len(formers), dtype=np.int64)
    k = 0
    for c in np.unique(area):
        ms = np.flatnonzero(mer_region == c)
        if not len(ms) or psum(wm[ms]) <= 0:
            continue
        cum = np.cumsum(wm[ms])
        for i in range(len(formers)):
            if area[i] == c:
                src[k] = ms[min(np.searchsorted(cum, draws[formers[i]] * cum[-1], side="right"), len(ms) - 1)]
                dst[k] = formers[i]
                k += 1
    return src[:k], dst[:k]


@njit(cache=True, error_model="numpy")
def _refresh_counts(blocks, role, knowhow, threshold, region, mp_b, mp_s, ties_nk, part_r, know_r, ties_r) -> None:
    """By province: households in a market role, households whose know-how is at least ``threshold`` (float32), and
    live ties (``ties_nk`` plus merchant ties by the partner's province). Whole numbers: the same in any order."""
    part_r[:] = 0.0
    know_r[:] = 0.0
    for b in range(len(blocks)):
        n_part = n_know = 0
        for i in range(*span(blocks, b)):
            n_part += role[i] != ROLE_NONE
            n_know += knowhow[i] >= threshold
        part_r[blocks[b, 2]] += n_part
        know_r[blocks[b, 2]] += n_know
    ties_r[:] = ties_nk
    _count_live_by_region(region, mp_b, mp_s, ties_r)


@njit(cache=True)
def _partner_counts(ends, s, out) -> None:
    """Live ties of each merchant into ``out`` (int16, as the int64 count cast)."""
    out[:] = 0
    for i in range(len(s)):
        out[ends[i]] += s[i] > 0
