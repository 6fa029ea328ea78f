"""Scenarios: a named set of parameter overrides and dated events, read from YAML and validated.

A scenario never edits the baseline: it is applied to a fresh copy of the default parameters
(OpenFisca's "reform"). Built-in scenarios live in ``hamji/scenarios/``; a user passes a path.
Every mistake is reported as one line naming the file, the key and what is allowed.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from hamji.errors import UserError
import hamji.interventions  # noqa: F401  (registers the named event types)
from hamji.events import EVENT_TYPES, Event
from hamji.parameters import Parameters


class EventSpec(BaseModel):
    """One dated event as written in a scenario file."""

    model_config = ConfigDict(extra="forbid")
    type: str
    start: dt.date
    end: dt.date | None = None
    params: dict[str, Any] = {}


class ScenarioSpec(BaseModel):
    """A scenario file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    overrides: dict[str, Any] = {}
    groups: dict[str, list[str]] | None = None
    events: list[EventSpec] = []
    end: dt.date | None = None  # the scenario's last week when a run does not give one (``hamji run --end``)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class Scenario:
    """A validated scenario: its spec, the resolved parameters and the event objects."""

    def __init__(self, spec: ScenarioSpec, where: str, extra_overrides: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.where = where
        self.pars = Parameters(spec.overrides, where=f"{where}: overrides")
        for name, value in (extra_overrides or {}).items():
            self.pars.set(name, value, where="--set")
        self.events: list[Event] = []
        for i, e in enumerate(spec.events):
            at = f"{where}: events[{i}]"
            cls = EVENT_TYPES.get(e.type)
            if cls is None:
                raise UserError(f"{at}.type: unknown event type '{e.type}'; allowed: {', '.join(sorted(EVENT_TYPES))}")
            if e.end is not None and e.end < e.start:
                raise UserError(f"{at}: end {e.end} is before start {e.start}")
            self.events.append(cls(e.start, e.end, e.params, f"{at} ({e.type})"))

    @property
    def name(self) -> str:
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        """The scenario as written (for the manifest)."""
        return self.spec.model_dump(mode="json")


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    folder = resources.files("hamji") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def builtin_path(name: str) -> Path:
    """Path of a built-in scenario file."""
    return Path(str(resources.files("hamji") / "scenarios" / f"{name}.yaml"))


def _format_validation(err: ValidationError, where: str) -> str:
    first = err.errors()[0]
    loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key; allowed keys: " + (
            "type, start, end, params" if "events" in loc else "name, description, overrides, groups, events, end")
    return f"{where}: {loc}: {msg}"


def load_scenario(name_or_path: str | Path | None = None, extra_overrides: dict[str, Any] | None = None) -> Scenario:
    """Load a built-in scenario by name or a scenario file by path, and validate it."""
    if name_or_path is None:
        name_or_path = "baseline"
    text_name = str(name_or_path)
    path = Path(text_name)
    if not path.suffix and text_name in builtin_names():
        path = builtin_path(text_name)
    elif not path.is_file():
        raise UserError(f"scenario '{text_name}': no such file, and not a built-in scenario"
                        f" (built-in: {', '.join(builtin_names())})")
    where = str(path) if path.parent != builtin_path("x").parent else f"scenario {path.stem}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{where}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot be read ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping with keys name, description, overrides, events")
    try:
        spec = ScenarioSpec.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_format_validation(exc, where)) from None
    return Scenario(spec, where, extra_overrides)
