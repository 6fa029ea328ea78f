"""Distribution and markets: goods travel inland; markets official and ad hoc.

"Local Chinese merchants ... play a middleman role by supplying Chinese consumer goods on a
wholesale basis to be sold by North Korean business partners on a retail basis, predominantly in
Hamgyong Province" (Park 2009). "Wah-ku forgery has accelerated the scale and scope of commercial
activity in North Korea, which, in turn, provides more North Koreans with access to small ad hoc
markets sprouting up along the routes and areas where this activity is common." And: "North
Koreans in other parts of the country - particularly regions farther away from the Sino-DPRK
border - who did not have regular access to commercial networks like those in HamJi were not able
to derive similar benefits."

**Shipments.** Each week a share of the household-owned goods in each province moves to provinces farther from
the border, along shortest road paths inside the DPRK (``km[o, d]``). With ``P`` last week's retail price of goods
per US$ landed, ``D`` last week's retail demand, ``c`` the transport cost (distribution_usd_per_tkm, US$ per
tonne-km), ``v`` the value of a tonne of goods (consumer_goods_usd_per_t), ``L`` the decay length
(distribution_decay_km) and ``m`` the mobility (distribution_mobility)::

    per unit  u[o, d]    = km[o, d] c / v                              (transport per US$ of goods)
    pull      w[o, d]    = D_d max(P_d - P_o - u[o, d], 0) / max(P_o, 1e-12) exp(-km[o, d] / L)
                           (only to d farther from the border than o: "goods travel inland")
    share     f[o, d]    = m w[o, d] / (sum_d' w[o, d'] + D_o)         (D_o: the pull of staying)

so goods flow where they are scarce until prices differ by no more than the cost of carrying them. Goods of owner
province ``q`` at ``o`` moving to ``d`` are ``move = qty[q, o] f[o, d]``; their transport ``move km[o, d] / v c`` is
billed to the owners (the partner households of ``q`` that imported them, by stake; won first, then foreign currency)
and paid to shipper households of ``o`` (sellers if there are none); owners who cannot pay ship only the share they
paid for. Every province entered is a checkpoint where a share ``s`` (distribution_seize_share) of the goods is
seized (goods vanish; no money moves): of a shipment, ``s (1 - s)^(k - 1)`` is seized at the k-th province entered
and ``z[o, d]``, their sum, on the way. What arrives carries its transport in its unit cost (``trans``), so prices
rise with distance.

**Markets.** Official markets start from the CSIS provincial counts (scaled back to 2000 by
distribution_markets_initial_ratio) and grow each year with market turnover: ``official = max(official,
base (turnover last year / turnover of the first year)^elasticity)``. Ad hoc markets have sites: the route segments
(counted in their inland province) and the border approaches (each DPRK province's imports). A site's smoothed flow
``F += a (flow scale - F)`` (real US$ a week, a = distribution_flow_smoothing) is hot at or above the threshold; after
distribution_adhoc_persist_weeks hot weeks a site gains one market a week up to ``min(floor(F / usd per market), max
per site)``, and after distribution_adhoc_fade_weeks cold weeks loses ``ceil(n fade share)`` of its n markets a week.

Who owns which goods where is the shared :class:`hamji.trade.TradeState`; payments go through
:mod:`hamji.payments`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

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
# Records the kernels read
# ------------------------------------------------------------------------------------------------
class ShipPars(NamedTuple):
    """The parameters the shipment kernels read, with what they and the routes give (``parameters_changed``)."""

    on: bool  # distribution_on
    mobility: float  # m = distribution_mobility
    usd_per_tkm: float  # c = distribution_usd_per_tkm
    per_unit: np.ndarray  # u[o, d] = km c / v, transport per US$ of goods
    decay: np.ndarray  # exp(-km / L) (NumPy's exp, between kernels: the project's rule for powers)
    km_t: np.ndarray  # km / v, tonne-km per US$ of goods
    seize_at: np.ndarray  # [o, d, x]: s (1 - s)^(k - 1) if x is the k-th province entered from o to d, else 0
    z: np.ndarray  # [o, d]: seize_at summed over x, the share seized on the way
    inland: np.ndarray  # [o, d]: d is a DPRK province farther from the border than o, by road
    dprk: np.ndarray  # [o]: o is a DPRK province (its demand pulls goods to stay)
    finite: bool  # every factor above is finite (then empty cells may be skipped: see _ship_goods)


class Goods(NamedTuple):
    """The shared trade state the shipments read and write (:class:`hamji.trade.TradeState`), taken each week
    (other modules replace some of these arrays)."""

    qty: np.ndarray  # [owner province, location] US$ at landed cost
    trans: np.ndarray  # [owner province, location] transport already paid on them
    tracked: np.ndarray  # owner totals the stakes were last scaled to
    located: np.ndarray  # the households' goods by location (sim.market.goods_households)
    price: np.ndarray  # P: last week's retail price of goods per US$ landed
    demand: np.ndarray  # D: last week's retail demand
    seized: np.ndarray  # this week's seizures, by province where seized
    seized_total: np.ndarray  # seizures since the start


class Owners(NamedTuple):
    """The households' states the transport bill reads and writes."""

    stake: np.ndarray  # goods_stake (float32): who owns the goods of a province, in which proportion
    region: np.ndarray  # province (int8)
    cash: np.ndarray  # won
    fx: np.ndarray  # foreign currency


