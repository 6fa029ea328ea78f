"""Named random streams (common random numbers, as Starsim does).

Every stochastic decision draws from a generator derived from (run seed, stream name, week). A
stream's draws therefore never depend on how many numbers any other stream used, nor on what
happened in earlier weeks of its own stream: a scenario that changes one decision leaves every other
draw unchanged, and the difference between two scenarios is the intervention, not noise.

Convention for modules: draw for *every* agent of the kind (``size=n``) and mask afterwards, so an
agent keeps its number when eligibility changes between scenarios.
"""

from __future__ import annotations

import hashlib

import numpy as np


def name_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


class Streams:
    """Factory of named generators for one run."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._keys: dict[str, int] = {}

    def get(self, name: str, week: int = -1) -> np.random.Generator:
        """The generator of stream ``name`` for ``week`` (-1 for set-up draws)."""
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = name_key(name)
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, key, week + 1])))

    @property
    def names(self) -> list[str]:
        """Every stream name used so far in this run."""
        return sorted(self._keys)
