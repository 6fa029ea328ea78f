"""Distribution and markets: goods travel inland; markets official and ad hoc.

"Local Chinese merchants ... play a middleman role by supplying Chinese consumer goods on a
wholesale basis to be sold by North Korean business partners on a retail basis, predominantly in
Hamgyong Province" (Park 2009). "Wah-ku forgery has accelerated the scale and scope of commercial
activity in North Korea, which, in turn, provides more North Koreans with access to small ad hoc
markets sprouting up along the routes and areas where this activity is common." And: "North
Koreans in other parts of the country - particularly regions farther away from the Sino-DPRK
border - who did not have regular access to commercial networks like those in HamJi were not able
to derive similar benefits."

Each week a share of the household-owned goods in each province moves to provinces farther from
the border, along shortest road paths inside the DPRK: destination d pulls goods from origin o with
weight ``demand_d * max(P_d - P_o - transport per unit, 0) / P_o * exp(-km / decay)`` (P = last
week's retail price of goods per US$ landed), against ``demand_o`` for staying, so goods flow where
they are scarce until prices differ by no more than the cost of carrying them. Every province entered is a checkpoint where a
share of the goods is seized
(goods vanish; no money moves). Transport costs US$ per tonne-km; the goods' owners (the partner
households that imported them) pay it to shipper households of the province the goods leave, and
the cost is carried in the goods' unit cost, so prices rise with distance.

Official markets start from the CSIS provincial counts (scaled back to 2000) and grow each year
with market turnover. Ad hoc markets appear on a route segment or border approach whose smoothed
flow has stayed above a threshold for some weeks, and fade once the flow stops.

This file also holds the plumbing the four society-side modules share (:class:`TradeState` on
``sim.market.trade``): who owns which goods where, this week's market income, and helpers that pay
households region by region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from hamji import data
from hamji.accounts import pay_from_households, pay_household
from hamji.kernels import colsum, fmax, fmin, pairwise_sum, psum, rowsum, span
from hamji.module import Metric, Module
from hamji.people import ROLE_NONE, ROLE_SELLER, ROLE_SHIPPER, ROLES

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


# ------------------------------------------------------------------------------------------------
# Shared plumbing of wholesale, distribution, retail and network
# ------------------------------------------------------------------------------------------------
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
    """State the society-side modules share, one per run (``sim.market.trade``).

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
        _sync(self.qty, self.trans, self.tracked, sim.market.goods_households)

    def rescale_stakes(self, sim: Sim) -> None:
        """Scale owners' stakes to what their goods are now (sold and seized goods leave the stakes)."""
        hh = sim.people.households
        self.tracked = _rescale_stakes(self.qty, self.tracked, hh.goods_stake, hh.region)


@njit(cache=True, error_model="numpy")
def _sync(qty, trans, tracked, target) -> None:
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
    """The run's shared :class:`TradeState`, created on first use."""
    ts = getattr(sim.market, "trade", None)
    if ts is None:
        ts = TradeState(sim)
        sim.market.trade = ts
    return ts


def credit(sim: Sim, idx: np.ndarray, amount: np.ndarray, market: bool = True, fx: bool = False,
           income_share: float = 1.0) -> None:
    """Pay ``amount`` to households ``idx`` (unique): money, and ``income_share`` of it as (market) income.

    ``income_share`` < 1 when part of a receipt only returns the household's own outlay (a partner
    recovering the cost of goods it sold earns only the markup).
    """
    hh = sim.people.households
    if fx:
        hh.fx[idx] += amount
    else:
        hh.cash[idx] += amount
    earned = amount if income_share == 1.0 else amount * income_share
    hh.income[idx] += earned
    if market:
        hh.market_income[idx] += earned


@njit(cache=True)
def _group_totals(idx, region, weights, tot) -> None:
    """``tot[province] += weight`` over the households ``idx`` (weight 1 if ``weights`` is empty), in order, as
    np.bincount adds them."""
    equal = len(weights) == 0
    for j in range(len(idx)):
        tot[region[idx[j]]] += 1.0 if equal else weights[j]


