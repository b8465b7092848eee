"""One raw-table loader: the warehouse as the loader leaves it, on a DuckDB or psycopg2 connection.

    create_raw_tables(conn)                   # schemas raw/audit/vault, the audit tables, raw.<source> per contract
    insert_rows(conn, "appeals", rows)        # rows as dicts of contract columns plus the batch columns
    load_raw(conn, {"appeals": rows, ...})    # both

Tables and columns come from the source contracts (`warehouse.raw_columns_ddl`), so a fixture city
follows a contract change without being edited. `_source_row`, when a row has none, is its position.
"""

from __future__ import annotations

import re
from typing import Any

from community_dw import warehouse
from community_dw.contracts import get_contract, load_contracts

BATCH_COLUMNS = ("_batch_id", "_source_row", "_loaded_at")


def _is_postgres(conn) -> bool:
    return type(conn).__module__.startswith("psycopg2")


def create_raw_tables(conn) -> None:
    """As the loader would: schemas raw, audit and vault (on PostgreSQL closed to PUBLIC, as the
    superuser leaves them), the audit tables, and one empty raw table per contract."""
    cur = conn.cursor()
    for schema in warehouse.SCHEMAS:
        cur.execute(f"create schema if not exists {schema}")
        if _is_postgres(conn):
            cur.execute(f"revoke all on schema {schema} from public")
    for statement in re.sub(r"--[^\n]*", "", warehouse.AUDIT_DDL).split(";"):  # comments hold ';'s
        if statement.strip():
            cur.execute(statement)
    for contract in load_contracts().values():
        cur.execute(f"create table {contract.raw_table} (\n{warehouse.raw_columns_ddl(contract)}\n)")
    conn.commit()


def raw_column_names(source: str) -> list[str]:
    return [c.name for c in get_contract(source).columns] + list(BATCH_COLUMNS)


def insert_rows(conn, source: str, rows: list[dict[str, Any]], first_row: int = 1) -> None:
    """Insert rows into raw.<source>; a row without `_source_row` gets its position from `first_row`."""
    if not rows:
        return
    names = raw_column_names(source)
    placeholders = ", ".join(["%s" if _is_postgres(conn) else "?"] * len(names))
    values = [
        tuple(({"_source_row": number} | row).get(name) for name in names)
        for number, row in enumerate(rows, start=first_row)
    ]
    conn.cursor().executemany(
        f"insert into {get_contract(source).raw_table} ({', '.join(names)}) values ({placeholders})", values
    )
    conn.commit()


def load_raw(conn, rows_by_source: dict[str, list[dict[str, Any]]]) -> None:
    """Create every raw table and insert the given rows (sources not given stay empty)."""
    create_raw_tables(conn)
    for source, rows in rows_by_source.items():
        insert_rows(conn, source, rows)
