"""The access log: every read of person-level data (`care`, `vault`, `raw`) by a person's role, from pgaudit.

Why pgaudit: it runs inside the server, so no client, tool or role can read around it (functions
that log would only see the reads that go through them), and its lines land in the server's own log
before a result leaves. Object audit logging is used: the NOLOGIN role `cdw_access_audit` (never granted
to anyone) holds SELECT on every relation of the person-level schemas (the access policy grants it:
dbt_project/macros/privacy/access_policy.sql), and pgaudit logs each statement that reads a relation
that role could read, naming the relation and, with `pgaudit.log_rows`, the rows the statement returned.
Statement texts and parameters are not logged (`pgaudit.log_statement = off`): a WHERE clause may carry
an identifier. Only who, when, which relation and how many rows reach `audit.access_log`.

    collect_from_environment()   the task: CDW_WAREHOUSE_URL (PostgreSQL) + CDW_PGAUDIT_LOG_DIR
    collect(con, log_dir)        new csvlog lines -> audit.access_log; a rerun adds nothing
    summarize(store, period)     what the auditor's page and the monthly report show

Who: the session user (the login; `SET ROLE` does not change it), kept when it is a person: a role
that is a member, directly or through other roles, of a people's group role (analyst, grid worker,
engineer, steward, auditor), or a role that no longer exists (it cannot be told apart, so it is kept).
Reads by services are counted per collection, not listed: roles outside those groups (superusers, a
model owner), the pipeline's own login (the one this collector connects with, CDW_WAREHOUSE_URL, which
loads and builds through SET ROLE cdw_loader / cdw_engineer) and the logins named in
CDW_ACCESS_LOG_SERVICE_LOGINS. The server must write csvlog in UTC (`SERVER_SETTINGS`).

Idempotent: per log file the byte offset of the last complete record is kept in audit.access_log_files,
and each read has a key of its own (session, statement, sub-statement, relation), so a rerun, a lost
offset or a read logged twice (object and session logging) adds no row.

Known gap: `COPY <table> TO` does not pass through the executor, so object logging does not see it.
Session logging (`ALTER ROLE <login> SET pgaudit.log = 'read'`) logs such a COPY without naming the
relation; it is kept with relation '' (shown as "COPY, relation not named by pgaudit").
"""

from __future__ import annotations

import csv
import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from community_dw.clock import utc_now
from community_dw.warehouse.base import ACCESS_LOG_DDL

if TYPE_CHECKING:
    from community_dw.audit_view.figures import Period
    from community_dw.audit_view.store import AuditStore

log = logging.getLogger(__name__)

PERSON_SCHEMAS = ("care", "vault", "raw")
AUDIT_ROLE = "cdw_access_audit"
PEOPLE_GROUPS = ("cdw_analyst", "cdw_grid_worker", "cdw_engineer", "cdw_steward", "cdw_auditor")
LOG_DIR_ENV = "CDW_PGAUDIT_LOG_DIR"
WRITER_ROLE_ENV = "CDW_ACCESS_LOG_ROLE"  # the role the collector writes audit as (default cdw_loader)
SERVICE_LOGINS_ENV = "CDW_ACCESS_LOG_SERVICE_LOGINS"  # more service logins, comma-separated
READS_LISTED = 500

# What the server needs (postgresql.conf; a restart for shared_preload_libraries). The test cluster
# (tests/support/pgaudit_cluster.py) is started with exactly these.
SERVER_SETTINGS = {
    "shared_preload_libraries": "'pgaudit'",
    "logging_collector": "on",
    "log_destination": "'csvlog'",
    "log_timezone": "'UTC'",
    "pgaudit.role": f"'{AUDIT_ROLE}'",
    "pgaudit.log": "'none'",
    "pgaudit.log_rows": "on",
    "pgaudit.log_statement": "off",
    "pgaudit.log_parameter": "off",
    "pgaudit.log_catalog": "off",
}

DUCKDB_REASON = (
    "The warehouse is the embedded DuckDB file: it has no roles and no server-side audit, so reads of "
    "person-level data cannot be attributed to a person. The access log needs the PostgreSQL warehouse "
    "with pgaudit (README: the access log)."
)


# PostgreSQL 15's csvlog columns (the server's documentation, "Using CSV-Format Log Output").
_LOG_TIME, _USER, _DATABASE, _SESSION_ID, _MESSAGE = 0, 1, 2, 5, 13


