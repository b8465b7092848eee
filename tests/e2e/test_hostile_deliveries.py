"""Hostile deliveries (issue 14): every bad delivery ends as a clean rejection or quarantine with a reason
a person can act on, or loads correctly; no delivered identifier reaches `audit` or the log.

Each test takes a clean one-day delivery of a tiny generated city, breaks one source's files the way a
hostile or broken producer would, and drives the real ingestion steps (real files, GX, DuckDB) on an
isolated data folder. `test_walk_every_reader_failure_into_the_ledger` walks the exception types the
readers and transports raise; the Airflow test at the end runs the real DAG on one of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from community_dw import ingest, paths
from community_dw.contracts import get_contract
from community_dw.errors import BatchRejected

from support.identity import id_number

DAY = dt.date(2026, 11, 25)
NEXT = DAY + dt.timedelta(days=1)
HOUR = dt.datetime(2026, 11, 25, 10)
ZWSP = "\u200b"
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def clean_city(tmp_path_factory) -> Path:
    """One clean day (no injected defects) of a 300-resident city, as the producers deliver it."""
    from community_dw_tools.synthetic import generate_city

    out = tmp_path_factory.mktemp("clean-city")
    generate_city(out, residents=300, days=1, seed=11, defect_rate=0.0, start_date=DAY, crowd_spike=False)
    return out


class Delivery:
    """One test's data folder: the clean city's sources, which the test then breaks."""

    def __init__(self, root: Path, clean: Path) -> None:
        self.root = root
        shutil.copytree(clean, paths.sources_dir())

    # --- file drops ------------------------------------------------------------------------------
    def file(self, source: str) -> Path:
        from community_dw.transports.file_drop import expected_file

        return expected_file(get_contract(source), DAY)

    def lines(self, source: str) -> list[bytes]:
        return self.file(source).read_bytes().splitlines(keepends=True)

    def rewrite(self, source: str, data: bytes, rows: int | None = None) -> None:
        """Replace a file drop with `data` and a manifest that agrees with it (the producer's own)."""
        path = self.file(source)
        path.write_bytes(data)
        manifest = path.with_name(path.name + ".ok")
        if rows is None:
            nonblank = [line for line in data.splitlines() if line.strip()]
            rows = len(nonblank) - (1 if get_contract(source).format == "csv" else 0)
        manifest.write_text(
            json.dumps({"file": path.name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()}), "utf-8"
        )

    # --- object storage --------------------------------------------------------------------------
    def partition(self, hour: dt.datetime = HOUR) -> Path:
        from community_dw.transports.object_storage import partition_name

        contract = get_contract("telecom_stays")
        return paths.sources_dir() / "object_store" / contract.name / partition_name(contract, hour)

    def parts(self, hour: dt.datetime = HOUR) -> list[Path]:
        return sorted(self.partition(hour).glob("*.parquet"))

    # --- running ---------------------------------------------------------------------------------
    def ingest(self, source: str, start: dt.datetime | None = None):
        """('loaded', summary) or ('rejected', BatchRejected): what the steps did with the delivery."""
        start = start or (HOUR if source == "telecom_stays" else dt.datetime.combine(DAY, dt.time()))
        end = start + (dt.timedelta(hours=1) if source == "telecom_stays" else dt.timedelta(days=1))
        try:
            return "loaded", ingest.ingest_interval(source, start, end, run_id="hostile")
        except BatchRejected as rejection:
            return "rejected", rejection

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(paths.warehouse_path()), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def latest_ledger(self, batch_id: str) -> dict:
        with duckdb.connect(str(paths.warehouse_path()), read_only=True) as con:
            cursor = con.execute(
                "select * from audit.batch_ledger where batch_id = ? order by recorded_at desc limit 1",
                [batch_id],
            )
            names = [d[0] for d in cursor.description]
            return dict(zip(names, cursor.fetchone(), strict=True))

    def audit_text(self) -> str:
        """Every text value in every audit table, for the identifier scan."""
        with duckdb.connect(str(paths.warehouse_path()), read_only=True) as con:
            tables = con.execute(
                "select table_name from information_schema.tables where table_schema = 'audit'"
            ).fetchall()
            return "\n".join(
                str(row)
                for (table,) in tables
                for row in con.execute(f"select * from audit.{table}").fetchall()
            )


@pytest.fixture
def delivery(tmp_path, monkeypatch, clean_city) -> Delivery:
    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path / "data"))
    for name in ("CDW_SOURCES_DIR", "CDW_LANDING_DIR", "CDW_WORK_DIR", "CDW_WAREHOUSE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CDW_TELECOM_STORE_URL", raising=False)
    return Delivery(tmp_path, clean_city)


