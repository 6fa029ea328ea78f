"""Runs for the web app: a queue of jobs executed by Dask workers, never on the server's event loop.

A job is one scenario run with one or more seeds; each seed is one Dask task (a run in a worker
process), so a job with three seeds uses up to three workers, and the workers serve every
session's jobs in the order they were submitted (the queue). The task reports its weeks as Dask
events (``Worker.log_event``), which this server receives through ``Client.subscribe_topic``; a
cancel sets a Dask ``Event`` that the task checks at each report, so a running run stops within a
few simulated weeks and a queued one never starts. A finished task returns the bytes of its four
result files, and the server writes them into a new run folder (so workers need no shared disk
with the server when ``--scheduler`` names a remote cluster).

The :class:`JobManager` lives in the server process and is shared by every session; all its state
changes happen under one lock, and a monitor thread (not the event loop) collects finished tasks.
Each session sees only its own jobs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamji import run_window
from hamji.analysis import policy
from hamji.analysis.experiments import resolve_params
from hamji.analysis.sensitivity import n_runs, sensitivity, sensitivity_spec
from hamji.analysis.validation import scorecard, scorecard_stages
from hamji.errors import UserError
from hamji.output import default_out_dir, write_run
from hamji.run_registry import new_run_dir
from hamji.scenario import Scenario, ScenarioSpec
from hamji.sim import Sim

#: Dask event topic on which tasks report progress
PROGRESS_TOPIC = "hamji-web-progress"
#: a task reports (and checks for a cancel) every this many simulated weeks: often enough for a smooth bar and a
#: cancel within a second or two, rarely enough that reporting costs nothing next to a week's work
REPORT_EVERY_WEEKS = 4
#: jobs one session may have queued or running at once: one analyst cannot fill the cluster's queue alone
MAX_JOBS_PER_SESSION = 4
#: jobs queued or running in all: beyond this the server refuses new ones with a message instead of making
#: everybody wait without end
MAX_ACTIVE_JOBS = 24
#: seeds one job may ask for (each is a full run)
MAX_SEEDS = 10
#: the largest run we accept, in estimated single-core seconds for all its seeds: "a few minutes" on this
#: kind of machine (the Covasim app caps runs the same way)
MAX_RUN_SECONDS = 240.0
#: cost model of a run from docs/performance.md: a fixed cost per simulated week (Python calls, region arrays,
#: recording; ~8 ms measured at 1:20000, ~17 ms at 1:100) plus the household-weeks at the measured rate
#: (3.9 M household-steps per second at 1:100, the slowest scale per household)
SECONDS_PER_WEEK = 0.017
HOUSEHOLD_STEPS_PER_S = 3.9e6
#: national households (census, see hamji.synthesis): households simulated = this / scale
NATIONAL_HOUSEHOLDS = 5_887_471
#: how often the monitor thread looks for finished tasks (seconds)
POLL_S = 0.25
#: the validation scorecard (`hamji validate`) costs about this many full-length runs per seed: three runs to 2015
#: (patterns 1-5), five scenarios to 2030 sharing their first years (pattern 6), three closure scenarios and the
#: history run to 2024 (counted generously)
SCORECARD_RUNS_PER_SEED = 12
#: the scorecard is asked for rarely and answers a question no single run can, so it may take longer than a run
MAX_SCORECARD_SECONDS = 900.0
#: seeds the scorecard may use from the web app (the shipped docs/validation.md uses 3)
MAX_SCORECARD_SEEDS = 3
#: a sensitivity analysis or a policy search from the web app, in estimated single-core seconds for all its runs: like
#: the scorecard, a rarer question than a run, so it may take longer; larger designs belong to the command line
MAX_ANALYSIS_SECONDS = 600.0
#: the analyses the web app runs, with the files each leaves in its folder (what the worker sends back)
ANALYSIS_FILES = {"sensitivity": ("sensitivity.parquet", "experiments.parquet", "sensitivity.html"),
                  "optimize": ("frontier.parquet", "frontier.html", "study.db")}
#: the web app's record of how it ran an analysis (the keyword arguments of hamji.sensitivity or hamji.optimize)
REQUEST_FILE = "request.json"


class Cancelled(Exception):
    """Raised inside a task when its job was cancelled."""


def estimated_seconds(scale: int, start: dt.date, end: dt.date, seeds: int) -> float:
    """Single-core seconds a run of ``seeds`` seeds is expected to take (the cap's measure)."""
    weeks = max(1, (end - start).days // 7 + 1)
    households = NATIONAL_HOUSEHOLDS / scale
    return seeds * weeks * (SECONDS_PER_WEEK + households / HOUSEHOLD_STEPS_PER_S)


def check_size(scale: int, start: dt.date, end: dt.date, seeds: int) -> None:
    """Refuse, with a message saying what fits, a run the machine cannot do in a few minutes."""
    if not 1 <= seeds <= MAX_SEEDS:
        raise UserError(f"seeds {seeds}: allowed 1 to {MAX_SEEDS} per run")
    need = estimated_seconds(scale, start, end, seeds)
    if need > MAX_RUN_SECONDS:
        raise UserError(f"this run is too large for the web app: about {need / 60:.0f} min of computing"
                        f" ({seeds} seeds at 1:{scale}, {start.year}-{end.year}); the limit is {MAX_RUN_SECONDS / 60:.0f} min."
                        " Use a coarser scale (a larger N), fewer seeds or fewer years, or the command line"
                        " (`hamji run`, `hamji compare`), which has no limit.")


def run_task(spec: dict[str, Any], seed: int, scale: int, start: dt.date, end: dt.date, key: str) -> dict[str, bytes]:
    """One seed of a job, in a Dask worker: run it and return its result files as bytes.

    Reports ``(key, seed, weeks done, weeks)`` on :data:`PROGRESS_TOPIC` every few weeks and stops with
    :class:`Cancelled` once the job's cancel event is set.
    """
    from distributed import Event, get_worker

    worker = get_worker()
    cancel = Event(f"{key}-cancel")
    sim = Sim(Scenario(ScenarioSpec.model_validate(spec), f"scenario {spec.get('name', '')}"), seed=seed, scale=scale,
              start=start, end=end)
    worker.log_event(PROGRESS_TOPIC, {"key": key, "seed": seed, "done": 0, "total": sim.n_weeks})

    def progress(done: int, total: int) -> None:
        if done % REPORT_EVERY_WEEKS == 0 or done == total:
            worker.log_event(PROGRESS_TOPIC, {"key": key, "seed": seed, "done": done, "total": total})
            if cancel.is_set():
                raise Cancelled(key)

    if cancel.is_set():
        raise Cancelled(key)
    sim.run(progress=progress)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_run(sim, Path(tmp) / "run")
        return {p.name: p.read_bytes() for p in folder.iterdir()}


def run_scorecard_task(seeds: int, scale: int, key: str) -> bytes:
    """The validation scorecard in a Dask worker (:func:`hamji.analysis.validation.scorecard`, exactly the checks of
    ``hamji validate``), its runs one after another in this process; returns the JSON ``hamji validate --json``
    prints. Reports ``(runs done, runs)`` on :data:`PROGRESS_TOPIC` after each run and stops with
    :class:`Cancelled` at the first report after the job's cancel."""
    from distributed import Event, get_worker

    worker = get_worker()
    cancel = Event(f"{key}-cancel")
    stages = scorecard_stages()
    before = dict(zip((name for name, _ in stages), itertools.accumulate((n * seeds for _, n in stages), initial=0)))
    total = sum(n * seeds for _, n in stages)

    def progress(stage: str, done: int, runs: int) -> None:
        worker.log_event(PROGRESS_TOPIC, {"key": key, "seed": 0, "done": int(before[stage] + done), "total": int(total)})
        if cancel.is_set():
            raise Cancelled(key)

    if cancel.is_set():
        raise Cancelled(key)
    return (scorecard(seeds=seeds, scale=scale, workers=1, progress=progress).to_json() + "\n").encode()


def analysis_runs(kind: str, request: dict[str, Any]) -> tuple[int, float]:
    """Runs an analysis asks for and their estimated single-core seconds, after checking its settings as
    :func:`hamji.sensitivity` or :func:`hamji.optimize` would (a :class:`UserError` otherwise)."""
    if kind == "sensitivity":
        spec = sensitivity_spec(**request)
        names, _ = resolve_params(spec.params, [spec.scenario] + ([spec.effect] if spec.effect else []))
        runs, scale, start, end = n_runs(spec, names), spec.scale, spec.start, spec.end
    elif kind == "optimize":
        spec = optimize_spec(request)
        # each generation runs its designs and baseline once per seed; then the references and their baseline
        runs = (spec.trials + math.ceil(spec.trials / spec.population) + len(spec.references) + 1) * spec.run.seeds
        scale, start, end = spec.run.scale, spec.run.start, spec.run.end
    else:
        raise ValueError(f"unknown analysis {kind!r}")
    return runs, estimated_seconds(scale, start, end, runs)


def optimize_spec(request: dict[str, Any]) -> Any:
    """The :class:`~hamji.analysis.policy.OptimizeSpec` of a request (the keyword arguments of :func:`hamji.optimize`)."""
    r = {"budget": policy.DEFAULT_BUDGET, "objectives": None, "levers": None, "trials": policy.DEFAULT_TRIALS,
         "population": policy.DEFAULT_POPULATION, "seeds": policy.DEFAULT_SEEDS, "scale": policy.DEFAULT_SCALE, "start": None,
         "end": None, "years": None, "sampler_seed": 1} | request
    run = policy.run_settings(r["seeds"], r["scale"], r["start"], r["end"], r["years"], 1, None)
    return policy.optimize_spec(r["budget"], r["objectives"], r["levers"], r["trials"], r["population"], r["sampler_seed"], run)


def analysis_task(kind: str, request: dict[str, Any], key: str) -> dict[str, bytes]:
    """A sensitivity analysis or a policy search in a Dask worker, its runs one after another in this process;
    returns the bytes of the files it wrote. Reports ``(runs done, runs)`` on :data:`PROGRESS_TOPIC` after each
    run and stops with :class:`Cancelled` at the first report after the job's cancel."""
    from distributed import Event, get_worker

    worker = get_worker()
    cancel = Event(f"{key}-cancel")

    def progress(done: int, total: int) -> None:
        worker.log_event(PROGRESS_TOPIC, {"key": key, "seed": 0, "done": int(done), "total": int(total)})
        if cancel.is_set():
            raise Cancelled(key)

    if cancel.is_set():
        raise Cancelled(key)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        if kind == "sensitivity":
            sensitivity(sensitivity_spec(**request), out, workers=1, progress=progress)
        else:
            policy.optimize(optimize_spec(request), out, progress=progress)
        return {name: (out / name).read_bytes() for name in ANALYSIS_FILES[kind] if (out / name).exists()}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    """Write a results folder whole: its files into a hidden folder beside it, then renamed, so no reader (the
    registry, a session's picker) ever sees half of it."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    tmp.mkdir(parents=True)
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    tmp.rename(folder)
    return folder


@dataclass
class Job:
    """One run of a scenario with its seeds, as the web app shows it."""

    id: str
    session: str
    spec: dict[str, Any]
    seeds: list[int]
    scale: int
    start: dt.date
    end: dt.date
    submitted: float = field(default_factory=time.time)
    order: int = 0
    kind: str = "run"  # a scenario run, the validation "scorecard", or an analysis: "sensitivity", "optimize"
    state: str = "queued"  # queued, running, done, cancelled, failed
    weeks_done: dict[int, int] = field(default_factory=dict)
    weeks_total: int = 1
    folders: list[str] = field(default_factory=list)
    message: str = ""
    request: dict[str, Any] = field(default_factory=dict)  # an analysis's arguments (hamji.sensitivity, hamji.optimize)
    futures: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def fraction(self) -> float:
        """Share of the job's weeks done, over all its seeds (0-1)."""
        return sum(self.weeks_done.values()) / (self.weeks_total * len(self.seeds))

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobManager:
    """The queue of jobs of every session, run on a Dask cluster; thread-safe."""

    def __init__(self, runs: Path, workers: int = 1, scheduler: str | None = None,
                 on_run_written: Callable[[], None] | None = None) -> None:
        self.runs = Path(runs)
        self.workers, self.scheduler = workers, scheduler
        self.on_run_written = on_run_written
        self.jobs: dict[str, Job] = {}
        self.version = 0  # increases at every change: sessions redraw when it moves
        self._lock = threading.RLock()
        self._order = itertools.count(1)
        self._cluster = self.client = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start (or connect to) the Dask cluster and the monitor thread."""
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None)
            self.client = Client(self._cluster)
        else:
            self.client = Client(self.scheduler)
        self.client.subscribe_topic(PROGRESS_TOPIC, self._on_progress)
        self._thread = threading.Thread(target=self._monitor, name="hamji-web-jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Cancel every active job and stop the cluster."""
        self._stop.set()
        for job in list(self.jobs.values()):
            if job.active:
                self.cancel(job.id, job.session)
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    # -- sessions' requests ----------------------------------------------------------------------
    def _admit(self, session: str) -> None:
        """Refuse a new job when this session or the whole server has too many queued or running."""
        mine = sum(1 for j in self.jobs.values() if j.session == session and j.active)
        if mine >= MAX_JOBS_PER_SESSION:
            raise UserError(f"you have {mine} runs queued or running; the limit is {MAX_JOBS_PER_SESSION} at once."
                            " Wait for one to finish or cancel one.")
        if sum(1 for j in self.jobs.values() if j.active) >= MAX_ACTIVE_JOBS:
            raise UserError(f"the server is busy ({MAX_ACTIVE_JOBS} runs queued or running); try again in a few minutes")

    def _queue(self, job: Job, tasks: dict[int, tuple]) -> Job:
        """Send a job's tasks (one per seed) to Dask and list the job."""
        for s, (fn, *args) in tasks.items():
            job.weeks_done[s] = 0
            job.futures[s] = self.client.submit(fn, *args, key=f"hamji-{job.id}-{s}", pure=False)
        self.jobs[job.id] = job
        self.version += 1
        return job

    def submit(self, session: str, spec: dict[str, Any], seeds: list[int], scale: int, start: dt.date, end: dt.date) -> Job:
        """Queue a run (a :class:`~hamji.errors.UserError` if it is too large or the queue is full)."""
        check_size(scale, start, end, len(seeds))
        with self._lock:
            self._admit(session)
            job = Job(id=uuid.uuid4().hex[:10], session=session, spec=spec, seeds=list(seeds), scale=scale, start=start,
                      end=end, order=next(self._order))
            return self._queue(job, {s: (run_task, spec, s, scale, start, end, f"hamji-{job.id}") for s in job.seeds})

    def submit_scorecard(self, session: str, seeds: int, scale: int) -> Job:
        """Queue the validation scorecard (``hamji validate``) at ``seeds`` seeds and 1:``scale``."""
        if not 1 <= seeds <= MAX_SCORECARD_SEEDS:
            raise UserError(f"seeds {seeds}: allowed 1 to {MAX_SCORECARD_SEEDS} for the scorecard here")
        start, end = run_window.DEFAULT_START, run_window.DEFAULT_END
        need = estimated_seconds(scale, start, end, seeds * SCORECARD_RUNS_PER_SEED)
        if need > MAX_SCORECARD_SECONDS:
            raise UserError(f"the scorecard at 1:{scale} with {seeds} seed(s) would take about {need / 60:.0f} min; the limit"
                            f" here is {MAX_SCORECARD_SECONDS / 60:.0f} min. Use a coarser scale, or `hamji validate`.")
        with self._lock:
            self._admit(session)
            job = Job(id=uuid.uuid4().hex[:10], session=session, spec={"name": "validation scorecard"}, seeds=[0],
                      scale=scale, start=start, end=end, order=next(self._order), kind="scorecard")
            return self._queue(job, {0: (run_scorecard_task, seeds, scale, f"hamji-{job.id}")})

    def submit_analysis(self, session: str, kind: str, request: dict[str, Any], label: str) -> Job:
        """Queue a sensitivity analysis or a policy search (``request``: the keyword arguments of
        :func:`hamji.sensitivity` or :func:`hamji.optimize`), refused with a message if it is too large."""
        runs, need = analysis_runs(kind, request)
        if need > MAX_ANALYSIS_SECONDS:
            raise UserError(f"this {kind} design is too large for the web app: {runs} runs, about {need / 60:.0f} min of"
                            f" computing; the limit is {MAX_ANALYSIS_SECONDS / 60:.0f} min. Use fewer parameters or samples"
                            f" (trials), fewer seeds, fewer years or a coarser scale, or the command line (`hamji {kind}`),"
                            " which has no limit and resumes.")
        with self._lock:
            self._admit(session)
            job = Job(id=uuid.uuid4().hex[:10], session=session, spec={"name": label}, seeds=[0], scale=int(request["scale"]),
                      start=dt.date.fromisoformat(request["start"]), end=dt.date.fromisoformat(request["end"]),
                      order=next(self._order), kind=kind, request=dict(request), weeks_total=runs)
            return self._queue(job, {0: (analysis_task, kind, dict(request), f"hamji-{job.id}")})

    def cancel(self, job_id: str, session: str) -> None:
        """Cancel a job of this session: queued seeds never start, running ones stop within a few weeks."""
        from distributed import Event

        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.session != session or not job.active:
                return
            job.state, job.message = "cancelled", "cancelled"
            futures = list(job.futures.values())
            self.version += 1
        Event(f"hamji-{job_id}-cancel", client=self.client).set()  # a running task stops at its next report
        for f in futures:
            f.cancel()  # a queued task never starts

    def session_jobs(self, session: str) -> list[Job]:
        """This session's jobs, newest first."""
        with self._lock:
            return sorted((j for j in self.jobs.values() if j.session == session), key=lambda j: -j.order)

    def queue_position(self, job: Job) -> int:
        """How many jobs submitted earlier are still waiting to start (0: this one runs or is next)."""
        with self._lock:
            return sum(1 for j in self.jobs.values() if j.state == "queued" and j.order < job.order)

    # -- the monitor -----------------------------------------------------------------------------
    def _on_progress(self, event: Any) -> None:
        """A task's report (in the Dask client's thread): record the weeks done by that seed."""
        msg = event[1] if isinstance(event, tuple) else event
        with self._lock:
            job = self.jobs.get(str(msg.get("key", "")).removeprefix("hamji-"))
            seed = msg.get("seed")
            if job is None or not job.active or seed not in job.weeks_done:
                return
            job.weeks_total = max(1, int(msg.get("total", 1)))
            job.weeks_done[seed] = max(job.weeks_done[seed], int(msg.get("done", 0)))
            if job.state == "queued":
                job.state = "running"
            self.version += 1

    def _monitor(self) -> None:
        """Collect every task that ended, then release it, so the cluster keeps no result it has handed over."""
        while not self._stop.wait(POLL_S):
            with self._lock:
                ended = [(j, s, f) for j in self.jobs.values() for s, f in list(j.futures.items())
                         if f.status in ("finished", "error", "cancelled")]
                for job, seed, _ in ended:
                    del job.futures[seed]
            for job, seed, fut in ended:
                if job.active:
                    self._collect(job, seed, fut)
                fut.release()

    def _collect(self, job: Job, seed: int, fut: Any) -> None:
        """A seed finished: write its folder, or record why it failed."""
        if fut.status == "finished" and job.kind == "scorecard":
            path = self.runs / f"validation-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
            try:
                path.write_bytes(fut.result())
                state, message = "done", f"scorecard saved as {path.name}"
            except Exception as exc:
                state, message = "failed", f"the scorecard could not be saved: {exc}"
            with self._lock:
                job.state, job.message = state, message
                job.weeks_done[seed] = job.weeks_total
                self.version += 1
            if self.on_run_written is not None:
                self.on_run_written()
        elif fut.status == "finished" and job.kind in ANALYSIS_FILES:
            self._write_analysis(job, fut)
        elif fut.status == "finished":
            try:
                files = fut.result()
                folder = write_folder(new_run_dir(self.runs, job.name, seed), files)
            except Exception as exc:
                with self._lock:
                    job.state, job.message = "failed", f"writing the results failed: {exc}"
                    self.version += 1
                return
            with self._lock:
                job.folders.append(folder.name)
                job.weeks_done[seed] = job.weeks_total
                if len(job.folders) == len(job.seeds) and job.state != "cancelled":
                    job.state, job.message = "done", f"done: {len(job.folders)} run folder(s) in {self.runs}"
                self.version += 1
            if self.on_run_written is not None:
                self.on_run_written()
        else:
            exc = None
            if fut.status == "error":
                try:
                    exc = fut.exception()
                except Exception as e:
                    exc = e
            with self._lock:
                if job.state != "cancelled":
                    job.state = "failed"
                    if isinstance(exc, UserError):  # a setting the model refuses: its own message, as the CLI prints it
                        job.message = f"error: {exc}"
                    else:
                        what = f"seed {seed}" if job.kind == "run" else job.kind
                        job.message = f"{what} failed: {type(exc).__name__}: {exc}" if exc is not None else "failed"
                self.version += 1

    def _write_analysis(self, job: Job, fut: Any) -> None:
        """An analysis finished: write its files and its request into a new folder of the runs folder, named as
        the command line names its own (``<timestamp>-sensitivity-morris``, ``<timestamp>-optimize``)."""
        try:
            files = fut.result()
            label = f"sensitivity-{job.request.get('method', 'morris')}" if job.kind == "sensitivity" else job.kind
            folder = default_out_dir(label, self.runs)
            while folder.exists():  # two analyses finished in the same second
                folder = folder.with_name(folder.name + "-b")
            request = json.dumps({"kind": job.kind, "request": job.request}, indent=2).encode("utf-8")
            write_folder(folder, files | {REQUEST_FILE: request})
        except Exception as exc:
            with self._lock:
                job.state, job.message = "failed", f"writing the results failed: {exc}"
                self.version += 1
            return
        with self._lock:
            job.folders.append(folder.name)
            job.weeks_done[0] = job.weeks_total
            job.state, job.message = "done", f"done: {folder.name} in {self.runs}"
            self.version += 1
        if self.on_run_written is not None:
            self.on_run_written()
