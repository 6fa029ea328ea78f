"""Loaders for the bundled, sourced data (``hamji/data/``, sources in ``hamji/data/SOURCES.md``).

Each loader checks that the file exists and has the columns hamji reads, and fails with a
:class:`~hamji.errors.UserError` naming the file and the missing column, never a bare traceback.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

from hamji.errors import UserError

DATA_DIR = Path(str(resources.files("hamji") / "data"))

#: the columns hamji reads from each bundled file
REQUIRED_COLUMNS: dict[str, list[str]] = {
    "dprk_census_2008.csv": ["unit_system", "unit", "pop_total_2008", "urban_share"],
    "border_crossings.csv": ["crossing_id", "china_prefecture", "dprk_province", "capacity_or_volume"],
    "regions_geo.csv": ["country", "name", "lat", "lon"],
    "china_border_regions.csv": ["unit", "year", "population"],
    "china_dprk_trade.csv": ["year", "china_exports_to_dprk_usd_m", "china_imports_from_dprk_usd_m", "total_usd_m"],
    "china_imports_from_dprk_by_hs.csv": ["hs_code", "label", "year", "china_imports_from_dprk_usd"],
    "defectors.csv": ["year", "arrivals_total"],
    "defector_origins.csv": ["origin_province", "count", "share"],
    "markets_csis_by_province.csv": ["province", "n_markets_geocoded"],
    "markets.csv": ["year", "scope", "province", "n_markets"],
    "food_security.csv": ["period", "measure", "value"],
    "remittances.csv": ["metric", "value", "unit"],
    "prices.csv": ["date", "city", "rice_kpw_per_kg", "kpw_per_usd"],
    "sanctions_events.csv": ["date", "event", "description"],
    "context_figures.csv": ["topic", "figure", "value"],
    "regime_fx_sources.csv": ["period_start", "period_end", "channel", "usd_m", "basis"],
}


#: numeric columns and their units: values must parse as numbers and be non-negative (empty = missing)
NUMERIC_COLUMNS: dict[str, dict[str, str]] = {
    "china_dprk_trade.csv": {"year": "calendar year", "china_exports_to_dprk_usd_m": "US$ million",
                             "china_imports_from_dprk_usd_m": "US$ million", "total_usd_m": "US$ million"},
    "dprk_census_2008.csv": {"pop_total_2008": "persons"},
    "defectors.csv": {"arrivals_total": "persons per year"},
    "china_imports_from_dprk_by_hs.csv": {"year": "calendar year", "china_imports_from_dprk_usd": "US$"},
    "regions_geo.csv": {"lat": "degrees north", "lon": "degrees east"},
    "regime_fx_sources.csv": {"usd_m": "US$ million (a year, or over the period: see basis)"},
}


def load(name: str, data_dir: Path | None = None) -> pd.DataFrame:
    """Read one bundled CSV and check its columns."""
    path = (data_dir or DATA_DIR) / name
    if not path.is_file():
        raise UserError(f"data file {path}: missing (reinstall hamji, or restore the file)")
    try:
        frame = pd.read_csv(path)
    except Exception as exc:
        raise UserError(f"data file {path}: cannot be read as CSV ({exc.__class__.__name__}: {exc})") from None
    missing = [c for c in REQUIRED_COLUMNS.get(name, []) if c not in frame.columns]
    if missing:
        raise UserError(f"data file {path}: missing column(s) {missing}; expected at least {REQUIRED_COLUMNS[name]}")
    for col, unit in NUMERIC_COLUMNS.get(name, {}).items():
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = frame[col].notna() & (values.isna() | (values < 0))
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise UserError(f"data file {path}: column '{col}' ({unit}) must hold non-negative numbers;"
                            f" row {row + 2} has {frame[col].iloc[row]!r}")
        frame[col] = values
    return frame


@cache
def cached(name: str) -> pd.DataFrame:
    """:func:`load` for the bundled copy, read once per process."""
    return load(name)


def trade_series() -> pd.DataFrame:
    """Annual China-DPRK trade in US$ million (rows with at least a total), indexed by year."""
    t = cached("china_dprk_trade.csv")
    t = t[t["total_usd_m"].notna()].set_index("year")
    return t[["china_exports_to_dprk_usd_m", "china_imports_from_dprk_usd_m", "total_usd_m"]].astype(float)


def defector_arrivals() -> dict[int, float]:
    """Defector arrivals in South Korea by calendar year (1999-2001 spread evenly)."""
    d = cached("defectors.csv")
    out: dict[int, float] = {}
    for _, row in d.iterrows():
        if pd.notna(row["year"]):
            out[int(row["year"])] = float(row["arrivals_total"])
        elif str(row["period"]).startswith("1999-2001"):
            for y in (1999, 2000, 2001):
                out[y] = float(row["arrivals_total"]) / 3.0
    return out
