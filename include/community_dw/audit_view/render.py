"""HTML of the auditor's view and of the monthly report: one Jinja template, charts drawn by plotly.js.

Every value reaches the page through Jinja's autoescaping, and chart data through `tojson` inside a
`<script type="application/json">` block (which escapes `<`, `>`, `&` and quotes), so a rejection message
holding `<script>` is shown as text and never runs. The page is served with a Content-Security-Policy
that allows scripts from the view itself only.

plotly.js comes from the `plotly` wheel (MIT licence; `plotly/package_data/plotly.min.js`), so no chart
needs the internet: the page loads it from the plugin, the report inlines it.
"""

from __future__ import annotations

import importlib.resources
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from community_dw.audit_view import access_log
from community_dw.audit_view.figures import Figures
from community_dw.audit_view.freshness import local_from_utc

if TYPE_CHECKING:
    from community_dw.audit_view.findings import Acknowledgement

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
# GX's own pages run inline scripts; they may not call the API or post anywhere from Airflow's origin.
DATA_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'none'; form-action 'none'; frame-ancestors 'self'"
)
INTERVALS_LISTED = 40  # late / missing intervals listed per source; the rest are counted


@cache
def plotly_js() -> str:
    return importlib.resources.files("plotly").joinpath("package_data/plotly.min.js").read_text("utf-8")


@cache
def asset(name: str) -> str:
    return importlib.resources.files("community_dw.audit_view").joinpath(f"assets/{name}").read_text("utf-8")


@cache
def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("community_dw.audit_view", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local_text
    env.filters["num"] = lambda n: "–" if n is None else f"{n:,}"
    env.filters["pct"] = lambda x: "–" if x is None else f"{100 * x:.1f} %"
    return env


def _local_text(value: datetime | None) -> str:
    """An audit timestamp (naive UTC) as local time."""
    local = local_from_utc(value)
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else "–"


def _bar(title: str, x: list, series: dict[str, list], stacked: bool = True) -> dict[str, Any]:
    return {
        "title": title,
        "data": [{"type": "bar", "name": name, "x": x, "y": ys} for name, ys in series.items()],
        "layout": {"barmode": "stack" if stacked else "group"},
    }


def charts(figures: Figures) -> list[dict[str, Any]]:
    """The plotly specs of every chart on the page, in order (plain data, tested without a browser)."""
    specs = []
    for source, days in figures.timeline.items():
        x = [d["day"].isoformat() for d in days]
        specs.append(
            _bar(
                f"{source}: rows per day (ledger)",
                x,
                {k: [d[f"rows {k}"] for d in days] for k in ("loaded", "quarantined", "rejected")},
            )
            | {"section": "timeline"}
        )
    for source, per_day in figures.reasons.items():
        codes = sorted({code for counts in per_day.values() for code in counts})
        x = [d.isoformat() for d in per_day]
        specs.append(
            _bar(
                f"{source}: quarantined rows by reason",
                x,
                {c: [per_day[d][c] for d in per_day] for c in codes},
            )
            | {"section": "reasons"}
        )
    for name, points in figures.band_series.items():
        if not points:
            continue
        x = [p["day"].isoformat() for p in points]
        judged = [p for p in points if p["mean"] is not None]
        data = [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "band high",
                "x": [p["day"].isoformat() for p in judged],
                "y": [p["high"] for p in judged],
                "line": {"width": 0},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "band (14 days, 3σ)",
                "x": [p["day"].isoformat() for p in judged],
                "y": [p["low"] for p in judged],
                "fill": "tonexty",
                "line": {"width": 0},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "value",
                "x": x,
                "y": [p["value"] for p in points],
            },
            {
                "type": "scatter",
                "mode": "markers",
                "name": "anomaly",
                "x": [p["day"].isoformat() for p in points if p["anomalous"]],
                "y": [p["value"] for p in points if p["anomalous"]],
                "marker": {"size": 12, "symbol": "x", "color": "#c0392b"},
            },
        ]
        specs.append({"title": name, "data": data, "layout": {}, "section": "anomalies"})
    if figures.expectations:
        data = [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": source,
                "x": [d["day"].isoformat() for d in days],
                "y": [d["pass_rate"] for d in days],
            }
            for source, days in figures.expectations.items()
        ]
        specs.append(
            {
                "title": "GX expectations passed per day",
                "data": data,
                "layout": {"yaxis": {"tickformat": ".0%", "range": [0, 1.05]}},
                "section": "expectations",
            }
        )
    if figures.dbt_daily:
        days = sorted({d["day"] for series in figures.dbt_daily.values() for d in series})
        failing = {m: s for m, s in figures.dbt_daily.items() if any(d["failed"] for d in s)}
        runs = {d: 0 for d in days}
        fails = {d: 0 for d in days}
        for series in figures.dbt_daily.values():
            for d in series:
                runs[d["day"]] += d["run"]
                fails[d["day"]] += d["failed"]
        x = [d.isoformat() for d in days]
        series = {"passed": [runs[d] - fails[d] for d in days]}
        for model, model_days in failing.items():
            by_day = {d["day"]: d["failed"] for d in model_days}
            series[f"failed: {model}"] = [by_day.get(d, 0) for d in days]
        specs.append(_bar("dbt test results per day (failures by model)", x, series) | {"section": "dbt"})
    for index, spec in enumerate(specs):
        spec["id"] = f"chart-{index}"
    return specs


def render(
    figures: Figures,
    *,
    mode: str,
    user: str | None = None,
    self_contained: bool = False,
    base: str = "",
    all_sources: list[str] = (),
    back: str = "",
    dbt_docs_href: str = "",
) -> str:
    """The page (mode `page`, forms and links to the plugin) or the report (mode `report`).

    `base` is the plugin's URL prefix, `back` the page's own path and query (where a review returns)."""
    specs = charts(figures)
    latest_ack: dict[tuple[str, str], Acknowledgement] = {
        k: v[0] for k, v in figures.acknowledgements.items()
    }
    return (
        _environment()
        .get_template("audit_view.html.j2")
        .render(
            f=figures,
            mode=mode,
            user=user,
            base=base,
            charts=specs,
            by_section=lambda name: [c for c in specs if c["section"] == name],
            acks=latest_ack,
            ack_history=figures.acknowledgements,
            self_contained=self_contained,
            plotly_js=plotly_js() if self_contained else "",
            view_js=asset("audit_view.js") if self_contained else "",
            view_css=asset("audit_view.css"),
            listed=INTERVALS_LISTED,
            listed_reads=access_log.READS_LISTED,
            any_judged=any(p["mean"] is not None for s in figures.band_series.values() for p in s),
            all_sources=list(all_sources),
            back=back,
            dbt_docs_href=dbt_docs_href,
        )
    )


def render_batch(detail: dict[str, Any], *, data_docs_href: str | None, base: str, acks: dict) -> str:
    return (
        _environment()
        .get_template("batch.html.j2")
        .render(
            d=detail,
            b=detail["batch"],
            data_docs_href=data_docs_href,
            base=base,
            acks=acks,
            view_css=asset("audit_view.css"),
        )
    )
