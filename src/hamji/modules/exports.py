"""Exports: the companies sell their bases' output to Chinese buyers through the border crossings.

"These bases are tasked with harvesting or extracting exportable goods to be sold for foreign
currency." "Mining and transporting North Korean energy resources to northeastern Chinese provinces
comprise a key element of sustainable regional economic growth plans." "North Korea, Inc. relies
heavily on the Chinese side of HamJi for either selling North Korean products or purchasing cheap
Chinese consumer goods for retail sale in North Korea." (Park 2009)

Each week every base offers its stock (simulated tonnes), then three limits apply in turn:

1. sanctions: nothing of commodity c if ``sanctions_on`` and ``ban_<c>`` (dated events flip them;
   banned stock may leave through the evasion channel below);
2. wah-ku (if ``wahku_on``): company k paces its year's quota, selling at most
   ``(real + forged quota of c left) / weeks left in the year`` this week; offers are scaled by
   ``min(1, allowance / offered)`` per company and commodity (unsold output stays in stock);
3. crossing room: every base ships by the nearest crossing of its province
   (``sim.borders.nearest``); exports are allocated first (``sim.borders.allocate``), before the
   week's consumer-goods imports, and every offer through a crossing is scaled by
   ``granted / offered``.

Sales bring ``tonnes x price_<c>_usd_t`` from Chinese buyers (outside inflow ``export_sales``) into
company cash and ``companies.revenue`` (which the funnel splits). Sold tonnes use real quota first,
then forged; the forged part is the ``forged_share`` of the traded volume.

Sanctions leak. After the bans, banned coal still left by ship-to-ship transfers at sea and goods were
smuggled across the river (UN Panel of Experts 2019: 3.7 Mt of coal for about US$ 370 M by ship-to-ship
transfers in January-August 2019, ``regime_fx_sources.csv``). If ``evasion_on``, each week the stock of
banned bases goes out through an evasion channel before the legal offers:

* value on offer at evasion prices: ``stock_b x price_<c>_usd_t x (1 - evasion_discount)`` for every
  base b of a banned class (buyers who take sanctioned goods pay less);
* capacity: at most ``evasion_capacity_usd_year / 52`` (real US$ at evasion prices, divided by the
  scale) a week leaves, of which the river part (``1 - evasion_sea_share``) is scaled by
  ``border_trips_open`` (a quarantine of the border, as in 2020, stops smuggling as it stops trips), every banned base's stock
  scaled by ``min(1, capacity / on offer)``; the
  channel uses no crossing room and no wah-ku (the goods are illegal on both sides of the river);
* detection: each base's shipment this week is seized whole with probability
  ``1 - (1 - evasion_seizure_share) (1 - evasion_enforcement)`` (stream ``exports.evasion_seizure``):
  ``evasion_seizure_share`` is the risk of the channel as the Panel saw it, and ``evasion_enforcement``
  in [0, 1] is Chinese enforcement on top of it, which a dated ``set_parameters`` event can change
  (``history`` sets it strict while China applied the bans most strictly).

Shipped tonnes leave the stock. Seized goods are simply not sold; what is sold brings its value from
the buyers (outside inflow ``evasion_sales``) into company cash and ``companies.revenue``, so the funnel
splits it like any other revenue. Evasion sales are not customs trade: they are reported as
``evasion_sales_usd``, not in ``exports_usd``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from hamji.kernels import fmax, fmin, psum, rowsum
from hamji.module import Metric, Module
from hamji.modules.revenue_bases import COMMODITIES, WEEKS_PER_YEAR, banned_classes, commodity_prices
from hamji.modules.wahku import weeks_left_in_year

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def export_metric_name(commodity: str) -> str:
    """Name of the per-commodity export metric, e.g. ``exports_coal_usd``."""
    return f"exports_{commodity}_usd"


class ExportsPars(NamedTuple):
    """The parameters the exports kernels read (built when parameters change)."""

    banned: np.ndarray  # bool per commodity: sanctions_on and ban_<c>
    wahku_on: bool
    evasion_keep: float  # 1 - evasion_discount: buyers of banned goods pay less


class BaseStock(NamedTuple):
    """The bases' states the sales use, with each base's crossing and (commodity, company) cell."""

    stock: np.ndarray  # simulated t
    commodity: np.ndarray  # int8
    company: np.ndarray  # int32
    region: np.ndarray  # int8
    crossing: np.ndarray  # nearest crossing of the base's province
    key: np.ndarray  # cell: commodity * companies + company


class Quota(NamedTuple):
    """The wah-ku module's (commodity, company) matrices of real and forged quota left this year (updated in place
    by :func:`_sell`), or empty matrices without wah-ku."""

    quota: np.ndarray
    forged: np.ndarray


class Sellers(NamedTuple):
    """The companies' cash and this week's unfunnelled revenue."""

    cash: np.ndarray
    revenue: np.ndarray


class Offers(NamedTuple):
    """The week's work space: each base's offer, each cell's offer and wah-ku scale, the tonnes at each crossing;
    and the US$ sold by (province, commodity)."""

    offer: np.ndarray
    cell: np.ndarray
    at_x: np.ndarray
    value_rc: np.ndarray


#: The week's sales by province of origin (a structured array, one record per province: ``t[r].exports_t``, one
#: argument for the compiled week), recorded under these names
EXPORTS_TALLY = np.dtype([(name, np.float64) for name in (
    "exports_usd", "exports_t", "export_capacity_blocked_t",
    "forged_share",  # NaN where nothing was exported
)])
#: The week's evasion channel by province of origin, recorded under these names
EVASION_TALLY = np.dtype([(name, np.float64) for name in ("evasion_sales_usd", "evasion_seized_usd", "evasion_t")])


class Exports(Module):
    """Sells base output to Chinese buyers, within sanctions, wah-ku and crossing capacity."""

    name = "exports"
    passage = (
        "Companies sell the bases' output to Chinese buyers through the crossings for foreign currency.\n"
        "\"Mining and transporting North Korean energy resources to northeastern Chinese provinces comprise"
        " a key element of sustainable regional economic growth plans.\" (Park 2009)"
    )
    metrics = (
        Metric("exports_usd", "US$", "The companies' exports to China through the crossings this week (all commodities),"
               " by province of origin, recorded by customs or not (the customs series is exports_recorded_usd; every"
               " export, with the partners' goods and the evasion channel, is exports_all_usd).", scaled=True),
        *(Metric(export_metric_name(c), "US$", f"Exports of {c.replace('_', ' ')} to China this week, by province"
                 " of origin.", scaled=True) for c in COMMODITIES),
        Metric("exports_t", "tonnes", "Tonnes exported to China this week, by province of origin.", scaled=True),
        Metric("export_capacity_blocked_t", "tonnes", "Tonnes offered within sanctions and wah-ku that crossing"
               " capacity could not take this week, by province of origin.", scaled=True),
        Metric("evasion_sales_usd", "US$", "Banned goods sold to Chinese buyers through the evasion channel (sea"
               " transfers, smuggling) this week, at evasion prices, by province of origin (not in exports_usd).",
               scaled=True),
        Metric("evasion_seized_usd", "US$", "Value at evasion prices of banned goods seized this week, by province"
               " of origin.", scaled=True),
        Metric("evasion_t", "tonnes", "Tonnes of banned goods shipped through the evasion channel this week (sold"
               " or seized), by province of origin.", scaled=True),
        Metric("forged_share", "fraction", "Share of the tonnes exported this week covered by forged wah-ku,"
               " by province of origin (empty where nothing was exported).", agg="mean", annual="mean"),
    )

    def setup(self, sim: Sim) -> None:
        b = sim.people.bases
        r, n_c, n_k = sim.world.n_regions, len(COMMODITIES), sim.people.companies.n
        self.n_crossings = len(sim.borders.capacity_t_year)
        self.bases = BaseStock(b.stock, b.commodity, b.company, b.region,
                               crossing=sim.borders.nearest[b.region].astype(np.int64),
                               key=b.commodity.astype(np.int64) * n_k + b.company)
        self.sellers = Sellers(sim.people.companies.cash, sim.people.companies.revenue)
        self.weeks_left = weeks_left_in_year(sim.dates)
        # the week's arrays, reused (recording copies them)
        self.offers = Offers(np.zeros(b.n), np.zeros(n_c * n_k), np.zeros(self.n_crossings), np.zeros((r, n_c)))
        self.tally = np.zeros(r, dtype=EXPORTS_TALLY)
        self.evasion = np.zeros(r, dtype=EVASION_TALLY)

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """The kernels' parameter record, and the wah-ku matrices while wah-ku is on (the wah-ku module makes the
        companies' quota states rows of them at set-up, and again after a copy)."""
        pars, comp = sim.pars, sim.people.companies
        self.p = ExportsPars(banned_classes(pars), bool(pars.wahku_on), 1.0 - pars.evasion_discount)
        if pars.wahku_on:
            self.quota = Quota(quota_matrix(comp, "quota"), quota_matrix(comp, "forged"))
        else:
            self.quota = Quota(np.zeros((0, 0)), np.zeros((0, 0)))

    def step(self, sim: Sim) -> None:
        p, b, offers, t = self.p, self.bases, self.offers, self.tally
        prices = commodity_prices(sim)
        if p.banned.any() and sim.pars.evasion_on:
            self.evade(sim, prices)
        else:
            self.evasion.fill(0.0)
        self.record_evasion(sim)
        # wah-ku: this week's allowance per (company, commodity) = quota left / weeks left
        _offers(tuple(b), tuple(p), tuple(self.quota), self.weeks_left[sim.week], tuple(offers))
        # crossing room, exports first
        granted = sim.borders.allocate_each(offers.at_x)
        sales = _sell(tuple(b), tuple(p), prices, tuple(self.quota), granted, tuple(offers), tuple(self.sellers), t)
        sim.books.inflow("export_sales", sales)

        res = sim.results
        for j, c in enumerate(COMMODITIES):
            res.record(export_metric_name(c), offers.value_rc[:, j])
        for name in EXPORTS_TALLY.names:
            res.record(name, t[name])

    def evade(self, sim: Sim, prices: np.ndarray) -> None:
        """Banned stock leaves through the evasion channel, within its capacity; some is seized (docstring)."""
        pars, b = sim.pars, self.bases
        value_offer = _evasion_offer(tuple(b), tuple(self.p), prices)
        # the river part of the channel stops with traders' trips when the border is quarantined
        open_share = pars.evasion_sea_share + (1.0 - pars.evasion_sea_share) * pars.border_trips_open
        room = pars.evasion_capacity_usd_year * open_share / WEEKS_PER_YEAR / sim.scale
        if value_offer <= 0 or room <= 0:
            self.evasion.fill(0.0)
            return
        p_seize = 1.0 - (1.0 - pars.evasion_seizure_share) * (1.0 - pars.evasion_enforcement)
        seized = sim.rng("exports.evasion_seizure").random(len(b.stock)) < p_seize
        sales = _evasion_ship(tuple(b), tuple(self.p), prices, min(1.0, room / value_offer), seized, tuple(self.sellers), self.evasion)
        sim.books.inflow("evasion_sales", sales)

    def record_evasion(self, sim: Sim) -> None:
        for name in EVASION_TALLY.names:
            sim.results.record(name, self.evasion[name])


