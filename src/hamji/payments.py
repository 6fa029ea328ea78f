"""Payments to and from households, one rule each: every transfer has a source and a sink in the books.

* :func:`pay_from_households` / :func:`pay_household`: a household pays from its won cash first, then its foreign
  currency, never below zero (what it holds is what it can pay).
* :func:`charge`: the same for a list of households and amounts.
* :func:`credit`: households receive money, and a share of it as (market) income.
* :func:`share_out`: each province's amount shared among its households in the first group with members there (by
  weight), else among all its households, so the whole amount is always paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from hamji.kernels import fmax, fmin
from hamji.trade import trade_state

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim


def pay_from_households(cash: np.ndarray, fx: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Take ``amount`` from each household, won cash first, then foreign currency, never below zero.

    Returns what each household actually paid (at most what it holds). Arrays are changed in place.
    """
    amount = np.maximum(amount, 0.0)
    from_cash = np.minimum(cash, amount)
    cash -= from_cash
    from_fx = np.minimum(fx, amount - from_cash)
    fx -= from_fx
    return from_cash + from_fx


@njit(cache=True, inline="always")
def pay_household(i, amount, cash, fx):
    """:func:`pay_from_households` for household ``i``, in compiled code: ``amount`` (at least 0) from its won cash
    first, then its foreign currency, never below zero; returns what it paid."""
    amount = fmax(amount, 0.0)
    from_cash = fmin(cash[i], amount)
    cash[i] -= from_cash
    from_fx = fmin(fx[i], amount - from_cash)
    fx[i] -= from_fx
    return from_cash + from_fx


def credit(sim: Sim, idx: np.ndarray, amount: np.ndarray, market: bool = True, fx: bool = False,
           income_share: float = 1.0) -> None:
    """Pay ``amount`` to households ``idx`` (unique): money, and ``income_share`` of it as (market) income.

    ``income_share`` < 1 when part of a receipt only returns the household's own outlay (a partner
    recovering the cost of goods it sold earns only the markup).
    """
    hh = sim.people.households
    if fx:
        hh.fx[idx] += amount
    else:
        hh.cash[idx] += amount
    earned = amount if income_share == 1.0 else amount * income_share
    hh.income[idx] += earned
    if market:
        hh.market_income[idx] += earned


@njit(cache=True)
def group_totals(idx, region, weights, tot) -> None:
    """``tot[province] += weight`` over the households ``idx`` (weight 1 if ``weights`` is empty), in order, as
    np.bincount adds them."""
    equal = len(weights) == 0
    for j in range(len(idx)):
        tot[region[idx[j]]] += 1.0 if equal else weights[j]


@njit(cache=True)
def group_credit(idx, region, weights, per, money, income, market_income, market, income_share) -> None:
    """Pay each household ``idx[j]`` its weight x its province's ``per`` (if positive) as :func:`credit` does:
    to ``money`` (cash or foreign currency), and ``income_share`` of it to (market) income."""
    equal = len(weights) == 0
    for j in range(len(idx)):
        i = idx[j]
        amount = (1.0 if equal else weights[j]) * per[region[i]]
        if amount > 0:
            money[i] += amount
            earned = amount if income_share == 1.0 else amount * income_share
            income[i] = np.float32(income[i] + earned)
            if market:
                market_income[i] = np.float32(market_income[i] + earned)


@njit(cache=True, error_model="numpy")
def share_begin(amounts, left) -> bool:
    """``left[:] = where(amounts > 0, amounts, 0)``; returns ``left.any()``."""
    more = False
    for k in range(len(amounts)):
        left[k] = amounts[k] if amounts[k] > 0 else 0.0
        more = more or left[k] != 0
    return more


@njit(cache=True, error_model="numpy")
def share_group(idx, region, weights, left, paid, money, income, market_income, market, income_share) -> bool:
    """One group of :func:`share_out`: the provinces where the group has weight take what is left there,
    shared by weight (``left / group total`` each unit of weight), and are then done. Returns whether any
    amount is still left."""
    r = len(left)
    tot = np.zeros(r)
    group_totals(idx, region, weights, tot)
    per = np.zeros(r)
    any_ok = False
    for k in range(r):
        if tot[k] > 0 and left[k] > 0:
            per[k] = left[k] / tot[k]
            any_ok = True
    if any_ok:
        group_credit(idx, region, weights, per, money, income, market_income, market, income_share)
        for k in range(r):
            if tot[k] > 0 and left[k] > 0:
                paid[k] += left[k]
                left[k] = 0.0
    more = False
    for k in range(r):
        more = more or left[k] != 0
    return more


