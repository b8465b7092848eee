"""The synthetic city generator: realistic, reproducible, and honest about the defects it injects."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

from community_dw.contracts import get_contract
from community_dw_tools.synthetic import generate_city, identity, load_divisions
from community_dw_tools.synthetic import geography as geo_mod
from community_dw_tools.synthetic.defects import REASONS
from community_dw_tools.synthetic.names import NamePool
from community_dw_tools.synthetic.population import build_households

RESIDENTS, DAYS, SEED, RATE = 2_000, 2, 11, 0.002
START = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(out, residents=RESIDENTS, days=DAYS, seed=SEED, defect_rate=RATE, start_date=START)
    return out


@pytest.fixture(scope="module")
def clean_city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate_city(out, residents=RESIDENTS, days=DAYS, seed=SEED, defect_rate=0.0, start_date=START)
    return out


@pytest.fixture(scope="module")
def sidecar(city) -> dict:
    return json.loads((city / "defects.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def divisions() -> tuple[set[str], set[str]]:
    table = load_divisions()
    return set(table["community_code"].to_pylist()), set(table["grid_code"].to_pylist())


def _tree_digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _days() -> list[dt.date]:
    return [START + dt.timedelta(days=d) for d in range(DAYS)]


def _csv_rows(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(encoding))))
    return rows[0], rows[1:]


def _defects_by_row(sidecar: dict, file: str) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = defaultdict(list)
    for d in sidecar["defects"]:
        if d["file"] == file:
            found[d["row"]].append(d)
    return found


def _id_facts(resident_id: str) -> tuple[str, str]:
    return resident_id[6:14], "1" if int(resident_id[16]) % 2 else "2"


# -- reference geography -----------------------------------------------------------------------------


def test_seed_file_is_the_fixed_division_tree():
    assert load_divisions().equals(geo_mod.build_divisions())


def test_division_codes_nest():
    table = load_divisions().to_pylist()
    assert {r["district_code"] for r in table} == {"330106"}
    assert len({r["street_code"] for r in table}) == 12
    per_street = Counter(r["street_code"] for r in {r["community_code"]: r for r in table}.values())
    assert all(19 <= n <= 21 for n in per_street.values())
    per_community = Counter(r["community_code"] for r in table)
    assert all(4 <= n <= 8 for n in per_community.values())
    for r in table:
        assert len(r["street_code"]) == 9 and r["street_code"].startswith("330106")
        assert len(r["community_code"]) == 12 and r["community_code"].startswith(r["street_code"])
        assert len(r["grid_code"]) == 15 and r["grid_code"].startswith(r["community_code"])
    assert len({r["grid_code"] for r in table}) == len(table)
    assert len({r["community_name"] for r in table}) == len(per_community)


@pytest.mark.parametrize(("residents", "streets"), [(50_000, 1), (1_000_000, 12)])
def test_grid_sizes_for_demo_and_district(residents, streets):
    geo = geo_mod.geography()
    counts = geo_mod.allocate_residents(residents, geo)
    assert counts.sum() == residents
    used = counts > 0
    assert len(set(geo.grid_street[used])) == streets
    assert counts[used].min() >= 300 and counts[used].max() <= 1_000
    per_community = np.bincount(geo.grid_community, weights=counts)
    assert per_community[per_community > 0].min() >= 1_000


def test_households_fill_grids_as_allocated():
    geo = geo_mod.geography()
    counts = geo_mod.allocate_residents(50_000, geo)
    rng = np.random.default_rng(3)
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(3)
    register = build_households(rng, NamePool.from_faker(fake, rng), geo, counts, START, 100_000_000)
    people = np.bincount(register.grid, minlength=geo.n_grids)
    assert len(register) == 50_000
    assert people[counts > 0].min() >= 300 and people.max() <= 1_000
    ages = register.ages(START)
    assert 0.10 < (ages >= 65).mean() < 0.20 and 0.10 < (ages < 18).mean() < 0.22
    # households share address and grid; exactly one head each
    heads = Counter(register.household[register.relation == "02"])
    assert set(heads.values()) == {1} and len(heads) == len(set(register.household))


# -- identifiers -------------------------------------------------------------------------------------


def test_vectorized_check_digit_matches_stdnum():
    rng = np.random.default_rng(5)
    years = rng.integers(1930, 2025, 500)
    categories = rng.integers(0, len(identity.CATEGORIES), 500)
    regions = identity.draw_regions(rng, categories, years)
    ymd = years * 10000 + rng.integers(1, 13, 500) * 100 + rng.integers(1, 29, 500)
    bodies = identity.make_id_bodies(rng, regions, ymd, rng.integers(1, 3, 500))
    for resident_id in identity.id_strings(bodies):
        assert resident_id[-1] == ric.calc_check_digit(resident_id)
        assert ric.is_valid(resident_id), resident_id


def test_id_bodies_are_unique_and_encode_sex():
    rng = np.random.default_rng(9)
    n = 600  # of 1,000 possible sequence numbers for one region and birthday
    sexes = rng.integers(1, 3, n)
    regions = np.full(n, 330106)
    bodies = identity.make_id_bodies(rng, regions, np.full(n, 19900101), sexes)  # one birthday: clashes
    assert len(set(bodies.tolist())) == n
    assert ((bodies % 10) % 2 == (sexes == 1)).all()
    more = identity.make_id_bodies(rng, regions[:200], np.full(200, 19900101), sexes[:200], taken=bodies)
    assert not set(more.tolist()) & set(bodies.tolist())


# -- determinism -------------------------------------------------------------------------------------


def test_same_seed_same_bytes(city, tmp_path):
    again = tmp_path / "again"
    generate_city(again, residents=RESIDENTS, days=DAYS, seed=SEED, defect_rate=RATE, start_date=START)
    assert _tree_digests(again) == _tree_digests(city)


def test_other_seed_other_bytes(city, tmp_path):
    other = tmp_path / "other"
    generate_city(other, residents=RESIDENTS, days=1, seed=SEED + 1, defect_rate=RATE, start_date=START)
    name = "file_drop/population_registry/population_registry_20261125.csv"
    assert _tree_digests(other)[name] != _tree_digests(city)[name]


def test_generation_parameters_recorded(city):
    params = json.loads((city / "generation.json").read_text())
    assert params["residents"] == RESIDENTS and params["days"] == DAYS and params["seed"] == SEED
    assert params["defect_rate"] == RATE and params["start_date"] == START.isoformat()


# -- file drops: encodings, headers, manifests -------------------------------------------------------


def test_population_is_gbk_with_contract_headers(city):
    contract = get_contract("population_registry")
    for day in _days():
        path = city / f"file_drop/population_registry/population_registry_{day:%Y%m%d}.csv"
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        header, rows = _csv_rows(path, "gbk")
        assert header == [c.source_header for c in contract.delivered_columns]
        assert all(len(r) == len(header) for r in rows)


def test_civil_affairs_and_health_headers(city):
    civil = get_contract("civil_affairs_assistance")
    health = get_contract("health_services")
    for day in _days():
        header, _ = _csv_rows(
            city / f"file_drop/civil_affairs_assistance/civil_affairs_assistance_{day:%Y%m%d}.csv", "utf-8"
        )
        assert header == [c.name for c in civil.delivered_columns]
        lines = (
            (city / f"file_drop/health_services/health_services_{day:%Y%m%d}.jsonl").read_text().splitlines()
        )
        assert all(list(json.loads(line)) == [c.name for c in health.delivered_columns] for line in lines)


def test_manifests_describe_their_files(city):
    manifests = sorted((city / "file_drop").rglob("*.ok"))
    assert len(manifests) == 3 * DAYS
    for manifest in manifests:
        document = json.loads(manifest.read_text())
        data_file = manifest.with_name(document["file"])
        assert manifest.name == document["file"] + ".ok"
        data = data_file.read_bytes()
        assert document["sha256"] == hashlib.sha256(data).hexdigest()
        lines = data.count(b"\n")
        assert document["rows"] == (lines if data_file.suffix == ".jsonl" else lines - 1)
        assert document["source"] == data_file.parent.name
        assert set(document) == {"file", "rows", "sha256", "source", "produced_at"}


# -- population realism and its defects --------------------------------------------------------------


def test_population_rows_valid_except_recorded_defects(city, sidecar, divisions):
    communities, grids = divisions
    columns = [c.name for c in get_contract("population_registry").delivered_columns]
    required = [c.name for c in get_contract("population_registry").delivered_columns if c.required]
    for day in _days():
        file = f"file_drop/population_registry/population_registry_{day:%Y%m%d}.csv"
        _, rows = _csv_rows(city / file, "gbk")
        defects = _defects_by_row(sidecar, file)
        kinds = Counter(d["defect"] for ds in defects.values() for d in ds)
        assert set(kinds) == set(REASONS["population_registry"])
        ids = Counter(r[0] for r in rows)
        for number, values in enumerate(rows, start=1):
            row = dict(zip(columns, values, strict=True))
            found = {d["defect"] for d in defects.get(number, [])}
            assert len(found) <= 1
            kind = found.pop() if found else None
            birth, sex = _id_facts(row["resident_id"])
            assert ric.is_valid(row["resident_id"]) == (kind != "bad_check_digit")
            assert (row["birth_date"] == birth) == (kind != "birth_date_mismatch")
            assert (row["sex"] == sex) == (kind != "sex_mismatch")
            assert (ids[row["resident_id"]] > 1) == (kind == "duplicate_key")
            assert (row["community_code"] in communities) == (kind != "unknown_community")
            assert row["grid_code"] in grids
            try:
                dt.datetime.strptime(row["move_in_date"], "%Y%m%d")
                parses = True
            except ValueError:
                parses = False
            assert parses == (kind != "impossible_date")
            assert all(row[c] for c in required) == (kind != "missing_required")
            if kind is None:
                assert row["grid_code"].startswith(row["community_code"])
                assert len(row["phone"]) in (0, 11) and row["relation_to_head"] in {
                    "02",
                    "10",
                    "20",
                    "30",
                    "50",
                    "99",
                }
                dt.datetime.strptime(row["updated_at"], "%Y-%m-%d %H:%M:%S")


def test_population_day_two_is_day_one_with_churn(city, sidecar):
    snapshots, tainted = [], set()
    for day in _days():
        file = f"file_drop/population_registry/population_registry_{day:%Y%m%d}.csv"
        _, rows = _csv_rows(city / file, "gbk")
        defects = _defects_by_row(sidecar, file)
        tainted |= {rows[n - 1][0][:17] for n in defects}  # keyed by ID body: check digits get broken
        snapshots.append({r[0][:17]: r for r in rows})
    first, second = ({k: v for k, v in s.items() if k not in tainted} for s in snapshots)
    churn = next(e for e in sidecar["events"] if e["event"] == "churn")
    assert set(first) <= set(second)  # nobody is deleted: leavers stay with status 2 or 3
    assert len(set(second) - set(first)) == churn["moved_in"]
    changed = [i for i in first if first[i][-1] != second[i][-1]]
    assert all(second[i][-1].startswith(_days()[1].isoformat()) for i in changed)
    expected = churn["moved_out"] + churn["deceased"] + churn["updated"]
    assert expected - len(tainted) <= len(changed) <= expected
    status = {i: second[i][13] for i in changed}
    assert sum(s == "3" for s in status.values()) <= churn["deceased"]


def test_population_groups_and_households(city):
    contract = get_contract("population_registry")
    columns = [c.name for c in contract.delivered_columns]
    _, rows = _csv_rows(city / "file_drop/population_registry/population_registry_20261125.csv", "gbk")
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    household_size = Counter(r["household_id"] for r in records)
    residence = Counter(r["residence_type"] for r in records)
    assert residence["1"] > residence["2"] > residence["3"] > 0
    for r in records:
        groups = set(filter(None, r["special_groups"].split(";")))
        assert groups <= {"elderly_alone", "disabled", "low_income", "entitled", "left_behind_child"}
        if "elderly_alone" in groups and r["household_id"]:
            assert household_size[r["household_id"]] == 1
            assert int(r["birth_date"][:4]) <= START.year - 64


# -- civil affairs and health ------------------------------------------------------------------------


def test_civil_affairs_rows_valid_except_recorded_defects(city, sidecar, divisions):
    communities, _ = divisions
    seen: set[str] = set()
    for day in _days():
        file = f"file_drop/civil_affairs_assistance/civil_affairs_assistance_{day:%Y%m%d}.csv"
        header, rows = _csv_rows(city / file, "utf-8")
        defects = _defects_by_row(sidecar, file)
        for number, values in enumerate(rows, start=1):
            row = dict(zip(header, values, strict=True))
            kind = defects[number][0]["defect"] if number in defects else None
            seen.add(kind)
            assert ric.is_valid(row["resident_id"]) == (kind != "bad_check_digit")
            assert (row["community_code"] in communities) == (kind != "unknown_community")
            assert (float(row["monthly_amount"]) >= 0) == (kind != "negative_amount")
            assert (
                row["monthly_amount"].split(".")[1].isdigit()
                and len(row["monthly_amount"].split(".")[1]) == 2
            )
            ends_before = bool(row["end_date"]) and row["end_date"] < row["start_date"]
            assert ends_before == (kind == "end_before_start")
            assert row["programme"] in {
                "minimum_living_allowance",
                "extreme_poverty_support",
                "temporary_assistance",
                "disability_subsidy",
                "senior_allowance",
            }
            assert row["status"] in {"active", "suspended", "closed"}
    assert seen - {None} == set(REASONS["civil_affairs_assistance"])


def test_health_rows_valid_except_recorded_defects(city, sidecar, divisions):
    communities, _ = divisions
    for day in _days():
        file = f"file_drop/health_services/health_services_{day:%Y%m%d}.jsonl"
        defects = _defects_by_row(sidecar, file)
        kinds = set()
        for number, line in enumerate((city / file).read_text().splitlines(), start=1):
            row = json.loads(line)
            kind = defects[number][0]["defect"] if number in defects else None
            kinds.add(kind)
            assert ric.is_valid(row["resident_id"]) == (kind != "bad_check_digit")
            assert (row["community_code"] in communities) == (kind != "unknown_community")
            try:
                dt.date.fromisoformat(row["service_date"])
                parses = True
            except ValueError:
                parses = False
            assert parses == (kind != "impossible_date")
            assert len(row["provider_org_code"]) == 18 and row["outcome"] in {
                "completed",
                "refused",
                "not_found",
            }
        assert kinds - {None} == set(REASONS["health_services"])


# -- telecom -----------------------------------------------------------------------------------------


def _stays(city: Path, day: dt.date, hour: int):
    return pq.read_table(
        city / f"object_store/telecom_stays/dt={day.isoformat()}/hour={hour:02d}/part-0.parquet"
    )


def test_telecom_partitions_and_schema(city):
    for day in _days():
        for hour in range(24):
            folder = city / f"object_store/telecom_stays/dt={day.isoformat()}/hour={hour:02d}"
            assert (folder / "_SUCCESS").read_bytes() == b""
    table = _stays(city, START, 12)
    assert table.column_names == [c.name for c in get_contract("telecom_stays").columns]
    assert str(table.schema.field("stay_start").type) == "timestamp[us]"
    hashes = table["msisdn_hash"].to_pylist()
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes[:100])
    assert set(table["carrier"].to_pylist()) == {"CMCC", "CUCC", "CTCC"}
    # about 20 stays per resident per day
    total = sum(_stays(city, START, h).num_rows for h in range(24))
    assert 15 * RESIDENTS < total < 25 * RESIDENTS


def test_telecom_defects_are_where_recorded(city, sidecar, divisions):
    _, grids = divisions
    for hour in (0, 13):
        file = f"object_store/telecom_stays/dt={START.isoformat()}/hour={hour:02d}/part-0.parquet"
        table = (city / file).parent / "part-0.parquet"
        rows = pq.read_table(table).to_pylist()
        defects = _defects_by_row(sidecar, file)
        assert {d[0]["defect"] for d in defects.values()} == set(REASONS["telecom_stays"])
        for number, row in enumerate(rows, start=1):
            kind = defects[number][0]["defect"] if number in defects else None
            assert (row["stay_end"] < row["stay_start"]) == (kind == "negative_duration")
            assert (row["grid_code"] in grids) == (kind != "unknown_grid")


def test_residents_at_home_at_night_workers_by_day(city):
    night, day = _stays(city, START, 3), _stays(city, START, 14)

    def devices(table, user_type) -> Counter:
        """Distinct devices of a user type per grid."""
        rows = table.filter(pc.equal(table["user_type"], user_type))
        pairs = set(zip(rows["grid_code"].to_pylist(), rows["msisdn_hash"].to_pylist(), strict=True))
        return Counter(grid for grid, _ in pairs)

    night_res, day_res = devices(night, "resident"), devices(day, "resident")
    residential = [g for g, n in night_res.items() if n >= 5]
    assert len(residential) > 50
    fuller_at_night = sum(night_res[g] > day_res.get(g, 0) for g in residential)
    assert fuller_at_night >= 0.95 * len(residential)
    assert sum(night_res.values()) > 1.8 * sum(day_res.values())
    assert sum(devices(day, "worker").values()) > 5 * max(1, sum(devices(night, "worker").values()))


def test_crowd_spike_is_recorded_and_visible(city, sidecar):
    spike = next(e for e in sidecar["events"] if e["event"] == "crowd_spike")
    last = _days()[-1]
    assert spike["date"] == last.isoformat() and spike["hours"] == [19, 20]

    def visitors(hour: int) -> int:
        table = _stays(city, last, hour)
        mask = pc.and_(
            pc.equal(table["grid_code"], spike["grid_code"]), pc.equal(table["user_type"], "visitor")
        )
        return len(set(table.filter(mask)["msisdn_hash"].to_pylist()))

    assert visitors(19) == spike["spike_visitors"][0]
    usual = max(visitors(h) for h in (12, 15, 17, 22))
    assert visitors(19) >= 5 * max(usual, 1)


# -- appeals -----------------------------------------------------------------------------------------


def test_appeal_versions_progress_and_defects(city, sidecar):
    file = "api/appeals/tickets.json"
    versions = json.loads((city / file).read_text(encoding="utf-8"))
    assert [list(v) for v in versions[:1]] == [[c.name for c in get_contract("appeals").columns]]
    defects = _defects_by_row(sidecar, file)
    assert {d[0]["defect"] for d in defects.values()} == set(REASONS["appeals"])
    order = ["received", "dispatched", "responded", "resolved"]
    last_seen: dict[str, str] = {}
    for number, v in enumerate(versions, start=1):
        kind = defects[number][0]["defect"] if number in defects else None
        stamps = [v[k] for k in ("received_at", "dispatched_at", "responded_at", "resolved_at") if v[k]]
        assert (stamps != sorted(stamps)) == (kind == "timestamps_out_of_order")
        good_rating = v["satisfaction"] is None or 1 <= v["satisfaction"] <= 5
        assert good_rating == (kind != "bad_satisfaction")
        if v["satisfaction"] is not None:
            assert v["status"] == "resolved"
        if v["status"] in order and v["ticket_id"] in last_seen and last_seen[v["ticket_id"]] in order:
            assert order.index(v["status"]) > order.index(last_seen[v["ticket_id"]])
        last_seen[v["ticket_id"]] = v["status"]
        assert v["channel"] in {"hotline_12345", "community_app", "walk_in"}
    assert versions == sorted(versions, key=lambda v: (v["updated_at"], v["ticket_id"]))


def test_appeal_descriptions_carry_personal_data_where_listed(city, sidecar):
    versions = json.loads((city / "api/appeals/tickets.json").read_text(encoding="utf-8"))
    listed = {p["row"]: set(p["kinds"]) for p in sidecar["pii_in_text"]}
    assert any("phone" in k for k in listed.values())
    for row, kinds in listed.items():
        text = versions[row - 1]["description"]
        if "phone" in kinds:
            assert any(ch.isdigit() for ch in text)
        if "id_number" in kinds:
            assert any(ric.is_valid(text[i : i + 18]) for i in range(len(text) - 17))


# -- defects sidecar and batch variants ---------------------------------------------------------------


def test_every_defect_kind_with_expected_reason(sidecar):
    found = {(d["source"], d["defect"], d["expected_reason"]) for d in sidecar["defects"]}
    expected = {(s, k, r) for s, kinds in REASONS.items() for k, r in kinds.items()}
    assert found == expected
    assert all(d["row"] >= 1 for d in sidecar["defects"])


def test_clean_city_has_no_defects(clean_city):
    sidecar = json.loads((clean_city / "defects.json").read_text(encoding="utf-8"))
    assert sidecar["defects"] == [] and sidecar["batch_defects"] == []
    assert not (clean_city / "batch_defects").exists()
    assert any(e["event"] == "crowd_spike" for e in sidecar["events"])


def test_batch_defect_variants_are_wrong_as_stated(city, sidecar):
    variants = {(b["source"], b["kind"]): b for b in sidecar["batch_defects"]}
    assert {k: b["expected_rule"] for k, b in variants.items()} == {
        ("population_registry", "truncated"): "MANIFEST_SHA256",
        ("population_registry", "renamed_column"): "SCHEMA_DRIFT",
        ("population_registry", "empty"): "EMPTY_BATCH",
        ("population_registry", "manifest_mismatch"): "MANIFEST_ROWS",
        ("civil_affairs_assistance", "renamed_column"): "SCHEMA_DRIFT",
        ("civil_affairs_assistance", "utf8_bom"): "ok",
    }

    def load(key):
        b = variants[key]
        data = (city / b["file"]).read_bytes()
        return data, json.loads((city / b["manifest"]).read_text())

    pop_headers = [c.source_header for c in get_contract("population_registry").delivered_columns]
    data, manifest = load(("population_registry", "truncated"))
    assert manifest["sha256"] != hashlib.sha256(data).hexdigest() and not data.endswith(b"\n")
    assert manifest["rows"] > data.count(b"\n") - 1
    data.decode("gbk")

    data, manifest = load(("population_registry", "renamed_column"))
    header = data.decode("gbk").splitlines()[0].split(",")
    assert "社区编码" in header and "社区代码" not in header and len(header) == len(pop_headers)
    assert (
        manifest["sha256"] == hashlib.sha256(data).hexdigest() and manifest["rows"] == data.count(b"\n") - 1
    )

    data, manifest = load(("population_registry", "empty"))
    assert data.decode("gbk").splitlines() == [",".join(pop_headers)] and manifest["rows"] == 0
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()

    data, manifest = load(("population_registry", "manifest_mismatch"))
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["rows"] == data.count(b"\n") - 1 + 1

    data, manifest = load(("civil_affairs_assistance", "renamed_column"))
    assert "community_no" in data.decode().splitlines()[0].split(",")
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()

    data, manifest = load(("civil_affairs_assistance", "utf8_bom"))
    civil_columns = [c.name for c in get_contract("civil_affairs_assistance").delivered_columns]
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[0].split(",") == civil_columns
    assert (
        manifest["sha256"] == hashlib.sha256(data).hexdigest() and manifest["rows"] == data.count(b"\n") - 1
    )
