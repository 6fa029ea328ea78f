"""The number of threads never changes a result (issue 18).

The household passes run over fixed blocks of households in parallel and add the blocks of each
province in block order (:mod:`hamji.kernels`), so one seed gives bit-identical results with 1 and
2 threads. Small runs use one thread (below ``PARALLEL_MIN_HOUSEHOLDS``); these tests force the
threads on (``HAMJI_PARALLEL_MIN=0``) and, in process, cut provinces into several small blocks, as
a national run does with 65,536 households a block.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import numba
import numpy as np
import pandas as pd
import pytest

import hamji.kernels as kernels
from hamji.sim import Sim

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two cores")


def run(threads: int, monkeypatch, scenario: str | None = None) -> Sim:
    monkeypatch.setenv("HAMJI_PARALLEL_MIN", "0")
    monkeypatch.setenv("HAMJI_THREADS", str(threads))
    sim = Sim(scenario, seed=5, scale=2000, start=dt.date(2012, 1, 2), end=dt.date(2013, 6, 30))
    sim.run()
    assert sim.threads == threads
    return sim


@pytest.mark.parametrize("scenario", [None, "recommendations"])
def test_one_and_two_threads_give_the_same_run_bit_for_bit(monkeypatch, scenario):
    monkeypatch.setattr(kernels, "BLOCK", 64)  # several blocks a province at 1:2000
    one, two = run(1, monkeypatch, scenario), run(2, monkeypatch, scenario)
    assert len(one.blocks) > 3 * len(set(one.blocks[:, 2]))  # provinces are really cut in blocks
    assert np.array_equal(one.results.values, two.results.values, equal_nan=True)
    hh1, hh2 = one.people.households, two.people.households
    for state in ("cash", "fx", "hsi", "knowhow", "ties_strength", "role", "detained", "food_ratio"):
        assert np.array_equal(getattr(hh1, state), getattr(hh2, state), equal_nan=True), state


def test_blocks_change_sums_only_by_rounding(monkeypatch):
    """Cutting provinces into blocks changes the order of float sums, not the model: the same run with one
    block a province and with blocks of 64 agrees closely (and the books balance in both)."""
    monkeypatch.setenv("HAMJI_PARALLEL_MIN", "0")
    whole = Sim(seed=5, scale=2000, start=dt.date(2012, 1, 2), end=dt.date(2012, 6, 25)).run()
    monkeypatch.setattr(kernels, "BLOCK", 64)
    cut = Sim(seed=5, scale=2000, start=dt.date(2012, 1, 2), end=dt.date(2012, 6, 25)).run()
    a, b = whole.results.annual(), cut.results.annual()
    assert list(a.metric) == list(b.metric)
    scale = a.groupby("metric").value.transform(lambda v: np.nanmax(np.abs(v)) if np.isfinite(v).any() else 1.0)
    rel = (a.value - b.value).abs() / scale.where(scale > 0, 1.0)
    assert float(rel.max()) < 1e-3
    assert whole.books.max_rel_residual < 1e-9 and cut.books.max_rel_residual < 1e-9


def test_numba_num_threads_1_and_2_give_the_same_files(tmp_path):
    """As a user would run it: ``hamji run`` with NUMBA_NUM_THREADS=1 and =2 (threads forced on) writes the
    same series."""
    out = {}
    for n in (1, 2):
        env = {**os.environ, "NUMBA_NUM_THREADS": str(n), "HAMJI_PARALLEL_MIN": "0"}
        env.pop("HAMJI_THREADS", None)
        folder = tmp_path / f"t{n}"
        subprocess.run([sys.executable, "-m", "hamji", "run", "--scale", "1000", "--start", "2010-01-04", "--end",
                        "2011-12-26", "--seed", "3", "--out", str(folder), "--quiet"], check=True, env=env)
        out[n] = pd.read_parquet(folder / "series.parquet")
    pd.testing.assert_frame_equal(out[1], out[2], check_exact=True)
