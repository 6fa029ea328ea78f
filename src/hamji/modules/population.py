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
from numba import njit, prange

from hamji.kernels import reduce_blocks, span
from hamji.module import Metric, Module
from hamji.people import ROLES

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

ROLE_METRICS = tuple(f"households_{r.replace(' ', '_')}" for r in ROLES)


@njit(cache=True, error_model="numpy", parallel=True)
def _tally(blocks: np.ndarray, role: np.ndarray, cash: np.ndarray, fx: np.ndarray, out: np.ndarray) -> None:
    """One pass over households in blocks (in parallel): by block, counts by role (the first columns of
    ``out``), money and traders' money (the last two).

    Sums in household order within a block (as ``np.bincount`` adds them), blocks added in order by
    :func:`hamji.kernels.reduce_blocks`.
    """
    n_roles = out.shape[1] - 2
    for b in prange(len(blocks)):
        counts = np.zeros(n_roles, dtype=np.int64)
        money = trading = 0.0
        for i in range(*span(blocks, b)):
            counts[role[i]] += 1
            m = cash[i] + fx[i]
            money += m
            trading += m * (1.0 if role[i] != 0 else 0.0)
        for k in range(n_roles):
            out[b, k] = counts[k]
        out[b, n_roles] = money
        out[b, n_roles + 1] = trading


class Population(Module):
    """Reports persons, households and households by market role, by region and group."""

    name = "population"
    passage = "Census population by province; households by market role (facilitators in producing, acquiring, shipping, or selling goods)."
    metrics = (
        Metric("population", "persons", "Persons in simulated households (2008 census, civilians), times the scale.",
               annual="mean", scaled=True),
        Metric("households", "households", "Simulated households times the scale.", annual="mean", scaled=True),
        *(Metric(m, "households", f"Households whose market role is '{r}', times the scale.", annual="mean", scaled=True)
          for m, r in zip(ROLE_METRICS, ROLES)),
        Metric("savings_usd", "US$", "Cash and foreign currency held by households at the end of the week.", annual="last", scaled=True),
        Metric("trading_capital_usd", "US$", "Cash and foreign currency held by households in a market role (their trading"
               " capital) at the end of the week.", annual="last", scaled=True),
    )

    def setup(self, sim: Sim) -> None:
        hh = sim.people.households
        r = sim.world.n_regions
        self._persons = np.bincount(hh.region, weights=hh.size, minlength=r)
        self._households = np.bincount(hh.region, minlength=r).astype(float)
        self._part = np.zeros((len(sim.blocks), len(ROLES) + 2))
        self._sums = np.zeros((r, len(ROLES) + 2))

    def step(self, sim: Sim) -> None:
        hh, res = sim.people.households, sim.results
        res.record("population", self._persons)
        res.record("households", self._households)
        _tally(sim.blocks, hh.role, hh.cash, hh.fx, self._part)
        reduce_blocks(self._part, sim.blocks, self._sums)
        nr = len(ROLES)
        by_role, money_r, trading_r = self._sums[:, :nr], self._sums[:, nr], self._sums[:, nr + 1]
        for k, name in enumerate(ROLE_METRICS):
            res.record(name, by_role[:, k])
        res.record("savings_usd", money_r)
        res.record("trading_capital_usd", trading_r)
