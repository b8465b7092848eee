"""A development and test server for the appeals HTTP JSON API (standard library only).

It serves a tickets file (a JSON array of ticket versions, as the synthetic generator writes it to
`data/sources/api/appeals/tickets.json`) the way the 12345 hotline platform's API does:

    GET /api/v1/tickets?updated_since=<ts>&updated_until=<ts>&page=<n>&page_size=<k>
    Authorization: Bearer <token>                       (only when the server has a token)

    200 {"items": [...], "page": n, "page_size": k, "total": N, "next_page": n + 1 | null}

Items are ordered by (updated_at, ticket_id) and filtered `updated_since <= updated_at < updated_until`;
both bounds are optional. Timestamps are ISO 8601 (`2026-11-01T08:15:00+08:00`) or the feed's own local
form (`2026-11-01 08:15:00`, UTC+8). Pages are 1-based; `page_size` is 1..1000 (default 100). Bad
parameters give 400, a missing or wrong token 401, other paths 404; every error body is
`{"error": ..., "detail": ...}`. The file is re-read when it changes on disk, so a generator can append
days (or a test can rewrite history) while the server runs. `GET /healthz` answers 200 without a token.

Real APIs misbehave, and the client must be proven against that, so the server injects faults,
deterministically and per query (a query = the same `updated_since`, `updated_until` and `page_size`):
the first request for page 2 gets `429 Too Many Requests` with `Retry-After: 1`, the first request for
page 3 gets `500`, and page 4 is always slow (`slow_seconds`, default 1.5 s). `Faults.none()` turns them
off. Hostile behaviours are off unless asked for: `contract_page` with `contract_breach` (one of
`CONTRACT_BREACHES`: an opaque `next_page`, a `total` that is not a number, items that are not objects,
...) breaks that page's contract; `rewind_seconds` answers every query as if `updated_since` were that
much earlier (a cursor going back in time); `trickle_page` sends that page's whole response one byte
every `trickle_interval` seconds (default 0.5 s). `RunningServer.hits` counts responses by status code and `RunningServer.requests` lists them, so a
test can prove that a fault really happened.

Use from Python (tests)::

    with serve(tickets_path, token="s3cret-token") as server:
        server.url        # http://127.0.0.1:<free port>
        server.hits[429]  # how many rate-limit responses were sent

or from a shell (the demo)::

    python -m community_dw_tools.devserver.appeals_api --tickets data/sources/api/appeals/tickets.json \
        --port 8765 --token dev-token
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import threading
import time
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

ENDPOINT = "/api/v1/tickets"
LOCAL_TZ = timezone(timedelta(hours=8), "UTC+08:00")  # the feed's timestamps are local China time
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Faults:
    """Which faults the server injects; a page number of None turns that fault off.

    Each fault is keyed by query, so every distinct pull meets the same faults (the 429 once, the 500
    `error_repeats` times, default once); the slow page is slow on every request, so a client's timeout
    must be longer than the API's worst page.
    """

    rate_limit_page: int | None = 2
    retry_after_seconds: int = 1
    error_page: int | None = 3
    error_repeats: int = 1
    slow_page: int | None = 4
    slow_seconds: float = 1.5
    # Hostile behaviours, all off by default (and in `none()`): a page that breaks the documented
    # paging contract, a cursor that goes back in time, a page trickled out byte by byte.
    contract_page: int | None = None
    contract_breach: str | None = None  # one of CONTRACT_BREACHES
    rewind_seconds: float = 0.0
    trickle_page: int | None = None
    trickle_interval: float = 0.5

    @classmethod
    def none(cls) -> Faults:
        return cls(rate_limit_page=None, error_page=None, slow_page=None, slow_seconds=0.0)


CONTRACT_BREACHES = {
    # page field -> how the page breaks it
    "next_page_opaque": "next_page is an opaque string cursor instead of a page number",
    "next_page_backwards": "next_page points back to page 1 (a paging loop)",
    "total_not_number": "total is a string that is not a number",
    "total_missing": "the page has no total",
    "items_not_list": "items is an object instead of a list",
    "item_not_object": "one of the items is a JSON array instead of an object",
    "item_null": "one of the items is null",
}


@dataclass(frozen=True)
class RequestRecord:
    """One answered request: what was asked for and the status it got."""

    path: str
    page: int | None
    query: tuple[str, str, str] | None
    status: int
    seconds: float


def _breach(body: dict[str, Any], breach: str) -> dict[str, Any]:
    """The page `body` broken the way `breach` names (see CONTRACT_BREACHES)."""
    body = dict(body)
    if breach == "next_page_opaque":
        body["next_page"] = "eyJjdXJzb3IiOiAiMjAyNi0xMS0wMSJ9"  # base64 of a JSON cursor
    elif breach == "next_page_backwards":
        body["next_page"] = 1
    elif breach == "total_not_number":
        body["total"] = "many"
    elif breach == "total_missing":
        del body["total"]
    elif breach == "items_not_list":
        body["items"] = {"count": len(body["items"])}
    elif breach == "item_not_object":
        body["items"] = [*body["items"][:-1], ["not", "an", "object"]]
    elif breach == "item_null":
        body["items"] = [*body["items"][:-1], None]
    else:
        raise ValueError(f"unknown contract breach {breach!r}; known: {sorted(CONTRACT_BREACHES)}")
    return body


class BadRequest(ValueError):
    """A request parameter is invalid (answered with 400)."""


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 or `YYYY-MM-DD HH:MM:SS` timestamp as naive local time (UTC+8).

    Naive values are taken as local time, aware ones are converted to it.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        value = value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return value


class TicketStore:
    """The tickets file, sorted by (updated_at, ticket_id), re-read whenever it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._items: list[dict[str, Any]] = []
        self._updated: list[datetime] = []
        self.skipped = 0  # versions without a usable updated_at (cannot be placed in any interval)
        self.refresh()

    def refresh(self) -> None:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp == self._stamp:
                return
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(document, list):
                raise ValueError(f"{self.path}: expected a JSON array of ticket versions")
            keyed: list[tuple[datetime, str, dict[str, Any]]] = []
            skipped = 0
            for item in document:
                try:
                    keyed.append((parse_timestamp(str(item["updated_at"])), str(item["ticket_id"]), item))
                except (KeyError, TypeError, ValueError):
                    skipped += 1
            keyed.sort(key=lambda k: (k[0], k[1]))
            self._items = [k[2] for k in keyed]
            self._updated = [k[0] for k in keyed]
            self._stamp = stamp
            self.skipped = skipped
            if skipped:
                log.warning("%s: %d versions without a valid updated_at are not served", self.path, skipped)
            log.info("Serving %d ticket versions from %s", len(self._items), self.path)

    def select(self, since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
        """The versions with `since <= updated_at < until`, in (updated_at, ticket_id) order."""
        self.refresh()
        with self._lock:
            lo = bisect_left(self._updated, since) if since is not None else 0
            hi = bisect_left(self._updated, until) if until is not None else len(self._updated)
            return self._items[lo:hi]


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values or values[-1].strip() == "":
        return None
    return values[-1]


def _int_param(query: dict[str, list[str]], name: str, default: int, lo: int, hi: int | None) -> int:
    text = _param(query, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {text!r}") from None
    if value < lo or (hi is not None and value > hi):
        raise BadRequest(f"{name} must be between {lo} and {hi or 'any'}, got {value}")
    return value


def _time_param(query: dict[str, list[str]], name: str) -> datetime | None:
    text = _param(query, name)
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise BadRequest(f"{name} is not an ISO 8601 timestamp: {text!r}") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, store: TicketStore, token: str | None, faults: Faults) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.token = token
        self.faults = faults
        self.hits: Counter[int] = Counter()
        self.requests: list[RequestRecord] = []
        self.fired: Counter[tuple[str, tuple[str, str, str], int]] = Counter()
        self.stats_lock = threading.Lock()
        self.stopping = threading.Event()  # ends a trickling answer when the server stops

    def due(self, fault: str, query: tuple[str, str, str], page: int, times: int = 1) -> bool:
        """True for the first `times` requests of this page of this query (then never again)."""
        with self.stats_lock:
            key = (fault, query, page)
            if self.fired[key] >= times:
                return False
            self.fired[key] += 1
            return True

    def count(self, status: int) -> None:
        """Counted before the response is written, so a client never sees a response not yet counted."""
        with self.stats_lock:
            self.hits[status] += 1

    def record(self, record: RequestRecord) -> None:
        with self.stats_lock:
            self.requests.append(record)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API behind a proxy
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server_version = "AppealsDevServer/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        page: int | None = None
        key: tuple[str, str, str] | None = None
        status = HTTPStatus.OK
        try:
            if url.path == "/healthz":
                status = self._send(HTTPStatus.OK, {"status": "ok"})
                return
            if url.path.rstrip("/") != ENDPOINT:
                status = self._error(HTTPStatus.NOT_FOUND, "not_found", f"no such endpoint {url.path}")
                return
            if not self._authorized():
                status = self._error(
                    HTTPStatus.UNAUTHORIZED,
                    "unauthorized",
                    "a valid 'Authorization: Bearer <token>' header is required",
                    {"WWW-Authenticate": 'Bearer realm="appeals"'},
                )
                return
            query = parse_qs(url.query, keep_blank_values=True)
            try:
                page = _int_param(query, "page", 1, 1, None)
                page_size = _int_param(query, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
                since = _time_param(query, "updated_since")
                until = _time_param(query, "updated_until")
            except BadRequest as exc:
                status = self._error(HTTPStatus.BAD_REQUEST, "bad_request", str(exc))
                return
            key = (
                _param(query, "updated_since") or "",
                _param(query, "updated_until") or "",
                str(page_size),
            )
            status = self._answer(key, page, page_size, since, until)
        except (BrokenPipeError, ConnectionResetError):
            log.info("client went away before the answer to %s was sent", self.path)
            status = HTTPStatus.REQUEST_TIMEOUT  # recorded only: nothing could be sent
        finally:
            self.server.record(RequestRecord(url.path, page, key, int(status), time.monotonic() - started))

    def _answer(
        self,
        key: tuple[str, str, str],
        page: int,
        page_size: int,
        since: datetime | None,
        until: datetime | None,
    ) -> HTTPStatus:
        faults = self.server.faults
        if page == faults.rate_limit_page and self.server.due("rate_limit", key, page):
            return self._error(
                HTTPStatus.TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry after the time in Retry-After",
                {"Retry-After": str(faults.retry_after_seconds)},
            )
        if page == faults.error_page and self.server.due("error", key, page, faults.error_repeats):
            return self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "upstream database timeout"
            )
        if page == faults.slow_page and faults.slow_seconds > 0:
            time.sleep(faults.slow_seconds)
        if since is not None and until is not None and until < since:
            return self._error(HTTPStatus.BAD_REQUEST, "bad_request", "updated_until is before updated_since")
        if since is not None and faults.rewind_seconds:
            # a cursor that went back in time: the query is answered as if it started earlier
            # (consistently on every page, so total and pages still add up)
            since -= timedelta(seconds=faults.rewind_seconds)
        selected = self.server.store.select(since, until)
        start = (page - 1) * page_size
        items = selected[start : start + page_size]
        more = start + page_size < len(selected)
        body: dict[str, Any] = {
            "items": items,
            "page": page,
            "page_size": page_size,
            "total": len(selected),
            "next_page": page + 1 if more else None,
        }
        if page == faults.contract_page and faults.contract_breach:
            body = _breach(body, faults.contract_breach)
        trickle = faults.trickle_interval if page == faults.trickle_page else None
        return self._send(HTTPStatus.OK, body, trickle=trickle)

    def _authorized(self) -> bool:
        if not self.server.token:
            return True
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

    def _error(
        self, status: HTTPStatus, error: str, detail: str, headers: dict[str, str] | None = None
    ) -> HTTPStatus:
        return self._send(status, {"error": error, "detail": detail}, headers)

    def _send(
        self,
        status: HTTPStatus,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        trickle: float | None = None,
    ) -> HTTPStatus:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if trickle is not None:
            return self._trickle(status, payload, trickle)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.server.count(int(status))
        self.wfile.write(payload)
        return status

    def _trickle(self, status: HTTPStatus, payload: bytes, interval: float) -> HTTPStatus:
        """The whole response (status line, headers, body) one byte every `interval` seconds: every
        single read is quick, so only a client with a total deadline gives up."""
        head = (
            f"HTTP/1.1 {int(status)} {status.phrase}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode("ascii")
        self.server.count(int(status))
        self.close_connection = True
        response = head + payload
        for index in range(len(response)):
            if self.server.stopping.is_set():
                break
            self.wfile.write(response[index : index + 1])
            self.wfile.flush()
            time.sleep(interval)
        return status


@dataclass
class RunningServer:
    """A server answering in a background thread; also a context manager that stops it on exit."""

    httpd: _Server
    thread: threading.Thread
    url: str
    _stopped: bool = field(default=False, repr=False)

    @property
    def hits(self) -> Counter[int]:
        """Responses sent so far, by HTTP status code."""
        return self.httpd.hits

    @property
    def requests(self) -> list[RequestRecord]:
        return self.httpd.requests

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.httpd.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    tickets_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    faults: Faults | None = None,
) -> RunningServer:
    """Start the server in a background thread (port 0 picks a free port) and return at once."""
    httpd = _Server((host, port), TicketStore(Path(tickets_path)), token, faults or Faults())
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="appeals-devserver", daemon=True
    )
    thread.start()
    bound_host, bound_port = httpd.server_address[:2]
    return RunningServer(httpd=httpd, thread=thread, url=f"http://{bound_host}:{bound_port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m community_dw_tools.devserver.appeals_api",
        description="Serve a tickets JSON file as the paginated appeals API (development and tests only).",
    )
    parser.add_argument("--tickets", required=True, type=Path, help="JSON array of ticket versions")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--token",
        default=os.environ.get("CDW_APPEALS_API_TOKEN"),
        help="require 'Authorization: Bearer <token>' (default: $CDW_APPEALS_API_TOKEN; none = open)",
    )
    parser.add_argument("--no-faults", action="store_true", help="no 429, 500 or slow pages")
    parser.add_argument("--slow-seconds", type=float, default=Faults.slow_seconds)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    faults = Faults.none() if args.no_faults else Faults(slow_seconds=args.slow_seconds)
    server = serve(args.tickets, host=args.host, port=args.port, token=args.token, faults=faults)
    log.info(
        "Appeals API on %s%s (token %s, faults %s); Ctrl-C stops it",
        server.url,
        ENDPOINT,
        "required" if args.token else "not required",
        "off" if args.no_faults else faults,
    )
    try:
        while server.thread.is_alive():
            server.thread.join(timeout=0.5)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