class Shipments(NamedTuple):
    """This week's shipments (outputs) and the kernel's work arrays, by (owner, location, destination)."""

    move: np.ndarray  # [q, o, d] goods moving
    cost: np.ndarray  # [q, o, d] their transport cost
    tmove: np.ndarray  # [q, o, d] transport already paid on them, moving with them
    moved_in: np.ndarray  # goods arriving, by destination
    fee: np.ndarray  # transport paid, by the province the goods leave
    flows: np.ndarray  # [o, d] goods moving


class AdhocPars(NamedTuple):
    """The parameters the ad hoc markets' kernel reads (``parameters_changed``)."""

    scale: float  # 1:N, simulated flows times N are real US$
    smoothing: float  # a = distribution_flow_smoothing
    threshold_usd: float  # distribution_adhoc_threshold_usd
    usd_per_market: float  # distribution_adhoc_usd_per_market
    max_per_site: float  # distribution_adhoc_max_per_site
    persist_weeks: float  # distribution_adhoc_persist_weeks
    fade_weeks: float  # distribution_adhoc_fade_weeks
    fade_share: float  # distribution_adhoc_fade_share


class Sites(NamedTuple):
    """The ad hoc markets' sites (route segments, then border approaches) and the markets by province."""

    region: np.ndarray  # province of each site (a segment's inland province)
    approach: np.ndarray  # province of each border approach (sim.world.dprk)
    flow_ema: np.ndarray  # F: smoothed flow, real US$ a week
    above: np.ndarray  # weeks hot in a row
    below: np.ndarray  # weeks cold in a row
    adhoc: np.ndarray  # ad hoc markets of the site
    imports_wholesale: np.ndarray  # this week's imports by province (sim.market): the approaches' flows
    imports_company: np.ndarray
    turnover_year: np.ndarray  # market turnover so far this year, by province
    adhoc_r: np.ndarray  # ad hoc markets by province
    official: np.ndarray  # official markets by province (sim.trade.official)
    markets: np.ndarray  # official + ad hoc, by province (sim.trade.markets)


