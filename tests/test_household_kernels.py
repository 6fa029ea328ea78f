"""The household kernels of retail, distribution, enforcement and population equal, bit for bit, the
NumPy code they replaced, with 1 and 2 threads.

Each reference below is that NumPy code (float32 arrays with Python scalars as NumPy computes them
under NEP 50; sums as ``np.bincount`` adds them, in household order). Households are in province
order, as the synthesis stores them; inputs are small random arrays with detained households, every
role, provinces without households and magnitudes over many decades (so that the order of float64
sums matters).

The kernels run over fixed blocks of households in parallel and sum by block; blocks are added
province by province in block order. Each test runs with one block per province (the sums are then
``np.bincount``'s, exactly) and with blocks of 97 households (several per province: the reference
sums each block as ``np.bincount`` does, then adds the blocks in order), each with 1 and 2 threads.
"""

from __future__ import annotations

import numpy as np
import pytest

from hamji import payments, trade
from hamji.kernels import colsum, household_blocks, province_bounds, psum, ratio_or, reduce_blocks, rowsum, share_or
from hamji.modules import enforcement as enf
from hamji.modules import population as popm
from hamji.modules import retail as ret
from hamji.modules import retail_kernels as rk
from hamji.payments import pay_from_households
from hamji.people import ROLE_NONE, ROLE_PRODUCER, ROLE_SELLER, ROLES

SEEDS = range(5)
R = 7  # provinces; province 3 has no households
F32 = np.float32


def households(seed: int, n: int = 3000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    region = np.sort(rng.choice([0, 1, 2, 4, 5, 6], n)).astype(np.int8)
    scale = 10.0 ** rng.uniform(-3, 6, n)
    return {
        "region": region,
        "role": rng.integers(0, len(ROLES), n).astype(np.int8),
        "detained": np.where(rng.random(n) < 0.1, rng.integers(1, 5, n), 0).astype(np.int16),
        "cash": rng.random(n) * scale,
        "fx": np.where(rng.random(n) < 0.5, rng.random(n) * scale, 0.0),
        "income": (rng.random(n) * 10).astype(F32),
        "market_income": (rng.normal(0, 5, n)).astype(F32),
        "consumption": (rng.random(n) * 30).astype(F32),
        "food_ratio": (rng.random(n) * 1.6).astype(F32),
        "rural_size": np.where(rng.random(n) < 0.4, rng.integers(1, 7, n), 0).astype(F32),
        "ties_strength": (rng.random(n) * 3 * (rng.random(n) < 0.7)).astype(F32),
        "knowhow": rng.random(n).astype(F32),
    }


@pytest.fixture(params=[None, 97], ids=["province-blocks", "small-blocks"])
def block(request):
    """Households per block: None for the default (here one block per province), or 97."""
    return request.param


def blocks_of(region: np.ndarray, block: int | None) -> np.ndarray:
    return household_blocks(province_bounds(region, R), block)


def block_sums(values: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Sums by province as the blocked passes make them: each block in household order (as ``np.bincount``
    adds), the blocks of a province added in order."""
    values = np.asarray(values, dtype=np.float64)
    part = np.array([[np.bincount(np.zeros(hi - lo, np.intp), weights=values[lo:hi], minlength=1)[0]]
                     for lo, hi, _ in blocks]).reshape(-1, 1)
    out = np.zeros((R, 1))
    reduce_blocks(part, blocks, out)
    return out[:, 0]


def reduced(part: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """A kernel's sums by block, added by province."""
    out = np.zeros((R,) + part.shape[1:], dtype=part.dtype)
    reduce_blocks(part, blocks, out)
    return out


def same(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(a, b, equal_nan=True), f"{np.count_nonzero(a != b)} of {a.size} differ"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("default", [0.0, 1.0, 1e6, np.nan])
def test_ratio_or_and_share_or_match_the_numpy_expressions(seed, default):
    """Bit for bit, with zero, negative, tiny, huge, NaN and infinite numerators and denominators."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, -1.0, 1e-300, 5e-324, 1e300, np.inf, -np.inf, np.nan, 1.0])
    num = np.concatenate([rng.lognormal(0, 3, 40) * rng.choice([-1, 1], 40), special, rng.choice(special, 20)])
    den = np.concatenate([rng.lognormal(0, 3, 40) * rng.choice([-1, 1, 1], 40), rng.choice(special, 10),
                          rng.choice(special, 20)])
    with np.errstate(all="ignore"):
        want_ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), default)
        want_share = np.where(den > 0, np.minimum(1.0, num / np.where(den > 0, den, 1.0)), default)
    for got, want in ((ratio_or(num, den, default), want_ratio), (share_or(num, den, default), want_share)):
        assert got.dtype == np.float64
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    assert len(ratio_or(np.zeros(0), np.zeros(0))) == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_compiled_sums_add_in_numpys_order(seed):
    """psum, colsum and rowsum equal ``a.sum()``, ``m.sum(axis=0)`` and ``m.sum(axis=1)`` to the bit (sign of zero
    included) for lengths 0-400, magnitudes over 30 decades and special values: the order of a float64 sum
    changes its last bits, and the compiled region-level steps must not."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, 1e-300, 5e-324, 1e300, np.inf, -np.inf, np.nan])

    def draw(shape):
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-15, 15, shape)
        if a.size and rng.random() < 0.3:
            a.flat[rng.integers(0, a.size, 3)] = rng.choice(special, 3)
        if a.size and rng.random() < 0.1:
            a[...] = -0.0
        return a

    def same(got, want):
        return np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))

    with np.errstate(all="ignore"):
        for n in list(range(0, 140)) + list(rng.integers(140, 400, 30)):
            a = draw(n)
            assert same(psum(a), a.sum()), n
        for _ in range(300):
            m = draw(tuple(rng.integers(0, 40, 2)))
            assert same(colsum(m), m.sum(axis=0)), m.shape
            assert same(rowsum(m), m.sum(axis=1)), m.shape


