"""The built wheel holds every file the package opens at run time.

A normal (non-editable) install gets only what the wheel carries; an editable install reads the
source tree and would hide a missing file (as ``world.yaml`` once was). These tests record, with an
audit hook, every file under the package that a run, its report and the other commands open, build
the wheel as ``pip install .`` does, and check that it holds each one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "hamji"

#: run in a fresh interpreter, so that every file is opened afresh (nothing cached by this test process)
RECORDER = r"""
import json, os, pathlib, sys, tempfile, datetime as dt
package = os.path.realpath(sys.argv[1])
opened = set()
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(package + os.sep) and os.path.isfile(path):
            opened.add(os.path.relpath(path, package))
sys.addaudithook(hook)
import hamji, hamji.data
from hamji.output import write_run
from hamji.parameters import REGISTRY
from hamji.scenario import builtin_names, builtin_path, load_scenario
from hamji.sim import Sim
for name in builtin_names():
    load_scenario(name)
    builtin_path(name).read_text(encoding="utf-8")
for name in dir(hamji.data):  # every loader of the shipped data
    fn = getattr(hamji.data, name)
    if callable(fn) and getattr(fn, "__module__", "") == "hamji.data" and not name.startswith("_"):
        try:
            fn()
        except TypeError:  # loaders that need an argument are reached by the runs below
            pass
import hamji.web.figures  # the web app's map reads its province shapes
hamji.web.figures.provinces()
sim = Sim("history", seed=1, scale=20000, start=dt.date(2016, 1, 4), end=dt.date(2017, 12, 25)).run()
write_run(sim, pathlib.Path(tempfile.mkdtemp()) / "run")
print(json.dumps(sorted(opened)))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel that ``pip install .`` would build and install (built here without network access)."""
    dist, tree = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("tree")
    # a clean copy of what the build reads: a build/ folder left in the checkout would lend the wheel stale files
    shutil.copy(ROOT / "pyproject.toml", tree)
    shutil.copy(ROOT / "README.md", tree)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(tree)], check=True, capture_output=True)
    (built,) = dist.glob("hamji-*.whl")
    return zipfile.ZipFile(built)


def test_files_opened_at_run_time_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    done = subprocess.run([sys.executable, "-c", RECORDER, str(PACKAGE)], check=True, capture_output=True, text=True)
    opened = [p for p in json.loads(done.stdout.strip().splitlines()[-1]) if not p.endswith((".py", ".pyc"))
              and "__pycache__" not in p]
    assert {"world.yaml", "calibrated.yaml", "data/china_dprk_trade.csv",
            "web/provinces.geojson"} <= set(opened)  # the recorder sees the reads
    names = set(wheel.namelist())
    missing = [p for p in opened if f"hamji/{p}" not in names]
    assert not missing, f"opened at run time but not in the wheel: {missing}"


def test_every_data_file_of_the_package_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    """Also the files a short run does not open (a scenario's events, a later mechanism's data)."""
    files = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".py", ".pyc")]
    assert len(files) > 20
    names = set(wheel.namelist())
    assert not [f for f in files if f"hamji/{f}" not in names]
