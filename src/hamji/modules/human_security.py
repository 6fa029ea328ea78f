"""The human security index: freedom from want and freedom from fear, per household and week.

"For the purposes of this paper, the Fletcher School's Institute for Human Security's concept of
human security will be used: ... the many faces of, and close relations between, freedom from fear
and freedom from want." ... "As formal and informal HamJi commercial networks grew, so too did the
level of human security of North Koreans in Hamgyong Province involved in the related commercial
activities. A main factor in this phenomenon was the increased ability of these North Koreans ...
to use newly earned funds to not only raise their material living standards, but also draw on them
to 'buy' their way out of trouble." (Park 2009)

For household i in province r, with ``N_i = food_need_usd_per_person_week * size_i`` (US$ of food
it needs a week) and ``m_i = cash_i + fx_i`` (its money):

* Freedom from want, the weighted mean (weights ``hsi_consumption_weight``, ``hsi_food_weight``,
  ``hsi_buffer_weight``) of

  - consumption against need ``min(1, consumption_i / (hsi_consumption_target * N_i))``,
  - food ``min(1, max(0, food_ratio_i))``,
  - the savings buffer ``s_i / (s_i + hsi_buffer_half_weeks)`` with ``s_i = m_i / N_i`` weeks of need.

* Freedom from fear::

      fear_i = free_i * ((1 - w_p) + w_p * cover_i) * (1 - w_k * d_i)

  ``free_i`` = 1 unless detained; ``cover_i = min(1, (m_i + h * K_i) / b_r)`` is the ability to
  pay one's way out of a non-political infraction with kin's help (``K_i`` money of the other free
  members of the clan, ``h`` = ``clan_help_share``, ``b_r`` the province's bribe price from
  :func:`hamji.modules.enforcement.bribe_prices`); ``d_i`` the share of the other clan members
  detained (fear for one's kin); ``w_p`` = ``hsi_pay_weight``, ``w_k`` = ``hsi_kin_detained_weight``.
  In a DPRK province with a border crossing, fear is further multiplied by ``1 - z * e_i``: the 2020
  closure came with a buffer zone along the river where guards were ordered to shoot; ``z`` =
  ``border_zone_fear`` (0 unless a border closure sets it), ``e_i`` = 1 for a household in a market
  role (those who trade near and across the river), ``border_zone_resident_exposure`` for the others.

* ``hsi_i = (W_want * want_i + W_fear * fear_i) / (W_want + W_fear)``, in [0, 1] (weights
  ``hsi_want_weight``, ``hsi_fear_weight``), stored as ``households.hsi`` (float32).

Field measures. WFP Food Consumption Score classes from the food ratio: poor if
``food_ratio < fcs_poor_below``, borderline if below ``fcs_borderline_below``, else acceptable
(shares of households; food_security.csv: acceptable 26% in 2012, 46% in 2013). FAO's prevalence
of undernourishment: share of persons in households with ``food_ratio < undernourished_below``
(food_security.csv: 47.8% in 2016-18).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit, prange

from hamji.kernels import fmax, fmin, province_bounds, province_lanes, reduce_blocks, span
from hamji.module import Metric, Module, State
from hamji.modules.enforcement import RegionIndex, border_provinces, bribe_price
from hamji.results import HIST_BINS

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

QUANTILES = (0.1, 0.5, 0.9)


class IndexPars(NamedTuple):
    """The parameters the index kernels read, in float32 as the index is computed (weights normalised)."""

    need_per_person: np.float32  # food_need_usd_per_person_week
    consumption_target: np.float32  # hsi_consumption_target
    w_consumption: np.float32  # the three weights of want, normalised to sum to 1
    w_food: np.float32
    w_buffer: np.float32
    buffer_half_weeks: np.float32  # hsi_buffer_half_weeks
    clan_help_share: np.float32  # h
    w_pay: np.float32  # w_p = hsi_pay_weight
    one_minus_w_pay: np.float32  # 1 - w_p
    minus_w_kin: np.float32  # -w_k = -hsi_kin_detained_weight
    w_want: np.float32  # W_want / (W_want + W_fear)
    w_fear: np.float32  # W_fear / (W_want + W_fear)
    fcs_poor_below: np.float32
    fcs_borderline_below: np.float32
    undernourished_below: np.float32
    want_on: bool  # the want weights sum to more than 0 (else want is 1)
    index_on: bool  # W_want + W_fear > 0 (else the index is 0)

    @classmethod
    def of(cls, pars) -> IndexPars:
        w = np.array([pars.hsi_consumption_weight, pars.hsi_food_weight, pars.hsi_buffer_weight])
        want_on = bool(w.sum() > 0)
        w = w / w.sum() if want_on else w
        ww, wf = pars.hsi_want_weight, pars.hsi_fear_weight
        index_on = bool(ww + wf > 0)
        ww, wf = (ww / (ww + wf), wf / (ww + wf)) if index_on else (0.0, 0.0)
        wp, wk = pars.hsi_pay_weight, pars.hsi_kin_detained_weight
        f32 = np.float32
        return cls(f32(pars.food_need_usd_per_person_week), f32(pars.hsi_consumption_target), f32(w[0]), f32(w[1]),
                   f32(w[2]), f32(pars.hsi_buffer_half_weeks), f32(pars.clan_help_share), f32(wp), f32(1.0 - wp),
                   f32(-wk), f32(ww), f32(wf), f32(pars.fcs_poor_below), f32(pars.fcs_borderline_below),
                   f32(pars.undernourished_below), want_on, index_on)


def want_index(pars, consumption: np.ndarray, food_ratio: np.ndarray, money: np.ndarray,
               need: np.ndarray, out: np.ndarray | None = None, tmp: np.ndarray | None = None) -> np.ndarray:
    """Freedom from want in [0, 1]: consumption against need, food ratio and savings buffer.

    ``out`` and ``tmp`` (float32, one per household) are optional scratch buffers: the weekly step
    passes preallocated ones, because fresh large arrays are what costs most here.
    """
    n = len(need)
    out = np.empty(n, dtype=np.float32) if out is None else out
    tmp = np.empty(n, dtype=np.float32) if tmp is None else tmp
    w = np.array([pars.hsi_consumption_weight, pars.hsi_food_weight, pars.hsi_buffer_weight])
    if w.sum() <= 0:
        out[:] = 1.0
        return out
    w = (w / w.sum()).astype(np.float32)
    # consumption against need
    np.multiply(need, np.float32(pars.hsi_consumption_target), out=tmp)
    np.divide(consumption, tmp, out=tmp)
    np.minimum(tmp, 1.0, out=tmp)
    np.multiply(tmp, w[0], out=out)
    # food ratio
    np.clip(food_ratio, 0.0, 1.0, out=tmp)
    np.multiply(tmp, w[1], out=tmp)
    np.add(out, tmp, out=out)
    # savings buffer: s / (s + half), s = weeks of need in savings
    half = np.float32(pars.hsi_buffer_half_weeks)
    np.divide(money, need, out=tmp, casting="same_kind")
    np.maximum(tmp, 0.0, out=tmp)
    np.add(tmp, half, out=tmp)
    np.divide(half, tmp, out=tmp)  # s / (s + half) = 1 - half / (s + half)
    np.subtract(1.0, tmp, out=tmp)
    np.multiply(tmp, w[2], out=tmp)
    np.add(out, tmp, out=out)
    return out


def fear_index(pars, free: np.ndarray, money: np.ndarray, kin_money: np.ndarray, price: np.ndarray,
               kin_detained: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Freedom from fear in [0, 1]: not detained, able to pay (with kin) one's way out, kin free.

    ``kin_money`` and ``kin_detained`` are overwritten (used as scratch space); ``out`` is an
    optional float32 buffer.
    """
    out = np.empty(len(free), dtype=np.float32) if out is None else out
    wp, wk = pars.hsi_pay_weight, pars.hsi_kin_detained_weight
    # cover = min(1, max(0, (m + h K) / b))
    np.multiply(kin_money, pars.clan_help_share, out=kin_money)
    np.add(kin_money, money, out=kin_money)
    np.divide(kin_money, price, out=out, casting="same_kind")
    np.clip(out, 0.0, 1.0, out=out)
    np.multiply(out, np.float32(wp), out=out)
    np.add(out, np.float32(1.0 - wp), out=out)
    np.multiply(out, free, out=out)
    np.multiply(kin_detained, np.float32(-wk), out=kin_detained)
    np.add(kin_detained, np.float32(1.0), out=kin_detained)
    np.multiply(out, kin_detained, out=out)
    return out


