"""The books: money is conserved, week by week.

Every holder of money (households, merchants, companies, the leader's accounts, budgets, officials,
brokers, ...) registers a function that returns its total. Money enters or leaves only through the
named outside world (Chinese buyers, defectors abroad, the NGO, the Chinese state, consumption of
imports abroad), recorded with :meth:`Books.inflow` and :meth:`Books.outflow`. At the end of each
week the books check that the change of all holders equals inflows minus outflows; the largest
residual, relative to the money in the system, is kept for the tests.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class Books:
    """Holders, outside flows and the weekly balance check."""

    def __init__(self) -> None:
        self.holders: dict[str, tuple[Any, tuple[str, ...]]] = {}
        self.inflows: dict[str, float] = defaultdict(float)
        self.outflows: dict[str, float] = defaultdict(float)
        self._week_in = 0.0
        self._week_out = 0.0
        self._last_total: float | None = None
        self.max_rel_residual = 0.0
        self.residuals: list[float] = []

    def holder(self, name: str, owner: Any, *arrays: str) -> None:
        """Register a holder of money: the arrays ``owner.<array>`` whose sum is its total (US$).

        Holders are kept as (object, attribute names), not closures, so a deep copy of a simulation
        (a forked scenario) checks its own books.
        """
        if name in self.holders:
            raise ValueError(f"holder '{name}' registered twice")
        if not arrays:
            raise ValueError(f"holder '{name}': name at least one array")
        self.holders[name] = (owner, arrays)

    def inflow(self, flow: str, amount: float) -> None:
        """Money entering from the outside world through ``flow`` (US$, may be an array sum)."""
        a = float(amount)
        self.inflows[flow] += a
        self._week_in += a

    def outflow(self, flow: str, amount: float) -> None:
        """Money leaving to the outside world through ``flow``."""
        a = float(amount)
        self.outflows[flow] += a
        self._week_out += a

    def totals(self) -> dict[str, float]:
        """Money held by each holder now."""
        return {k: float(sum(getattr(obj, a).sum() for a in arrays)) for k, (obj, arrays) in self.holders.items()}

    def open(self) -> None:
        """Take the opening balance (after set-up)."""
        self._last_total = sum(self.totals().values())

    def close_week(self) -> float:
        """Check this week's balance; returns the residual (US$)."""
        total = sum(self.totals().values())
        expected = (self._last_total or 0.0) + self._week_in - self._week_out
        residual = total - expected
        scale = max(abs(total), abs(expected), 1.0)
        self.max_rel_residual = max(self.max_rel_residual, abs(residual) / scale)
        self.residuals.append(residual)
        self._last_total = total
        self._week_in = self._week_out = 0.0
        return residual
