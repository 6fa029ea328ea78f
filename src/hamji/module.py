"""The lifecycle every mechanism shares: set up once, step each week, finalize at the end."""

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


class Module:
    """Base class of a mechanism. Subclasses set ``name``, ``passage`` and ``metrics``."""

    name: ClassVar[str] = "module"
    #: the passage of Park (2009) or MODEL.md this module implements
    passage: ClassVar[str] = ""
    metrics: ClassVar[tuple[Metric, ...]] = ()

    def setup(self, sim: Sim) -> None:
        """Declare states and build initial conditions (draws use stream ``<name>.setup...``)."""

    def step(self, sim: Sim) -> None:
        """Advance one week."""

    def after_copy(self, sim: Sim) -> None:
        """Re-link state that is a view into another array, after the simulation was deep-copied.

        A deep copy keeps shared objects shared but turns views into independent arrays; a module
        whose agent states are views (rows of one matrix, say) re-points them here.
        """

    def finalize(self, sim: Sim) -> None:
        """Work after the last week (summaries); must not change state that outputs read."""