# ------------------------------------------------------------------------------------------------
# The module
# ------------------------------------------------------------------------------------------------
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
        self.seized = ts.seized  # this week's seizures by province (alias of sim.trade.seized)
        self._adhoc_r = np.zeros(r)  # ad hoc markets by province
        hh = sim.people.households
        self.owners = Owners(hh.goods_stake, hh.region, hh.cash, hh.fx)
        self.out = Shipments(np.zeros((r, r, r)), np.zeros((r, r, r)), np.zeros((r, r, r)), np.zeros(r), np.zeros(r),
                             np.zeros((r, r)))
        self.sites = Sites(self.site_region, w.dprk, self.flow_ema, self.above, self.below, self.adhoc,
                           sim.market.imports_wholesale, sim.market.imports_company, self.turnover_year, self._adhoc_r,
                           ts.official, ts.markets)

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The kernels' parameter records: the shipments' (with the route constants: transport per unit of goods,
        distance decay, tonne-km per US$, the checkpoints' shares) and the ad hoc markets'."""
        pars = sim.pars
        km_f = self.km_f
        per_unit = km_f * pars.distribution_usd_per_tkm / pars.consumer_goods_usd_per_t
        decay = np.exp(-km_f / pars.distribution_decay_km)  # NumPy's exp, not the kernel's (the rule for powers)
        km_t = km_f / pars.consumer_goods_usd_per_t
        s = pars.distribution_seize_share
        seize_at = np.where(self.hop > 0, s * (1.0 - s) ** np.maximum(self.hop - 1, 0), 0.0)  # NumPy's power
        finite = bool(np.isfinite(km_t).all() and np.isfinite(seize_at).all() and np.isfinite(pars.distribution_usd_per_tkm))
        self.p = ShipPars(bool(pars.distribution_on), float(pars.distribution_mobility), float(pars.distribution_usd_per_tkm),
                          per_unit, decay, km_t, seize_at, seize_at.sum(axis=2), self.inland, self.dprk, finite)
        self.p_adhoc = AdhocPars(float(sim.scale), float(pars.distribution_flow_smoothing),
                                 float(pars.distribution_adhoc_threshold_usd), float(pars.distribution_adhoc_usd_per_market),
                                 float(pars.distribution_adhoc_max_per_site), float(pars.distribution_adhoc_persist_weeks),
                                 float(pars.distribution_adhoc_fade_weeks), float(pars.distribution_adhoc_fade_share))

    # -- weekly -----------------------------------------------------------------------------------
    def step(self, sim: Sim) -> None:
        ts = trade_state(sim)
        out = self.out
        goods = Goods(ts.qty, ts.trans, ts.tracked, sim.market.goods_households, ts.goods_price, ts.goods_demand,
                      ts.seized, ts.seized_total)
        # shippers of the province the goods leave earn the transport
        if _ship(tuple(goods), tuple(self.p), tuple(self.owners), tuple(out)):
            share_out(sim, out.fee, [(ts.role_idx(sim, ROLE_SHIPPER), None), (ts.role_idx(sim, ROLE_SELLER), None)])
        self._markets(sim, ts, out.flows)
        res = sim.results
        res.record("transport_cost_usd", out.fee)
        res.record("goods_seized_usd", ts.seized)
        res.record("goods_moved_usd", out.moved_in)
        res.record("markets_official", np.round(ts.official))
        res.record("markets_adhoc", self._adhoc_r)

    def _markets(self, sim: Sim, ts: TradeState, flows: np.ndarray) -> None:
        """Ad hoc markets on busy route segments and border approaches; yearly growth of official markets."""
        edge_flow = flows.reshape(-1) @ self.edge_use  # BLAS: kept in NumPy (its order of additions)
        _adhoc(edge_flow, ts.turnover, tuple(self.p_adhoc), tuple(self.sites))
        # official markets: yearly, with last year's turnover relative to the first year's
        if sim.new_year and sim.week > 0:
            if self.turnover_ref is None:
                self.turnover_ref = self.turnover_year.copy()
            else:
                ref = self.turnover_ref
                with np.errstate(invalid="ignore", divide="ignore"):
                    growth = np.where(ref > 0, self.turnover_year / np.where(ref > 0, ref, 1.0), 1.0)
                target = self.base_official * growth ** sim.pars.distribution_markets_elasticity  # NumPy's power
                ts.official[:] = np.maximum(ts.official, target)
            self.turnover_year[:] = 0.0
            ts.markets[:] = ts.official + self._adhoc_r


# ------------------------------------------------------------------------------------------------
# Set-up: the routes and the official markets of 2018
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


# ------------------------------------------------------------------------------------------------
# Compiled kernels
# ------------------------------------------------------------------------------------------------
_PRICE_FLOOR = 1e-12  # goods price an origin's pull is divided by at least (a guard against a zero price)


@njit(cache=True, error_model="numpy")
def _ship(g, p, hh, out):
    """The week's ownership and shipments in one call (NumPy's operations and orders of summation, to the bit):
    :meth:`TradeState.sync`, then, if ``p.on`` and there are goods, :func:`_ship_goods` (arbitrage, bills and
    payments, seizures and arrivals); then the households' goods by location and the seizures since the start.
    ``g``: :class:`Goods`, ``p``: :class:`ShipPars`, ``hh``: :class:`Owners`; writes ``out`` (:class:`Shipments`).
    Returns whether any owner was billed (then ``out.fee`` is to be shared out to shippers)."""
    g = Goods(*g)
    p = ShipPars(*p)
    hh = Owners(*hh)
    out = Shipments(*out)
    sync_goods(g.qty, g.trans, g.tracked, g.located)
    r = g.qty.shape[0]
    out.moved_in[:] = 0.0
    out.fee[:] = 0.0
    out.flows[:] = 0.0
    billed = False
    if p.on and psum(g.qty.reshape(-1)) > 0:
        billed = _ship_goods(g, p, hh, out)
    col = colsum(g.qty)
    for k in range(r):
        g.located[k] = col[k]
        g.seized_total[k] += g.seized[k]
    return billed


@njit(cache=True, error_model="numpy")
def _finite(a) -> bool:
    """Whether every value of ``a`` is finite."""
    for x in a.reshape(-1):
        if not np.isfinite(x):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _ship_goods(g, p, hh, out):
    """One week of inland shipments (see :func:`_ship`): who moves what where, who pays whom, what is seized.

    Most (owner, location) cells hold no goods: their rows of the (owner, location, destination) arrays are zeros
    and are skipped in the sums. With finite factors (``p.finite``, shares, payment ratios) a zero cell only
    adds zeros, which changes no sum of NumPy's (sums start from +0.0); otherwise every cell is computed."""
    qty, trans, price, demand = g.qty, g.trans, g.price, g.demand
    per_unit, decay, km_t, seize_at, z = p.per_unit, p.decay, p.km_t, p.seize_at, p.z
    inland, dprk, mobility, usd_per_tkm = p.inland, p.dprk, p.mobility, p.usd_per_tkm
    stake, region, cash, fx = hh.stake, hh.region, hh.cash, hh.fx
    move, cost, tmove, fee, flows = out.move, out.cost, out.tmove, out.fee, out.flows
    r = qty.shape[0]
    rr = r * r
    # arbitrage: d pulls goods from o when its goods price exceeds o's plus the transport per unit
    # gap = maximum(P_d - P_o - u, 0) / maximum(P_o, floor); w = D_d * gap * decay (where inland); f = m w / (sum w + D_o)
    frac = np.empty((r, r))
    for o in range(r):
        den_p = fmax(price[o], _PRICE_FLOOR)
        for d in range(r):
            gap = fmax(price[d] - price[o] - per_unit[o, d], 0.0) / den_p
            frac[o, d] = demand[d] * gap * decay[o, d] if inland[o, d] else 0.0
        denom = (0.0 + pairwise_sum(frac[o], 0, r)) + (demand[o] if dprk[o] else 0.0)  # w_move.sum(1) + w_stay
        for d in range(r):
            frac[o, d] = mobility * frac[o, d] / denom if denom > 0 else 0.0
    dense = not (p.finite and _finite(frac))
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
        g.seized[x] += got[x]
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
    out.moved_in[:] = colsum(arrive)
    return billed


