"""The web app's charts (plotly): the province map, lines with seed bands, trade against the data,
and the comparison's trade-off, differences over time and maps of differences.

Everything here is a pure function of result tables (the ``annual.csv`` of an experiment's runs,
with a ``seed`` column) and returns a plotly figure; the app turns them into HTML that uses the
plotly.js shipped with the plotly package, so no chart needs the internet. The map draws the
province polygons shipped in ``provinces.geojson`` (OpenStreetMap, ODbL) as filled shapes on plain
axes: no map tiles, no base map to download.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from hamji import data
from hamji.analysis.stats import CONFIDENCE, t_half_width
from hamji.modules import PLAN
from hamji.sim import CORE_METRICS
from hamji.world import build_world

#: colours of the output groups, as in the static report
GROUP_COLORS = {"HamJi": "#c0392b", "Rest of DPRK": "#2c3e50", "DPRK": "#7f8c8d", "Jilin": "#16a085"}
MAP_ATTRIBUTION = "Province shapes © OpenStreetMap contributors (ODbL)"
#: lon/lat aspect: at 40°N a degree of longitude is cos(40°) of a degree of latitude
LAT_OF_MAP = 40.0
LAYOUT = dict(margin=dict(l=50, r=20, t=50, b=40), template="plotly_white", font=dict(size=12), height=380)
#: ticks on a calendar-year axis: about this many at most, on whole years
YEAR_TICKS = 10


def years_axis(years: pd.Series) -> dict:
    """A calendar-year axis: ticks on whole years (every year for short runs), no thousands separator."""
    span = int(years.max() - years.min()) if len(years) else 1
    return dict(title="year", tickformat="d", dtick=max(1, -(-span // YEAR_TICKS)))


@functools.lru_cache(maxsize=1)
def provinces() -> dict:
    """The shipped province shapes (GeoJSON, one MultiPolygon per hamji region)."""
    return json.loads((resources.files("hamji.web") / "provinces.geojson").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def china_points() -> dict[str, tuple[float, float]]:
    """(lon, lat) of the Chinese border areas, from the world hamji builds."""
    w = build_world()
    return {w.names[i]: (float(w.lon[i]), float(w.lat[i])) for i in range(len(w.names)) if w.country[i] == 1}


@functools.lru_cache(maxsize=1)
def metric_units() -> dict[str, str]:
    """Unit of every metric a run records (as docs/metrics.md lists them)."""
    return {m.name: m.unit for m in [*CORE_METRICS, *(m for cls in PLAN for m in cls.metrics)]}


def read_annual(folders: list[Path]) -> pd.DataFrame:
    """The ``annual.csv`` of several run folders, with their seeds (from each manifest)."""
    frames = []
    for folder in folders:
        a = pd.read_csv(folder / "annual.csv")
        a.insert(0, "seed", int(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["seed"]))
        frames.append(a)
    return pd.concat(frames, ignore_index=True)


def _html_color(value: float, lo: float, hi: float, scale: str) -> str:
    t = 0.5 if not np.isfinite(value) or hi <= lo else float(np.clip((value - lo) / (hi - lo), 0, 1))
    return sample_colorscale(scale, [t])[0] if np.isfinite(value) else "#dddddd"


def province_map(values: dict[str, float], title: str, unit: str = "", diverging: bool = False) -> go.Figure:
    """The DPRK provinces coloured by ``values`` (by region name), the Jilin border areas as marked points.

    ``diverging`` centres the colours on zero (for differences between scenarios).
    """
    dprk = {f["properties"]["name"] for f in provinces()["features"]}
    finite = [v for k, v in values.items() if np.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    scale = "RdBu" if diverging else "Viridis"
    if diverging:
        m = max(abs(lo), abs(hi)) or 1.0
        lo, hi = -m, m
    fig = go.Figure()
    for f in provinces()["features"]:
        name = f["properties"]["name"]
        v = values.get(name, np.nan)
        color = _html_color(v, lo, hi, scale)
        for poly in f["geometry"]["coordinates"]:
            ring = np.asarray(poly[0])
            fig.add_trace(go.Scatter(x=ring[:, 0], y=ring[:, 1], fill="toself", fillcolor=color, mode="lines",
                                     line=dict(color="white", width=1), name=name, showlegend=False, hoveron="fills",
                                     hoverinfo="text", text=f"{name}: {_fmt(v)} {unit}"))
    china = china_points()
    names = [n for n in china if n in values or n not in dprk]
    cv = [values.get(n, np.nan) for n in names]
    fig.add_trace(go.Scatter(x=[china[n][0] for n in names], y=[china[n][1] for n in names], mode="markers+text",
                             text=names, textposition="top center", showlegend=False,
                             hovertext=[f"{n} (China): {_fmt(v)} {unit}" for n, v in zip(names, cv)], hoverinfo="text",
                             marker=dict(symbol="square", size=14, line=dict(color="#333", width=1),
                                         color=[_html_color(v, lo, hi, scale) for v in cv])))
    # an invisible trace carries the colour bar
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(colorscale=scale, cmin=lo, cmax=hi, color=[lo], showscale=True,
                                         colorbar=dict(title=unit, thickness=12))))
    fig.update_layout(**{**LAYOUT, "height": 460}, title=dict(text=title, font=dict(size=13)),
                      xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x",
                                                            scaleratio=1 / np.cos(np.radians(LAT_OF_MAP))),
                      annotations=[dict(text=f"{MAP_ATTRIBUTION}.<br>Squares: Chinese border areas (Jilin; Dandong in Liaoning).",
                                        x=0, y=-0.02, xref="paper", yref="paper", showarrow=False, font=dict(size=9),
                                        xanchor="left", yanchor="top")])
    return fig


def map_values(annual: pd.DataFrame, metric: str, year: int) -> dict[str, float]:
    """Mean over seeds of ``metric`` in ``year`` by region (groups left out)."""
    a = annual[(annual.metric == metric) & (annual.year == year)]
    return a.groupby("region").value.mean().to_dict()


def _band(annual: pd.DataFrame, metric: str, region: str) -> pd.DataFrame:
    """Per year: mean, lowest and highest over seeds."""
    a = annual[(annual.metric == metric) & (annual.region == region)]
    return a.groupby("year").value.agg(["mean", "min", "max"])


def _add_band(fig: go.Figure, band: pd.DataFrame, name: str, color: str, scale: float = 1.0) -> None:
    x = list(band.index) + list(band.index[::-1])
    y = list(band["max"] / scale) + list(band["min"][::-1] / scale)
    fig.add_trace(go.Scatter(x=x, y=y, fill="toself", fillcolor=_alpha(color), mode="lines", line=dict(width=0), hoverinfo="skip",
                             showlegend=False, name=f"{name} range"))
    fig.add_trace(go.Scatter(x=band.index, y=band["mean"] / scale, mode="lines", name=name, line=dict(color=color, width=2)))


def _alpha(color: str, a: float = 0.2) -> str:
    c = color.lstrip("#")
    return f"rgba({int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{a})"


def lines(annual: pd.DataFrame, metric: str, regions: list[str], unit: str) -> go.Figure:
    """``metric`` by year for each region: the mean over seeds and a band from the lowest to the highest seed."""
    fig = go.Figure()
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    for k, r in enumerate(regions):
        band = _band(annual, metric, r)
        if not band.empty:
            _add_band(fig, band, r, GROUP_COLORS.get(r, palette[k % len(palette)]))
    seeds = annual.seed.nunique()
    fig.update_layout(**LAYOUT, title=dict(text=f"{metric} ({unit}): mean over {seeds} seed(s), band = lowest to highest seed",
                                           font=dict(size=13)), xaxis=years_axis(annual.year), yaxis_title=unit)
    return fig


#: the trade figure's model series: (recorded by Chinese customs: a seed band, compared with the data; the total,
#: recorded or not: a dashed mean line; label; colour)
TRADE_SERIES = (
    ("exports_recorded_usd", "exports_all_usd", "DPRK exports to China", "#e67e22"),
    ("imports_recorded_usd", "imports_usd", "DPRK imports from China", "#8e44ad"),
)


def trade(annual: pd.DataFrame) -> go.Figure:
    """The model's China-DPRK trade as Chinese customs records it (seed bands) against the real series, which are
    customs data (points), with the model's totals, recorded or not (dashed), US$ million a year."""
    fig = go.Figure()
    for recorded, total, label, color in TRADE_SERIES:
        band = _band(annual, recorded, "DPRK")
        if not band.empty:
            _add_band(fig, band, f"model: {label}, recorded by customs", color, 1e6)
        tot = _band(annual, total, "DPRK")
        if not tot.empty:
            fig.add_trace(go.Scatter(x=tot.index, y=tot["mean"] / 1e6, mode="lines", name=f"model: {label}, total (recorded or not)",
                                     line=dict(color=color, width=1.2, dash="dash")))
    t = data.trade_series()
    t = t[(t.index >= annual.year.min()) & (t.index <= annual.year.max())]
    fig.add_trace(go.Scatter(x=t.index, y=t.china_imports_from_dprk_usd_m, mode="markers", name="data: DPRK exports",
                             marker=dict(color="#e67e22", symbol="circle", size=8)))
    fig.add_trace(go.Scatter(x=t.index, y=t.china_exports_to_dprk_usd_m, mode="markers", name="data: DPRK imports",
                             marker=dict(color="#8e44ad", symbol="square", size=8)))
    fig.update_layout(**LAYOUT, title=dict(text="China-DPRK trade, US$ million a year: model as customs records it (seed bands), its totals"
                                                " (dashed) and customs data (points)",
                                           font=dict(size=13)), xaxis=years_axis(annual.year), yaxis_title="US$ million")
    return fig


