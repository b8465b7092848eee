"""The FastAPI app of the auditor's view, mounted by the Airflow plugin under /auditor.

Every route depends on `access.require_auditor` (Airflow's authentication, then the auditor role):

    GET  /                  the view (?start=YYYY-MM-DD&end=YYYY-MM-DD&source=name)
    GET  /batch?id=…        one batch's drill-down
    GET  /api/summary       the page's figures as JSON (the same numbers, for scripts and tests)
    POST /acknowledge       an auditor's review of a finding (form: kind, key, comment, back)
    GET  /data-docs/{path}  the GX Data Docs site (data/reports/data_docs), read-only
    GET  /static/{name}     plotly.min.js, the view's script and style
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import escape

from community_dw.audit_view import access, figures, findings, render
from community_dw.audit_view.dbt_docs import PROJECT_SLUG
from community_dw.audit_view.store import WarehouseUnavailable, open_store

log = logging.getLogger(__name__)

URL_PREFIX = "/auditor"
Auditor = Annotated[Any, Depends(access.require_auditor)]
_STATIC = {
    "plotly.min.js": ("application/javascript", render.plotly_js),
    "audit_view.js": ("application/javascript", lambda: render.asset("audit_view.js")),
    "audit_view.css": ("text/css", lambda: render.asset("audit_view.css")),
}


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": render.CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
    }


def _base(request: Request) -> str:
    """The app's own URL path (Airflow may be served under a sub-path)."""
    return request.scope.get("root_path", "").rstrip("/") or URL_PREFIX


def _username(user: Any) -> str:
    return user.get_name() if hasattr(user, "get_name") else str(user)


def _period(store, start: date | None, end: date | None) -> figures.Period:
    from community_dw.clock import local_now

    default = figures.default_period(store, local_now().date())
    period = figures.Period(start or default.start, end or default.end)
    if period.end < period.start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "the period ends before it starts")
    return period


def _figures(start: date | None, end: date | None, source: str | None) -> figures.Figures:
    from community_dw.clock import local_now
    from community_dw.contracts import load_contracts

    contracts = load_contracts()
    if source and source not in contracts:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no source named {source!r}")
    with open_store() as store:
        if not store.has_table("audit.batch_ledger"):
            raise WarehouseUnavailable("the warehouse has no audit.batch_ledger yet: no batch was ingested")
        period = _period(store, start, end)
        return figures.compute(store, period, contracts, local_now().replace(tzinfo=None), source or None)


def _selected(
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
    source: Annotated[str | None, Query()] = None,
) -> figures.Figures:
    """The figures a request's query (period and source) selects."""
    return _figures(start, end, source)


# Declared after Auditor in every route's signature, so the role is checked before the warehouse is read.
Selected = Annotated[figures.Figures, Depends(_selected)]


def data_docs_page(batch_id: str) -> Path | None:
    """The newest GX Data Docs page of a batch: validations/<suite>/<run>/<time>/<batch>.html."""
    from community_dw.data_docs import safe_name, site_dir

    pages = sorted(
        (site_dir() / "validations").glob(f"*/*/*/{safe_name(batch_id)}.html"), key=lambda p: p.parent.name
    )
    return pages[-1] if pages else None


def create_app() -> FastAPI:
    app = FastAPI(title="community-dw auditor view", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(WarehouseUnavailable)
    async def unavailable(request: Request, exc: WarehouseUnavailable) -> Response:
        return HTMLResponse(
            f"<p>{escape(str(exc))}</p>", status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers=_headers()
        )

    @app.get("/", response_class=HTMLResponse)
    def view(
        request: Request,
        user: Auditor,
        shown: Selected,
    ) -> Response:
        from community_dw.contracts import load_contracts

        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = render.render(
            shown,
            mode="page",
            user=_username(user),
            base=_base(request),
            all_sources=sorted(load_contracts()),
            back=back,
            dbt_docs_href=f"{_base(request).removesuffix(URL_PREFIX)}/cosmos/{PROJECT_SLUG}/dbt_docs_index.html",
        )
        return HTMLResponse(html, headers=_headers())

    @app.get("/api/summary")
    def summary(
        user: Auditor,
        shown: Selected,
    ) -> Response:
        body = {
            "period": {"start": shown.period.start.isoformat(), "end": shown.period.end.isoformat()},
            "totals": shown.totals(),
            "ledger_rows": len(shown.ledger_rows),
            "ledger_sha256": shown.ledger_sha256,
            "batches": [
                {
                    "source": b.source,
                    "batch_id": b.batch_id,
                    "status": b.status,
                    "balanced": b.proof["balanced"],
                }
                | {k: b.proof[k] for k in ("received", "loaded", "quarantined")}
                for b in shown.batches
            ],
            "anomalies": len(shown.anomalies),
            "access_log": {
                "available": shown.access.available,
                "reason": shown.access.reason,
                "reads": shown.access.total_reads,
                "by_reader": [
                    {k: e[k] for k in ("reader", "relation", "reads", "rows")} for e in shown.access.by_reader
                ],
            },
            "rejections": [
                {k: r[k] for k in ("batch_id", "file", "rejection_rule", "rejection_detail")}
                for r in shown.rejections
            ],
        }
        return JSONResponse(body, headers=_headers())

    @app.get("/batch", response_class=HTMLResponse)
    def batch(request: Request, user: Auditor, id: Annotated[str, Query(max_length=300)]) -> Response:
        with open_store() as store:
            detail = figures.batch_detail(store, id)
            acks = {k: v[0] for k, v in findings.history(store).items()}
        if detail is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such batch in audit.batch_ledger")
        page = data_docs_page(id)
        base = _base(request)
        href = None
        if page is not None:
            from community_dw.data_docs import site_dir

            href = f"{base}/data-docs/{page.relative_to(site_dir()).as_posix()}"
        return HTMLResponse(
            render.render_batch(detail, data_docs_href=href, base=base, acks=acks), headers=_headers()
        )

    @app.post("/acknowledge")
    def acknowledge(
        request: Request,
        user: Auditor,
        kind: Annotated[str, Form(max_length=32)],
        key: Annotated[str, Form(max_length=512)],
        comment: Annotated[str, Form(max_length=findings.MAX_COMMENT)],
        back: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.url.netloc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a review must be posted from the view itself")
        try:
            with open_store(read_only=False) as store:
                findings.acknowledge(store, kind, key, comment, _username(user), access.role_of(user))
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
        base = _base(request)
        target = back if back.startswith(f"{base}/") and "//" not in back else f"{base}/"
        return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)

    @app.get("/data-docs/{path:path}")
    def data_docs(user: Auditor, path: str) -> Response:
        from community_dw.data_docs import site_dir

        root = site_dir()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such Data Docs file")
        headers = {"Content-Security-Policy": render.DATA_DOCS_POLICY, "X-Content-Type-Options": "nosniff"}
        return FileResponse(target, headers=headers)

    @app.get("/static/{name}")
    def static(user: Auditor, name: str) -> Response:
        if name not in _STATIC:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such asset")
        media_type, content = _STATIC[name]
        return Response(content(), media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    return app


def plugin_href() -> str:
    """The view's address for the navigation, under Airflow's base URL path if it has one."""
    from airflow.configuration import conf

    base_path = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{base_path}{URL_PREFIX}/"