@njit(cache=True, error_model="numpy")
def _adhoc(edge_flow, turnover, p, s) -> None:
    """The week's ad hoc markets in one call (``p``: :class:`AdhocPars`, ``s``: :class:`Sites`): each site's
    smoothed flow ``F += a (flow scale - F)`` (route segments' ``edge_flow``, then border approaches' imports), weeks
    hot (``F >= threshold``) or cold in a row, one market more a week after ``persist_weeks`` hot weeks up to
    ``min(floor(F / usd_per_market), max_per_site)``, ``ceil(n fade_share)`` of n fading after ``fade_weeks`` cold
    weeks; the year's market ``turnover`` so far; markets by province (official + ad hoc)."""
    p = AdhocPars(*p)
    s = Sites(*s)
    flow_ema, above, below, adhoc = s.flow_ema, s.above, s.below, s.adhoc
    n_edges = len(edge_flow)
    for k in range(len(flow_ema)):
        if k < n_edges:
            flow = edge_flow[k] * p.scale  # real US$ this week
        else:
            q = s.approach[k - n_edges]
            flow = (s.imports_wholesale[q] + s.imports_company[q]) * p.scale
        flow_ema[k] += p.smoothing * (flow - flow_ema[k])
        hot = flow_ema[k] >= p.threshold_usd
        if hot:
            above[k] += 1
            below[k] = 0
        else:
            above[k] = 0
            below[k] += 1
        target = fmin(np.floor(flow_ema[k] / p.usd_per_market), p.max_per_site)
        x = adhoc[k]
        if hot and above[k] >= p.persist_weeks and x < target:
            x = x + 1.0  # one new market a week at most
        if below[k] >= p.fade_weeks:
            x = x - np.ceil(x * p.fade_share)
        adhoc[k] = fmax(x, 0.0)
    for q in range(len(s.turnover_year)):
        s.turnover_year[q] += turnover[q]
    s.adhoc_r[:] = 0.0
    for k in range(len(adhoc)):
        s.adhoc_r[s.region[k]] += adhoc[k]
    for q in range(len(s.markets)):
        s.markets[q] = s.official[q] + s.adhoc_r[q]
