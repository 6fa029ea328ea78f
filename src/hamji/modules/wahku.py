"""Wah-ku: the party's yearly trade quotas, their forgery, and its detection.

"A wah-ku is an official quota authorization document issued by the KWP. A DPRK state trading
company needs to receive a wah-ku as it outlines the precise quantity of commodities or products it
is permitted to trade or barter. Wah-ku forgery has accelerated the scale and scope of commercial
activity in North Korea ... Although it is a stimulus of sorts, defectors report that wah-ku forgery
is not sufficient to reverse the massive deterioration of the North Korean economic infrastructure."
(Park 2009)

At the first week of each year (``sim.new_year``) the party issues company k a real quota for
commodity c, ``Q_kc = wahku_quota_share * expected output of k's c bases for the rest of the year``
(capacity x infrastructure x year fraction, simulated tonnes). Company k then chooses a forged ratio
m_k (forged tonnes per real quota tonne) on a grid over ``[0, forgery_max_ratio]`` maximising its
expected gain per US$ of real quota value:

    p_k(m) = 1 - exp(-h_k * m)                      probability of detection within the year
    E_k(m) = m * forgery_margin * (1 - p_k(m) / 2)   gain (half the year's forged trade is lost on detection)
             - p_k(m) * wahku_fine_multiple * m      expected penalty
    h_k    = wahku_detection_rate * (1 + wahku_crackdown) * risk_k,   risk_k ~ lognormal(mean 1, forgery_risk_sigma)

so forgery rises with its margin and falls with detection risk and penalty; a crackdown lowers it.
Companies choose once a year: a crackdown (or switching ``forgery_on`` on) during a year changes
detection at once and forgery at the next quota year; switching ``forgery_on`` off voids forged
quota at once.
Forged quota ``F_kc = m_k Q_kc``. Each week an undetected forger is detected with probability
``1 - exp(-wahku_detection_rate (1 + wahku_crackdown) m_k / 52)`` (the true hazard, without the
company's perception). A detected company pays ``wahku_fine_multiple`` times the value of its
forged quota, as far as its free cash allows: ``wahku_bribe_share`` of it as a bribe to officials of
its home province (it buys its way out), the rest as a fine to the KWP's budget; its forged quota is
cancelled and it forges no more until the next quota year.

Exports pace the year's quota (at most quota left / weeks left each week) and use real quota first,
then forged (see :mod:`hamji.modules.exports`). The wah-ku also cover household (partner) imports:
each week ``sim.market.wholesale_cover`` = ``wahku_cover_ratio`` x (``wahku_cover_real_share`` x the
value of the unused real quota + the value of the unused forged quota, at export prices) / weeks left
in the year. Companies need their real quota for their own trade and lend partners only a share of
it; the forged quota is what they sell to partners and merchants, so forgery "serves as an economic
stimulus in key regions" and a crackdown shrinks the partners' trade, the goods in the markets along
the routes and the incomes of those who trade on them, not only the companies' revenue.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from hamji.accounts import KWP
from hamji.kernels import fmax, fmin, psum
from hamji.module import Metric, Module
from hamji.modules.revenue_bases import COMMODITIES, WEEKS_PER_YEAR, commodity_prices

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

#: resolution of the forged-ratio choice (points on [0, forgery_max_ratio])
FORGERY_GRID_POINTS = 201


def year_fraction_left(date: dt.date) -> float:
    """Share of the calendar year from ``date`` (inclusive) to 31 December."""
    end = dt.date(date.year, 12, 31)
    days = (dt.date(date.year + 1, 1, 1) - dt.date(date.year, 1, 1)).days
    return ((end - date).days + 1) / days


def weeks_left_in_year(dates) -> np.ndarray:
    """Weeks from each date (inclusive) to the end of its calendar year, at least 1."""
    days_left = (pd.to_datetime(dates.year.astype(str) + "-12-31") - dates).days.to_numpy() + 1
    return np.maximum(days_left / 7.0, 1.0)


def choose_forged_ratio(h: np.ndarray, margin: float, fine: float, m_max: float) -> np.ndarray:
    """Forged ratio maximising the expected gain E(m) (module docstring) for each perceived hazard ``h``."""
    grid = np.linspace(0.0, m_max, FORGERY_GRID_POINTS)
    p = 1.0 - np.exp(-np.outer(h, grid))
    gain = grid * margin * (1.0 - 0.5 * p) - p * fine * grid
    return grid[np.argmax(gain, axis=1)]


class Forgers(NamedTuple):
    """The companies' arrays the weekly detection reads and writes."""

    forged_ratio: np.ndarray  # forged t per real quota t chosen this year (float32)
    detected: np.ndarray  # caught this year
    detections: np.ndarray  # times caught since the start
    forged: np.ndarray  # forged quota, commodity x company (t)
    forged_value: np.ndarray  # US$ value of the forged quota issued this year
    cash: np.ndarray
    revenue: np.ndarray  # this week's revenue (not free cash)
    home: np.ndarray  # home province


