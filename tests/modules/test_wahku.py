"""Wah-ku's compiled week against the NumPy formulas it replaced, to the bit (hamji.modules.wahku).

Each reference below is written in plain NumPy from the kernel's docstring: sums by home province as
``np.bincount`` adds them (in company order), totals as ``np.sum`` adds them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _nkinc import SEEDS, annual, make, weekly

from hamji.modules.revenue_bases import COMMODITIES
from hamji.modules.wahku import Forgers, _detect, _hazard_exponent, _quota_left, choose_forged_ratio, year_fraction_left

R = 15  # provinces


def companies(seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "forged_ratio": np.where(rng.random(n) < 0.6, rng.random(n) * 0.5, 0.0).astype(np.float32),
        "detected": rng.random(n) < 0.2,
        "detections": rng.integers(0, 4, n).astype(np.int16),
        "forged": rng.random((6, n)) * 100.0,
        "forged_value": rng.random(n) * 5e4,
        "cash": rng.random(n) * 1e5,
        "revenue": rng.random(n) * 6e4,
        "home": rng.integers(0, R, n).astype(np.int8),
        "u": rng.random(n),
        "escape": np.exp(-rng.random(n) * 0.3),
    }


def ref_detect(c: dict, fine_multiple: float, bribe_share: float, officials: np.ndarray):
    """The NumPy week: who is caught, what they pay, where it goes, and the province tallies."""
    hit = (c["u"] < 1.0 - c["escape"]) & ~c["detected"] & (c["forged_ratio"] > 0)
    out = np.zeros((4, R))
    home = c["home"].astype(np.int64)
    if hit.any():
        free_cash = np.maximum(c["cash"] - c["revenue"], 0.0)
        penalty = np.where(hit, np.minimum(fine_multiple * c["forged_value"], free_cash), 0.0)
        c["cash"] -= penalty
        bribe = penalty * bribe_share
        out[2] = np.bincount(home, weights=bribe, minlength=R)
        out[1] = np.bincount(home, weights=penalty - bribe, minlength=R)
        officials += out[2]
        c["forged"][:, hit] = 0.0
        c["forged_ratio"][hit] = 0.0
        c["detected"][hit] = True
        c["detections"][hit] += 1
    penalties = out[2].sum() + out[1].sum()
    out[0] = np.bincount(home, weights=hit.astype(np.float64), minlength=R)
    n_home = np.bincount(home, minlength=R)
    ratio_sum = np.bincount(home, weights=c["forged_ratio"].astype(np.float64), minlength=R)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[3] = np.where(n_home > 0, ratio_sum / np.maximum(n_home, 1), np.nan)
    return bool(hit.any()), penalties, out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [1, 7, 300])
def test_detection_equals_numpy(seed: int, n: int) -> None:
    ours, ref = companies(seed, n), companies(seed, n)
    officials_ours, officials_ref = np.arange(R, dtype=float), np.arange(R, dtype=float)
    out_r = np.full((4, R), 7.0)  # the kernel zeroes it
    fine, share = 1.5 + seed * 0.25, 0.1 * (seed % 4)
    forgers = Forgers(*(ours[k] for k in Forgers._fields))
    hit, penalties = _detect(ours["escape"], ours["u"], forgers, fine, share, officials_ours, out_r)
    hit_ref, penalties_ref, out_ref = ref_detect(ref, fine, share, officials_ref)
    assert hit == hit_ref and penalties == penalties_ref
    np.testing.assert_array_equal(out_r, out_ref)
    np.testing.assert_array_equal(officials_ours, officials_ref)
    for k in ours:
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)


def test_detection_catches_someone_in_the_cases_above() -> None:
    """The cases are not vacuous: some seeds catch forgers, so the penalty branch is compared too."""
    caught = sum(ref_detect(companies(seed, 300), 2.0, 0.2, np.zeros(R))[0] for seed in range(8))
    assert caught >= 6


@pytest.mark.parametrize("seed", range(5))
def test_hazard_exponent_and_quota_left_equal_numpy(seed: int) -> None:
    c = companies(seed, 200)
    h, weeks = 0.3 + seed, 52.0
    got = np.empty(200)
    _hazard_exponent(c["forged_ratio"], h, weeks, got)
    np.testing.assert_array_equal(got, -h * c["forged_ratio"].astype(np.float64) / weeks)
    rng = np.random.default_rng(seed)
    real, forged = rng.random(200) * 1e4, rng.random(200) * 1e3
    left = np.full(R, 3.0)
    totals = _quota_left(real, forged, c["home"], left)
    np.testing.assert_array_equal(left, np.bincount(c["home"].astype(np.int64), weights=real + forged, minlength=R))
    assert totals == (real.sum(), forged.sum())


def test_forged_ratio_choice() -> None:
    h = np.array([0.0, 0.1, 0.3, 1.0, 5.0])
    m = choose_forged_ratio(h, margin=0.25, fine=1.0, m_max=1.0)
    assert m[0] == 1.0  # no risk: forge as much as allowed
    assert np.all(np.diff(m) <= 0) and m[-1] < m[2] < m[0]  # more risk, less forgery
    assert (choose_forged_ratio(h, margin=0.0, fine=1.0, m_max=1.0) == 0).all()  # no gain, no forgery
    # interior optimum near the small-risk approximation m* = a / (2 h (c + a / 2))
    assert m[3] == pytest.approx(0.25 / (2 * 1.0 * 1.125), abs=0.03)


def test_quotas_are_issued_from_expected_output() -> None:
    sim = make()
    sim.initialize()
    sim.step()  # week 0 is a new quota year
    b, comp, pars = sim.people.bases, sim.people.companies, sim.pars
    frac = year_fraction_left(sim.dates[0].date())
    for j, c in enumerate(COMMODITIES):
        mine = b.commodity == j
        issued = pars.wahku_quota_share * np.bincount(b.company[mine], weights=b.capacity[mine], minlength=comp.n) * frac
        left = getattr(comp, f"quota_{c}")
        # one week of exports has used at most a week's share of the quota
        assert np.all(left <= issued * (1 + 1e-9) * 1.0)
        assert left.sum() > 0.9 * issued.sum()
    assert (comp.forged_ratio >= 0).all() and comp.forged_ratio.max() <= pars.forgery_max_ratio
    assert comp.forged_ratio.mean() > 0.1


def test_forgery_raises_trade_volume() -> None:
    gains, cover_gains = [], []
    for seed in SEEDS:
        on = make(seed=seed, end=dt.date(2003, 12, 31)).run()
        off = make(seed=seed, end=dt.date(2003, 12, 31), forgery_on=False).run()
        t_on, t_off = sum(annual(on, "exports_t").values()), sum(annual(off, "exports_t").values())
        gains.append(t_on / t_off - 1)
        cover_gains.append(sum(annual(on, "wholesale_cover_usd").values()) / sum(annual(off, "wholesale_cover_usd").values()) - 1)
        assert np.nanmax(weekly(off, "forged_share")) == 0
        assert sum(annual(off, "wahku_detections").values()) == 0
        assert np.nanmean(weekly(on, "forged_share")) > 0.1
    # forgery adds about a fifth to exported tonnes (real quota = 0.8 of output) and widens cover
    assert min(gains) > 0.12 and max(gains) < 0.35
    assert min(cover_gains) > 0.3


def test_crackdown_reduces_forgery() -> None:
    for seed in SEEDS[:2]:
        normal = make(seed=seed, end=dt.date(2003, 12, 31)).run()
        crack = make(seed=seed, end=dt.date(2003, 12, 31), wahku_crackdown=4.0).run()
        assert np.nanmean(weekly(crack, "wahku_forged_ratio")) < 0.5 * np.nanmean(weekly(normal, "wahku_forged_ratio"))
        assert sum(annual(crack, "exports_t").values()) < sum(annual(normal, "exports_t").values())


def test_detection_punishes_and_cancels_forged_quota() -> None:
    sim = make(end=dt.date(2001, 12, 31), wahku_detection_rate=3.0, forgery_margin=0.9, company_initial_cash_weeks=20)
    sim.run()
    comp, pars = sim.people.companies, sim.pars
    caught = comp.detected
    assert caught.sum() > 10
    for c in COMMODITIES:
        assert (getattr(comp, f"forged_{c}")[caught] == 0).all()
    assert (comp.forged_ratio[caught] == 0).all()
    bribes = sum(annual(sim, "wahku_bribes_usd").values())
    fines = sum(annual(sim, "wahku_fines_usd").values())
    assert bribes > 0 and bribes / (bribes + fines) == pytest.approx(pars.wahku_bribe_share, rel=1e-9)
    assert sim.accounts.officials.sum() > 0  # bribes reached officials of the companies' home provinces
    assert int(comp.detections.sum()) == int(sum(annual(sim, "wahku_detections").values()))
    assert sim.books.max_rel_residual < 1e-9


def test_wholesale_cover_is_set_and_unlimited_without_quotas() -> None:
    sim = make(end=dt.date(2000, 3, 1)).run()
    assert np.isfinite(sim.market.wholesale_cover) and sim.market.wholesale_cover > 0
    free = make(end=dt.date(2000, 3, 1), wahku_on=False).run()
    assert np.isinf(free.market.wholesale_cover)
    # without quotas exports are limited by output and crossings only: more than with quotas
    assert sum(annual(free, "exports_t").values()) > sum(annual(sim, "exports_t").values())
