"""Source contracts: read the dbt source YAML files that define every source once.

A contract is a dbt source file under `dbt_project/models/sources/`. dbt reads it as the source of the
raw table; this module reads the same file for what ingestion needs: transport, format, encoding,
cadence, primary key and every column with its type, privacy class and parsing hints. Adding a source
starts (and for this module, ends) with writing its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from community_dw import paths

PrivacyClass = Literal["direct", "quasi", "sensitive", "none"]
PRIVACY_CLASSES: tuple[str, ...] = ("direct", "quasi", "sensitive", "none")
BATCH_COLUMNS: tuple[str, ...] = ("_batch_id", "_source_row", "_loaded_at")


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    description: str
    privacy: PrivacyClass
    source_header: str | None = None
    pseudonym_domain: str | None = None
    required: bool = False
    parse_format: str | None = None
    derived_from: str | None = None
    rule: str | None = None
    redact: bool = False
    vault: bool = True

    @property
    def delivered(self) -> bool:
        """True when the producer sends this column (False for columns derived at the door)."""
        return self.derived_from is None

    @property
    def header(self) -> str:
        """The column's name in the producer's file."""
        return self.source_header or self.name


@dataclass(frozen=True)
class Retention:
    """How long a source's data is kept (`meta.contract.retention`), read by `community_dw.retention`.

    `landing_days`: the plaintext producer copies in landing (and the batch's staged work files) are
    purged this many days after the batch's latest ledger record (loaded or rejected). `raw_days`: where
    person-level rows expire, raw rows (and quarantined rows) whose `raw_age_column` is older than this
    many days before the run's local date are purged; None keeps raw rows.
    """

    landing_days: int
    raw_days: int | None = None
    raw_age_column: str | None = None


@dataclass(frozen=True)
class Contract:
    name: str
    path: Path
    description: str
    producer: str
    transport: str
    format: str
    encoding: str
    cadence: str
    schedule: str
    load_strategy: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    retention: Retention
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    @property
    def delivered_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.delivered)

    @property
    def derived_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.delivered)

    @property
    def direct_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.privacy == "direct")

    @property
    def max_bad_row_share(self) -> float:
        return float(self.options.get("max_bad_row_share", 0.05))

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


def _require(mapping: dict, key: str, where: str) -> Any:
    if key not in mapping or mapping[key] in (None, ""):
        raise ContractError(f"{where}: missing required field {key!r}")
    return mapping[key]


def _parse_column(raw: dict, where: str) -> Column:
    name = _require(raw, "name", where)
    where = f"{where} column {name!r}"
    meta = raw.get("meta") or {}
    privacy = _require(meta, "privacy", f"{where} meta")
    if privacy not in PRIVACY_CLASSES:
        raise ContractError(f"{where}: privacy {privacy!r} is not one of {', '.join(PRIVACY_CLASSES)}")
    if privacy == "direct" and not meta.get("pseudonym_domain") and not meta.get("derived_from"):
        raise ContractError(f"{where}: a direct identifier needs a pseudonym_domain")
    if meta.get("derived_from") and not meta.get("rule"):
        raise ContractError(f"{where}: a derived column needs a rule")
    return Column(
        name=name,
        data_type=str(_require(raw, "data_type", where)).lower(),
        description=str(_require(raw, "description", where)).strip(),
        privacy=privacy,
        source_header=meta.get("source_header"),
        pseudonym_domain=meta.get("pseudonym_domain"),
        required=bool(meta.get("required", False)),
        parse_format=meta.get("parse_format"),
        derived_from=meta.get("derived_from"),
        rule=meta.get("rule"),
        redact=bool(meta.get("redact", False)),
        vault=bool(meta.get("vault", True)),
    )


def _positive_days(value: Any, where: str, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ContractError(
            f"{where}: retention.{field_name} must be a whole number of days >= 1, got {value!r}"
        )
    return value


def _parse_retention(raw: Any, columns: tuple[Column, ...], where: str) -> Retention:
    """One retention declaration per source; raw expiry names a date or timestamp column to age by."""
    if not isinstance(raw, dict):
        raise ContractError(
            f"{where}: missing required field 'retention' (e.g. retention: {{landing_days: 7}}); every "
            "source declares how long its plaintext landing copies are kept"
        )
    unknown = sorted(set(raw) - {"landing_days", "raw_days", "raw_age_column"})
    if unknown:
        raise ContractError(f"{where}: unknown retention fields {', '.join(unknown)}")
    landing_days = _positive_days(raw.get("landing_days"), where, "landing_days")
    raw_days, age_column = raw.get("raw_days"), raw.get("raw_age_column")
    if raw_days is None:
        if age_column is not None:
            raise ContractError(f"{where}: retention.raw_age_column is set but raw_days is not")
        return Retention(landing_days=landing_days)
    raw_days = _positive_days(raw_days, where, "raw_days")
    by_name = {c.name: c for c in columns}
    if age_column not in by_name:
        raise ContractError(
            f"{where}: retention.raw_days needs raw_age_column, a column of the source (got {age_column!r})"
        )
    if by_name[age_column].data_type not in ("date", "timestamp"):
        raise ContractError(
            f"{where}: retention.raw_age_column {age_column!r} is {by_name[age_column].data_type}, "
            "not a date or timestamp"
        )
    return Retention(landing_days=landing_days, raw_days=raw_days, raw_age_column=age_column)


def parse_contract(path: Path) -> Contract:
    """Parse one contract file; raises ContractError naming the file and field on any gap."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    sources = document.get("sources") or []
    if len(sources) != 1:
        raise ContractError(f"{path}: a contract file defines exactly one source, found {len(sources)}")
    source = sources[0]
    name = _require(source, "name", str(path))
    where = f"{path.name} source {name!r}"
    meta = dict(_require(source.get("meta") or {}, "contract", f"{where} meta"))
    tables = source.get("tables") or []
    if len(tables) != 1 or tables[0].get("name") != name:
        raise ContractError(f"{where}: expected one table named {name!r}")
    columns = tuple(_parse_column(c, where) for c in tables[0].get("columns") or [])
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names")
    for col in columns:
        if col.derived_from and col.derived_from not in names:
            raise ContractError(f"{where} column {col.name!r}: derived_from {col.derived_from!r} is unknown")
    primary_key = tuple(_require(meta, "primary_key", where))
    for key in primary_key:
        if key not in names:
            raise ContractError(f"{where}: primary key column {key!r} is not a column")
    fields = ("producer", "transport", "format", "encoding", "cadence", "schedule", "load_strategy")
    values = {f: str(_require(meta, f, f"{where} meta.contract")) for f in fields}
    retention = _parse_retention(meta.get("retention"), columns, f"{where} meta.contract")
    options = {k: v for k, v in meta.items() if k not in (*fields, "primary_key", "retention")}
    return Contract(
        name=name,
        path=path,
        description=" ".join(str(source.get("description", "")).split()),
        primary_key=primary_key,
        columns=columns,
        retention=retention,
        options=options,
        **values,
    )


@cache
def load_contracts(directory: Path | None = None) -> dict[str, Contract]:
    """All contracts by source name, read from the dbt sources folder."""
    folder = directory or paths.CONTRACTS_DIR
    contracts = [parse_contract(p) for p in sorted(folder.glob("*.yml"))]
    return {c.name: c for c in contracts}


def get_contract(name: str) -> Contract:
    contracts = load_contracts()
    if name not in contracts:
        raise KeyError(f"no contract for source {name!r}; known: {', '.join(sorted(contracts))}")
    return contracts[name]
