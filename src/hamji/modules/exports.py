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
  ``border_trips_open`` (a quarantine of the border, as in 2020, stops smuggling as it stops trips), every banned base's stock scaled by ``min(1, capacity / on offer)``; the
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

from hamji.kernels import ratio_or
from hamji.module import Metric, Module
from hamji.modules.revenue_bases import COMMODITIES, WEEKS_PER_YEAR, banned_classes, commodity_prices
from hamji.modules.wahku import weeks_left_in_year

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def quota_matrix(comp, prefix: str) -> np.ndarray:  # noqa: ANN001
    """The companies' ``<prefix>_<commodity>`` states as one (commodity, company) array: the wah-ku module's own
    matrix, whose rows those states are (``Wahku.setup`` checks it), so writes to it reach the states."""
    mat = getattr(comp, f"{prefix}_{COMMODITIES[0]}").base
    if not isinstance(mat, np.ndarray) or mat.shape != (len(COMMODITIES), comp.n):
        raise RuntimeError(f"exports: the companies' {prefix}_<commodity> states must be rows of the wah-ku matrix")
    return mat


def export_metric_name(commodity: str) -> str:
    """Name of the per-commodity export metric, e.g. ``exports_coal_usd``."""
    return f"exports_{commodity}_usd"


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

    def setup(self, sim: "Sim") -> None:
        b = sim.people.bases
        self.crossing = sim.borders.nearest[b.region].astype(np.int64)
        self.n_crossings = len(sim.borders.capacity_t_year)
        self.key = b.commodity.astype(np.int64) * sim.people.companies.n + b.company  # (commodity, company) cell
        self.weeks_left = weeks_left_in_year(sim.dates)
        self.region_key = b.region.astype(np.int64) * len(COMMODITIES) + b.commodity  # (region, commodity) cell

    def step(self, sim: "Sim") -> None:
        pars = sim.pars
        b, comp = sim.people.bases, sim.people.companies
        r, n_c = sim.world.n_regions, len(COMMODITIES)
        prices = commodity_prices(sim)
        banned = banned_classes(pars)
        if banned.any() and pars.evasion_on:
            self.evade(sim, banned, prices)
        else:
            self.record_evasion(sim, np.zeros(r), np.zeros(r), np.zeros(r))
        offer = b.stock.copy()
        offer[banned[b.commodity]] = 0.0
        # wah-ku: this week's allowance per (company, commodity) = quota left / weeks left
        wahku = pars.wahku_on and hasattr(comp, "quota_coal")
        if wahku:
            # by (commodity, company) cell: views of the wah-ku matrices, updated in place below
            quota, forged = quota_matrix(comp, "quota").reshape(-1), quota_matrix(comp, "forged").reshape(-1)
            want = np.bincount(self.key, weights=offer, minlength=comp.n * n_c)
            cover = (quota + forged) / self.weeks_left[sim.week]
            f = np.where(want > cover, cover / np.where(want > 0, want, 1.0), 1.0)
            offer *= f[self.key]
        # crossing room, exports first
        at_x = np.bincount(self.crossing, weights=offer, minlength=self.n_crossings)
        granted = sim.borders.allocate_each(at_x)
        g = ratio_or(granted, at_x)
        sold = offer * g[self.crossing]
        b.stock -= sold
        np.maximum(b.stock, 0.0, out=b.stock)

        value = sold * prices[b.commodity]
        by_company = np.bincount(b.company, weights=value, minlength=comp.n)
        comp.cash += by_company
        comp.revenue += by_company
        sim.books.inflow("export_sales", by_company.sum())

        # quota use: real first, then forged
        forged_used_t = np.zeros(b.n)
        if wahku:
            used = np.bincount(self.key, weights=sold, minlength=comp.n * n_c)
            from_real = np.minimum(quota, used)
            from_forged = np.minimum(forged, used - from_real)
            np.maximum(quota - from_real, 0.0, out=quota)
            np.maximum(forged - from_forged, 0.0, out=forged)
            # forged tonnes attributed back to the bases of each cell pro rata
            share = ratio_or(from_forged, used)
            forged_used_t = sold * share[self.key]

        res = sim.results
        value_rc = np.bincount(self.region_key, weights=value, minlength=r * n_c).reshape(r, n_c)
        sim.results.record("exports_usd", value_rc.sum(axis=1))
        for j, c in enumerate(COMMODITIES):
            sim.results.record(export_metric_name(c), value_rc[:, j])
        tonnes_r = np.bincount(b.region, weights=sold, minlength=r)
        sim.results.record("exports_t", tonnes_r)
        sim.results.record("export_capacity_blocked_t", np.bincount(b.region, weights=offer - sold, minlength=r))
        forged_r = np.bincount(b.region, weights=forged_used_t, minlength=r)
        res.record("forged_share", ratio_or(forged_r, tonnes_r, np.nan))

    def evade(self, sim: "Sim", banned: np.ndarray, prices: np.ndarray) -> None:
        """Banned stock leaves through the evasion channel, within its capacity; some is seized (docstring)."""
        pars = sim.pars
        b, comp = sim.people.bases, sim.people.companies
        r = sim.world.n_regions
        price_e = prices[b.commodity] * (1.0 - pars.evasion_discount)
        on_offer = np.where(banned[b.commodity], b.stock, 0.0)
        value_offer = float((on_offer * price_e).sum())
        # the river part of the channel stops with traders' trips when the border is quarantined
        open_share = pars.evasion_sea_share + (1.0 - pars.evasion_sea_share) * pars.border_trips_open
        room = pars.evasion_capacity_usd_year * open_share / WEEKS_PER_YEAR / sim.scale
        if value_offer <= 0 or room <= 0:
            self.record_evasion(sim, np.zeros(r), np.zeros(r), np.zeros(r))
            return
        shipped = on_offer * min(1.0, room / value_offer)
        b.stock -= shipped
        np.maximum(b.stock, 0.0, out=b.stock)
        p_seize = 1.0 - (1.0 - pars.evasion_seizure_share) * (1.0 - pars.evasion_enforcement)
        seized = sim.rng("exports.evasion_seizure").random(b.n) < p_seize
        value = shipped * price_e
        sold = np.where(seized, 0.0, value)
        by_company = np.bincount(b.company, weights=sold, minlength=comp.n)
        comp.cash += by_company
        comp.revenue += by_company
        sim.books.inflow("evasion_sales", by_company.sum())
        self.record_evasion(sim, np.bincount(b.region, weights=sold, minlength=r),
                            np.bincount(b.region, weights=value - sold, minlength=r),
                            np.bincount(b.region, weights=shipped, minlength=r))

    @staticmethod
    def record_evasion(sim: "Sim", sold_r: np.ndarray, seized_r: np.ndarray, tonnes_r: np.ndarray) -> None:
        sim.results.record("evasion_sales_usd", sold_r)
        sim.results.record("evasion_seized_usd", seized_r)
        sim.results.record("evasion_t", tonnes_r)
