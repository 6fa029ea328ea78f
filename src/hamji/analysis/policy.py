"""Policy design: which mix of programs buys the most human security per dollar reaching the regime.

The paper ends with three recommendations (micro-lending in Jilin, training, transport). hamji's
scenarios fix one mix of them; this module lets an analyst search the mixes and see the trade-off.

* **Levers** (:data:`LEVERS`): the programs' design choices, each declared with default, range, unit
  and source. A total budget (US$ a year) is split among the programs by shares, each a *share of
  what is left* (like the funnel's shares), so every point of the box is a valid split: micro-lending
  takes ``microlending_share`` of the total, training ``training_share`` of the rest, transport
  ``transport_share`` of what remains, and the remainder is left unspent (a design may spend less).
  The other levers are the start year, micro-lending's loan size, interest, term and targeting
  (``target_small``: the share of loans reserved for the smallest merchants), which Jilin prefectures
  the training serves (``train_yanbian`` ...) and whose crossings the transport money enlarges
  (``transport_yanbian`` ...), and transport's split between crossings and the routes inland
  (``roads_share``) — event keys whose registry declarations hold their units and sources, or design
  choices declared here; a lever's range lies inside the declared one.
* **Designed scenario** (:func:`design_scenario`): the programs' events at the design's values, from
  the start year: micro-lending lends its budget; training trains ``budget / training_cost_usd``
  merchants a year in the prefectures chosen; transport prices the reference package (the built-in
  ``transport`` scenario: every Jilin crossing's capacity doubled, haulage 30% cheaper and reaching
  half as far again, ``transport_package_cost_usd`` a year) in two parts, its crossings
  (``transport_crossings_cost_share``, each crossing priced by its share of the Jilin crossings'
  capacity) and its routes (the rest), and scales each part's change linearly with the money it gets:
  crossing money raises the chosen crossings' capacity, route money lowers haulage cost and lengthens
  reach (capped where cost would fall below the event's floor or capacity pass its ceiling). Keys the
  design does not set (default rates, the training's gains) keep their registry values, so an analysis
  can vary them.
* **Evaluation** (:func:`evaluate`): each design, and ``baseline``, run with the same seeds and the same
  parameter values (common random numbers); an objective is the design's outcome minus baseline's,
  averaged over the years of ``years`` and then over the seeds (mean and 90% Student-t interval).
  Each (scenario, world, seed) run is one resumable Dask task (:func:`hamji.analysis.experiments.run_sample`
  through :func:`hamji.analysis.ensemble.map_stored`): baseline is run once per seed and world, not once
  per design, and a designed scenario alone is bit-identical to the same scenario forked from a trunk.
* **Search** (:func:`optimize`): optuna's NSGA-II, seeded, one generation per batch of runs, in an
  optuna SQLite study in the output folder (``study.db``) with the runs in progress in ``.tasks``:
  killed at any moment, the same call resumes. ``frontier.parquet`` has one row per evaluated design
  and the reference scenarios (the paper's ``recommendations`` and each single program);
  ``frontier.html`` shows the front against them.
* **Robustness** (:func:`robust`): a few designs across N plausible worlds (a Latin hypercube over the
  uncertain parameters); per design the share of worlds where it is best on a criterion, its regret
  (the gap to the best design in each world) and the share of worlds meeting user thresholds.

Left out: the programs' cost is the money allocated, not a cost the model measures (loans are
repaid, so micro-lending's true cost is lower), and transport's prices are assumptions
(``transport_package_cost_usd``, ``transport_crossings_cost_share``), not engineering estimates.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import math
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hamji.analysis.compare import file_digest, posterior_draw, read_posterior
from hamji.analysis.discover import design as latin_hypercube
from hamji.analysis.discover import parse_condition
from hamji.analysis.ensemble import map_stored, overrides_for
from hamji.analysis.experiments import Outcome, _plain, param_spec, parse_outcome, resolve_params, run_sample
from hamji.analysis.settings import DEFAULT_SCALE, DEFAULT_SCENARIO, DEFAULT_SEEDS, RunSettings
from hamji.analysis.settings import run_settings as make_run_settings
from hamji.analysis.stats import CONFIDENCE, t_interval
from hamji.analysis.sweep import TaskStore, canonical, describe_difference, scenario_digest, write_whole
from hamji.errors import UserError
from hamji.interventions import TransportInvestment, crossing_ids
from hamji.parameters import REGISTRY, brief
from hamji.report import figure_svg
from hamji.scenario import load_scenario
from hamji.version import VERSION
from hamji.world import world_layout

# -- levers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lever:
    """A design choice: its range, default, unit and source (``key``: the event key it sets, whose
    registry declaration bounds the range)."""

    name: str
    default: float | int
    low: float
    high: float
    unit: str
    source: str
    kind: str = "float"  # float, int or bool
    key: str | None = None

    def value(self, x: Any) -> float | int | bool:
        """``x`` as this lever's kind (a table cell, an optuna value)."""
        return int(x) if self.kind == "int" else bool(x) if self.kind == "bool" else float(x)

    def check(self) -> None:
        """A lever's range must lie inside its event key's declared range (a bug otherwise)."""
        if self.key is not None:
            spec = param_spec(self.key)
            if not spec.low <= self.low <= self.default <= self.high <= spec.high:
                raise RuntimeError(f"lever {self.name}: [{self.low}, {self.high}] outside {self.key}'s declared range")


#: the programs a design funds, in the order the shares of the rest are taken
PROGRAMS = ("microlending", "training", "transport")
#: the first week a program may start (the paper is of 2009; the recommendations start in 2010)
FIRST_START_YEAR, LAST_START_YEAR = 2009, 2016