def combine(pars, want: np.ndarray, fear: np.ndarray, out: np.ndarray | None = None,
            tmp: np.ndarray | None = None) -> np.ndarray:
    """The index: weighted mean of freedom from want and freedom from fear, in [0, 1]."""
    out = np.empty(len(want), dtype=np.float32) if out is None else out
    tmp = np.empty(len(want), dtype=np.float32) if tmp is None else tmp
    ww, wf = pars.hsi_want_weight, pars.hsi_fear_weight
    if ww + wf <= 0:
        out[:] = 0.0
        return out
    np.multiply(want, np.float32(ww / (ww + wf)), out=out)
    np.multiply(fear, np.float32(wf / (ww + wf)), out=tmp)
    np.add(out, tmp, out=out)
    np.clip(out, 0.0, 1.0, out=out)
    return out


@njit(cache=True, error_model="numpy", parallel=True)
def _clan_pass(bounds, lanes, detained, role, cash, fx, clan, clan_money, clan_held, traders_r) -> None:
    """Money of the free members and detained members of each clan; free traders by province.

    Clan money is summed in float32 in household order, as the clan table of :class:`Clans` sums it.
    A clan lies in one province, so provinces are independent: each lane (``lanes``, from
    :func:`hamji.kernels.province_lanes`) does its provinces in order, each province in household order.
    """
    has_clans = len(clan_money) > 0
    clan_money[:] = 0.0
    clan_held[:] = 0.0
    for ln in prange(lanes.shape[0]):
        for j in range(lanes.shape[1]):
            r = lanes[ln, j]
            if r < 0:
                break
            traders = 0
            for i in range(np.uint64(bounds[r]), np.uint64(bounds[r + 1])):
                if detained[i] == 0:
                    if has_clans:
                        clan_money[clan[i]] += np.float32(cash[i] + fx[i])
                    traders += role[i] > 0
                elif has_clans:
                    clan_held[clan[i]] += np.float32(1.0)
            traders_r[r] = traders


