"""Micro-lending in Jilin: an NGO program lending to the Chinese merchants who trade with the North.

"As North Korea, Inc. relies heavily on the Chinese side of HamJi for either selling North Korean
products or purchasing cheap Chinese consumer goods for retail sale in North Korea, expanding
NGO-facilitated micro-lending activities in this operationally important Chinese area will help
foster more positive commercial spillover effects inside North Korea." (Park 2009)

The program lends only in China; any effect in the North travels through trade (more merchant
capital → more wholesale to North Korean partners). Each week it lends ``budget / 52`` (divided by
the scale) in loans of ``loan_size``, co-financed by partners at ``ppp_share``, to merchants without a
loan (the smallest first for the targeted share, else at random). Borrowers repay equal weekly
instalments (annuity at ``interest`` over ``term_weeks``) from their capital; each week a borrower
defaults with probability ``1 - (1 - default_rate)^(1/52)`` and the balance is written off.
Money: NGO and partners (outside) → merchants (``microloans``); merchants → NGO and partners
(``microloan_repayments``); a default moves nothing, it ends the repayments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji.kernels import fmax, fmin, psum
from hamji.module import Metric, Module, State

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


# ------------------------------------------------------------------------------------------------
# The week's loan book, compiled (a few merchants and provinces, where NumPy would spend about a
# microsecond a call). Sums by province are sequential in merchant order, as np.bincount adds them, so
# results are those of the NumPy formulas to the bit.
# ------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _repay(u, default_week, rate_w, balance, instalment, capital, region, new, due_r, paid_r,
           merchants_r):
    """Defaults (``u < default_week`` among borrowers: the balance is written off), then instalments paid from
    capital and interest added; balances below 1e-6 close. ``new`` is cleared for this week's loans; ``due_r``,
    ``paid_r``, ``merchants_r`` get the sums by province. Returns the US$ paid (as NumPy sums it)."""
    n = len(balance)
    paid = np.empty(n)
    due_r[:] = 0.0
    paid_r[:] = 0.0
    merchants_r[:] = 0.0
    for i in range(n):
        has = balance[i] > 0
        if has and u[i] < default_week:
            balance[i] = 0.0
            instalment[i] = 0.0
            due = 0.0
        else:
            due = instalment[i] if has else 0.0
        paid[i] = fmin(due, fmax(capital[i], 0.0))
        interest = balance[i] * rate_w
        capital[i] -= paid[i]
        balance[i] = fmax(balance[i] + interest - paid[i], 0.0)
        if balance[i] < 1e-6:
            balance[i] = 0.0
        if balance[i] == 0.0:
            instalment[i] = 0.0
        new[i] = 0.0
        due_r[region[i]] += due
        paid_r[region[i]] += paid[i]
        merchants_r[region[i]] += 1.0
    return psum(paid)


@njit(cache=True, error_model="numpy")
def _loan_book(due_u, paid_u, merchants_u, balance, new, region, rate_u, out_r):
    """Repayment rate per output unit (paid / due; 1 where nothing was due but the unit has merchants, else NaN)
    into ``rate_u``; ``out_r`` rows get (balance, new loans, borrowers) by province."""
    for k in range(len(due_u)):
        # where(due > 0, paid / where(due > 0, due, 1), where(has_merchants, 1, nan))
        if due_u[k] > 0:
            rate_u[k] = paid_u[k] / due_u[k]
        else:
            rate_u[k] = 1.0 if merchants_u[k] > 0 else np.nan
    out_r[:] = 0.0
    for i in range(len(balance)):
        out_r[0, region[i]] += balance[i]
        out_r[1, region[i]] += new[i]
        out_r[2, region[i]] += 1.0 if balance[i] > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _stop(stop, n):
    """Where Python's slice ``[:stop]`` of ``n`` items ends (a negative ``stop`` counts from the end)."""
    if stop < 0:
        return max(n + stop, 0)
    return min(stop, n)


@njit(cache=True, error_model="numpy")
def _candidates(balance, jilin, jilin_only, capital, k_small, chosen, rest):
    """Merchants without a loan (in Jilin if ``jilin_only``): the ``k_small`` with the least capital (a stable
    sort) into ``chosen``, the others, in merchant order, into ``rest``. Returns how many are eligible, chosen
    and left."""
    n_elig = 0
    for i in range(len(balance)):
        if balance[i] == 0 and (jilin[i] or not jilin_only):
            rest[n_elig] = i
            n_elig += 1
    idx = rest[:n_elig].copy()
    order = idx[np.argsort(capital[idx], kind="mergesort")]
    n_chosen = _stop(k_small, n_elig)
    chosen[:n_chosen] = order[:n_chosen]
    picked = np.zeros(len(balance), dtype=np.bool_)
    for j in range(n_chosen):
        picked[chosen[j]] = True
    n_rest = 0
    for i in idx:  # setdiff1d(idx, chosen): idx's order
        if not picked[i]:
            rest[n_rest] = i
            n_rest += 1
    return n_elig, n_chosen, n_rest


