"""pgaudit's csvlog records as the access-log collector reads them (community_dw.audit_view.access_log):
which records are reads, their fields, and where a collection stops while the server is still writing.
The collection against a real server with pgaudit is in tests/privacy/test_access_log.py."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from community_dw.audit_view import access_log


def _line(user: str, session_line: int, message: str, zone: str = "UTC") -> str:
    """One csvlog record of PostgreSQL 15 (26 columns), as the server writes it."""
    fields = [f"2026-12-02 19:50:12.801 {zone}", user, "warehouse", "5850", "[local]", "6b107674.16da"]
    fields += [str(session_line), "SELECT", "2026-12-02 19:50:12 UTC", "3/4", "0", "LOG", "00000", message]
    fields += [""] * 8 + ["psql", "client backend", "", "0"]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue()


OBJECT_READ = "AUDIT: OBJECT,1,1,READ,SELECT,TABLE,care.overdue_visits,<not logged>,<not logged>,12"
SESSION_COPY = "AUDIT: SESSION,3,1,READ,COPY,,,<not logged>,<not logged>,0"
WRITE = "AUDIT: OBJECT,4,1,WRITE,INSERT,TABLE,raw.population_registry,<not logged>,<not logged>,5"


def _record(line: str) -> list[str]:
    return next(csv.reader([line]))


def test_a_read_is_who_when_which_relation_and_how_many_rows():
    read = access_log.parse_record(_record(_line("gw_li", 1, OBJECT_READ, zone="Asia/Shanghai")))
    assert (read.reader, read.relation, read.command, read.rows_read) == (
        "gw_li",
        "care.overdue_visits",
        "SELECT",
        12,
    )
    assert read.read_at == datetime(2026, 12, 2, 11, 50, 12, 801000), "naive UTC"
    assert read.key == ("6b107674.16da", 1, 1, "care.overdue_visits") and read.person_level


def test_a_copy_without_a_relation_is_kept_and_writes_and_other_lines_are_not_reads():
    copy = access_log.parse_record(_record(_line("eng_zhao", 2, SESSION_COPY)))
    assert (copy.relation, copy.command, copy.audit_type, copy.person_level) == ("", "COPY", "SESSION", True)
    assert access_log.parse_record(_record(_line("cdw_loader", 3, WRITE))) is None
    assert access_log.parse_record(_record(_line("gw_li", 4, "connection authorized: user=gw_li"))) is None
    no_relation = SESSION_COPY.replace("READ,COPY", "READ,SELECT")  # `select 1` under session logging
    assert not access_log.parse_record(_record(_line("gw_li", 6, no_relation))).person_level
    marts = OBJECT_READ.replace("care.overdue_visits", "marts.community_population_profile")
    assert not access_log.parse_record(_record(_line("analyst_qian", 5, marts))).person_level


def test_a_collection_stops_before_a_record_the_server_is_still_writing(tmp_path):
    multiline = _line("gw_li", 2, "statement: select 1\nfrom care.overdue_visits")  # a quoted newline
    complete = _line("gw_li", 1, OBJECT_READ) + multiline
    last = _line("eng_zhao", 3, OBJECT_READ.replace("1,1,", "2,1,"))
    path = tmp_path / "postgresql-2026-12-02.csv"
    path.write_bytes((complete + last[:40]).encode())

    seen = list(access_log.records_from(path, 0))
    assert [r[6] for r, _ in seen] == ["1", "2"] and seen[-1][1] == len(complete.encode())

    first = _line("gw_li", 1, OBJECT_READ)
    path.write_bytes((first + multiline.split("\n")[0] + "\n").encode())  # inside the quoted message
    assert [end for _, end in access_log.records_from(path, 0)] == [len(first.encode())]

    path.write_bytes((complete + last[:-1]).encode())  # the whole record but its newline
    assert len(list(access_log.records_from(path, seen[-1][1]))) == 0
    path.write_bytes((complete + last).encode())
    [(record, end)] = access_log.records_from(path, seen[-1][1])
    assert record[1] == "eng_zhao" and end == path.stat().st_size