LEVERS: dict[str, Lever] = {lv.name: lv for lv in (
    Lever("microlending_share", 1 / 3, 0.0, 1.0, "share of the total budget",
          "design choice: the split of the budget; default an even split among the three programs"),
    Lever("training_share", 0.5, 0.0, 1.0, "share of what micro-lending leaves",
          "design choice: the split of the budget; default an even split among the three programs"),
    Lever("transport_share", 1.0, 0.0, 1.0, "share of what micro-lending and training leave (the rest unspent)",
          "design choice: default spends the whole budget"),
    Lever("start_year", 2010, FIRST_START_YEAR, LAST_START_YEAR, "year (the programs start in its first week)",
          "paper (2009): the recommendations; the built-in scenarios start them in 2010; up to 2016 so a"
          " late start still acts within the default evaluation years", kind="int"),
    Lever("loan_size_usd", 5000.0, 1000.0, 20000.0, "US$ per loan",
          "design choice: from micro-loans to small-business loans (the registry allows more)", key="microlending.loan_size_usd"),
    Lever("interest", 0.12, 0.0, 0.24, "per year",
          "design choice: from free credit to twice typical micro-finance interest", key="microlending.interest"),
    Lever("term_weeks", 104, 26, 208, "weeks",
          "design choice: half a year to four years of working capital", kind="int", key="microlending.term_weeks"),
    Lever("target_small", 1.0, 0.0, 1.0, "share of loans reserved for the smallest merchants",
          "design choice: from any merchant (0) to the smallest first (1)", key="microlending.target_small"),
    *(Lever(f"train_{p.lower()}", True, 0, 1, f"switch: courses for {p}'s merchants",
            "design choice: the paper's training is 'in Jilin' without naming a prefecture; the budget trains"
            " the same number of merchants, among the prefectures chosen", kind="bool", key=f"training.in_{p.lower()}")
      for p in ("Yanbian", "Baishan", "Tonghua")),
    *(Lever(f"transport_{p.lower()}", True, 0, 1, f"switch: capacity for {p}'s crossings",
            "design choice: the paper's 'expanded transportation routes' name no crossing; the crossings' share"
            " of the transport money is spent on the prefectures chosen, each crossing priced by its capacity",
            kind="bool") for p in ("Yanbian", "Baishan", "Tonghua")),
    Lever("roads_share", 0.5, 0.0, 1.0, "share of the transport money spent on the routes inland (the rest on crossings)",
          "design choice: between crossing capacity and cheaper, longer-reaching haulage inland; default the"
          " reference package's own split (transport_crossings_cost_share)"),
)}
#: the Jilin border prefectures a design chooses among (world.yaml's names), for training and transport
PREFECTURES = ("Yanbian", "Baishan", "Tonghua")
SHARES = ("microlending_share", "training_share", "transport_share")
#: the levers every frontier table has (those of the first version): a later lever missing from an
#: older table takes its default
ORIGINAL_LEVERS = (*SHARES, "start_year", "loan_size_usd", "interest", "term_weeks", "target_small")
#: haulage cost can fall no lower than this share of its level (TransportInvestment's floor on
#: cost_multiplier): transport money beyond what reaches it buys nothing and is not spent
TRANSPORT_COST_FLOOR = 0.1


def lever_defaults() -> dict[str, Any]:
    """Every lever at its default."""
    return {n: lv.default for n, lv in LEVERS.items()}


@functools.cache
def transport_reference() -> dict[str, float]:
    """The reference transport package: the built-in ``transport`` scenario's multipliers (read once:
    loading a scenario reads the world's layout; callers must not change the mapping)."""
    event = next(e for e in load_scenario("transport").spec.events if e.type == "transport")
    return {k: float(event.params[k]) for k in ("capacity_multiplier", "cost_multiplier", "reach_multiplier")}


@functools.cache
def crossing_capacity() -> tuple[dict[str, list[str]], dict[str, float]]:
    """The Jilin prefectures' crossings, and each crossing's share of the Jilin crossings' goods capacity
    (world.yaml; Dandong's is counted on the same scale), by which a design prices crossing money."""
    lay = world_layout()
    ids = {p: [c for c, region in lay["crossing_regions"].items() if region == p] for p in PREFECTURES}
    cap = {c: float(v["value"]) for c, v in lay["crossing_capacity_t"].items()}
    jilin = sum(cap[c] for p in PREFECTURES for c in ids[p])
    return ids, {c: v / jilin for c, v in cap.items()}


def capacity_share(crossings: list[str]) -> float:
    """The named crossings' share of the Jilin crossings' capacity."""
    return sum(crossing_capacity()[1][c] for c in crossings)


def prefecture_crossings(prefectures: list[str]) -> list[str]:
    """The crossings of the named Jilin prefectures."""
    return [c for p in prefectures for c in crossing_capacity()[0][p]]


def chosen(levers: dict[str, Any], program: str) -> list[str]:
    """The prefectures a design's ``train_*`` or ``transport_*`` switches choose (missing: chosen)."""
    return [p for p in PREFECTURES if bool(levers.get(f"{program}_{p.lower()}", True))]


def allocate(levers: dict[str, Any], budget: float) -> dict[str, float]:
    """US$ a year per program (shares of the rest), transport's split between crossings and routes,
    and ``cost_usd``: what the design spends. Money a program cannot use is not spent: training with
    no prefecture chosen, crossing money with no crossing chosen, and transport money beyond the
    event's bounds (haulage cost at its floor, crossing capacity at its ceiling)."""
    ml = budget * float(levers["microlending_share"])
    rest = budget - ml
    tr = rest * float(levers["training_share"])
    tp = (rest - tr) * float(levers["transport_share"])
    if not chosen(levers, "train"):
        tr = 0.0
    ref, price = transport_reference(), REGISTRY["transport_package_cost_usd"].default
    cs = REGISTRY["transport_crossings_cost_share"].default
    roads_price, crossings_price = price * (1.0 - cs), price * cs * capacity_share(prefecture_crossings(chosen(levers, "transport")))
    roads = min(tp * float(levers["roads_share"]),
                (1.0 - TRANSPORT_COST_FLOOR) / (1.0 - ref["cost_multiplier"]) * roads_price)
    crossings = min(tp * (1.0 - float(levers["roads_share"])),
                    (TransportInvestment.capacity_range[1] - 1.0) / (ref["capacity_multiplier"] - 1.0) * crossings_price)
    return {"microlending_usd": ml, "training_usd": tr, "transport_usd": roads + crossings,
            "transport_crossings_usd": crossings, "transport_roads_usd": roads, "cost_usd": ml + tr + roads + crossings}


def design_scenario(levers: dict[str, Any], budget: float, name: str) -> dict[str, Any]:
    """The scenario (as a scenario file's mapping) of a design: the funded programs' events. A design
    at the default switches and split gives the same events as before they were levers."""
    money = allocate(levers, budget)
    start = dt.date.fromisocalendar(int(levers["start_year"]), 1, 1).isoformat()
    events = []
    if money["microlending_usd"] > 0:
        params = {"budget_usd": money["microlending_usd"]}
        for lv in LEVERS.values():
            if lv.key and lv.key.startswith("microlending."):
                params[lv.key.partition(".")[2]] = lv.value(levers[lv.name])
        events.append({"type": "microlending", "start": start, "params": params})
    trained = money["training_usd"] / REGISTRY["training_cost_usd"].default
    if trained > 0:
        params = {"trained_per_year": trained}
        if len(chosen(levers, "train")) < len(PREFECTURES):
            params["prefectures"] = chosen(levers, "train")
        events.append({"type": "training", "start": start, "params": params})
    if money["transport_usd"] > 0:
        ref, price = transport_reference(), REGISTRY["transport_package_cost_usd"].default
        cs = REGISTRY["transport_crossings_cost_share"].default
        where = chosen(levers, "transport")
        roads = money["transport_roads_usd"] / (price * (1.0 - cs))
        crossings = money["transport_crossings_usd"] / (price * cs * capacity_share(prefecture_crossings(where))) if where else 0.0
        params = {"crossings": "jilin" if len(where) in (0, len(PREFECTURES))
                  else prefecture_crossings(where),
                  "capacity_multiplier": 1.0 + crossings * (ref["capacity_multiplier"] - 1.0),
                  "cost_multiplier": max(TRANSPORT_COST_FLOOR, 1.0 - roads * (1.0 - ref["cost_multiplier"])),
                  "reach_multiplier": 1.0 + roads * (ref["reach_multiplier"] - 1.0)}
        events.append({"type": "transport", "start": start, "params": params})
    return {"name": name, "description": describe(levers, budget), "overrides": {}, "events": events}


