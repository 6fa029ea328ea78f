"""The run report: one self-contained HTML page (inline SVG charts, no network needed).

It shows what the run knows: population and market roles by region, and, where the mechanisms
record them, human security, trade against the real China-DPRK series, regime revenue, markets,
bribes and remittances. Charts whose metrics a run lacks are skipped. It says plainly that the
output is a scenario, not a forecast.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from hamji import data
from hamji.version import VERSION

if TYPE_CHECKING:  # pragma: no cover
    from hamji.sim import Sim

GROUP_COLORS = {"HamJi": "#c0392b", "Rest of DPRK": "#2c3e50", "DPRK": "#7f8c8d", "Jilin": "#16a085"}
plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "hamji"})


def figure_svg(fig: plt.Figure) -> str:
    """A matplotlib figure as inline SVG text (no date, so a page is reproducible); the figure is closed."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]


def _series(annual: pd.DataFrame, metric: str, region: str) -> pd.Series:
    s = annual[(annual.metric == metric) & (annual.region == region)]
    return s.set_index("year").value


def _has(annual: pd.DataFrame, metric: str) -> bool:
    return bool((annual.metric == metric).any())


def shock_marks(sim: Sim) -> list[tuple[float, str]]:
    """The scenario's dated events inside the run, as (fractional year, label), one per type and year.

    Charts draw them as dotted lines, so a reader sees where each shock or programme starts (and ends,
    for those with an end) against the series it moves.
    """
    first, last = sim.start.year, sim.end.year + 1
    marks: dict[tuple[str, int], tuple[float, str]] = {}
    for e in sim.events:
        for day, what in ((e.start, ""), (e.end, " ends")):
            if day is None:
                continue
            x = day.year + (day.timetuple().tm_yday - 1) / 365.25
            # named shocks and programmes are labelled; background changes of parameters (dated estimates of
            # an inflow, say) get an unlabelled line and are listed in the events table
            label = "" if e.type == "set_parameters" else f"{e.type.replace('_', ' ')}{what} {day:%Y-%m}"
            if first <= x < last:
                marks.setdefault((label.rsplit(" ", 1)[0] or f"{x}", day.year), (x, label))
    return sorted(marks.values())


def _draw_marks(ax, marks: list[tuple[float, str]]) -> None:
    for x, label in marks:
        ax.axvline(x, color="#888" if label else "#ccc", ls=":", lw=0.9, zorder=0)
        if label:
            ax.text(x, 1.0, f" {label}", transform=ax.get_xaxis_transform(), rotation=90, va="top", ha="right",
                    fontsize=6, color="#666")


def _lines(annual: pd.DataFrame, metrics: Iterable[tuple[str, str, str]], title: str, ylabel: str,
           scale: float = 1.0, extra=None, marks: list[tuple[float, str]] = ()) -> str | None:
    items = [(m, r, label) for m, r, label in metrics if _has(annual, m)]
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    _draw_marks(ax, marks)
    by_group = len({r for _, r, _ in items}) == len(items)  # one line per group: the group's colour
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (m, r, label) in enumerate(items):
        s = _series(annual, m, r) / scale
        color = GROUP_COLORS.get(r) if by_group else palette[k % len(palette)]
        ax.plot(s.index, s.values, label=label, color=color, lw=1.6)
    if extra is not None:
        extra(ax)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.25)
    return figure_svg(fig)


def _population_chart(annual: pd.DataFrame, sim: Sim) -> str:
    first = annual.year.min()
    pop = annual[(annual.metric == "population") & (annual.year == first)].set_index("region").value
    regions = [sim.world.names[i] for i in sim.world.dprk]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    hamji = set(sim.world.names[i] for i in sim.world.groups.get("HamJi", []))
    ax.barh(regions, pop.reindex(regions).values / 1e6, color=["#c0392b" if r in hamji else "#2c3e50" for r in regions])
    ax.invert_yaxis()
    ax.set_xlabel("million persons (2008 census, civilians)")
    ax.set_title("Population by province (red: HamJi)", loc="left", fontsize=10)
    return figure_svg(fig)


