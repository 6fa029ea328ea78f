"""Run settings: how every analysis runs the model (scenario, scale, seeds, window, evaluation years, where).

One :class:`RunSettings` is shared by every analysis (``hamji sensitivity``, ``discover``, ``optimize``,
``robust``, the EMA Workbench adapter, the web app's analyses), and :func:`run_settings` builds it
from user input the same way for the command line, the Python API (:mod:`hamji`) and the web jobs,
so a default is the same from every entry point. Each default is written here once:

* the **window**: :data:`DEFAULT_START` to :data:`DEFAULT_END` (2008, the border economy before the
  2010 interventions, to 2020), unless the scenario declares its own last week (``end:`` in its
  YAML, e.g. ``history``): then the window ends there (**the window follows the scenario**);
* the **evaluation years** follow the window: the last :data:`EVALUATION_YEARS` years of the run,
  clipped to it (:func:`default_years`; 2016-2020 for the default window), so any window is
  accepted; years given explicitly must lie inside the window, else a :class:`UserError` says so.

``hamji compare`` keeps defaults of its own (declared here too, :data:`COMPARE_SEEDS` and the rest): the
model's whole run (:mod:`hamji.run_window`, as ``hamji run``), 8 seeds at 1:100, and by default the years in
which the scenarios differ (:func:`hamji.analysis.compare.differing_years`) instead of the last of the window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import numbers
import re
import warnings
from dataclasses import dataclass
from typing import Any

# Only light imports at the top: the command line and the package root import this module at start-up (`hamji
# --version` must stay quick), so the parameters, scenarios and engine it needs for checks are imported where used.
from hamji import run_window
from hamji.errors import UserError

#: the default window of an analysis's runs: from 2008 (the border economy before the 2010
#: interventions) to the end of 2020
DEFAULT_START = dt.date(2008, 1, 7)
DEFAULT_END = dt.date(2020, 12, 28)
#: the default scale and seeds of an analysis's runs
DEFAULT_SCALE = 1000
DEFAULT_SEEDS = 1
DEFAULT_SCENARIO = "baseline"
#: the evaluation years by default: the last five years of the window (after the 2017 sanctions took
#: hold, for the default window), clipped to it
EVALUATION_YEARS = 5
#: ``hamji compare``'s defaults (also :func:`hamji.compare`): a comparison measures a scenario's effects over
#: the whole run (2000-2030, the window of ``hamji run``), on more seeds and a finer scale than a search runs
#: each of its many designs with; its evaluation years default to the years in which the scenarios differ
COMPARE_START = run_window.DEFAULT_START
COMPARE_END = run_window.DEFAULT_END
COMPARE_SEEDS = 8
COMPARE_SCALE = 100
COMPARE_FIRST_SEED = 1


def default_years(start: dt.date, end: dt.date, span: int = EVALUATION_YEARS) -> tuple[int, int]:
    """The evaluation years of a window when none are given: its last ``span`` years, clipped to it."""
    return max(start.year, end.year - span + 1), end.year


def parse_years(years: Any, start: dt.date, end: dt.date, span: int = EVALUATION_YEARS) -> tuple[int, int]:
    """The evaluation years: ``None`` (:func:`default_years`), text ``Y1-Y2`` (or one year, as ``--years``
    takes it) or a pair ``(first, last)`` of whole years; given years must be in order inside the window."""
    from hamji.parameters import brief  # lazy: the CLI imports this module at start-up (see the note at the top)

    if years is None:
        return default_years(start, end, span)
    if isinstance(years, str):
        m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4}))?\s*", years)
        if m is None:
            raise UserError(f"--years {brief(years)}: expected Y1-Y2, for example 2016-2020")
        y0, y1 = int(m.group(1)), int(m.group(2) or m.group(1))
        if not start.year <= y0 <= y1 <= end.year:
            raise UserError(f"--years {years}: must be an ordered window inside the run's years {start.year}-{end.year}")
        return y0, y1
    if (not isinstance(years, (tuple, list)) or len(years) != 2
            or not all(isinstance(y, numbers.Integral) and not isinstance(y, bool) for y in years)
            or not start.year <= years[0] <= years[1] <= end.year):
        raise UserError(f"years {brief(years)}: expected (first, last), whole years in order within {start.year}-{end.year}")
    return int(years[0]), int(years[1])


def scenario_end(scenario: Any) -> dt.date | None:
    """The last week a scenario (a name, a file or a loaded :class:`~hamji.scenario.Scenario`) declares, or None."""
    from hamji.scenario import load_scenario  # lazy: start-up of the CLI

    if not isinstance(scenario, str):
        spec = getattr(scenario, "spec", None)
        return getattr(spec, "end", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the analysis loads it again and warns then
        return load_scenario(scenario).spec.end


def window(scenario: Any = DEFAULT_SCENARIO, start: Any = None, end: Any = None, prefix: str = "--") -> tuple[dt.date, dt.date]:
    """The checked window of a run: ``start`` and ``end`` as dates or text, each :data:`DEFAULT_START` /
    the scenario's own end (else :data:`DEFAULT_END`) when not given."""
    from hamji.sim import check_run_date  # lazy: the engine takes most of a second to import

    first = DEFAULT_START if start is None else check_run_date(start, f"{prefix}start")
    if end is None:
        last, what = scenario_end(scenario) or DEFAULT_END, f"{prefix}end (default)"
    else:
        last, what = check_run_date(end, f"{prefix}end"), f"{prefix}end"
    if last < first:
        raise UserError(f"{what} {last} is before {prefix}start {first}")
    return first, last


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How an analysis runs the model: the (reference) scenario, scale 1:N, seeds per sample or design,
    the window of every run, the evaluation years (by default the last ones of the window:
    :func:`default_years`) and where the runs go (local worker processes, or a Dask scheduler)."""

    scenario: str = DEFAULT_SCENARIO
    scale: int = DEFAULT_SCALE
    seeds: int = DEFAULT_SEEDS
    start: dt.date = DEFAULT_START
    end: dt.date = DEFAULT_END
    years: tuple[int, int] | None = None  # None: default_years(start, end)
    workers: int = 1
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.years is None and isinstance(self.start, dt.date) and isinstance(self.end, dt.date):
            object.__setattr__(self, "years", default_years(self.start, self.end))
        elif isinstance(self.years, list):
            object.__setattr__(self, "years", tuple(self.years))

    def check(self) -> None:
        from hamji.parameters import brief  # lazy: start-up of the CLI

        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise UserError(f"--seeds {brief(self.seeds)}: at least 1")
        if self.end < self.start:
            raise UserError(f"--end {self.end} is before --start {self.start}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise UserError(f"--workers {brief(self.workers)}: at least 1")

    def replace(self, **changes: Any) -> RunSettings:
        """A copy with ``changes``; the evaluation years follow a changed window unless given."""
        if ("start" in changes or "end" in changes) and "years" not in changes:
            changes["years"] = None
        return dataclasses.replace(self, **changes)

    def fingerprint(self) -> dict[str, Any]:
        """What stored runs depend on (a resumed analysis must match it)."""
        return {"seeds": self.seeds, "scale": self.scale, "start": str(self.start), "end": str(self.end),
                "years": list(self.years)}


def run_settings(scenario: Any = DEFAULT_SCENARIO, seeds: int = DEFAULT_SEEDS, scale: int | str = DEFAULT_SCALE,
                 start: Any = None, end: Any = None, years: Any = None, workers: int = 1, scheduler: str | None = None,
                 prefix: str = "--") -> RunSettings:
    """Checked :class:`RunSettings` from user input, the same for the command line, the Python API and the web:
    dates as dates or text (None: the default window, :func:`window`), ``years`` as ``Y1-Y2`` text, a pair or
    None (:func:`parse_years`), the scale as ``N`` or ``1:N``; ``prefix`` starts the option names in messages."""
    from hamji.sim import parse_scale  # lazy: start-up of the CLI

    first, last = window(scenario, start, end, prefix)
    settings = RunSettings(scenario=scenario, seeds=seeds, scale=parse_scale(scale), start=first, end=last,
                           years=parse_years(years, first, last), workers=workers, scheduler=scheduler)
    settings.check()
    return settings


class UsesRunSettings:
    """A spec that embeds its :class:`RunSettings` as ``run``: its run fields read (and set) through it, except
    those a subclass names in ``exclude`` (``class S(UsesRunSettings, exclude=("years",))``)."""

    run: RunSettings

    def __init_subclass__(cls, exclude: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in (f.name for f in dataclasses.fields(RunSettings)):
            if name not in exclude and name not in cls.__dict__:
                setattr(cls, name, _delegate(name))

    def _set_run(self, name: str, value: Any) -> None:
        self.run = self.run.replace(**{name: value})


def _delegate(name: str) -> property:
    return property(lambda self: getattr(self.run, name), lambda self, value: self._set_run(name, value),
                    doc=f"``run.{name}``")


#: the fields of :class:`RunSettings`, which a spec embedding it accepts as keywords too
RUN_FIELDS = tuple(f.name for f in dataclasses.fields(RunSettings))


def embed(run: RunSettings | None, given: dict[str, Any], default: RunSettings | None = None) -> RunSettings:
    """The :class:`RunSettings` of a spec made with ``run=`` and/or run fields as keywords (``given``)."""
    unknown = set(given) - set(RUN_FIELDS)
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
    base = run if run is not None else (default or RunSettings())
    return base.replace(**given) if given else base