def quota_matrix(comp, prefix: str) -> np.ndarray:
    """The companies' ``<prefix>_<commodity>`` states as one (commodity, company) array: the wah-ku module's own
    matrix, whose rows those states are (``Wahku.setup`` checks it), so writes to it reach the states."""
    mat = getattr(comp, f"{prefix}_{COMMODITIES[0]}").base
    if not isinstance(mat, np.ndarray) or mat.shape != (len(COMMODITIES), comp.n):
        raise RuntimeError(f"exports: the companies' {prefix}_<commodity> states must be rows of the wah-ku matrix")
    return mat


# ------------------------------------------------------------------------------------------------
# The week's region-level arithmetic, compiled: a few hundred bases and cells, where NumPy would
# spend about a microsecond a call. Sums by cell, crossing, company and province are sequential in
# base order, as np.bincount adds them, so results are those of the NumPy formulas to the bit.
# ------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _evasion_offer(b, p, prices):
    """Value at evasion prices of the banned bases' stock, ``(where(banned[c], stock, 0) * prices[c] * keep).sum()``
    (``keep`` = 1 - evasion_discount), with NumPy's pairwise sum."""
    b = BaseStock(*b)
    p = ExportsPars(*p)
    v = np.empty(len(b.stock))
    for i in range(len(b.stock)):
        c = b.commodity[i]
        v[i] = (b.stock[i] if p.banned[c] else 0.0) * (prices[c] * p.evasion_keep)
    return psum(v)


