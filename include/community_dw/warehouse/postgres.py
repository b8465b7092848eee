"""The governed PostgreSQL warehouse: sessions under a group role, bulk loads by binary COPY.

A session takes the role of its job with `SET ROLE` (the loader `cdw_loader` for ingestion and
retention, the engineer for the release), so it holds that role's grants and nothing more, whichever
member of it logged in. Roles and grants are declared once, in dbt's access policy
(dbt_project/macros/privacy/access_policy.sql), and applied by `community_dw.warehouse.initialise`.

The loader may write the vault but not read it: new identities are inserted with
`on conflict do nothing` against the vault's unique index on (domain, pseudonym), which needs only
INSERT (naming a conflict target would need SELECT on its columns), instead of DuckDB's anti-join.

Batches are loaded with `COPY ... FROM STDIN (FORMAT binary)` from the Arrow table
(community_dw.warehouse.pgcopy), not row by row; `benchmarks/pg_copy.py` measures it against a CSV COPY.
The audit and vault tables are declared by the warehouse's owner (`cdw warehouse-init`, or any session
acting as its own login); a loader session creates only a new source's raw tables (CREATE on `raw`).
"""

from __future__ import annotations

import io
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from community_dw.warehouse.base import (
    AUDIT_DDL,
    AUDIT_TABLES,
    SCHEMAS,
    VAULT_TABLE,
    Warehouse,
    quote,
    relation_sql,
    source_tables,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    import pandas as pd
    import pyarrow as pa

    from community_dw.contracts import Contract

log = logging.getLogger(__name__)

VAULT_UNIQUE_INDEX = "vault.identities_domain_pseudonym"
VAULT_UNIQUE_DDL = (
    "create unique index if not exists identities_domain_pseudonym on vault.identities (domain, pseudonym)"
)


class WarehouseNotDeclared(RuntimeError):
    """The tables a load needs are missing and this session's role may not create them."""


def conninfo(url: str) -> str:
    """A libpq URI from a warehouse URL (`postgresql+psycopg://` and `postgres://` forms included)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


class PostgresWarehouse(Warehouse):
    name = "postgres"

    def __init__(self, conn: Any, role: str | None = None) -> None:
        """Wrap an open psycopg (3) or psycopg2 connection; with `role`, the session takes that role."""
        self.conn = conn
        self.conn.autocommit = False
        self.role = role
        if role:
            self.execute(f"set role {quote(role)}")
            self.conn.commit()  # SET is transactional: a later rollback must not undo it

    @classmethod
    def open(cls, url: str, role: str | None = None) -> PostgresWarehouse:
        import psycopg

        return cls(psycopg.connect(conninfo(url)), role)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cursor = self.conn.cursor()
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), list(params))
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(sql.replace("%", "%%").replace("?", "%s"), [list(r) for r in rows])

    def delete(self, sql: str, params: Sequence[Any] | None = None) -> int:
        return self.execute(sql, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    # -- tables --------------------------------------------------------------------------------------

    def missing(self, relations: Iterable[str]) -> list[str]:
        return [r for r in relations if self.scalar("select to_regclass(?) is null", [r])]

    def declare(self, contracts: Iterable[Contract]) -> None:
        """Create what is missing of the schemas, audit and vault tables and the sources' tables."""
        for schema in SCHEMAS:
            if not self.scalar("select count(*) from pg_namespace where nspname = ?", [schema]):
                self.execute(f"create schema {schema}")
                self.execute(f"revoke all on schema {schema} from public")
        if self.missing([*AUDIT_TABLES, VAULT_TABLE]):
            self.execute(AUDIT_DDL)
        if self.missing([VAULT_UNIQUE_INDEX]):
            self.execute(VAULT_UNIQUE_DDL)
        for contract in contracts:
            for relation, ddl in source_tables(contract).items():
                if self.missing([relation]):
                    self.execute(ddl)
        self.conn.commit()

    def ensure_tables(self, contract: Contract) -> None:
        """Shared tables (audit, vault) come from the owner; a source's own the loader may create."""
        shared = self.missing([*AUDIT_TABLES, VAULT_TABLE, VAULT_UNIQUE_INDEX])
        if shared and self.role:
            raise WarehouseNotDeclared(
                f"the PostgreSQL warehouse lacks {', '.join(shared)}, which {self.role} may not create: run "
                "`cdw warehouse-init` with the warehouse owner's URL (it declares every table and applies "
                "the access policy)"
            )
        if shared or self.missing(source_tables(contract)):
            self.declare([contract])

    # -- bulk writes ---------------------------------------------------------------------------------

    def _copy(self, sql: str, chunks: Iterable[bytes | str]) -> None:
        with self.conn.cursor() as cursor:
            if hasattr(cursor, "copy"):  # psycopg 3
                from psycopg.copy import QueuedLibpqWriter

                # A writer thread sends each chunk while the next one is encoded.
                with cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy:
                    for chunk in chunks:
                        copy.write(chunk)
                return
            data = list(chunks)  # psycopg2 reads COPY data from a file object
            stream = (
                io.BytesIO(b"".join(data))
                if data and isinstance(data[0], bytes)
                else io.StringIO("".join(data))
            )
            cursor.copy_expert(sql, stream)

    def target_types(self, relation: str) -> list[tuple[str, pa.DataType]]:
        """The relation's columns in order, each with the Arrow type binary COPY writes for it."""
        from community_dw.warehouse.pgcopy import arrow_type_for

        rows = self.execute(
            "select attname, atttypid::regtype::text,"
            " case when atttypid = 'numeric'::regtype and atttypmod >= 4 then ((atttypmod - 4) >> 16) & 65535 end,"
            " case when atttypid = 'numeric'::regtype and atttypmod >= 4 then (atttypmod - 4) & 65535 end"
            " from pg_attribute where attrelid = ?::regclass and attnum > 0 and not attisdropped order by attnum",
            [relation],
        ).fetchall()
        return [(name, arrow_type_for(kind, precision, scale)) for name, kind, precision, scale in rows]

    def copy_arrow(self, relation: str, table: pa.Table) -> None:
        """COPY `table` into `relation` (binary); its columns are matched to the relation's by name."""
        from community_dw.warehouse.pgcopy import binary_copy_chunks, cast_for

        target = self.target_types(relation)
        rows = cast_for(table, target)
        columns = ", ".join(quote(name) for name, _ in target)
        self._copy(
            f"copy {relation_sql(relation)} ({columns}) from stdin (format binary)", binary_copy_chunks(rows)
        )

    def append_arrow(self, relation: str, table: pa.Table, constants: dict[str, Any]) -> None:
        from community_dw.warehouse.pgcopy import constant_column

        for name, value in constants.items():
            table = table.append_column(name, constant_column(value, table.num_rows))
        self.copy_arrow(relation, table)

    def add_identities(self, pairs: pa.Table, batch_id: str, seen_at: Any) -> None:
        self.execute(
            "create temp table if not exists _cdw_vault (domain varchar, pseudonym varchar,"
            " original_value varchar) on commit delete rows"
        )
        self.copy_arrow("_cdw_vault", pairs.select(["domain", "pseudonym", "original_value"]))
        self.execute(
            "insert into vault.identities (domain, pseudonym, original_value, first_batch_id, first_seen_at)"
            " select distinct domain, pseudonym, original_value, ?, ? from _cdw_vault on conflict do nothing",
            [batch_id, seen_at],
        )

    # -- the analyst release -------------------------------------------------------------------------

    def stage(self, name: str, frame: pd.DataFrame) -> None:
        import pandas as pd

        types = {
            c: ("bigint" if pd.api.types.is_integer_dtype(frame[c]) else "boolean") for c in frame.columns
        }
        columns = ", ".join(f"{quote(c)} {t}" for c, t in types.items())
        self.execute(f"drop table if exists {quote(name)}")
        self.execute(f"create temp table {quote(name)} ({columns})")
        self._copy(
            f"copy {quote(name)} from stdin with (format csv)", [frame.to_csv(index=False, header=False)]
        )

    def insert(self, relation: str, frame: pd.DataFrame) -> None:
        import pandas as pd

        def plain(value: Any) -> Any:
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                return None
            return value.item() if hasattr(value, "item") else value

        rows = [[plain(v) for v in row] for row in frame.itertuples(index=False)]
        placeholders = ", ".join("?" for _ in frame.columns)
        self.executemany(f"insert into {relation_sql(relation)} values ({placeholders})", rows)

    def grant_readers(self, schema: str, table: str) -> None:
        """SELECT for every cdw_ role the access policy gave USAGE on the schema (dbt's on-run-start)."""
        readers = self.execute(
            "select rolname from pg_roles where rolname like 'cdw\\_%' and has_schema_privilege(rolname, ?, 'USAGE')",
            [schema],
        ).fetchall()
        for (role,) in readers:
            self.execute(f"grant select on {quote(schema)}.{quote(table)} to {quote(role)}")

    def exists(self, relation: str) -> bool:
        return bool(self.scalar("select to_regclass(?) is not null", [relation]))
