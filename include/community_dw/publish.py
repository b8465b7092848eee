"""Audience files: what an analyst may read, published as a DuckDB file of its own.

DuckDB has no users or grants, so on the embedded target separation is physical: the analyst gets a
file that holds only the released `marts` (aggregates with small and complementary cells withheld)
and `analyst` (the k-anonymous row-level view) relations, copied as tables. The release step
(community_dw.disclosure) writes those schemas only when its audit passes, and calls this after. Nothing else enters it: no raw, vault, staging, intermediate, care or
audit, and the masked views are materialized, so the file does not need the relations they read.

The file is written next to the target under a temporary name and renamed over it only when complete,
so a reader never sees a half-written file (and one that has the old file open keeps reading it).

Reading it: DuckDB names a file's catalog after the file, so the file is named `analyst_release.duckdb`
(catalog `analyst_release`): no schema has that name, and `select * from analyst.appeals_masked` or
`marts.<mart>` work as written.
"""

from __future__ import annotations

import os
from pathlib import Path

from community_dw import paths

ANALYST_SCHEMAS = ("marts", "analyst")
# Columns that must never reach an analyst, whatever a model says: pseudonyms re-link people across sources.
FORBIDDEN_COLUMN_SUFFIXES = ("_pid",)
_TARGET_ALIAS = "cdw_published"


class PublishError(RuntimeError):
    """The warehouse holds something that must not be published; nothing was written."""


def analyst_file_path() -> Path:
    """Where the release publishes the analyst file: `data/warehouse/analyst_release.duckdb`.

    Not `analyst.duckdb`: its catalog would be named `analyst` like its schema, and every query naming
    `analyst.<view>` would fail as an ambiguous reference."""
    return paths.data_dir() / "warehouse" / "analyst_release.duckdb"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def publish_analyst_file(source: Path | None = None, target: Path | None = None) -> dict[str, int]:
    """Copy the `marts` and `analyst` relations of the DuckDB warehouse `source` into a new file `target`.

    Defaults: the warehouse (`paths.warehouse_path()`) and `data/warehouse/analyst_release.duckdb`. Returns the
    row count of every published table, keyed `schema.table`. Raises PublishError, leaving any existing
    target untouched, when a relation has a pseudonym column (`*_pid`) or there is nothing to publish.
    """
    import duckdb

    source = Path(source or paths.warehouse_path()).resolve()
    target = Path(target or analyst_file_path()).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"warehouse file {source} does not exist: build the warehouse (dbt) first")
    if source == target:
        raise ValueError(f"the analyst file must not be the warehouse itself ({source})")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _remove(temporary)

    counts: dict[str, int] = {}
    schemas = ", ".join(_literal(s) for s in ANALYST_SCHEMAS)
    try:
        # The warehouse is opened with the default configuration (it is only read): a read-only open or
        # ATTACH would fail in a process where dbt-duckdb still holds the file (in-process dbt runs).
        with duckdb.connect(str(source)) as conn:
            catalog = conn.execute("select current_database()").fetchone()[0]
            relations = conn.execute(
                "select table_schema, table_name from information_schema.tables"
                f" where table_catalog = {_literal(catalog)} and table_schema in ({schemas})"
                " order by table_schema, table_name"
            ).fetchall()
            if not relations:
                raise PublishError(
                    f"{source} has no relation in the schemas {', '.join(ANALYST_SCHEMAS)}:"
                    " run dbt build first"
                )
            columns = conn.execute(
                "select table_schema, table_name, column_name from information_schema.columns"
                f" where table_catalog = {_literal(catalog)} and table_schema in ({schemas})"
            ).fetchall()
            leaks = [
                f"{schema}.{table}.{column}"
                for schema, table, column in columns
                if column.lower().endswith(FORBIDDEN_COLUMN_SUFFIXES)
            ]
            if leaks:
                raise PublishError(
                    "refusing to publish pseudonym columns to analysts: "
                    + ", ".join(sorted(leaks))
                    + "; drop them from the model (masked_select drops them)"
                )
            conn.execute(f"attach {_literal(str(temporary))} as {_TARGET_ALIAS}")
            try:
                for schema in sorted({schema for schema, _ in relations}):
                    conn.execute(f"create schema {_TARGET_ALIAS}.{_quote(schema)}")
                for schema, table in relations:
                    name = f"{_quote(schema)}.{_quote(table)}"
                    conn.execute(
                        f"create table {_TARGET_ALIAS}.{name} as select * from {_quote(catalog)}.{name}"
                    )
                    counts[f"{schema}.{table}"] = conn.execute(
                        f"select count(*) from {_TARGET_ALIAS}.{name}"
                    ).fetchone()[0]
                conn.execute(f"checkpoint {_TARGET_ALIAS}")
            finally:
                conn.execute(f"detach {_TARGET_ALIAS}")
        # A write-ahead log left by an earlier crash would be replayed onto the new file: remove it first.
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise
    return counts
