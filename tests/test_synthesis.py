"""Household synthesis from the census at any scale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hamji.parameters import Parameters
from hamji.people import People
from hamji.streams import Streams
from hamji.synthesis import households_per_region, synthesise
from hamji.world import build_world

WORLD = build_world()


@settings(max_examples=15, deadline=None)
@given(scale=st.integers(min_value=50, max_value=20000), seed=st.integers(min_value=0, max_value=2**31))
def test_population_matches_census_within_rounding_at_any_scale(scale, seed):
    people = People()
    synthesise(people, WORLD, Parameters(), Streams(seed), scale)
    hh = people.households
    persons = np.bincount(hh.region, weights=hh.size, minlength=WORLD.n_regions)[WORLD.dprk] * scale
    # each province within half a simulated person of the census (rounding), the nation within 11 such
    assert np.all(np.abs(persons - WORLD.population[WORLD.dprk]) <= scale / 2 + 1e-9)
    assert abs(persons.sum() - 23_349_859) <= 11 * scale / 2
    assert (hh.size >= 1).all()


def test_households_match_the_national_count():
    n_hh, n_pp = households_per_region(WORLD, 1)
    assert abs(n_hh.sum() - 5_887_471) <= 11
    assert n_pp.sum() == 23_349_859
    mean_size = n_pp.sum() / n_hh.sum()
    assert 3.9 < mean_size < 4.05


def test_synthesis_is_deterministic_and_seed_dependent():
    def make(seed):
        p = People()
        synthesise(p, WORLD, Parameters(), Streams(seed), 1000)
        return p.households

    a, b, c = make(3), make(3), make(4)
    assert np.array_equal(a.size, b.size) and np.array_equal(a.cash, b.cash)
    assert not np.array_equal(a.size, c.size)


def test_urban_share_follows_census():
    p = People()
    synthesise(p, WORLD, Parameters(), Streams(1), 100)
    hh = p.households
    share = np.bincount(hh.region, weights=hh.urban, minlength=WORLD.n_regions) / np.bincount(hh.region, minlength=WORLD.n_regions).clip(1)
    assert np.allclose(share[WORLD.dprk], WORLD.urban_share[WORLD.dprk], atol=0.03)


@pytest.mark.parametrize("scale", [1000, 100])
def test_memory_per_household_is_small(scale):
    p = People()
    synthesise(p, WORLD, Parameters(), Streams(1), scale)
    assert p.households.bytes_per_agent() <= 64