@njit(cache=True, error_model="numpy")
def share_rest(region, left, paid, money, income, market_income, market, income_share) -> None:
    """Last resort of :func:`share_out`: what is left in a province goes to all its households equally, paid as
    :func:`credit` pays (no test of the amount's sign)."""
    r = len(left)
    cnt = np.zeros(r)
    for i in range(len(region)):
        if left[region[i]] > 0:
            cnt[region[i]] += 1.0
    for i in range(len(region)):
        k = region[i]
        if left[k] > 0:
            amount = left[k] / cnt[k]
            money[i] += amount
            earned = amount if income_share == 1.0 else amount * income_share
            income[i] = np.float32(income[i] + earned)
            if market:
                market_income[i] = np.float32(market_income[i] + earned)
    for k in range(r):
        if cnt[k] > 0:
            paid[k] += left[k]


def share_out(sim: Sim, amounts: np.ndarray, groups: Sequence[tuple[np.ndarray, np.ndarray | None]],
              market: bool = True, fx: bool = False, income_share: float = 1.0) -> np.ndarray:
    """Pay each province's amount to its households in the first group that has members there.

    ``groups`` is a list of (household indices, weights or None for equal shares); within a group
    a province's amount is shared in proportion to the weights. Whatever no group can take is paid
    to all households of the province (every DPRK province has households), so the whole amount is
    always paid. Returns the amounts paid by province (equal to ``amounts`` for DPRK provinces).
    """
    region = trade_state(sim).region
    r = len(amounts)
    left = np.empty(r)
    paid = np.zeros(r)
    more = share_begin(amounts, left)
    hh = sim.people.households
    money = hh.fx if fx else hh.cash
    for idx, w in groups:
        if not more:
            break
        if len(idx) == 0:
            continue
        if w is None:
            weights = _EQUAL  # empty: equal shares
        elif w.dtype == np.float32 or w.dtype == np.float64:
            weights = w  # read as float64 in the kernel, as w.astype(np.float64) would give
        else:
            weights = w.astype(np.float64)
        more = share_group(idx, region, weights, left, paid, money, hh.income, hh.market_income, market,
                            float(income_share))
    if more:  # last resort: every household of the province, equally
        share_rest(region, left, paid, money, hh.income, hh.market_income, market, float(income_share))
    return paid


_EQUAL = np.ones(0)  # weights of a group sharing equally (see group_totals)


@njit(cache=True, error_model="numpy")
def _charge(idx, amount, cash, fx):
    """:func:`charge` on float64 amounts in one call: each household's amount (at least 0) from its cash, the rest
    from its foreign currency, never below zero (as ``pay_from_households`` on copies written back, so a repeated
    index ends with its last entry's result)."""
    n = len(idx)
    paid = np.empty(n)
    c = np.empty(n)
    f = np.empty(n)
    for j in range(n):
        a = fmax(amount[j], 0.0)
        from_cash = fmin(cash[idx[j]], a)
        c[j] = cash[idx[j]] - from_cash
        from_fx = fmin(fx[idx[j]], a - from_cash)
        f[j] = fx[idx[j]] - from_fx
        paid[j] = from_cash + from_fx
    for j in range(n):
        cash[idx[j]] = c[j]
        fx[idx[j]] = f[j]
    return paid


def charge(sim: Sim, idx: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Take ``amount`` from households ``idx`` (won first, then foreign currency); returns what each paid."""
    hh = sim.people.households
    if (isinstance(amount, np.ndarray) and amount.dtype == np.float64 and amount.shape == idx.shape
            and idx.ndim == 1 and idx.dtype.kind in "iu"):
        return _charge(idx, amount, hh.cash, hh.fx)
    c, f = hh.cash[idx], hh.fx[idx]
    paid = pay_from_households(c, f, amount)
    hh.cash[idx], hh.fx[idx] = c, f
    return paid
