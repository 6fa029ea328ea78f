"""The world: regions from the census, groups, crossings and routes."""

from __future__ import annotations

import numpy as np
import pytest

from hamji.errors import UserError
from hamji.world import build_world, great_circle_km

DPRK_NAMES = ["Pyongyang", "South Pyongan", "North Pyongan", "Jagang", "South Hwanghae", "North Hwanghae",
              "Kangwon", "South Hamgyong", "North Hamgyong", "Ryanggang", "Rason"]


def test_regions_are_the_census_provinces_with_rason_split_out():
    w = build_world()
    assert [w.names[i] for i in w.dprk] == DPRK_NAMES
    assert set(w.names[i] for i in w.china) >= {"Yanbian", "Baishan", "Tonghua", "Dandong"}
    pop = dict(zip(w.names, w.population))
    assert pop["Rason"] == 196_954
    assert pop["North Hamgyong"] == 2_327_362 - 196_954
    assert pop["Ryanggang"] == 719_269
    # the provinces sum to the census civilian total, and the military camps make up the rest
    assert w.population[w.dprk].sum() == 23_349_859
    assert w.population[w.dprk].sum() + w.military_camps == 24_052_231


def test_groups_partition_the_dprk():
    w = build_world()
    hamji, rest, dprk = (set(w.groups[g]) for g in ("HamJi", "Rest of DPRK", "DPRK"))
    assert {w.names[i] for i in hamji} == {"South Hamgyong", "North Hamgyong", "Ryanggang", "Rason"}
    assert hamji.isdisjoint(rest) and hamji | rest == dprk == set(w.dprk)


def test_groups_are_configurable_and_checked():
    w = build_world(groups={"Border": ["Rason", "Ryanggang"]})
    assert list(w.groups) == ["Border"]
    with pytest.raises(UserError, match="unknown region"):
        build_world(groups={"Bad": ["Atlantis"]})


def test_routes_connect_everything_and_distance_to_border_orders_regions():
    w = build_world()
    assert np.isfinite(w.path_km).all()
    b = dict(zip(w.names, w.border_km))
    # the paper's contrast: South Hwanghae is far from the Chinese border, the Hamgyong side is close
    assert b["South Hwanghae"] > 3 * b["North Hamgyong"]
    assert b["Ryanggang"] < b["South Hamgyong"] < b["Pyongyang"] < b["South Hwanghae"]
    assert len(w.crossings) == 9 and (w.crossings.capacity_t > 0).all()


def test_road_factor_scales_distances():
    a, b = build_world(road_factor=1.0), build_world(road_factor=2.0)
    finite = np.isfinite(a.route_km) & (a.route_km > 0)
    assert np.allclose(b.route_km[finite], 2 * a.route_km[finite])


def test_great_circle():
    # Yanji to Tumen: about 30 km
    assert 25 < great_circle_km(42.9, 129.5, 42.967, 129.85) < 35
