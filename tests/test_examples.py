"""The notebooks in examples/ run from top to bottom, so they never go stale."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.ipynb"))
#: a notebook cell may take this long (the worked examples run at 1:20000 in about a minute)
CELL_TIMEOUT_S = 600


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_notebook_runs(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert all(c.get("outputs") is not None for c in nb.cells if c.cell_type == "code")


def test_there_is_an_example() -> None:
    assert EXAMPLES, "examples/ holds the worked examples of the docs"
