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
they are scarce until prices differ by no more than the cost of carrying them. Every province entered is a checkpoint where a share of the goods is seized
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

from typing import TYPE_CHECKING, Sequence

import numpy as np
from numba import njit, prange

from hamji import data
from hamji.accounts import pay_from_households
from hamji.kernels import ratio_or, span
from hamji.module import Metric, Module
from hamji.people import ROLE_NONE, ROLE_SELLER, ROLE_SHIPPER, ROLES

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


# ------------------------------------------------------------------------------------------------
# Shared plumbing of wholesale, distribution, retail and network
# ------------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def _free_by_role(blocks, role, detained, n_roles):  # noqa: ANN001, ANN201
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

    def __init__(self, sim: "Sim") -> None:
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
        self.region = hh.region.astype(np.intp)  # province of each household, as an index array
        # households are stored by province (synthesis): per-province sums and spreads use reduceat/repeat
        counts = np.bincount(self.region, minlength=r)
        self._sorted = bool(np.all(np.diff(self.region) >= 0))
        self._nz = np.flatnonzero(counts > 0)
        self._counts = counts[self._nz]
        self._starts = (np.cumsum(counts) - counts)[self._nz]
        self._free: np.ndarray | None = None
        self._roles: dict[int, np.ndarray] = {}

    def begin_week(self, sim: "Sim") -> None:
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

    def free(self, sim: "Sim") -> np.ndarray:
        """Mask of households not detained (cached for the week)."""
        if self._free is None:
            self._free = sim.people.households.detained == 0
        return self._free

    def role_idx(self, sim: "Sim", role: int) -> np.ndarray:
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

    def sync(self, sim: "Sim") -> None:
        """Reconcile the ownership matrix with ``sim.market.goods_households`` (others may change it)."""
        col = self.qty.sum(axis=0)
        target = sim.market.goods_households
        add = np.maximum(target - col, 0.0)
        idx = np.arange(self.n_regions)
        self.qty[idx, idx] += add  # goods that appeared (e.g. imports) belong to the province's traders
        self.tracked += add
        shrink = target < col
        if shrink.any():
            f = np.where(shrink, target / np.where(col > 0, col, 1.0), 1.0)
            self.qty *= f[None, :]
            self.trans *= f[None, :]

    def rescale_stakes(self, sim: "Sim") -> None:
        """Scale owners' stakes to what their goods are now (sold and seized goods leave the stakes)."""
        hh = sim.people.households
        actual = self.qty.sum(axis=1)
        ratio = ratio_or(actual, self.tracked)
        idx = np.flatnonzero(hh.goods_stake > 0)
        if len(idx):
            hh.goods_stake[idx] *= ratio[hh.region[idx]].astype(np.float32)
        self.tracked = actual


def trade_state(sim: "Sim") -> TradeState:
    """The run's shared :class:`TradeState`, created on first use."""
    ts = getattr(sim.market, "trade", None)
    if ts is None:
        ts = TradeState(sim)
        sim.market.trade = ts
    return ts