def _musd(x: float) -> str:
    return f"US$ {x / 1e6:.1f} M"


def _where(levers: dict[str, Any], program: str) -> str:
    where = chosen(levers, program)
    return "" if len(where) == len(PREFECTURES) else f" in {', '.join(where)}"


def describe(levers: dict[str, Any], budget: float) -> str:
    """A design in words, for the tables."""
    m = allocate(levers, budget)
    parts = []
    if m["microlending_usd"] > 0:
        parts.append(f"micro-lending {_musd(m['microlending_usd'])} (loans of US$ {float(levers['loan_size_usd']):,.0f} at"
                     f" {float(levers['interest']):.0%} over {int(levers['term_weeks'])} weeks,"
                     f" {float(levers['target_small']):.0%} reserved for the smallest merchants)")
    if m["training_usd"] > 0:
        parts.append(f"training {_musd(m['training_usd'])} ({m['training_usd'] / REGISTRY['training_cost_usd'].default:,.0f}"
                     f" merchants a year{_where(levers, 'train')})")
    if m["transport_usd"] > 0:
        split = []
        if m["transport_crossings_usd"] > 0:
            split.append(f"crossings{_where(levers, 'transport')} {_musd(m['transport_crossings_usd'])}")
        if m["transport_roads_usd"] > 0:
            split.append(f"routes inland {_musd(m['transport_roads_usd'])}")
        parts.append(f"transport {_musd(m['transport_usd'])} ({', '.join(split)})")
    unspent = budget - m["cost_usd"]
    text = "; ".join(parts) if parts else "no program"
    return f"{text}; from {int(levers['start_year'])}" + (f"; {_musd(unspent)} unspent" if unspent > 0.5 else "")


def scenario_cost(name_or_path: str) -> float:
    """What a scenario's programs cost a year, priced as a design's are (micro-lending's budget,
    training at ``training_cost_usd`` a merchant, transport's crossings by their capacity change and
    share of the Jilin crossings' capacity, its routes by the haulage-cost change, against the package)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = load_scenario(name_or_path).spec
    ref, total = transport_reference(), 0.0
    price, cs = REGISTRY["transport_package_cost_usd"].default, REGISTRY["transport_crossings_cost_share"].default
    for e in spec.events:
        p = e.params
        if e.type == "microlending":
            total += float(p.get("budget_usd", REGISTRY["microlending_budget_usd"].default))
        elif e.type == "training":
            total += float(p.get("trained_per_year", 0.0)) * float(p.get("cost_usd", REGISTRY["training_cost_usd"].default))
        elif e.type == "transport":
            sel = p.get("crossings", "jilin")
            ids = (crossing_ids() if sel == "all" else prefecture_crossings(list(PREFECTURES)) if sel == "jilin"
                   else [sel] if isinstance(sel, str) else list(sel))
            total += ((float(p.get("capacity_multiplier", 1.0)) - 1.0) / (ref["capacity_multiplier"] - 1.0)
                      * price * cs * capacity_share(ids))
            total += (1.0 - float(p.get("cost_multiplier", 1.0))) / (1.0 - ref["cost_multiplier"]) * price * (1.0 - cs)
    return total


# -- objectives ------------------------------------------------------------------------------------

DIRECTIONS = ("max", "min")
#: the objective that is the design's cost (no run needed)
COST = "cost"
DEFAULT_OBJECTIVES = ("max:hsi_mean:HamJi", "min:regime_revenue_usd:DPRK")


@dataclass(frozen=True)
class Objective:
    """``max`` or ``min`` of an outcome's effect against baseline (or of the design's cost)."""

    direction: str
    outcome: Outcome | None  # None: the cost

    @property
    def name(self) -> str:
        return COST if self.outcome is None else self.outcome.name

    def __str__(self) -> str:
        return f"{self.direction}:{self.name}"


def parse_objective(text: str, years: tuple[int, int]) -> Objective:
    """``max:METRIC:REGION``, ``min:METRIC:REGION`` or ``min:cost``."""
    direction, _, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
    if direction.strip() not in DIRECTIONS or not rest.strip():
        raise UserError(f"--objective {brief(text)}: expected max:METRIC:REGION, min:METRIC:REGION or min:cost,"
                        " for example max:hsi_mean:HamJi")
    if rest.strip() == COST:
        return Objective(direction.strip(), None)
    try:
        return Objective(direction.strip(), parse_outcome(rest, years))
    except UserError as e:
        raise UserError(f"--objective {text}: {str(e).partition(': ')[2] or e}") from None


def signed(values: np.ndarray, objectives: list[Objective]) -> np.ndarray:
    """Objective values turned so that larger is better in every column."""
    sign = np.array([1.0 if o.direction == "max" else -1.0 for o in objectives])
    return np.asarray(values, dtype=float) * sign


def pareto_mask(values: np.ndarray, objectives: list[Objective]) -> np.ndarray:
    """Which rows are non-dominated (no other row is at least as good on every objective and better
    on one); a row with a missing value is never on the front."""
    v = signed(values, objectives)
    ok = np.isfinite(v).all(axis=1)
    mask = np.zeros(len(v), dtype=bool)
    for i in np.flatnonzero(ok):
        others = v[ok]
        dominated = ((others >= v[i]).all(axis=1) & (others > v[i]).any(axis=1)).any()
        mask[i] = not dominated
    return mask


def beaten_by(table: pd.DataFrame, objectives: list[Objective]) -> np.ndarray:
    """Per row: whether a reference scenario (``kind == "reference"``) dominates it, so the page can
    say where the fixed mix beats a design the search found (False for the references themselves)."""
    v = signed(table[[o.name for o in objectives]].to_numpy(), objectives)
    refs = v[(table.kind == "reference").to_numpy()]
    out = np.zeros(len(v), dtype=bool)
    for i in np.flatnonzero((table.kind == "design").to_numpy()):
        out[i] = bool(((refs >= v[i]).all(axis=1) & (refs > v[i]).any(axis=1)).any()) if len(refs) else False
    return out


def mean_interval(x: np.ndarray) -> tuple[float, float, float]:
    """Mean over seeds and its 90% Student-t interval (NaN bounds with one seed), as ``hamji compare``."""
    return t_interval(x, CONFIDENCE)


# -- evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A design to evaluate: a key (letters, digits, ``_.=+-``), its scenario (a built-in name or a
    file), its levers (None for a named scenario) and its cost in US$ a year."""

    key: str
    scenario: str
    levers: dict[str, Any] | None
    cost: float
    label: str


#: an evaluator: (candidates, worlds, seeds) -> one row per (candidate key, world, seed) with each
#: outcome's effect against baseline; pluggable so a test can search a toy objective
Evaluator = Callable[[list[Candidate], pd.DataFrame, list[int]], pd.DataFrame]


