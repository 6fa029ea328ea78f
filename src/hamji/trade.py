"""The trade state the society-side modules share: who owns which goods where, and this week's market income.

One :class:`TradeState` per run (``sim.trade``; :func:`trade_state` returns it). Goods owned by North Korean
households are kept by owner province (the province of the partners who imported them) and location, with the
transport already paid on them; wholesale adds imports, distribution moves and seizes goods, retail sells them,
network reads the market counts. Per-province sums and spreads over households use the households' order by
province (synthesis stores them so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from hamji.kernels import colsum, fmax, rowsum, span
from hamji.people import ROLE_NONE, ROLES

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


@njit(cache=True, parallel=True)
def _free_by_role(blocks, role, detained, n_roles):
    """Free households grouped by market role (role > 0), each group in household order: (ids, starts),
    role k's ids being ``ids[starts[k]:starts[k + 1]]``. A counting sort in two parallel passes over the
    household blocks: each block's count by role, then each block fills its place (role 0 is left out)."""
    nb = len(blocks)
    counts = np.zeros((nb, n_roles), dtype=np.int64)
    for b in prange(nb):
        for i in range(*span(blocks, b)):
            if detained[i] == 0 and role[i] > 0:
                counts[b, role[i]] += 1
    starts = np.zeros(n_roles + 1, dtype=np.int64)
    pos = np.zeros((nb, n_roles), dtype=np.int64)  # where each block's ids of each role begin
    for k in range(n_roles):
        at = starts[k]
        for b in range(nb):
            pos[b, k] = at
            at += counts[b, k]
        starts[k + 1] = at
    ids = np.empty(starts[-1], dtype=np.int64)
    for b in prange(nb):
        p = pos[b].copy()
        for i in range(*span(blocks, b)):
            if detained[i] == 0 and role[i] > 0:
                ids[p[role[i]]] = i
                p[role[i]] += 1
    return ids, starts


