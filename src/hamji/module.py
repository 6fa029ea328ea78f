"""The lifecycle every mechanism shares, as Starsim's modules have one.

A run calls, in this order (``hamji plan`` prints it):

1. **declare states**: every module's :attr:`Module.states` are allocated by the people before any module is set
   up (a state two modules declare alike is allocated once);
2. :meth:`Module.setup`, each module in the plan's order, then :meth:`Module.parameters_changed` with every
   parameter's name;
3. each week: the dated events; :meth:`Module.parameters_changed` (only in a week whose events changed parameters,
   with their names); the engine's start of the week (borders, market and trade counters); every module's
   :meth:`Module.start_week`; every module's :meth:`Module.step`; every module's :meth:`Module.end_week`; the
   results and the books;
4. :meth:`Module.finalize` after the last week.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


@dataclass(frozen=True)
class Metric:
    """An output series a module records each week, documented in ``docs/metrics.md``.

    ``agg``: how a group value comes from its regions ("sum", or "mean" weighted by households;
    metrics recorded from household values compute group values directly). ``annual``: how weeks
    make a year ("sum" for flows, "mean" for levels and rates, "last" for stocks at year end).
    ``scaled``: multiply by the scale (1:N) so totals are for the real population.
    """

    name: str
    unit: str
    doc: str
    agg: str = "sum"
    annual: str = "sum"
    scaled: bool = False


@dataclass(frozen=True)
class State:
    """An agent state a module declares: an array of ``dtype`` on agent set ``agents``, one value per agent."""

    agents: str  # "households", "merchants", "companies", "bases" or "defectors"
    name: str
    dtype: str  # a NumPy dtype name: "float32", "int8", ...
    fill: float = 0
    doc: str = ""


class Module:
    """Base class of a mechanism. Subclasses set ``name``, ``passage`` and ``metrics``."""

    name: ClassVar[str] = "module"
    #: the passage of Park (2009) or MODEL.md this module implements
    passage: ClassVar[str] = ""
    metrics: ClassVar[tuple[Metric, ...]] = ()
    #: agent states this module owns; the people allocate them before set-up
    states: ClassVar[tuple[State, ...]] = ()

    def setup(self, sim: Sim) -> None:
        """Build initial conditions (draws use stream ``<name>.setup...``)."""

    def parameters_changed(self, sim: Sim, names: frozenset[str]) -> None:
        """Recompute what depends only on parameters (constants of a kernel, a parameter record).

        Called once after set-up with every parameter's name, then in each week whose events changed parameters,
        with the names of those that changed, before any module starts the week. A module keeps no other check
        of whether its parameters changed.
        """

    def start_week(self, sim: Sim) -> None:
        """Work before any module steps this week (this week's counters)."""

    def step(self, sim: Sim) -> None:
        """Advance one week."""

    def end_week(self, sim: Sim) -> None:
        """Work after every module has stepped this week, before the results are recorded."""

    def after_copy(self, sim: Sim) -> None:
        """Re-link state that is a view into another array, after the simulation was deep-copied.

        A deep copy keeps shared objects shared but turns views into independent arrays; a module
        whose agent states are views (rows of one matrix, say) re-points them here.
        """

    def finalize(self, sim: Sim) -> None:
        """Results after the last week (summaries); must not change state that outputs read."""