def tradeoff(diffs: pd.DataFrame, hsi: str, revenue: str, years: tuple[int, int]) -> go.Figure:
    """Human security gained against regime revenue added, one point per scenario with 90% intervals."""
    fig = go.Figure()
    for scen, g in diffs.groupby("scenario", sort=False):
        x, y = g[g.outcome == revenue].iloc[0], g[g.outcome == hsi].iloc[0]
        fig.add_trace(go.Scatter(x=[x.mean_change], y=[y.mean_change], mode="markers+text", text=[scen], name=scen,
                                 textposition="top right",
                                 error_x=dict(type="data", symmetric=False, array=[x.high90 - x.mean_change],
                                              arrayminus=[x.mean_change - x.low90]),
                                 error_y=dict(type="data", symmetric=False, array=[y.high90 - y.mean_change],
                                              arrayminus=[y.mean_change - y.low90]), marker=dict(size=10)))
    fig.add_hline(y=0, line=dict(color="#999", width=1))
    fig.add_vline(x=0, line=dict(color="#999", width=1))
    fig.update_layout(**LAYOUT, title=dict(text=f"The trade-off, {years[0]}-{years[1]}: human security gained against regime"
                                                 " revenue added (90% intervals)", font=dict(size=13)),
                      xaxis_title=revenue + " (added)", yaxis_title=f"{hsi} (gained, index points)")
    return fig


