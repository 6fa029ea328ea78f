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

Who owns which goods where is the shared :class:`hamji.trade.TradeState`; payments go through
:mod:`hamji.payments`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji import data
from hamji.kernels import colsum, fmax, fmin, pairwise_sum, psum
from hamji.module import Metric, Module
from hamji.payments import pay_household, share_out
from hamji.people import ROLE_SELLER, ROLE_SHIPPER
from hamji.trade import TradeState, sync_goods, trade_state

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


# ------------------------------------------------------------------------------------------------
# Shared plumbing of wholesale, distribution, retail and network
# ------------------------------------------------------------------------------------------------





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
    sync_goods(qty, trans, tracked, goods)
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