def test_province_bounds_are_slices_and_refuse_another_order():
    region = np.array([0, 0, 2, 2, 2, 3], dtype=np.int8)
    same(province_bounds(region, 5), [0, 2, 2, 5, 6, 6])
    with pytest.raises(ValueError, match="province order"):
        province_bounds(region[::-1].copy(), 5)


@pytest.mark.parametrize("seed", SEEDS)
def test_free_by_role_lists_match_flatnonzero(seed, threads, block):
    h = households(seed)
    ids, starts = trade._free_by_role(blocks_of(h["region"], block), h["role"], h["detained"], len(ROLES))
    for k in range(1, len(ROLES)):
        idx = np.flatnonzero(h["role"] == k)
        same(ids[starts[k]:starts[k + 1]], idx[h["detained"][idx] == 0])
    assert starts[1] == 0  # no list for households without a role


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("income_share", [1.0, 0.3])
def test_group_payments_match_bincount_and_credit(seed, weighted, income_share):
    h = households(seed)
    rng = np.random.default_rng(100 + seed)
    region = h["region"].astype(np.intp)
    idx = np.flatnonzero(rng.random(len(region)) < 0.3)
    w = (rng.random(len(idx)) * 10.0 ** rng.uniform(-4, 4, len(idx))).astype(F32) if weighted else None
    left = np.where(rng.random(R) < 0.8, rng.random(R) * 1e4, 0.0)
    # reference: share_out's body for one group, and credit()
    reg = region[idx]
    weights = np.ones(len(idx)) if w is None else w.astype(np.float64)
    tot_ref = np.bincount(reg, weights=weights, minlength=R)
    ok = (tot_ref > 0) & (left > 0)
    per = np.where(ok, left / np.where(ok, tot_ref, 1.0), 0.0)
    amt = weights * per[reg]
    sel = amt > 0
    cash, income, mi = h["cash"].copy(), h["income"].copy(), h["market_income"].copy()
    cash[idx[sel]] += amt[sel]
    earned = amt[sel] if income_share == 1.0 else amt[sel] * income_share
    income[idx[sel]] += earned
    mi[idx[sel]] += earned
    # kernels
    tot = np.zeros(R)
    kw = np.ones(0) if w is None else weights
    payments.group_totals(idx, region, kw, tot)
    same(tot, tot_ref)
    c2, i2, m2 = h["cash"].copy(), h["income"].copy(), h["market_income"].copy()
    payments.group_credit(idx, region, kw, per, c2, i2, m2, True, income_share)
    same(c2, cash), same(i2, income), same(m2, mi)


