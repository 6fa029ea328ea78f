"""Ensembles: many seeds of many scenarios, run as Dask tasks.

Each task is a pure function of (scenario, seed, scale, dates, overrides) and returns its annual
results, so the ensemble is bit-identical whatever the number of workers or the scheduler: the
same seeds in each scenario, and every stochastic process drawing from its own named stream
(common random numbers), so a difference between scenarios is the intervention, not noise.

By default a local cluster of ``workers`` processes runs the tasks (``workers=1`` runs them in this
process, with no cluster); ``scheduler="tcp://host:port"`` sends them to an existing Dask cluster
(:func:`check_scheduler` first makes sure one answers there, within seconds). Given a
:class:`~hamji.analysis.sweep.TaskStore`, an ensemble keeps each task's result as soon as it arrives and,
run again, loads the stored tasks and runs only the missing ones (:func:`map_stored`). A task lost
with a Dask worker is rerun by Dask itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from hamji import run_window
from hamji.errors import UserError
from hamji.scenario import Scenario, ScenarioSpec, load_scenario
from hamji.sim import Sim

if TYPE_CHECKING:  # pragma: no cover
    from hamji.analysis.sweep import TaskStore


@dataclass(frozen=True)
class Task:
    """One run of an ensemble."""

    scenario: str  # built-in name or path of a scenario file
    seed: int
    scale: int = 100
    start: dt.date = run_window.DEFAULT_START
    end: dt.date = run_window.DEFAULT_END
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)


def run_task(task: Task) -> pd.DataFrame:
    """Run one task; its annual results with ``scenario`` and ``seed`` columns."""
    sim = Sim(task.scenario, seed=task.seed, scale=task.scale, start=task.start, end=task.end, overrides=task.overrides)
    sim.run()
    annual = sim.results.annual()
    annual.insert(0, "seed", task.seed)
    annual.insert(0, "scenario", sim.scenario.name)
    return annual


def overrides_for(spec: Any, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The overrides that apply to a scenario: every registry parameter, and the event keys
    (``TYPE.key``) of the event types the scenario has (an analysis varies them across scenarios)."""
    types = {e.type for e in spec.events}
    return {k: v for k, v in (overrides or {}).items() if "." not in k or k.partition(".")[0] in types}


