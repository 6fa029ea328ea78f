"""The validation scorecard logic and the data loaders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hamji import data
from hamji.analysis.validation import TRADE_MALE_MAX, trade_fit, trade_result
from hamji.errors import UserError


def _model_from_data(factor: float = 1.0) -> pd.DataFrame:
    t = data.trade_series()
    rows = []
    for y, r in t.iterrows():
        exp = r.china_imports_from_dprk_usd_m if np.isfinite(r.china_imports_from_dprk_usd_m) else r.total_usd_m / 2
        imp = r.total_usd_m - exp
        for metric, v in (("exports_recorded_usd", exp), ("imports_recorded_usd", imp)):  # customs data: the recorded series
            rows.append(dict(scenario="history", seed=1, year=int(y), region="DPRK", metric=metric, value=v * 1e6 * factor))
    return pd.DataFrame(rows)


def test_a_model_equal_to_the_data_fits_perfectly():
    fits = {f.label: f for f in trade_fit(_model_from_data())}
    total = fits["total trade"]
    assert total.male == pytest.approx(0.0, abs=1e-12) and total.correlation == pytest.approx(1.0)
    assert len(total.years) == len(data.trade_series())
    assert trade_result(list(fits.values())).passed


def test_a_model_off_by_half_fails_on_log_error_but_not_correlation():
    fits = trade_fit(_model_from_data(0.5))
    total = next(f for f in fits if f.label == "total trade")
    assert total.male == pytest.approx(np.log(2), rel=1e-9) and total.male > TRADE_MALE_MAX
    assert total.correlation == pytest.approx(1.0)
    assert not trade_result(fits).passed


def test_damaged_data_files_are_refused_clearly(tmp_path):
    (tmp_path / "china_dprk_trade.csv").write_text("year,total\n2003,1\n")
    with pytest.raises(UserError, match=r"china_dprk_trade.csv: missing column\(s\)"):
        data.load("china_dprk_trade.csv", tmp_path)
    with pytest.raises(UserError, match="missing"):
        data.load("defectors.csv", tmp_path)
    (tmp_path / "defectors.csv").write_bytes(b"\x00\x01\xff\xfe")
    with pytest.raises(UserError):
        data.load("defectors.csv", tmp_path)


def test_bundled_data_load_with_the_expected_figures():
    t = data.trade_series()
    assert t.loc[2013, "total_usd_m"] == 6540 and t.loc[2004, "china_imports_from_dprk_usd_m"] == 585
    arrivals = data.defector_arrivals()
    assert arrivals[2009] == 2914 and sum(arrivals[y] for y in (1999, 2000, 2001)) == pytest.approx(1043)


def test_a_trade_figure_that_is_not_a_number_is_refused_with_its_row_and_unit(tmp_path):
    (tmp_path / "china_dprk_trade.csv").write_text(
        "year,china_exports_to_dprk_usd_m,china_imports_from_dprk_usd_m,total_usd_m\n2003,629,395,1019\n2004,799,585,1.38bn\n")
    with pytest.raises(UserError, match=r"'total_usd_m' \(US\$ million\).*row 3 has '1.38bn'"):
        data.load("china_dprk_trade.csv", tmp_path)
    (tmp_path / "china_dprk_trade.csv").write_text(
        "year,china_exports_to_dprk_usd_m,china_imports_from_dprk_usd_m,total_usd_m\n2003,-629,395,1019\n")
    with pytest.raises(UserError, match="non-negative"):
        data.load("china_dprk_trade.csv", tmp_path)
