"""Scenarios: a named set of parameter overrides and dated events, read from YAML and validated.

A scenario never edits the baseline: it is applied to a fresh copy of the default parameters
(OpenFisca's "reform"). Built-in scenarios live in ``hamji/scenarios/``; a user passes a path.
Every mistake is reported as one line naming the file, the key and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

import hamji.interventions  # noqa: F401  (registers the named event types)
from hamji.errors import UserError
from hamji.events import EVENT_TYPES, Event
from hamji.parameters import REGISTRY, Parameters, ParamSpec, brief

#: a scenario file larger than this is refused (1 MB; the built-in ones are a few kB)
MAX_BYTES = 1_000_000
#: a scenario nested deeper than this is refused (a real one needs 5 levels: events, an event, params, a list)
MAX_DEPTH = 32

_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def _shown(value: Any) -> str:
    """A value from the input as the user wrote it: short plain text as is, anything else as a brief repr."""
    if isinstance(value, str) and value.isprintable() and 0 < len(value) <= 40:
        return value
    return brief(value)


def parse_date(value: Any, what: str) -> dt.date:
    """A calendar date written as YYYY-MM-DD (or a ``datetime.date``); ``what`` names the key or option."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is not None:
        try:
            return dt.date(*(int(g) for g in m.groups()))
        except ValueError:
            pass
    raise UserError(f"{what}: {_shown(value)} is not a date (YYYY-MM-DD)")


def _date_field(value: Any) -> dt.date:
    """Pydantic validator of a date in a scenario file: refuses 30 February, numbers, times of day."""
    if isinstance(value, dt.datetime) or not isinstance(value, (str, dt.date)):
        raise ValueError(f"{_shown(value)} is not a date (YYYY-MM-DD)")
    try:
        return parse_date(value, "")
    except UserError:
        raise ValueError(f"{_shown(value)} is not a date (YYYY-MM-DD)") from None


ScenarioDate = Annotated[dt.date, BeforeValidator(_date_field)]


class EventSpec(BaseModel):
    """One dated event as written in a scenario file."""

    model_config = ConfigDict(extra="forbid")
    type: str
    start: ScenarioDate
    end: ScenarioDate | None = None
    params: dict[str, Any] = {}


class ScenarioSpec(BaseModel):
    """A scenario file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    overrides: dict[str, Any] = {}
    groups: dict[str, list[str]] | None = None
    events: list[EventSpec] = []
    end: ScenarioDate | None = None  # the scenario's last week when a run does not give one (``hamji run --end``)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        if len(v) > 200 or not v.isprintable():
            raise ValueError("must be one line of at most 200 printable characters")
        return v


class ScenarioWarning(UserWarning):
    """Something the user set has less effect than they may think (the CLI prints it as one line)."""


def split_overrides(overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Split overrides into registry parameters and event keys (``TYPE.key``: {TYPE: {key: value}})."""
    plain: dict[str, Any] = {}
    by_event: dict[str, dict[str, Any]] = {}
    for name, value in (overrides or {}).items():
        if isinstance(name, str) and "." in name:
            etype, _, key = name.partition(".")
            if etype not in EVENT_TYPES or not key:
                raise UserError(f"--set {brief(name)}: an event key is written TYPE.key with TYPE one of"
                                f" {', '.join(sorted(EVENT_TYPES))} (for example microlending.default_rate)")
            if isinstance(value, str):  # from the command line: a number or a word, as YAML would read it
                try:
                    value = yaml.safe_load(value)
                except yaml.YAMLError:
                    pass
            by_event.setdefault(etype, {})[key] = value
        else:
            plain[name] = value
    return plain, by_event


def event_key_spec(name: str) -> ParamSpec | None:
    """The registry declaration behind an event key ``TYPE.key`` (its range, unit and source), if any."""
    etype, _, key = name.partition(".")
    cls = EVENT_TYPES.get(etype)
    target = cls.key_specs().get(key) if cls is not None else None
    return REGISTRY.get(target) if target else None


