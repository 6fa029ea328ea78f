"""Named records for compiled kernels: a module declares a ``NamedTuple`` class, and kernels receive it packed.

A kernel reads its inputs by name (``p.merchant_margin``, ``hh.cash``) from a record the module builds once. Numba
accepts a ``NamedTuple`` as it is, but types it again at every call, field by field: measured here, a call with a
record of 30 arrays costs 2.8 us against 1.5 us for the same arrays as arguments, and 41 numbers cost about 6 us.
:func:`pack` turns the same record into a Numba ``StructRef`` with the same fields (one typed object: 0.5 us for 30
fields), so kernels keep reading ``r.name`` and the module keeps declaring plain ``NamedTuple`` classes.

Rules: pack a record once (in ``setup`` or ``parameters_changed``; packing costs about 4 us) and pack it again when
one of its arrays is replaced by a new one (in-place changes need nothing). Field types follow the values packed:
``np.float32(x)`` stays float32, a Python float is float64. A parallel kernel unpacks the fields it needs into
local names before its ``prange`` loop (Numba's parallel loops cannot read a StructRef's fields).
The StructRef classes are made once per ``NamedTuple`` class and named after it in its own module, so compiled
kernels that take them can be cached.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, NamedTuple

import numpy as np
from numba import types
from numba.experimental import structref

_STRUCTS: dict[type, type] = {}


def struct_of(record: type[NamedTuple]) -> type:
    """The StructRef proxy class with the fields of the ``NamedTuple`` class ``record`` (made on first use)."""
    proxy = _STRUCTS.get(record)
    if proxy is not None:
        return proxy
    module = sys.modules[record.__module__]
    name = record.__name__

    class RecordType(types.StructRef):
        def preprocess_fields(self, fields: Any) -> tuple:
            return tuple((n, types.unliteral(t)) for n, t in fields)

    class RecordProxy(structref.StructRefProxy):
        def __getattr__(self, field: str) -> Any:  # Python code reads the fields from the record packed
            if field == "record":
                raise AttributeError(field)
            return getattr(self.record, field)

        def __deepcopy__(self, memo: dict) -> Any:  # a forked run: the copy of the record's arrays, packed again
            return pack(copy.deepcopy(self.record, memo))

        def __reduce__(self) -> tuple:
            return pack, (self.record,)

    # named in the record's module, so that the types are importable and the kernels' cache can refer to them
    for cls, suffix in ((RecordType, "Type"), (RecordProxy, "Struct")):
        cls.__name__ = cls.__qualname__ = f"_{name}{suffix}"
        cls.__module__ = record.__module__
        setattr(module, cls.__name__, cls)
    structref.register(RecordType)
    structref.define_proxy(RecordProxy, RecordType, list(record._fields))
    _STRUCTS[record] = RecordProxy
    return RecordProxy


def kernel_record(cls: type) -> type:
    """Class decorator of a record kernels take: makes its StructRef type when the module is imported, so that a
    kernel's cache that names the type can always be read (a missing type would stop the run instead of
    recompiling)."""
    struct_of(cls)
    return cls


def pack(record: NamedTuple) -> Any:
    """``record`` (an instance of a ``NamedTuple`` class) as the StructRef kernels take: same fields, same values
    (read from Python, ``packed.name`` gives the record's value)."""
    packed = struct_of(type(record))(*record)
    packed.record = record
    return packed


def repack(packed: Any, record: type[NamedTuple], *values: Any) -> Any:
    """``packed`` if it already holds exactly ``values`` (the same array objects, equal scalars), else
    ``pack(record(*values))``: for a record of arrays that another module may replace between weeks."""
    if packed is not None and all(a is b or (not isinstance(a, np.ndarray) and a == b) for a, b in zip(packed.record, values)):
        return packed
    return pack(record(*values))
