"""China's demand: the boom in Chinese buying of North Korean resources, and what came with it.

"Mining and transporting North Korean energy resources to northeastern Chinese provinces comprise
a key element of sustainable regional economic growth plans." (Park 2009) China-DPRK trade grew
about 6.4-fold from 2003 to 2013 (1,019 to 6,540 M$, ``china_dprk_trade.csv``) and then eased,
while the number of North Korean bases and crossings changed far less: the growth came from
China's side, from the prices and the volumes Chinese buyers took and from Chinese investment.

This module is the exogenous driver of that boom: an index of Chinese demand D(t), log-linear in
calendar time, 1 in ``china_demand_base_year``, growing by ``china_demand_growth`` a year until
``china_demand_peak_year`` and by ``china_demand_post_growth`` a year after it (interpolated week
by week). A share ``china_demand_price_share`` of its growth shows up in the prices Chinese buyers
pay for every export commodity (``sim.market.price_index = D^s``); the rest in volumes
(``sim.market.volume_index = D^(1-s)``): the capacity of the revenue bases (Chinese investment in
mines and equipment) and the goods capacity of the crossings (bridges, ports and sea shipments
that kept pace with the trade; the model routes all goods through its named crossings). With
``china_demand_on`` false both indices stay 1, as in a world without the boom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hamji.module import Metric, Module

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

DAYS_PER_YEAR = 365.25


def demand_index(pars, year: float) -> float:
    """D at fractional calendar ``year``: log-linear growth to the peak year, then the post-peak rate."""
    if not pars.china_demand_on:
        return 1.0
    base, peak = float(pars.china_demand_base_year), float(pars.china_demand_peak_year)
    before = min(year, peak) - base
    after = max(year - peak, 0.0)
    return float(np.exp(pars.china_demand_growth * before + pars.china_demand_post_growth * after))


class ChinaDemand(Module):
    """Sets this week's Chinese demand index: export prices, base capacity and crossing capacity."""

    name = "china_demand"
    passage = (
        "China's growing demand for North Korean resources raises export prices, the bases' capacity and the"
        " crossings' throughput.\n\"Mining and transporting North Korean energy resources to northeastern Chinese"
        " provinces comprise a key element of sustainable regional economic growth plans.\" (Park 2009)"
    )
    metrics = (
        Metric("china_demand_index", "index (base year = 1)", "Index of Chinese demand for North Korean goods this"
               " week (same in every region).", agg="mean", annual="mean"),
        Metric("export_price_index", "index (base year = 1)", "Multiplier on every commodity's export price this"
               " week (same in every region).", agg="mean", annual="mean"),
    )

    def setup(self, sim: Sim) -> None:
        self._set(sim, sim.dates[0])

    def step(self, sim: Sim) -> None:
        d = self._set(sim, sim.date)
        sim.borders.multiplier *= sim.market.volume_index  # after begin_week, before any allocation
        r = sim.world.n_regions
        sim.results.record("china_demand_index", np.full(r, d))
        sim.results.record("export_price_index", np.full(r, sim.market.price_index))

    @staticmethod
    def _set(sim: Sim, date) -> float:
        year = date.year + (date.day_of_year - 1) / DAYS_PER_YEAR
        d = demand_index(sim.pars, year)
        s = sim.pars.china_demand_price_share
        sim.market.price_index = d ** s
        sim.market.volume_index = d ** (1.0 - s)
        return d