def run_seed_group(scenarios: tuple[str, ...], seed: int, scale: int, start: dt.date, end: dt.date,
                   overrides: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run several scenarios with one seed, sharing the weeks before each scenario's first event.

    A trunk run without events advances week by week; each scenario with the default parameters is
    forked from it at the week of its first event (others run from the start). The results are
    bit-identical to running each scenario alone (a test checks it), at a fraction of the cost when
    interventions start late in the run. ``overrides`` apply to every scenario (and the trunk): the
    registry parameters to all, each event key ``TYPE.key`` to the scenarios with such an event.
    """
    loaded = [load_scenario(s) for s in scenarios]
    if overrides:
        loaded = [load_scenario(s, overrides_for(sc.spec, overrides)) for s, sc in zip(scenarios, loaded)]
    plain = {k: v for k, v in (overrides or {}).items() if "." not in k}
    trunk = Sim(Scenario(ScenarioSpec(name="trunk"), "trunk", plain), seed=seed, scale=scale, start=start, end=end)
    trunk.initialize()
    when = {i: trunk.first_event_week(sc) for i, sc in enumerate(loaded)}
    pending = sorted((w, i) for i, w in when.items() if w is not None)
    finished: dict[int, Sim] = {}
    for i, w in when.items():
        if w is None:  # differs from the start: a run of its own
            finished[i] = Sim(loaded[i], seed=seed, scale=scale, start=start, end=end).run()
    k = 0
    while k < len(pending):
        week, i = pending[k]
        while trunk.week + 1 < min(week, trunk.n_weeks):
            trunk.step()
        if week >= trunk.n_weeks:  # no event inside the run: the trunk itself is this scenario
            while trunk.week + 1 < trunk.n_weeks:
                trunk.step()
            twin = trunk.fork(loaded[i])
            for mod in twin.modules:
                mod.finalize(twin)
            finished[i] = twin
        else:
            finished[i] = trunk.fork(loaded[i]).run()
        k += 1
    frames = []
    for i, sc in enumerate(loaded):
        annual = finished[i].results.annual()
        annual.insert(0, "seed", seed)
        annual.insert(0, "scenario", sc.name)
        frames.append(annual)
    return pd.concat(frames, ignore_index=True)


def run_grouped(scenarios: list[str], seeds: list[int], scale: int, start: dt.date, end: dt.date, workers: int = 1,
                scheduler: str | None = None, progress: Callable[[int, int], None] | None = None,
                store: TaskStore | None = None, overrides: dict[int, dict[str, Any]] | None = None) -> pd.DataFrame:
    """Every scenario with every seed, one task per seed (scenarios forked from a shared trunk).

    Rows are ordered by scenario, then seed, whatever the number of workers. With a ``store``, each
    seed's result is kept under the key ``seed-<seed>`` as it finishes, and seeds already stored
    are loaded instead of run. ``overrides`` maps a seed to the parameters every scenario of that
    seed runs with (a posterior draw: within a seed, common random numbers and common parameters).
    """
    per_seed = overrides or {}
    validate_tasks([Task(s, seeds[0], scale, start, end) for s in scenarios])
    jobs = [(tuple(scenarios), s, scale, start, end, per_seed.get(s)) for s in seeds]
    frames = map_stored(_group_job, jobs, [f"seed-{s}" for s in seeds], store, workers, scheduler, progress)
    out = pd.concat(frames, ignore_index=True)
    order = {n: k for k, n in enumerate(dict.fromkeys(out.scenario))}
    out["_o"] = out.scenario.map(order)
    out = out.sort_values(["_o", "seed"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return out


def _group_job(job: tuple) -> pd.DataFrame:
    return run_seed_group(*job)


def new_local_cluster(workers: int, dashboard: str | None = ":0"):
    """A Dask LocalCluster of ``workers`` single-threaded processes, each told (``HAMJI_THREADS``) to use its
    share of this machine's cores in the household passes of large runs, so workers never oversubscribe the
    cores (threads never change a result: see :mod:`hamji.kernels`). The dashboard goes on a free port."""
    from distributed import LocalCluster

    share = max(1, (os.cpu_count() or 1) // max(1, workers))
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=dashboard,
                        env={"HAMJI_THREADS": str(share)})


@contextlib.contextmanager
def local_cluster(workers: int, scheduler: str | None):
    """A scheduler address to use for many ensembles in a row: ``scheduler`` itself, or a Dask
    LocalCluster of ``workers`` processes started once (None with one worker: run in this process).
    """
    if scheduler is not None or workers <= 1:
        yield scheduler
        return
    cluster = new_local_cluster(workers)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Make sure a Dask scheduler answers at ``address``, within ``timeout`` seconds; a
    :class:`UserError` (one line) if the address is malformed or nothing answers. Call it before
    any work and before anything is written.
    """
    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    where = f"--scheduler {address}"
    try:
        _refused_at_once(address, timeout)
        # in a thread of its own, so that it works under a running event loop too (Jupyter)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            info = pool.submit(lambda: asyncio.run(identity())).result()
    except ValueError as e:  # distributed's own check of the address
        raise UserError(f"{where}: not a Dask scheduler address ({e}); expected tcp://host:port") from None
    except (TimeoutError, OSError) as e:
        raise UserError(f"{where}: cannot connect ({e})") from None
    except Exception as e:
        raise UserError(f"{where}: cannot connect (what answers there is not a Dask scheduler: {type(e).__name__})") from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise UserError(f"{where}: cannot connect (what answers there is not a Dask scheduler)")


def _refused_at_once(address: str, timeout: float) -> None:
    """For tcp:// addresses, one plain connection first: a refused one fails at once, where Dask
    would retry until its timeout."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    scheme, loc = parse_address(address)
    if scheme != "tcp":
        return
    host, port = parse_host_port(loc)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range 1-65535")
    with socket.create_connection((host, port), timeout=timeout):
        pass


def _map(fn, items: list, workers: int, scheduler: str | None, progress,
         on_result: Callable[[int, Any], None] | None = None) -> list:
    """Apply ``fn`` to ``items`` in this process or on Dask; results in item order.

    ``on_result(i, result)`` is called as each result arrives (in completion order), before
    ``progress``: a sweep stores it there, so a kill loses only the tasks still running.
    """
    results: list = [None] * len(items)
    if scheduler is None and workers <= 1:
        for i, it in enumerate(items):
            results[i] = fn(it)
            if on_result:
                on_result(i, results[i])
            if progress:
                progress(i + 1, len(items))
        return results
    from distributed import Client, as_completed

    cluster = None
    if scheduler is None:
        cluster = new_local_cluster(workers)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for done, fut in enumerate(as_completed(futures), start=1):
            i = index[fut.key]
            results[i] = fut.result()
            if on_result:
                on_result(i, results[i])
            if progress:
                progress(done, len(items))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results


def map_stored(fn, items: list, keys: list[str], store: TaskStore | None, workers: int = 1,
               scheduler: str | None = None, progress: Callable[[int, int], None] | None = None) -> list:
    """:func:`_map` through a :class:`~hamji.analysis.sweep.TaskStore`: the items whose key is stored are
    loaded, the others run, each stored as soon as it arrives. Results in item order; ``progress``
    counts the stored items as done.
    """
    if store is None:
        return _map(fn, items, workers, scheduler, progress)
    results: list = [None] * len(items)
    have = store.done()
    todo = []
    for i, key in enumerate(keys):
        if key in have:
            try:
                results[i] = store.get(key)
                continue
            except (OSError, ValueError):  # unreadable (a damaged disk): run it again
                pass
        todo.append(i)
    before = len(items) - len(todo)
    if progress:
        progress(before, len(items))
    if not todo:
        return results

    def keep(j: int, result: Any) -> None:
        results[todo[j]] = result
        store.put(keys[todo[j]], result)

    step = (lambda d, t: progress(before + d, len(items))) if progress else None
    _map(fn, [items[i] for i in todo], workers, scheduler, step, keep)
    return results


def validate_tasks(tasks: list[Task]) -> None:
    """Load every scenario once before anything runs, so a mistake stops the ensemble at once."""
    for name in sorted({t.scenario for t in tasks}):
        load_scenario(name, next(t.overrides for t in tasks if t.scenario == name))


def run_ensemble(tasks: list[Task], workers: int = 1, scheduler: str | None = None,
                 progress: Callable[[int, int], None] | None = None, store: TaskStore | None = None,
                 keys: list[str] | None = None) -> pd.DataFrame:
    """Run every task and return their annual results, in task order (independent of completion order).

    With a ``store`` (and one key per task), finished tasks are kept and stored ones loaded, as in
    :func:`run_grouped`.
    """
    validate_tasks(tasks)
    if store is not None and (keys is None or len(keys) != len(tasks)):
        raise ValueError("run_ensemble: a store needs one key per task")
    return pd.concat(map_stored(run_task, tasks, keys or [], store, workers, scheduler, progress), ignore_index=True)
