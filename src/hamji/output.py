"""Writing a run's folder: series.parquet, annual.csv, manifest.json, report.html.

Everything is written into a temporary sibling folder that is renamed into place only when all
four files exist, so a failed or interrupted run never leaves a half-written results folder.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from hamji.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def default_out_dir(scenario_name: str, root: Path = Path("runs")) -> Path:
    """``runs/<timestamp>-<scenario>/`` (a new name each second)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in scenario_name)
    return root / f"{stamp}-{safe}"


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an existing non-empty folder unless ``overwrite``; checked before the run starts."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UserError(f"--out {out}: already exists and is not empty; choose another folder or add --overwrite")


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


def write_run(sim: "Sim", out: Path, overwrite: bool = False) -> Path:
    """Write the four result files of ``sim`` into ``out`` atomically; returns ``out``."""
    from hamji.report import render_report

    with atomic_folder(out, overwrite) as tmp:
        sim.results.tidy().to_parquet(tmp / "series.parquet", index=False)
        annual = sim.results.annual()
        annual.to_csv(tmp / "annual.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps(sim.manifest(), indent=2, default=str), encoding="utf-8")
        (tmp / "report.html").write_text(render_report(sim, annual), encoding="utf-8")
    return out
