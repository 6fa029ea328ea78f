"""Ensembles: many seeds of many scenarios, run as Dask tasks.

Each task is a pure function of (scenario, seed, scale, dates, overrides) and returns its annual
results, so the ensemble is bit-identical whatever the number of workers or the scheduler: the
same seeds in each scenario, and every stochastic process drawing from its own named stream
(common random numbers), so a difference between scenarios is the intervention, not noise.

By default a local cluster of ``workers`` processes runs the tasks (``workers=1`` runs them in this
process, with no cluster); ``scheduler="tcp://host:port"`` sends them to an existing Dask cluster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from hamji.scenario import load_scenario


@dataclass(frozen=True)
class Task:
    """One run of an ensemble."""

    scenario: str  # built-in name or path of a scenario file
    seed: int
    scale: int = 100
    start: dt.date = dt.date(2000, 1, 3)
    end: dt.date = dt.date(2030, 12, 30)
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)


def run_task(task: Task) -> pd.DataFrame:
    """Run one task; its annual results with ``scenario`` and ``seed`` columns."""
    from hamji.sim import Sim

    sim = Sim(task.scenario, seed=task.seed, scale=task.scale, start=task.start, end=task.end, overrides=task.overrides)
    sim.run()
    annual = sim.results.annual()
    annual.insert(0, "seed", task.seed)
    annual.insert(0, "scenario", sim.scenario.name)
    return annual


def validate_tasks(tasks: list[Task]) -> None:
    """Load every scenario once before anything runs, so a mistake stops the ensemble at once."""
    for name in sorted({t.scenario for t in tasks}):
        load_scenario(name, next(t.overrides for t in tasks if t.scenario == name))


def run_ensemble(tasks: list[Task], workers: int = 1, scheduler: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Run every task and return their annual results, in task order (independent of completion order)."""
    validate_tasks(tasks)
    results: list[pd.DataFrame | None] = [None] * len(tasks)
    if scheduler is None and workers <= 1:
        for i, t in enumerate(tasks):
            results[i] = run_task(t)
            if progress:
                progress(i + 1, len(tasks))
    else:
        from distributed import Client, LocalCluster, as_completed

        cluster = None
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(scheduler)
        try:
            futures = client.map(run_task, tasks, pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            for done, fut in enumerate(as_completed(futures), start=1):
                results[index[fut.key]] = fut.result()
                if progress:
                    progress(done, len(tasks))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return pd.concat(results, ignore_index=True)
