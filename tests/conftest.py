"""Shared fixtures: small, short simulations so the suite stays fast on 2 cores."""

from __future__ import annotations

import datetime as dt
import os

import numba
import pytest
from _markets import MINE, TWO_YEARS, run
from hypothesis import settings

from hamji.sim import Sim

# Property tests draw the same examples on every run and machine, so CI tests what was run here;
# HYPOTHESIS_PROFILE=explore draws fresh ones to hunt for new failures.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

SMALL = 2000  # 1:2000, about 2,900 households
SHORT = (dt.date(2000, 1, 3), dt.date(2001, 12, 31))


def small_sim(scenario=None, seed: int = 1, scale: int = SMALL, start=SHORT[0], end=SHORT[1], **overrides) -> Sim:
    """A small, short simulation, run to the end."""
    return Sim(scenario, seed=seed, scale=scale, start=start, end=end, overrides=overrides).run()


@pytest.fixture(scope="session")
def short_run() -> Sim:
    """One small two-year baseline run shared by read-only tests."""
    return small_sim()


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    """Run the test with this many Numba threads: a kernel's results must not depend on it."""
    if request.param > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("only one thread here")
    before = numba.get_num_threads()
    numba.set_num_threads(request.param)
    yield request.param
    numba.set_num_threads(before)


@pytest.fixture(params=[None, 97], ids=["province-blocks", "small-blocks"])
def block(request):
    """Households per block: None for the default (here one block per province), or 97."""
    return request.param


@pytest.fixture(scope="module")
def base() -> Sim:
    return run(TWO_YEARS, modules=MINE)