@njit(cache=True, error_model="numpy")
def _evasion_ship(b, p, prices, frac, seized, comp, t):
    """Ship ``frac`` of every banned base's stock through the evasion channel: the stock falls, unseized
    value goes to company cash and revenue; the tally ``t`` gets (sold, seized value, tonnes) by province.
    Returns the value sold (the companies' sum, as NumPy adds it)."""
    b = BaseStock(*b)
    p = ExportsPars(*p)
    comp = Sellers(*comp)
    stock, region = b.stock, b.region
    by_company = np.zeros(len(comp.cash))
    for r in range(len(t)):
        t[r].evasion_sales_usd = t[r].evasion_seized_usd = t[r].evasion_t = 0.0
    for i in range(len(stock)):
        c = b.commodity[i]
        shipped = (stock[i] if p.banned[c] else 0.0) * frac
        stock[i] = fmax(stock[i] - shipped, 0.0)
        value = shipped * (prices[c] * p.evasion_keep)
        sold = 0.0 if seized[i] else value
        by_company[b.company[i]] += sold
        t[region[i]].evasion_sales_usd += sold
        t[region[i]].evasion_seized_usd += value - sold
        t[region[i]].evasion_t += shipped
    for k in range(len(comp.cash)):
        comp.cash[k] += by_company[k]
        comp.revenue[k] += by_company[k]
    return psum(by_company)


