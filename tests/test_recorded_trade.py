"""Recorded and unrecorded trade (hamji/customs.py): what Chinese customs records of each channel, what crosses
without a record, and that only the recorded series meet the customs data (china_dprk_trade.csv)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hamji import data
from hamji.analysis.validation import SERIES, trade_fit, trade_result
from hamji.customs import CUSTOMS_METRICS, EXPORT_CHANNELS, IMPORT_CHANNELS
from hamji.parameters import REGISTRY
from hamji.scenario import EventSpec, Scenario, ScenarioSpec, load_scenario
from hamji.sim import Sim

START, END = dt.date(2000, 1, 3), dt.date(2000, 12, 31)
CHANGE = dt.date(2000, 7, 3)  # the week the scenario below raises a channel's unrecorded share
#: a coal ban from the start, so the evasion channel carries goods in every week of these runs
BANNED = {"ban_coal": True}


def _weekly(sim: Sim, metric: str) -> np.ndarray:
    """Weekly values of ``metric``, every output unit (weeks, units)."""
    res = sim.results
    return res.values[:, :, res._col[metric]]


def _run(scenario: Scenario | None = None, **overrides) -> Sim:
    return Sim(scenario, seed=3, scale=2000, start=START, end=END, overrides={**BANNED, **overrides}).run()


@pytest.fixture(scope="module")
def banned() -> Sim:
    return _run()


def test_recorded_plus_unrecorded_is_the_total_each_week_both_ways(banned: Sim) -> None:
    w = {m: np.nan_to_num(_weekly(banned, m)) for m in ("exports_usd", "nk_goods_sold_usd", "evasion_sales_usd",
                                                        "imports_usd", *(c.name for c in CUSTOMS_METRICS))}
    # every channel carried goods (so each term below can fail)
    dprk = banned.results.unit_names.index("DPRK")
    for m in ("exports_usd", "nk_goods_sold_usd", "evasion_sales_usd", "imports_usd"):
        assert (w[m][:, dprk] > 0).sum() > 40, m
    every = w["exports_usd"] + w["nk_goods_sold_usd"] + w["evasion_sales_usd"]
    np.testing.assert_allclose(w["exports_recorded_usd"] + w["exports_unrecorded_usd"], every, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(w["exports_all_usd"], every, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(w["imports_recorded_usd"] + w["imports_unrecorded_usd"], w["imports_usd"], rtol=1e-12,
                               atol=1e-6)
    # each channel at its declared share (the defaults): the partners' goods and the wholesale are partly unrecorded
    p = banned.pars
    np.testing.assert_allclose(w["exports_recorded_usd"], p.customs_recorded_company_exports * w["exports_usd"]
                               + p.customs_recorded_nk_goods * w["nk_goods_sold_usd"], rtol=1e-12, atol=1e-6)
    imports = (p.customs_recorded_company_imports * np.nan_to_num(_weekly(banned, "company_imports_usd"))
               + p.customs_recorded_wholesale * np.nan_to_num(_weekly(banned, "merchant_wholesale_usd"))
               + p.customs_recorded_state_imports * np.nan_to_num(_weekly(banned, "state_imports_usd")))
    dprk_provinces = [banned.world.names[i] for i in banned.world.dprk]
    cols = [banned.results.unit_names.index(n) for n in dprk_provinces] + [dprk]
    np.testing.assert_allclose(w["imports_recorded_usd"][:, cols], imports[:, cols], rtol=1e-12, atol=1e-6)
    assert (w["imports_unrecorded_usd"][:, dprk] > 0).sum() > 40  # the default wholesale share leaves some unrecorded
    assert banned.books.max_rel_residual < 1e-9


def test_evasion_is_never_recorded(banned: Sim) -> None:
    # with every other channel fully recorded, what crosses without a record is the evasion channel, week by week
    shares = {share: 1.0 for _, share in (*EXPORT_CHANNELS, *IMPORT_CHANNELS) if share is not None}
    full = _run(**shares)
    evasion = np.nan_to_num(_weekly(full, "evasion_sales_usd"))
    assert evasion.sum() > 0
    np.testing.assert_allclose(np.nan_to_num(_weekly(full, "exports_unrecorded_usd")), evasion, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(np.nan_to_num(_weekly(full, "exports_recorded_usd")),
                               np.nan_to_num(_weekly(full, "exports_usd") + _weekly(full, "nk_goods_sold_usd")),
                               rtol=1e-12, atol=1e-6)
    # and with every share at 0, the evasion channel is still all unrecorded: nothing is recorded at all
    none = _run(**{k: 0.0 for k in shares})
    assert np.nansum(_weekly(none, "exports_recorded_usd")) == 0 and np.nansum(_weekly(none, "imports_recorded_usd")) == 0
    # and evasion adds to nothing recorded: the recorded exports are those the channels with a share give
    evasion_sales = np.nan_to_num(_weekly(banned, "evasion_sales_usd"))
    recorded = np.nan_to_num(_weekly(banned, "exports_recorded_usd"))
    p = banned.pars
    rest = (p.customs_recorded_company_exports * np.nan_to_num(_weekly(banned, "exports_usd"))
            + p.customs_recorded_nk_goods * np.nan_to_num(_weekly(banned, "nk_goods_sold_usd")))
    assert evasion_sales.sum() > 0
    np.testing.assert_allclose(recorded, rest, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("share, direction", [("customs_recorded_wholesale", "imports"),
                                              ("customs_recorded_nk_goods", "exports")])
def test_raising_a_channels_unrecorded_share_moves_only_the_unrecorded_series(banned: Sim, share: str,
                                                                              direction: str) -> None:
    low = 0.2 * float(getattr(banned.pars, share))  # four fifths of what was recorded now crosses without a record
    spec = ScenarioSpec(name="less recorded", events=[EventSpec(type="set_parameters", start=CHANGE, params={share: low})])
    changed = _run(Scenario(spec, "test"))
    week = int(np.flatnonzero(banned.dates <= np.datetime64(CHANGE))[-1])
    res = banned.results
    # the model itself does not move: every other metric is the same, bit for bit
    others = [m for m in res.metrics if m not in {c.name for c in CUSTOMS_METRICS}]
    same = res.values[:, :, [res._col[m] for m in others]]
    np.testing.assert_array_equal(same, changed.results.values[:, :, [res._col[m] for m in others]])
    rec, unrec = f"{direction}_recorded_usd", f"{direction}_unrecorded_usd"
    d_rec = np.nan_to_num(_weekly(changed, rec)) - np.nan_to_num(_weekly(banned, rec))
    d_unrec = np.nan_to_num(_weekly(changed, unrec)) - np.nan_to_num(_weekly(banned, unrec))
    assert not d_rec[:week].any() and not d_unrec[:week].any()
    dprk = res.unit_names.index("DPRK")
    assert (d_rec[week:, dprk] < 0).sum() > 10  # less recorded after the change ...
    np.testing.assert_allclose(d_unrec, -d_rec, rtol=1e-9, atol=1e-6)  # ... and exactly that much more unrecorded
    other = "exports" if direction == "imports" else "imports"
    for m in (f"{other}_recorded_usd", f"{other}_unrecorded_usd"):
        np.testing.assert_array_equal(_weekly(changed, m), _weekly(banned, m))


def _annual_from_data(recorded_factor: float, total_factor: float) -> pd.DataFrame:
    """A model whose recorded series are the data times ``recorded_factor`` and whose totals are the data times
    ``total_factor``."""
    t = data.trade_series()
    rows = []
    for y, r in t.iterrows():
        exp = r.china_imports_from_dprk_usd_m if np.isfinite(r.china_imports_from_dprk_usd_m) else r.total_usd_m / 2
        imp = r.total_usd_m - exp
        for metric, v, f in (("exports_recorded_usd", exp, recorded_factor), ("imports_recorded_usd", imp, recorded_factor),
                             ("exports_usd", exp, total_factor), ("exports_all_usd", exp, total_factor),
                             ("imports_usd", imp, total_factor)):
            rows.append(dict(scenario="history", seed=1, year=int(y), region="DPRK", metric=metric, value=v * 1e6 * f))
    return pd.DataFrame(rows)


def test_trade_fit_uses_the_recorded_series() -> None:
    assert all(m.endswith("_recorded_usd") for _, metrics, _ in SERIES for m in metrics)
    # recorded series equal to the customs data fit perfectly, whatever the totals are
    fits = {f.label: f for f in trade_fit(_annual_from_data(1.0, 3.0))}
    total = fits["total trade"]
    assert total.male == pytest.approx(0.0, abs=1e-12) and trade_result(list(fits.values())).passed
    # the totals are kept beside them (three times the data here), not scored
    assert total.total_usd_m == pytest.approx([3 * d for d in total.data_usd_m], rel=1e-12)
    # totals equal to the data do not help when the recorded series are off
    off = trade_fit(_annual_from_data(0.5, 1.0))
    assert next(f for f in off if f.label == "total trade").male == pytest.approx(np.log(2), rel=1e-9)
    assert not trade_result(off).passed


def test_every_share_is_declared_with_a_source_and_history_drops_the_crude_from_2014() -> None:
    for _, share in (*EXPORT_CHANNELS, *IMPORT_CHANNELS):
        if share is None:
            continue
        p = REGISTRY[share]
        assert 0.0 <= p.low and p.high <= 1.0 and p.source
        assert not p.uncertain or (p.low <= p.u_low < p.u_high <= p.high)
    events = [e for e in load_scenario("history").events if "customs_recorded_state_imports" in getattr(e, "params", {})]
    assert [(e.start, e.params["customs_recorded_state_imports"]) for e in events] == [(dt.date(2014, 1, 1), 0.92)]


def test_the_report_and_the_web_compare_the_recorded_series_and_show_the_totals(banned: Sim) -> None:
    from hamji.report import TRADE_LINES
    from hamji.web import figures

    annual = banned.results.annual()
    annual["seed"] = 1
    names = [t.name for t in figures.trade(annual).data]
    assert "model: DPRK exports to China, recorded by customs" in names
    assert "model: DPRK imports from China, total (recorded or not)" in names
    drawn = {m for m, *_ in TRADE_LINES}
    assert drawn == {"exports_recorded_usd", "exports_all_usd", "imports_recorded_usd", "imports_usd"}
