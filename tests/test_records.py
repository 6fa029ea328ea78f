"""Named records for kernels (hamji.records): packed records read as the NamedTuple, copy and pickle with the run."""

from __future__ import annotations

import copy
import pickle
from typing import NamedTuple

import numpy as np
from numba import njit

from hamji.records import kernel_record, pack, repack


@kernel_record
class Stock(NamedTuple):
    qty: np.ndarray
    price: np.float32
    on: bool


@njit(cache=False)
def value(r):
    """A kernel reading a record by name."""
    return (r.qty * r.price).sum() if r.on else 0.0


def test_a_packed_record_reads_as_the_namedtuple_in_kernels_and_in_python() -> None:
    rec = Stock(np.arange(4.0), np.float32(1.5), True)
    packed = pack(rec)
    assert value(packed) == value(rec) == 9.0
    assert packed.qty is rec.qty and packed.price == np.float32(1.5) and packed.on is True
    packed.qty[0] = 10.0  # the arrays are shared, not copied
    assert value(packed) == 24.0


def test_deepcopy_and_pickle_give_an_independent_record_of_the_copied_arrays() -> None:
    qty = np.ones(3)
    holder = {"qty": qty, "rec": pack(Stock(qty, np.float32(2.0), True))}
    twin = copy.deepcopy(holder)
    assert twin["rec"].qty is twin["qty"] and twin["qty"] is not qty  # the copy's record points at the copy's array
    twin["qty"][:] = 5.0
    assert value(twin["rec"]) == 30.0 and value(holder["rec"]) == 6.0
    again = pickle.loads(pickle.dumps(holder["rec"]))
    assert value(again) == 6.0


def test_repack_keeps_a_record_whose_arrays_are_the_same_and_makes_a_new_one_otherwise() -> None:
    qty = np.ones(3)
    first = repack(None, Stock, qty, np.float32(1.0), True)
    assert repack(first, Stock, qty, np.float32(1.0), True) is first
    other = repack(first, Stock, qty.copy(), np.float32(1.0), True)
    assert other is not first and value(other) == 3.0
    assert repack(first, Stock, qty, np.float32(2.0), True) is not first
