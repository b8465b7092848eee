"""Pull ticket versions from the appeals HTTP JSON API and land them as an immutable batch.

The API is paginated and incremental by `updated_at` (see `community_dw_tools.devserver.appeals_api`
for the protocol). One batch is one data interval: every version with `interval_start <= updated_at <
interval_end`, pulled page by page, de-duplicated and written to landing as JSON Lines with a manifest
the client computes (the API sends none):

    landing/appeals/2026-11-01T0815/appeals_2026-11-01T0815.jsonl      one version per line
    landing/appeals/2026-11-01T0815/appeals_2026-11-01T0815.jsonl.ok   rows, sha256, interval, pages, ...

The batch id is `appeals/2026-11-01T08:15` (interval start in local time, UTC+8, to the minute). Like a
file drop, landing never overwrites: a rerun that receives the same bytes reuses the landed copy, and a
rerun that receives other bytes for a closed interval (the API rewrote history) is rejected with
REPLAY_CONTENT_CHANGED; the new content is kept beside the landed copy for the conversation with the
producer. An interval without any version is a valid, empty batch.

Where the API is and how to authenticate come from an Airflow connection (default `cdw_appeals_api`):
host, port and schema make the base URL and the password is the bearer token; the connection's extra
may set `timeout` (seconds per request) and `verify`/`proxies` like any HTTP connection. Production
points at the real platform by defining the connection differently, without code changes. For example::

    AIRFLOW_CONN_CDW_APPEALS_API='{"conn_type": "http", "host": "127.0.0.1", "port": 8765,
                                   "schema": "http", "password": "<token>"}'

`HttpHook` is used outside a running task too (tests, CLI): in Airflow 3.3 its `get_connection` goes
through the Task SDK, which reads `AIRFLOW_CONN_*` environment variables and the configured secrets
backends without a task context (checked with apache-airflow 3.3.2 / providers-http 6.3.0). The hook
builds the session (base URL, TLS, proxies, extra headers) and sends each request (`run_and_check`).

Retries are tenacity's (`RetryPolicy.retrying`), around one whole attempt: send, read and parse the
page. Not urllib3's `Retry` mounted through `HttpHook(adapter=...)`: it retries inside one `send`,
where it cannot see that a status-200 body is not JSON (a proxy's HTML page), sleeps a long
`Retry-After` out instead of failing the pull, and cannot stop a wait that would end past the page's or
the run's deadline. Nor the hook's own tenacity retry (`run_with_advanced_retry`): it opens a new
session per attempt and turns an error response into an exception without its headers, so it cannot
honour `Retry-After`. The header itself is parsed by urllib3 (`Retry.parse_retry_after`). Paging is
`PageNumberPaginator`, the one paging scheme this API has, in the shape of dlt's paginators.

A hostile or broken API is met as follows (issue 14):

- a page that is JSON but breaks the paging contract (`items` not a list of objects, `total` missing or
  not a non-negative integer, `next_page` not a later page number or null, e.g. an opaque cursor) is
  not retried: `fetch` raises ApiContractViolation naming the URL (without secrets), the page and the
  field, and `land_http_api` turns it into BatchRejected with rule API_CONTRACT (recorded in the ledger
  by `ingest.land`); the page as received is kept in landing beside the batch's file. Only the JSON
  type of an offending value is reported, never the value.
- the window is exact: a version whose `updated_at` lies outside `[interval_start, interval_end)` is not
  landed, whatever the server's cursor or filter did; the log says how many and their time range, and
  the manifest counts them (`outside_window_dropped`). Unreadable `updated_at` values are landed and
  left to the gate.
- `RetryPolicy.timeout_seconds` bounds each socket operation only; `page_deadline_seconds` (one page,
  all its attempts and waits; default 600 s) and `run_deadline_seconds` (the whole pull; default 1 h)
  bound wall-clock time: a request still running at its deadline is cut off and DeadlineExceeded names
  the page. The contract's options may set both (and `timeout_seconds`).

The incremental cursor (`advance_cursor`, `read_cursor`) is the largest `updated_at` landed so far per
source, kept in `<data dir>/state/cursors.json`; every landing advances it, a backfill of an old
interval never moves it back. Nothing in the pipeline reads it: each scheduled run owns its data
interval (which is what makes reruns idempotent) and a catch-up run names its window in the run's conf.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import tenacity
from filelock import FileLock
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

from community_dw import paths
from community_dw.clock import LOCAL_TZ, to_local  # the API's timestamps are local time without an offset
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, SourceNotReady
from community_dw.transports.base import (
    LandedBatch,
    ReplayChanged,
    keep_immutably,
    keep_rejected,
    write_bytes,
)

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "cdw_appeals_api"
DEFAULT_ENDPOINT = "/api/v1/tickets"
FEED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MANIFEST_SUFFIX = ".ok"
CURSOR_LOCK_TIMEOUT_SECONDS = 60.0
MAX_PAGES = 100_000  # a guard against an API whose next_page never ends
API_CONTRACT = "API_CONTRACT"  # the rule of a page that breaks the API's documented paging contract
_SECRET_PARAMS = ("token", "key", "secret", "password", "signature", "sig", "auth", "credential")
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_RETRY_AFTER = Retry(
    retry_after_max=10**9
)  # its Retry-After parser only; uncapped: RetryPolicy refuses long waits


class ApiError(RuntimeError):
    """The API did not deliver a page: names the URL, the page, the status and the number of attempts."""

    def __init__(
        self, message: str, *, url: str, page: int | None, status: int | None, attempts: int
    ) -> None:
        super().__init__(message)
        self.url = url
        self.page = page
        self.status = status
        self.attempts = attempts


class ApiContractViolation(ApiError):
    """A page broke the documented paging contract (`next_page`, `total`, `items`): not retried, since
    the API answers the same again; `land_http_api` turns it into a BatchRejected with rule
    API_CONTRACT. `field` names the offending page field (`next_page`, `total`, `items`, `items[3]`);
    nothing of the delivered values is kept, only their JSON type."""

    def __init__(self, message: str, *, url: str, page: int | None, field: str, body: bytes = b"") -> None:
        super().__init__(message, url=url, page=page, status=200, attempts=1)
        self.field = field
        self.body = body  # the page as received, for the conversation with the producer (landing only)


class DeadlineExceeded(ApiError):
    """A page or the whole pull took longer than its wall-clock deadline (`RetryPolicy`)."""


class _Transient(Exception):
    """An attempt a retry can fix (429, 5xx, a status-200 body that is not a JSON object, a timeout, a
    dropped connection). The message is what went wrong; `retry_after` the server's Retry-After, if any."""

    def __init__(self, message: str, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def safe_url(url: str) -> str:
    """`url` without user information and without query parameters that look like secrets."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = [
        (k, "***" if any(word in k.lower() for word in _SECRET_PARAMS) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


def _json_type(value: Any) -> str:
    """The JSON type of a delivered value (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _retry_after(response: requests.Response) -> float | None:
    """The response's Retry-After in seconds (delta-seconds or an HTTP date; urllib3 parses it), or
    None if absent or unreadable."""
    header = response.headers.get("Retry-After")
    if not header:
        return None
    try:
        return float(_RETRY_AFTER.parse_retry_after(header))
    except InvalidHeader:
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one page: up to `max_attempts` for 429, 5xx, a status-200 body that is not a JSON
    object, timeouts and connection errors; any other status fails at once.

    The wait before retry n (1-based) is `backoff_seconds * 2 ** (n - 1)`, capped at
    `max_backoff_seconds`; a `Retry-After` header, when sent, sets the wait instead (a server asking for
    more than `max_retry_after_seconds` fails the pull: the task's own retry comes back later).

    `timeout_seconds` bounds each socket operation (connect, one read), which a server trickling a
    byte at a time never exceeds; two wall-clock deadlines bound the time itself: `page_deadline_seconds`
    for one page (all its attempts and the waits between them) and `run_deadline_seconds` for the whole
    pull. A request still running at its deadline is cut off (its socket is shut down) and the pull
    fails with DeadlineExceeded naming the page; a retry wait that would end past a deadline is not
    started.
    """

    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 30.0
    max_retry_after_seconds: float = 300.0
    page_deadline_seconds: float = 600.0
    run_deadline_seconds: float = 3600.0

    def retrying(self, seconds_left: float, **callbacks: Any) -> tenacity.Retrying:
        """A tenacity retry of `_Transient` failures: Retry-After or exponential backoff, and no attempt
        after `max_attempts` or a wait that would end `seconds_left` from now (the deadline).
        `callbacks` are tenacity's (`before_sleep`, `retry_error_callback`)."""
        backoff = tenacity.wait_exponential(multiplier=self.backoff_seconds, max=self.max_backoff_seconds)

        def wait(state: tenacity.RetryCallState) -> float:
            asked = state.outcome.exception().retry_after  # type: ignore[union-attr]
            return backoff(state) if asked is None else asked

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            wait=wait,
            stop=tenacity.stop_after_attempt(self.max_attempts) | tenacity.stop_before_delay(seconds_left),
            **callbacks,
        )


@dataclass
class FetchResult:
    """Every distinct version of one pull, with what it took to get them."""

    versions: list[dict[str, Any]]
    url: str
    pages: int = 0
    requests: int = 0
    retries: int = 0
    total_reported: int = 0
    duplicates_dropped: int = 0
    conflicting_versions: int = 0
    outside_window_dropped: int = 0
    waits: list[float] = field(default_factory=list)


def _feed_time(value: str) -> datetime:
    """A feed timestamp (`YYYY-MM-DD HH:MM:SS` local, or ISO 8601 with an offset) as naive local time."""
    return to_local(datetime.fromisoformat(value.strip())).replace(tzinfo=None)


def _placed(value: Any) -> datetime | None:
    """A version's `updated_at` as naive local time, or None if unreadable (the gate quarantines it)."""
    if not isinstance(value, str):
        return None
    try:
        return _feed_time(value)
    except ValueError:
        return None


def _error_detail(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("detail") or body.get("error") or body)[:300]
    except ValueError:
        pass
    return response.text[:300]


@dataclass(frozen=True)
class Page:
    """One page as the API answered it: its number, its URL (without secrets), the JSON object and the
    bytes as received (kept in landing when the page breaks the paging contract)."""

    number: int
    url: str
    body: dict[str, Any]
    content: bytes

    def breach(self, name: str, what: str) -> ApiContractViolation:
        return ApiContractViolation(
            f"GET {self.url} (page {self.number}): {what}",
            url=self.url,
            page=self.number,
            field=name,
            body=self.content,
        )


class PageNumberPaginator:
    """The API's paging, in the shape of dlt's paginators: `update_request` asks for `page` (from 1),
    `update_state` reads the answer and moves to its `next_page` (null on the last page).

    It also holds the API to its paging contract: `items` a list of objects, `total` a non-negative
    integer, the same on every page, and `next_page` a later page number or null. A page that breaks it
    raises ApiContractViolation; a `total` that changes while paging raises ApiError (the interval is
    still receiving versions, and landing it now could silently miss some).
    """

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self.page = 1
        self.has_next_page = True
        self.pages = 0  # pages answered so far
        self.received = 0  # items on them
        self.total: int | None = None

    def update_request(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, "page": self.page}

    def update_state(self, page: Page) -> None:
        body = page.body
        items = body.get("items")
        if not isinstance(items, list):
            raise page.breach(
                "items", f"'items' is {_json_type(items)}, not the list of ticket versions the API documents."
            )
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise page.breach(
                    f"items[{index}]",
                    f"item {index} of {len(items)} is {_json_type(item)}, not a ticket version object.",
                )
        if "total" not in body:
            raise page.breach("total", "the page has no 'total'; the API documents the number of versions.")
        total = body["total"]
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise page.breach(
                "total",
                f"'total' is {_json_type(total)}, not the non-negative integer count of versions the API "
                "documents.",
            )
        if self.total is not None and total != self.total:
            raise ApiError(
                f"GET {page.url} (page {page.number}): the result changed while paging (total "
                f"{self.total}, then {total}); the interval is still receiving versions. Retry once it "
                "is closed.",
                url=page.url,
                page=page.number,
                status=200,
                attempts=1,
            )
        next_page = body.get("next_page")
        if next_page is not None and (isinstance(next_page, bool) or not isinstance(next_page, int)):
            raise page.breach(
                "next_page",
                f"'next_page' is {_json_type(next_page)}, not the next page number (an integer) or null "
                "the API documents; an opaque cursor means the API changed its paging protocol.",
            )
        if next_page is not None and (next_page <= page.number or self.pages + 1 >= self.max_pages):
            raise page.breach(
                "next_page",
                f"'next_page' is {next_page}, which does not move forward from page {page.number} "
                f"(a paging loop, or more than {self.max_pages} pages).",
            )
        self.total = total
        self.pages += 1
        self.received += len(items)
        self.has_next_page = next_page is not None
        self.page = next_page if next_page is not None else self.page


def _tracking_pool(base: type[HTTPConnectionPool], adapter: _DeadlineAdapter) -> type[HTTPConnectionPool]:
    """A urllib3 pool class that tells `adapter` which connections are in use (to cut them off)."""

    class TrackingPool(base):  # type: ignore[valid-type, misc]
        def _get_conn(self, timeout: float | None = None):
            conn = super()._get_conn(timeout)
            adapter.in_use(conn, True)
            return conn

        def _put_conn(self, conn) -> None:
            if conn is not None:
                adapter.in_use(conn, False)
            super()._put_conn(conn)

    TrackingPool.__name__ = f"Tracking{base.__name__}"
    return TrackingPool


class _DeadlineAdapter(TCPKeepAliveAdapter):
    """HttpHook's default adapter (TCP keep-alive) that can cut off the requests it is running.

    `requests` and urllib3 only know per-operation timeouts; `cut_off()` shuts down the socket of every
    connection in use, which makes a blocked read return at once, whatever the server is doing."""

    def __init__(self, **kwargs: Any) -> None:
        self._lock = threading.Lock()
        self._busy: set[Any] = set()
        super().__init__(**kwargs)

    def _track(self, manager: Any) -> Any:
        manager.pool_classes_by_scheme = {
            "http": _tracking_pool(HTTPConnectionPool, self),
            "https": _tracking_pool(HTTPSConnectionPool, self),
        }
        return manager

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._track(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return self._track(super().proxy_manager_for(proxy, **proxy_kwargs))

    def in_use(self, conn: Any, busy: bool) -> None:
        with self._lock:
            (self._busy.add if busy else self._busy.discard)(conn)

    def cut_off(self) -> None:
        with self._lock:
            busy = list(self._busy)
        for conn in busy:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """Cuts off the adapter's requests from `at` (monotonic) on, until stopped."""

    def __init__(self, adapter: _DeadlineAdapter, at: float) -> None:
        self.adapter, self.at = adapter, at
        self.fired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="appeals-api-deadline", daemon=True)

    def _run(self) -> None:
        if self._done.wait(max(0.0, self.at - time.monotonic())):
            return
        self.fired = True
        while not self._done.is_set():  # again and again: a connection may be opening right now
            self.adapter.cut_off()
            self._done.wait(0.05)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


class _ApiClient:
    """One HTTP session, built by Airflow's HttpHook from the connection, with bearer auth."""

    def __init__(self, conn_id: str, policy: RetryPolicy) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        self.conn_id = conn_id
        self.started = time.monotonic()
        self.adapter = _DeadlineAdapter(idle=120, count=20, interval=30)  # HttpHook's keep-alive defaults
        self.hook = HttpHook(method="GET", http_conn_id=conn_id, adapter=self.adapter)
        try:
            connection = self.hook.get_connection(conn_id)
        except Exception as exc:
            if type(exc).__name__ != "AirflowNotFoundException":
                raise
            raise ApiError(
                f"Airflow connection {conn_id!r} is not defined: define it in the Airflow UI, a secrets "
                f'backend or as AIRFLOW_CONN_{conn_id.upper()}=\'{{"conn_type": "http", "host": ..., '
                '"port": ..., "schema": "https", "password": "<bearer token>"}\'.',
                url="",
                page=None,
                status=None,
                attempts=0,
            ) from exc
        headers = {"Accept": "application/json"}
        if connection.password:
            headers["Authorization"] = f"Bearer {connection.password}"
        self.session = self.hook.get_conn(headers=headers)
        self.session.auth = None  # the token is a bearer token, never HTTP basic auth with the login
        self.timeout = float(connection.extra_dejson.get("timeout", policy.timeout_seconds))
        self.policy = policy
        self.requests = 0
        self.retries = 0
        self.waits: list[float] = []

    def url(self, endpoint: str) -> str:
        return self.hook.url_from_endpoint(endpoint)

    def _deadline(self, page_started: float) -> tuple[float, str, float]:
        """The earlier of the page's and the run's deadline: (monotonic time, which, its seconds)."""
        page_at = page_started + self.policy.page_deadline_seconds
        run_at = self.started + self.policy.run_deadline_seconds
        if page_at <= run_at:
            return page_at, "page", self.policy.page_deadline_seconds
        return run_at, "run", self.policy.run_deadline_seconds

    def _past_deadline(
        self, url: str, page: int, deadline: tuple[float, str, float], attempt: int, why: str
    ) -> DeadlineExceeded:
        _, which, seconds = deadline
        limit = "page_deadline_seconds" if which == "page" else "run_deadline_seconds"
        scope = "this page" if which == "page" else "the whole pull"
        return DeadlineExceeded(
            f"GET {url} (page {page}) {why}: {scope} may take at most {seconds:g} s "
            f"(RetryPolicy.{limit}), attempt {attempt}, {time.monotonic() - self.started:.1f} s into the "
            "pull. The API is answering too slowly (or trickling its answer); the task's retry will "
            f"come back later. Raise {limit} only if the API is known to be this slow.",
            url=url,
            page=page,
            status=None,
            attempts=attempt,
        )

    def get_page(self, endpoint: str, params: dict[str, Any]) -> Page:
        """GET one page, retrying what a retry can fix; raises ApiError naming URL, page and status,
        DeadlineExceeded past the page's or the run's deadline."""
        prepared = self.session.prepare_request(requests.Request("GET", self.url(endpoint), params=params))
        url, number = safe_url(prepared.url), int(params["page"])
        deadline = self._deadline(time.monotonic())
        seconds_left = deadline[0] - time.monotonic()
        if seconds_left <= 0:
            raise self._past_deadline(url, number, deadline, 0, "ran out of time")

        def before_sleep(state: tenacity.RetryCallState) -> None:
            log.warning(
                "GET %s (page %s) attempt %d/%d failed (%s); retrying in %.1f s",
                url,
                number,
                state.attempt_number,
                self.policy.max_attempts,
                state.outcome.exception(),  # type: ignore[union-attr]
                state.upcoming_sleep,
            )
            self.retries += 1
            self.waits.append(state.upcoming_sleep)

        def give_up(state: tenacity.RetryCallState) -> None:
            last: _Transient = state.outcome.exception()  # type: ignore[assignment, union-attr]
            attempt = state.attempt_number
            if attempt < self.policy.max_attempts:  # stopped by the deadline, not by the attempts
                why = f"would have to wait {state.upcoming_sleep:.1f} s for attempt {attempt + 1} (last: {last})"
                raise self._past_deadline(url, number, deadline, attempt, why) from last
            raise ApiError(
                f"GET {url} (page {number}) failed after {attempt} attempts; last: {last}.",
                url=url,
                page=number,
                status=last.status,
                attempts=attempt,
            ) from last

        retrying = self.policy.retrying(seconds_left, before_sleep=before_sleep, retry_error_callback=give_up)
        for attempt in retrying:
            with attempt:
                page = self._attempt(prepared, url, number, deadline, attempt.retry_state.attempt_number)
        return page

    def _attempt(
        self,
        prepared: requests.PreparedRequest,
        url: str,
        number: int,
        deadline: tuple[float, str, float],
        attempt: int,
    ) -> Page:
        """One request for the page: the page, or _Transient for what a retry can fix."""
        self.requests += 1
        watchdog = _Watchdog(self.adapter, deadline[0])
        try:
            with watchdog:
                response = self.hook.run_and_check(
                    self.session,
                    prepared,
                    {"timeout": min(self.timeout, deadline[0] - time.monotonic()), "check_response": False},
                )
        except requests.RequestException as exc:
            if watchdog.fired or time.monotonic() >= deadline[0]:
                raise self._past_deadline(url, number, deadline, attempt, "did not complete in time") from exc
            if isinstance(exc, _TRANSIENT_ERRORS):
                raise _Transient(f"{type(exc).__name__}: {exc}", None) from exc
            raise
        if watchdog.fired:  # cut off: whatever came back is truncated
            response.close()
            raise self._past_deadline(url, number, deadline, attempt, "did not complete in time")
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except ValueError as exc:
                raise _Transient(f"status 200 with an unreadable body ({exc})", status) from exc
            if not isinstance(body, dict):
                raise _Transient("status 200 with an unreadable body (the body is not a JSON object)", status)
            return Page(number=number, url=url, body=body, content=response.content)
        if status == 429 or status >= 500:
            wait = _retry_after(response)
            limit = self.policy.max_retry_after_seconds
            if wait is not None and wait > limit:
                raise ApiError(
                    f"GET {url} (page {number}) got status {status} asking to retry after {wait:.0f} s, "
                    f"more than the {limit:.0f} s this client waits; the task's retry will come back later.",
                    url=url,
                    page=number,
                    status=status,
                    attempts=attempt,
                )
            raise _Transient(f"status {status} {response.reason}: {_error_detail(response)}", status, wait)
        hint = (
            f" Check the password (bearer token) of Airflow connection {self.conn_id!r}."
            if status in (401, 403)
            else ""
        )
        raise ApiError(
            f"GET {url} (page {number}) was refused with status {status} {response.reason}: "
            f"{_error_detail(response)}.{hint} Not retried: a retry cannot fix this.",
            url=url,
            page=number,
            status=status,
            attempts=attempt,
        )

    def close(self) -> None:
        self.session.close()


def fetch(
    interval_start: datetime | None,
    interval_end: datetime | None,
    conn_id: str = DEFAULT_CONN_ID,
    page_size: int = 500,
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    policy: RetryPolicy | None = None,
) -> FetchResult:
    """Pull every page of `interval_start <= updated_at < interval_end` (a None bound is left open).

    Versions repeated across pages (same ticket_id and updated_at, identical content) are dropped and
    counted; two *different* versions with the same key are both kept (and counted) so that the gate's
    primary-key rule quarantines them instead of this client choosing one. The pull fails if the API's
    `total` changes between pages or the pages do not add up to it: the interval is still changing
    (or offsets shifted) and landing it now could silently miss versions.
    """
    params: dict[str, Any] = {"page_size": page_size}
    if interval_start is not None:
        params["updated_since"] = to_local(interval_start).isoformat(timespec="seconds")
    if interval_end is not None:
        params["updated_until"] = to_local(interval_end).isoformat(timespec="seconds")
    since = None if interval_start is None else to_local(interval_start).replace(tzinfo=None)
    until = None if interval_end is None else to_local(interval_end).replace(tzinfo=None)
    client = _ApiClient(conn_id, policy or RetryPolicy())
    paginator = PageNumberPaginator()
    result = FetchResult(versions=[], url=safe_url(client.url(endpoint)))
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    outside: list[datetime] = []
    try:
        while paginator.has_next_page:
            page = client.get_page(endpoint, paginator.update_request(params))
            paginator.update_state(page)
            for item in page.body["items"]:  # checked by the paginator
                updated = _placed(item.get("updated_at"))
                if updated is not None and (
                    (since is not None and updated < since) or (until is not None and updated >= until)
                ):
                    outside.append(updated)
                    continue
                key = (str(item.get("ticket_id")), str(item.get("updated_at")))
                if key in seen:
                    if seen[key] == item:
                        result.duplicates_dropped += 1
                        continue
                    result.conflicting_versions += 1
                    log.warning("ticket %s has two different versions at %s; both are kept", *key)
                else:
                    seen[key] = item
                result.versions.append(item)
    finally:
        client.close()
    if paginator.total is not None and paginator.received != paginator.total:
        raise ApiError(
            f"GET {result.url}: the pages held {paginator.received} versions but the API reported a total "
            f"of {paginator.total}.",
            url=result.url,
            page=paginator.pages,
            status=200,
            attempts=1,
        )
    if outside:
        result.outside_window_dropped = len(outside)
        log.warning(
            "GET %s: the API returned %d versions outside the requested window [%s, %s) (updated_at "
            "from %s to %s): its cursor or filter does not keep to the window. They were not landed in "
            "this batch; each belongs to the batch of its own interval.",
            result.url,
            len(outside),
            since.isoformat(sep=" ") if since else "-",
            until.isoformat(sep=" ") if until else "-",
            min(outside).isoformat(sep=" "),
            max(outside).isoformat(sep=" "),
        )
    result.pages, result.total_reported = paginator.pages, paginator.total or 0
    result.requests, result.retries, result.waits = client.requests, client.retries, client.waits
    result.versions.sort(
        key=lambda v: (str(v.get("updated_at")), str(v.get("ticket_id")), json.dumps(v, sort_keys=True))
    )
    log.info(
        "Fetched %d versions in %d pages (%d requests, %d retries, %d duplicates dropped, %d outside "
        "the window dropped) from %s",
        len(result.versions),
        result.pages,
        result.requests,
        result.retries,
        result.duplicates_dropped,
        result.outside_window_dropped,
        result.url,
    )
    return result


def fetch_versions(
    interval_start: datetime,
    interval_end: datetime,
    conn_id: str = DEFAULT_CONN_ID,
    page_size: int = 500,
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    policy: RetryPolicy | None = None,
) -> list[dict[str, Any]]:
    """Every distinct ticket version updated in [interval_start, interval_end), ordered by
    (updated_at, ticket_id). See `fetch` for the statistics (pages, duplicates dropped)."""
    return fetch(interval_start, interval_end, conn_id, page_size, endpoint=endpoint, policy=policy).versions


# --- landing ---------------------------------------------------------------------------------------


def interval_stamp(interval_start: datetime) -> str:
    """The folder and file stamp of an interval: local start time, `YYYY-MM-DDTHHMM`."""
    return to_local(interval_start).strftime("%Y-%m-%dT%H%M")


def batch_id_for(contract: Contract, interval_start: datetime) -> str:
    local = to_local(interval_start).replace(tzinfo=None)
    return f"{contract.name}/{local.isoformat(timespec='minutes')}"


def landed_file(contract: Contract, interval_start: datetime) -> Path:
    stamp = interval_stamp(interval_start)
    return paths.landing_dir() / contract.name / stamp / f"{contract.name}_{stamp}.jsonl"


def jsonl_bytes(contract: Contract, versions: list[dict[str, Any]]) -> bytes:
    """One version per line, keys in contract order (then any unexpected ones, sorted, kept for the
    schema-drift check), so equal content always gives equal bytes and an equal sha256."""
    order = [c.header for c in contract.delivered_columns]

    def normalized(version: dict[str, Any]) -> dict[str, Any]:
        known = {k: version[k] for k in order if k in version}
        return known | {k: version[k] for k in sorted(version) if k not in known}

    lines = (json.dumps(normalized(v), ensure_ascii=False, separators=(",", ":")) + "\n" for v in versions)
    return "".join(lines).encode("utf-8")


def _now_utc() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _policy_from(contract: Contract) -> RetryPolicy:
    """The default policy, with the deadlines the contract's options may set (`page_deadline_seconds`,
    `run_deadline_seconds`)."""
    policy = RetryPolicy()
    overrides = {
        name: float(contract.options[name])
        for name in ("page_deadline_seconds", "run_deadline_seconds", "timeout_seconds")
        if name in contract.options
    }
    return dataclasses.replace(policy, **overrides) if overrides else policy


def _contract_rejection(
    contract: Contract, batch_id: str, landed: Path, violation: ApiContractViolation
) -> BatchRejected:
    """The rejection for a page that broke the paging contract; the page is kept in landing."""
    kept = None
    if violation.body:
        landed.parent.mkdir(parents=True, exist_ok=True)
        incoming = landed.with_name(landed.name + ".incoming")
        incoming.write_bytes(violation.body)
        kept = keep_rejected(incoming, landed.name, f"page-{violation.page}")
    return BatchRejected(
        contract.name,
        batch_id,
        API_CONTRACT,
        f"{violation} Field {violation.field} of page {violation.page} breaks the API's paging contract "
        "(items: a list of objects; total: a non-negative integer; next_page: a later page number or "
        "null). Not retried: the API answers the same again. "
        + (f"The page as received is kept in landing as {kept.name}. " if kept else "")
        + "Ask the producer to fix the API (or adapt this client if the protocol changed on purpose), "
        "then rerun the task.",
        file=landed.name,
        column=violation.field,
    )


def land_http_api(
    contract: Contract,
    interval_start: datetime,
    interval_end: datetime,
    *,
    conn_id: str | None = None,
    page_size: int | None = None,
    policy: RetryPolicy | None = None,
) -> LandedBatch:
    """Fetch one data interval from the API and keep it, immutably, in landing.

    `conn_id` defaults to the contract's `conn_id` option or `cdw_appeals_api`; `page_size` to the
    contract's `page_size` option or 500. An interval that has not ended yet raises SourceNotReady (its
    content would change, and the next pull would be rejected as a replay with other content).
    """
    start, end = to_local(interval_start), to_local(interval_end)
    if end <= start:
        raise ValueError(f"{contract.name}: interval end {end} is not after its start {start}")
    if end > datetime.now(LOCAL_TZ):
        raise SourceNotReady(f"{contract.name}: the interval {start} - {end} has not ended yet")
    batch_id = batch_id_for(contract, start)
    landed = landed_file(contract, start)
    manifest_path = landed.with_name(landed.name + MANIFEST_SUFFIX)
    try:
        result = fetch(
            start,
            end,
            conn_id or contract.options.get("conn_id", DEFAULT_CONN_ID),
            int(page_size or contract.options.get("page_size", 500)),
            endpoint=contract.options.get("endpoint", DEFAULT_ENDPOINT),
            policy=policy or _policy_from(contract),
        )
    except ApiContractViolation as violation:
        raise _contract_rejection(contract, batch_id, landed, violation) from violation
    data = jsonl_bytes(contract, result.versions)
    rows = len(result.versions)
    max_updated = _latest(v.get("updated_at") for v in result.versions)
    received_at = _now_utc()
    try:
        sha, new = keep_immutably(landed, write_bytes(data))
    except ReplayChanged as replay:
        landed_rows = sum(1 for _ in landed.open("rb"))
        raise BatchRejected(
            contract.name,
            batch_id,
            "REPLAY_CONTENT_CHANGED",
            f"the API now returns {rows} versions for the closed interval {start.isoformat()} - "
            f"{end.isoformat()} (sha256 {replay.sha256[:16]}…), but {landed_rows} versions (sha256 "
            f"{replay.landed_sha256[:16]}…) were landed before in {landed}; the API rewrote history. The "
            f"new content is kept in {replay.kept.name}; ask the producer for an explanation.",
            file=landed.name,
            received_rows=rows,
        ) from None
    if not new:
        log.info(
            "%s: landed before with the same content (sha256 %s…); reusing %s", batch_id, sha[:16], landed
        )
        if manifest_path.exists():
            with contextlib.suppress(ValueError, OSError):
                received_at = json.loads(manifest_path.read_text(encoding="utf-8"))["received_at"]
    if not manifest_path.exists():  # written last: a landed file without manifest is incomplete
        manifest = {
            "source": contract.name,
            "batch_id": batch_id,
            "file": landed.name,
            "rows": rows,
            "sha256": sha,
            "interval_start": start.isoformat(),
            "interval_end": end.isoformat(),
            "endpoint": contract.options.get("endpoint", DEFAULT_ENDPOINT),
            "url": result.url,
            "pages": result.pages,
            "requests": result.requests,
            "retries": result.retries,
            "duplicates_dropped": result.duplicates_dropped,
            "conflicting_versions": result.conflicting_versions,
            "outside_window_dropped": result.outside_window_dropped,
            "max_updated_at": max_updated,
            "received_at": received_at,
        }
        keep_immutably(
            manifest_path, write_bytes((json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode())
        )
    if max_updated is not None:
        advance_cursor(contract.name, max_updated)
    return LandedBatch(
        source=contract.name,
        batch_id=batch_id,
        interval_date=start.date().isoformat(),
        file=landed.name,
        landed_path=str(landed),
        sha256=sha,
        manifest_rows=rows,
        received_at=received_at,
    )


# --- incremental cursor ----------------------------------------------------------------------------


def cursor_file() -> Path:
    """`<data dir>/state/cursors.json`: {source: {"value": ..., "written_at": ...}}."""
    return paths.data_dir() / "state" / "cursors.json"


def _cursor_lock() -> FileLock:
    """An exclusive lock for read-modify-write of the cursor file (parallel tasks on one machine).

    A read-modify-write takes milliseconds, so a wait of CURSOR_LOCK_TIMEOUT_SECONDS means a stuck
    holder: filelock raises its Timeout naming the lock file, and the task's retry comes back later."""
    lock = cursor_file().with_name("cursors.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(lock, timeout=CURSOR_LOCK_TIMEOUT_SECONDS)


def _read_cursors() -> dict[str, Any]:
    path = cursor_file()
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def read_cursor(source: str) -> str | None:
    """The largest cursor value (for appeals: `updated_at`, local time as the feed writes it) landed so
    far for `source`, or None before the first landing."""
    entry = _read_cursors().get(source)
    return entry.get("value") if isinstance(entry, dict) else None


def advance_cursor(source: str, value: str) -> str:
    """Move the cursor to `value` if that is later (backfills of old intervals never move it back);
    returns the cursor. The file is replaced atomically (a temporary file, then a rename), so a reader
    never sees half a file."""
    with _cursor_lock():
        current = read_cursor(source)
        if current is not None and _feed_time(value) <= _feed_time(current):
            return current
        cursors = _read_cursors() | {source: {"value": value, "written_at": _now_utc()}}
        path = cursor_file()
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(
            json.dumps(cursors, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8"
        )
        temporary.replace(path)
        return value


def _latest(values: Iterable[Any]) -> str | None:
    """The latest of some feed timestamps, as written (unreadable ones are the gate's business)."""
    readable = []
    for value in values:
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            readable.append((_feed_time(value), value))
    return max(readable)[1] if readable else None


# --- the transport -----------------------------------------------------------------------------------


class HttpApi:
    """The appeals API as a transport: no sensor (it answers for any closed interval), and a run may
    pull a catch-up window given in its conf instead of its own 15 minutes.

    `{"interval_start": "2026-11-25T00:00", "interval_end": "2026-11-26T00:00"}` pulls a whole window as
    one batch, e.g. after an outage.
    """

    name = "http_api"
    needs_sensor = False

    def interval_for_run(
        self, contract: Contract, data_interval_start: datetime, data_interval_end: datetime, conf: dict
    ) -> tuple[datetime, datetime]:
        if "interval_start" in conf and "interval_end" in conf:
            return datetime.fromisoformat(conf["interval_start"]), datetime.fromisoformat(
                conf["interval_end"]
            )
        return (
            to_local(data_interval_start).replace(tzinfo=None),
            to_local(data_interval_end).replace(tzinfo=None),
        )

    def is_ready(self, contract: Contract, start: datetime, end: datetime) -> bool:
        return to_local(end) <= datetime.now(LOCAL_TZ)

    def batch_id(self, contract: Contract, start: datetime) -> str:
        return batch_id_for(contract, start)

    def land(self, contract: Contract, start: datetime, end: datetime) -> LandedBatch:
        return land_http_api(contract, start, end)
