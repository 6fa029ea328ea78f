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

from hamji.module import Metric, Module

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


class Microlending(Module):
    """NGO micro-loans to Jilin merchants, with repayment and default."""

    name = "microlending"
    passage = "NGO micro-lending to Jilin merchants: 'expanding NGO-facilitated micro-lending activities in this operationally important Chinese area'."
    metrics = (
        Metric("microloans_outstanding_usd", "US$", "Balance of micro-loans not yet repaid or written off, by merchants' region.", annual="last", scaled=True),
        Metric("microloans_disbursed_usd", "US$", "New micro-loans paid out this week (NGO plus partners).", scaled=True),
        Metric("microloan_repayment_rate", "fraction", "Instalments paid / instalments due this week over the unit's merchants (1 when none due).", agg="mean", annual="mean"),
        Metric("microloan_borrowers", "merchants", "Merchants holding a micro-loan, times the scale.", annual="mean", scaled=True),
    )

    def setup(self, sim: "Sim") -> None:
        m = sim.people.merchants
        m.add("microloan_balance", np.float64)
        m.add("microloan_instalment", np.float64)
        jilin = sim.world.groups.get("Jilin", [])
        self._jilin = np.isin(m.region, jilin)

    def step(self, sim: "Sim") -> None:
        p, m = sim.pars, sim.people.merchants
        r = sim.world.n_regions
        has = m.microloan_balance > 0
        # repayments and defaults on loans already out
        default_week = 1.0 - (1.0 - p.microlending_default_rate) ** (1.0 / 52.0)
        defaults = has & (sim.rng("microlending.default").random(m.n) < default_week)
        m.microloan_balance[defaults] = 0.0
        m.microloan_instalment[defaults] = 0.0
        due = np.where(has & ~defaults, m.microloan_instalment, 0.0)
        paid = np.minimum(due, np.maximum(m.capital, 0.0))
        rate_w = p.microlending_interest / 52.0
        interest = m.microloan_balance * rate_w
        m.capital -= paid
        m.microloan_balance = np.maximum(m.microloan_balance + interest - paid, 0.0)
        m.microloan_balance[m.microloan_balance < 1e-6] = 0.0
        m.microloan_instalment[m.microloan_balance == 0.0] = 0.0
        sim.books.outflow("microloan_repayments", paid.sum())
        # repayment rate per output unit (regions and groups): paid / due over the unit's merchants
        gm = sim.results.gm
        due_u = gm @ np.bincount(m.region, weights=due, minlength=r)
        paid_u = gm @ np.bincount(m.region, weights=paid, minlength=r)
        has_merchants = (gm @ np.bincount(m.region, minlength=r)) > 0
        rate = np.where(due_u > 0, paid_u / np.where(due_u > 0, due_u, 1.0), np.where(has_merchants, 1.0, np.nan))
        # new loans
        new = np.zeros(m.n)
        budget = p.microlending_budget_usd / 52.0 / sim.scale
        if budget > 0:
            size = p.microlending_loan_size_usd
            n_loans = int(budget // size)
            # carry the fraction of a loan stochastically so small scales are unbiased
            if sim.rng("microlending.fraction").random() < budget / size - n_loans:
                n_loans += 1
            eligible = (m.microloan_balance == 0) & (self._jilin if p.microlending_regions >= 1 else True)
            idx = np.flatnonzero(eligible)
            if n_loans and len(idx):
                order_small = idx[np.argsort(m.capital[idx], kind="stable")]
                k_small = int(round(n_loans * p.microlending_target_small))
                chosen = order_small[:k_small]
                rest = np.setdiff1d(idx, chosen, assume_unique=True)
                key = sim.rng("microlending.pick").random(m.n)[rest]
                chosen = np.concatenate([chosen, rest[np.argsort(key, kind="stable")][: n_loans - len(chosen)]])
                principal = size / (1.0 - p.microlending_ppp_share)  # partners add to the NGO's money
                new[chosen] = principal
                n = p.microlending_term_weeks
                annuity = principal * (rate_w / (1.0 - (1.0 + rate_w) ** -n) if rate_w > 0 else 1.0 / n)
                m.microloan_balance[chosen] = principal
                m.microloan_instalment[chosen] = annuity
                m.capital += new
                sim.books.inflow("microloans", new.sum())
        res = sim.results
        res.record("microloans_outstanding_usd", np.bincount(m.region, weights=m.microloan_balance, minlength=r))
        res.record("microloans_disbursed_usd", np.bincount(m.region, weights=new, minlength=r))
        res.record_units("microloan_repayment_rate", rate)
        res.record("microloan_borrowers", np.bincount(m.region, weights=(m.microloan_balance > 0).astype(float), minlength=r))
