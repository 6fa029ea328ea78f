"""Synthesis of the household population from the 2008 census, at a scale of 1:N.

Each province gets ``round(households_r / N)`` households and ``round(persons_r / N)`` persons,
where households_r shares the national 5,887,471 households (census, via Hankyoreh 2010) in
proportion to the province's civilian population (no provincial household counts exist). Every
household has at least one member; the remaining members are spread by a multinomial draw, so each
province's persons match the census exactly at 1:1 and within rounding at any scale. The 702,372
people in military camps are not households; revenue bases draw conscript labour from them.
"""

from __future__ import annotations

import numpy as np

from hamji.parameters import Parameters
from hamji.people import ROLE_NONE, People
from hamji.streams import Streams
from hamji.world import World


def households_per_region(world: World, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(households, persons) per DPRK region at scale 1:``scale``."""
    d = world.dprk
    pop = world.population[d]
    hh = world.households_total * pop / pop.sum()
    n_hh = np.maximum(np.rint(hh / scale), 1).astype(np.int64)
    n_pp = np.maximum(np.rint(pop / scale), n_hh).astype(np.int64)
    return n_hh, n_pp


def synthesise(people: People, world: World, pars: Parameters, streams: Streams, scale: int) -> None:
    """Create the household arrays: region, size, urban; market role starts at none."""
    n_hh, n_pp = households_per_region(world, scale)
    hh = people.households
    hh.n = int(n_hh.sum())
    region = np.repeat(world.dprk.astype(np.int8), n_hh)
    hh.add("region", np.int8, values=region)
    rng = streams.get("synthesis.size")
    size = np.ones(hh.n, dtype=np.int64)
    start = 0
    for h, p in zip(n_hh, n_pp):
        size[start:start + h] += rng.multinomial(p - h, np.full(h, 1.0 / h))
        start += h
    hh.add("size", np.int8, values=np.minimum(size, 127))
    urban_p = world.urban_share[region]
    hh.add("urban", np.bool_, values=streams.get("synthesis.urban").random(hh.n) < urban_p)
    hh.add("role", np.int8, fill=ROLE_NONE)
    # money: won cash and foreign currency, valued in US$ (the unit of the books)
    need = pars.food_need_usd_per_person_week * hh.size
    sigma = pars.savings_sigma
    savings = pars.initial_savings_weeks * need * streams.get("synthesis.savings").lognormal(-0.5 * sigma**2, sigma, hh.n)
    hh.add("cash", np.float64, values=savings * (1.0 - pars.initial_fx_share))
    hh.add("fx", np.float64, values=savings * pars.initial_fx_share)
    hh.add("income", np.float32)  # this week's income (US$), reset by the sim at the start of each week
    hh.add("consumption", np.float32)  # this week's consumption (US$ of food and goods, incl. in kind)
    hh.add("food_ratio", np.float32, fill=pars.initial_food_ratio)  # food eaten / food needed, smoothed
    hh.add("detained", np.int16)  # weeks of detention left (0 = free)
    hh.add("knowhow", np.float32)  # trading know-how in [0, 1] (training spreads it along ties)
