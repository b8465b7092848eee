"""Pull ticket versions from the appeals HTTP JSON API and land them as an immutable batch.

The API is paginated and incremental by `updated_at` (see `community_dw.devserver.appeals_api` for the
protocol). One batch is one data interval: every version with `interval_start <= updated_at <
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
builds the session (base URL, TLS, proxies, extra headers) and sends each request (`run_and_check`);
retries are this module's own, because the hook's tenacity retry (`run_with_advanced_retry`) opens a new
session per attempt and turns an error response into an exception without its headers, so it cannot
honour `Retry-After`.

The incremental cursor (`read_cursor`, `write_cursor`) is the largest `updated_at` landed so far per
source, kept in `<data dir>/state/cursors.json`. Scheduled runs do not need it (each run owns its data
interval, which is what makes reruns idempotent); it tells how far behind the warehouse is
(`cursor_lag`) and where a catch-up pull without a data interval should start.
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from community_dw import paths
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, SourceNotReady
from community_dw.landing import LandedBatch, sha256_of

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "cdw_appeals_api"
DEFAULT_ENDPOINT = "/api/v1/tickets"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the API's timestamps are local time without an offset
FEED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MANIFEST_SUFFIX = ".ok"
MAX_PAGES = 100_000  # a guard against an API whose next_page never ends


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


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one page: exponential backoff for 429, 5xx, timeouts and connection errors.

    The wait before retry n (1-based) is `backoff_seconds * 2 ** (n - 1)`, capped at
    `max_backoff_seconds`; a `Retry-After` header, when sent, sets the wait instead (a server asking for
    more than `max_retry_after_seconds` fails the pull: the task's own retry comes back later).
    """

    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 30.0
    max_retry_after_seconds: float = 300.0

    def backoff(self, retry: int) -> float:
        return min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (retry - 1))


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
    waits: list[float] = field(default_factory=list)


