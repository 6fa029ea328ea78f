"""The parameter registry: every parameter declared once, with default, range, unit and source.

Parameters live in YAML files under ``hamji/parameters/``, one file per module, so a module's
parameters sit beside its name. Each entry has ``default``, ``range`` ([low, high]), ``unit``,
``source`` (a quote from the paper, a data file, or "assumption: <reason>") and ``description``;
optional ``type`` (float, int, bool), ``calibrate`` (true if ``hamji calibrate`` may fit it) and
``uncertain``. The loader refuses unknown keys, so a typo in the registry is caught at import time.

``uncertain`` marks a parameter the uncertainty analyses (``hamji sensitivity``, ``discover``,
``robust``, the EMA Workbench adapter) vary by default: ``true`` samples the declared range, or
``{range: [low, high], dist: uniform|loguniform}`` a narrower plausible range inside it. The rule
used to set them: an assumed value (its source says so) is plausible within a factor of two either
side of its default, clipped to the declared range, since nothing in the paper or the data bounds it
more tightly; a value fitted by the shipped calibration keeps its declared range, the calibration's
prior. Program levers (budgets, loan terms, targeting), event settings (a closure's severity) and the
definitions of the human security index are choices, not uncertainties, and are not marked.

A run works on a :class:`Parameters` copy of the defaults with overrides applied; events may change
values during a run, the registry never changes.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from hamji.errors import UserError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is present
_ALLOWED_KEYS = {"default", "range", "unit", "source", "description", "type", "calibrate", "uncertain"}
#: how an uncertain parameter is sampled: a unit-uniform draw u maps to a value in [low, high]
DISTRIBUTIONS = ("uniform", "loguniform")


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter."""

    name: str
    default: float | int | bool
    low: float
    high: float
    unit: str
    source: str
    description: str
    module: str
    type: str = "float"
    calibrate: bool = False
    #: the registry file's own default, before the shipped calibration (``hamji/calibrated.yaml``)
    prior_default: float | int | bool | None = None
    #: varied by the uncertainty analyses by default, over [u_low, u_high] with ``dist``
    uncertain: bool = False
    u_low: float | None = None
    u_high: float | None = None
    dist: str = "uniform"

    def bounds(self, declared: bool = False) -> tuple[float, float]:
        """The range an analysis samples: the plausible range, or the declared one if ``declared``."""
        if declared or self.u_low is None or self.u_high is None:
            return self.low, self.high
        return self.u_low, self.u_high

    def from_unit(self, u: Any, declared: bool = False) -> Any:
        """Map unit-uniform draws ``u`` (a float or array in [0, 1]) to values of this parameter.

        Uniform or log-uniform on :meth:`bounds`; whole numbers for ``int`` parameters (each value
        equally likely), ``u >= 0.5`` for ``bool``. The result is always inside the declared range.
        """
        import numpy as np

        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        lo, hi = self.bounds(declared)
        if self.type == "bool":
            return u >= 0.5
        if self.type == "int":
            return np.minimum(np.floor(lo + u * (hi - lo + 1.0)), hi).astype(np.int64)
        if self.dist == "loguniform" and lo > 0:
            v = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        else:
            v = lo + u * (hi - lo)
        return np.clip(v, lo, hi)  # [lo, hi] lies inside the declared range

    def coerce(self, value: Any, where: str) -> float | int | bool:
        """Convert ``value`` to this parameter's type and check its range; ``where`` names the origin."""
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
                return value.lower() in {"true", "1", "yes", "on"}
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise UserError(f"{where}: parameter '{self.name}' must be true or false, got {brief(value)}")
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except OverflowError:  # a whole number too large for a float: outside every range
            raise UserError(
                f"{where}: parameter '{self.name}' = {brief(value)} is out of range; allowed"
                f" [{_fmt(self.low)}, {_fmt(self.high)}] ({self.unit})"
            ) from None
        except (TypeError, ValueError):
            raise UserError(
                f"{where}: parameter '{self.name}' must be a number in [{_fmt(self.low)}, {_fmt(self.high)}]"
                f" ({self.unit}), got {brief(value)}"
            ) from None
        if math.isnan(number) or not (self.low <= number <= self.high):
            raise UserError(
                f"{where}: parameter '{self.name}' = {_fmt(number)} is out of range; allowed"
                f" [{_fmt(self.low)}, {_fmt(self.high)}] ({self.unit})"
            )
        if self.type == "int":
            if number != int(number):
                raise UserError(f"{where}: parameter '{self.name}' must be a whole number, got {brief(value)}")
            return int(number)
        return number

    def as_dict(self) -> dict[str, Any]:
        """A plain dictionary for JSON output and manifests."""
        return {
            "name": self.name,
            "default": self.default,
            "range": [self.low, self.high],
            "unit": self.unit,
            "source": self.source,
            "description": self.description,
            "module": self.module,
            "type": self.type,
            "calibrate": self.calibrate,
            "prior_default": self.prior_default,
            "uncertain": self.uncertain,
            "uncertain_range": list(self.bounds()) if self.uncertain else None,
            "dist": self.dist if self.uncertain else None,
        }