def retail_constants(seed: int) -> tuple:
    rng = np.random.default_rng(200 + seed)
    return float(rng.random()), float(rng.random()), float(rng.random() * 20)


def retail_records(h: dict, te: float, ke: float, out_usd: float) -> tuple:
    """The retail kernels' household record (work space zero) and parameter record (the roles' constants; the
    other fields 0), as the kernels take it."""
    n = len(h["region"])
    z32 = np.zeros(n, F32)
    hh = ret.Households(h["region"], np.zeros(n, bool), h["detained"], h["role"], h["rural_size"], h["ties_strength"],
                        h["knowhow"], z32, z32, h["cash"], h["fx"], h["income"], h["market_income"], h["consumption"],
                        h["food_ratio"], z32, z32, z32, z32)
    p = ret.RetailPars(**({n: 0.0 for n in ret.RetailPars._fields}
                          | dict(retail_tie_effect=F32(te), retail_knowhow_effect=F32(ke),
                                 retail_producer_output_usd=F32(out_usd))))
    return hh, ret.as_record(p)


@pytest.mark.parametrize("seed", SEEDS)
def test_retail_free_tally_matches_numpy(seed, threads, block):
    h = households(seed)
    te, ke, out_usd = retail_constants(seed)
    blocks = blocks_of(h["region"], block)
    part = np.zeros((len(blocks), 6))
    hh, p = retail_records(h, te, ke, out_usd)
    rk.free_tally(hh, blocks, p, part)
    out = reduced(part, blocks)
    free = h["detained"] == 0
    seller = (h["role"] == ROLE_SELLER) & free
    prod = (h["role"] == ROLE_PRODUCER) & free
    w_sell = np.where(seller, (1.0 + te * h["ties_strength"]) * (1.0 + ke * h["knowhow"]), 0.0)
    prod_out = np.where(prod, out_usd * (1.0 + ke * h["knowhow"]), 0.0)
    same(out[:, 0], block_sums(free, blocks))
    same(out[:, 1], block_sums(free & (h["role"] == ROLE_NONE), blocks))
    same(out[:, 2], block_sums(np.where(free, h["rural_size"], 0.0), blocks))
    same(out[:, 3], block_sums(seller, blocks))
    same(out[:, 4], block_sums(w_sell, blocks))
    same(out[:, 5], block_sums(prod_out, blocks))
    if block is None:  # one block per province: the sums np.bincount makes
        reg = h["region"]
        same(out[:, 4], np.bincount(reg[seller], weights=w_sell[seller], minlength=R))