# The index in four passes, each simple enough for the compiler to keep in registers; the two
# element-wise ones (want, fear) compile to SIMD instructions. Together they do the arithmetic of
# want_index, fear_index and combine, operation for operation in the same precision. Each runs over
# the fixed household blocks (hamji.kernels.BLOCK) in parallel.
@njit(cache=True, error_model="numpy", parallel=True)
def _want_pass(blocks, consumption, food_ratio, cash, fx, size, p, want) -> None:
    """Freedom from want of each household (``p``: :class:`IndexPars`)."""
    p = IndexPars(*p)
    need_pp, target, half = p.need_per_person, p.consumption_target, p.buffer_half_weeks
    w0, w1, w2 = p.w_consumption, p.w_food, p.w_buffer
    one, zero = np.float32(1.0), np.float32(0.0)
    for b in prange(len(blocks)):
        for i in range(*span(blocks, b)):
            need = size[i] * need_pp
            w = fmin(consumption[i] / (need * target), one) * w0
            w = w + fmin(fmax(food_ratio[i], zero), one) * w1
            t = fmax(np.float32((cash[i] + fx[i]) / np.float64(need)), zero) + half
            want[i] = w + (one - half / t) * w2


@njit(cache=True, error_model="numpy", parallel=True)
def _kin_pass(blocks, clan, detained, cash, fx, clan_money, clan_held, others, kin_money, kin_held) -> None:
    """Money of the other free members of each household's clan, and the share of them detained."""
    one = np.float32(1.0)
    for b in prange(len(blocks)):
        for i in range(*span(blocks, b)):
            k = clan[i]
            if detained[i] == 0:
                kin_money[i] = clan_money[k] - np.float32(cash[i] + fx[i])
                kin_held[i] = clan_held[k] / others[i]
            else:
                kin_money[i] = clan_money[k]
                kin_held[i] = (clan_held[k] - one) / others[i]