class Wahku(Module):
    """Issues quotas each year, lets companies forge more, detects and punishes forgery."""

    name = "wahku"
    passage = (
        "Wah-ku: yearly trade quotas issued by the party; forgery adds trade volume at a risk of detection.\n"
        "\"Wah-ku forgery has accelerated the scale and scope of commercial activity in North Korea\";"
        " \"a stimulus of sorts\" but \"not sufficient to reverse the massive deterioration\" (Park 2009)"
    )
    metrics = (
        Metric("wahku_detections", "companies", "Companies caught forging wah-ku this week, by home province"
               " (a national count: companies are not scaled)."),
        Metric("wahku_fines_usd", "US$", "Fines paid to the KWP's budget by companies caught forging, by home province.",
               scaled=True),
        Metric("wahku_bribes_usd", "US$", "Bribes paid to officials by companies caught forging, by home province.",
               scaled=True),
        Metric("wahku_forged_ratio", "forged t per real quota t", "Mean forged ratio chosen by the companies at"
               " home in the province this year (0 once detected).", agg="mean", annual="mean"),
        Metric("wahku_quota_left_usd", "US$", "Value of unused wah-ku (real plus forged, at export prices) held"
               " by companies at home in the province, at the start of the week.", annual="mean", scaled=True),
        Metric("wholesale_cover_usd", "US$", "Household (partner) imports the companies' wah-ku can cover this"
               " week (national; empty when the quota system is off).", scaled=True),
    )

    def after_copy(self, sim: Sim) -> None:
        """After a deep copy, make the companies' quota states rows of this module's matrices again."""
        comp = sim.people.companies
        for j, c in enumerate(COMMODITIES):
            setattr(comp, f"quota_{c}", self.quota[j])
            setattr(comp, f"forged_{c}", self.forged[j])

    def setup(self, sim: Sim) -> None:
        comp = sim.people.companies
        n_c = len(COMMODITIES)
        # (commodity, company) matrices; each row is also a company state quota_<c> / forged_<c>
        self.quota = np.zeros((n_c, comp.n))  # real quota left this year, simulated t
        self.forged = np.zeros((n_c, comp.n))  # forged quota left this year, simulated t
        for j, c in enumerate(COMMODITIES):
            comp.add(f"quota_{c}", np.float64, values=self.quota[j])
            comp.add(f"forged_{c}", np.float64, values=self.forged[j])
            # add() keeps the row as a view when dtype and shape match; writes must be shared
            if not np.shares_memory(getattr(comp, f"quota_{c}"), self.quota):
                raise RuntimeError("wahku: quota states must be views of the quota matrix")
        comp.add("forged_ratio", np.float32)
        comp.add("forged_value", np.float64)  # US$ value of the forged quota issued this year
        comp.add("detected", np.bool_)  # caught forging this year
        comp.add("detections", np.int16)  # times caught since the start
        s = sim.pars.forgery_risk_sigma
        risk = sim.streams.get("wahku.setup.risk").lognormal(-0.5 * s * s, s, comp.n)
        comp.add("risk", np.float32, values=risk)
        self.weeks_left = weeks_left_in_year(sim.dates)
        r = sim.world.n_regions
        self._out_r = np.zeros((4, r))  # detections, fines, bribes, mean forged ratio, by home province
        self._left_r = np.zeros(r)  # value of unused quota by home province
        self._exponent = np.zeros(comp.n)  # exponent of each company's weekly chance of escaping detection

    def issue(self, sim: Sim, today: dt.date) -> None:
        """New quota year: real quotas from expected output, forged ratios from expected gain."""
        pars = sim.pars
        b, comp = sim.people.bases, sim.people.companies
        frac = year_fraction_left(today)
        plan = b.capacity * sim.market.volume_index * b.infra * frac  # expected output at this year's demand
        for j in range(len(COMMODITIES)):
            mine = b.commodity == j
            self.quota[j] = pars.wahku_quota_share * np.bincount(b.company[mine], weights=plan[mine], minlength=comp.n)
        if pars.forgery_on:
            h = pars.wahku_detection_rate * (1.0 + pars.wahku_crackdown) * comp.risk.astype(np.float64)
            m = choose_forged_ratio(h, pars.forgery_margin, pars.wahku_fine_multiple, pars.forgery_max_ratio)
        else:
            m = np.zeros(comp.n)
        self.forged[:] = self.quota * m[None, :]
        comp.forged_ratio[:] = m
        comp.forged_value[:] = commodity_prices(sim) @ self.forged
        comp.detected[:] = False

    def step(self, sim: Sim) -> None:
        pars = sim.pars
        comp = sim.people.companies
        today = sim.day
        if sim.new_year:
            self.issue(sim, today)
        if not pars.forgery_on:  # switched off mid-year: forged documents are no longer used
            self.forged[:] = 0.0
            comp.forged_ratio[:] = 0.0

        # detection of forgers
        h = pars.wahku_detection_rate * (1.0 + pars.wahku_crackdown)
        _hazard_exponent(comp.forged_ratio, h, WEEKS_PER_YEAR, self._exponent)
        escape = np.exp(self._exponent)
        u = sim.rng("wahku.detect").random(comp.n)
        out_r = self._out_r
        forgers = Forgers(comp.forged_ratio, comp.detected, comp.detections, self.forged, comp.forged_value, comp.cash,
                          comp.revenue, comp.home)
        any_hit, self.penalties = _detect(escape, u, tuple(forgers), pars.wahku_fine_multiple, pars.wahku_bribe_share,
                                          sim.accounts.officials, out_r)
        if any_hit:
            sim.accounts.to_budget(KWP, out_r[1])

        # cover for partner imports: unused quota value spread over the weeks left
        prices = commodity_prices(sim)
        real_value, forged_value = prices @ self.quota, prices @ self.forged  # per company
        real_total, forged_total = _quota_left(real_value, forged_value, comp.home, self._left_r)
        weeks_left = self.weeks_left[sim.week]
        if pars.wahku_on:
            # companies need their real quota for their own trade and lend partners only a share of it; the forged
            # quota is what they sell to partners and merchants ("a stimulus of sorts")
            lendable = pars.wahku_cover_real_share * real_total + forged_total
            sim.market.wholesale_cover = pars.wahku_cover_ratio * lendable / weeks_left
        else:
            sim.market.wholesale_cover = np.inf

        res = sim.results
        res.record("wahku_detections", out_r[0])
        res.record("wahku_fines_usd", out_r[1])
        res.record("wahku_bribes_usd", out_r[2])
        res.record("wahku_forged_ratio", out_r[3])
        res.record("wahku_quota_left_usd", self._left_r)
        res.record_total("wholesale_cover_usd", sim.market.wholesale_cover)