class AccessLogUnavailable(RuntimeError):
    """The server cannot produce the access log (no pgaudit, wrong settings, no log folder)."""


@dataclass(frozen=True)
class Read:
    read_at: datetime  # naive UTC
    reader: str
    database_name: str
    relation: str
    object_type: str
    command: str
    statement_class: str
    rows_read: int | None
    audit_type: str
    session_id: str
    statement_id: int
    substatement_id: int

    @property
    def key(self) -> tuple[str, int, int, str]:
        return self.session_id, self.statement_id, self.substatement_id, self.relation

    @property
    def person_level(self) -> bool:
        """A relation of a person-level schema, or a COPY whose relation pgaudit does not name."""
        if self.relation == "":
            return self.command == "COPY"
        return self.relation.split(".", 1)[0] in PERSON_SCHEMAS


def _log_time(text: str) -> datetime:
    """csvlog's `2026-12-02 19:50:12.801 UTC` as naive UTC."""
    stamp, _, zone = text.rpartition(" ")
    moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")
    tz = UTC if zone in ("UTC", "GMT") else ZoneInfo(zone)
    return moment.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def parse_record(record: list[str]) -> Read | None:
    """One csvlog record as a read, or None when it is no pgaudit READ entry."""
    if len(record) <= _MESSAGE or not record[_MESSAGE].startswith("AUDIT: "):
        return None
    fields = next(csv.reader([record[_MESSAGE].removeprefix("AUDIT: ")]))
    audit_type, statement_id, substatement_id, statement_class, command, object_type, relation = fields[:7]
    if statement_class != "READ":
        return None
    rows = fields[9] if len(fields) > 9 else ""
    return Read(
        read_at=_log_time(record[_LOG_TIME]),
        reader=record[_USER],
        database_name=record[_DATABASE],
        relation=relation,
        object_type=object_type,
        command=command,
        statement_class=statement_class,
        rows_read=int(rows) if rows.isdigit() else None,
        audit_type=audit_type,
        session_id=record[_SESSION_ID],
        statement_id=int(statement_id),
        substatement_id=int(substatement_id),
    )


