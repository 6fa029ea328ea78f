"""Population (hamji.modules.population): the tallies by role and province."""

from __future__ import annotations

import numpy as np
import pytest
from _households import SEEDS, R, block_sums, blocks_of, households, reduced, same

from hamji.modules import population as popm
from hamji.people import ROLES


@pytest.mark.parametrize("seed", SEEDS)
def test_population_tally_matches_bincount(seed, threads, block):
    h = households(seed)
    blocks = blocks_of(h["region"], block)
    part = np.zeros((len(blocks), len(ROLES) + 2))
    popm._tally(blocks, h["role"], h["cash"], h["fx"], part)
    out = reduced(part, blocks)
    by_role, money, trading = out[:, :len(ROLES)], out[:, len(ROLES)], out[:, len(ROLES) + 1]
    reg, m = h["region"], h["cash"] + h["fx"]
    for k in range(len(ROLES)):
        same(by_role[:, k], np.bincount(reg[h["role"] == k], minlength=R))
    same(money, block_sums(m, blocks))
    same(trading, block_sums(m * (h["role"] != 0), blocks))
    if block is None:
        same(money, np.bincount(reg, weights=m, minlength=R))