class TradeState:
    """State the society-side modules share, one per run (``sim.trade``).

    Goods owned by households are kept by owner province (the province of the partners who
    imported them) and location: ``qty[o, r]`` US$ at landed cost, ``trans[o, r]`` transport
    already paid on them. Row sums equal the owners' ``households.goods_stake``; column sums equal
    ``sim.market.goods_households``. ``seized`` is this week's goods seized at checkpoints by
    province (US$ at cost), for the enforcement module.
    """

    def __init__(self, sim: Sim) -> None:
        r = sim.world.n_regions
        hh = sim.people.households
        self.n_regions = r
        self.qty = np.zeros((r, r))
        self.trans = np.zeros((r, r))
        self.tracked = np.zeros(r)  # owner totals the stakes were last scaled to
        if "goods_stake" not in hh.states:  # US$ at landed cost of goods a household owns
            hh.add("goods_stake", np.float32)
        if "market_income" not in hh.states:  # net market income this week (US$)
            hh.add("market_income", np.float32)
        if "ties_strength" not in hh.states:  # summed strength of a household's ties
            hh.add("ties_strength", np.float32)
        self.week = -2
        self.seized = np.zeros(r)  # this week, by province where seized
        self.seized_total = np.zeros(r)  # since the start
        self.goods_demand = np.bincount(hh.region, minlength=r).astype(float)  # retail demand last week
        self.sales_ema = np.zeros(r)  # landed US$ of goods sold at retail per week, by owner province (smoothed)
        self.turnover = np.zeros(r)  # market turnover (food + goods) last week, simulated US$
        self.goods_price = np.ones(r)  # retail price of consumer goods per US$ landed, last week
        self.markets = np.zeros(r)  # official + ad hoc markets by province (for entry)
        self.official = np.zeros(r)
        self.mp = None  # merchant-partner ties (network)
        self.nk = None  # ties among North Korean facilitators (network)
        self.region = hh.region  # province of each household (int8, households.region itself: no copy)
        # households are stored by province (synthesis): per-province sums and spreads use reduceat/repeat
        counts = np.bincount(self.region, minlength=r)
        self._sorted = bool(np.all(np.diff(self.region) >= 0))
        self._nz = np.flatnonzero(counts > 0)
        self._counts = counts[self._nz]
        self._starts = (np.cumsum(counts) - counts)[self._nz]
        self._free: np.ndarray | None = None
        self._roles: dict[int, np.ndarray] = {}

    def begin_week(self, sim: Sim) -> None:
        """Zero this week's counters once, whichever society module runs first."""
        if self.week != sim.week:
            self.week = sim.week
            sim.people.households.market_income[:] = 0.0
            self.seized[:] = 0.0
            self.invalidate()

    def region_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-household array by province (float64)."""
        if not self._sorted:
            return np.bincount(self.region, weights=values, minlength=self.n_regions)
        out = np.zeros(self.n_regions)
        out[self._nz] = np.add.reduceat(values, self._starts, dtype=np.float64)
        return out

    def spread(self, per_region: np.ndarray, dtype: type | None = None) -> np.ndarray:
        """Each household's value of a per-province array."""
        x = np.asarray(per_region)
        if dtype is not None:
            x = x.astype(dtype)
        if not self._sorted:
            return x[self.region]
        return np.repeat(x[self._nz], self._counts)

    def fill_by_region(self, out: np.ndarray, per_region: np.ndarray) -> np.ndarray:
        """Set each household's entry of ``out`` to its province's value (in place)."""
        x = np.asarray(per_region, dtype=out.dtype)
        out[:] = x[self.region] if not self._sorted else np.repeat(x[self._nz], self._counts)
        return out

    def mul_by_region(self, arr: np.ndarray, per_region: np.ndarray) -> np.ndarray:
        """Multiply each household's entry of ``arr`` by its province's value (in place)."""
        x = np.asarray(per_region, dtype=arr.dtype)
        arr *= x[self.region] if not self._sorted else np.repeat(x[self._nz], self._counts)
        return arr

    def invalidate(self) -> None:
        """Forget the cached free mask and role indices (roles or detention changed)."""
        self._free = None
        self._roles = {}

    def free(self, sim: Sim) -> np.ndarray:
        """Mask of households not detained (cached for the week)."""
        if self._free is None:
            self._free = sim.people.households.detained == 0
        return self._free

    def role_idx(self, sim: Sim, role: int) -> np.ndarray:
        """Indices of free households in ``role``, ascending (cached for the week: the lists of every market
        role are made in one pass at the first request)."""
        hh = sim.people.households
        if role == ROLE_NONE:
            idx = np.flatnonzero(hh.role == role)
            return idx[hh.detained[idx] == 0]
        if not self._roles:
            order, starts = _free_by_role(sim.blocks, hh.role, hh.detained, len(ROLES))
            self._roles = {k: order[starts[k]:starts[k + 1]] for k in range(1, len(ROLES))}
        return self._roles[role]

    def sync(self, sim: Sim) -> None:
        """Reconcile the ownership matrix with ``sim.market.goods_households`` (others may change it)."""
        sync_goods(self.qty, self.trans, self.tracked, sim.market.goods_households)

    def rescale_stakes(self, sim: Sim) -> None:
        """Scale owners' stakes to what their goods are now (sold and seized goods leave the stakes)."""
        hh = sim.people.households
        self.tracked = _rescale_stakes(self.qty, self.tracked, hh.goods_stake, hh.region)


@njit(cache=True, error_model="numpy")
def sync_goods(qty, trans, tracked, target) -> None:
    """:meth:`TradeState.sync` in one call: goods that appeared in a province (imports) go to its own traders
    (the diagonal), columns with fewer goods than the matrix holds are scaled down (quantities and transport).
    As NumPy: ``add = maximum(target - qty.sum(0), 0)``; ``qty[:, d] *= target[d] / col[d]`` where it shrank."""
    col = colsum(qty)
    r = len(col)
    for j in range(r):
        add = fmax(target[j] - col[j], 0.0)
        qty[j, j] += add
        tracked[j] += add
    for j in range(r):
        if target[j] < col[j]:  # other columns are multiplied by 1.0 in the NumPy form: unchanged
            f = target[j] / (col[j] if col[j] > 0 else 1.0)
            for i in range(r):
                qty[i, j] *= f
                trans[i, j] *= f


@njit(cache=True, error_model="numpy")
def _rescale_stakes(qty, tracked, stake, region):
    """:meth:`TradeState.rescale_stakes`: each positive stake times its province's ``qty.sum(1) / tracked``
    (0 where nothing was tracked), in float32 as NumPy multiplies the float32 stakes. Returns the new owner
    totals (``qty.sum(1)``)."""
    actual = rowsum(qty)
    ratio = np.empty(len(actual), dtype=np.float32)
    for k in range(len(actual)):
        ratio[k] = np.float32(actual[k] / tracked[k]) if tracked[k] > 0 else np.float32(0.0)
    for i in range(len(stake)):
        if stake[i] > 0:
            stake[i] = np.float32(stake[i] * ratio[region[i]])
    return actual


def trade_state(sim: Sim) -> TradeState:
    """The run's shared :class:`TradeState` (``sim.trade``, made by the simulation before any module is set up)."""
    return sim.trade
