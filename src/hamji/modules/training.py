"""Training programs in Jilin: techniques that raise merchants' productivity and quality.

"A second policy should be the promotion of training programs in Jilin, which would accelerate
commercial activities sparked by micro-lending as more Chinese learn techniques and practices that
can improve the productivity and quality of goods and services. ... lessons learned by Chinese can
be transferred to their North Korean partners." (Park 2009)

Each week ``trained_per_year / 52`` (divided by the scale, fractions carried stochastically)
untrained merchants of the Jilin border prefectures the program serves (``training_in_yanbian``,
``training_in_baishan``, ``training_in_tonghua``: a design choice the paper leaves open), chosen at
random, complete a course: productivity
``x (1 + productivity_gain)``, quality ``x (1 + quality_gain)``, know-how raised to ``training_knowhow``.
The network module passes merchants' know-how to their North Korean partners along trade ties, and
from them to other facilitators; nothing crosses the border except through trade. The program pays
``training_cost_usd`` per person to Jilin trainers (money in from outside, flow ``training_program``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hamji.module import Metric, Module, State

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


#: the switch that opens the program to each Jilin border prefecture (world.yaml's names)
PREFECTURE_SWITCHES = {"Yanbian": "training_in_yanbian", "Baishan": "training_in_baishan", "Tonghua": "training_in_tonghua"}


class Training(Module):
    """Trains Jilin merchants; know-how then travels to North Korean partners along ties."""

    name = "training"
    passage = "Training programs in Jilin: 'techniques and practices that can improve the productivity and quality of goods and services'."
    metrics = (
        Metric("trained_merchants", "merchants", "Merchants who have completed training, times the scale.", annual="last", scaled=True),
        Metric("training_spending_usd", "US$", "Paid by the training program to Jilin trainers this week.", scaled=True),
    )

    states = (State("merchants", "trained", "bool", False, "has completed the training program"),)

    def setup(self, sim: Sim) -> None:
        jilin = sim.world.groups.get("Jilin", [])
        self._prefecture = {sim.world.names.index(n): key for n, key in PREFECTURE_SWITCHES.items()
                            if n in sim.world.names and sim.world.names.index(n) in jilin}

    def served(self, sim: Sim) -> np.ndarray:
        """Per region: whether the program trains its merchants this week (its switch is on)."""
        out = np.zeros(sim.world.n_regions, dtype=bool)
        for region, key in self._prefecture.items():
            out[region] = bool(sim.pars[key])
        return out

    def step(self, sim: Sim) -> None:
        p, m = sim.pars, sim.people.merchants
        r = sim.world.n_regions
        spent = np.zeros(r)
        want = p.training_trained_per_year / 52.0 / sim.scale
        if want > 0:
            n = int(want) + int(sim.rng("training.fraction").random() < want - int(want))
            cand = np.flatnonzero(self.served(sim)[m.region] & ~m.trained)
            if n and len(cand):
                key = sim.rng("training.pick").random(m.n)[cand]
                chosen = cand[np.argsort(key, kind="stable")[:n]]
                m.trained[chosen] = True
                m.productivity[chosen] *= np.float32(1.0 + p.training_productivity_gain)
                m.quality[chosen] *= np.float32(1.0 + p.training_quality_gain)
                m.knowhow[chosen] = np.maximum(m.knowhow[chosen], np.float32(p.training_knowhow))
                spent = np.bincount(m.region[chosen], minlength=r) * p.training_cost_usd
                sim.accounts.jilin_households += spent
                sim.books.inflow("training_program", spent.sum())
        sim.results.record("trained_merchants", np.bincount(m.region, weights=m.trained.astype(float), minlength=r))
        sim.results.record("training_spending_usd", spent)