@njit(cache=True)
def _group_credit(idx, region, weights, per, money, income, market_income, market, income_share) -> None:
    """Pay each household ``idx[j]`` its weight x its province's ``per`` (if positive) as :func:`credit` does:
    to ``money`` (cash or foreign currency), and ``income_share`` of it to (market) income."""
    equal = len(weights) == 0
    for j in range(len(idx)):
        i = idx[j]
        amount = (1.0 if equal else weights[j]) * per[region[i]]
        if amount > 0:
            money[i] += amount
            earned = amount if income_share == 1.0 else amount * income_share
            income[i] = np.float32(income[i] + earned)
            if market:
                market_income[i] = np.float32(market_income[i] + earned)


@njit(cache=True, error_model="numpy")
def _share_begin(amounts, left) -> bool:
    """``left[:] = where(amounts > 0, amounts, 0)``; returns ``left.any()``."""
    more = False
    for k in range(len(amounts)):
        left[k] = amounts[k] if amounts[k] > 0 else 0.0
        more = more or left[k] != 0
    return more


@njit(cache=True, error_model="numpy")
def _share_group(idx, region, weights, left, paid, money, income, market_income, market, income_share) -> bool:
    """One group of :func:`share_out`: the provinces where the group has weight take what is left there,
    shared by weight (``left / group total`` each unit of weight), and are then done. Returns whether any
    amount is still left."""
    r = len(left)
    tot = np.zeros(r)
    _group_totals(idx, region, weights, tot)
    per = np.zeros(r)
    any_ok = False
    for k in range(r):
        if tot[k] > 0 and left[k] > 0:
            per[k] = left[k] / tot[k]
            any_ok = True
    if any_ok:
        _group_credit(idx, region, weights, per, money, income, market_income, market, income_share)
        for k in range(r):
            if tot[k] > 0 and left[k] > 0:
                paid[k] += left[k]
                left[k] = 0.0
    more = False
    for k in range(r):
        more = more or left[k] != 0
    return more


@njit(cache=True, error_model="numpy")
def _share_rest(region, left, paid, money, income, market_income, market, income_share) -> None:
    """Last resort of :func:`share_out`: what is left in a province goes to all its households equally, paid as
    :func:`credit` pays (no test of the amount's sign)."""
    r = len(left)
    cnt = np.zeros(r)
    for i in range(len(region)):
        if left[region[i]] > 0:
            cnt[region[i]] += 1.0
    for i in range(len(region)):
        k = region[i]
        if left[k] > 0:
            amount = left[k] / cnt[k]
            money[i] += amount
            earned = amount if income_share == 1.0 else amount * income_share
            income[i] = np.float32(income[i] + earned)
            if market:
                market_income[i] = np.float32(market_income[i] + earned)
    for k in range(r):
        if cnt[k] > 0:
            paid[k] += left[k]


def share_out(sim: Sim, amounts: np.ndarray, groups: Sequence[tuple[np.ndarray, np.ndarray | None]],
              market: bool = True, fx: bool = False, income_share: float = 1.0) -> np.ndarray:
    """Pay each province's amount to its households in the first group that has members there.

    ``groups`` is a list of (household indices, weights or None for equal shares); within a group
    a province's amount is shared in proportion to the weights. Whatever no group can take is paid
    to all households of the province (every DPRK province has households), so the whole amount is
    always paid. Returns the amounts paid by province (equal to ``amounts`` for DPRK provinces).
    """
    region = trade_state(sim).region
    r = len(amounts)
    left = np.empty(r)
    paid = np.zeros(r)
    more = _share_begin(amounts, left)
    hh = sim.people.households
    money = hh.fx if fx else hh.cash
    for idx, w in groups:
        if not more:
            break
        if len(idx) == 0:
            continue
        if w is None:
            weights = _EQUAL  # empty: equal shares
        elif w.dtype == np.float32 or w.dtype == np.float64:
            weights = w  # read as float64 in the kernel, as w.astype(np.float64) would give
        else:
            weights = w.astype(np.float64)
        more = _share_group(idx, region, weights, left, paid, money, hh.income, hh.market_income, market,
                            float(income_share))
    if more:  # last resort: every household of the province, equally
        _share_rest(region, left, paid, money, hh.income, hh.market_income, market, float(income_share))
    return paid


