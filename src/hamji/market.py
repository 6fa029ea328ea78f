"""Shared trade plumbing: Chinese merchants, the border crossings' weekly capacity, goods in the North.

"Local Chinese merchants - mostly ethnic Korean Chinese - in Jilin Province play a middleman role
by supplying Chinese consumer goods on a wholesale basis to be sold by North Korean business
partners on a retail basis" (Park 2009). Both state trading companies (their imports) and
households (wholesale partners) buy through the same merchants and the same crossings, so the
plumbing lives here, and the mechanisms (``modules/``) use it.

Goods in the North are tracked as value at landed cost (US$) per region, split by owner: state
trading companies (``goods_company``) and households (``goods_households``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji.kernels import pairwise_sum
from hamji.people import AgentArrays

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def synthesise_merchants(merchants: AgentArrays, sim: Sim) -> None:
    """Create the Chinese merchants who trade with the North, by Chinese border area."""
    pars, world = sim.pars, sim.world
    china = world.china
    per_region = np.maximum(np.rint(world.population[china] * pars.merchants_per_10k / 1e4 / sim.scale), 1).astype(int)
    merchants.n = int(per_region.sum())
    merchants.add("region", np.int8, values=np.repeat(china, per_region))
    rng = sim.streams.get("merchants.capital")
    sigma = pars.merchant_capital_sigma
    capital = pars.merchant_capital_usd * rng.lognormal(-0.5 * sigma**2, sigma, merchants.n)
    merchants.add("capital", np.float64, values=capital)


@njit(cache=True)
def sell_to_merchants(region, capital, area, amount, margin, buf):
    """The merchants of ``area`` share a sale of ``amount`` by capital and restock: their margin stays with them, the
    cost share ``1 - margin`` goes to their suppliers in China (:func:`pay_chinese_suppliers` books it). Returns their
    capital before the sale (0: there were no merchants to take it)."""
    n = len(capital)
    for i in range(n):
        buf[i] = capital[i] if region[i] == area else 0.0
    total = pairwise_sum(buf, 0, n)
    if total <= 0:
        return total
    for i in range(n):
        capital[i] += amount * buf[i] / total
    cost = amount * (1.0 - margin)
    for i in range(n):
        capital[i] -= cost * buf[i] / total
    return total


def pay_chinese_suppliers(books, amount: float, capital_before: float, margin: float) -> None:
    """Book what a sale of ``amount`` to Jilin merchants (:func:`sell_to_merchants`) pays their suppliers in China: the
    cost share ``amount (1 - margin)``, or the whole amount when no merchant took the sale (``capital_before <= 0``:
    the goods came from the suppliers directly). The one place this outflow of the books is written."""
    books.outflow("chinese_suppliers", amount if capital_before <= 0 else amount * (1.0 - margin))


@njit(cache=True)
def _room(capacity, multiplier, open_share, scale, used, c):
    """Tonnes still free this week at crossing ``c`` (the arithmetic of :meth:`Borders.room_t`)."""
    return max(capacity[c] * multiplier[c] * open_share / 52.0 / scale - used[c], 0.0)


@njit(cache=True)
def _take(capacity, multiplier, open_share, scale, used, c, tonnes):
    """Use up to ``tonnes`` of crossing ``c``'s room; the tonnes granted (:meth:`Borders.allocate`)."""
    granted = min(max(tonnes, 0.0), _room(capacity, multiplier, open_share, scale, used, c))
    used[c] += granted
    return granted


@njit(cache=True)
def _allocate_each(capacity, multiplier, open_share, scale, used, tonnes, granted):
    """``granted[x]``: the tonnes crossing ``x`` grants of ``tonnes[x]``, crossings in order (those asked for)."""
    for x in range(len(tonnes)):
        if tonnes[x] > 0:
            granted[x] = _take(capacity, multiplier, open_share, scale, used, x, tonnes[x])


@njit(cache=True)
def _through(capacity, multiplier, open_share, scale, used, tonnes, starts, ids, out):
    """Share of each province's ``tonnes`` its crossings (``ids[starts[i]:starts[i + 1]]``) take this week.

    A province's tonnes are split among its crossings by their room before this call (equally if none
    has room); each crossing grants what it can of all that is asked of it, and every province gets
    the same fraction of what it asked there.
    """
    n_x = len(used)
    room = np.empty(n_x)
    for c in range(n_x):
        room[c] = _room(capacity, multiplier, open_share, scale, used, c)
    req = np.zeros(n_x)
    asked = np.zeros(n_x, dtype=np.bool_)
    part = np.zeros(len(ids))
    for i in range(len(tonnes)):
        if not tonnes[i] > 0:
            continue
        lo, hi = starts[i], starts[i + 1]
        total = 0.0
        for k in range(lo, hi):  # sequential: NumPy sums fewer than 8 values in order
            total += room[ids[k]]
        for k in range(lo, hi):
            share = room[ids[k]] / total if total > 0 else 1.0 / (hi - lo)
            part[k] = tonnes[i] * share
            req[ids[k]] += part[k]
            asked[ids[k]] = True
    ratio = np.zeros(n_x)
    for c in range(n_x):
        if asked[c]:
            g = _take(capacity, multiplier, open_share, scale, used, c, req[c])
            ratio[c] = g / req[c] if req[c] > 0 else 0.0
    for i in range(len(tonnes)):
        out[i] = 0.0
        if tonnes[i] > 0:
            got = 0.0
            for k in range(starts[i], starts[i + 1]):
                got += part[k] * ratio[ids[k]]
            out[i] = got / tonnes[i]