@njit(cache=True, error_model="numpy", parallel=True)
def _fear_pass(blocks, cash, fx, detained, kin_money, kin_held, price_r, p, fear) -> None:
    """Freedom from fear of each household: free, able to pay (with kin) the province's bribe price, kin free."""
    p = IndexPars(*p)
    help_share, wp, one_minus_wp, minus_wk = p.clan_help_share, p.w_pay, p.one_minus_w_pay, p.minus_w_kin
    one, zero = np.float32(1.0), np.float32(0.0)
    for b in prange(len(blocks)):
        price = price_r[blocks[b, 2]]
        for i in range(*span(blocks, b)):
            cover = np.float32(np.float64(kin_money[i] * help_share) + (cash[i] + fx[i]))
            f = fmin(fmax(cover / price, zero), one) * wp + one_minus_wp
            f = f * (one if detained[i] == 0 else zero)
            fear[i] = f * (kin_held[i] * minus_wk + one)


@njit(cache=True, error_model="numpy", parallel=True)
def _zone_pass(blocks, role, zone_r, resident, fear) -> None:
    """The border buffer zone: ``fear *= 1 - zone_r x exposure`` (exposure 1 in a market role, else ``resident``)."""
    one = np.float32(1.0)
    for b in prange(len(blocks)):
        z = zone_r[blocks[b, 2]]
        if z > 0:
            for i in range(*span(blocks, b)):
                fear[i] = fear[i] * (one - z * (one if role[i] > 0 else resident))


@njit(cache=True, error_model="numpy", parallel=True)
def _index_tally(blocks, want, fear, role, food_ratio, size, p, hsi, hist, sums) -> None:
    """Each household's index (0 if ``p.index_on`` is False: the weights sum to zero), and by block its
    histogram (``hist[b]``) and sums (``sums[b]``; :func:`hamji.kernels.reduce_blocks` makes them the
    province's). ``sums`` columns: participants, index, participants' index, want, fear, poor, below
    borderline, persons undernourished (counts as integers: the same as summing ones)."""
    p = IndexPars(*p)
    ww, wf, index_on = p.w_want, p.w_fear, p.index_on
    poor, border, under = p.fcs_poor_below, p.fcs_borderline_below, p.undernourished_below
    one, zero, nbins = np.float32(1.0), np.float32(0.0), np.float32(HIST_BINS)
    top = np.float32(HIST_BINS - 1)
    for b in prange(len(blocks)):
        hist[b, :] = 0
        n_part = n_poor = n_border = 0
        s_h = s_part = s_want = s_fear = s_under = 0.0
        # the bin as the flat histogram of all provinces computed it: (value + province offset) in float32
        r_off = blocks[b, 2] * HIST_BINS
        offset = np.float32(r_off)
        for i in range(*span(blocks, b)):
            h = fmin(fmax(want[i] * ww + fear[i] * wf, zero), one) if index_on else zero
            hsi[i] = h
            hist[b, np.int64(np.float32(fmin(h * nbins, top) + offset)) - r_off] += 1
            part = role[i] > 0
            fr = food_ratio[i]
            n_part += part
            s_h += h
            s_part += h * (one if part else zero)
            s_want += want[i]
            s_fear += fear[i]
            n_poor += fr < poor
            n_border += fr < border
            s_under += size[i] * (one if fr < under else zero)
        sums[b, 0] = n_part
        sums[b, 1] = s_h
        sums[b, 2] = s_part
        sums[b, 3] = s_want
        sums[b, 4] = s_fear
        sums[b, 5] = n_poor
        sums[b, 6] = n_border
        sums[b, 7] = s_under


@njit(cache=True, error_model="numpy")
def _bribe_price(traders, households, base, slope, price) -> None:
    """Each province's bribe price (float32), as :func:`hamji.modules.enforcement.bribe_prices` computes it from the
    share of free traders among the households (``households`` floored at 1): ``base x (1 + slope x share)``."""
    for r in range(len(price)):
        price[r] = bribe_price(base, slope, traders[r] / households[r])


#: rows of :func:`_province_tallies`' output, one per province each
TALLY_ROWS = ("index", "participants_index", "participants", "nonparticipants_index", "nonparticipants", "want", "fear",
              "poor", "borderline", "acceptable", "persons_undernourished")