def credit(sim: "Sim", idx: np.ndarray, amount: np.ndarray, market: bool = True, fx: bool = False,
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
def _group_totals(idx, region, weights, tot) -> None:  # noqa: ANN001
    """``tot[province] += weight`` over the households ``idx`` (weight 1 if ``weights`` is empty), in order, as
    np.bincount adds them."""
    equal = len(weights) == 0
    for j in range(len(idx)):
        tot[region[idx[j]]] += 1.0 if equal else weights[j]


@njit(cache=True)
def _group_credit(idx, region, weights, per, money, income, market_income, market, income_share) -> None:  # noqa: ANN001
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


def share_out(sim: "Sim", amounts: np.ndarray, groups: Sequence[tuple[np.ndarray, np.ndarray | None]],
              market: bool = True, fx: bool = False, income_share: float = 1.0) -> np.ndarray:
    """Pay each province's amount to its households in the first group that has members there.

    ``groups`` is a list of (household indices, weights or None for equal shares); within a group
    a province's amount is shared in proportion to the weights. Whatever no group can take is paid
    to all households of the province (every DPRK province has households), so the whole amount is
    always paid. Returns the amounts paid by province (equal to ``amounts`` for DPRK provinces).
    """
    region = trade_state(sim).region
    r = len(amounts)
    left = np.where(amounts > 0, amounts, 0.0)
    paid = np.zeros(r)
    hh = sim.people.households
    for idx, w in groups:
        if not left.any():
            break
        if len(idx) == 0:
            continue
        weights = np.ones(0) if w is None else w.astype(np.float64, copy=False)  # empty: equal shares
        tot = np.zeros(r)
        _group_totals(idx, region, weights, tot)
        ok = (tot > 0) & (left > 0)
        if not ok.any():
            continue
        per = np.where(ok, left / np.where(ok, tot, 1.0), 0.0)
        _group_credit(idx, region, weights, per, hh.fx if fx else hh.cash, hh.income, hh.market_income, market,
                      float(income_share))
        paid += np.where(ok, left, 0.0)
        left = np.where(ok, 0.0, left)
    if left.any():  # last resort: every household of the province, equally
        idx = np.flatnonzero(left[region] > 0)
        if len(idx):
            reg = region[idx]
            cnt = np.bincount(reg, minlength=r).astype(float)
            amt = (left / np.where(cnt > 0, cnt, 1.0))[reg]
            credit(sim, idx, amt, market, fx, income_share)
            paid += np.where(cnt > 0, left, 0.0)
    return paid


def charge(sim: "Sim", idx: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Take ``amount`` from households ``idx`` (won first, then foreign currency); returns what each paid."""
    hh = sim.people.households
    c, f = hh.cash[idx], hh.fx[idx]
    paid = pay_from_households(c, f, amount)
    hh.cash[idx], hh.fx[idx] = c, f
    return paid


def find_module(sim: "Sim", name: str) -> Module | None:
    """The module called ``name`` in this run, if it is in the plan."""
    for m in sim.modules:
        if m.name == name:
            return m
    return None


# ------------------------------------------------------------------------------------------------
# Routes
# ------------------------------------------------------------------------------------------------
def dprk_routes(sim: "Sim") -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
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


def initial_official_markets(sim: "Sim") -> np.ndarray:
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

    def setup(self, sim: "Sim") -> None:
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

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: "Sim") -> None:
        ts = trade_state(sim)
        ts.begin_week(sim)
        ts.sync(sim)
        pars = sim.pars
        r = ts.n_regions
        moved_in = np.zeros(r)
        transport = np.zeros(r)
        flows = np.zeros((r, r))
        if pars.distribution_on and ts.qty.sum() > 0:
            moved_in, transport, flows = self._ship(sim, ts)
        sim.market.goods_households[:] = ts.qty.sum(axis=0)
        ts.seized_total += ts.seized
        self._markets(sim, ts, flows)
        res = sim.results
        res.record("transport_cost_usd", transport)
        res.record("goods_seized_usd", ts.seized)
        res.record("goods_moved_usd", moved_in)
        res.record("markets_official", np.round(ts.official))
        res.record("markets_adhoc", np.bincount(self.site_region, weights=self.adhoc, minlength=r))

    def _ship(self, sim: "Sim", ts: TradeState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One week of inland shipments: who moves what where, who pays whom, what is seized."""
        pars = sim.pars
        hh = sim.people.households
        r = ts.n_regions
        # arbitrage: d pulls goods from o when its goods price exceeds o's plus the transport per unit
        per_unit, decay, km_t, seize_at, z = self._route_constants(pars)
        price = ts.goods_price
        gap = np.maximum(price[None, :] - price[:, None] - per_unit, 0.0) / np.maximum(price[:, None], 1e-12)
        pull = ts.goods_demand[None, :] * gap * decay
        w_move = np.where(self.inland, pull, 0.0)
        w_stay = np.where(self.dprk, ts.goods_demand, 0.0)
        denom = w_move.sum(axis=1) + w_stay
        frac = np.where(denom[:, None] > 0, pars.distribution_mobility * w_move / np.where(denom > 0, denom, 1.0)[:, None], 0.0)
        # M[o, l, d]: goods of owner o at location l moving to d
        move = ts.qty[:, :, None] * frac[None, :, :]
        tonnes_km = move * km_t
        cost = tonnes_km * pars.distribution_usd_per_tkm
        bill = cost.sum(axis=(1, 2))  # by owner province
        ok = np.ones(r)
        if bill.any():
            payers = np.flatnonzero(hh.goods_stake > 0)
            reg = hh.region[payers]
            stake = hh.goods_stake[payers].astype(np.float64)
            tot = np.bincount(reg, weights=stake, minlength=r)
            want = ratio_or(bill, tot)[reg] * stake
            paid = charge(sim, payers, want)
            paid_r = np.bincount(reg, weights=paid, minlength=r)
            ok = np.where(bill > 0, np.where(tot > 0, paid_r / np.where(bill > 0, bill, 1.0), 0.0), 1.0)
            move *= ok[:, None, None]
            cost *= ok[:, None, None]
            # shippers of the province the goods leave earn the transport
            fee_r = cost.sum(axis=(0, 2))
            diff = paid_r.sum() - fee_r.sum()
            fee_r[np.argmax(fee_r)] += diff  # rounding: pay exactly what owners paid
            share_out(sim, fee_r, [(ts.role_idx(sim, ROLE_SHIPPER), None), (ts.role_idx(sim, ROLE_SELLER), None)])
        else:
            fee_r = np.zeros(r)
        trans_move = ts.trans[:, :, None] * frac[None, :, :] * ok[:, None, None]
        flows = move.sum(axis=0)  # (l, d) landed value on the road
        ts.seized += np.einsum("ld,ldx->x", flows + trans_move.sum(axis=0), seize_at)
        arrive = (move * (1.0 - z)[None]).sum(axis=1)  # (owner, d)
        trans_arrive = ((trans_move * (1.0 - z)[None]).sum(axis=1) + cost.sum(axis=1))
        ts.qty -= move.sum(axis=2)
        ts.trans -= trans_move.sum(axis=2)
        ts.qty += arrive
        ts.trans += trans_arrive
        np.maximum(ts.qty, 0.0, out=ts.qty)
        np.maximum(ts.trans, 0.0, out=ts.trans)
        return arrive.sum(axis=0), fee_r, flows

    def _route_constants(self, pars) -> tuple:  # noqa: ANN001
        """What the routes' lengths and the parameters give, computed again only when one of those parameters
        changes: transport cost per unit of goods (o, d), the distance decay of the pull (o, d), tonne-km
        per US$ of goods (1, o, d), and the checkpoints: ``seize_at`` (o, d, x), the share p of a shipment seized
        at each province x entered, ``p (1 - p) ** (hops before x)``, and ``z`` (o, d), the share seized on the way."""
        key = (pars.distribution_usd_per_tkm, pars.consumer_goods_usd_per_t, pars.distribution_decay_km,
               pars.distribution_seize_share)
        if self._route_key != key:
            per_unit = self.km_f * pars.distribution_usd_per_tkm / pars.consumer_goods_usd_per_t
            decay = np.exp(-self.km_f / pars.distribution_decay_km)
            km_t = self.km_f[None, :, :] / pars.consumer_goods_usd_per_t
            p = pars.distribution_seize_share
            seize_at = np.where(self.hop > 0, p * (1.0 - p) ** np.maximum(self.hop - 1, 0), 0.0)
            self._route = (per_unit, decay, km_t, seize_at, seize_at.sum(axis=2))
            self._route_key = key
        return self._route

    def _markets(self, sim: "Sim", ts: TradeState, flows: np.ndarray) -> None:
        """Ad hoc markets on busy route segments and border approaches; yearly growth of official markets."""
        pars = sim.pars
        r = ts.n_regions
        edge_flow = flows.reshape(-1) @ self.edge_use
        border = (sim.market.imports_wholesale + sim.market.imports_company)[sim.world.dprk]
        site_flow = np.concatenate([edge_flow, border]) * sim.scale  # real US$ this week
        a = pars.distribution_flow_smoothing
        self.flow_ema += a * (site_flow - self.flow_ema)
        hot = self.flow_ema >= pars.distribution_adhoc_threshold_usd
        self.above = np.where(hot, self.above + 1, 0)
        self.below = np.where(hot, 0, self.below + 1)
        target = np.minimum(np.floor(self.flow_ema / pars.distribution_adhoc_usd_per_market),
                            pars.distribution_adhoc_max_per_site)
        grow = hot & (self.above >= pars.distribution_adhoc_persist_weeks) & (self.adhoc < target)
        self.adhoc = np.where(grow, self.adhoc + 1.0, self.adhoc)  # one new market a week at most
        fade = self.below >= pars.distribution_adhoc_fade_weeks
        self.adhoc = np.where(fade, self.adhoc - np.ceil(self.adhoc * pars.distribution_adhoc_fade_share), self.adhoc)
        self.adhoc = np.maximum(self.adhoc, 0.0)
        # official markets: yearly, with last year's turnover relative to the first year's
        self.turnover_year += ts.turnover
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
        ts.markets[:] = ts.official + np.bincount(self.site_region, weights=self.adhoc, minlength=r)
