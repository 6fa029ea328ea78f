"""Agents as structure of arrays: one NumPy array per attribute, one row per agent.

An :class:`AgentArrays` holds one kind of agent (households, merchants, companies, revenue bases,
defectors). Modules declare the states they need with :meth:`AgentArrays.add`; the set grows with
:meth:`AgentArrays.grow` (new defectors arrive each year). Typed narrowly on purpose: at full scale
(5.9 million households) every byte per household costs 5.9 MB; :meth:`AgentArrays.bytes_per_agent`
reports the total.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: market roles of a household: "facilitators in producing, acquiring, shipping, or selling goods"
#: plus the wholesale partners of Chinese merchants (Park 2009)
ROLES = ("none", "retail seller", "producer", "acquirer", "shipper", "wholesale partner")
ROLE_NONE, ROLE_SELLER, ROLE_PRODUCER, ROLE_ACQUIRER, ROLE_SHIPPER, ROLE_PARTNER = range(len(ROLES))


class AgentArrays:
    """A set of agents of one kind, stored as named NumPy arrays of equal length."""

    def __init__(self, kind: str, n: int = 0) -> None:
        self.kind = kind
        self.n = int(n)
        self._states: dict[str, tuple[np.dtype, Any]] = {}

    def add(self, name: str, dtype: Any, fill: Any = 0, values: np.ndarray | None = None) -> np.ndarray:
        """Declare a state (an array of length ``n``), filled with ``fill`` or given ``values``."""
        if name in self._states:
            raise ValueError(f"{self.kind}: state '{name}' is declared twice")
        dt = np.dtype(dtype)
        arr = np.full(self.n, fill, dtype=dt) if values is None else np.asarray(values, dtype=dt)
        if arr.shape != (self.n,):
            raise ValueError(f"{self.kind}.{name}: expected {self.n} values, got {arr.shape}")
        self._states[name] = (dt, fill)
        setattr(self, name, arr)
        return arr

    def grow(self, k: int, **values: np.ndarray) -> np.ndarray:
        """Append ``k`` agents; states not given are filled with their declared fill. Returns new ids."""
        unknown = set(values) - set(self._states)
        if unknown:
            raise ValueError(f"{self.kind}: unknown states {sorted(unknown)}")
        for name, (dt, fill) in self._states.items():
            new = np.asarray(values[name], dtype=dt) if name in values else np.full(k, fill, dtype=dt)
            setattr(self, name, np.concatenate([getattr(self, name), new]))
        ids = np.arange(self.n, self.n + k)
        self.n += k
        return ids

    @property
    def states(self) -> list[str]:
        """Names of the declared states."""
        return list(self._states)

    def bytes_per_agent(self) -> int:
        """Bytes of state per agent (sum of item sizes of every declared array)."""
        return int(sum(dt.itemsize for dt, _ in self._states.values()))

    def nbytes(self) -> int:
        """Total bytes held by the arrays."""
        return int(sum(getattr(self, n).nbytes for n in self._states))


class People:
    """Every agent set of the simulation."""

    def __init__(self) -> None:
        self.households = AgentArrays("households")
        self.merchants = AgentArrays("merchants")
        self.companies = AgentArrays("companies")
        self.bases = AgentArrays("bases")
        self.defectors = AgentArrays("defectors")

    def sets(self) -> dict[str, AgentArrays]:
        """The agent sets by kind."""
        return {a.kind: a for a in (self.households, self.merchants, self.companies, self.bases, self.defectors)}

    def memory_table(self) -> dict[str, dict[str, int]]:
        """Agents, bytes per agent and total bytes of each agent set."""
        return {k: {"agents": a.n, "bytes_per_agent": a.bytes_per_agent(), "bytes": a.nbytes()} for k, a in self.sets().items()}