class Borders:
    """Weekly goods capacity of each crossing (tonnes), shared by exports and imports."""

    def __init__(self, sim: Sim) -> None:
        w = sim.world
        self.crossings = w.crossings
        self.capacity_t_year = w.crossings.capacity_t.to_numpy(dtype=float)
        self.investment = np.ones(len(self.capacity_t_year))  # transport investment events multiply this
        self.multiplier = np.ones(len(self.capacity_t_year))
        self.used_t = np.zeros(len(self.capacity_t_year))
        self.scale = sim.scale
        # nearest crossing of every region (by road), and the DPRK / Chinese sides of each crossing
        dist = w.path_km[:, w.crossings.dprk_region.to_numpy()] + w.crossings.km_dprk.to_numpy()[None, :]
        self.nearest = np.argmin(dist, axis=1)
        self.dprk_region = w.crossings.dprk_region.to_numpy()
        self.china_region = w.crossings.china_region.to_numpy()

    def begin_week(self, open_share: float, capacity_multiplier: float) -> None:
        """Reset the week's use; ``open_share`` in [0, 1] scales every crossing (1 = fully open)."""
        self.used_t[:] = 0.0
        self.open_share = open_share
        np.multiply(self.investment, capacity_multiplier, out=self.multiplier)

    def room_t(self, crossing: np.ndarray | int) -> np.ndarray:
        """Tonnes still free this week at ``crossing`` (simulated tonnes, i.e. real / scale)."""
        cap = self.capacity_t_year * self.multiplier * self.open_share / 52.0 / self.scale
        return np.maximum(cap - self.used_t, 0.0)[crossing]

    def allocate(self, crossing: int, tonnes: float) -> float:
        """Use up to ``tonnes`` of ``crossing``'s room; returns the tonnes granted."""
        return _take(self.capacity_t_year, self.multiplier, float(self.open_share), float(self.scale), self.used_t,
                     int(crossing), float(tonnes))

    def allocate_each(self, tonnes: np.ndarray) -> np.ndarray:
        """Tonnes granted at each crossing of ``tonnes`` asked there (one per crossing), in crossing order."""
        granted = np.zeros(len(self.used_t))
        _allocate_each(self.capacity_t_year, self.multiplier, float(self.open_share), float(self.scale), self.used_t,
                       np.asarray(tonnes, dtype=np.float64), granted)
        return granted

    def through(self, tonnes: np.ndarray, starts: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Share of each province's ``tonnes`` that its crossings ``ids[starts[i]:starts[i + 1]]`` take
        this week (their room used up); see :func:`_through`."""
        out = np.empty(len(tonnes))
        _through(self.capacity_t_year, self.multiplier, float(self.open_share), float(self.scale), self.used_t,
                 np.asarray(tonnes, dtype=np.float64), starts, ids, out)
        return out


class Market:
    """Goods awaiting retail in each region, and the week's trade counters by DPRK region (US$)."""

    def __init__(self, sim: Sim) -> None:
        r = sim.world.n_regions
        self.goods_company = np.zeros(r)
        self.goods_households = np.zeros(r)
        self.imports_company = np.zeros(r)  # this week's imports by companies, by destination region
        self.imports_wholesale = np.zeros(r)  # this week's merchants' wholesale, by destination region
        self.imports_state = np.zeros(r)  # this week's imports for the state's own use, by destination region
        # households' weekly goods spending at landed cost (smoothed), by region; NaN until retail measures it
        self.goods_demand_ema = np.full(r, np.nan)
        # US$ of household (partner) imports that companies' wah-ku (real plus forged) can cover this
        # week; set by the wah-ku module, read by wholesale ("a DPRK state trading company needs to
        # receive a wah-ku as it outlines the precise quantity ... it is permitted to trade")
        self.wholesale_cover = np.inf
        # this week's Chinese demand indices (set by the china_demand module; 1 without it)
        self.price_index = 1.0
        self.volume_index = 1.0
        # the won's market rate this week, KPW per US$ (set by the fx_market module; its balanced rate without it)
        self.kpw_per_usd = float(sim.pars.fx_kpw_per_usd_balanced)

    def begin_week(self) -> None:
        """Reset the week's counters."""
        self.imports_company[:] = 0.0
        self.imports_wholesale[:] = 0.0
        self.imports_state[:] = 0.0