_EQUAL = np.ones(0)  # weights of a group sharing equally (see _group_totals)


@njit(cache=True, error_model="numpy")
def _charge(idx, amount, cash, fx):
    """:func:`charge` on float64 amounts in one call: each household's amount (at least 0) from its cash, the rest
    from its foreign currency, never below zero (as ``pay_from_households`` on copies written back, so a repeated
    index ends with its last entry's result)."""
    n = len(idx)
    paid = np.empty(n)
    c = np.empty(n)
    f = np.empty(n)
    for j in range(n):
        a = fmax(amount[j], 0.0)
        from_cash = fmin(cash[idx[j]], a)
        c[j] = cash[idx[j]] - from_cash
        from_fx = fmin(fx[idx[j]], a - from_cash)
        f[j] = fx[idx[j]] - from_fx
        paid[j] = from_cash + from_fx
    for j in range(n):
        cash[idx[j]] = c[j]
        fx[idx[j]] = f[j]
    return paid


def charge(sim: Sim, idx: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Take ``amount`` from households ``idx`` (won first, then foreign currency); returns what each paid."""
    hh = sim.people.households
    if (isinstance(amount, np.ndarray) and amount.dtype == np.float64 and amount.shape == idx.shape
            and idx.ndim == 1 and idx.dtype.kind in "iu"):
        return _charge(idx, amount, hh.cash, hh.fx)
    c, f = hh.cash[idx], hh.fx[idx]
    paid = pay_from_households(c, f, amount)
    hh.cash[idx], hh.fx[idx] = c, f
    return paid


def find_module(sim: Sim, name: str) -> Module | None:
    """The module called ``name`` in this run, if it is in the plan."""
    for m in sim.modules:
        if m.name == name:
            return m
    return None


# ------------------------------------------------------------------------------------------------
# Routes
# ------------------------------------------------------------------------------------------------
def dprk_routes(sim: Sim) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Shortest road paths between DPRK provinces (inside the DPRK).

    Returns (km[R, R], hop[R, R, R], edge_use[R*R, E], edges): ``hop[o, d, x]`` is k if province x
    is the k-th province entered on the way from o to d (0 if not on the path); ``edge_use`` maps
    an (o, d) flow onto the route segments it travels.
    """
    w = sim.world
    r = w.n_regions
    dprk = set(int(i) for i in w.dprk)
    km = np.full((r, r), np.inf)
    nxt = np.full((r, r), -1, dtype=int)
    for i in dprk:
        km[i, i] = 0.0
        nxt[i, i] = i
        for j in dprk:
            if i != j and np.isfinite(w.route_km[i, j]):
                km[i, j] = w.route_km[i, j]
                nxt[i, j] = j
    for k in sorted(dprk):  # Floyd-Warshall with successors on ~11 nodes
        for i in sorted(dprk):
            for j in sorted(dprk):
                if km[i, k] + km[k, j] < km[i, j] - 1e-9:
                    km[i, j] = km[i, k] + km[k, j]
                    nxt[i, j] = nxt[i, k]
    edges = sorted({(min(i, j), max(i, j)) for i in dprk for j in dprk if i != j and np.isfinite(w.route_km[i, j])})
    eidx = {e: n for n, e in enumerate(edges)}
    hop = np.zeros((r, r, r), dtype=np.int16)
    use = np.zeros((r * r, len(edges)))
    for o in dprk:
        for d in dprk:
            if o == d or nxt[o, d] < 0:
                continue
            cur, k = o, 0
            while cur != d:
                step = nxt[cur, d]
                k += 1
                hop[o, d, step] = k
                use[o * r + d, eidx[(min(cur, step), max(cur, step))]] = 1.0
                cur = step
    return km, hop, use, edges


def initial_official_markets(sim: Sim) -> np.ndarray:
    """Official markets per province in 2018 (CSIS, scaled to the 436 national total)."""
    w = sim.world
    csis = data.cached("markets_csis_by_province.csv")
    counts = dict(zip(csis.province, csis.n_markets_geocoded.astype(float)))
    total = counts.pop("TOTAL", sum(counts.values()))
    national = data.cached("markets.csv")
    n2018 = national[(national.scope == "national") & (national.year == 2018)].n_markets
    scale = float(n2018.iloc[0]) / total if len(n2018) else 1.0
    folded = {"Kaesong": "North Hwanghae", "Nampo": "South Pyongan", "Chagang (Jagang)": "Jagang"}
    out = np.zeros(w.n_regions)
    for name, n in counts.items():
        name = folded.get(name, name)
        if name in w.index:
            out[w.index[name]] += n * scale
    return out


_PRICE_FLOOR = 1e-12  # goods price an origin's pull is divided by at least (a guard against a zero price)


@njit(cache=True, error_model="numpy")
def _ship(qty, trans, goods, tracked, price, demand, per_unit, decay, km_t, seize_at, z, inland, dprk, on,
          mobility, usd_per_tkm, route_finite, stake, region, cash, fx, work, seized, seized_total, moved_in, fee, flows):
    """The week's ownership and shipments in one call (NumPy's operations and orders of summation, to the bit):
    :meth:`TradeState.sync`, then, if ``on`` and there are goods, :func:`_ship_goods` (arbitrage, bills and
    payments, seizures and arrivals); then the households' goods by location. ``work`` holds three
    (owner, location, destination) arrays: goods moving, their transport cost, transport already paid on them.
    Writes ``moved_in``, ``fee`` (transport by the province left) and ``flows``; returns whether any owner was
    billed (then ``fee`` is to be shared out to shippers)."""
    _sync(qty, trans, tracked, goods)
    r = qty.shape[0]
    moved_in[:] = 0.0
    fee[:] = 0.0
    flows[:] = 0.0
    billed = False
    if on and psum(qty.reshape(-1)) > 0:
        billed = _ship_goods(qty, trans, price, demand, per_unit, decay, km_t, seize_at, z, inland, dprk, mobility,
                             usd_per_tkm, route_finite, stake, region, cash, fx, work, seized, moved_in, fee, flows)
    col = colsum(qty)
    for k in range(r):
        goods[k] = col[k]
        seized_total[k] += seized[k]
    return billed


@njit(cache=True, error_model="numpy")
def _finite(a) -> bool:
    """Whether every value of ``a`` is finite."""
    for x in a.reshape(-1):
        if not np.isfinite(x):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _ship_goods(qty, trans, price, demand, per_unit, decay, km_t, seize_at, z, inland, dprk, mobility,
                usd_per_tkm, route_finite, stake, region, cash, fx, work, seized, moved_in, fee, flows):
    """One week of inland shipments (see :func:`_ship`): who moves what where, who pays whom, what is seized.

    Most (owner, location) cells hold no goods: their rows of the (owner, location, destination) arrays are zeros
    and are skipped in the sums. With finite factors (``route_finite``, shares, payment ratios) a zero cell only
    adds zeros, which changes no sum of NumPy's (sums start from +0.0); otherwise every cell is computed."""
    r = qty.shape[0]
    rr = r * r
    move, cost, tmove = work[0], work[1], work[2]
    # arbitrage: d pulls goods from o when its goods price exceeds o's plus the transport per unit
    # gap = maximum(P_d - P_o - per_unit, 0) / maximum(P_o, floor); pull = demand_d * gap * decay (where inland)
    frac = np.empty((r, r))
    for o in range(r):
        den_p = fmax(price[o], _PRICE_FLOOR)
        for d in range(r):
            gap = fmax(price[d] - price[o] - per_unit[o, d], 0.0) / den_p
            frac[o, d] = demand[d] * gap * decay[o, d] if inland[o, d] else 0.0
        denom = (0.0 + pairwise_sum(frac[o], 0, r)) + (demand[o] if dprk[o] else 0.0)  # w_move.sum(1) + w_stay
        for d in range(r):
            frac[o, d] = mobility * frac[o, d] / denom if denom > 0 else 0.0
    dense = not (route_finite and _finite(frac))
    held = np.empty((r, r), dtype=np.bool_)  # cells (owner, location) computed
    for o in range(r):
        for l in range(r):
            held[o, l] = dense or qty[o, l] != 0 or trans[o, l] != 0
    # move[o, l, d]: goods of owner o at location l moving to d; cost = move * tonne-km per US$ * US$ per tonne-km
    for o in range(r):
        for l in range(r):
            for d in range(r):
                if held[o, l]:
                    move[o, l, d] = qty[o, l] * frac[l, d]
                    cost[o, l, d] = move[o, l, d] * km_t[l, d] * usd_per_tkm
                else:
                    move[o, l, d] = 0.0
                    cost[o, l, d] = 0.0
    flat = cost.reshape(-1)
    bill = np.empty(r)  # cost.sum(axis=(1, 2)), by owner province
    billed = False
    for o in range(r):
        bill[o] = 0.0 + pairwise_sum(flat, o * rr, rr)
        billed = billed or bill[o] != 0
    ok = np.ones(r)
    if billed:
        # owners pay in proportion to their stakes (charge: won first, then foreign currency)
        tot = np.zeros(r)
        payers = np.empty(len(stake), dtype=np.int64)
        n_payers = 0
        for i in range(len(stake)):
            if stake[i] > 0:
                tot[region[i]] += np.float64(stake[i])
                payers[n_payers] = i
                n_payers += 1
        paid_r = np.zeros(r)
        for j in range(n_payers):
            i = payers[j]
            k = region[i]
            want = (bill[k] / tot[k] if tot[k] > 0 else 0.0) * np.float64(stake[i])
            paid_r[k] += pay_household(i, want, cash, fx)
        for o in range(r):
            if bill[o] > 0:
                ok[o] = paid_r[o] / bill[o] if tot[o] > 0 else 0.0
        if not dense and not _finite(ok):  # zeros times a non-finite ratio: compute every cell as NumPy does
            dense = True
            for o in range(r):
                for l in range(r):
                    if not held[o, l]:
                        held[o, l] = True
                        for d in range(r):
                            move[o, l, d] = qty[o, l] * frac[l, d]
                            cost[o, l, d] = move[o, l, d] * km_t[l, d] * usd_per_tkm
        for o in range(r):
            for l in range(r):
                if held[o, l]:
                    for d in range(r):
                        move[o, l, d] *= ok[o]
                        cost[o, l, d] *= ok[o]
        # shippers of the province the goods leave earn the transport: cost.sum(axis=(0, 2))
        for o in range(r):
            for l in range(r):
                if held[o, l]:
                    fee[l] += pairwise_sum(flat, (o * r + l) * r, r)
        diff = psum(paid_r) - psum(fee)
        top = 0  # np.argmax: the first largest (or first NaN)
        for k in range(1, r):
            if not np.isnan(fee[top]) and (fee[k] > fee[top] or np.isnan(fee[k])):
                top = k
        fee[top] += diff  # rounding: pay exactly what owners paid
    # transport already paid moves with the goods; flows (l, d) = move.sum(axis=0)
    tm0 = np.zeros((r, r))  # trans_move.sum(axis=0)
    for o in range(r):
        for l in range(r):
            if held[o, l]:
                for d in range(r):
                    tmove[o, l, d] = trans[o, l] * frac[l, d] * ok[o]
                    flows[l, d] += move[o, l, d]
                    tm0[l, d] += tmove[o, l, d]
            else:
                for d in range(r):
                    tmove[o, l, d] = 0.0
    # seized[x] += einsum("ld,ldx->x", flows + trans_move.sum(axis=0), seize_at)
    got = np.zeros(r)
    for l in range(r):
        for d in range(r):
            a = flows[l, d] + tm0[l, d]
            if dense or a != 0:
                for x in range(r):
                    got[x] += a * seize_at[l, d, x]
    for x in range(r):
        seized[x] += got[x]
    # arrivals (owner, d): what is not seized on the way, and transport paid so far plus this trip's
    arrive = np.zeros((r, r))
    t_arrive = np.zeros((r, r))
    t_cost = np.zeros((r, r))
    mflat = move.reshape(-1)
    tflat = tmove.reshape(-1)
    for o in range(r):
        for l in range(r):
            if held[o, l]:
                for d in range(r):
                    keep = 1.0 - z[l, d]
                    arrive[o, d] += move[o, l, d] * keep
                    t_arrive[o, d] += tmove[o, l, d] * keep
                    t_cost[o, d] += cost[o, l, d]
    for o in range(r):
        for l in range(r):
            if held[o, l]:
                qty[o, l] -= 0.0 + pairwise_sum(mflat, (o * r + l) * r, r)
                trans[o, l] -= 0.0 + pairwise_sum(tflat, (o * r + l) * r, r)
    for o in range(r):
        for d in range(r):
            qty[o, d] = fmax(qty[o, d] + arrive[o, d], 0.0)
            trans[o, d] = fmax(trans[o, d] + (t_arrive[o, d] + t_cost[o, d]), 0.0)
    moved_in[:] = colsum(arrive)
    return billed


@njit(cache=True, error_model="numpy")
def _adhoc(edge_flow, imports_wholesale, imports_company, dprk, scale, smoothing, threshold, usd_per_market,
           max_per_site, persist_weeks, fade_weeks, fade_share, flow_ema, above, below, adhoc, site_region,
           turnover_year, turnover, official, markets, adhoc_r) -> None:
    """The week's ad hoc markets in one call: smoothed flow of each site (route segments, then border
    approaches), weeks above or below the threshold, one market more a week up to the flow's target, a share
    fading once the flow has stopped; the turnover of the year; markets by province (official + ad hoc)."""
    n_edges = len(edge_flow)
    for s in range(len(flow_ema)):
        if s < n_edges:
            flow = edge_flow[s] * scale  # real US$ this week
        else:
            k = dprk[s - n_edges]
            flow = (imports_wholesale[k] + imports_company[k]) * scale
        flow_ema[s] += smoothing * (flow - flow_ema[s])
        hot = flow_ema[s] >= threshold
        if hot:
            above[s] += 1
            below[s] = 0
        else:
            above[s] = 0
            below[s] += 1
        target = fmin(np.floor(flow_ema[s] / usd_per_market), max_per_site)
        x = adhoc[s]
        if hot and above[s] >= persist_weeks and x < target:
            x = x + 1.0  # one new market a week at most
        if below[s] >= fade_weeks:
            x = x - np.ceil(x * fade_share)
        adhoc[s] = fmax(x, 0.0)
    for k in range(len(turnover_year)):
        turnover_year[k] += turnover[k]
    adhoc_r[:] = 0.0
    for s in range(len(adhoc)):
        adhoc_r[site_region[s]] += adhoc[s]
    for k in range(len(markets)):
        markets[k] = official[k] + adhoc_r[k]


class Distribution(Module):
    """Moves partner-owned goods inland (cost, seizure), pays shippers, grows official and ad hoc markets."""

    name = "distribution"
    passage = ("Goods move inland along routes, each hop adding cost and inspection risk; official markets grow and ad hoc"
               " markets appear along busy routes.\n'... small ad hoc markets sprouting up along the routes and areas where"
               " this activity is common' (Park 2009).")
    metrics = (
        Metric("markets_official", "markets", "Official (state-sanctioned) markets in the province at the end of the week:"
               " the CSIS 2018 count scaled back to 2000 (distribution_markets_initial_ratio), growing each year with"
               " market turnover (distribution_markets_elasticity). Not scaled: a real count.", annual="last"),
        Metric("markets_adhoc", "markets", "Small ad hoc markets along route segments and border approaches whose smoothed"
               " goods flow has stayed above distribution_adhoc_threshold_usd for distribution_adhoc_persist_weeks;"
               " a segment's markets count in its inland province. Real count (flows are scaled before comparing).",
               annual="last"),
        Metric("transport_cost_usd", "US$", "Transport paid by goods owners to shipper households for moving goods"
               " inland, by the province the goods leave.", scaled=True),
        Metric("goods_seized_usd", "US$", "Goods seized at checkpoints on inland routes, by province where seized"
               " (value at landed cost plus transport).", scaled=True),
        Metric("goods_moved_usd", "US$", "Goods arriving by inland shipment, by destination province (landed value).",
               scaled=True),
    )

    def setup(self, sim: Sim) -> None:
        ts = trade_state(sim)
        w = sim.world
        r = w.n_regions
        self.km, self.hop, self.edge_use, self.edges = dprk_routes(sim)
        dprk = np.zeros(r, dtype=bool)
        dprk[w.dprk] = True
        self.dprk = dprk
        bk = w.border_km
        # a destination must lie farther from the border than the origin ("goods travel inland")
        self.inland = dprk[:, None] & dprk[None, :] & (bk[None, :] > bk[:, None]) & np.isfinite(self.km)
        self.km_f = np.where(np.isfinite(self.km), self.km, 0.0)
        # sites of ad hoc markets: route segments (to their inland province) and border approaches
        e_reg = [a if bk[a] > bk[b] else b for a, b in self.edges]
        self.site_region = np.array(e_reg + list(w.dprk), dtype=int)
        n_sites = len(self.site_region)
        self.flow_ema = np.zeros(n_sites)
        self.above = np.zeros(n_sites, dtype=int)
        self.below = np.zeros(n_sites, dtype=int)
        self.adhoc = np.zeros(n_sites)
        self.base_official = initial_official_markets(sim) * sim.pars.distribution_markets_initial_ratio
        ts.official[:] = self.base_official
        self.turnover_year = np.zeros(r)
        self.turnover_ref: np.ndarray | None = None
        ts.markets[:] = ts.official
        self.seized = ts.seized  # this week's seizures by province (alias of sim.market.trade.seized)
        self._route_key: tuple | None = None  # parameters of the route constants (_route_constants)
        # this week's region-level outputs and the kernels' work arrays (owner, location, destination)
        self._moved_in = np.zeros(r)
        self._transport = np.zeros(r)
        self._flows = np.zeros((r, r))
        self._adhoc_r = np.zeros(r)  # ad hoc markets by province
        self._work = np.zeros((3, r, r, r))

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        ts = trade_state(sim)
        ts.begin_week(sim)
        pars = sim.pars
        per_unit, decay, km_t, seize_at, z, route_finite = self._route_constants(pars)
        hh = sim.people.households
        moved_in, transport, flows = self._moved_in, self._transport, self._flows
        billed = _ship(ts.qty, ts.trans, sim.market.goods_households, ts.tracked, ts.goods_price, ts.goods_demand,
                       per_unit, decay, km_t, seize_at, z, self.inland, self.dprk, bool(pars.distribution_on),
                       float(pars.distribution_mobility), float(pars.distribution_usd_per_tkm), route_finite, hh.goods_stake,
                       hh.region, hh.cash, hh.fx, self._work, ts.seized, ts.seized_total, moved_in, transport, flows)
        if billed:  # shippers of the province the goods leave earn the transport
            share_out(sim, transport, [(ts.role_idx(sim, ROLE_SHIPPER), None), (ts.role_idx(sim, ROLE_SELLER), None)])
        self._markets(sim, ts, flows)
        res = sim.results
        res.record("transport_cost_usd", transport)
        res.record("goods_seized_usd", ts.seized)
        res.record("goods_moved_usd", moved_in)
        res.record("markets_official", np.round(ts.official))
        res.record("markets_adhoc", self._adhoc_r)

    def _route_constants(self, pars) -> tuple:
        """What the routes' lengths and the parameters give, computed again only when one of those parameters
        changes: transport cost per unit of goods (o, d), the distance decay of the pull (o, d), tonne-km
        per US$ of goods (o, d), and the checkpoints: ``seize_at`` (o, d, x), the share p of a shipment seized
        at each province x entered, ``p (1 - p) ** (hops before x)``, ``z`` (o, d), the share seized on the way, and
        whether all of them are finite (then :func:`_ship_goods` may skip empty cells)."""
        key = (pars.distribution_usd_per_tkm, pars.consumer_goods_usd_per_t, pars.distribution_decay_km,
               pars.distribution_seize_share)
        if self._route_key != key:
            per_unit = self.km_f * pars.distribution_usd_per_tkm / pars.consumer_goods_usd_per_t
            decay = np.exp(-self.km_f / pars.distribution_decay_km)
            km_t = self.km_f / pars.consumer_goods_usd_per_t
            p = pars.distribution_seize_share
            seize_at = np.where(self.hop > 0, p * (1.0 - p) ** np.maximum(self.hop - 1, 0), 0.0)
            finite = bool(np.isfinite(km_t).all() and np.isfinite(seize_at).all() and np.isfinite(pars.distribution_usd_per_tkm))
            self._route = (per_unit, decay, km_t, seize_at, seize_at.sum(axis=2), finite)
            self._route_key = key
        return self._route

    def _markets(self, sim: Sim, ts: TradeState, flows: np.ndarray) -> None:
        """Ad hoc markets on busy route segments and border approaches; yearly growth of official markets."""
        pars = sim.pars
        edge_flow = flows.reshape(-1) @ self.edge_use  # BLAS: kept in NumPy (its order of additions)
        _adhoc(edge_flow, sim.market.imports_wholesale, sim.market.imports_company, sim.world.dprk, float(sim.scale),
               float(pars.distribution_flow_smoothing), float(pars.distribution_adhoc_threshold_usd),
               float(pars.distribution_adhoc_usd_per_market), float(pars.distribution_adhoc_max_per_site),
               float(pars.distribution_adhoc_persist_weeks), float(pars.distribution_adhoc_fade_weeks),
               float(pars.distribution_adhoc_fade_share), self.flow_ema, self.above, self.below, self.adhoc,
               self.site_region, self.turnover_year, ts.turnover, ts.official, ts.markets, self._adhoc_r)
        # official markets: yearly, with last year's turnover relative to the first year's
        if sim.new_year and sim.week > 0:
            if self.turnover_ref is None:
                self.turnover_ref = self.turnover_year.copy()
            else:
                ref = self.turnover_ref
                with np.errstate(invalid="ignore", divide="ignore"):
                    growth = np.where(ref > 0, self.turnover_year / np.where(ref > 0, ref, 1.0), 1.0)
                target = self.base_official * growth ** pars.distribution_markets_elasticity
                ts.official[:] = np.maximum(ts.official, target)
            self.turnover_year[:] = 0.0
            ts.markets[:] = ts.official + self._adhoc_r
