"""Resumable sweeps: a folder that keeps each finished task's result, so an interrupted sweep loses nothing.

A sweep (``hamji compare``, ``hamji calibrate``, and any later one) runs many independent tasks. A
:class:`TaskStore` keeps the result of each task as soon as it is finished, one Parquet file per
task, written to a temporary file, flushed to disk and renamed into place (``os.replace``), so a
kill at any moment leaves either the whole file or none of it. Running the same sweep again loads
the stored tasks and runs only the missing ones; tasks are pure functions of their inputs, so the
result is identical to an uninterrupted run.

A store records what its tasks were made with (its *fingerprint*: hamji version, scenario content,
resolved parameters, scale, dates, seeds; see :func:`scenario_digest`) and refuses to mix tasks of
another sweep: opening it with a different fingerprint is a :class:`~hamji.errors.UserError` that
names the folder and what differs. While a sweep runs, its store is locked, so two processes never
share one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from hamji.errors import UserError

try:  # POSIX: an advisory lock, released by the kernel when the process ends (even killed)
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

FINGERPRINT = "fingerprint.json"
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=+-]*")


def canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, dates strings), for comparison."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def digest(value: Any) -> str:
    """A short, stable hash of a JSON-able value (floats by their exact repr)."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def scenario_digest(scenario: Any, exclude: Iterable[str] = ()) -> str:
    """Hash of a loaded :class:`~hamji.scenario.Scenario`: what it says and every resolved parameter.

    Two scenarios with the same digest run identically. The resolved parameters include the
    defaults (and the calibrated values applied over them), so a changed default changes the
    digest; ``exclude`` leaves out parameters the sweep itself sets (for example those calibrated).
    """
    skip = set(exclude)
    pars = {k: v for k, v in scenario.pars.to_dict().items() if k not in skip}
    return digest({"scenario": scenario.to_dict(), "parameters": pars})


def _fmt(value: Any) -> str:
    if isinstance(value, list) and len(value) > 2 and all(isinstance(v, int) for v in value) \
            and value == list(range(value[0], value[0] + len(value))):
        text = f"{value[0]}-{value[-1]}"
    elif isinstance(value, list):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_difference(here: dict[str, Any], stored: dict[str, Any], there: str = "in the store") -> str:
    """What differs between two fingerprints, in a few words: ``seeds 1-4 here, 1-3 in the store``."""
    parts = []
    for key in list(here) + [k for k in stored if k not in here]:
        a, b = here.get(key), stored.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            names = [k for k in list(a) + [k for k in b if k not in a] if a.get(k) != b.get(k)]
            parts.append(f"{key} differs for {', '.join(names)}")
        else:
            parts.append(f"{key} {_fmt(a) if a is not None else '(none)'} here, {_fmt(b) if b is not None else '(none)'} {there}")
    return "; ".join(parts)


class TaskStore:
    """A folder of finished task results of one sweep, identified by its fingerprint.

    ``TaskStore(folder, fingerprint)`` creates the folder if needed, locks it, and checks that the
    tasks already in it were made with the same fingerprint (a :class:`UserError` naming the folder
    and what differs if not; ``replace=True`` discards them instead). Then :meth:`done` lists the
    stored keys, :meth:`get` reads one task's frame and :meth:`put` stores one durably. A key is a
    short name such as ``seed-3`` (letters, digits, ``_.=+-``). :meth:`remove` deletes the folder
    once the sweep's final outputs are written.
    """

    def __init__(self, folder: Path, fingerprint: dict[str, Any], replace: bool = False,
                 hint: str = "use another --out") -> None:
        self.folder = Path(folder)
        self.fingerprint = canonical(fingerprint)
        self._lock: Any = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{self.folder}: cannot create the folder of finished tasks ({e.strerror})") from None
        self._acquire_lock()
        try:
            self._check(replace, hint)
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        handle = open(self.folder / ".lock", "a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise UserError(f"{self.folder}: in use by another hamji process with the same --out;"
                            " wait for it to finish or use another --out") from None
        self._lock = handle

    def _check(self, replace: bool, hint: str) -> None:
        for stale in self.folder.glob("*.tmp"):  # left by a process killed while writing
            stale.unlink(missing_ok=True)
        path = self.folder / FINGERPRINT
        if path.exists():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                stored = {"fingerprint": "unreadable"}
            if stored == self.fingerprint:
                return
            if not replace:
                raise UserError(f"{self.folder}: holds finished tasks of a different sweep"
                                f" ({describe_difference(self.fingerprint, stored)}); {hint}")
        for old in self.folder.glob("*.parquet"):  # a replaced sweep, or tasks with no fingerprint
            old.unlink()
        self._write_bytes(path, json.dumps(self.fingerprint, indent=1, sort_keys=True).encode("utf-8"))

    # -- tasks -----------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"task key {key!r}: letters, digits and _.=+- only")
        return self.folder / f"{key}.parquet"

    def done(self) -> set[str]:
        """Keys of the stored tasks."""
        return {p.name[: -len(".parquet")] for p in self.folder.glob("*.parquet")}

    def get(self, key: str) -> pd.DataFrame:
        """The stored frame of ``key``."""
        return pd.read_parquet(self._path(key))

    def put(self, key: str, frame: pd.DataFrame) -> None:
        """Store ``frame`` as the result of ``key``: whole or not at all, flushed to disk."""
        buf = io.BytesIO()
        frame.to_parquet(buf)
        self._write_bytes(self._path(key), buf.getvalue())

    def discard(self, keys: Iterable[str]) -> None:
        """Forget the given tasks (their results are kept elsewhere now)."""
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def _write_bytes(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # -- closing ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the lock; the stored tasks stay for a later run."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def remove(self) -> None:
        """Delete the folder and everything in it (the sweep's outputs are written)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.close()

    def __enter__(self) -> TaskStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def analysis_tasks(out: Path | None, fingerprint: dict[str, Any], hint: str = "use another --out"):
    """The task store of an analysis writing into ``out`` (None: nothing stored), as a context.

    Inside the block the analysis runs its tasks and writes its outputs; when the block ends normally the
    store is removed (everything is in the outputs), and when it fails the stored tasks stay for the run
    that resumes it.
    """
    store = TaskStore(Path(out) / ".tasks", fingerprint, hint=hint) if out is not None else None
    try:
        yield store
    except BaseException:
        if store is not None:
            store.close()
        raise
    if store is not None:
        store.remove()


def write_whole(path: Path, frame: pd.DataFrame | None = None, text: str | None = None) -> None:
    """Write a Parquet table (``frame``) or a text file under a temporary name, then rename it: a reader never
    sees half a file, and an interrupted write leaves the earlier file."""
    tmp = path.with_name(f".{path.name}.tmp")
    if frame is not None:
        frame.to_parquet(tmp, index=False)
    else:
        tmp.write_text(text or "", encoding="utf-8")
    tmp.replace(path)
