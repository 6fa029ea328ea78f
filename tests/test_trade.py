"""The shared trade state (hamji.trade)."""

from __future__ import annotations

import numpy as np
import pytest
from _households import SEEDS, blocks_of, households, same

from hamji import trade
from hamji.people import ROLES


@pytest.mark.parametrize("seed", SEEDS)
def test_free_by_role_lists_match_flatnonzero(seed, threads, block):
    h = households(seed)
    ids, starts = trade._free_by_role(blocks_of(h["region"], block), h["role"], h["detained"], len(ROLES))
    for k in range(1, len(ROLES)):
        idx = np.flatnonzero(h["role"] == k)
        same(ids[starts[k]:starts[k + 1]], idx[h["detained"][idx] == 0])
    assert starts[1] == 0  # no list for households without a role