def identifiers(clean: Path) -> set[str]:
    """Delivered values of direct identifiers in the clean city (ID numbers, names, phones, household
    numbers, addresses, device hashes): none of them may ever appear in audit or a log line."""
    from community_dw.readers import read_landed
    from community_dw.transports.file_drop import expected_file

    found: set[str] = set()
    for source in ("population_registry", "health_services", "civil_affairs_assistance"):
        contract = get_contract(source)
        path = expected_file(contract, DAY, clean)
        table = read_landed(path, contract, "scan").table
        for col in contract.columns:
            if col.privacy == "direct" and col.delivered:
                found.update(v for v in table.column(col.header).to_pylist() if v and len(v) >= 4)
    return found


@pytest.fixture
def no_identifiers_leak(clean_city, caplog):
    """After the test: no identifier of the delivery in any audit table or in the captured log."""
    caplog.set_level(logging.INFO)
    yield
    known = identifiers(clean_city)
    logged = caplog.text
    leaked = sorted(v for v in known if v in logged)
    assert not leaked, (
        f"{len(leaked)} delivered identifiers in the log, e.g. a value of length {len(leaked[0])}"
    )
    audit = Delivery.audit_text(None) if paths.warehouse_path().exists() else ""
    leaked = sorted(v for v in known if v in audit)
    assert not leaked, f"{len(leaked)} delivered identifiers in audit tables"


def assert_rejected(outcome, rule: str, delivery: Delivery, **where) -> BatchRejected:
    state, rejection = outcome
    assert state == "rejected", f"expected a {rule} rejection, the batch {state}: {rejection}"
    assert rejection.rule == rule, str(rejection)
    for key, value in where.items():
        assert getattr(rejection, key) == value, (
            f"{key}: {getattr(rejection, key)!r} != {value!r} in {rejection}"
        )
    record = delivery.latest_ledger(rejection.batch_id)
    assert record["status"] == "rejected" and record["rejection_rule"] == rule
    assert record["file"] and rule in record["rejection_detail"]
    return rejection


# --- encodings ------------------------------------------------------------------------------------


def test_utf8_lines_inside_a_gbk_file_are_an_encoding_rejection_naming_the_row(delivery, no_identifiers_leak):
    lines = delivery.lines("population_registry")
    lines[5] = lines[5].decode("gbk").encode("utf-8")  # data row 5 re-encoded by another system
    delivery.rewrite("population_registry", b"".join(lines))
    rejection = assert_rejected(delivery.ingest("population_registry"), "ENCODING", delivery, row=5)
    assert "UTF-8" in rejection.detail and rejection.offset == sum(len(x) for x in lines[:5])