def to_local(value: datetime) -> datetime:
    """An aware datetime in local time (UTC+8); a naive one is taken to be local time already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(LOCAL_TZ)


def _retry_after(header: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_detail(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("detail") or body.get("error") or body)[:300]
    except ValueError:
        pass
    return response.text[:300]


class _ApiClient:
    """One HTTP session, built by Airflow's HttpHook from the connection, with bearer auth."""

    def __init__(self, conn_id: str, policy: RetryPolicy) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        self.conn_id = conn_id
        self.hook = HttpHook(method="GET", http_conn_id=conn_id)
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

    def get_page(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET one page, retrying what a retry can fix; raises ApiError naming URL, page and status."""
        import requests

        url = self.url(endpoint)
        page = params.get("page")
        prepared = self.session.prepare_request(requests.Request("GET", url, params=params))
        last = "no attempt"
        last_status: int | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            self.requests += 1
            wait: float | None = None
            try:
                response = self.hook.run_and_check(
                    self.session, prepared, {"timeout": self.timeout, "check_response": False}
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                last, last_status = f"{type(exc).__name__}: {exc}", None
            else:
                last_status = response.status_code
                if response.status_code == 200:
                    try:
                        body = response.json()
                        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                            raise ValueError("the body has no 'items' list")
                        return body
                    except ValueError as exc:
                        last = f"status 200 with an unreadable body ({exc})"
                elif response.status_code == 429 or response.status_code >= 500:
                    last = f"status {response.status_code} {response.reason}: {_error_detail(response)}"
                    wait = _retry_after(response.headers.get("Retry-After"))
                    limit = self.policy.max_retry_after_seconds
                    if wait is not None and wait > limit:
                        raise ApiError(
                            f"GET {prepared.url} (page {page}) got status {response.status_code} asking to "
                            f"retry after {wait:.0f} s, more than the {limit:.0f} s this client waits; the "
                            "task's retry will come back later.",
                            url=prepared.url,
                            page=page,
                            status=response.status_code,
                            attempts=attempt,
                        )
                else:
                    hint = (
                        f" Check the password (bearer token) of Airflow connection {self.conn_id!r}."
                        if response.status_code in (401, 403)
                        else ""
                    )
                    raise ApiError(
                        f"GET {prepared.url} (page {page}) was refused with status {response.status_code} "
                        f"{response.reason}: {_error_detail(response)}.{hint} Not retried: a retry "
                        "cannot fix this.",
                        url=prepared.url,
                        page=page,
                        status=response.status_code,
                        attempts=attempt,
                    )
            if attempt == self.policy.max_attempts:
                break
            wait = self.policy.backoff(attempt) if wait is None else wait
            log.warning(
                "GET %s (page %s) attempt %d/%d failed (%s); retrying in %.1f s",
                prepared.url,
                page,
                attempt,
                self.policy.max_attempts,
                last,
                wait,
            )
            self.retries += 1
            self.waits.append(wait)
            time.sleep(wait)
        attempts = self.policy.max_attempts
        raise ApiError(
            f"GET {prepared.url} (page {page}) failed after {attempts} attempts; last: {last}.",
            url=prepared.url,
            page=page,
            status=last_status,
            attempts=attempts,
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
    client = _ApiClient(conn_id, policy or RetryPolicy())
    result = FetchResult(versions=[], url=client.url(endpoint))
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    received = 0
    total: int | None = None
    page: int | None = 1
    try:
        while page is not None:
            body = client.get_page(endpoint, {**params, "page": page})
            result.pages += 1
            items = body["items"]
            received += len(items)
            page_total = int(body.get("total", received))
            if total is not None and page_total != total:
                raise ApiError(
                    f"GET {result.url} (page {page}): the result changed while paging (total {total}, then "
                    f"{page_total}); the interval is still receiving versions. Retry once it is closed.",
                    url=result.url,
                    page=page,
                    status=200,
                    attempts=1,
                )
            total = page_total
            for item in items:
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
            next_page = body.get("next_page")
            if next_page is not None and (int(next_page) <= page or result.pages >= MAX_PAGES):
                raise ApiError(
                    f"GET {result.url} (page {page}): next_page {next_page} does not move forward.",
                    url=result.url,
                    page=page,
                    status=200,
                    attempts=1,
                )
            page = None if next_page is None else int(next_page)
    finally:
        client.close()
    if total is not None and received != total:
        raise ApiError(
            f"GET {result.url}: the pages held {received} versions but the API reported a total of {total}.",
            url=result.url,
            page=result.pages,
            status=200,
            attempts=1,
        )
    result.total_reported = total or 0
    result.requests, result.retries, result.waits = client.requests, client.retries, client.waits
    result.versions.sort(
        key=lambda v: (str(v.get("updated_at")), str(v.get("ticket_id")), json.dumps(v, sort_keys=True))
    )
    log.info(
        "Fetched %d versions in %d pages (%d requests, %d retries, %d duplicates dropped) from %s",
        len(result.versions),
        result.pages,
        result.requests,
        result.retries,
        result.duplicates_dropped,
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


def _write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)  # a leftover of an interrupted run (possibly read-only)
    partial.write_bytes(data)
    if mode is not None:
        partial.chmod(mode)
    partial.replace(path)


def _now_utc() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


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
    result = fetch(
        start,
        end,
        conn_id or contract.options.get("conn_id", DEFAULT_CONN_ID),
        int(page_size or contract.options.get("page_size", 500)),
        endpoint=contract.options.get("endpoint", DEFAULT_ENDPOINT),
        policy=policy,
    )
    data = jsonl_bytes(contract, result.versions)
    sha = hashlib.sha256(data).hexdigest()
    rows = len(result.versions)
    max_updated = _latest(v.get("updated_at") for v in result.versions)
    received_at = _now_utc()
    landed.parent.mkdir(parents=True, exist_ok=True)
    if landed.exists():
        landed_sha = sha256_of(landed)
        if landed_sha != sha:
            kept = landed.with_name(f"{landed.name}.replay-{received_at.replace(':', '')}.rejected")
            _write_atomically(kept, data, 0o440)
            landed_rows = sum(1 for _ in landed.open("rb"))
            raise BatchRejected(
                contract.name,
                batch_id,
                "REPLAY_CONTENT_CHANGED",
                f"the API now returns {rows} versions for the closed interval {start.isoformat()} - "
                f"{end.isoformat()} (sha256 {sha[:16]}…), but {landed_rows} versions (sha256 "
                f"{landed_sha[:16]}…) were landed before in {landed}; the API rewrote history. The new "
                f"content is kept in {kept.name}; ask the producer for an explanation.",
                file=landed.name,
                received_rows=rows,
            )
        log.info(
            "%s: landed before with the same content (sha256 %s…); reusing %s", batch_id, sha[:16], landed
        )
        if manifest_path.exists():
            with contextlib.suppress(ValueError, OSError):
                received_at = json.loads(manifest_path.read_text(encoding="utf-8"))["received_at"]
    else:
        _write_atomically(landed, data, 0o440)
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
            "max_updated_at": max_updated,
            "received_at": received_at,
        }
        _write_atomically(
            manifest_path, (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode(), 0o440
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


@contextlib.contextmanager
def _cursor_lock() -> Iterator[None]:
    """An exclusive lock for read-modify-write of the cursor file (parallel tasks on one machine)."""
    lock = cursor_file().with_name("cursors.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


def write_cursor(source: str, value: str) -> None:
    """Set the cursor of `source` to `value` (exactly; `advance_cursor` only moves it forward).

    The file is replaced atomically (write a temporary file, then rename), so a reader never sees half
    a file.
    """
    with _cursor_lock():
        _write_cursor(source, value)


def _write_cursor(source: str, value: str) -> None:
    cursors = _read_cursors()
    cursors[source] = {"value": value, "written_at": _now_utc()}
    path = cursor_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(cursors, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    temporary.replace(path)


def advance_cursor(source: str, value: str) -> str:
    """Move the cursor to `value` if that is later (backfills of old intervals never move it back)."""
    with _cursor_lock():
        current = read_cursor(source)
        if current is None or _feed_time(value) > _feed_time(current):
            _write_cursor(source, value)
            return value
        return current


def _feed_time(value: str) -> datetime:
    """A feed timestamp (`YYYY-MM-DD HH:MM:SS` local, or ISO 8601 with an offset) as naive local time."""
    return to_local(datetime.fromisoformat(value.strip())).replace(tzinfo=None)


def _latest(values: Iterable[Any]) -> str | None:
    """The latest of some feed timestamps, as written (unreadable ones are the gate's business)."""
    readable = []
    for value in values:
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            readable.append((_feed_time(value), value))
    return max(readable)[1] if readable else None


def cursor_lag(source: str, now: datetime | None = None) -> timedelta | None:
    """How far the latest landed version is behind `now` (default: the current time), or None."""
    value = read_cursor(source)
    if value is None:
        return None
    latest = to_local(_feed_time(value))
    return to_local(now or datetime.now(LOCAL_TZ)) - latest
