"""The simulation: parameters -> world and people -> modules each week -> results.

A :class:`Sim` owns the resolved parameters, the world, the people (structure of arrays), the
ordered modules, the dated events, the books and the results. Each week it applies the events that
start or end, steps every module in the plan's order, records, and checks the books. Output code
reads the results and never changes the state.
"""

from __future__ import annotations

import datetime as dt
import numbers
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from hamji.accounts import Accounts
from hamji.books import Books
from hamji.customs import CUSTOMS_METRICS, record_customs
from hamji.errors import UserError
from hamji.kernels import household_blocks, province_bounds
from hamji.market import Borders, Market, synthesise_merchants
from hamji.module import Metric, Module, State
from hamji.modules import PLAN
from hamji.parameters import brief
from hamji.people import People
from hamji.results import Results
from hamji.run_window import DEFAULT_END, DEFAULT_START
from hamji.runtime import kernel_threads, tune_allocator, use_threads
from hamji.scenario import Scenario, load_scenario, parse_date
from hamji.streams import Streams
from hamji.synthesis import synthesise
from hamji.trade import TradeState
from hamji.version import VERSION
from hamji.world import World, build_world

#: the dates a run may span (the model's data and pandas' calendar are both safe inside them)
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2100, 12, 31)
#: seeds a run accepts: 0 to 2**32 - 1
SEED_MAX = 2**32 - 1


def parse_seed(value: Any, option: str = "seed") -> int:
    """Accept a whole number 0..SEED_MAX (an int, or its digits as text); refuse anything else."""
    n: int | None = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        n = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,40}", value.strip()):
        n = int(value.strip())
    if n is None or not 0 <= n <= SEED_MAX:
        raise UserError(f"{option} {brief(value)}: expected a whole number from 0 to {SEED_MAX}")
    return n


def check_run_date(value: Any, option: str) -> dt.date:
    """A run's first or last day between FIRST_DATE and LAST_DATE: a date, or text YYYY-MM-DD (or YYYY-MM, YYYY)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    elif isinstance(value, str):
        short = re.fullmatch(r"([0-9]{4})(?:-([0-9]{1,2}))?", value.strip())
        if short is not None and 1 <= int(short.group(2) or 1) <= 12 and int(short.group(1)) > 0:
            value = dt.date(int(short.group(1)), int(short.group(2) or 1), 1)
        else:
            value = parse_date(value, option)
    if not isinstance(value, dt.date):
        raise UserError(f"{option} {brief(value)}: expected a date (YYYY-MM-DD)")
    if not FIRST_DATE <= value <= LAST_DATE:
        raise UserError(f"{option} {value}: allowed from {FIRST_DATE} to {LAST_DATE}")
    return value


def weekly_dates(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Week-start dates (Mondays) from the Monday on or before ``start`` up to ``end``."""
    if end < start:
        raise UserError(f"--end {end} is before --start {start}")
    first = pd.Timestamp(start) - pd.Timedelta(days=pd.Timestamp(start).weekday())
    return pd.date_range(first, pd.Timestamp(end), freq="7D")