@njit(cache=True, error_model="numpy")
def _offers(b, p, quota, weeks_left, x) -> None:
    """This week's offers within sanctions and wah-ku (``x.offer``), and their tonnes at each crossing (``x.at_x``).
    ``x.cell`` gets each (commodity, company) cell's offer, then its wah-ku scale ``min(1, cover / offered)`` with
    ``cover = (real + forged quota left) / weeks left``."""
    b = BaseStock(*b)
    p = ExportsPars(*p)
    quota = Quota(*quota)
    x = Offers(*x)
    offer, cell, key = x.offer, x.cell, b.key
    for i in range(len(b.stock)):
        offer[i] = 0.0 if p.banned[b.commodity[i]] else b.stock[i]
    if p.wahku_on:
        q, f = quota.quota.reshape(quota.quota.size), quota.forged.reshape(quota.forged.size)  # by cell
        cell[:] = 0.0
        for i in range(len(offer)):
            cell[key[i]] += offer[i]
        for k in range(len(cell)):
            # where(want > cover, cover / where(want > 0, want, 1), 1)
            want = cell[k]
            cover = (q[k] + f[k]) / weeks_left
            cell[k] = cover / (want if want > 0 else 1.0) if want > cover else 1.0
        for i in range(len(offer)):
            offer[i] *= cell[key[i]]
    x.at_x[:] = 0.0
    for i in range(len(offer)):
        x.at_x[b.crossing[i]] += offer[i]


@njit(cache=True, error_model="numpy")
def _sell(b, p, prices, quota, granted, x, comp, t):
    """Sell each offer's share ``granted / offered`` of its crossing's room: stock, company cash and revenue, real
    then forged quota used (``x.cell`` as scratch); ``x.value_rc`` gets US$ by (province, commodity) and the tally, by
    province, US$, tonnes, tonnes blocked and the forged share. Returns the US$ sold."""
    b = BaseStock(*b)
    p = ExportsPars(*p)
    quota = Quota(*quota)
    x = Offers(*x)
    comp = Sellers(*comp)
    offer, at_x, cell, key, region, stock = x.offer, x.at_x, x.cell, b.key, b.region, b.stock
    n = len(offer)
    sold = np.empty(n)
    by_company = np.zeros(len(comp.cash))
    value_rc = x.value_rc
    value_rc[:] = 0.0
    for r in range(len(t)):
        t[r].exports_usd = t[r].exports_t = t[r].export_capacity_blocked_t = t[r].forged_share = 0.0
    for i in range(n):
        k = b.crossing[i]
        g = granted[k] / at_x[k] if at_x[k] > 0 else 0.0
        s = offer[i] * g
        sold[i] = s
        stock[i] = fmax(stock[i] - s, 0.0)
        value = s * prices[b.commodity[i]]
        by_company[b.company[i]] += value
        value_rc[region[i], b.commodity[i]] += value
        t[region[i]].exports_t += s
        t[region[i]].export_capacity_blocked_t += offer[i] - s
    for k in range(len(comp.cash)):
        comp.cash[k] += by_company[k]
        comp.revenue[k] += by_company[k]
    total = psum(by_company)
    # quota use: real first, then forged; forged tonnes attributed back to the bases of each cell pro rata
    forged_r = np.zeros(len(t))
    if p.wahku_on:
        q, f = quota.quota.reshape(quota.quota.size), quota.forged.reshape(quota.forged.size)  # by cell
        cell[:] = 0.0
        for i in range(n):
            cell[key[i]] += sold[i]
        for k in range(len(cell)):
            used = cell[k]
            from_real = fmin(q[k], used)
            from_forged = fmin(f[k], used - from_real)
            q[k] = fmax(q[k] - from_real, 0.0)
            f[k] = fmax(f[k] - from_forged, 0.0)
            cell[k] = from_forged / used if used > 0 else 0.0
        for i in range(n):
            forged_r[region[i]] += sold[i] * cell[key[i]]
    exports_usd = rowsum(value_rc)
    for j in range(len(t)):
        t[j].exports_usd = exports_usd[j]
        t[j].forged_share = forged_r[j] / t[j].exports_t if t[j].exports_t > 0 else np.nan
    return total
