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

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji.kernels import fmax, fmin, psum, rowsum
from hamji.module import Metric, Module
from hamji.modules.revenue_bases import COMMODITIES, WEEKS_PER_YEAR, banned_classes, commodity_prices
from hamji.modules.wahku import weeks_left_in_year

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def quota_matrix(comp, prefix: str) -> np.ndarray:
    """The companies' ``<prefix>_<commodity>`` states as one (commodity, company) array: the wah-ku module's own
    matrix, whose rows those states are (``Wahku.setup`` checks it), so writes to it reach the states."""
    mat = getattr(comp, f"{prefix}_{COMMODITIES[0]}").base
    if not isinstance(mat, np.ndarray) or mat.shape != (len(COMMODITIES), comp.n):
        raise RuntimeError(f"exports: the companies' {prefix}_<commodity> states must be rows of the wah-ku matrix")
    return mat


def export_metric_name(commodity: str) -> str:
    """Name of the per-commodity export metric, e.g. ``exports_coal_usd``."""
    return f"exports_{commodity}_usd"


# ------------------------------------------------------------------------------------------------
# The week's region-level arithmetic, compiled: a few hundred bases and cells, where NumPy would
# spend about a microsecond a call. Sums by cell, crossing, company and province are sequential in
# base order, as np.bincount adds them, so results are those of the NumPy formulas to the bit.
# ------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _evasion_offer(stock, commodity, banned, prices, keep):
    """Value at evasion prices of the banned bases' stock, ``(where(banned[c], stock, 0) * prices[c] * keep).sum()``
    (``keep`` = 1 - evasion_discount), with NumPy's pairwise sum."""
    v = np.empty(len(stock))
    for i in range(len(stock)):
        c = commodity[i]
        v[i] = (stock[i] if banned[c] else 0.0) * (prices[c] * keep)
    return psum(v)


@njit(cache=True, error_model="numpy")
def _evasion_ship(stock, commodity, company, region, banned, prices, keep, frac, seized, cash, revenue,
                  out_r):
    """Ship ``frac`` of every banned base's stock through the evasion channel: the stock falls, unseized
    value goes to company cash and revenue; ``out_r`` rows get (sold, seized value, tonnes) by province.
    Returns the value sold (the companies' sum, as NumPy adds it)."""
    by_company = np.zeros(len(cash))
    out_r[:] = 0.0
    for i in range(len(stock)):
        c = commodity[i]
        shipped = (stock[i] if banned[c] else 0.0) * frac
        stock[i] = fmax(stock[i] - shipped, 0.0)
        value = shipped * (prices[c] * keep)
        sold = 0.0 if seized[i] else value
        by_company[company[i]] += sold
        out_r[0, region[i]] += sold
        out_r[1, region[i]] += value - sold
        out_r[2, region[i]] += shipped
    for k in range(len(cash)):
        cash[k] += by_company[k]
        revenue[k] += by_company[k]
    return psum(by_company)


@njit(cache=True, error_model="numpy")
def _offers(stock, commodity, banned, key, wahku, quota, forged, weeks_left, crossing, offer, cell,
            at_x):
    """This week's offers within sanctions and wah-ku, and their tonnes at each crossing (``at_x``).
    ``cell`` gets each (commodity, company) cell's offer, then its wah-ku scale ``min(1, cover / offered)``."""
    for i in range(len(stock)):
        offer[i] = 0.0 if banned[commodity[i]] else stock[i]
    if wahku:
        q, f = quota.reshape(quota.size), forged.reshape(forged.size)  # by cell
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
    at_x[:] = 0.0
    for i in range(len(offer)):
        at_x[crossing[i]] += offer[i]


@njit(cache=True, error_model="numpy")
def _sell(offer, granted, at_x, crossing, stock, commodity, company, region, prices, wahku, quota, forged, key,
          cash, revenue, cell, value_rc, out_r):
    """Sell each offer's share of its crossing's granted room: stock, company cash and revenue, real then forged
    quota used (``cell`` as scratch); ``value_rc`` gets US$ by (province, commodity), ``out_r`` rows (all US$,
    tonnes, tonnes blocked, forged share) by province. Returns the US$ sold."""
    n = len(offer)
    sold = np.empty(n)
    by_company = np.zeros(len(cash))
    value_rc[:] = 0.0
    out_r[:] = 0.0
    for i in range(n):
        x = crossing[i]
        g = granted[x] / at_x[x] if at_x[x] > 0 else 0.0
        s = offer[i] * g
        sold[i] = s
        stock[i] = fmax(stock[i] - s, 0.0)
        value = s * prices[commodity[i]]
        by_company[company[i]] += value
        value_rc[region[i], commodity[i]] += value
        out_r[1, region[i]] += s
        out_r[2, region[i]] += offer[i] - s
    for k in range(len(cash)):
        cash[k] += by_company[k]
        revenue[k] += by_company[k]
    total = psum(by_company)
    # quota use: real first, then forged; forged tonnes attributed back to the bases of each cell pro rata
    forged_r = np.zeros(out_r.shape[1])
    if wahku:
        q, f = quota.reshape(quota.size), forged.reshape(forged.size)  # by cell
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
    out_r[0, :] = rowsum(value_rc)
    for j in range(out_r.shape[1]):
        out_r[3, j] = forged_r[j] / out_r[1, j] if out_r[1, j] > 0 else np.nan
    return total


