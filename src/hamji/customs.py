"""What Chinese customs records of the goods that cross, and what crosses without a record.

``china_dprk_trade.csv`` is customs data (China's General Administration of Customs, through KOTRA and KITA), so
the model is compared with what China's customs would have recorded of its flows, not with everything that
crosses. Each channel that moves goods across the border has a recorded share ``s`` (``parameters/customs.yaml``,
each with its source); the evasion channel has none (the goods are illegal on both sides of the river):

    exports_recorded   = s_company_exports x exports_usd + s_nk_goods x nk_goods_sold_usd
    exports_unrecorded = (1 - s_company_exports) x exports_usd + (1 - s_nk_goods) x nk_goods_sold_usd
                         + evasion_sales_usd
    exports_all        = exports_usd + nk_goods_sold_usd + evasion_sales_usd
                       = exports_recorded + exports_unrecorded
    imports_recorded   = s_company_imports x company imports + s_wholesale x merchants' wholesale
                         + s_state_imports x the state's imports        (``sim.market``'s arrays)
    imports_unrecorded = imports_usd - imports_recorded

by DPRK province, as the totals are (exports by province of origin, imports by destination). The totals keep their
meaning: ``exports_usd`` is the companies' exports through the crossings, ``imports_usd`` every Chinese good that
enters. Remittances are money, not goods, and have no share here. The engine records these after the modules'
week (:meth:`hamji.sim.Sim.step`) from the region values the modules recorded this week and the market's
counters; a module that is not in the plan contributes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hamji.module import Metric

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

#: the export channels: (metric the module records this week, recorded-share parameter or None: never recorded)
EXPORT_CHANNELS = (
    ("exports_usd", "customs_recorded_company_exports"),
    ("nk_goods_sold_usd", "customs_recorded_nk_goods"),
    ("evasion_sales_usd", None),
)
#: the import channels: (``sim.market`` counter of this week, recorded-share parameter)
IMPORT_CHANNELS = (
    ("imports_company", "customs_recorded_company_imports"),
    ("imports_wholesale", "customs_recorded_wholesale"),
    ("imports_state", "customs_recorded_state_imports"),
)

CUSTOMS_METRICS = (
    Metric("exports_recorded_usd", "US$", "DPRK exports to China that Chinese customs records this week, by province"
           " of origin: the recorded shares of the companies' exports (exports_usd) and of the partners' North Korean"
           " goods (nk_goods_sold_usd); the series compared with china_dprk_trade.csv.", scaled=True),
    Metric("exports_unrecorded_usd", "US$", "DPRK exports to China that cross without a customs record this week, by"
           " province of origin: the unrecorded shares of the companies' exports and the partners' goods, and every"
           " sale of the evasion channel (evasion_sales_usd).", scaled=True),
    Metric("exports_all_usd", "US$", "Every DPRK export to China this week, recorded or not, by province of origin:"
           " exports_usd + nk_goods_sold_usd + evasion_sales_usd (= exports_recorded_usd + exports_unrecorded_usd).",
           scaled=True),
    Metric("imports_recorded_usd", "US$", "Chinese goods entering the North that Chinese customs records this week, by"
           " destination province: the recorded shares of company imports, merchants' wholesale and the state's"
           " imports; the series compared with china_dprk_trade.csv.", scaled=True),
    Metric("imports_unrecorded_usd", "US$", "Chinese goods entering the North without a customs record this week, by"
           " destination province (imports_usd - imports_recorded_usd).", scaled=True),
)


def split(pars, exports: dict[str, np.ndarray], imports: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The week's recorded and unrecorded series (region arrays, simulated US$) from each channel's values (a channel
    missing from ``exports`` or ``imports`` counts as nothing): the formulas of the module docstring."""
    zero = np.zeros(len(next(iter(imports.values()))))
    rec_x, unrec_x, all_x = zero.copy(), zero.copy(), zero.copy()
    for metric, share in EXPORT_CHANNELS:
        v = exports.get(metric)
        if v is None:
            continue
        v = np.nan_to_num(v)
        s = 0.0 if share is None else float(getattr(pars, share))
        rec_x += s * v
        unrec_x += v - s * v
        all_x += v
    rec_m, unrec_m = zero.copy(), zero.copy()
    for counter, share in IMPORT_CHANNELS:
        v = imports[counter]
        s = float(getattr(pars, share))
        rec_m += s * v
        unrec_m += v - s * v
    return {"exports_recorded_usd": rec_x, "exports_unrecorded_usd": unrec_x, "exports_all_usd": all_x,
            "imports_recorded_usd": rec_m, "imports_unrecorded_usd": unrec_m}


def record_customs(sim: Sim) -> None:
    """Record this week's recorded and unrecorded trade (after every module's week, before the results are flushed)."""
    res = sim.results
    exports = {m: v for m, _ in EXPORT_CHANNELS if (v := res.this_week(m)) is not None}
    imports = {c: getattr(sim.market, c) for c, _ in IMPORT_CHANNELS}
    for name, values in split(sim.pars, exports, imports).items():
        res.record(name, values)