def records_from(path: Path, offset: int) -> Iterator[tuple[list[str], int]]:
    """The complete csvlog records of `path` after byte `offset`, each with the offset just after it.

    A record may span lines (quoted newlines); the server may be writing the last one, so a trailing
    line without its newline, or a record whose quote is still open at the end, is left for the next run.
    """
    consumed = offset

    def lines() -> Iterator[str]:
        nonlocal consumed
        with path.open("rb") as handle:
            handle.seek(offset)
            for raw in handle:
                if not raw.endswith(b"\n"):
                    return
                consumed += len(raw)
                yield raw.decode("utf-8", errors="replace")

    reader = csv.reader(lines(), strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            return  # an open quote at the end: the rest of the record is not written yet
        yield record, consumed


@dataclass
class Collection:
    status: str  # collected | unavailable
    detail: str
    files: int = 0
    lines_read: int = 0
    reads_added: int = 0
    service_reads: int = 0
    readers: dict[str, int] = field(default_factory=dict)


def server_problems(cursor) -> list[str]:
    """What keeps this server from logging reads for the access log (empty: nothing)."""

    def setting(name: str) -> str | None:
        cursor.execute("select current_setting(%s, true)", [name])
        return cursor.fetchone()[0]

    try:
        preload = setting("shared_preload_libraries") or ""
    except Exception as exc:  # insufficient privilege: the collector's role may not read it
        cursor.connection.rollback()
        return [f"the collector's role may not read server settings ({exc}); grant it pg_read_all_settings"]
    problems = []
    if "pgaudit" not in [p.strip() for p in preload.split(",")]:
        problems.append(
            f"pgaudit is not loaded (shared_preload_libraries = {preload!r}); add pgaudit and restart the server"
        )
        return problems
    expected = {
        "pgaudit.role": AUDIT_ROLE,
        "pgaudit.log_rows": "on",
        "log_timezone": "UTC",
    }
    for name, value in expected.items():
        if (setting(name) or "") != value:
            problems.append(f"{name} is {setting(name)!r}, not {value!r}")
    if "csvlog" not in (setting("log_destination") or ""):
        problems.append("log_destination does not include csvlog")
    return problems


def _people(cursor) -> tuple[dict[str, list[str]], set[str]]:
    """Each person's groups (members of a people's group role, through any chain), and every role."""
    cursor.execute(
        """
        with recursive members (member, group_name) as (
            select m.member, g.rolname
            from pg_catalog.pg_auth_members as m
            join pg_catalog.pg_roles as g on g.oid = m.roleid
            where g.rolname = any(%s)
            union
            select m.member, members.group_name
            from pg_catalog.pg_auth_members as m
            join members on m.roleid = members.member
        )
        select r.rolname, members.group_name
        from members join pg_catalog.pg_roles as r on r.oid = members.member
        """,
        [list(PEOPLE_GROUPS)],
    )
    groups: dict[str, set[str]] = defaultdict(set)
    for role, group in cursor.fetchall():
        groups[role].add(group)
    cursor.execute("select rolname from pg_catalog.pg_roles")
    return {r: sorted(g) for r, g in groups.items()}, {r for (r,) in cursor.fetchall()}


def collect(con, log_dir: Path, now: datetime | None = None) -> Collection:
    """Collect the new pgaudit lines of `log_dir` into audit.access_log, on an open psycopg2 connection
    to the warehouse (committed here). Raises AccessLogUnavailable when the server cannot log reads."""
    now = now or utc_now()
    cursor = con.cursor()
    problems = server_problems(cursor)
    if not log_dir.is_dir():
        problems.append(
            f"the log folder {log_dir} does not exist (where the server's csvlog files are shipped)"
        )
    if problems:
        raise AccessLogUnavailable("; ".join(problems))
    cursor.execute("select current_database(), session_user")
    database, pipeline_login = cursor.fetchone()
    people, roles = _people(cursor)
    services = {
        pipeline_login,
        *(n.strip() for n in os.environ.get(SERVICE_LOGINS_ENV, "").split(",") if n.strip()),
    }
    services |= roles - set(people)
    _prepare_tables(cursor)
    cursor.execute("select log_file, byte_offset from audit.access_log_files")
    offsets = dict(cursor.fetchall())
    done = Collection(status="collected", detail=f"{log_dir}")
    readers: dict[str, int] = defaultdict(int)
    for path in sorted(log_dir.glob("*.csv")):
        start = offsets.get(path.name, 0)
        if path.stat().st_size < start:
            start = 0  # the file was truncated and rewritten (log_truncate_on_rotation)
        end = start
        done.files += 1
        for record, position in records_from(path, start):
            end = position
            done.lines_read += 1
            read = parse_record(record)
            if read is None or read.database_name != database or not read.person_level:
                continue
            if read.reader in services:
                done.service_reads += 1
                continue
            cursor.execute(
                "insert into audit.access_log (read_at, reader, reader_groups, database_name, relation,"
                " object_type, command, statement_class, rows_read, audit_type, session_id, statement_id,"
                " substatement_id, log_file, collected_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " on conflict do nothing",
                [
                    read.read_at,
                    read.reader,
                    ",".join(people.get(read.reader, ["(role no longer exists)"])),
                    read.database_name,
                    read.relation,
                    read.object_type,
                    read.command,
                    read.statement_class,
                    read.rows_read,
                    read.audit_type,
                    read.session_id,
                    read.statement_id,
                    read.substatement_id,
                    path.name,
                    now,
                ],
            )
            done.reads_added += cursor.rowcount
            readers[read.reader] += cursor.rowcount
        cursor.execute(
            "insert into audit.access_log_files (log_file, byte_offset, collected_at) values (%s, %s, %s)"
            " on conflict (log_file) do update set byte_offset = excluded.byte_offset,"
            " collected_at = excluded.collected_at",
            [path.name, end, now],
        )
    done.readers = dict(readers)
    _record(cursor, done, now)
    con.commit()
    log.info(
        "Access log: %d reads of person-level data added from %d files (%d lines; %d reads by services)",
        done.reads_added,
        done.files,
        done.lines_read,
        done.service_reads,
    )
    return done


def _prepare_tables(cursor) -> None:
    """Write as the writer role (cdw_loader: the audit tables' owner, readable by auditors through its
    default privileges) when this login may take it; then make sure the tables exist."""
    writer = os.environ.get(WRITER_ROLE_ENV, "cdw_loader")
    cursor.execute(
        "select pg_catalog.pg_has_role(session_user, oid, 'MEMBER') from pg_catalog.pg_roles where rolname = %s",
        [writer],
    )
    found = cursor.fetchone()
    if found and found[0]:
        cursor.execute(f'set role "{writer}"')
    for statement in ACCESS_LOG_DDL:
        cursor.execute(statement)


def _record(cursor, done: Collection, now: datetime) -> None:
    cursor.execute(
        "insert into audit.access_log_collections (collected_at, status, detail, files, lines_read,"
        " reads_added, service_reads) values (%s, %s, %s, %s, %s, %s, %s)",
        [
            now,
            done.status,
            done.detail[:2000],
            done.files,
            done.lines_read,
            done.reads_added,
            done.service_reads,
        ],
    )


def collect_from_environment() -> Collection:
    """The task's body: the PostgreSQL warehouse of CDW_WAREHOUSE_URL and the log folder of
    CDW_PGAUDIT_LOG_DIR. On DuckDB nothing is collected; where pgaudit cannot log, the reason is
    recorded in audit.access_log_collections, which the auditor's page shows."""
    from community_dw.audit_view.store import URL_ENV

    url = os.environ.get(URL_ENV, "")
    if not url.startswith("postgres"):
        return Collection(status="unavailable", detail=DUCKDB_REASON)
    import psycopg2

    log_dir = os.environ.get(LOG_DIR_ENV, "")
    con = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        try:
            if not log_dir:
                raise AccessLogUnavailable(
                    f"{LOG_DIR_ENV} is not set: the folder the server's csvlog files reach"
                )
            return collect(con, Path(log_dir))
        except AccessLogUnavailable as exc:
            con.rollback()
            done = Collection(status="unavailable", detail=str(exc))
            cursor = con.cursor()
            _prepare_tables(cursor)
            _record(cursor, done, utc_now())
            con.commit()
            log.warning("Access log not available: %s", exc)
            return done
    finally:
        con.close()


# --- what the page and the report show ------------------------------------------------------------


@dataclass
class AccessLogFigures:
    available: bool
    reason: str  # why not available, or where the log comes from
    last_collected_at: datetime | None = None
    reads: list[dict[str, Any]] = field(default_factory=list)  # in the period, newest first
    by_reader: list[dict[str, Any]] = field(default_factory=list)  # reader x relation: reads, rows

    @property
    def total_reads(self) -> int:
        return sum(r["reads"] for r in self.by_reader)

    @property
    def total_rows(self) -> int:
        return sum(r["rows"] for r in self.by_reader)


def summarize(store: AuditStore, period: Period) -> AccessLogFigures:
    """The period's reads of person-level data, per read and per reader and relation."""
    from community_dw.audit_view.freshness import local_from_utc

    if store.dialect != "postgresql":
        return AccessLogFigures(False, DUCKDB_REASON)
    if not store.has_table("audit.access_log_collections"):
        return AccessLogFigures(
            False,
            "No collection has run yet: the access_log DAG collects pgaudit's log hourly "
            f"(CDW_WAREHOUSE_URL and {LOG_DIR_ENV}; README: the access log).",
        )
    [newest] = store.rows(
        "select collected_at, status, detail from audit.access_log_collections"
        " order by collected_at desc limit 1"
    ) or [None]
    if newest["status"] != "collected":
        return AccessLogFigures(False, newest["detail"], newest["collected_at"])
    start, end = period.bounds
    rows = store.rows(
        "select read_at, reader, reader_groups, relation, object_type, command, statement_class, rows_read,"
        " audit_type from audit.access_log where read_at >= ? and read_at < ? order by read_at desc",
        [start - timedelta(days=1), end + timedelta(days=1)],
    )
    reads = [r for r in rows if local_from_utc(r["read_at"]).date() in period]
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for read in reads:
        entry = grouped.setdefault(
            (read["reader"], read["relation"]),
            {
                "reader": read["reader"],
                "groups": read["reader_groups"],
                "relation": read["relation"],
                "reads": 0,
                "rows": 0,
                "last": read["read_at"],
            },
        )
        entry["reads"] += 1
        entry["rows"] += read["rows_read"] or 0
    return AccessLogFigures(
        True,
        f"pgaudit object audit logging, collected from {newest['detail']}",
        newest["collected_at"],
        reads,
        sorted(grouped.values(), key=lambda e: (e["reader"], e["relation"])),
    )