def parse_scale(value: int | str) -> int:
    """Accept 100, "100" or "1:100" and return 100 (one simulated household stands for 100)."""
    text = value.strip() if isinstance(value, str) else str(value)
    if text.startswith("1:"):
        text = text[2:]
    n = None
    if isinstance(value, str) or (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
        try:
            n = int(text) if len(text) <= 40 else None
        except ValueError:
            n = None
    if n is None:
        raise UserError(f"--scale {brief(value)}: expected a whole number N for 1:N, for example 100 or 1:100")
    if not 1 <= n <= 100_000:
        raise UserError(f"--scale {brief(value)}: allowed 1 (every household) to 100000")
    return n


CORE_METRICS = (
    Metric("imports_usd", "US$", "Chinese goods entering the North by destination province: company imports,"
           " merchants' wholesale and the state's own imports, at the price paid, recorded by customs or not (the customs"
           " series is imports_recorded_usd).", scaled=True),
    Metric("regime_revenue_usd", "US$", "Money reaching the leader's accounts and the KPA, KWP and Cabinet budgets this"
           " week from every source (the funnel, market fees, the organisations' share of bribes, fines and"
           " confiscations), by the region it came from.", scaled=True),
    *CUSTOMS_METRICS,
)


class Sim:
    """One simulation run."""

    def __init__(self, scenario: Scenario | str | None = None, seed: int = 1, scale: int | str = 100,
                 start: dt.date = DEFAULT_START, end: dt.date = DEFAULT_END,
                 overrides: dict[str, Any] | None = None, modules: list[type[Module]] | None = None) -> None:
        # every input is checked before anything is built or run
        seed = parse_seed(seed)
        n_scale = parse_scale(scale)
        start, end = check_run_date(start, "start"), check_run_date(end, "end")
        if end < start:
            raise UserError(f"end {end} is before start {start}")
        if overrides is not None and not isinstance(overrides, Mapping):
            raise UserError(f"overrides {brief(overrides)}: expected a mapping of parameter name to value")
        if scenario is not None and not isinstance(scenario, (Scenario, str, os.PathLike)):
            raise UserError(f"scenario {brief(scenario)}: expected a built-in scenario name or a scenario file path")
        tune_allocator()
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, overrides)
        elif overrides and any(isinstance(k, str) and "." in k for k in overrides):  # event keys: rebuild the events
            scenario = Scenario(scenario.spec, scenario.where, {**scenario.extra_overrides, **overrides})
        elif overrides:
            for k, v in overrides.items():
                scenario.pars.set(k, v, "--set")
            scenario.extra_overrides.update(overrides)
        self.scenario = scenario
        self.pars = scenario.pars.copy()
        self.seed = seed
        self.scale = n_scale
        self.dates = weekly_dates(start, end)
        # plain Python copies of the calendar: a pandas index lookup costs tens of microseconds, many per week
        self._stamps = list(self.dates)
        self._days = [d.date() for d in self._stamps]
        self._years = [d.year for d in self._days]
        self.start, self.end = start, end
        self.streams = Streams(self.seed)
        self.world: World = build_world(self.pars.road_factor, scenario.spec.groups)
        self.people = People()
        self.books = Books()
        self.accounts = Accounts(self.world.n_regions)
        self.modules: list[Module] = [cls() for cls in (PLAN if modules is None else modules)]
        self.events = sorted(scenario.events, key=lambda e: e.start)
        self.week = -1
        #: how many times events have changed parameters in this run (modules are told: Module.parameters_changed)
        self.pars_version = 0
        # the modules that override the start and end of the week (the others cost nothing there)
        self._starting = [m for m in self.modules if type(m).start_week is not Module.start_week]
        self._ending = [m for m in self.modules if type(m).end_week is not Module.end_week]
        self.timings: dict[str, float] = {m.name: 0.0 for m in self.modules}
        self.wall_time = 0.0
        self._initialized = False

    # -- time ------------------------------------------------------------------------------------
    @property
    def date(self) -> pd.Timestamp:
        """Start date of the current week."""
        return self._stamps[max(self.week, 0)]

    @property
    def day(self) -> dt.date:
        """Start date of the current week, as a ``datetime.date``."""
        return self._days[max(self.week, 0)]

    @property
    def year(self) -> int:
        return self._years[max(self.week, 0)]

    @property
    def new_year(self) -> bool:
        """True in the first simulated week of a calendar year (and the first week of the run)."""
        return self.week == 0 or self._years[self.week] != self._years[self.week - 1]

    @property
    def n_weeks(self) -> int:
        return len(self.dates)

    def rng(self, name: str) -> np.random.Generator:
        """The generator of stream ``name`` for this week (see :mod:`hamji.streams`)."""
        return self.streams.get(name, self.week)

    # -- lifecycle -------------------------------------------------------------------------------
    def plan(self) -> list[tuple[str, str]]:
        """The weekly plan: (step, what it implements), in order."""
        return [(name, what) for _, name, what in self.phases()]

    def phases(self) -> list[tuple[str, str, str]]:
        """The weekly plan by phase: (phase, step, what it does), in the order a week runs them. A module appears
        in the start and end phases only if it overrides those hooks (:mod:`hamji.module`)."""
        def overrides(m: Module, hook: str) -> bool:
            return getattr(type(m), hook) is not getattr(Module, hook)

        rows = [("events", "events", "apply dated events that start or end this week")]
        rows += [("parameters", m.name, "recompute what depends on the parameters the events changed")
                 for m in self.modules if overrides(m, "parameters_changed")]
        rows.append(("start of week", "engine", "open the crossings' capacity, zero the market's and the trade's counters"))
        rows += [("start of week", m.name, (type(m).start_week.__doc__ or "").split("\n")[0])
                 for m in self.modules if overrides(m, "start_week")]
        rows += [("step", m.name, m.passage.split("\n")[0]) for m in self.modules]
        rows += [("end of week", m.name, (type(m).end_week.__doc__ or "").split("\n")[0])
                 for m in self.modules if overrides(m, "end_week")]
        rows += [("results", "results", "record every metric by region and group"),
                 ("results", "books", "check that money is conserved")]
        return rows

    def declare_states(self) -> None:
        """Allocate every state the modules declare (:attr:`Module.states`), before any module is set up."""
        sets = self.people.sets()
        seen: dict[tuple[str, str], State] = {}
        for m in self.modules:
            for st in m.states:
                key = (st.agents, st.name)
                if key in seen:
                    if (seen[key].dtype, seen[key].fill) != (st.dtype, st.fill):
                        raise ValueError(f"{m.name}: state {st.agents}.{st.name} declared differently by two modules")
                    continue
                seen[key] = st
                if st.agents not in sets:
                    raise ValueError(f"{m.name}: state {st.name} on unknown agents '{st.agents}'")
                agents = sets[st.agents]
                if st.name not in agents.states:
                    agents.add(st.name, st.dtype, st.fill)

    def initialize(self) -> None:
        """Synthesise people, set up every module, open the books."""
        synthesise(self.people, self.world, self.pars, self.streams, self.scale)
        #: fixed blocks of households for the parallel passes (hamji.kernels.BLOCK)
        self.blocks = household_blocks(province_bounds(self.people.households.region, self.world.n_regions))
        synthesise_merchants(self.people.merchants, self)
        self.market = Market(self)
        self.borders = Borders(self)
        self.declare_states()
        #: the trade state the society-side modules share (hamji.trade)
        self.trade = TradeState(self)
        self.books.holder("households", self.people.households, "cash", "fx")
        self.books.holder("merchants", self.people.merchants, "capital")
        self.accounts.register(self.books)
        metrics: list[Metric] = list(CORE_METRICS)
        for m in self.modules:
            m.setup(self)
            metrics.extend(m.metrics)
        every = frozenset(self.pars)
        for m in self.modules:
            m.parameters_changed(self, every)
        names = [m.name for m in metrics]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"metrics declared twice: {sorted(dup)}")
        self.results = Results(self.dates, self.world.unit_names, self.world.group_matrix(), metrics, self.scale)
        hh = self.people.households
        self.results.region_weight = np.bincount(hh.region, minlength=self.world.n_regions).astype(float)
        self.books.open()
        self.threads = kernel_threads(hh.n)  # never changes a result: household passes add up in fixed blocks
        self._initialized = True

    def step(self) -> None:
        """Advance one week."""
        self.week += 1
        use_threads(self.threads)
        self.results.begin_week(self.week)
        self._apply_events()
        # the engine's start of the week, then the modules'
        self.borders.begin_week(self.pars.border_open, self.pars.crossing_capacity_multiplier)
        self.market.begin_week()
        self.trade.begin_week(self)
        self.people.households.income[:] = 0.0
        self.accounts.state_in[:] = 0.0
        for m in self._starting:
            m.start_week(self)
        for m in self.modules:
            t0 = time.perf_counter()
            m.step(self)
            self.timings[m.name] += time.perf_counter() - t0
        for m in self._ending:
            m.end_week(self)
        self.results.record("imports_usd", self.market.imports_company + self.market.imports_wholesale
                            + self.market.imports_state)
        record_customs(self)  # what Chinese customs records of this week's flows, and what crosses without a record
        self.results.record("regime_revenue_usd", self.accounts.state_in)
        self.results.flush()
        self.books.close_week()

    def _apply_events(self) -> None:
        """Apply the events that start this week and revert those that end; tell the modules which parameters
        changed (a week without events costs one pass over the event list)."""
        day = self._days[self.week]
        nxt = day + dt.timedelta(days=7)
        before = None
        for e in self.events:
            starts = day <= e.start < nxt or (self.week == 0 and e.start < day and (e.end is None or e.end >= day))
            ends = e.end is not None and day <= e.end < nxt and e.start <= e.end
            if (starts or ends) and before is None:
                before = self.pars.to_dict()
            if starts:
                e.apply(self)
            if ends:
                e.revert(self)
        if before is not None:
            changed = frozenset(k for k, v in self.pars.to_dict().items() if before[k] != v)
            if changed:
                self.pars_version += 1
                for m in self.modules:
                    m.parameters_changed(self, changed)

    def run(self, progress: Callable[[int, int], None] | None = None) -> Sim:
        """Run every week; ``progress(done, total)`` is called after each week."""
        t0 = time.perf_counter()
        if not self._initialized:
            self.initialize()
        while self.week + 1 < self.n_weeks:
            self.step()
            if progress is not None:
                progress(self.week + 1, self.n_weeks)
        for m in self.modules:
            m.finalize(self)
        self.wall_time = time.perf_counter() - t0
        return self

    # -- forking: scenarios that share their first weeks ------------------------------------------
    def first_event_week(self, scenario: Scenario) -> int | None:
        """The week from which ``scenario`` differs from this run, or None if it differs from the start.

        A scenario can continue from a copy of this run if it has the same parameters and groups
        and no event before that week: until its first event it is the same simulation, draw for
        draw (named streams are reseeded by week, not by history).
        """
        if scenario.pars.to_dict() != self.scenario.pars.to_dict() or scenario.spec.groups != self.scenario.spec.groups:
            return None
        if self.events:
            return None  # only a run without events can be a common trunk
        if not scenario.events:
            return self.n_weeks
        first = min(e.start for e in scenario.events)
        week = int(np.searchsorted(self.dates.values, np.datetime64(first), side="right")) - 1
        return max(week, 0)

    def fork(self, scenario: Scenario) -> Sim:
        """A copy of this run (taken between weeks) that continues as ``scenario``."""
        import copy

        twin = copy.deepcopy(self)
        twin.scenario = scenario
        twin.pars = scenario.pars.copy()
        twin.events = sorted(scenario.events, key=lambda e: e.start)
        for m in twin.modules:
            m.after_copy(twin)
        every = frozenset(twin.pars)
        for m in twin.modules:
            m.parameters_changed(twin, every)
        return twin

    # -- outputs ---------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """Everything needed to reproduce the run."""
        return {
            "hamji_version": VERSION,
            "scenario": self.scenario.to_dict(),
            "scenario_source": self.scenario.where,
            # what --set (or an analysis) changed on top of the scenario: parameters and event keys TYPE.key
            "overrides": {k: (v.item() if hasattr(v, "item") else v) for k, v in self.scenario.extra_overrides.items()},
            "seed": self.seed,
            "scale": self.scale,
            "start": str(self.dates[0].date()),
            "end": str(self.dates[-1].date()),
            "weeks": self.n_weeks,
            "parameters": self.pars.to_dict(),
            "wall_time_s": round(self.wall_time, 3),
            "module_time_s": {k: round(v, 3) for k, v in self.timings.items()},
            "memory": self.people.memory_table(),
            "books_max_relative_residual": self.books.max_rel_residual,
            "streams": self.streams.names,
        }