class Scenario:
    """A validated scenario: its spec, the resolved parameters and the event objects.

    ``extra_overrides`` (``--set``, an analysis's draws, ``params=`` in Python) hold registry
    parameters, which apply from the first week, and event keys ``TYPE.key``, which replace that key in
    every event of the type in the scenario. While an event is active its values win over a
    registry override of the same parameter (events are dated changes); a :class:`ScenarioWarning`
    says so and names the event key that would change it instead.
    """

    def __init__(self, spec: ScenarioSpec, where: str, extra_overrides: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.where = where
        self.extra_overrides = dict(extra_overrides or {})
        plain, by_event = split_overrides(extra_overrides)
        self.pars = Parameters(spec.overrides, where=f"{where}: overrides")
        for name, value in plain.items():
            self.pars.set(name, value, where="--set")
        missing = sorted(set(by_event) - {e.type for e in spec.events})
        if missing:
            present = sorted({e.type for e in spec.events})
            raise UserError(f"--set {missing[0]}.{next(iter(by_event[missing[0]]))}: {where} has no '{missing[0]}'"
                            f" event; its events: {', '.join(present) if present else 'none'}")
        if spec.groups is not None:
            _check_groups(spec.groups, where)
        self.events: list[Event] = []
        for i, e in enumerate(spec.events):
            at = f"{where}: events[{i}]"
            cls = EVENT_TYPES.get(e.type)
            if cls is None:
                raise UserError(f"{at}.type: unknown event type {brief(e.type)}; allowed: {', '.join(sorted(EVENT_TYPES))}")
            if e.end is not None and e.end < e.start:
                raise UserError(f"{at}: end {e.end} is before start {e.start}")
            params = {**e.params, **by_event.get(e.type, {})}
            try:
                event = cls(e.start, e.end, params, f"{at} ({e.type})")
            except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a value of the wrong kind in params
                raise UserError(f"{at}.params: a value of the wrong type for a '{e.type}' event ({exc});"
                                f" allowed: {cls.description}") from None
            # values an event derives itself (sme_incentives: years from its dates) must be in range too,
            # or the run would stop at the event's week instead of now
            for name, value in (getattr(event, "values", None) or {}).items():
                if name in REGISTRY:
                    REGISTRY[name].coerce(value, f"{at} ({e.type})")
            self.events.append(event)
        for name in plain:
            setters = [e for e in self.events if name in e.sets()]
            if setters:
                first = min(setters, key=lambda e: e.start)
                keys = [k for k, v in type(first).key_specs().items() if v == name]
                hint = f"; to change the event's value, set {first.type}.{keys[0]}" if keys else ""
                warnings.warn(f"{name}: {where}'s {first.type} event sets it from {first.start}, and its value wins"
                              f" while the event is active{hint}", ScenarioWarning, stacklevel=2)

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


def _check_groups(groups: dict[str, list[str]], where: str) -> None:
    """Output groups: each a new name with a list of known regions, each region once."""
    from hamji.world import world_layout

    lay = world_layout()
    regions = list(lay["dprk_regions"]) + list(lay["china_regions"])
    allowed = f"allowed regions: {', '.join(regions)}"
    if not groups:
        raise UserError(f"{where}: groups: give at least one group (name: [regions]), or leave groups out")
    for name, members in groups.items():
        at = f"{where}: groups.{_shown(name)}"
        if not name.strip() or name in regions:
            raise UserError(f"{at}: a group needs a name of its own, not empty and not a region's")
        if not members:
            raise UserError(f"{at}: give at least one region; {allowed}")
        unknown = [m for m in members if m not in regions]
        if unknown:
            raise UserError(f"{at}: unknown region {_shown(unknown[0])}; {allowed}")
        if len(set(members)) < len(members):
            raise UserError(f"{at}: names a region twice")


def _loc(parts: tuple[Any, ...]) -> str:
    text = ""
    for p in parts:
        if isinstance(p, int):
            text += f"[{p}]"
        else:
            text += ("." if text else "") + _shown(str(p))
    return text or "(top level)"


_TOP_KEYS = "name, description, overrides, groups, events, end"
_EVENT_KEYS = "type, start, end, params"


def _format_validation(err: ValidationError, where: str) -> str:
    first = err.errors()[0]
    loc = _loc(first["loc"])
    kind, msg = first["type"], first["msg"]
    got = f", got {brief(first.get('input'))}"
    if first["loc"] and first["loc"][-1] == "[key]":  # a key of a mapping, not a value
        return f"{where}: {_loc(first['loc'][:-2])}: every key must be text{got}"
    if kind == "extra_forbidden":
        msg = "unknown key; allowed keys: " + (_EVENT_KEYS if loc.startswith("events[") else _TOP_KEYS)
    elif kind == "missing":
        msg = "missing; this key is required"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind in ("dict_type", "model_type"):
        keys = f" with keys {_EVENT_KEYS}" if re.fullmatch(r"events\[\d+\]", loc) else " (key: value)"
        msg = f"must be a mapping{keys}{got}"
    elif kind == "list_type":
        msg = f"must be a list{got}"
    elif kind == "string_type":
        msg = f"must be text{got}"
    else:
        msg = f"{msg}{got}"
    return f"{where}: {loc}: {msg}"


class _ScenarioLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader (no tag can construct a Python object), made stricter for scenario files.

    Duplicate keys are refused (plain YAML keeps the last silently); nesting deeper than
    :data:`MAX_DEPTH` is refused (instead of exhausting Python's recursion limit); timestamps stay
    text, so the scenario's schema checks each date and names its key (30 February is refused there);
    a value that cannot be converted (a number too long) is reported at its line.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    key = (key_node.tag, key_node.value)
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key '{_shown(key_node.value)}'", key_node.start_mark)
                    seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, TypeError):
            kind = str(node.tag).rsplit(":", 1)[-1]
            value = f" {_shown(node.value)}" if isinstance(node, yaml.ScalarNode) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read{value} as {_shown(kind)}", node.start_mark) from None


_ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def _shown_path(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else brief(text)


def _read_text(path: Path, where: str) -> str:
    """The file's text, refused unless it is a regular file of at most MAX_BYTES of UTF-8 text."""
    limit = f"a scenario file may be at most 1 MB ({MAX_BYTES} bytes)"
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{where}: too large; {limit}")
    if b"\x00" in data:
        raise UserError(f"{where}: contains NUL bytes (a binary file?); a scenario is YAML text in UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"{where}: line {line}: not UTF-8 text (byte {exc.start}); a scenario is YAML text in UTF-8") from None


def _parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_ScenarioLoader)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else _shown(exc.character)
        raise UserError(f"{where}: line {line}: character {char} is not allowed in YAML text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or exc
        raise UserError(f"{where}:{line} not valid YAML ({' '.join(str(problem).split())})") from None
    except RecursionError:
        raise UserError(f"{where}: nested too deeply; at most {MAX_DEPTH} levels") from None


def load_scenario(name_or_path: str | Path | None = None, extra_overrides: dict[str, Any] | None = None) -> Scenario:
    """Load a built-in scenario by name or a scenario file by path, and validate it."""
    if name_or_path is None:
        name_or_path = "baseline"
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise UserError(f"scenario {brief(name_or_path)}: expected a built-in scenario name or a scenario file path")
    text_name = os.fsdecode(name_or_path)
    shown = _shown_path(Path(text_name)) if "\x00" not in text_name else brief(text_name)
    path = Path(text_name)
    if not path.suffix and text_name in builtin_names():
        path = builtin_path(text_name)
    else:
        try:
            mode = path.stat().st_mode
        except (OSError, ValueError):
            mode = None
        if mode is None:
            raise UserError(f"scenario '{shown}': no such file, and not a built-in scenario"
                            f" (built-in: {', '.join(builtin_names())})")
        if stat.S_ISDIR(mode):
            raise UserError(f"scenario '{shown}': is a folder; give a scenario file (YAML) or a built-in name"
                            f" ({', '.join(builtin_names())})")
        if not stat.S_ISREG(mode):
            raise UserError(f"scenario '{shown}': not a regular file; give a scenario file (YAML)")
    where = _shown_path(path) if path.parent != builtin_path("x").parent else f"scenario {path.stem}"
    raw = _parse_yaml(_read_text(path, where), where)
    if raw is None:
        raise UserError(f"{where}: empty; expected a mapping with keys {_TOP_KEYS} (at least name)")
    if not isinstance(raw, dict):
        kind = "a list" if isinstance(raw, list) else f"a single value {brief(raw)}"
        raise UserError(f"{where}: expected a mapping with keys {_TOP_KEYS}, got {kind}")
    try:
        spec = ScenarioSpec.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_format_validation(exc, where)) from None
    except RecursionError:
        raise UserError(f"{where}: nested too deeply; at most {MAX_DEPTH} levels") from None
    return Scenario(spec, where, extra_overrides)
