"""Benchmark: the PostgreSQL loader's binary COPY of an Arrow batch against a plain CSV COPY of the same batch.

    .venv/bin/python benchmarks/bench_pg_copy.py --url postgresql://postgres@127.0.0.1:5432/postgres --rows 1000000

In a scratch database made on the server (dropped at the end), one Arrow batch shaped like
`raw.population_registry` (every contract column, pseudonyms as 64 hex characters) is written
into that table, each way best of `--repeat` runs into an emptied table:
- loader:    `PostgresWarehouse.append_arrow`, what `loading.load` calls: the batch columns added,
             cast to the table's types, encoded to binary COPY (community_dw.warehouse.pgcopy);
- plain:     the same Arrow table written by pyarrow's CSV writer, then `COPY ... (FORMAT csv)`;
- inserts:   psycopg's `executemany` of the first `--insert-rows` rows, for scale only.
It prints rows/second and the loader/plain ratio. It never fails on speed; the figures are for reading.
"""

from __future__ import annotations

import argparse
import io
import secrets
import time
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from community_dw.arrowtypes import arrow_type
from community_dw.contracts import get_contract
from community_dw.warehouse.base import quote
from community_dw.warehouse.postgres import PostgresWarehouse

SOURCE = "population_registry"


def batch(rows: int, seed: int = 7) -> pa.Table:
    """`rows` rows of every contract column and _source_row, values of realistic widths."""
    rng = np.random.default_rng(seed)
    columns = {}
    for column in get_contract(SOURCE).columns:
        kind = arrow_type(column.data_type)
        if pa.types.is_string(kind):
            width = 64 if column.privacy == "direct" else 12
            pool = np.array([secrets.token_hex(width // 2) for _ in range(4096)], dtype=object)
            columns[column.name] = pa.array(pool[rng.integers(0, len(pool), rows)], pa.string())
        elif pa.types.is_date32(kind):
            columns[column.name] = pa.array(rng.integers(-10_000, 20_000, rows).astype("int32")).cast(
                pa.date32()
            )
        elif pa.types.is_timestamp(kind):
            micros = rng.integers(1_700_000_000, 1_800_000_000, rows) * 1_000_000
            columns[column.name] = pa.array(micros).cast(pa.timestamp("us"))
        elif pa.types.is_boolean(kind):
            columns[column.name] = pa.array(rng.integers(0, 2, rows).astype(bool))
        elif pa.types.is_integer(kind):
            columns[column.name] = pa.array(rng.integers(0, 1000, rows)).cast(kind)
        else:
            raise SystemExit(f"{column.name}: no generator for {kind}")
    columns["_source_row"] = pa.array(np.arange(1, rows + 1, dtype=np.int32))
    return pa.table(columns)


def timed(label: str, rows: int, repeat: int, prepare, run) -> float:
    best = float("inf")
    for _ in range(repeat):
        prepare()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    print(f"  {label:<44} {rows:>10,} rows  {best:7.2f} s  {rows / best:>12,.0f} rows/s")
    return rows / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--insert-rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import psycopg

    name = f"cdw_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    url = args.url.rsplit("/", 1)[0] + "/" + name
    try:
        con = PostgresWarehouse.open(url)
        con.ensure_tables(get_contract(SOURCE))
        table = batch(args.rows)
        constants = {"_batch_id": f"{SOURCE}/2026-11-25", "_loaded_at": datetime(2026, 11, 25, 17)}
        relation = get_contract(SOURCE).raw_table
        empty = lambda: (con.execute(f"truncate {relation}"), con.commit())  # noqa: E731
        with_batch = table
        for column, value in constants.items():
            with_batch = with_batch.append_column(column, pa.array([value] * table.num_rows))
        names = ", ".join(quote(c) for c in with_batch.column_names)

        def plain_copy() -> None:
            buffer = io.BytesIO()
            pacsv.write_csv(with_batch, buffer, pacsv.WriteOptions(include_header=False))
            con._copy(f"copy {relation} ({names}) from stdin (format csv)", [buffer.getvalue()])
            con.commit()

        def loader_copy() -> None:
            con.append_arrow(relation, table, constants)
            con.commit()

        sample = with_batch.slice(0, args.insert_rows)

        def inserts() -> None:
            placeholders = ", ".join("?" for _ in sample.column_names)
            con.executemany(
                f"insert into {relation} ({names}) values ({placeholders})",
                [list(r.values()) for r in sample.to_pylist()],
            )
            con.commit()

        print(
            f"{SOURCE}: {len(table.column_names) + 2} columns, {with_batch.nbytes / 2**20:,.0f} MiB in Arrow"
        )
        loader = timed(
            "loader: binary COPY from Arrow (append_arrow)", args.rows, args.repeat, empty, loader_copy
        )
        plain = timed("plain: pyarrow CSV + COPY (format csv)", args.rows, args.repeat, empty, plain_copy)
        rows = timed("row inserts (executemany)", sample.num_rows, 1, empty, inserts)
        loaded = con.scalar(f"select count(*) from {relation}")
        assert loaded == sample.num_rows, loaded
        print(f"  loader / plain COPY: {loader / plain:.2f}x   loader / row inserts: {loader / rows:.0f}x")
        con.close()
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


if __name__ == "__main__":
    main()