def run_evaluator(settings: RunSettings, outcomes: list[Outcome], store: Any = None,
                  progress: Callable[[int, int], None] | None = None) -> Evaluator:
    """The model as an evaluator: every candidate and baseline, per world and seed, as stored tasks."""
    def evaluate(candidates: list[Candidate], worlds: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
        scen = {"baseline": "baseline"} | {c.key: c.scenario for c in candidates}
        jobs, keys, meta = [], [], []
        for w in range(max(1, len(worlds))):
            overrides = {k: _plain(v) for k, v in worlds.iloc[w].items()} if len(worlds) else {}
            for key, path in scen.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # worlds vary event keys for the scenarios that have the event
                    mine = overrides_for(load_scenario(path).spec, overrides)
                    if w == 0:  # a mistake stops the evaluation before any run
                        load_scenario(path, mine)
                for s in seeds:
                    jobs.append((w, mine, path, None, tuple(outcomes), s, settings.scale, settings.start, settings.end))
                    keys.append(f"world-{w}-{key}-seed-{s}")
                    meta.append((key, w, s))
        results = map_stored(run_sample, jobs, keys, store, settings.workers, settings.scheduler, progress)
        runs = pd.concat([r.assign(candidate=k, world=w) for r, (k, w, _) in zip(results, meta)], ignore_index=True)
        names = [o.name for o in outcomes]
        base = runs[runs.candidate == "baseline"].set_index(["world", "seed"])[names]
        rows = runs[runs.candidate != "baseline"].set_index(["world", "seed"])
        effect = rows[names] - base.reindex(rows.index)
        effect.insert(0, "candidate", rows["candidate"])
        return effect.reset_index()[["candidate", "world", "seed", *names]]

    return evaluate


def objective_table(effects: pd.DataFrame, candidates: list[Candidate], objectives: list[Objective]) -> pd.DataFrame:
    """Per candidate: each objective's mean over seeds (and worlds) with its 90% interval."""
    cost = {c.key: c.cost for c in candidates}
    rows = []
    for c in candidates:
        sel = effects[effects.candidate == c.key]
        row: dict[str, Any] = {"design": c.key}
        for o in objectives:
            if o.outcome is None:
                row[o.name], row[f"{o.name}_low"], row[f"{o.name}_high"] = cost[c.key], cost[c.key], cost[c.key]
            else:
                row[o.name], row[f"{o.name}_low"], row[f"{o.name}_high"] = mean_interval(sel[o.name].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows)


# -- the search ------------------------------------------------------------------------------------

#: designs per NSGA-II generation (one batch of runs): small, so that a search of 16-24 trials at
#: 1:1000 (what this machine affords in about 20 minutes) still has several generations
DEFAULT_POPULATION = 8
DEFAULT_TRIALS = 24
#: the paper's three recommendations together, then each program alone (the built-in scenarios)
REFERENCES = ("recommendations", "microlending", "training", "transport")
#: the worked example's total budget (docs/policy-design.md): a bit under the recommendations' US$ 43 M
DEFAULT_BUDGET = 30e6
#: the highest total budget accepted: the registry's ceiling on micro-lending's budget
MAX_BUDGET = 1e9


@dataclass
class OptimizeSpec:
    """What a search varies and optimises."""

    budget: float = DEFAULT_BUDGET
    objectives: list[Objective] = field(default_factory=list)
    levers: list[str] | None = None  # None: every lever; the others stay at their defaults
    trials: int = DEFAULT_TRIALS
    population: int = DEFAULT_POPULATION
    sampler_seed: int = 1
    references: tuple[str, ...] = REFERENCES
    run: RunSettings = field(default_factory=RunSettings)

    def check(self) -> None:
        if isinstance(self.budget, bool) or not isinstance(self.budget, (int, float)) or not 0 < self.budget <= MAX_BUDGET:
            raise UserError(f"--budget {brief(self.budget)}: US$ a year, above 0 and at most {MAX_BUDGET:g}")
        if not self.objectives:
            raise UserError("--objective: at least one")
        if len({o.name for o in self.objectives}) < len(self.objectives):
            raise UserError("--objective: each outcome once")
        if self.objectives and all(o.outcome is None for o in self.objectives):
            raise UserError("--objective: at least one outcome besides cost")
        for n in self.levers or []:
            if n not in LEVERS:
                raise UserError(f"--lever {brief(n)}: unknown lever; allowed: {', '.join(LEVERS)}")
        if self.levers is not None and (not self.levers or len(set(self.levers)) < len(self.levers)):
            raise UserError("--lever: each lever once, at least one")
        for name, value, low in (("--trials", self.trials, 1), ("--population", self.population, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{name} {brief(value)}: a whole number, at least {low}")
        if not 0 <= self.sampler_seed < 2**32:
            raise UserError(f"--sampler-seed {self.sampler_seed}: allowed 0 to {2**32 - 1}")
        self.run.check()

    @property
    def varied(self) -> list[str]:
        return list(self.levers) if self.levers else list(LEVERS)

    def fingerprint(self) -> dict[str, Any]:
        """What the study's trials are made with: a study made otherwise is refused."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            digests = {s: scenario_digest(load_scenario(s)) for s in ("baseline", *self.references)}
        return {"hamji version": VERSION, "sweep": "optimize", "budget": float(self.budget),
                "objectives": [str(o) for o in self.objectives], "levers": {n: [LEVERS[n].low, LEVERS[n].high]
                                                                            for n in self.varied},
                "fixed": {n: v for n, v in lever_defaults().items() if n not in self.varied},
                "population": self.population, "sampler seed": self.sampler_seed,
                "prices": {n: REGISTRY[n].default for n in ("training_cost_usd", "transport_package_cost_usd")},
                "scenario content": digests, **self.run.fingerprint()}


def _sampler(spec: OptimizeSpec, finished: int):
    """NSGA-II seeded from the sampler seed and the number of finished trials, so a resumed search
    asks what an uninterrupted one would."""
    import optuna

    seed = int(np.random.SeedSequence([spec.sampler_seed, finished]).generate_state(1)[0])
    return optuna.samplers.NSGAIISampler(population_size=spec.population, seed=seed)


def _suggest(trial: Any, spec: OptimizeSpec) -> dict[str, Any]:
    levers = lever_defaults()
    for n in spec.varied:
        lv = LEVERS[n]
        levers[n] = (trial.suggest_int(n, int(lv.low), int(lv.high)) if lv.kind == "int"
                     else trial.suggest_categorical(n, [False, True]) if lv.kind == "bool"
                     else trial.suggest_float(n, lv.low, lv.high))
    return levers


def _candidate(key: str, levers: dict[str, Any], budget: float, folder: Path) -> Candidate:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.yaml"
    spec = design_scenario(levers, budget, key)
    tmp = folder / f".{key}.yaml.tmp"
    tmp.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return Candidate(key, str(path.resolve()), dict(levers), allocate(levers, budget)["cost_usd"], spec["description"])


def reference_candidates(names: tuple[str, ...] | list[str]) -> list[Candidate]:
    """The reference scenarios (or any scenario names and files) as candidates."""
    out = []
    for n in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = load_scenario(n)
        key = "ref-" + re.sub(r"[^0-9A-Za-z_.=+-]", "_", Path(n).stem if n.endswith((".yaml", ".yml")) else n)
        out.append(Candidate(key, str(Path(n).resolve()) if Path(n).suffix else n, None, scenario_cost(n),
                             " ".join(sc.spec.description.split()) or sc.name))
    return out


def optimize(spec: OptimizeSpec, out: Path | None = None, progress: Callable[[int, int], None] | None = None,
             evaluator: Evaluator | None = None) -> pd.DataFrame:
    """Search the levers with NSGA-II; the frontier table (one row per evaluated design, then the
    references). With ``out``: ``frontier.parquet`` and ``frontier.html`` written there, the study in
    ``out/study.db`` and the runs in progress in ``out/.tasks`` (the same call resumes)."""
    import optuna

    spec.check()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fingerprint = spec.fingerprint()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(out) if out is not None else Path(scratch)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"--out {folder}: cannot create the folder ({e.strerror})") from None
        storage = f"sqlite:///{(folder / 'study.db').resolve()}" if out is not None else None
        study = optuna.create_study(study_name="hamji-policy", storage=storage, load_if_exists=True,
                                    directions=["maximize" if o.direction == "max" else "minimize" for o in spec.objectives],
                                    sampler=_sampler(spec, 0))
        stored = study.user_attrs.get("fingerprint")
        if stored is not None and stored != canonical(fingerprint):
            what = describe_difference(canonical(fingerprint), stored, there="in the study")
            raise UserError(f"{folder / 'study.db'}: holds a search made otherwise ({what}); use another --out")
        store = TaskStore(folder / ".tasks", fingerprint, hint="use another --out") if out is not None else None
        try:
            study.set_user_attr("fingerprint", canonical(fingerprint))
            outcomes = [o.outcome for o in spec.objectives if o.outcome is not None]
            seeds = list(range(1, spec.run.seeds + 1))
            refs = reference_candidates(spec.references)
            counter = RunCounter(progress, (spec.trials + len(refs) + math.ceil(spec.trials / spec.population)
                                            + (1 if refs else 0)) * len(seeds))
            evaluate = evaluator or run_evaluator(spec.run, outcomes, store, counter)
            table = _search(study, spec, evaluate, seeds, folder / ".designs", counter)
            if refs:
                ref_table = objective_table(evaluate(refs, pd.DataFrame(), seeds), refs, spec.objectives)
                counter.batch_done()
                ref_table = ref_table.assign(kind="reference", trial=-1, description=[c.label for c in refs],
                                             cost_usd=[c.cost for c in refs], pareto=False)
                table = pd.concat([table, ref_table], ignore_index=True)
            table["beaten_by_reference"] = beaten_by(table, spec.objectives)
            counter.finish()
            if out is not None:
                write_frontier(folder, spec, table)
                store.remove()
                store = None
        finally:
            if store is not None:
                store.close()
    return table


class RunCounter:
    """A progress callback over the whole search: each batch's ``(done, total)`` runs added to the
    runs of the batches before it (a resumed batch counts its stored runs as done)."""

    def __init__(self, progress: Callable[[int, int], None] | None, total: int) -> None:
        self.progress, self.total, self.before, self.current = progress, max(1, total), 0, 0

    def __call__(self, done: int, total: int) -> None:
        self.current = total
        if self.progress:
            self.total = max(self.total, self.before + total)
            self.progress(self.before + done, self.total)

    def batch_done(self) -> None:
        self.before += self.current
        self.current = 0

    def finish(self) -> None:
        if self.progress:
            self.progress(self.total, self.total)


def _search(study: Any, spec: OptimizeSpec, evaluate: Evaluator, seeds: list[int], designs: Path,
            counter: RunCounter) -> pd.DataFrame:
    """Ask whole generations, evaluate each as one batch, tell; then the table of every finished trial.
    Trials a killed search left running are evaluated again with their stored levers."""
    import optuna

    state = optuna.trial.TrialState
    while True:
        finished = study.get_trials(deepcopy=False, states=(state.COMPLETE,))
        if len(finished) >= spec.trials:
            break
        batch: list[tuple[int, dict[str, Any]]] = []
        for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
            if set(spec.varied) <= set(t.params) and len(batch) < spec.trials - len(finished):
                batch.append((t.number, lever_defaults() | dict(t.params)))
            else:
                study.tell(t.number, state=state.FAIL)
        study.sampler = _sampler(spec, len(finished))
        while len(batch) < min(spec.population, spec.trials - len(finished)):
            trial = study.ask()
            batch.append((trial.number, _suggest(trial, spec)))
        cands = [_candidate(f"trial-{n}", lv, spec.budget, designs) for n, lv in batch]
        table = objective_table(evaluate(cands, pd.DataFrame(), seeds), cands, spec.objectives)
        counter.batch_done()
        for (n, _), row in zip(batch, table.to_dict("records")):
            values = [float(row[o.name]) for o in spec.objectives]
            if all(np.isfinite(values)):
                _keep(study, n, row)
                study.tell(n, values)
            else:
                study.tell(n, state=state.FAIL)
    return trials_table(study, spec)


def _keep(study: Any, number: int, row: dict[str, Any]) -> None:
    """Keep a trial's intervals in the study (its values hold only the means)."""
    trial_id = next(t._trial_id for t in study.get_trials(deepcopy=False) if t.number == number)
    for k, v in row.items():
        if k != "design":
            study._storage.set_trial_user_attr(trial_id, k, float(v) if np.isfinite(v) else None)


def trials_table(study: Any, spec: OptimizeSpec) -> pd.DataFrame:
    """One row per finished trial: its levers, money per program, each objective with its interval, ``pareto``."""
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        levers = lever_defaults() | dict(t.params)
        row: dict[str, Any] = {"design": f"trial-{t.number}", "kind": "design", "trial": t.number, **levers,
                               **allocate(levers, spec.budget), "budget_usd": float(spec.budget),
                               "description": describe(levers, spec.budget)}
        for o, v in zip(spec.objectives, t.values):
            row[o.name] = float(v)
            for side in ("low", "high"):
                got = t.user_attrs.get(f"{o.name}_{side}")
                row[f"{o.name}_{side}"] = np.nan if got is None else float(got)
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        table["pareto"] = pareto_mask(table[[o.name for o in spec.objectives]].to_numpy(), spec.objectives)
    return table


# -- the frontier page -----------------------------------------------------------------------------

STYLE = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:.85em} td,th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
svg{max-width:100%;height:auto} .note{background:#fff6e5;border-left:4px solid #e67e22;padding:.6em 1em}"""


def objective_label(o: Objective) -> str:
    """An objective as an axis or column label, with its unit (US$ M for money and cost)."""
    if o.outcome is None:
        return "cost, US$ M a year"
    what = "revenue added, US$ M a year" if o.outcome.metric.endswith("_usd") else "gained"
    return f"{o.outcome.name} {what} ({o.direction})"


def objective_scale(o: Objective) -> float:
    """The factor from an objective's value to the unit of :func:`objective_label` (1e-6 for US$)."""
    return 1e-6 if o.outcome is None or o.outcome.metric.endswith("_usd") else 1.0


def frontier_svg(spec: OptimizeSpec, table: pd.DataFrame) -> str:
    """Every design (grey), the front (joined), the references (labelled); y: the first objective,
    x: the second (or the cost if there is one objective)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    oy = spec.objectives[0]
    ox = spec.objectives[1] if len(spec.objectives) > 1 else Objective("min", None)
    if ox.outcome is None and COST not in table:
        table = table.assign(cost=table.cost_usd)
    fy, fx = objective_scale(oy), objective_scale(ox)
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    d = table[table.kind == "design"]
    ax.scatter(d[ox.name] * fx, d[oy.name] * fy, s=14, color="#bbb", label="designs evaluated", zorder=2)
    front = d[d.pareto].sort_values(ox.name)
    ax.plot(front[ox.name] * fx, front[oy.name] * fy, "o-", color="#1f77b4", ms=5, lw=1.2, label="Pareto front", zorder=3)
    for r in front.to_dict("records"):
        ax.annotate(str(r["trial"]), (r[ox.name] * fx, r[oy.name] * fy), xytext=(4, 3),
                    textcoords="offset points", fontsize=7, color="#1f77b4")
    for r in table[table.kind == "reference"].to_dict("records"):
        x, y = r[ox.name] * fx, r[oy.name] * fy
        ax.scatter([x], [y], marker="D", s=40, color="#c0392b", zorder=4)
        ax.annotate(r["design"].removeprefix("ref-"), (x, y), xytext=(5, -9), textcoords="offset points", fontsize=8, color="#c0392b")
    ax.axhline(0, color="#999", lw=0.7)
    ax.axvline(0, color="#999", lw=0.7)
    ax.set_xlabel(objective_label(ox))
    ax.set_ylabel(objective_label(oy))
    ax.legend(fontsize=8, loc="best")
    ax.set_title("The front: designs no other design beats on every objective (red: fixed scenarios)", loc="left", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return figure_svg(fig)


def format_objective(o: Objective, r: dict[str, Any]) -> str:
    """A design's value of an objective (row ``r`` of a frontier table), with its interval where there is one."""
    f = objective_scale(o)
    lo, hi = r.get(f"{o.name}_low", np.nan), r.get(f"{o.name}_high", np.nan)
    interval = f" [{lo * f:.3g}, {hi * f:.3g}]" if np.isfinite(lo) and np.isfinite(hi) and o.outcome is not None else ""
    return f"{r[o.name] * f:.4g}{interval}"


def _beaten_note(table: pd.DataFrame) -> str:
    beaten = table[(table.kind == "design") & table.pareto & table.get("beaten_by_reference", False)]
    if not len(beaten):
        return ""
    return (f"<p class=\"note\"><b>A fixed scenario beats {len(beaten)} of the front's designs</b> (trials"
            f" {', '.join(str(int(t)) for t in beaten.trial)}): the search has not yet found the region a reference"
            " scenario reaches; run more --trials to push the front there.</p>")


def render_frontier(spec: OptimizeSpec, table: pd.DataFrame) -> str:
    """A self-contained page: the front against the references and the front's designs in words."""
    objs = spec.objectives
    head = "".join(f"<th>{html.escape(objective_label(o))}</th>" for o in objs)
    front = table[(table.kind == "design") & table.pareto].sort_values(objs[0].name, ascending=objs[0].direction == "min")
    rows = "".join(f"<tr><td>{int(r['trial'])}</td><td>{html.escape(r['description'])}</td>"
                   + "".join(f"<td>{format_objective(o, r)}</td>" for o in objs) + f"<td>{r['cost_usd'] / 1e6:.1f}</td></tr>"
                   for r in front.to_dict("records"))
    refs = "".join(f"<tr><td>{html.escape(r['design'].removeprefix('ref-'))}</td><td>{html.escape(r['description'])}</td>"
                   + "".join(f"<td>{format_objective(o, r)}</td>" for o in objs) + f"<td>{r['cost_usd'] / 1e6:.1f}</td></tr>"
                   for r in table[table.kind == "reference"].to_dict("records"))
    levers = "".join(f"<tr><td><code>{n}</code></td><td>{LEVERS[n].low:g}</td><td>{LEVERS[n].high:g}</td>"
                     f"<td>{LEVERS[n].default:g}</td><td>{html.escape(LEVERS[n].unit)}</td></tr>" for n in spec.varied)
    r = spec.run
    n_designs = int((table.kind == "design").sum())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hamji optimize</title>
<style>{STYLE}</style></head><body>
<h1>hamji: the mix of programs that buys the most human security per dollar reaching the regime</h1>
<p>Total budget <b>{_musd(spec.budget)} a year</b>; {n_designs} designs evaluated by NSGA-II (optuna, population
{spec.population}, sampler seed {spec.sampler_seed}); objectives: {', '.join(html.escape(str(o)) for o in objs)}; each the
design's effect against <code>baseline</code> on common random numbers, averaged over {r.years[0]}-{r.years[1]} and over
{r.seeds} seed(s) (90% interval over seeds in brackets where there are two or more); scale 1:{r.scale}, runs {r.start} to {r.end}.</p>
<p class="note"><b>Scenarios, not forecasts.</b> The model's mechanisms bound what any design can do: a program acts only
through the trade, ties and know-how the model represents. At small scales a border area has a handful of simulated
merchants, so effects move in steps, and one seed leaves noise in each point. The reference scenarios (red) cost what
they cost (the recommendations more than this budget); training is priced at US$ {REGISTRY['training_cost_usd'].default:,.0f}
a merchant and the transport package at {_musd(REGISTRY['transport_package_cost_usd'].default)} a year (assumptions).</p>
{frontier_svg(spec, table)}
{_beaten_note(table)}
<h2>The front's designs</h2>
<table><tr><th>trial</th><th>design</th>{head}<th>cost, US$ M</th></tr>{rows}</table>
<h2>Reference scenarios</h2>
<table><tr><th>scenario</th><th>what it does</th>{head}<th>cost, US$ M</th></tr>{refs}</table>
<h2>Levers searched</h2>
<table><tr><th>lever</th><th>low</th><th>high</th><th>default</th><th>unit</th></tr>{levers}</table>
</body></html>
"""


def write_frontier(out: Path, spec: OptimizeSpec, table: pd.DataFrame) -> None:
    """``frontier.parquet`` and ``frontier.html``, each written whole."""
    write_whole(out / "frontier.parquet", frame=table)
    write_whole(out / "frontier.html", text=render_frontier(spec, table))


# -- robustness ------------------------------------------------------------------------------------

#: plausible worlds by default: enough that a share of worlds moves in tenths, few enough for a
#: handful of designs at 1:1000 in well under an hour on a two-core machine
DEFAULT_WORLDS = 10
#: fewest worlds: one world says nothing about robustness
MIN_WORLDS = 2
#: the high quantile of regret reported beside its median
REGRET_QUANTILE = 0.9
#: outcomes robust always reports, besides the criterion's and the thresholds'
REPORTED = ("hsi_mean:HamJi", "regime_revenue_usd:DPRK")


@dataclass
class RobustSpec:
    """Which designs to compare, in how many worlds, on what."""

    designs: list[str]
    criterion: Objective
    satisfice: Any = None  # a hamji.analysis.discover.Condition over the effects, or None
    worlds: int = DEFAULT_WORLDS
    params: list[str] | None = None  # None: every uncertain parameter
    declared: bool = False
    run: RunSettings = field(default_factory=RunSettings)
    #: a calibration posterior (``posterior.parquet`` of ``hamji calibrate --method abc``): each world is
    #: one weighted draw from it instead of a point of the Latin hypercube
    posterior: str | None = None

    def check(self) -> None:
        if self.posterior is not None and self.params:
            raise UserError("--posterior and --param: the posterior's parameters are the ones varied; give one or the other")
        if not self.designs:
            raise UserError("robust: give at least one design (a scenario name, a scenario file or frontier.parquet[:TRIAL])")
        if isinstance(self.worlds, bool) or not isinstance(self.worlds, int) or self.worlds < MIN_WORLDS:
            raise UserError(f"--worlds {brief(self.worlds)}: a whole number, at least {MIN_WORLDS}")
        self.run.check()

    @property
    def outcomes(self) -> list[Outcome]:
        """Every outcome to compute: the criterion's, the thresholds', then the reported ones."""
        found = [] if self.criterion.outcome is None else [self.criterion.outcome]
        found += list(self.satisfice.outcomes) if self.satisfice is not None else []
        found += [parse_outcome(o, self.run.years) for o in REPORTED]
        return list(dict.fromkeys(found))


def parse_designs(items: list[str], folder: Path) -> list[Candidate]:
    """Designs named on the command line: a built-in scenario, a scenario file, ``frontier.parquet``
    (its Pareto front) or ``frontier.parquet:TRIAL`` (one row, a design's trial number or a
    reference's name). Designed scenarios are written to ``folder``."""
    out: list[Candidate] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise UserError(f"robust: design {brief(item)}: expected a scenario name, a file, or frontier.parquet[:TRIAL]")
        if ".parquet" in item:
            head, _, row = item.rpartition(".parquet")
            path = Path(head + ".parquet")
            try:
                table = pd.read_parquet(path)
            except (OSError, ValueError) as e:
                raise UserError(f"robust: {path}: cannot read a frontier table ({type(e).__name__})") from None
            need = {"kind", "trial", "design", "budget_usd", *ORIGINAL_LEVERS}
            if not need <= set(table.columns):
                missing = sorted(need - set(table.columns))[0]
                raise UserError(f"robust: {path}: not a frontier.parquet of hamji optimize (missing {missing})")
            row = row.lstrip(":").strip()
            if not row:
                rows = table[(table.kind == "design") & table.pareto]
            else:
                rows = table[(table.design == row) | (table.design == f"ref-{row}")
                             | ((table.kind == "design") & (table.trial.astype(str) == row))]
                if not len(rows):
                    raise UserError(f"robust: {item}: no trial or reference '{row}' in {path}")
            for r in rows.to_dict("records"):
                if r["kind"] == "reference":
                    out += reference_candidates([r["design"].removeprefix("ref-")])
                else:
                    # a frontier written before a lever existed: the lever at its default
                    levers = {n: lv.value(r[n]) if n in r and not pd.isna(r[n]) else lv.default for n, lv in LEVERS.items()}
                    out.append(_candidate(f"trial-{int(r['trial'])}", levers, float(r["budget_usd"]), folder))
        else:
            out += reference_candidates([item])
    if not out:
        raise UserError(f"robust: {' '.join(items)}: no design to compare (a frontier with no Pareto row?)")
    keys = [c.key for c in out]
    twice = next((k for k in keys if keys.count(k) > 1), None)
    if twice is not None:
        raise UserError(f"robust: design {twice} is given twice; give each design once")
    return out


def robustness_table(means: pd.DataFrame, criterion: Objective, satisfice: Any = None) -> pd.DataFrame:
    """The robustness of each design from its outcomes in each world.

    ``means``: one row per (``candidate``, ``world``) with each outcome (averaged over seeds) and, for
    a cost criterion, ``cost``. In each world the best design is the one with the best criterion;
    a design's **regret** there is its gap to that best (0 for the best, never negative). Per design:
    ``best_share`` (share of worlds where it is best, ties counting for each), ``regret_median``,
    ``regret_p90``, ``satisficing`` (share of worlds where the thresholds hold; NaN without
    thresholds) and the criterion's mean over worlds.
    """
    col = criterion.name
    wide = means.pivot(index="world", columns="candidate", values=col)
    order = list(dict.fromkeys(means.candidate))
    wide = wide[order]
    v = signed(wide.to_numpy(), [criterion] * wide.shape[1])
    best = np.nanmax(v, axis=1, keepdims=True)
    regret = pd.DataFrame(best - v, index=wide.index, columns=order)
    is_best = pd.DataFrame(v == best, index=wide.index, columns=order)
    rows = []
    for c in order:
        mine = means[means.candidate == c]
        row = {"design": c, "worlds": len(mine), "criterion": str(criterion), "criterion_mean": float(mine[col].mean()),
               "best_share": float(is_best[c].mean()), "regret_median": float(regret[c].median()),
               "regret_p90": float(regret[c].quantile(REGRET_QUANTILE)),
               "satisficing": float(satisfice.holds(mine).mean()) if satisfice is not None else np.nan}
        rows.append(row)
    return pd.DataFrame(rows)


def robust(spec: RobustSpec, out: Path | None = None, progress: Callable[[int, int], None] | None = None,
           evaluator: Evaluator | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run each design across ``spec.worlds`` plausible worlds; (robustness, worlds) tables. With
    ``out``: ``robustness.parquet``, ``worlds.parquet`` and ``robustness.html`` written there, the runs
    kept in ``out/.tasks`` until then (the same call resumes)."""
    spec.check()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(out) if out is not None else Path(scratch)
        cands = parse_designs(spec.designs, folder / ".designs")
        if spec.posterior is not None:  # worlds drawn from the calibration's posterior, one per world number

            post = read_posterior(Path(spec.posterior), "robust --posterior")
            worlds = pd.DataFrame([posterior_draw(post, w + 1) for w in range(spec.worlds)])
            names, notes = list(worlds.columns), [f"worlds drawn from the posterior {spec.posterior}"]
            source: Any = {"posterior": file_digest(Path(spec.posterior))}
        else:
            names, notes = resolve_params(spec.params, ["baseline"] + [c.scenario for c in cands])
            _, worlds = latin_hypercube(names, spec.worlds, spec.declared)
            source = {"ranges": {n: list(param_spec(n).bounds(spec.declared)) for n in names}}
        outcomes = spec.outcomes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            digests = {c.key: scenario_digest(load_scenario(c.scenario)) for c in cands}

        fingerprint = {"hamji version": VERSION, "sweep": "robust", "designs": digests, "worlds": spec.worlds,
                       "parameters": names, **source,
                       "outcomes": [[o.name, *o.years] for o in outcomes], **spec.run.fingerprint()}
        store = TaskStore(folder / ".tasks", fingerprint, hint="use another --out") if out is not None else None
        try:
            evaluate = evaluator or run_evaluator(spec.run, outcomes, store, progress)
            effects = evaluate(cands, worlds, list(range(1, spec.run.seeds + 1)))
            means = effects.drop(columns="seed").groupby(["candidate", "world"], sort=False).mean().reset_index()
            means["cost"] = means.candidate.map({c.key: c.cost for c in cands})
            table = robustness_table(means, spec.criterion, spec.satisfice)
            info = {c.key: c for c in cands}
            table.insert(1, "description", [info[k].label for k in table.design])
            table.insert(2, "cost_usd", [info[k].cost for k in table.design])
            for o in outcomes:
                table[f"{o.name}_mean"] = [float(means[means.candidate == k][o.name].mean()) for k in table.design]
            per_world = means.merge(worlds.rename_axis("world").reset_index(), on="world", how="left")
            if out is not None:
                folder.mkdir(parents=True, exist_ok=True)
                write_whole(folder / "robustness.parquet", frame=table)
                write_whole(folder / "worlds.parquet", frame=per_world)
                write_whole(folder / "robustness.html", text=render_robust(spec, table, means, names, notes))
                store.remove()
                store = None
        finally:
            if store is not None:
                store.close()
    return table, per_world


def regret_svg(spec: RobustSpec, means: pd.DataFrame) -> str:
    """Each design's criterion in each world (one dot per world), the worlds joined across designs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    o = spec.criterion
    order = list(dict.fromkeys(means.candidate))
    wide = means.pivot(index="world", columns="candidate", values=o.name)[order] * objective_scale(o)
    fig, ax = plt.subplots(figsize=(6.8, 0.5 * len(order) + 2.2))
    for _, w in wide.iterrows():
        ax.plot(w.to_numpy(), range(len(order)), color="#ccc", lw=0.6, zorder=1)
    for i, c in enumerate(order):
        ax.scatter(wide[c], np.full(len(wide), i), s=16, color="#1f77b4", zorder=2)
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.axvline(0, color="#999", lw=0.7)
    ax.set_xlabel(objective_label(o) + ": one dot per world, a grey line joins a world's designs")
    ax.spines[["top", "right"]].set_visible(False)
    return figure_svg(fig)


def render_robust(spec: RobustSpec, table: pd.DataFrame, means: pd.DataFrame, names: list[str], notes: list[str]) -> str:
    """A self-contained page: per design its best share, regret and satisficing rate, and the spread over worlds."""
    f = objective_scale(spec.criterion)
    others = [o for o in spec.outcomes if o.name != spec.criterion.name]
    head = "".join(f"<th>{html.escape(o.name)} (mean)</th>" for o in others)
    rows = "".join(
        f"<tr><td>{html.escape(r['design'])}</td><td>{html.escape(r['description'])}</td><td>{r['cost_usd'] / 1e6:.1f}</td>"
        f"<td>{r['criterion_mean'] * f:.4g}</td><td>{r['best_share']:.0%}</td><td>{r['regret_median'] * f:.4g}</td>"
        f"<td>{r['regret_p90'] * f:.4g}</td><td>{'' if not np.isfinite(r['satisficing']) else format(r['satisficing'], '.0%')}</td>"
        + "".join(f"<td>{r[o.name + '_mean'] * objective_scale(Objective('max', o)):.4g}</td>" for o in others) + "</tr>"
        for r in table.to_dict("records"))
    r = spec.run
    cond = (f"thresholds <code>{html.escape(spec.satisfice.text)}</code>" if spec.satisfice is not None
            else "no thresholds given (--satisfice)")
    note = "".join(f"<li>{html.escape(x)}</li>" for x in notes)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hamji robust</title>
<style>{STYLE}</style></head><body>
<h1>hamji: how robust is each design across plausible worlds?</h1>
<p>{len(table)} designs in <b>{spec.worlds} worlds</b> (a Latin hypercube over {len(names)} uncertain parameters within their
{'declared' if spec.declared else 'plausible'} ranges); criterion <code>{html.escape(str(spec.criterion))}</code>, the design's
effect against <code>baseline</code> in the same world and seed, averaged over {r.years[0]}-{r.years[1]} and {r.seeds} seed(s);
{cond}; scale 1:{r.scale}, runs {r.start} to {r.end}.</p>
<p class="note"><b>Scenarios, not forecasts.</b> <b>Best share</b>: the share of worlds in which the design is best on the
criterion. <b>Regret</b>: in each world, how far the design falls short of the best design there (0 when it is the best),
median and {REGRET_QUANTILE:.0%} quantile over worlds. <b>Satisficing</b>: the share of worlds in which the thresholds hold. The
worlds are assumptions too (the plausible ranges), and with few worlds these shares move in steps of {1 / spec.worlds:.0%}.</p>
{'<ul>' + note + '</ul>' if note else ''}
<table><tr><th>design</th><th>what it does</th><th>cost, US$ M</th><th>{html.escape(objective_label(spec.criterion))} (mean)</th>
<th>best share</th><th>regret median</th><th>regret p{REGRET_QUANTILE * 100:.0f}</th><th>satisficing</th>{head}</tr>{rows}</table>
{regret_svg(spec, means)}
</body></html>
"""


# -- inputs shared by the command line and Python ---------------------------------------------------


def run_settings(seeds: int = DEFAULT_SEEDS, scale: int | str = DEFAULT_SCALE, start: Any = None, end: Any = None,
                 years: str | None = None, workers: int = 1, scheduler: str | None = None) -> RunSettings:
    """Run settings of a policy analysis from user input (the reference is baseline), checked: see
    :func:`hamji.analysis.settings.run_settings`."""
    return make_run_settings(DEFAULT_SCENARIO, seeds, scale, start, end, years, workers, scheduler)


def optimize_spec(budget: float, objectives: list[str] | None, levers: list[str] | None, trials: int, population: int,
                  sampler_seed: int, run: RunSettings) -> OptimizeSpec:
    """An :class:`OptimizeSpec` from user input, checked (nothing runs or is written before)."""
    spec = OptimizeSpec(budget=budget, objectives=[parse_objective(o, run.years) for o in (objectives or DEFAULT_OBJECTIVES)],
                        levers=list(levers) if levers else None, trials=trials, population=population,
                        sampler_seed=sampler_seed, run=run)
    spec.check()
    return spec


def robust_spec(designs: list[str], worlds: int, criterion: str, satisfice: str | None, params: list[str] | None,
                declared: bool, run: RunSettings, posterior: str | None = None) -> RobustSpec:
    """A :class:`RobustSpec` from user input, checked (the designs are read when it runs)."""
    crit = parse_objective(criterion, run.years)
    cond = None
    if satisfice is not None:
        try:
            cond = parse_condition(satisfice, run.years)
        except UserError as e:
            raise UserError(f"--satisfice{str(e).removeprefix('--condition')}") from None
    spec = RobustSpec(designs=list(designs or []), criterion=crit, satisfice=cond, worlds=worlds,
                      params=list(params) if params else None, declared=declared, run=run,
                      posterior=None if posterior is None else str(posterior))
    spec.check()
    if spec.posterior is not None:  # read and checked now, before anything is written

        read_posterior(Path(spec.posterior), "robust --posterior")
    return spec