def paired_by_year(annual: pd.DataFrame, reference: str, metric: str, region: str) -> pd.DataFrame:
    """Each scenario minus the reference, seed by seed, per year: mean and 90% interval (Student t over seeds)."""
    a = annual[(annual.metric == metric) & (annual.region == region)]
    wide = a.pivot_table(index=["seed", "year"], columns="scenario", values="value")
    rows = []
    for scen in [c for c in wide.columns if c != reference]:
        d = (wide[scen] - wide[reference]).dropna()
        for year, g in d.groupby(level="year"):
            half = t_half_width(g.to_numpy(), CONFIDENCE)
            rows.append({"scenario": scen, "year": year, "mean": g.mean(), "low": g.mean() - half, "high": g.mean() + half})
    return pd.DataFrame(rows, columns=["scenario", "year", "mean", "low", "high"])


def differences_over_time(annual: pd.DataFrame, reference: str, metric: str, region: str, unit: str,
                          years: tuple[int, int]) -> go.Figure:
    """Each scenario minus the reference, year by year, with 90% bands; the evaluation window shaded."""
    d = paired_by_year(annual, reference, metric, region)
    fig = go.Figure()
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for k, (scen, g) in enumerate(d.groupby("scenario", sort=False)):
        band = g.set_index("year").rename(columns={"low": "min", "high": "max"})
        _add_band(fig, band.fillna({"min": band["mean"], "max": band["mean"]}), scen, palette[k % len(palette)])
    fig.add_hline(y=0, line=dict(color="#999", width=1))
    fig.add_vrect(x0=years[0] - 0.5, x1=years[1] + 0.5, fillcolor="#f1c40f", opacity=0.12, line_width=0,
                  annotation_text=f"evaluation years {years[0]}-{years[1]}", annotation_position="top left")
    fig.update_layout(**LAYOUT, title=dict(text=f"{metric}, {region}: each scenario minus {reference}, year by year"
                                                f" ({annual.year.min()}-{annual.year.max()}), 90% bands", font=dict(size=13)),
                      xaxis=years_axis(annual.year), yaxis_title=f"difference ({unit})")
    return fig