def _fmt(x: float) -> str:
    return f"{x:g}"


_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 60
_BRIEF.maxlevel = 3


def brief(value: Any) -> str:
    """A short, one-line ``repr`` of a value from the user's input, for error messages.

    Bounded in length and depth, so a huge or deeply nested value (or one shared many times through
    YAML aliases) cannot make the message long or slow.
    """
    try:
        text = _BRIEF.repr(value)
    except Exception:
        text = f"<a {type(value).__name__} too long to show>"
    return " ".join(text.split())


def _uncertainty(entry: Any, low: float, high: float, where: str) -> tuple[bool, float | None, float | None, str]:
    """Read a registry entry's ``uncertain`` key: (flag, plausible low, plausible high, distribution)."""
    if isinstance(entry, bool):
        return entry, None, None, "uniform"
    if not isinstance(entry, dict) or set(entry) - {"range", "dist"}:
        raise ValueError(f"{where}: uncertain must be true, false or {{range: [low, high], dist: ...}}")
    lo, hi = (float(x) for x in entry.get("range", (low, high)))
    dist = entry.get("dist", "uniform")
    if not low <= lo < hi <= high or dist not in DISTRIBUTIONS or (dist == "loguniform" and lo <= 0):
        raise ValueError(f"{where}: uncertain range [{lo:g}, {hi:g}] must lie inside [{low:g}, {high:g}] and"
                         f" dist be one of {DISTRIBUTIONS} (loguniform needs a positive low)")
    return True, lo, hi, dist


def uncertain_names() -> list[str]:
    """The parameters the uncertainty analyses vary by default, in registry order."""
    return [n for n, p in REGISTRY.items() if p.uncertain]


def _load_registry() -> dict[str, ParamSpec]:
    registry: dict[str, ParamSpec] = {}
    folder = resources.files("hamji") / "parameters"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        module = entry.name[: -len(".yaml")]
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for name, spec in data.items():
            extra = set(spec) - _ALLOWED_KEYS
            if extra:
                raise ValueError(f"parameters/{entry.name}: '{name}' has unknown keys {sorted(extra)}")
            if name in registry:
                raise ValueError(f"parameters/{entry.name}: '{name}' is already declared in {registry[name].module}")
            low, high = spec["range"]
            kind = spec.get("type", "bool" if isinstance(spec["default"], bool) else "float")
            uncertain, u_low, u_high, dist = _uncertainty(spec.get("uncertain", False), float(low), float(high),
                                                          f"parameters/{entry.name}: '{name}'")
            p = ParamSpec(
                name=name,
                default=spec["default"],
                low=float(low),
                high=float(high),
                unit=str(spec["unit"]),
                source=str(spec["source"]).strip(),
                description=str(spec["description"]).strip(),
                module=module,
                type=kind,
                calibrate=bool(spec.get("calibrate", False)),
                prior_default=spec["default"],
                uncertain=uncertain,
                u_low=u_low,
                u_high=u_high,
                dist=dist,
            )
            p.coerce(p.default, f"parameters/{entry.name}")  # defaults must be inside their own range
            registry[name] = p
    return registry


CALIBRATED_FILE = "calibrated.yaml"


