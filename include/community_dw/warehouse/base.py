"""What every warehouse backend offers ingestion and the release, and the tables they declare.

One interface, one module per engine (`duckdb.py`, `postgres.py`), chosen by the URL's scheme in
`community_dw.warehouse` (the registry). SQL handed to `execute` uses `?` placeholders, as DuckDB
does; the PostgreSQL backend rewrites them. Anything engine-specific (bulk loading, the vault insert
that must not read the vault, counting deleted rows, grants) is a method here.

Raw tables are declared from the contracts (contract column types are valid DuckDB and PostgreSQL
types), so a new source needs no DDL here. Audit and vault tables are fixed and declared once below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import pandas as pd
    import pyarrow as pa

    from community_dw.contracts import Contract

SCHEMAS = ("raw", "audit", "vault")
# The group roles (declared with their grants once, in dbt_project/macros/privacy/access_policy.sql) a
# session takes on PostgreSQL: ingestion and retention load as the loader, the release publishes as
# the engineer (the role dbt builds as).
LOADER_ROLE = "cdw_loader"
ENGINEER_ROLE = "cdw_engineer"

AUDIT_DDL = """
create table if not exists audit.batch_ledger (
    source varchar not null,
    batch_id varchar not null,
    file varchar,
    sha256 varchar,
    status varchar not null,            -- loaded | rejected
    received_rows bigint,
    loaded_rows bigint,
    quarantined_rows bigint,
    rejected_rows bigint,
    rejection_rule varchar,
    rejection_detail varchar,
    key_fingerprint varchar,
    run_id varchar,
    received_at timestamp,
    recorded_at timestamp not null
);
create table if not exists audit.quarantine_index (
    source varchar not null,
    batch_id varchar not null,
    file varchar,
    source_row integer not null,
    column_name varchar,
    reason_code varchar not null,
    rule varchar not null,
    recorded_at timestamp not null
);
create table if not exists audit.dq_results (
    run_id varchar,
    source varchar not null,
    batch_id varchar not null,
    expectation_type varchar not null,
    column_name varchar,
    severity varchar not null,
    reason_code varchar not null,
    success boolean not null,
    observed_value varchar,
    unexpected_count bigint,
    element_count bigint,
    validated_at timestamp not null
);
create table if not exists audit.purge_log (
    rule varchar not null,              -- landing_files | work_files | raw_rows (community_dw.retention)
    source varchar not null,
    target varchar not null,            -- a relation (raw.telecom_stays) or a folder (landing/<source>/<batch>)
    batch_id varchar,
    rows_removed bigint,
    files_removed bigint,
    bytes_removed bigint,
    window_days integer not null,
    cutoff timestamp not null,          -- landing/work: UTC, vs the ledger. raw: local time, vs the age column
    run_id varchar,
    purged_at timestamp not null
);
create table if not exists vault.identities (
    domain varchar not null,
    pseudonym varchar not null,
    original_value varchar not null,
    first_batch_id varchar not null,
    first_seen_at timestamp not null
);
"""
AUDIT_TABLES = ("audit.batch_ledger", "audit.quarantine_index", "audit.dq_results", "audit.purge_log")
VAULT_TABLE = "vault.identities"

# The audit tables of the other records, each created by the part that writes it when it first writes
# (as the role it writes as): the release's verdicts (community_dw.disclosure.release), the notifications
# sent (community_dw.notifications.outbox), auditors' reviews (community_dw.audit_view.findings) and
# pgaudit's reads with their collection state (community_dw.audit_view.access_log, PostgreSQL only).
RELEASE_AUDITS_DDL = """
create table if not exists audit.release_audits (
    release_id varchar not null,
    target varchar not null,
    relation varchar not null,
    kind varchar not null,
    population varchar,
    cells bigint,
    cells_primary bigint,
    cells_suppressed bigint,
    min_interval_width double precision,
    min_k bigint,
    rows_published bigint,
    rows_withheld bigint,
    generalization varchar,
    verdict varchar not null,
    detail varchar,
    audited_at timestamp not null
)
"""
NOTIFICATIONS_DDL = """
create table if not exists audit.notifications (
    dedup_key varchar(64) not null,
    event_kind varchar(64) not null,
    event_key varchar(512) not null,
    event_state varchar(16) not null,
    scope varchar(128) not null,
    recipient varchar(512) not null,
    subject varchar(512) not null,
    facts varchar(8000) not null,
    message_digest varchar(80) not null,
    run_id varchar(512),
    sent_at timestamp not null
)
"""
ACKNOWLEDGEMENTS_DDL = """
create table if not exists audit.acknowledgements (
    finding_kind varchar(32) not null,
    finding_key varchar(512) not null,
    comment varchar(2000) not null,
    acknowledged_by varchar(256) not null,
    acknowledged_as varchar(64) not null,
    acknowledged_at timestamp not null
)
"""
ACCESS_LOG_DDL = (
    """
    create table if not exists audit.access_log (
        read_at timestamp not null,
        reader varchar(256) not null,
        reader_groups varchar(512) not null,
        database_name varchar(256) not null,
        relation varchar(512) not null,
        object_type varchar(64) not null,
        command varchar(64) not null,
        statement_class varchar(16) not null,
        rows_read bigint,
        audit_type varchar(16) not null,
        session_id varchar(64) not null,
        statement_id bigint not null,
        substatement_id bigint not null,
        log_file varchar(512) not null,
        collected_at timestamp not null,
        primary key (session_id, statement_id, substatement_id, relation)
    )
    """,
    """
    create table if not exists audit.access_log_files (
        log_file varchar(512) primary key,
        byte_offset bigint not null,
        collected_at timestamp not null
    )
    """,
    """
    create table if not exists audit.access_log_collections (
        collected_at timestamp not null,
        status varchar(16) not null,
        detail varchar(2000) not null,
        files integer not null,
        lines_read bigint not null,
        reads_added bigint not null,
        service_reads bigint not null
    )
    """,
)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def relation_sql(relation: str) -> str:
    return ".".join(quote(part) for part in relation.split("."))


def raw_columns_ddl(contract: Contract) -> str:
    columns = [f"    {c.name} {c.data_type}" for c in contract.columns]
    columns += [
        "    _batch_id varchar not null",
        "    _source_row integer not null",
        "    _loaded_at timestamp not null",
    ]
    return ",\n".join(columns)


def source_tables(contract: Contract) -> dict[str, str]:
    """The relations a source's batches land in, with their DDL: raw.<source> and its quarantine."""
    body = raw_columns_ddl(contract)
    return {
        contract.raw_table: f"create table if not exists {contract.raw_table} (\n{body}\n)",
        f"{contract.raw_table}_quarantine": (
            f"create table if not exists {contract.raw_table}_quarantine "
            f"(\n{body},\n    _reasons varchar not null\n)"
        ),
    }


