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

from hamji.module import Metric, Module
from hamji.people import ROLES

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

ROLE_METRICS = tuple(f"households_{r.replace(' ', '_')}" for r in ROLES)


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
        self._key = np.empty(hh.n, dtype=np.int64)  # reused buffers: no temporaries in the weekly loop
        self._money = np.empty(hh.n)

    def step(self, sim: "Sim") -> None:
        hh = sim.people.households
        r = sim.world.n_regions
        res = sim.results
        res.record("population", self._persons)
        res.record("households", self._households)
        np.multiply(hh.region, len(ROLES), out=self._key)
        np.add(self._key, hh.role, out=self._key)
        by_role = np.bincount(self._key, minlength=r * len(ROLES))
        by_role = by_role.reshape(r, len(ROLES)).astype(float)
        for k, name in enumerate(ROLE_METRICS):
            res.record(name, by_role[:, k])
        money = np.add(hh.cash, hh.fx, out=self._money)
        res.record("savings_usd", np.bincount(hh.region, weights=money, minlength=r))
        np.multiply(money, hh.role != 0, out=money)
        res.record("trading_capital_usd", np.bincount(hh.region, weights=money, minlength=r))
