"""Writing a run's folder: series.parquet, annual.csv, manifest.json, report.html.

Everything is written into a temporary sibling folder that is renamed into place only when all
four files exist, so a failed or interrupted run never leaves a half-written results folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hamji.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def default_out_dir(scenario_name: str, root: Path = Path("runs")) -> Path:
    """``runs/<timestamp>-<scenario>/`` (a new name each second)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in scenario_name)[:80]
    return root / f"{stamp}-{safe}"


def check_out_dir(out: Path, overwrite: bool, option: str = "--out") -> None:
    """Refuse, before anything runs, a results folder that could not be written at the end.

    Refused: an existing non-empty folder (unless ``overwrite``), an existing file, the current
    folder or one that contains it, a path under a file, a name too long for the file system, and a
    place where nothing can be created. Writability is checked by creating and removing a probe
    file in the nearest existing folder on the way (the folder that will hold the results' parent);
    nothing is left behind.
    """
    out = Path(out)
    shown = str(out) if str(out).isprintable() else repr(str(out))
    at = f"{option} {shown}"
    if "\x00" in str(out) or not str(out).strip():
        raise UserError(f"{at}: not a usable folder name")
    try:
        full = Path(os.path.abspath(out))
        exists = out.exists()
        filled = exists and out.is_dir() and any(out.iterdir())
    except (ValueError, OSError) as exc:
        raise UserError(f"{at}: cannot be used ({getattr(exc, 'strerror', None) or exc})") from None
    if exists and not out.is_dir():
        raise UserError(f"{at}: is a file; give a folder for the results")
    if filled and not overwrite:
        raise UserError(f"{at}: already exists and is not empty; choose another folder or add --overwrite")
    if exists and overwrite and out.is_symlink():
        raise UserError(f"{at}: is a symbolic link; --overwrite replaces only a real folder")
    cwd = Path.cwd().resolve()
    if exists and (out.resolve() == cwd or out.resolve() in cwd.parents):
        raise UserError(f"{at}: is the current folder or contains it; choose a new folder for the results")
    # the nearest existing folder: the one in which the results' folders will be created
    base, missing = full.parent, []
    while not base.exists() and base != base.parent:
        missing.append(base.name)
        base = base.parent
    if not base.is_dir():
        raise UserError(f"{at}: cannot be created, {base} is a file")
    try:
        name_max = os.pathconf(base, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    for part in [*missing, full.name]:
        if len(os.fsencode(part)) + 16 > name_max:  # + room for the temporary folder's prefix and suffix
            raise UserError(f"{at}: the name {part[:40]}... is too long; at most {name_max - 16} bytes per folder name")
    try:
        fd, probe = tempfile.mkstemp(prefix=".hamji-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{at}: cannot write in {base} ({exc.strerror or exc}); choose a writable folder") from None


@contextmanager
def atomic_folder(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; it becomes ``out`` only if the block succeeds."""
    check_out_dir(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run(sim: Sim, out: Path, overwrite: bool = False) -> Path:
    """Write the four result files of ``sim`` into ``out`` atomically; returns ``out``."""
    from hamji.report import render_report

    with atomic_folder(out, overwrite) as tmp:
        sim.results.tidy().to_parquet(tmp / "series.parquet", index=False)
        annual = sim.results.annual()
        annual.to_csv(tmp / "annual.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps(sim.manifest(), indent=2, default=str), encoding="utf-8")
        (tmp / "report.html").write_text(render_report(sim, annual), encoding="utf-8")
    return out
