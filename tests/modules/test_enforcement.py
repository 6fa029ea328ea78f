"""The compiled week of enforcement (``_traders_and_prices``, ``_settle``) equals, bit for bit, the NumPy
formulas it replaced: a reference module written with them runs beside the real one on the same seed, and
households, accounts and results must stay identical week by week (kin help, sealed-border provinces,
political cases, provinces where nobody trades, with nobody free)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from _households import F32, SEEDS, R, blocks_of, households, same
from _security import annual, make_sim

from hamji.accounts import CABINET, KPA
from hamji.modules import enforcement as enf
from hamji.modules.enforcement import Clans, Enforcement, RegionIndex, bribe_prices, inspection_risk, make_clans
from hamji.modules.human_security import HumanSecurity
from hamji.modules.remittances import Remittances
from hamji.parameters import Parameters
from hamji.payments import pay_from_households
from hamji.people import ROLE_NONE, ROLE_SELLER
from hamji.sim import Sim


class NumpyEnforcement(Enforcement):
    """Enforcement's week in NumPy (the formulas of the module docstring, as the module computed them before
    its region-level code was compiled)."""

    def step(self, sim: Sim) -> None:
        pars, hh, res = sim.pars, sim.people.households, sim.results
        index = RegionIndex(self._region, self.n_regions)
        det = hh.detained
        det[det != 0] -= 1
        t_idx = np.flatnonzero((hh.role > 0) & (det == 0))
        a = index.count(t_idx)
        t_reg = self._region[t_idx]
        self.bribe_price = price = bribe_prices(pars, a / np.maximum(self._households, 1.0))
        z = np.zeros(self.n_regions)
        out = {m: z for m in ("inspections", "infractions_found", "political_cases", "bribes_usd", "kin_help_usd",
                              "fines_usd", "detentions")}
        settled = np.zeros((2, self.n_regions))
        if pars.enforcement_on and len(t_idx):
            out, settled = self._inspect_np(sim, index, t_idx, t_reg, a, price)
        spent = self._spend_np(sim, t_idx, t_reg, a)
        for name, v in out.items():
            res.record(name, v)
        res.record("officials_spending_usd", spent)
        res.record("bribe_price_usd", price)
        res.record_ratio("bribe_settled_share", settled[0], settled[1])
        res.record("detained", index.count(np.flatnonzero(det != 0)))

    def _inspect_np(self, sim, index, t_idx, t_reg, a, price):
        pars, hh, acc = sim.pars, sim.people.households, sim.accounts
        r, reg = self.n_regions, self._region
        s_r = pars.border_guard_strength * self.border
        m_r = 1.0 + (pars.border_penalty_multiplier - 1.0) * self.border
        officials = pars.officials_per_1000_households / 1000.0 * self._households * (1.0 + s_r)
        p = inspection_risk(pars.inspection_k, officials, a).astype(np.float32)
        u = sim.rng("enforcement.inspection").random(hh.n, dtype=np.float32, out=self._u)
        ut, pt = u[t_idx], p[t_reg]
        inspected = ut < pt
        inspections = np.bincount(t_reg[inspected], minlength=r).astype(float)
        pf = pt * np.float32(pars.infraction_rate)
        hit = inspected & (ut < pf)
        found_idx, w = t_idx[hit], ut[hit] / pf[hit]
        q = np.full(len(found_idx), pars.political_share)
        kin_abroad = getattr(hh, "kin_abroad", None)
        if kin_abroad is not None:
            q = np.where(kin_abroad[found_idx] > 0, np.minimum(q * pars.kin_abroad_political_multiplier, 1.0), q)
        political = w < q
        w_case = (w[~political] - q[~political]) / np.maximum(1.0 - q[~political], 1e-12)
        pol_idx, case_idx = found_idx[political], found_idx[~political]
        b = price[reg[case_idx]]
        money = hh.cash[case_idx] + hh.fx[case_idx]
        own = money >= b
        need_idx, need, w_need = case_idx[~own], (b - money)[~own], w_case[~own]
        rescued, help_r = np.zeros(len(need_idx), dtype=bool), np.zeros(r)
        if len(need_idx):
            rescued, help_r = self._kin_help_np(sim, need_idx, need, found_idx)
        payer_idx = np.concatenate([case_idx[own], need_idx[rescued]])
        c, f = hh.cash[payer_idx], hh.fx[payer_idx]
        paid = pay_from_households(c, f, price[reg[payer_idx]])
        hh.cash[payer_idx], hh.fx[payer_idx] = c, f
        bribes_r = np.bincount(reg[payer_idx], weights=paid, minlength=r)
        org = bribes_r * pars.bribe_org_share
        acc.to_budget(KPA, org * pars.bribe_kpa_share)
        acc.to_budget(CABINET, org * (1.0 - pars.bribe_kpa_share))
        acc.officials += bribes_r * (1.0 - pars.bribe_org_share)
        unpaid_idx = need_idx[~rescued]
        punished = np.concatenate([unpaid_idx, pol_idx])
        c, f = hh.cash[punished], hh.fx[punished]
        fine_due = np.concatenate([pars.fine_multiple * (price * m_r)[reg[unpaid_idx]],
                                   pars.political_confiscation_share * (c[len(unpaid_idx):] + f[len(unpaid_idx):])])
        fines = pay_from_households(c, f, fine_due)
        hh.cash[punished], hh.fx[punished] = c, f
        fines_r = np.bincount(reg[punished], weights=fines, minlength=r)
        acc.to_budget(CABINET, fines_r)
        p_detain = np.where(s_r > 0, 1.0 - (1.0 - pars.detention_prob) / (1.0 + s_r), pars.detention_prob)[reg[unpaid_idx]]
        detain = unpaid_idx[w_need[~rescued] < p_detain]
        hh.detained[detain] = np.round(pars.detention_weeks * m_r[reg[detain]]).astype(hh.detained.dtype)
        hh.detained[pol_idx] = pars.political_detention_weeks
        out = {"inspections": inspections, "infractions_found": index.count(found_idx),
               "political_cases": index.count(pol_idx), "bribes_usd": bribes_r, "kin_help_usd": help_r,
               "fines_usd": fines_r, "detentions": index.count(detain) + index.count(pol_idx)}
        payers = np.bincount(reg[payer_idx], minlength=r).astype(float)
        return out, np.vstack([payers, index.count(case_idx)])

    def _kin_help_np(self, sim, need_idx, need, cases):
        pars, hh = sim.pars, sim.people.households
        clan = hh.clan
        needy = np.unique(clan[need_idx])
        members = self.clans.members(needy)
        is_case = np.zeros(hh.n, dtype=bool)
        is_case[cases] = True
        donor_idx = members[~is_case[members] & (hh.detained[members] == 0)]
        money = hh.cash[donor_idx] + hh.fx[donor_idx]
        d_pos, n_pos = np.searchsorted(needy, clan[donor_idx]), np.searchsorted(needy, clan[need_idx])
        have = np.bincount(d_pos, weights=money, minlength=len(needy))
        needs = np.bincount(n_pos, weights=need, minlength=len(needy))
        ok = (needs > 0) & (pars.clan_help_share * have >= needs)
        rescued, give_ok = ok[n_pos], ok[d_pos]
        donor_idx, money, dc = donor_idx[give_ok], money[give_ok], d_pos[give_ok]
        give = money * needs[dc] / np.maximum(have[dc], 1e-300)
        c, f = hh.cash[donor_idx], hh.fx[donor_idx]
        given = pay_from_households(c, f, give)
        hh.cash[donor_idx], hh.fx[donor_idx] = c, f
        got = np.bincount(dc, weights=given, minlength=len(needy))
        r_idx, r_pos = need_idx[rescued], n_pos[rescued]
        received = got[r_pos] * need[rescued] / np.maximum(needs[r_pos], 1e-300)
        hh.cash[r_idx] += received
        return rescued, np.bincount(self._region[r_idx], weights=received, minlength=self.n_regions)

    def _spend_np(self, sim, t_idx, t_reg, a):
        acc, hh, pars = sim.accounts, sim.people.households, sim.pars
        spend = acc.officials * pars.officials_spending_rate
        if spend.sum() <= 0:
            return np.zeros(self.n_regions)
        per = spend / np.maximum(a, 1.0)
        hh.cash[t_idx] += per[t_reg]
        hh.income[t_idx] += per.astype(np.float32)[t_reg]
        idle = (a == 0) & (spend > 0)
        if idle.any():
            free_idx = np.flatnonzero(idle[self._region] & (hh.detained == 0))
            n_free = np.bincount(self._region[free_idx], minlength=self.n_regions)
            spend = np.where(idle & (n_free == 0), 0.0, spend)
            amount = np.where(idle, spend / np.maximum(n_free, 1), 0.0)[self._region[free_idx]]
            hh.cash[free_idx] += amount
            hh.income[free_idx] += amount.astype(np.float32)
        acc.officials -= spend
        return spend


STRESS = [
    {},
    dict(officials_per_1000_households=50.0, inspection_k=50.0, infraction_rate=1.0, clan_help_share=0.7,
         border_guard_strength=0.4, border_penalty_multiplier=1.5),
    dict(officials_per_1000_households=30.0, political_share=0.3, kin_abroad_political_multiplier=2.5,
         political_confiscation_share=0.6, fine_multiple=3.0),
    dict(enforcement_on=False),
]


@pytest.mark.parametrize("k", range(len(STRESS)))
def test_compiled_week_equals_the_numpy_formulas(k):
    sims = []
    for cls in (NumpyEnforcement, Enforcement):
        s = Sim(seed=k + 1, scale=2000, start=dt.date(2010, 1, 4), end=dt.date(2010, 12, 27), overrides=STRESS[k],
                modules=[Remittances, cls, HumanSecurity])
        s.initialize()
        hh, rng = s.people.households, np.random.default_rng(k)
        hh.role[:] = np.where(rng.random(hh.n) < 0.4, 1, 0)
        hh.cash *= rng.random(hh.n) * 3  # some can pay, some need kin, some cannot
        hh.fx[:] = np.where(rng.random(hh.n) < 0.1, rng.random(hh.n) * 100, 0.0)
        s.accounts.officials[:] = 50.0
        sims.append(s)
    for week in range(40):
        for s in sims:
            hh = s.people.households
            if week == 10:
                hh.role[np.isin(hh.region, [0, 3, 7])] = 0  # provinces where nobody trades
            if week == 20:
                hh.detained[hh.region == 3] = 2  # ... and nobody is free for two weeks
            s.step()
        a, b = sims
        for name in ("cash", "fx", "income", "detained"):
            assert np.array_equal(getattr(a.people.households, name), getattr(b.people.households, name)), (week, name)
        for name in ("budget", "officials", "state_in"):
            assert np.array_equal(getattr(a.accounts, name), getattr(b.accounts, name)), (week, name)
        assert np.array_equal(a.results.values, b.results.values, equal_nan=True), week
    col, v = a.results._col, a.results.values
    if STRESS[k].get("enforcement_on", True):
        assert np.nansum(v[:, :, col["kin_help_usd"]]) > 0 and np.nansum(v[:, :, col["detentions"]]) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_enforcement_serves_detention_and_lists_traders(seed, threads, block):
    h = households(seed)
    det = h["detained"].copy()
    blocks = blocks_of(h["region"], block)
    t_idx = enf._serve_and_list(blocks, det, h["role"], np.empty(len(det), dtype=np.int32),
                                np.zeros(len(blocks), dtype=np.int64))
    det_ref = h["detained"].copy()
    held = np.flatnonzero(det_ref != 0)
    det_ref[held] -= 1
    traders_ref = h["role"] > 0
    traders_ref[held[det_ref[held] > 0]] = False
    same(det, det_ref), same(t_idx, np.flatnonzero(traders_ref))


@pytest.mark.parametrize("seed", SEEDS)
def test_officials_pay_the_listed_traders_as_two_masked_passes(seed):
    h = households(seed)
    rng = np.random.default_rng(600 + seed)
    per = rng.random(R) * 10.0 ** rng.uniform(-3, 3, R)
    mask = rng.random(len(h["region"])) < 0.4
    idx = np.flatnonzero(mask)
    cash, income = h["cash"].copy(), h["income"].copy()
    enf._pay_listed(idx, h["region"][idx].astype(np.int64), per, per.astype(F32), cash, income)
    cash_ref, income_ref = h["cash"].copy(), h["income"].copy()
    cash_ref[mask] += per[h["region"][mask]]  # the two masked passes the kernel replaced
    income_ref[mask] += per.astype(F32)[h["region"][mask]]
    same(cash, cash_ref), same(income, income_ref)


# -- enforcement and bribery ----------------------------------------------------------------------
def test_clans_are_small_kin_groups_within_a_province():
    s = make_sim()
    hh = s.people.households
    clan = hh.clan
    sizes = np.bincount(clan)
    assert sizes.max() == s.pars.clan_size and (sizes >= 1).all()
    # every clan lies in one province
    first = np.full(clan.max() + 1, -1)
    first[clan] = hh.region
    assert (first[clan] == hh.region).all()
    c = Clans(clan)
    values = np.random.default_rng(0).random(hh.n).astype(np.float32)
    assert np.allclose(c.sum_by_clan(values), np.bincount(clan, weights=values), rtol=1e-5)
    assert sorted(c.members(np.array([3]))) == sorted(np.flatnonzero(clan == 3))


def test_region_index_matches_bincount():
    region = np.repeat(np.array([0, 2, 3, 7]), [5, 3, 0, 4])
    idx = RegionIndex(region, 10)
    v = np.arange(len(region), dtype=float)
    assert np.allclose(idx.sum(v), np.bincount(region, weights=v, minlength=10))
    ids = np.array([1, 6, 7, 9])
    assert np.allclose(idx.count(ids), np.bincount(region[ids], minlength=10))
    assert np.allclose(idx.fill(np.arange(10.0), np.empty(len(region))), region)
    shuffled = RegionIndex(region[::-1].copy(), 10)
    assert not shuffled.ordered and np.allclose(shuffled.sum(v), np.bincount(region[::-1], weights=v, minlength=10))
    mask = np.arange(len(region)) % 2 == 0
    for index, reg in ((idx, region), (shuffled, region[::-1])):
        assert np.allclose(index.regions_of(np.flatnonzero(mask), index.count(np.flatnonzero(mask))), reg[mask])


def certain_inspection(**more):
    """Overrides making every trader inspected and found in breach every week."""
    return dict(officials_per_1000_households=50.0, inspection_k=50.0, infraction_rate=1.0, **more)


def test_a_household_that_can_pay_bribes_instead_of_being_detained():
    s = make_sim(**certain_inspection(political_share=0.0, detention_prob=1.0, clan_help_share=0.0,
                                      officials_spending_rate=0.0))
    hh = s.people.households
    hh.cash[:], hh.fx[:] = 0.0, 0.0
    traders = np.arange(0, hh.n, 37)  # few traders: each is inspected (officials outnumber them)
    hh.role[traders] = ROLE_SELLER
    rich, poor = traders[::2], traders[1::2]
    hh.cash[rich] = 500.0
    s.books.open()  # the test moved money by hand: take the opening balance again
    s.step()
    price = s.modules[1].bribe_price[hh.region[rich]]
    assert (hh.detained[rich] == 0).all()
    assert np.allclose(hh.cash[rich], 500.0 - price)
    assert (hh.detained[poor] == s.pars.detention_weeks).all()
    bribes = s.results.values[0, s.results.unit_names.index("DPRK"), s.results._col["bribes_usd"]]
    assert bribes == pytest.approx(price.sum() * s.scale)
    # the split: half to the organisations (a fifth of that to the KPA), half to officials' pockets
    assert s.accounts.officials.sum() == pytest.approx(0.5 * price.sum())
    assert s.accounts.budget[0] == pytest.approx(0.5 * 0.2 * price.sum())
    assert s.books.max_rel_residual < 1e-9


def test_political_infractions_are_never_bought_off():
    s = make_sim(**certain_inspection(political_share=1.0))
    hh = s.people.households
    traders = np.arange(0, hh.n, 37)
    hh.role[traders] = ROLE_SELLER
    hh.cash[:] = 10_000.0
    s.books.open()
    s.step()
    assert (hh.detained[traders] == s.pars.political_detention_weeks).all()
    assert np.allclose(hh.cash[traders] + hh.fx[traders], 0.0)  # confiscated
    col = s.results._col
    assert s.results.values[0, :, col["bribes_usd"]].max() == 0.0
    assert s.results.values[0, s.results.unit_names.index("DPRK"), col["political_cases"]] == len(traders) * s.scale
    assert s.books.max_rel_residual < 1e-9


def test_defectors_kin_are_safe_while_listed_as_missing():
    def political(multiplier):
        s = make_sim(**certain_inspection(political_share=0.1, kin_abroad_political_multiplier=multiplier))
        hh = s.people.households
        traders = np.arange(0, hh.n, 37)
        hh.role[traders] = ROLE_SELLER
        hh.kin_abroad[:] = 0
        hh.kin_abroad[traders[::2]] = 1
        s.step()
        return (hh.detained[traders[::2]] == s.pars.political_detention_weeks).mean()

    assert political(1.0) < 0.3  # the cover holds: no more risk than anyone else (10%)
    assert political(10.0) == 1.0  # if it failed, every relative of a defector caught would be 'political'


def test_kin_help_buys_a_relative_out():
    s = make_sim(**certain_inspection(political_share=0.0, detention_prob=1.0, clan_help_share=0.5))
    hh = s.people.households
    hh.cash[:], hh.fx[:] = 0.0, 0.0
    hh.role[:] = ROLE_NONE
    clan = hh.clan
    sizes = np.bincount(clan)
    full = np.flatnonzero(sizes == s.pars.clan_size)
    # in half of the full clans one member trades with no money and another member is rich
    traders, helpers, alone = [], [], []
    for k, c in enumerate(full[:40]):
        members = np.flatnonzero(clan == c)
        traders.append(members[0])
        if k % 2 == 0:
            helpers.append(members[1])
        else:
            alone.append(members[0])
    traders, helpers, alone = map(np.array, (traders, helpers, alone))
    hh.role[traders] = ROLE_SELLER
    hh.fx[helpers] = 1000.0
    s.books.open()
    s.step()
    helped = np.setdiff1d(traders, alone)
    assert (hh.detained[helped] == 0).all()
    assert (hh.detained[alone] == s.pars.detention_weeks).all()
    price = s.modules[1].bribe_price[hh.region[helped]]
    assert np.allclose(hh.fx[helpers], 1000.0 - price)
    kin_help = s.results.values[0, s.results.unit_names.index("DPRK"), s.results._col["kin_help_usd"]]
    assert kin_help == pytest.approx(price.sum() * s.scale)
    assert s.books.max_rel_residual < 1e-9


def test_detention_runs_out_and_detained_do_not_trade():
    s = make_sim(enforcement_on=False)
    hh = s.people.households
    hh.role[:] = ROLE_SELLER
    hh.detained[:10] = 3
    for week in range(3):
        s.step()
        assert (hh.detained[:10] == 2 - week).all()
    col, dprk = s.results._col, s.results.unit_names.index("DPRK")
    assert s.results.values[0, dprk, col["detained"]] == 10 * s.scale
    assert s.results.values[2, dprk, col["detained"]] == 0


def test_inspection_risk_falls_as_traders_outnumber_officials():
    def risk(share, seed):
        s = make_sim(seed=seed, scale=1000, end=dt.date(2010, 6, 28), modules=[Enforcement], political_share=0.0)
        hh = s.people.households
        hh.role[:] = np.where(s.streams.get("test.roles").random(hh.n) < share, ROLE_SELLER, ROLE_NONE)
        hh.cash[:] = 1e6
        s.run()
        traders = (hh.role > 0).sum() * s.scale * s.n_weeks
        return annual(s, "inspections").sum() / traders, annual(s, "inspections").sum()

    low, high = np.array([risk(0.1, k) for k in (1, 2, 3)]), np.array([risk(0.5, k) for k in (1, 2, 3)])
    assert low[:, 0].mean() > 1.5 * high[:, 0].mean()  # each trader's risk falls ("safety in numbers")
    assert high[:, 1].mean() > low[:, 1].mean()  # but there are more inspections in all


def test_bribes_rise_with_market_participation():
    def bribes(share, seed):
        s = make_sim(seed=seed, scale=1000, end=dt.date(2010, 6, 28), modules=[Enforcement])
        hh = s.people.households
        hh.role[:] = np.where(s.streams.get("test.roles").random(hh.n) < share, ROLE_SELLER, ROLE_NONE)
        hh.cash[:] = 1e6
        s.run()
        return annual(s, "bribes_usd")[2010], annual(s, "bribe_price_usd")[2010]

    for seed in (1, 2, 3):
        (b_lo, p_lo), (b_hi, p_hi) = bribes(0.1, seed), bribes(0.4, seed)
        assert b_hi > 1.5 * b_lo
        assert p_hi > p_lo
    assert bribe_prices(Parameters(), np.array([0.0, 0.5]))[1] == pytest.approx(8.0 * (1 + 4.0 * 0.5))


def test_make_clans_groups_of_clan_size():
    region = np.repeat(np.arange(3), [7, 10, 1])
    clan = make_clans(region, 3, np.random.default_rng(0).random(len(region)))
    assert np.bincount(clan).tolist() == [3, 3, 1, 3, 3, 3, 1, 1]