@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
def test_a_utf8_file_where_the_contract_says_gbk_is_rejected(delivery, no_identifiers_leak, bom):
    text = delivery.file("population_registry").read_bytes().decode("gbk")
    delivery.rewrite("population_registry", (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    rejection = assert_rejected(delivery.ingest("population_registry"), "ENCODING", delivery)
    assert ("byte-order mark" in rejection.detail) if bom else (rejection.row == 0 or rejection.row >= 0)


def test_a_gbk_file_where_the_contract_says_utf8_is_rejected(delivery, no_identifiers_leak):
    text = delivery.file("civil_affairs_assistance").read_bytes().decode("utf-8")
    lines = text.splitlines(keepends=True)
    lines[4] = lines[4].replace(",", ",低保", 1)  # Chinese text from row 4 on, as a GBK system writes it
    # Only the rows with Chinese text fail; the rejection names the first of them, not "the header".
    data = "".join(lines).encode("gbk")
    delivery.rewrite("civil_affairs_assistance", data)
    rejection = assert_rejected(delivery.ingest("civil_affairs_assistance"), "ENCODING", delivery)
    first_bad = next(i for i, line in enumerate(lines) if not line.isascii())
    assert rejection.row == max(first_bad, 1)


def test_invalid_utf8_in_jsonl_is_an_encoding_rejection(delivery, no_identifiers_leak):
    lines = delivery.lines("health_services")
    lines[3] = lines[3].replace(b'"', b'"\xff', 1)
    delivery.rewrite("health_services", b"".join(lines))
    assert_rejected(delivery.ingest("health_services"), "ENCODING", delivery, row=4)


# --- malformed records ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line", [b"[1, 2, 3]\n", b"42\n", b"null\n", b'"text"\n'], ids=["array", "number", "null", "string"]
)
def test_a_json_line_that_is_not_an_object_is_a_malformed_record(delivery, no_identifiers_leak, line):
    lines = delivery.lines("health_services")
    lines.insert(2, line)
    delivery.rewrite("health_services", b"".join(lines))
    rejection = assert_rejected(delivery.ingest("health_services"), "MALFORMED_RECORD", delivery, row=3)
    assert "line 3" in rejection.detail


def test_a_csv_row_with_an_extra_field_names_the_row_and_quotes_nothing(delivery, no_identifiers_leak):
    lines = delivery.lines("population_registry")
    lines[7] = lines[7].rstrip(b"\r\n") + b",extra\r\n"
    delivery.rewrite("population_registry", b"".join(lines))
    rejection = assert_rejected(delivery.ingest("population_registry"), "MALFORMED_RECORD", delivery, row=7)
    record = delivery.latest_ledger(rejection.batch_id)
    row_text = lines[7].decode("gbk")
    for field in row_text.strip().split(","):
        if len(field) >= 6:  # the row's ID number, name, phone, address: none in the ledger
            assert field not in record["rejection_detail"]


def test_duplicate_json_keys_quarantine_the_record(delivery, no_identifiers_leak):
    lines = delivery.lines("health_services")
    record = json.loads(lines[4])
    text = json.dumps(record, ensure_ascii=False)
    doubled = text[:-1] + ', "outcome": "completed"}'  # `outcome` twice: a parser would keep the last
    lines[4] = doubled.encode("utf-8") + b"\n"
    delivery.rewrite("health_services", b"".join(lines))
    state, summary = delivery.ingest("health_services")
    assert state == "loaded" and summary["reasons"].get("DUPLICATE_KEY") == 1
    rows = delivery.query(
        "select source_row, column_name from audit.quarantine_index where reason_code = 'DUPLICATE_KEY'"
    )
    assert rows == [(5, "outcome")]


# --- Parquet --------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_parquet_part_is_rejected_naming_the_part(delivery, no_identifiers_leak, damage):
    part = delivery.parts()[0]
    data = part.read_bytes()
    part.write_bytes(b"not parquet at all" * 10 if damage == "garbage" else data[: len(data) // 2])
    rejection = assert_rejected(delivery.ingest("telecom_stays"), "CORRUPT_FILE", delivery, file=part.name)
    landed = paths.landing_dir() / "telecom_stays" / f"{HOUR:%Y-%m-%dT%H}" / part.name
    assert landed.exists(), "the broken part stays in landing for the auditor"
    assert part.name in rejection.detail


def test_a_part_missing_a_column_is_schema_drift_naming_the_part(delivery, no_identifiers_leak):
    part = delivery.parts()[-1]
    pq.write_table(pq.read_table(part).drop_columns(["carrier"]), part)
    assert_rejected(
        delivery.ingest("telecom_stays"), "SCHEMA_DRIFT", delivery, file=part.name, column="carrier"
    )


def test_epoch_integers_where_a_timestamp_is_declared_are_schema_drift(delivery, no_identifiers_leak):
    part = delivery.parts()[0]
    table = pq.read_table(part)
    epoch = table.column("stay_start").cast(pa.timestamp("s")).cast(pa.int64())
    pq.write_table(table.set_column(table.column_names.index("stay_start"), "stay_start", epoch), part)
    assert_rejected(
        delivery.ingest("telecom_stays"), "SCHEMA_DRIFT", delivery, file=part.name, column="stay_start"
    )


def test_zone_aware_timestamps_load_as_local_time(delivery, no_identifiers_leak):
    """Hour 10 local delivered as UTC instants (02:00Z) loads as 10:00, not 02:00."""
    for part in delivery.parts():
        table = pq.read_table(part)
        for name in ("stay_start", "stay_end"):
            local = table.column(name).cast(pa.timestamp("us", tz="Asia/Shanghai"))  # naive taken as local
            aware = pa.compute.assume_timezone(table.column(name), "Asia/Shanghai").cast(
                pa.timestamp("us", tz="UTC")
            )
            assert local.type.tz and aware.type.tz == "UTC"
            table = table.set_column(table.column_names.index(name), name, aware)
        pq.write_table(table, part)
    state, summary = delivery.ingest("telecom_stays")
    assert state == "loaded", summary
    hours = delivery.query("select distinct hour(stay_start) from raw.telecom_stays")
    assert hours == [(10,)]


def test_an_empty_telecom_hour_is_rejected_as_the_contract_says(delivery, no_identifiers_leak):
    for part in delivery.parts():
        part.unlink()  # the carrier wrote _SUCCESS and no data
    assert get_contract("telecom_stays").options.get("empty_interval") == "reject"
    rejection = assert_rejected(delivery.ingest("telecom_stays"), "EMPTY_INTERVAL", delivery)
    assert rejection.received_rows == 0


# --- manifests, replays and the ledger's truth ----------------------------------------------------


def test_a_truncated_file_is_kept_in_landing_with_its_row_count(delivery, no_identifiers_leak):
    path = delivery.file("population_registry")
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))  # the manifest still describes the whole file
    rejection = assert_rejected(delivery.ingest("population_registry"), "MANIFEST_SHA256", delivery)
    record = delivery.latest_ledger(rejection.batch_id)
    assert record["received_rows"] == len(lines) // 2 - 1
    kept = list((paths.landing_dir() / "population_registry" / DAY.isoformat()).glob("*.rejected"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"".join(lines[: len(lines) // 2])


def test_a_changed_replay_is_refused_and_the_ledger_says_what_stays_loaded(delivery, no_identifiers_leak):
    state, first = delivery.ingest("civil_affairs_assistance")
    assert state == "loaded"
    lines = delivery.lines("civil_affairs_assistance")
    delivery.rewrite("civil_affairs_assistance", b"".join(lines[:-1]))  # one row fewer: history rewritten
    rejection = assert_rejected(
        delivery.ingest("civil_affairs_assistance"), "REPLAY_CONTENT_CHANGED", delivery
    )
    record = delivery.latest_ledger(rejection.batch_id)
    assert record["received_rows"] == first["received"] - 1 == record["rejected_rows"]
    assert (record["loaded_rows"], record["quarantined_rows"]) == (first["loaded"], first["quarantined"])
    assert f"{first['loaded']} rows loaded" in record["rejection_detail"]
    assert delivery.query("select count(*) from raw.civil_affairs_assistance")[0][0] == first["loaded"]


# --- the safety net -------------------------------------------------------------------------------


def _break(kind: str, delivery: Delivery) -> str:
    """Damage a delivery so that a reader meets one exception type; returns the source."""
    if kind == "UnicodeDecodeError":
        delivery.rewrite(
            "health_services", delivery.file("health_services").read_bytes() + b'{"service_id": "\xc3"}\n'
        )
        return "health_services"
    if kind == "JSONDecodeError":
        delivery.rewrite(
            "health_services", delivery.file("health_services").read_bytes() + b'{"service_id": \n'
        )
        return "health_services"
    if kind == "ArrowInvalid":  # pyarrow's CSV parser on an unterminated quote
        delivery.rewrite(
            "civil_affairs_assistance",
            delivery.file("civil_affairs_assistance").read_bytes() + b'"open,quote\n',
        )
        return "civil_affairs_assistance"
    if kind == "OSError":  # a Parquet footer that lies about its length
        part = delivery.parts()[0]
        data = part.read_bytes()
        part.write_bytes(data[:-8] + (10**6).to_bytes(4, "little") + b"PAR1")
        return "telecom_stays"
    if kind == "TypeError":  # a JSON value of the wrong kind where text is expected
        delivery.rewrite(
            "health_services", delivery.file("health_services").read_bytes() + b'{"service_id": {"a": [1]}}\n'
        )
        return "health_services"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["UnicodeDecodeError", "JSONDecodeError", "ArrowInvalid", "OSError", "TypeError"]
)
def test_walk_every_reader_failure_into_the_ledger(delivery, no_identifiers_leak, kind):
    """Whatever a reader meets ends as a ledger record: a rejection, or a load with the row quarantined."""
    source = _break(kind, delivery)
    state, result = delivery.ingest(source)
    batch_id = result.batch_id if state == "rejected" else result["batch_id"]
    record = delivery.latest_ledger(batch_id)
    assert record["status"] == ("rejected" if state == "rejected" else "loaded")
    if state == "loaded":
        assert record["received_rows"] == record["loaded_rows"] + record["quarantined_rows"]
        assert record["quarantined_rows"] >= 1


def test_unforeseen_reader_failures_are_still_rejections(delivery, no_identifiers_leak, monkeypatch):
    """The net under the readers: an exception no reader names becomes UNREADABLE_FILE, message withheld."""
    from community_dw import readers

    def explode(path, contract, batch_id):
        raise ValueError("公民身份号码 11010519491231002X cannot be parsed")  # a message quoting data

    with monkeypatch.context() as patched:
        patched.setitem(readers.READERS, "csv", explode)
        outcome = delivery.ingest("population_registry")
    rejection = assert_rejected(outcome, "UNREADABLE_FILE", delivery)
    assert "ValueError" in rejection.detail and "11010519491231002X" not in str(rejection)
    assert delivery.latest_ledger(rejection.batch_id)["received_rows"] > 0


# --- through real Airflow -------------------------------------------------------------------------


def test_a_rejection_fails_its_task_once_without_retries_and_logs_no_identifier(
    delivery, airflow_db, clean_city, no_identifiers_leak, caplog
):
    """The real DAG: the privacy step fails on the first try (no retries), the ledger holds the rejection,
    and the task's log names row and rule but no delivered identifier."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    from support.airflow import interval_run_date, run_dag

    lines = delivery.lines("population_registry")
    lines[3] = lines[3].decode("gbk").encode("utf-8")
    delivery.rewrite("population_registry", b"".join(lines))
    assert run_dag("ingest_population_registry", interval_run_date(DAY)) == "failed"
    record = delivery.latest_ledger("population_registry/2026-11-25")
    assert record["rejection_rule"] == "ENCODING" and "data row 3" in record["rejection_detail"]
    with create_session() as session:
        failed = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == "ingest_population_registry", TaskInstance.state == "failed")
            .order_by(TaskInstance.start_date.desc())
            .first()
        )
        assert failed.task_id == "protect_identities" and failed.try_number == 1
    # dag.test() runs the tasks in this process: their log is what the test captured.
    assert "Batch rejected by rule ENCODING" in caplog.text
    leaked = [v for v in identifiers(clean_city) if v in caplog.text]
    assert not leaked, f"{len(leaked)} delivered identifiers in the task logs"


# --- one person, one pseudonym: normalization at the door -----------------------------------------


def _csv_rows(delivery: Delivery, source: str) -> tuple[list[str], list[list[str]]]:
    import csv

    contract = get_contract(source)
    text = delivery.file(source).read_bytes().decode(contract.encoding)
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def _write_csv(delivery: Delivery, source: str, header: list[str], rows: list[list[str]]) -> None:
    import csv

    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    delivery.rewrite(source, out.getvalue().encode(get_contract(source).encoding), rows=len(rows))


def test_formatting_never_splits_a_household(delivery, no_identifiers_leak):
    """A household number in full-width digits, with a zero-width space or padded, is the same household."""
    header, rows = _csv_rows(delivery, "population_registry")
    column = header.index("户号")
    households = {r[column] for r in rows}
    for row, variant in zip(rows[:3], ("fullwidth", "ideographic-space", "padded"), strict=True):
        value = row[column]
        row[column] = {  # GBK has no zero-width space; its ideographic space is what such systems add
            "fullwidth": value.translate(FULL_WIDTH_DIGITS),
            "ideographic-space": value + "\u3000",
            "padded": f"  {value} ",
        }[variant]
    _write_csv(delivery, "population_registry", header, rows)
    state, summary = delivery.ingest("population_registry")
    assert state == "loaded" and summary["quarantined"] == 0, summary
    loaded = delivery.query("select count(distinct household_id) from raw.population_registry")[0][0]
    assert loaded == len(households)


def test_an_id_number_with_spaces_or_a_lower_case_x_is_valid(delivery, no_identifiers_leak):
    header, rows = _csv_rows(delivery, "population_registry")
    column = header.index("公民身份号码")
    with_x = next(i for i, r in enumerate(rows) if r[column].endswith("X"))
    rows[with_x][column] = rows[with_x][column].lower()
    rows[0][column] = f" {rows[0][column]} "
    _write_csv(delivery, "population_registry", header, rows)
    state, summary = delivery.ingest("population_registry")
    assert state == "loaded" and summary["quarantined"] == 0, summary["reasons"]
    assert delivery.query("select count(distinct resident_id) from raw.population_registry")[0][0] == len(
        rows
    )


def test_a_case_repeated_with_an_invisible_character_is_a_duplicate_key(delivery, no_identifiers_leak):
    header, rows = _csv_rows(delivery, "civil_affairs_assistance")
    twin = list(rows[0])
    twin[header.index("case_id")] += ZWSP
    _write_csv(delivery, "civil_affairs_assistance", header, [*rows, twin])
    state, result = delivery.ingest("civil_affairs_assistance")
    # Both twins are held back: quarantined, or, in a file this small, the batch refused for their share.
    if state == "loaded":
        assert result["reasons"].get("DUPLICATE_KEY", 0) == 2, result
    else:
        assert result.rule == "TOO_MANY_BAD_ROWS" and "DUPLICATE_KEY" in result.detail, result
    dupes = delivery.query(
        "select case_id from raw.civil_affairs_assistance group by case_id having count(*) > 1"
    )
    assert dupes == []


def test_one_resident_in_three_spellings_has_one_pseudonym(delivery, no_identifiers_leak):
    """The same resident ID as-is, with a zero-width space and in full-width digits, in health contacts."""
    lines = delivery.lines("health_services")
    first = json.loads(lines[0])
    for n, spelling in enumerate(
        (first["resident_id"] + ZWSP, first["resident_id"].translate(FULL_WIDTH_DIGITS)), start=1
    ):
        twin = dict(first, service_id=f"{first['service_id']}-{n}", resident_id=spelling)
        lines.append(json.dumps(twin, ensure_ascii=False).encode("utf-8") + b"\n")
    delivery.rewrite("health_services", b"".join(lines))
    state, summary = delivery.ingest("health_services")
    assert state == "loaded" and summary["quarantined"] == 0, summary
    ids = delivery.query(
        "select count(distinct resident_id) from raw.health_services where service_id like ?",
        [f"{first['service_id']}%"],
    )
    assert ids == [(1,)]


def _land_appeals(delivery: Delivery, versions: list[dict]):
    """An appeals batch as the API transport lands it (JSON Lines), without a server in between."""
    from community_dw.clock import utc_stamp
    from community_dw.transports.base import LandedBatch, sha256_of

    folder = paths.landing_dir() / "appeals" / "2026-11-25T0000"
    folder.mkdir(parents=True)
    path = folder / "appeals_2026-11-25T0000.jsonl"
    path.write_bytes(b"".join(json.dumps(v, ensure_ascii=False).encode() + b"\n" for v in versions))
    return LandedBatch(
        "appeals",
        "appeals/2026-11-25T00:00",
        "2026-11-25",
        path.name,
        str(path),
        sha256_of(path),
        len(versions),
        utc_stamp(),
    )


def test_reporter_ids_are_normalized_and_validated(delivery, no_identifiers_leak):
    from stdnum.cn import ric

    tickets = json.loads((paths.sources_dir() / "api" / "appeals" / "tickets.json").read_text("utf-8"))
    base = tickets[0]
    reporter = "11010519491231002X"
    assert ric.is_valid(reporter)
    spellings = [reporter, reporter + ZWSP, reporter.translate(FULL_WIDTH_DIGITS), reporter[:-1] + "x"]
    bad = reporter[:-1] + ("1" if reporter[-1] != "1" else "2")  # a wrong check digit
    filler = [None] * 40  # tickets without a reporter id, so one bad row stays under the 5 % limit
    versions = [
        dict(base, ticket_id=f"T99{n:011d}", reporter_id=value)
        for n, value in enumerate([*spellings, bad, *filler])
    ]
    landed = _land_appeals(delivery, versions)
    summary = ingest.load(ingest.validate(ingest.protect_identities(landed, "hostile"), "hostile"), "hostile")
    assert summary["quarantined"] == 1, summary
    assert delivery.query("select count(distinct reporter_id) from raw.appeals")[0][0] == 1
    reasons = delivery.query("select column_name, reason_code from audit.quarantine_index")
    assert reasons and all(column == "reporter_id" for column, _ in reasons)


# --- plausibility ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "birth", [dt.date(2031, 5, 1), dt.date(1870, 1, 1)], ids=["born-in-the-future", "aged-156"]
)
def test_an_implausible_birth_date_with_a_consistent_id_number_is_quarantined(
    delivery, no_identifiers_leak, birth
):
    header, rows = _csv_rows(delivery, "population_registry")
    rows[0][header.index("公民身份号码")] = id_number(birth, rows[0][header.index("性别")])
    rows[0][header.index("出生日期")] = f"{birth:%Y%m%d}"
    _write_csv(delivery, "population_registry", header, rows)
    state, summary = delivery.ingest("population_registry")
    assert state == "loaded" and summary["quarantined"] == 1, summary
    reasons = {reason for (reason,) in delivery.query("select reason_code from audit.quarantine_index")}
    assert reasons and all(r.startswith("IMPLAUSIBLE") for r in reasons), reasons
