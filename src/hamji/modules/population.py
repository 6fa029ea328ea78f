"""Population: who lives where, and in which market role.

"North Koreans in other parts of the country - particularly regions farther away from the
Sino-DPRK border - who did not have regular access to commercial networks like those in HamJi were
not able to derive similar benefits." (Park 2009). The population is fixed at the 2008 census over
the run (no births, deaths or migration between provinces: an assumption, since the paper's
mechanisms act through trade, not demography); this module reports it and the market roles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji.kernels import province_bounds
from hamji.module import Metric, Module
from hamji.people import ROLES

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

ROLE_METRICS = tuple(f"households_{r.replace(' ', '_')}" for r in ROLES)


@njit(cache=True, error_model="numpy")
def _tally(bounds: np.ndarray, role: np.ndarray, cash: np.ndarray, fx: np.ndarray, n_roles: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over households, province by province: counts by (province, role), money and traders'
    money by province.

    Sums in household order, as ``np.bincount`` adds them, so the figures are the same to the bit.
    """
    n_regions = len(bounds) - 1
    by_role = np.zeros((n_regions, n_roles))
    money_r = np.zeros(n_regions)
    trading_r = np.zeros(n_regions)
    counts = np.zeros(n_roles, dtype=np.int64)
    for r in range(n_regions):
        counts[:] = 0
        money = trading = 0.0
        for i in range(bounds[r], bounds[r + 1]):
            counts[role[i]] += 1
            m = cash[i] + fx[i]
            money += m
            trading += m * (1.0 if role[i] != 0 else 0.0)
        by_role[r, :] = counts
        money_r[r] = money
        trading_r[r] = trading
    return by_role, money_r, trading_r


class Population(Module):
    """Reports persons, households and households by market role, by region and group."""

    name = "population"
    passage = "Census population by province; households by market role (facilitators in producing, acquiring, shipping, or selling goods)."
    metrics = (
        Metric("population", "persons", "Persons in simulated households (2008 census, civilians), times the scale.", annual="mean", scaled=True),
        Metric("households", "households", "Simulated households times the scale.", annual="mean", scaled=True),
        *(Metric(m, "households", f"Households whose market role is '{r}', times the scale.", annual="mean", scaled=True)
          for m, r in zip(ROLE_METRICS, ROLES)),
        Metric("savings_usd", "US$", "Cash and foreign currency held by households at the end of the week.", annual="last", scaled=True),
        Metric("trading_capital_usd", "US$", "Cash and foreign currency held by households in a market role (their trading"
               " capital) at the end of the week.", annual="last", scaled=True),
    )

    def setup(self, sim: "Sim") -> None:
        hh = sim.people.households
        r = sim.world.n_regions
        self._persons = np.bincount(hh.region, weights=hh.size, minlength=r)
        self._households = np.bincount(hh.region, minlength=r).astype(float)
        self._bounds = province_bounds(hh.region, r)

    def step(self, sim: "Sim") -> None:
        hh = sim.people.households
        r = sim.world.n_regions
        res = sim.results
        res.record("population", self._persons)
        res.record("households", self._households)
        by_role, money_r, trading_r = _tally(self._bounds, hh.role, hh.cash, hh.fx, len(ROLES))
        for k, name in enumerate(ROLE_METRICS):
            res.record(name, by_role[:, k])
        res.record("savings_usd", money_r)
        res.record("trading_capital_usd", trading_r)