def _roles_chart(annual: pd.DataFrame) -> str | None:
    from hamji.modules.population import ROLE_METRICS

    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.0), sharey=True)
    for ax, group in zip(axes, ("HamJi", "Rest of DPRK")):
        total = _series(annual, "households", group)
        if total.empty:
            plt.close(fig)
            return None
        shares = [(m.removeprefix("households_").replace("_", " "), _series(annual, m, group) / total) for m in ROLE_METRICS[1:]]
        ax.stackplot(total.index, *[s.values * 100 for _, s in shares], labels=[n for n, _ in shares])
        ax.set_title(f"{group}: households in a market role (%)", loc="left", fontsize=9)
        ax.grid(alpha=0.25)
    axes[1].legend(frameon=False, fontsize=7, loc="upper left")
    return figure_svg(fig)


def _trade_extra(ax) -> None:
    t = data.trade_series()
    ax.scatter(t.index, t.china_imports_from_dprk_usd_m, marker="o", s=14, color="#e67e22", label="data: DPRK exports to China")
    ax.scatter(t.index, t.china_exports_to_dprk_usd_m, marker="s", s=14, color="#8e44ad", label="data: DPRK imports from China")


#: the trade chart's lines: (metric, label, colour, line style): what Chinese customs records, compared with the data
#: (customs data), solid; the totals, recorded or not, dashed in the same colour
TRADE_LINES = (
    ("exports_recorded_usd", "model: exports recorded by Chinese customs", "#e67e22", "-"),
    ("exports_all_usd", "model: total exports, recorded or not", "#e67e22", "--"),
    ("imports_recorded_usd", "model: imports recorded by Chinese customs", "#8e44ad", "-"),
    ("imports_usd", "model: total imports, recorded or not", "#8e44ad", "--"),
)


def _trade_chart(annual: pd.DataFrame, marks: list[tuple[float, str]]) -> str | None:
    """China-DPRK trade: the model's series Chinese customs records against the data (customs data), with the model's
    totals beside them."""
    items = [line for line in TRADE_LINES if _has(annual, line[0])]
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    _draw_marks(ax, marks)
    for m, label, color, style in items:
        v = _series(annual, m, "DPRK") / 1e6
        ax.plot(v.index, v.values, label=label, color=color, ls=style, lw=1.6 if style == "-" else 1.1)
    _trade_extra(ax)
    ax.set_title("China-DPRK trade, US$ million a year (data: Chinese customs; compare the solid lines)", loc="left",
                 fontsize=10)
    ax.set_ylabel("US$ million")
    ax.legend(frameon=False, fontsize=7)
    ax.grid(alpha=0.25)
    return figure_svg(fig)


