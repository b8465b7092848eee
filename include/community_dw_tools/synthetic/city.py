"""Generate the whole synthetic city: every source's deliveries for a run of days, plus the sidecar.

Randomness comes from one seed split into independent streams (one per source and day), so a source's
files do not change when another source's generator changes, and the same seed gives byte-identical
files. Layout under `out_dir`:

    file_drop/population_registry/population_registry_YYYYMMDD.csv(.ok)     GBK CSV, daily snapshot
    file_drop/civil_affairs_assistance/civil_affairs_assistance_YYYYMMDD.csv(.ok)   UTF-8 CSV
    file_drop/health_services/health_services_YYYYMMDD.jsonl(.ok)            JSON Lines
    object_store/telecom_stays/dt=YYYY-MM-DD/hour=HH/part-0.parquet, _SUCCESS
    api/appeals/tickets.json                                                 JSON array of versions
    batch_defects/<kind>/file_drop/<source>/...                              (defect_rate > 0 only)
    defects.json                                                             the sidecar
    generation.json                                                          the parameters
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from faker import Faker

from community_dw.contracts import Contract, get_contract
from community_dw_tools.synthetic import (
    appeals,
    batch_defects,
    civil_affairs,
    defects,
    geography,
    health,
    population,
    telecom,
)
from community_dw_tools.synthetic.names import NamePool
from community_dw_tools.synthetic.report import GenerationReport
from community_dw_tools.synthetic.writers import write_csv, write_json, write_jsonl

DEFAULT_START = dt.date(2026, 11, 25)
OWNED = (
    "file_drop/population_registry",
    "file_drop/civil_affairs_assistance",
    "file_drop/health_services",
    "object_store/telecom_stays",
    "api/appeals",
    batch_defects.FOLDER,
    "defects.json",
    "generation.json",
)
APPEALS_FILE = "api/appeals/tickets.json"
# independent random streams
POPULATION, CHURN, TELECOM, CIVIL, HEALTH, APPEALS, DEFECTS, NAMES = range(8)


def generate_city(
    out_dir: Path,
    residents: int = 50_000,
    days: int = 2,
    seed: int = 42,
    defect_rate: float = 0.002,
    start_date: dt.date = DEFAULT_START,
    *,
    crowd_spike: bool = True,
    clean: bool = True,
) -> GenerationReport:
    """Write every source's deliveries for `days` days from `start_date` and return what was written.

    `crowd_spike` puts five times the usual visitors into one grid on the last day, 19:00-21:00, and
    records it in the sidecar's `events`. With `clean` (the default) earlier generator output under
    `out_dir` is removed first, so a smaller run never leaves stale days behind; other files in
    `out_dir` are left alone.
    """
    if residents < 100:
        raise ValueError("a city needs at least 100 residents")
    if days < 1:
        raise ValueError("days must be at least 1")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if clean:
        for relative in OWNED:
            path = out_dir / relative
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _Run.start(out_dir, residents, days, seed, defect_rate, start_date)
    run.crowd_spike = crowd_spike

    for d in range(days):
        day = start_date + dt.timedelta(days=d)
        _population_day(run, d, day)
        _civil_affairs_day(run, d, day)
        _health_day(run, d, day)
        _telecom_day(run, d, day)
        run.tickets += appeals.day_tickets(
            run.rng(APPEALS, d + 1), run.register, run.geo, run.names, day, residents
        )
    _appeals(run)
    _finish(run)
    run.report.elapsed_seconds = time.perf_counter() - started
    return run.report


@dataclass
class _Run:
    """State shared by the per-source steps of one generation run."""

    out_dir: Path
    seed: int
    days: int
    rate: float
    report: GenerationReport
    geo: geography.Geography
    names: NamePool
    register: population.Register
    devices: telecom.Devices
    cases: civil_affairs.CaseBook
    clinics: health.Providers
    log: defects.DefectLog = field(default_factory=defects.DefectLog)
    tickets: list[appeals.Ticket] = field(default_factory=list)
    pii: list[tuple[str, ...]] = field(default_factory=list)
    crowd_spike: bool = True

    @classmethod
    def start(
        cls, out_dir: Path, residents: int, days: int, seed: int, rate: float, start_date: dt.date
    ) -> _Run:
        geo = geography.geography()
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        names = NamePool.from_faker(fake, _rng(seed, NAMES))
        counts = geography.allocate_residents(residents, geo)
        register = population.build_households(
            _rng(seed, POPULATION), names, geo, counts, as_of=start_date, first_household=100_000_000
        )
        return cls(
            out_dir=out_dir,
            seed=seed,
            days=days,
            rate=rate,
            report=GenerationReport(out_dir, residents, days, seed, rate, start_date),
            geo=geo,
            names=names,
            register=register,
            devices=telecom.build_devices(_rng(seed, TELECOM), register, geo, residents, start_date),
            cases=civil_affairs.open_cases(_rng(seed, CIVIL), register, geo, start_date),
            clinics=health.providers(_rng(seed, HEALTH), geo),
        )

    def rng(self, stream: int, day: int = 0) -> np.random.Generator:
        return _rng(self.seed, stream, day)

    def inject(
        self, records: list[dict], source: str, file: str, stream: int, turn: int = 0, **options
    ) -> None:
        """Break some of a file's records as the source's producer would (defects.inject_records)."""
        defects.inject_records(
            records,
            self.rng(DEFECTS, stream),
            self.rate,
            source,
            file,
            self.log,
            defects.MUTATORS[source],
            get_contract(source).max_bad_row_share,
            turn,
            **options,
        )

    def count(self, source: str, rows: int, files: int = 1) -> None:
        stats = self.report.source(source)
        stats.rows += rows
        stats.files += files


def _rng(seed: int, stream: int, day: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, day]))


def _file_name(contract: Contract, day: dt.date) -> str:
    return contract.options["file_pattern"].format(ds_nodash=day.strftime("%Y%m%d"), ds=day.isoformat())


def _produced_at(day: dt.date) -> str:
    """Extracts of a day are produced early the next morning."""
    return f"{(day + dt.timedelta(days=1)).isoformat()}T01:30:00+08:00"


def _records_table(records: list[dict[str, Any]], columns: list[str]) -> pa.Table:
    return pa.table({c: pa.array([r[c] for r in records], type=pa.string()) for c in columns})


def _population_day(run: _Run, d: int, day: dt.date) -> None:
    """The day's full snapshot (after the day's churn), GBK with the producer's Chinese headers."""
    contract = get_contract("population_registry")
    if d > 0:
        churn = population.apply_churn(
            run.register, run.rng(CHURN, d), run.names, run.geo, day, run.report.residents
        )
        run.log.events.append(
            {"source": contract.name, "event": "churn", "date": day.isoformat(), **churn.__dict__}
        )
    columns = [c.name for c in contract.delivered_columns]
    header = [c.header for c in contract.delivered_columns]
    clean_table = population.snapshot_table(run.register, run.geo, columns)
    name = _file_name(contract, day)
    relative = f"file_drop/{contract.name}/{name}"
    table = defects.inject_population(
        clean_table, run.rng(DEFECTS, d), run.rate, relative, run.log, contract.max_bad_row_share, d
    )
    written = write_csv(
        run.out_dir / relative, table, header, contract.encoding, contract.name, _produced_at(day)
    )
    run.count(contract.name, written.rows)
    if d == 0 and run.rate > 0:
        batch_defects.population_variants(
            run.out_dir, name, clean_table, header, contract.encoding, _produced_at(day), run.log
        )


