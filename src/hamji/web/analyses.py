"""The analyses' folders for the web app: find them under the runs folder, read them, and say how to reproduce them.

A sensitivity folder holds ``sensitivity.parquet`` (and ``experiments.parquet``), a policy folder
``frontier.parquet`` and/or ``robustness.parquet``, whether ``hamji sensitivity``/``optimize``/``robust``
wrote it or the web app did; the app also leaves ``request.json``, the keyword arguments of
:func:`hamji.sensitivity` or :func:`hamji.optimize` it ran with, from which the reproducing command and
call are written. A folder made elsewhere has no request: what its tables do not say (scale, dates)
is on its own HTML page.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hamji.analysis.experiments import Outcome
from hamji.analysis.policy import COST, DEFAULT_OBJECTIVES, Objective, pareto_mask
from hamji.web.jobs import REQUEST_FILE

#: the file that makes a folder an analysis of each kind
MARKERS = {"sensitivity": ("sensitivity.parquet",), "policy": ("frontier.parquet", "robustness.parquet")}
#: how deep below the runs folder analyses are looked for (runs/X/ and runs/X/Y/)
DEPTH = 2
#: the command line's option for each list argument of the Python API (repeated once per item)
CLI_LISTS = {"params": "--param", "outcomes": "--outcome", "objectives": "--objective", "levers": "--lever"}
CLI_NAMES = {"declared": "--declared-ranges"}


def find(runs: Path, kind: str) -> list[Path]:
    """Folders under ``runs`` holding an analysis of ``kind`` (``sensitivity`` or ``policy``), newest first;
    folders being written (hidden names) are left out."""
    found: dict[Path, float] = {}
    for depth in range(1, DEPTH + 1):
        for marker in MARKERS[kind]:
            for f in Path(runs).glob("/".join(["*"] * depth + [marker])):
                rel = f.parent.relative_to(runs)
                if not any(part.startswith(".") for part in rel.parts):
                    found[f.parent] = max(found.get(f.parent, 0.0), f.stat().st_mtime)
    return sorted(found, key=lambda p: -found[p])


def signature(runs: Path) -> tuple:
    """What changes when an analysis folder appears, changes or goes (polled cheaply by every session)."""
    return tuple((str(p), p.stat().st_mtime) for kind in MARKERS for p in find(runs, kind))


def label(folder: Path, runs: Path) -> str:
    """A folder as the pickers show it: its path under the runs folder and when it was written."""
    newest = max((folder / m).stat().st_mtime for ms in MARKERS.values() for m in ms if (folder / m).exists())
    return f"{folder.relative_to(runs)} · {dt.datetime.fromtimestamp(newest):%Y-%m-%d %H:%M}"


def request_of(folder: Path) -> tuple[str, dict[str, Any]] | None:
    """(kind, keyword arguments) the web app ran this folder's analysis with, or None (made elsewhere, or unreadable)."""
    try:
        data = json.loads((folder / REQUEST_FILE).read_text(encoding="utf-8"))
        return str(data["kind"]), dict(data["request"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cli_command(kind: str, request: dict[str, Any], out: Path) -> str:
    """The ``hamji sensitivity``/``hamji optimize`` command that reruns a request into ``out``."""
    parts = ["hamji", kind]
    for key, value in request.items():
        if value is None or value is False or value == []:
            continue
        option = CLI_LISTS.get(key) or CLI_NAMES.get(key) or "--" + key.replace("_", "-")
        if isinstance(value, (list, tuple)):
            parts += [x for item in value for x in (option, str(item))]
        elif value is True:
            parts.append(option)
        else:
            parts += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(parts + ["--out", str(out)])


def python_call(kind: str, request: dict[str, Any], out: Path) -> str:
    """The :func:`hamji.sensitivity`/:func:`hamji.optimize` call that reruns a request into ``out``."""
    result = "indices, experiments" if kind == "sensitivity" else "frontier"
    args = ", ".join([f"{k}={v!r}" for k, v in request.items() if v is not None] + [f"out={str(out)!r}"])
    return f"import hamji\n{result} = hamji.{kind}({args})"


# -- sensitivity ---------------------------------------------------------------------------------------

@dataclass
class Sensitivity:
    """A sensitivity folder read: the indices (tidy, as ``sensitivity.parquet``), the parameters varied and the
    number of samples (from ``experiments.parquet``, when present), and the request that made it."""

    folder: Path
    indices: pd.DataFrame
    params: list[str]
    samples: int | None
    request: dict[str, Any] | None

    @property
    def method(self) -> str:
        return str(self.indices.method.iloc[0])

    @property
    def outcomes(self) -> list[str]:
        return list(dict.fromkeys(self.indices.outcome))


def read_sensitivity(folder: Path) -> Sensitivity:
    """Read a sensitivity folder; a :class:`ValueError` or :class:`OSError` saying why if it is not one."""
    indices = pd.read_parquet(folder / "sensitivity.parquet")
    need = {"method", "outcome", "param", "index", "value", "low", "high"}
    if not need <= set(indices.columns) or indices.empty:
        raise ValueError(f"{folder / 'sensitivity.parquet'} is not a table of hamji sensitivity (empty, or missing columns)")
    params, samples = list(dict.fromkeys(indices.param)), None
    if (folder / "experiments.parquet").exists():
        samples = int(pd.read_parquet(folder / "experiments.parquet", columns=["sample"])["sample"].nunique())
    req = request_of(folder)
    return Sensitivity(folder, indices, params, samples, req[1] if req and req[0] == "sensitivity" else None)


# -- policy --------------------------------------------------------------------------------------------

@dataclass
class Policy:
    """A policy folder read: the frontier (``frontier.parquet``) with its objectives, the robustness table
    (``robustness.parquet``), either of which may be absent, and the request that made it."""

    folder: Path
    frontier: pd.DataFrame | None
    objectives: list[Any]
    robustness: pd.DataFrame | None
    request: dict[str, Any] | None
    note: str = ""


def objective_names(frontier: pd.DataFrame) -> list[str]:
    """The objectives of a frontier table, in their order: the columns with a ``_low`` and a ``_high`` beside them."""
    cols = set(frontier.columns)
    return [c for c in frontier.columns if f"{c}_low" in cols and f"{c}_high" in cols]


def _objective(direction: str, name: str) -> Any:
    if name == COST:
        return Objective(direction, None)
    metric, _, region = name.partition(":")
    return Objective(direction, Outcome(metric, region, (0, 0)))


def infer_objectives(frontier: pd.DataFrame, request: dict[str, Any] | None) -> tuple[list[Any], str]:
    """The frontier's objectives with their directions: from the request, else the directions under which its
    ``pareto`` column is the Pareto front of its designs (the usual ones tried first); and a note if unsure."""
    names = objective_names(frontier)
    if request and request.get("objectives"):
        given = {o.partition(":")[2]: o.partition(":")[0] for o in request["objectives"]}
        if set(given) == set(names):
            return [_objective(given[n], n) for n in names], ""
    usual = {o.partition(":")[2]: o.partition(":")[0] for o in DEFAULT_OBJECTIVES} | {"cost": "min"}
    designs = frontier[frontier.kind == "design"]
    combos = sorted(itertools.product(("max", "min"), repeat=len(names)),
                    key=lambda c: sum(d != usual.get(n, "max") for d, n in zip(c, names)))
    for combo in combos:
        objs = [_objective(d, n) for d, n in zip(combo, names)]
        if len(designs) and (pareto_mask(designs[names].to_numpy(), objs) == designs.pareto.to_numpy(bool)).all():
            return objs, ""
    objs = [_objective(usual.get(n, "max"), n) for n in names]
    return objs, "The objectives' directions could not be read from this table; the usual ones are assumed."


def read_policy(folder: Path) -> Policy:
    """Read a policy folder; a :class:`ValueError` or :class:`OSError` saying why if it is not one."""
    req = request_of(folder)
    request = req[1] if req and req[0] == "optimize" else None
    frontier = robustness = None
    objectives: list[Any] = []
    note = ""
    if (folder / "frontier.parquet").exists():
        frontier = pd.read_parquet(folder / "frontier.parquet")
        need = {"kind", "design", "trial", "description", "cost_usd", "pareto"}
        if not need <= set(frontier.columns) or not objective_names(frontier):
            raise ValueError(f"{folder / 'frontier.parquet'} is not a frontier table of hamji optimize (missing columns)")
        objectives, note = infer_objectives(frontier, request)
    if (folder / "robustness.parquet").exists():
        robustness = pd.read_parquet(folder / "robustness.parquet")
        need = {"design", "description", "cost_usd", "criterion", "criterion_mean", "best_share", "regret_median"}
        if not need <= set(robustness.columns):
            raise ValueError(f"{folder / 'robustness.parquet'} is not a table of hamji robust (missing columns)")
    return Policy(folder, frontier, objectives, robustness, request, note)
