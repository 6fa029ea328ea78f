"""The run registry: every run folder under a runs folder, listed from its ``manifest.json``.

A run folder (written by ``hamji run``, the web app or :func:`hamji.output.write_run`) is the record
of a run; the registry is only an index of them, kept with DuckDB in ``runs.duckdb`` beside the runs,
so an analyst can search hundreds of runs by scenario, parameter and date without opening each
folder. The manifests stay the truth: the index is brought up to date from them at every search
(only manifests that changed since are read again, folders that disappeared are dropped), and a
damaged or missing ``runs.duckdb`` is simply rebuilt.

Runs that differ only in their seed form one **experiment** (same scenario as written, resolved
parameters, scale, dates and hamji version): the web app draws seed bands over an experiment's
runs and compares experiments seed by seed.

DuckDB lets one process at a time open a database file for writing. The web server and a
``hamji runs`` in another terminal may meet: each opens the file only for the moment of one call, and
if the other holds it, waits briefly and then works on an index in memory built from the same
manifests (the same answer, a little slower). Nothing under ``hamji.web`` or ``hamji.analysis`` is
imported here, and the engine never imports this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from hamji.errors import UserError

#: the index file, beside the run folders
INDEX_NAME = "runs.duckdb"
#: how long to wait for another process that holds the index before using one in memory (seconds);
#: the holder keeps it only for one search, well under this
LOCK_WAIT_S = 2.0
LOCK_POLL_S = 0.1
#: the columns of a listing, in order
COLUMNS = ("id", "scenario", "seed", "scale", "start", "end", "weeks", "created", "hamji_version", "wall_time_s",
           "experiment", "path")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id VARCHAR PRIMARY KEY, scenario VARCHAR, seed BIGINT, scale BIGINT, start DATE,
    "end" DATE, weeks BIGINT, created TIMESTAMP, hamji_version VARCHAR, wall_time_s DOUBLE, experiment VARCHAR,
    path VARCHAR, mtime DOUBLE);
CREATE TABLE IF NOT EXISTS params (run_id VARCHAR, name VARCHAR, num DOUBLE, text VARCHAR);
"""