@njit(cache=True, error_model="numpy")
def _lend(chosen, n_chosen, rest, n_rest, key, n_loans, principal, annuity, balance, instalment, capital,
          new):
    """The week's loans: the ``n_chosen`` first, then the rest in the order of their random ``key`` (a stable
    sort) up to ``n_loans``; each gets ``principal`` at an ``annuity`` a week. Returns the US$ lent (as NumPy
    sums it)."""
    others = rest[:n_rest]
    others = others[np.argsort(key[others], kind="mergesort")]
    for j in range(n_chosen + _stop(n_loans - n_chosen, n_rest)):
        i = chosen[j] if j < n_chosen else others[j - n_chosen]
        new[i] = principal
        balance[i] = principal
        instalment[i] = annuity
    for i in range(len(capital)):
        capital[i] += new[i]
    return psum(new)


class Microlending(Module):
    """NGO micro-loans to Jilin merchants, with repayment and default."""

    name = "microlending"
    passage = ("NGO micro-lending to Jilin merchants: 'expanding NGO-facilitated micro-lending activities in this"
               " operationally important Chinese area'.")
    metrics = (
        Metric("microloans_outstanding_usd", "US$",
               "Balance of micro-loans not yet repaid or written off, by merchants' region.", annual="last", scaled=True),
        Metric("microloans_disbursed_usd", "US$", "New micro-loans paid out this week (NGO plus partners).", scaled=True),
        Metric("microloan_repayment_rate", "fraction",
               "Instalments paid / instalments due this week over the unit's merchants (1 when none due).", agg="mean", annual="mean"),
        Metric("microloan_borrowers", "merchants", "Merchants holding a micro-loan, times the scale.", annual="mean", scaled=True),
    )

    states = (
        State("merchants", "microloan_balance", "float64", 0.0, "micro-loan not yet repaid or written off, US$"),
        State("merchants", "microloan_instalment", "float64", 0.0, "the weekly instalment due on it, US$"),
    )

    def setup(self, sim: Sim) -> None:
        m = sim.people.merchants
        jilin = sim.world.groups.get("Jilin", [])
        self._jilin = np.isin(m.region, jilin)
        r = sim.world.n_regions
        self._new = np.zeros(m.n)  # this week's new loans, by merchant
        self._chosen = np.zeros(m.n, dtype=np.int64)  # merchants chosen first for a loan (the smallest)
        self._rest = np.zeros(m.n, dtype=np.int64)  # the other merchants who can get one
        # due, paid, merchants, by province: three arrays of their own, as np.bincount made them (BLAS reads them)
        self._by_region = (np.zeros(r), np.zeros(r), np.zeros(r))
        self._out_r = np.zeros((3, r))  # balance, new loans, borrowers, by province

    def step(self, sim: Sim) -> None:
        p, m = sim.pars, sim.people.merchants
        # repayments and defaults on loans already out
        default_week = 1.0 - (1.0 - p.microlending_default_rate) ** (1.0 / 52.0)
        u = sim.rng("microlending.default").random(m.n)
        rate_w = p.microlending_interest / 52.0
        (due_r, paid_r, merchants_r), new = self._by_region, self._new
        paid = _repay(u, default_week, rate_w, m.microloan_balance, m.microloan_instalment, m.capital, m.region, new,
                      due_r, paid_r, merchants_r)
        sim.books.outflow("microloan_repayments", paid)
        # repayment rate per output unit (regions and groups): paid / due over the unit's merchants
        gm = sim.results.gm
        due_u, paid_u, merchants_u = gm @ due_r, gm @ paid_r, gm @ merchants_r
        # new loans
        budget = p.microlending_budget_usd / 52.0 / sim.scale
        if budget > 0:
            size = p.microlending_loan_size_usd
            n_loans = int(budget // size)
            # carry the fraction of a loan stochastically so small scales are unbiased
            if sim.rng("microlending.fraction").random() < budget / size - n_loans:
                n_loans += 1
            jilin_only = p.microlending_regions >= 1
            k_small = int(round(n_loans * p.microlending_target_small)) if n_loans else 0
            chosen, rest = self._chosen, self._rest
            n_elig, n_chosen, n_rest = _candidates(m.microloan_balance, self._jilin, jilin_only, m.capital, k_small,
                                                   chosen, rest)
            if n_loans and n_elig:
                key = sim.rng("microlending.pick").random(m.n)
                principal = size / (1.0 - p.microlending_ppp_share)  # partners add to the NGO's money
                n = p.microlending_term_weeks
                annuity = principal * (rate_w / (1.0 - (1.0 + rate_w) ** -n) if rate_w > 0 else 1.0 / n)
                lent = _lend(chosen, n_chosen, rest, n_rest, key, n_loans, principal, annuity, m.microloan_balance,
                             m.microloan_instalment, m.capital, new)
                sim.books.inflow("microloans", lent)
        res, out_r = sim.results, self._out_r
        rate = np.empty(len(due_u))
        _loan_book(due_u, paid_u, merchants_u, m.microloan_balance, new, m.region, rate, out_r)
        res.record("microloans_outstanding_usd", out_r[0])
        res.record("microloans_disbursed_usd", out_r[1])
        res.record_units("microloan_repayment_rate", rate)
        res.record("microloan_borrowers", out_r[2])