class Warehouse(ABC):
    """One open session on the warehouse. Close it (or use `community_dw.warehouse.connection`)."""

    name: str  # duckdb | postgres: the dbt target of the same warehouse

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one statement (`?` placeholders); the result has fetchone/fetchall/description."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self.execute(sql, row)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self.execute(sql, params).fetchone()[0]

    @abstractmethod
    def delete(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run a DELETE; return how many rows it removed."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together, or none do (rolled back on any exception)."""

    @abstractmethod
    def ensure_tables(self, contract: Contract) -> None:
        """The schemas, the audit and vault tables and the source's raw and quarantine tables exist."""

    @abstractmethod
    def append_arrow(self, relation: str, table: pa.Table, constants: dict[str, Any]) -> None:
        """Append `table` to `relation` by column name, with `constants` as extra columns of every row."""

    @abstractmethod
    def add_identities(self, pairs: pa.Table, batch_id: str, seen_at: Any) -> None:
        """Add the batch's (domain, pseudonym, original_value) pairs the vault lacks; keep the ones it has."""

    def commit(self) -> None:
        """End the implicit transaction (DuckDB commits every statement outside `transaction`)."""
        return None

    def rollback(self) -> None:
        """Drop what the implicit transaction did (DuckDB: nothing is pending)."""
        return None

    @abstractmethod
    def close(self) -> None: ...

    # -- what the analyst release needs (community_dw.disclosure.release) --------------------------

    def frame(self, sql: str) -> pd.DataFrame:
        import pandas as pd

        cursor = self.execute(sql)
        return pd.DataFrame(cursor.fetchall(), columns=[d[0] for d in cursor.description])

    @abstractmethod
    def stage(self, name: str, frame: pd.DataFrame) -> None:
        """A temporary table `name` holding the frame (integer and boolean columns only)."""

    @abstractmethod
    def insert(self, relation: str, frame: pd.DataFrame) -> None:
        """Append a frame whose columns are the relation's, in order."""

    def grant_readers(self, schema: str, table: str) -> None:
        """Give the roles that read `schema` SELECT on a table just created in it (no-op without roles)."""
        return None

    def exists(self, relation: str) -> bool:
        schema, table = relation.split(".")
        return bool(
            self.scalar(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, table],
            )
        )