@njit(cache=True, error_model="numpy")
def _province_tallies(hist_b, sums_b, blocks, households, hist, sums, out) -> None:
    """The blocks' histograms and sums added by province (:func:`hamji.kernels.reduce_blocks`), and from the sums the
    province values the metrics record (``out``, rows as :data:`TALLY_ROWS`): borderline = ``max(below borderline -
    poor, 0)``, acceptable = ``households - max(below borderline, poor)``."""
    reduce_blocks(hist_b, blocks, hist)
    reduce_blocks(sums_b, blocks, sums)
    for r in range(sums.shape[0]):
        n_p, s_hsi, s_part, s_want, s_fear = sums[r, 0], sums[r, 1], sums[r, 2], sums[r, 3], sums[r, 4]
        poor, below_border, under = sums[r, 5], sums[r, 6], sums[r, 7]
        out[0, r], out[1, r], out[2, r] = s_hsi, s_part, n_p
        out[3, r], out[4, r] = s_hsi - s_part, households[r] - n_p
        out[5, r], out[6, r] = s_want, s_fear
        out[7, r], out[8, r], out[9, r] = poor, fmax(below_border - poor, 0.0), households[r] - fmax(below_border, poor)
        out[10, r] = under


class HumanSecurity(Module):
    """Computes ``households.hsi`` and reports it with the field measures of food security."""

    name = "human_security"
    passage = (
        "Human security index per household: freedom from want (consumption, food, savings) and from fear (not detained, able to pay).\n"
        "\"... the increased ability of these North Koreans ... to use newly earned funds to not only raise their"
        " material living standards, but also draw on them to 'buy' their way out of trouble.\" (Park 2009)"
    )
    metrics = (
        Metric("hsi_mean", "index [0, 1]", "Mean human security index of households.", agg="mean", annual="mean"),
        Metric("hsi_p10", "index [0, 1]", "10th percentile of the households' index (resolution 0.005).", agg="mean", annual="mean"),
        Metric("hsi_p50", "index [0, 1]", "Median of the households' index (resolution 0.005).", agg="mean", annual="mean"),
        Metric("hsi_p90", "index [0, 1]", "90th percentile of the households' index (resolution 0.005).", agg="mean", annual="mean"),
        Metric("hsi_participants", "index [0, 1]", "Mean index of households in a market role (role > 0).", agg="mean", annual="mean"),
        Metric("hsi_nonparticipants", "index [0, 1]", "Mean index of households in no market role.", agg="mean", annual="mean"),
        Metric("freedom_from_want", "index [0, 1]", "Mean freedom-from-want part of the index.", agg="mean", annual="mean"),
        Metric("freedom_from_fear", "index [0, 1]", "Mean freedom-from-fear part of the index.", agg="mean", annual="mean"),
        Metric("fcs_poor_share", "fraction of households", "WFP Food Consumption Score class 'poor' (food ratio below"
               " fcs_poor_below).", agg="mean", annual="mean"),
        Metric("fcs_borderline_share", "fraction of households", "WFP Food Consumption Score class 'borderline'.",
               agg="mean", annual="mean"),
        Metric("fcs_acceptable_share", "fraction of households", "WFP Food Consumption Score class 'acceptable'"
               " (food_security.csv: 26% in 2012, 46% in 2013).", agg="mean", annual="mean"),
        Metric("undernourished_share", "fraction of persons", "Persons in households eating below the minimum"
               " dietary energy requirement (comparable with FAO's 47.8% in 2016-18).", agg="mean", annual="mean"),
    )

    states = (State("households", "hsi", "float32", 0.0, "the household's human security index, in [0, 1]"),)

    def setup(self, sim: Sim) -> None:
        hh = sim.people.households
        r, n = sim.world.n_regions, hh.n
        self._bounds = province_bounds(hh.region, r)
        self._size = hh.size.astype(np.float32)
        index = RegionIndex(hh.region, r)
        self._households = index.sum(np.ones(n))
        self._persons = index.sum(self._size)
        clan = getattr(hh, "clan", None)  # kin groups, declared by enforcement; without it nobody has kin
        n_clans = 0 if clan is None else int(clan.max()) + 1
        self._clan = np.zeros(n, dtype=np.int32) if clan is None else clan
        self._others = np.ones(n, dtype=np.float32)
        if clan is not None:
            size = np.bincount(clan, minlength=n_clans)
            self._others = np.maximum(size[clan] - 1, 1).astype(np.float32)
        # reused work space: clan sums, the parts of the index (float32, one per household: 16 bytes),
        # province tallies (histogram, sums)
        self._clan_money = np.zeros(n_clans, dtype=np.float32)
        self._clan_held = np.zeros(n_clans, dtype=np.float32)
        self._want, self._fear, self._kin_money, self._kin_held = (np.zeros(n, dtype=np.float32) for _ in range(4))
        self._traders = np.zeros(r)
        self._hh_den = np.maximum(self._households, 1.0)  # households of each province, floored at 1
        self._price = np.zeros(r, dtype=np.float32)
        self._blocks = sim.blocks
        self._lanes: dict[int, np.ndarray] = {}  # provinces dealt to lanes, by number of threads
        nb = len(self._blocks)
        self._hist_b, self._sums_b = np.zeros((nb, HIST_BINS), dtype=np.int64), np.zeros((nb, 8))
        self._hist = np.zeros((r, HIST_BINS), dtype=np.int64)
        self._sums = np.zeros((r, 8))
        self._tallies = np.zeros((len(TALLY_ROWS), r))
        self._border = border_provinces(sim)

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The index kernels' parameter record (float32, as the index is computed)."""
        self.p = IndexPars.of(sim.pars)

    def step(self, sim: Sim) -> None:
        pars, hh, res = sim.pars, sim.people.households, sim.results
        bounds, blocks = self._bounds, self._blocks
        threads = sim.threads
        lanes = self._lanes.get(threads)
        if lanes is None:
            lanes = self._lanes[threads] = province_lanes(bounds, threads)
        _clan_pass(bounds, lanes, hh.detained, hh.role, hh.cash, hh.fx, self._clan, self._clan_money, self._clan_held,
                   self._traders)  # free traders set the bribe price
        price = self._price
        _bribe_price(self._traders, self._hh_den, float(pars.bribe_base_usd), float(pars.bribe_activity_slope), price)
        p = self.p
        if p.want_on:
            _want_pass(blocks, hh.consumption, hh.food_ratio, hh.cash, hh.fx, self._size, tuple(p), self._want)
        else:
            self._want.fill(1.0)
        if len(self._clan_money):  # else nobody has kin: kin money and kin detained stay 0
            _kin_pass(blocks, self._clan, hh.detained, hh.cash, hh.fx, self._clan_money, self._clan_held, self._others,
                      self._kin_money, self._kin_held)
        _fear_pass(blocks, hh.cash, hh.fx, hh.detained, self._kin_money, self._kin_held, price, tuple(p), self._fear)
        if pars.border_zone_fear > 0:
            _zone_pass(blocks, hh.role, (pars.border_zone_fear * self._border).astype(np.float32),
                       np.float32(pars.border_zone_resident_exposure), self._fear)
        _index_tally(blocks, self._want, self._fear, hh.role, hh.food_ratio, self._size, tuple(p), hh.hsi,
                     self._hist_b, self._sums_b)
        n_hh = self._households
        _province_tallies(self._hist_b, self._sums_b, blocks, n_hh, self._hist, self._sums, self._tallies)
        q = res.quantiles_from_histogram(self._hist, QUANTILES)

        # outputs: each a ratio of province sums (the households' own), grouped in the weekly pass of the results
        s_hsi, s_part, n_p, s_nonpart, n_nonpart, s_want, s_fear, poor, borderline, acceptable, under = self._tallies
        res.record_ratio("hsi_mean", s_hsi, n_hh)
        res.record_ratio("hsi_participants", s_part, n_p)
        res.record_ratio("hsi_nonparticipants", s_nonpart, n_nonpart)
        for k, name in enumerate(("hsi_p10", "hsi_p50", "hsi_p90")):
            res.record_units(name, q[k])
        res.record_ratio("freedom_from_want", s_want, n_hh)
        res.record_ratio("freedom_from_fear", s_fear, n_hh)
        res.record_ratio("fcs_poor_share", poor, n_hh)
        res.record_ratio("fcs_borderline_share", borderline, n_hh)
        res.record_ratio("fcs_acceptable_share", acceptable, n_hh)
        res.record_ratio("undernourished_share", under, self._persons)