def experiment_key(manifest: dict[str, Any]) -> str:
    """What makes runs the same experiment but for the seed: a short digest of scenario, parameters, scale, dates, version."""
    same = {k: manifest.get(k) for k in ("scenario", "parameters", "scale", "start", "end", "hamji_version")}
    return hashlib.sha1(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()[:12]


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """A run folder's manifest, or None if the folder holds no readable one (not a run, or a damaged one)."""
    try:
        man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return man if isinstance(man, dict) and isinstance(man.get("scenario"), dict) else None


def _row(folder: Path, man: dict[str, Any], mtime: float) -> dict[str, Any]:
    return {"id": folder.name, "scenario": str(man["scenario"].get("name", "")), "seed": int(man.get("seed", 0)),
            "scale": int(man.get("scale", 0)), "start": man.get("start"), "end": man.get("end"),
            "weeks": int(man.get("weeks", 0)), "created": dt.datetime.fromtimestamp(mtime),
            "hamji_version": str(man.get("hamji_version", "")), "wall_time_s": float(man.get("wall_time_s") or 0.0),
            "experiment": experiment_key(man), "path": str(folder), "mtime": mtime}


def _param_rows(run_id: str, man: dict[str, Any]) -> list[tuple[str, str, float | None, str]]:
    rows = []
    for name, value in (man.get("parameters") or {}).items():
        num = float(value) if isinstance(value, (int, float)) else None  # bools too: true = 1
        rows.append((run_id, name, num, str(value).lower() if isinstance(value, bool) else str(value)))
    return rows


def parse_param_filter(text: str) -> tuple[str, str]:
    """``name=value`` of ``--param``: the name must be a registry parameter."""
    from hamji.parameters import REGISTRY

    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise UserError(f"--param {text!r}: expected name=value, for example --param microlending_budget_usd=20000000")
    if name not in REGISTRY:
        raise UserError(f"--param {name}: unknown parameter; `hamji params` lists them")
    return name, value


class RunRegistry:
    """The runs under ``root`` and their DuckDB index ``root/runs.duckdb``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.index_path = self.root / INDEX_NAME
        self._lock = threading.Lock()  # one DuckDB connection at a time within this process

    # -- the index -------------------------------------------------------------------------------
    def _connect(self):
        """The index file, or an empty index in memory if the runs folder is absent, read-only or held by another process."""
        import duckdb

        if not self.root.is_dir():
            return duckdb.connect(":memory:")
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                return duckdb.connect(str(self.index_path))
            except duckdb.IOException as exc:  # held by another process, or not writable here
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    return duckdb.connect(":memory:")
                time.sleep(LOCK_POLL_S)
            except duckdb.Error:  # a damaged index: it is only a cache of the manifests, so rebuild it
                self.index_path.unlink(missing_ok=True)
                return duckdb.connect(str(self.index_path))

    def _sync(self, con) -> None:
        """Bring the index up to date with the folders: read new or changed manifests, drop vanished runs."""
        con.execute(_SCHEMA)
        known = dict(con.execute("SELECT id, mtime FROM runs").fetchall())
        seen: set[str] = set()
        rows, params = [], []
        folders = sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        for folder in folders:
            try:
                mtime = (folder / "manifest.json").stat().st_mtime
            except OSError:
                continue
            if known.get(folder.name) == mtime:
                seen.add(folder.name)
                continue
            man = read_manifest(folder)
            if man is None:
                continue
            seen.add(folder.name)
            rows.append(_row(folder, man, mtime))
            params += _param_rows(folder.name, man)
        gone = [k for k in known if k not in seen] + [r["id"] for r in rows if r["id"] in known]
        if gone:
            con.execute("DELETE FROM runs WHERE id IN (SELECT unnest(?))", [gone])
            con.execute("DELETE FROM params WHERE run_id IN (SELECT unnest(?))", [gone])
        if rows:
            frame = pd.DataFrame(rows)  # noqa: F841 - read by DuckDB by name
            con.execute("INSERT INTO runs SELECT id, scenario, seed, scale, CAST(start AS DATE), CAST(\"end\" AS DATE), weeks,"
                        " created, hamji_version, wall_time_s, experiment, path, mtime FROM frame")
            con.executemany("INSERT INTO params VALUES (?, ?, ?, ?)", params)

    # -- queries ---------------------------------------------------------------------------------
    def search(self, scenario: str | None = None, params: dict[str, str] | None = None, since: dt.date | None = None,
               until: dt.date | None = None, experiment: str | None = None) -> pd.DataFrame:
        """Runs matching every filter given, newest first.

        ``scenario``: part of the scenario's name (any case). ``params``: resolved parameter values
        (as the manifest records them, at the run's end) equal to the given ones (numbers compared as
        numbers). ``since``/``until``: the day the run was written, inclusive.
        """
        where, args = [], []
        if scenario:
            where.append("lower(r.scenario) LIKE ?")
            args.append(f"%{scenario.lower()}%")
        for name, value in (params or {}).items():
            try:
                num = float(value)
                where.append("r.id IN (SELECT run_id FROM params WHERE name = ? AND abs(num - ?) <= 1e-9 * greatest(1, abs(?)))")
                args += [name, num, num]
            except ValueError:
                where.append("r.id IN (SELECT run_id FROM params WHERE name = ? AND text = ?)")
                args += [name, value.lower()]
        if since is not None:
            where.append("CAST(r.created AS DATE) >= ?")
            args.append(since)
        if until is not None:
            where.append("CAST(r.created AS DATE) <= ?")
            args.append(until)
        if experiment:
            where.append("r.experiment = ?")
            args.append(experiment)
        columns = ", ".join(f'r."{c}"' for c in COLUMNS)
        sql = (f"SELECT {columns} FROM runs r"
               f"{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY r.created DESC, r.id")
        with self._lock:
            con = self._connect()
            try:
                self._sync(con)
                out = con.execute(sql, args).df()
            finally:
                con.close()
        return out

    def experiments(self) -> pd.DataFrame:
        """One row per experiment: scenario, scale, dates, its seeds and runs, newest first."""
        runs = self.search()
        if runs.empty:
            return pd.DataFrame(columns=["experiment", "scenario", "scale", "start", "end", "seeds", "runs", "created"])
        g = runs.groupby("experiment", sort=False)
        out = g.agg(scenario=("scenario", "first"), scale=("scale", "first"), start=("start", "first"), end=("end", "first"),
                    seeds=("seed", lambda s: sorted(set(int(x) for x in s))), runs=("id", list), created=("created", "max"))
        return out.reset_index().sort_values("created", ascending=False, kind="stable").reset_index(drop=True)

    def folder(self, run_id: str) -> Path:
        """The folder of a listed run (a :class:`UserError` if there is none by that name)."""
        path = self.root / run_id
        if "/" in run_id or run_id in ("", ".", "..") or read_manifest(path) is None:
            raise UserError(f"run {run_id!r}: no run folder of that name with a manifest.json in {self.root}")
        return path

    def delete(self, run_id: str) -> None:
        """Delete a run's folder and its entry in the index."""
        path = self.folder(run_id)
        shutil.rmtree(path)
        with self._lock:
            con = self._connect()
            try:
                self._sync(con)
            finally:
                con.close()


def new_run_dir(root: Path, scenario_name: str, seed: int) -> Path:
    """A new folder name for one seed of a run: ``<timestamp>-<scenario>-seed<k>`` (a suffix if taken)."""
    from hamji.output import default_out_dir

    base = default_out_dir(scenario_name, root)
    path = base.with_name(f"{base.name}-seed{seed}")
    k = 2
    while path.exists():
        path = base.with_name(f"{base.name}-seed{seed}-{k}")
        k += 1
    return path
