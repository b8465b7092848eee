"""The monthly data-quality report for the record: one self-contained HTML file and its PDF.

    <data dir>/reports/audit/data-quality-2026-11.html   (CDW_AUDIT_REPORTS_DIR moves the folder)
    <data dir>/reports/audit/data-quality-2026-11.pdf

The HTML carries the same figures as the auditor's view for the month (same code: `figures.compute`,
`render.render`), the period, the generation time, and the sha256 of the ledger rows it covers
(`figures.ledger_sha256`), with plotly.js and the styles inlined so it opens anywhere, offline, years
later. The PDF is printed from that file by headless Chromium (Debian's `chromium`); where no Chromium
is installed the HTML is still written and the PDF step says why it was skipped.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from community_dw import paths
from community_dw.audit_view import figures, render
from community_dw.audit_view.store import open_store
from community_dw.chromium import chromium, headless

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    period: figures.Period
    html: Path
    pdf: Path | None
    ledger_rows: int
    ledger_sha256: str
    generated_at: datetime


def reports_dir() -> Path:
    return Path(os.environ.get("CDW_AUDIT_REPORTS_DIR", paths.data_dir() / "reports" / "audit")).resolve()


def month_before(day: date) -> figures.Period:
    """The calendar month before the one `day` is in (a run on 1 December reports November)."""
    last = day.replace(day=1) - timedelta(days=1)
    return figures.Period(last.replace(day=1), last)


def print_pdf(html: Path, pdf: Path) -> Path | None:
    """Print `html` to `pdf` with headless Chromium, the network cut off (the file needs none)."""
    if chromium() is None:
        log.warning("No Chromium on PATH (Debian: apt-get install chromium): %s has no PDF", html.name)
        return None
    with tempfile.TemporaryDirectory(prefix="cdw-report-chromium-") as profile:
        done = subprocess.run(
            headless(
                profile,
                "--run-all-compositor-stages-before-draw",
                "--virtual-time-budget=15000",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}",
                html.resolve().as_uri(),
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
    if done.returncode != 0 or not pdf.exists():
        raise RuntimeError(f"chromium could not print {html}: {done.stderr[-2000:]}")
    return pdf


def write_report(
    period: figures.Period, now: datetime, folder: Path | None = None, pdf: bool = True
) -> Report:
    """Compute the period's figures, write the HTML (and the PDF) and return what was written."""
    from community_dw.contracts import load_contracts

    folder = folder or reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open_store() as store:
        shown = figures.compute(store, period, load_contracts(), now)
    stem = (
        f"data-quality-{period.start:%Y-%m}"
        if _is_month(period)
        else f"data-quality-{period.start}_{period.end}"
    )
    html = folder / f"{stem}.html"
    partial = html.with_suffix(".html.partial")
    partial.write_text(render.render(shown, mode="report", self_contained=True), encoding="utf-8")
    partial.replace(html)
    printed = print_pdf(html, html.with_suffix(".pdf")) if pdf else None
    log.info(
        "Data-quality report %s: %d ledger rows, sha256 %s", html, len(shown.ledger_rows), shown.ledger_sha256
    )
    return Report(period, html, printed, len(shown.ledger_rows), shown.ledger_sha256, now)


def _is_month(period: figures.Period) -> bool:
    return (
        period.start.day == 1
        and (period.end + timedelta(days=1)).day == 1
        and period.start.month == period.end.month
    )