@pytest.mark.parametrize("seed", SEEDS)
def test_retail_receipts_credit_and_tally_match_numpy(seed, threads, block):
    h = households(seed)
    te, ke, out_usd = retail_constants(seed)
    rng = np.random.default_rng(300 + seed)
    rates = rng.random((R, 4)) * 10.0 ** rng.uniform(-3, 3, (R, 4))
    blocks = blocks_of(h["region"], block)
    cash, income, mi = h["cash"].copy(), h["income"].copy(), h["market_income"].copy()
    part = np.zeros((len(blocks), 3))
    hh, p = retail_records(dict(h, cash=cash, income=income, market_income=mi), te, ke, out_usd)
    w = np.zeros(R, ret.WEEK)
    for k, name in enumerate(("rate_farm", "rate_idle", "rate_seller", "rate_producer")):
        w[name] = rates[:, k]
    rk.receive_and_tally(hh, blocks, p, w, part)
    out = reduced(part, blocks)
    # reference: day labour and farms, the sellers' and producers' shares added by fancy indexing, credit, tally
    reg, free = h["region"], h["detained"] == 0
    recv = np.where(free, rates[reg, 0] * h["rural_size"] + np.where(h["role"] == ROLE_NONE, rates[reg, 1], 0.0), 0.0)
    sellers = np.flatnonzero((h["role"] == ROLE_SELLER) & free)
    prod = np.flatnonzero((h["role"] == ROLE_PRODUCER) & free)
    w_sell = (1.0 + te * h["ties_strength"][sellers]) * (1.0 + ke * h["knowhow"][sellers])
    prod_out = np.asarray(out_usd * (1.0 + ke * h["knowhow"][prod]), dtype=np.float64)
    recv[sellers] += rates[reg[sellers], 2] * w_sell
    recv[prod] += rates[reg[prod], 3] * prod_out
    same(cash, h["cash"] + recv)
    same(income, (h["income"] + recv).astype(F32))
    same(mi, (h["market_income"] + recv).astype(F32))
    same(out[:, 0], block_sums(income, blocks))
    same(out[:, 1], block_sums(h["consumption"], blocks))
    same(out[:, 2], block_sums(h["food_ratio"] >= 1, blocks))
    if block is None:
        same(out[:, 0], np.bincount(reg, weights=income, minlength=R))
    part2 = np.zeros((len(blocks), 3))
    rk.tally(hh, blocks, part2)
    same(reduced(part2, blocks), out)


@pytest.mark.parametrize("seed", SEEDS)
def test_stall_fees_match_charge(seed):
    h = households(seed)
    rng = np.random.default_rng(400 + seed)
    fee_r = rng.random(R) * 50
    sellers = np.flatnonzero((h["role"] == ROLE_SELLER) & (h["detained"] == 0))
    cash, fx, mi = h["cash"].copy(), h["fx"].copy(), h["market_income"].copy()
    fees = np.zeros(R)
    hh, _ = retail_records(dict(h, cash=cash, fx=fx, market_income=mi), 0.0, 0.0, 0.0)
    rk.stall_fees(sellers, hh, fee_r, fees)
    c, f = h["cash"][sellers], h["fx"][sellers]
    got = pay_from_households(c, f, fee_r[h["region"][sellers]])
    cash_ref, fx_ref, mi_ref = h["cash"].copy(), h["fx"].copy(), h["market_income"].copy()
    cash_ref[sellers], fx_ref[sellers] = c, f
    mi_ref[sellers] -= got.astype(F32)
    same(cash, cash_ref), same(fx, fx_ref), same(mi, mi_ref)
    same(fees, np.bincount(h["region"][sellers], weights=got, minlength=R))


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


@pytest.mark.parametrize("seed", SEEDS)
def test_population_tally_matches_bincount(seed, threads, block):
    h = households(seed)
    blocks = blocks_of(h["region"], block)
    part = np.zeros((len(blocks), len(ROLES) + 2))
    popm._tally(blocks, h["role"], h["cash"], h["fx"], part)
    out = reduced(part, blocks)
    by_role, money, trading = out[:, :len(ROLES)], out[:, len(ROLES)], out[:, len(ROLES) + 1]
    reg, m = h["region"], h["cash"] + h["fx"]
    for k in range(len(ROLES)):
        same(by_role[:, k], np.bincount(reg[h["role"] == k], minlength=R))
    same(money, block_sums(m, blocks))
    same(trading, block_sums(m * (h["role"] != 0), blocks))
    if block is None:
        same(money, np.bincount(reg, weights=m, minlength=R))