def _apply_calibration(registry: dict[str, ParamSpec]) -> dict[str, Any]:
    """Make the shipped calibration's values the defaults (``hamji/calibrated.yaml``); returns the file's record."""
    import dataclasses

    entry = resources.files("hamji") / CALIBRATED_FILE
    if not entry.is_file():
        return {}
    record = yaml.load(entry.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    for name, value in (record.get("params") or {}).items():
        spec = registry.get(name)
        if spec is None or not spec.calibrate:
            raise ValueError(f"{CALIBRATED_FILE}: '{name}' is not a calibratable parameter")
        registry[name] = dataclasses.replace(spec, default=spec.coerce(value, CALIBRATED_FILE))
    return record


REGISTRY: dict[str, ParamSpec] = _load_registry()
#: how the shipped defaults were calibrated (empty if no calibration is shipped)
CALIBRATION: dict[str, Any] = _apply_calibration(REGISTRY)


#: parameters that no longer exist, with what replaced them and why (a clear error instead of "unknown parameter")
RENAMED: dict[str, str] = {
    "ban_other": "was split when the 'other' export class became textiles, light and unbanned goods; use ban_textiles"
                 " and ban_light (the sanctions event's key 'other' still sets both)",
    "price_other_usd_t": "was split when the 'other' export class became textiles, light and unbanned goods; use"
                         " price_textiles_usd_t, price_light_usd_t and price_unbanned_usd_t",
    "capacity_other_t": "was split when the 'other' export class became textiles, light and unbanned goods; use"
                        " capacity_textiles_t (51.7%), capacity_light_t (47.6%) and capacity_unbanned_t (0.73%)",
    "productivity_other_t": "was split when the 'other' export class became textiles, light and unbanned goods; use"
                            " productivity_textiles_t, productivity_light_t and productivity_unbanned_t",
    "budget_share": "is now a share of what the leader's share leaves, so any values within the ranges are valid;"
                    " use budget_share_of_rest (budget_share / (1 - leader_share))",
    "import_share": "is now a share of what the leader's and the budget's shares leave, so any values within the"
                    " ranges are valid; use import_share_of_rest (import_share / (1 - leader_share - budget_share))",
    "affiliation_kwp_share": "is now a share of the companies not affiliated with the KPA, so any values within the"
                             " ranges are valid; use affiliation_kwp_share_of_rest"
                             " (affiliation_kwp_share / (1 - affiliation_kpa_share))",
}


class Parameters:
    """The resolved parameter values of one run: defaults, then overrides, then dated events.

    Read values as attributes (``pars.leader_share``). Assign only through :meth:`set`, which
    checks the name and the range.
    """

    # The values live in the instance's own ``__dict__``, so reading ``pars.name`` is a plain attribute
    # lookup (modules read about two hundred values a week); ``_values`` is that same dictionary.

    def __init__(self, overrides: dict[str, Any] | None = None, where: str = "overrides") -> None:
        object.__setattr__(self, "__dict__", {n: s.default for n, s in REGISTRY.items()})
        if overrides is not None and not isinstance(overrides, Mapping):
            raise UserError(f"{where}: expected a mapping of parameter name to value, got {brief(overrides)}")
        for name, value in (overrides or {}).items():
            self.set(name, value, where)

    def set(self, name: str, value: Any, where: str = "overrides") -> None:
        """Set one parameter, refusing unknown names and out-of-range values with a clear message."""
        spec = REGISTRY.get(name) if isinstance(name, str) else None
        if spec is None and isinstance(name, str) and name in RENAMED:
            raise UserError(f"{where}: parameter '{name}' {RENAMED[name]}")
        if spec is None:
            raise UserError(f"{where}: unknown parameter {brief(name)}; run `hamji params` for the list of names"
                            " (an event's own key is written TYPE.key, e.g. microlending.default_rate)")
        self._values[name] = spec.coerce(value, where)

    @property
    def _values(self) -> dict[str, Any]:
        return self.__dict__

    def __getattr__(self, name: str) -> Any:  # only called for a name that is not a parameter
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"no parameter named '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("use Parameters.set(name, value) so the value is checked")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def to_dict(self) -> dict[str, Any]:
        """All resolved values, for the manifest."""
        return dict(self._values)

    def __deepcopy__(self, memo: dict) -> Parameters:
        return self.copy()

    def __getstate__(self) -> dict[str, Any]:
        return dict(self._values)

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", dict(state))

    def copy(self) -> Parameters:
        """An independent copy (events change the copy, never the baseline)."""
        new = Parameters()
        new._values.update(self._values)
        return new


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``name=value`` from the command line."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise UserError(f"--set {brief(text)}: expected name=value, for example --set leader_share=0.3")
    name, value = text.split("=", 1)
    return name.strip(), value.strip()
