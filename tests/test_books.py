"""The books (hamji.books): money is conserved with every module."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _markets import ONE_YEAR, run
from _security import annual, make_sim

from hamji.people import ROLE_NONE, ROLE_SELLER


# -- books and reproducibility --------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_books_balance_with_every_module(seed):
    sim = run(ONE_YEAR, seed=seed)
    assert sim.books.max_rel_residual < 1e-9
    hh = sim.people.households
    assert np.all(hh.cash >= -1e-9) and np.all(hh.fx >= -1e-9)
    assert np.all(sim.people.merchants.capital >= -1e-9)
    assert np.all(sim.market.goods_households >= 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_money_is_conserved(seed):
    s = make_sim(seed=seed, scale=2000, start=dt.date(2005, 1, 3), end=dt.date(2007, 12, 31))
    hh = s.people.households
    rng = s.streams.get("test.roles")
    hh.role[:] = np.where(rng.random(hh.n) < 0.4, ROLE_SELLER, ROLE_NONE)
    hh.cash *= rng.random(hh.n) * 3  # some can pay, some need kin, some cannot
    s.books.open()
    s.run()
    assert s.books.max_rel_residual < 1e-9
    assert annual(s, "bribes_usd").sum() > 0 and annual(s, "kin_help_usd").sum() > 0
    assert annual(s, "fines_usd").sum() > 0