def _civil_affairs_day(run: _Run, d: int, day: dt.date) -> None:
    """The day's case versions: everything current on the first day, then the day's changes."""
    contract = get_contract("civil_affairs_assistance")
    columns = [c.name for c in contract.delivered_columns]
    records = civil_affairs.day_records(run.rng(CIVIL, d + 1), run.cases, run.register, run.geo, day, d == 0)
    name = _file_name(contract, day)
    relative = f"file_drop/{contract.name}/{name}"
    if d == 0 and run.rate > 0:
        clean_table = _records_table(records, columns)
        batch_defects.civil_affairs_variants(
            run.out_dir, name, clean_table, columns, _produced_at(day), run.log
        )
    run.inject(records, contract.name, relative, 100 + d, d)
    table = _records_table(records, columns)
    written = write_csv(
        run.out_dir / relative, table, columns, contract.encoding, contract.name, _produced_at(day)
    )
    run.count(contract.name, written.rows)


def _health_day(run: _Run, d: int, day: dt.date) -> None:
    contract = get_contract("health_services")
    records = health.day_records(run.rng(HEALTH, d + 1), run.register, run.geo, run.clinics, day)
    relative = f"file_drop/{contract.name}/{_file_name(contract, day)}"
    run.inject(records, contract.name, relative, 200 + d, d)
    written = write_jsonl(run.out_dir / relative, records, contract.name, _produced_at(day))
    run.count(contract.name, written.rows)


def _telecom_day(run: _Run, d: int, day: dt.date) -> None:
    """24 hourly partitions; the crowd spike goes into the last day."""
    result = telecom.write_day(
        run.out_dir,
        run.rng(TELECOM, d + 1),
        run.devices,
        run.geo,
        day,
        run.report.residents,
        spike=run.crowd_spike and d == run.days - 1,
        defect_rate=run.rate,
        log=run.log,
        max_share=get_contract(telecom.SOURCE).max_bad_row_share,
    )
    run.count(telecom.SOURCE, result.rows, result.files)


def _appeals(run: _Run) -> None:
    """Every ticket version that exists at the end of the window, as one JSON array."""
    window_end = dt.datetime.combine(run.report.start_date + dt.timedelta(days=run.days), dt.time())
    records, run.pii = appeals.versions(run.tickets, window_end)
    run.inject(records, appeals.SOURCE, APPEALS_FILE, 300, eligible=lambda kind, r: r["status"] == "resolved")
    write_json(run.out_dir / APPEALS_FILE, records, indent=1)
    run.count(appeals.SOURCE, len(records))


def _finish(run: _Run) -> None:
    """The sidecar (defects, batch variants, events, personal data in free text) and the parameters."""
    sidecar = run.log.document()
    sidecar["pii_in_text"] = [
        {
            "source": appeals.SOURCE,
            "file": APPEALS_FILE,
            "row": i + 1,
            "column": "description",
            "kinds": list(k),
        }
        for i, k in enumerate(run.pii)
        if k
    ]
    write_json(run.out_dir / "defects.json", sidecar, indent=None)
    report = run.report
    for name, stats in report.sources.items():
        stats.defects = run.log.count(name)
    report.batch_defects = len(run.log.batch_defects)
    report.events = len(run.log.events)
    rows = {name: stats.rows for name, stats in report.sources.items()}
    write_json(run.out_dir / "generation.json", {**report.parameters(), "rows": rows})
