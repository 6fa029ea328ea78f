"""Dated events: interventions and shocks that change parameters or state at the start of a week.

An event has a type, a start date, an optional end date and its own parameters. Event types are
registered in :data:`EVENT_TYPES`; each checks its parameters when the scenario is loaded, so a
mistake is reported before anything runs.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from hamji.errors import UserError
from hamji.parameters import REGISTRY

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


class Event:
    """Base class: ``apply`` at the start of the week containing ``start``; ``revert`` at ``end``."""

    type: ClassVar[str] = "event"
    description: ClassVar[str] = ""

    def __init__(self, start: dt.date, end: dt.date | None, params: dict[str, Any], where: str) -> None:
        self.start, self.end, self.params, self.where = start, end, dict(params), where
        self.validate()

    def validate(self) -> None:
        """Check ``params``; raise :class:`UserError` naming ``self.where`` on a mistake."""

    def apply(self, sim: Sim) -> None:
        """Change parameters or state."""

    def revert(self, sim: Sim) -> None:
        """Undo at the end date (if the event has one)."""

    def sets(self) -> set[str]:
        """The registry parameters this event sets while it is active (its value wins over an override)."""
        return set(getattr(self, "values", None) or {})

    @classmethod
    def key_specs(cls) -> dict[str, str]:
        """This event type's keys that stand for a registry parameter: key -> parameter name.

        An analysis or ``--set`` reaches them as ``TYPE.key`` (``microlending.default_rate``).
        """
        return dict(getattr(cls, "keys", None) or {})


class SetParameters(Event):
    """Set parameters to new values from ``start``; restore the previous values at ``end``."""

    type = "set_parameters"
    description = "set any parameters (params: {name: value}) from start, restored at end"

    def validate(self) -> None:
        if not self.params:
            raise UserError(f"{self.where}: params: give at least one parameter name: value")
        for name, value in self.params.items():
            spec = REGISTRY.get(name)
            if spec is None:
                raise UserError(f"{self.where}: params: unknown parameter '{name}'; run `hamji params` for the list")
            self.params[name] = spec.coerce(value, f"{self.where}: params")
        self._saved: dict[str, Any] = {}

    def apply(self, sim: Sim) -> None:
        for name, value in self.params.items():
            self._saved[name] = sim.pars[name]
            sim.pars.set(name, value, self.where)

    def revert(self, sim: Sim) -> None:
        for name, value in self._saved.items():
            sim.pars.set(name, value, self.where)

    def sets(self) -> set[str]:
        return set(self.params)


EVENT_TYPES: dict[str, type[Event]] = {SetParameters.type: SetParameters}


def register(cls: type[Event]) -> type[Event]:
    """Class decorator adding an event type to :data:`EVENT_TYPES`."""
    EVENT_TYPES[cls.type] = cls
    return cls