def render_report(sim: Sim, annual: pd.DataFrame) -> str:
    """The HTML report of a finished run."""
    marks = shock_marks(sim)
    charts: list[tuple[str, str | None]] = [
        ("Population", _population_chart(annual, sim)),
        ("Market roles", _roles_chart(annual)),
        ("Human security", _lines(annual, [("hsi_mean", g, g) for g in ("HamJi", "Rest of DPRK")]
                                  + [("hsi_participants", "HamJi", "HamJi participants"),
                                     ("hsi_nonparticipants", "HamJi", "HamJi non-participants")],
                                  "Human security index (mean, 0-1)", "index", marks=marks)),
        ("Trade", _trade_chart(annual, marks)),
        ("Regime revenue", _lines(annual, [("leader_fund_usd", "DPRK", "leader's accounts"), ("budget_kpa_usd", "DPRK", "KPA"),
                                           ("budget_kwp_usd", "DPRK", "KWP"), ("budget_cabinet_usd", "DPRK", "Cabinet")],
                                  "Money to the leader's accounts and the branches' budgets, US$ million a year",
                                  "US$ million", scale=1e6, marks=marks)),
        ("Markets", _lines(annual, [("markets_official", "DPRK", "official markets"), ("markets_adhoc", "DPRK", "ad hoc markets")],
                           "Markets (count)", "markets", marks=marks)),
        ("Bribes and remittances", _lines(annual, [("bribes_usd", g, f"bribes, {g}") for g in ("HamJi", "Rest of DPRK")]
                                          + [("remittances_usd", g, f"remittances, {g}") for g in ("HamJi", "Rest of DPRK")],
                                          "Bribes paid and remittances received, US$ million a year", "US$ million", scale=1e6,
                                          marks=marks)),
        ("Food", _lines(annual, [("food_secure_share", g, g) for g in ("HamJi", "Rest of DPRK")],
                        "Share of households eating what they need", "share", marks=marks)),
    ]
    first, last = int(annual.year.min()), int(annual.year.max())
    key_metrics = [m for m in ("population", "households", "participants_share", "hsi_mean", "exports_recorded_usd",
                               "exports_all_usd", "exports_usd", "imports_recorded_usd", "imports_usd", "leader_fund_usd",
                               "bribes_usd", "remittances_usd") if _has(annual, m)]
    rows = []
    for m in key_metrics:
        spec = sim.results.metrics[m]
        cells = "".join(f"<td>{_fmt(_series(annual, m, g).get(y))}</td>" for g in ("HamJi", "Rest of DPRK", "DPRK") for y in (first, last))
        rows.append(f"<tr><th title='{html.escape(spec.doc)}'>{m}</th><td>{html.escape(spec.unit)}</td>{cells}</tr>")
    head = "".join(f"<th>{g} {y}</th>" for g in ("HamJi", "Rest of DPRK", "DPRK") for y in (first, last))
    body = "\n".join(f"<section><h2>{html.escape(t)}</h2>{c}</section>" for t, c in charts if c)
    events = "".join(f"<tr><th>{html.escape(e.type)}</th><td>{e.start}</td><td>{e.end or '&ndash;'}</td>"
                     f"<td style='text-align:left'>{html.escape(', '.join(f'{k}={v}' for k, v in e.params.items()))}</td></tr>"
                     for e in sim.events)
    events = (f"<h2>Events of the scenario (dotted lines on the charts)</h2><table><tr><th>event</th><th>start</th>"
              f"<th>end</th><th>parameters</th></tr>{events}</table>") if events else ""
    man = sim.manifest()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hamji run: {html.escape(sim.scenario.name)}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
h1{{font-size:1.5em}} h2{{font-size:1.1em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}}
.note{{background:#fff6e5;border-left:4px solid #e67e22;padding:.6em 1em}}
table{{border-collapse:collapse;font-size:.85em}} td,th{{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}}
th:first-child{{text-align:left}} svg{{max-width:100%;height:auto}} code{{background:#f4f4f4;padding:0 .3em}}
</style></head><body>
<h1>hamji run: scenario <code>{html.escape(sim.scenario.name)}</code></h1>
<p>{html.escape(sim.scenario.spec.description.strip())}</p>
<p class="note"><b>This is a scenario, not a forecast.</b> The model represents mechanisms described in
Park (2009), "Understanding New Opportunities to Enhance Human Security in the DPRK", with
parameters from public data and stated assumptions. Read differences between scenarios, with their
uncertainty over seeds, rather than any single level.</p>
<p>Seed {sim.seed} &middot; scale 1:{sim.scale} ({sim.people.households.n:,} simulated households) &middot;
{man['start']} to {man['end']} ({man['weeks']} weeks) &middot; hamji {VERSION} &middot;
wall time {man['wall_time_s']:.1f} s &middot; books balanced to {man['books_max_relative_residual']:.1e} (relative)</p>
<h2>Key figures (annual)</h2>
<table><tr><th>metric</th><th>unit</th>{head}</tr>
{"".join(rows)}
</table>
{events}
{body}
<h2>Files in this folder</h2>
<ul><li><code>series.parquet</code>: weekly values, columns date, region, metric, value</li>
<li><code>annual.csv</code>: calendar-year values (flows summed, levels averaged)</li>
<li><code>manifest.json</code>: version, scenario, every resolved parameter, seed, scale, dates</li></ul>
<p>Metric definitions and units: <code>docs/metrics.md</code> in the hamji repository.</p>
</body></html>
"""


def _fmt(v) -> str:
    if v is None or pd.isna(v):
        return "&ndash;"
    v = float(v)
    if abs(v) >= 1e9:
        return f"{v / 1e9:,.2f} bn"
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.1f} M"
    if abs(v) >= 1e3:
        return f"{v:,.0f}"
    return f"{v:.3g}"