# ------------------------------------------------------------------------------------------------
# The week's company-level arithmetic, compiled (a few hundred companies, where NumPy would spend about
# a microsecond a call); the exponential stays in NumPy between the calls. Sums by home province are
# sequential in company order, as np.bincount adds them, so results are those of the NumPy formulas.
# ------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _hazard_exponent(forged_ratio, h, weeks, out):
    """``out = -h * forged_ratio / weeks`` in float64: the exponent of each company's weekly chance of escaping
    detection (np.exp is applied in NumPy, whose last bit compiled code does not reproduce)."""
    for i in range(len(forged_ratio)):
        out[i] = -h * np.float64(forged_ratio[i]) / weeks


@njit(cache=True, error_model="numpy")
def _detect(escape, u, c, fine_multiple, bribe_share, officials, out_r):
    """This week's detections among the companies ``c`` (:class:`Forgers`): ``u < 1 - escape`` among undetected
    forgers; the penalty ``min(fine_multiple x forged value, free cash)``, ``bribe_share`` of it to the home
    province's officials, the rest a fine; the forged quota is cancelled. ``out_r`` rows get (detections, fines,
    bribes, mean forged ratio) by home province. Returns whether anyone was caught and the penalties paid (fines
    plus bribes, as NumPy sums them)."""
    c = Forgers(*c)
    forged_ratio, detected, detections, forged = c.forged_ratio, c.detected, c.detections, c.forged
    forged_value, cash, revenue, home = c.forged_value, c.cash, c.revenue, c.home
    n = len(u)
    hit = np.empty(n, dtype=np.bool_)
    any_hit = False
    for i in range(n):
        hit[i] = (u[i] < 1.0 - escape[i]) and not detected[i] and forged_ratio[i] > 0
        any_hit = any_hit or hit[i]
    out_r[:] = 0.0
    if any_hit:
        for i in range(n):
            # where(hit, minimum(fine_multiple * forged_value, free_cash(companies)), 0)
            penalty = fmin(fine_multiple * forged_value[i], fmax(cash[i] - revenue[i], 0.0)) if hit[i] else 0.0
            cash[i] -= penalty
            bribe = penalty * bribe_share
            out_r[2, home[i]] += bribe
            out_r[1, home[i]] += penalty - bribe
        for j in range(len(officials)):
            officials[j] += out_r[2, j]
        for i in range(n):
            if hit[i]:
                forged[:, i] = 0.0
                forged_ratio[i] = 0.0
                detected[i] = True
                detections[i] += 1
    penalties = psum(out_r[2]) + psum(out_r[1])
    n_home = np.zeros(out_r.shape[1], dtype=np.int64)
    for i in range(n):
        out_r[0, home[i]] += 1.0 if hit[i] else 0.0
        out_r[3, home[i]] += np.float64(forged_ratio[i])
        n_home[home[i]] += 1
    for j in range(out_r.shape[1]):
        out_r[3, j] = out_r[3, j] / max(n_home[j], 1) if n_home[j] > 0 else np.nan
    return any_hit, penalties


@njit(cache=True, error_model="numpy")
def _quota_left(real_value, forged_value, home, left_r):
    """Value of the unused real plus forged quota by home province (``left_r``); returns the real and the
    forged value over all companies (as NumPy sums them)."""
    left_r[:] = 0.0
    for i in range(len(real_value)):
        left_r[home[i]] += real_value[i] + forged_value[i]
    return psum(real_value), psum(forged_value)
