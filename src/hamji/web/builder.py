"""The scenario builder's model: a scenario as a plain dict, the inputs of its form, and its YAML.

The form starts from a built-in scenario (``hamji scenarios``) and edits a copy of it: each event's
dates and parameters (programmes' budgets and targeting, shocks' dates), any registry parameter as
an override, and programmes added from the built-in programme scenarios. The YAML shown and
downloaded is exactly what the form holds, and it is checked by :func:`check_yaml` with the same
loader and the same messages as ``hamji run FILE`` (:func:`hamji.scenario.load_scenario`), so the
web app and the command line accept and refuse the same files.
"""

from __future__ import annotations

import copy
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hamji.errors import UserError
from hamji.events import EVENT_TYPES
from hamji.parameters import REGISTRY
from hamji.scenario import MAX_BYTES, Scenario, builtin_names, load_scenario

#: programmes an analyst can add to any scenario; each comes with the parameters of its built-in scenario
PROGRAMS = ("microlending", "training", "transport")


@dataclass(frozen=True)
class Field:
    """One input of an event's form: key, value, kind (number, bool, text), and what to show beside it."""

    key: str
    value: Any
    kind: str
    help: str


def template(name: str) -> dict[str, Any]:
    """A built-in scenario as a plain dict (dates as text), to edit."""
    if name not in builtin_names():
        raise UserError(f"scenario {name!r}: not a built-in scenario; allowed: {', '.join(builtin_names())}")
    return load_scenario(name).to_dict()


def program_event(name: str) -> dict[str, Any]:
    """The first event of the built-in scenario of programme ``name`` (its budget, targeting, start)."""
    return copy.deepcopy(template(name)["events"][0])


def describe(name: str) -> str:
    """Unit, range and source of a registry parameter, as shown beside its input."""
    p = REGISTRY[name]
    return f"{p.unit}; range [{p.low:g}, {p.high:g}]; source: {p.source}"


def event_fields(event: dict[str, Any]) -> list[Field]:
    """The inputs of one event's parameters, each with the unit, range and source of the registry
    parameter it sets (for events whose keys are registry parameters) or the event's own description."""
    cls = EVENT_TYPES.get(event.get("type", ""))
    keys = getattr(cls, "keys", {}) if cls is not None else {}
    out = []
    for key, value in (event.get("params") or {}).items():
        full = keys.get(key, key if event.get("type") == "set_parameters" else None)
        help_ = describe(full) if full in REGISTRY else (cls.description if cls is not None else "")
        kind = "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "text"
        out.append(Field(key, value, kind, help_))
    return out


def coerce_text(text: Any) -> Any:
    """A text input's value as YAML would read it (a list of crossings, a number, a word)."""
    if not isinstance(text, str):
        return text
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def to_yaml_value(value: Any) -> str:
    """A value of a text input as one line of YAML (a list of crossings as [a, b])."""
    return value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def to_yaml(spec: dict[str, Any]) -> str:
    """The scenario as YAML text (keys in the order a reader expects)."""
    order = ("name", "description", "end", "overrides", "groups", "events")
    clean = {k: spec[k] for k in order if k in spec and spec[k] not in (None, "", {}, [])}
    if isinstance(clean.get("description"), str):  # one line: a folded block with its trailing newline reads badly
        clean["description"] = " ".join(clean["description"].split())
    if "events" in clean:  # an event without an end, or without parameters, says nothing of them
        clean["events"] = [{k: v for k, v in e.items() if v not in (None, {}, [])} for e in clean["events"]]
    clean.setdefault("name", spec.get("name", ""))
    return yaml.safe_dump(clean, sort_keys=False, allow_unicode=True, width=100)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def check_yaml(text: str, filename: str = "scenario.yaml") -> Scenario:
    """Validate scenario YAML exactly as ``hamji run FILE`` does; a :class:`UserError` naming ``filename``."""
    return check_bytes(text.encode("utf-8", "surrogatepass"), filename)[1]


def check_bytes(data: bytes, filename: str) -> tuple[str, Scenario]:
    """An uploaded file: its text and scenario, or the CLI's message (binary, not UTF-8, too large...)."""
    name = _SAFE.sub("_", Path(filename).name)[:80] or "scenario.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data[: MAX_BYTES + 1])
        try:
            scenario = load_scenario(path)
        except UserError as exc:
            raise UserError(str(exc).replace(str(path), name)) from None
    return data.decode("utf-8-sig"), scenario