class Exports(Module):
    """Sells base output to Chinese buyers, within sanctions, wah-ku and crossing capacity."""

    name = "exports"
    passage = (
        "Companies sell the bases' output to Chinese buyers through the crossings for foreign currency.\n"
        "\"Mining and transporting North Korean energy resources to northeastern Chinese provinces comprise"
        " a key element of sustainable regional economic growth plans.\" (Park 2009)"
    )
    metrics = (
        Metric("exports_usd", "US$", "Exports to China this week (all commodities), by province of origin.", scaled=True),
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
        self.crossing = sim.borders.nearest[b.region].astype(np.int64)
        self.n_crossings = len(sim.borders.capacity_t_year)
        self.key = b.commodity.astype(np.int64) * n_k + b.company  # (commodity, company) cell
        self.weeks_left = weeks_left_in_year(sim.dates)
        # the week's region-level arrays, reused (recording copies them)
        self._offer = np.zeros(b.n)
        self._cell = np.zeros(n_c * n_k)
        self._at_x = np.zeros(self.n_crossings)
        self._value_rc = np.zeros((r, n_c))  # US$ sold by (province, commodity)
        self._out_r = np.zeros((4, r))  # US$ sold, tonnes sold, tonnes blocked, forged share, by province
        self._evasion_r = np.zeros((3, r))  # evasion: US$ sold, US$ seized, tonnes, by province
        self._no_quota = np.zeros((0, 0))

    def step(self, sim: Sim) -> None:
        pars = sim.pars
        b, comp = sim.people.bases, sim.people.companies
        prices = commodity_prices(sim)
        banned = banned_classes(pars)
        if banned.any() and pars.evasion_on:
            self.evade(sim, banned, prices)
        else:
            self._evasion_r[:] = 0.0
            self.record_evasion(sim, *self._evasion_r)
        # wah-ku: this week's allowance per (company, commodity) = quota left / weeks left
        wahku = pars.wahku_on and hasattr(comp, "quota_coal")
        if wahku:
            # (commodity, company) matrices of the wah-ku module, updated in place by _sell
            quota, forged = quota_matrix(comp, "quota"), quota_matrix(comp, "forged")
        else:
            quota = forged = self._no_quota
        offer, cell, at_x = self._offer, self._cell, self._at_x
        _offers(b.stock, b.commodity, banned, self.key, wahku, quota, forged, self.weeks_left[sim.week], self.crossing,
                offer, cell, at_x)
        # crossing room, exports first
        granted = sim.borders.allocate_each(at_x)
        out_r, value_rc = self._out_r, self._value_rc
        sales = _sell(offer, granted, at_x, self.crossing, b.stock, b.commodity, b.company, b.region, prices, wahku,
                      quota, forged, self.key, comp.cash, comp.revenue, cell, value_rc, out_r)
        sim.books.inflow("export_sales", sales)

        res = sim.results
        res.record("exports_usd", out_r[0])
        for j, c in enumerate(COMMODITIES):
            res.record(export_metric_name(c), value_rc[:, j])
        res.record("exports_t", out_r[1])
        res.record("export_capacity_blocked_t", out_r[2])
        res.record("forged_share", out_r[3])

    def evade(self, sim: Sim, banned: np.ndarray, prices: np.ndarray) -> None:
        """Banned stock leaves through the evasion channel, within its capacity; some is seized (docstring)."""
        pars = sim.pars
        b, comp = sim.people.bases, sim.people.companies
        keep = 1.0 - pars.evasion_discount  # buyers of banned goods pay less
        value_offer = _evasion_offer(b.stock, b.commodity, banned, prices, keep)
        # the river part of the channel stops with traders' trips when the border is quarantined
        open_share = pars.evasion_sea_share + (1.0 - pars.evasion_sea_share) * pars.border_trips_open
        room = pars.evasion_capacity_usd_year * open_share / WEEKS_PER_YEAR / sim.scale
        out_r = self._evasion_r
        if value_offer <= 0 or room <= 0:
            out_r[:] = 0.0
            self.record_evasion(sim, *out_r)
            return
        p_seize = 1.0 - (1.0 - pars.evasion_seizure_share) * (1.0 - pars.evasion_enforcement)
        seized = sim.rng("exports.evasion_seizure").random(b.n) < p_seize
        sales = _evasion_ship(b.stock, b.commodity, b.company, b.region, banned, prices, keep,
                              min(1.0, room / value_offer), seized, comp.cash, comp.revenue, out_r)
        sim.books.inflow("evasion_sales", sales)
        self.record_evasion(sim, *out_r)

    @staticmethod
    def record_evasion(sim: Sim, sold_r: np.ndarray, seized_r: np.ndarray, tonnes_r: np.ndarray) -> None:
        sim.results.record("evasion_sales_usd", sold_r)
        sim.results.record("evasion_seized_usd", seized_r)
        sim.results.record("evasion_t", tonnes_r)