def difference_values(annual: pd.DataFrame, reference: str, scenario: str, metric: str, years: tuple[int, int]) -> dict[str, float]:
    """By region: the mean over seeds of (scenario minus reference), averaged over ``years``."""
    a = annual[(annual.metric == metric) & annual.year.between(*years) & annual.scenario.isin([reference, scenario])]
    per = a.groupby(["scenario", "seed", "region"]).value.mean().unstack("scenario")
    if scenario not in per or reference not in per:
        return {}
    return (per[scenario] - per[reference]).groupby("region").mean().to_dict()


def _fmt(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "no value"
    a = abs(v)
    return f"{v / 1e9:,.2f} bn" if a >= 1e9 else f"{v / 1e6:,.2f} M" if a >= 1e6 else f"{v:,.0f}" if a >= 1e3 else f"{v:.3g}"


def to_html(fig: go.Figure, div_id: str) -> str:
    """The figure as a ``<div>`` and the script that draws it (plotly.js is loaded once by the page)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


# -- the analyses' charts ------------------------------------------------------------------------------

def _interval(v: pd.Series, low: pd.Series, high: pd.Series) -> dict:
    """Plotly error bars from an interval [low, high] around v (none where the interval is missing)."""
    return dict(type="data", symmetric=False, array=(high - v).clip(lower=0).fillna(0).to_list(),
                arrayminus=(v - low).clip(lower=0).fillna(0).to_list(), thickness=1, width=3)


def morris_chart(indices: pd.DataFrame, outcome: str, confidence: float) -> go.Figure:
    """Morris screening of one outcome: μ* against σ, one labelled point per parameter with μ*'s interval
    (σ is undefined for groups: then μ* bars with their intervals)."""
    d = indices[indices.outcome == outcome]
    ms = d[d["index"] == "mu_star"].set_index("param").sort_values("value", ascending=False)
    sigma = d[d["index"] == "sigma"].set_index("param").value.reindex(ms.index)
    fig = go.Figure()
    title = f"Morris screening: {outcome}"
    if sigma.isna().any():
        fig.add_trace(go.Bar(x=ms.value, y=ms.index, orientation="h", marker_color="#c0392b",
                             error_x=_interval(ms.value, ms.low, ms.high), name="μ*"))
        fig.update_layout(yaxis=dict(autorange="reversed"), xaxis_title=f"μ* with its {confidence:.0%} interval")
    else:
        fig.add_trace(go.Scatter(x=ms.value, y=sigma, mode="markers+text", text=list(ms.index), textposition="top right",
                                 marker=dict(size=10, color="#c0392b"), error_x=_interval(ms.value, ms.low, ms.high),
                                 name="parameters", hovertemplate="%{text}: μ* %{x:.4g}, σ %{y:.4g}<extra></extra>"))
        lim = float(max(ms.value.max(), sigma.max(), 1e-300))
        fig.add_trace(go.Scatter(x=[0, lim], y=[0, lim], mode="lines", line=dict(color="#999", dash="dash", width=1),
                                 name="σ = μ*", hoverinfo="skip"))
        fig.update_layout(xaxis_title=f"μ* (mean absolute effect of a move across the plausible range; {confidence:.0%} interval)",
                          yaxis_title="σ (non-linearity, interactions)")
    fig.update_layout(**{**LAYOUT, "height": max(380, 40 + 26 * len(ms)) if sigma.isna().any() else 420},
                      title=dict(text=title, font=dict(size=13)), showlegend=False)
    return fig


def index_bars(indices: pd.DataFrame, outcome: str, confidence: float) -> go.Figure:
    """Sobol' S1 and ST (or delta and S1) of one outcome: a pair of bars per parameter with their intervals,
    parameters by their total effect."""
    d = indices[indices.outcome == outcome]
    method = str(d.method.iloc[0])
    first, second = ("ST", "S1") if method == "sobol" else ("delta", "S1")
    order = d[d["index"] == first].sort_values("value", ascending=False).param.tolist()
    fig = go.Figure()
    for idx, color in ((second, "#2c7fb8"), (first, "#c0392b")):
        sub = d[d["index"] == idx].set_index("param").reindex(order)
        fig.add_trace(go.Bar(x=sub.value, y=order, orientation="h", name=idx, marker_color=color,
                             error_x=_interval(sub.value, sub.low, sub.high)))
    fig.update_layout(**{**LAYOUT, "height": max(380, 60 + 44 * len(order))}, barmode="group",
                      title=dict(text=f"{'Sobol' if method == 'sobol' else 'delta'} indices with {confidence:.0%} intervals:"
                                      f" {outcome}", font=dict(size=13)),
                      yaxis=dict(autorange="reversed"), xaxis_title="share of the outcome's variance")
    fig.add_vline(x=0, line=dict(color="#999", width=1))
    return fig


def frontier_chart(table: pd.DataFrame, oy, ox, label, scale) -> go.Figure:
    """The policy search's trade-off: every design evaluated (grey), the Pareto front (joined, with its trial
    numbers and 90% intervals) and the reference scenarios (red diamonds, named); y the first objective, x the
    second (``label`` and ``scale`` are :mod:`hamji.analysis.policy`'s axis titles and unit factors)."""
    fy, fx = scale(oy), scale(ox)
    d = table[table.kind == "design"]
    front = d[d.pareto.astype(bool)].sort_values(ox.name)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=d[ox.name] * fx, y=d[oy.name] * fy, mode="markers", name="designs evaluated",
                             marker=dict(size=8, color="#bbb"), text=d.description,
                             hovertemplate="%{text}<extra>trial</extra>"))

    def bars(frame: pd.DataFrame, o, f: float) -> dict:
        if f"{o.name}_low" not in frame or o.outcome is None:
            return {}
        return _interval(frame[o.name] * f, frame[f"{o.name}_low"] * f, frame[f"{o.name}_high"] * f)

    fig.add_trace(go.Scatter(x=front[ox.name] * fx, y=front[oy.name] * fy, mode="lines+markers+text", name="Pareto front",
                             text=[str(int(t)) for t in front.trial], textposition="top left", customdata=front.description,
                             marker=dict(size=9, color="#1f77b4"), line=dict(color="#1f77b4"),
                             error_x=bars(front, ox, fx), error_y=bars(front, oy, fy),
                             hovertemplate="trial %{text}: %{customdata}<extra></extra>"))
    refs = table[table.kind == "reference"]
    fig.add_trace(go.Scatter(x=refs[ox.name] * fx, y=refs[oy.name] * fy, mode="markers+text", name="reference scenarios",
                             text=[n.removeprefix("ref-") for n in refs.design], textposition="bottom right",
                             marker=dict(symbol="diamond", size=11, color="#c0392b"), customdata=refs.description,
                             hovertemplate="%{text}: %{customdata}<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="#999", width=1))
    fig.add_vline(x=0, line=dict(color="#999", width=1))
    fig.update_layout(**{**LAYOUT, "height": 460}, xaxis_title=label(ox), yaxis_title=label(oy),
                      title=dict(text="The front: designs no other design beats on every objective (red: fixed scenarios)",
                                 font=dict(size=13)))
    return fig
