"""Source contracts: read the dbt source YAML files that define every source once.

A contract is a dbt source file under `dbt_project/models/sources/`. dbt reads it as the source of the
raw table; this module reads the same file for what ingestion needs: transport, format, encoding,
schedule, primary key, schema-contract modes, retention and every column with its type, privacy class,
parsing, normalization, validation and plausibility hints. Adding a source starts (and for this module,
ends) with writing its file.

Every key under `meta.contract` and under a column's `meta` is read by some step, and the parser refuses
any other key (a typo or a field nothing reads would make a reader believe it changes behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from community_dw import paths

PrivacyClass = Literal["direct", "quasi", "sensitive", "none"]
PRIVACY_CLASSES: tuple[str, ...] = ("direct", "quasi", "sensitive", "none")
SOURCE_ROW = "_source_row"  # the 1-based data row of the delivered file; how failing rows are named
BATCH_COLUMNS: tuple[str, ...] = ("_batch_id", SOURCE_ROW, "_loaded_at")

# `meta.contract` fields every source declares, and the ones a source may add.
REQUIRED_FIELDS: tuple[str, ...] = ("producer", "transport", "format", "encoding", "schedule")
STRUCTURED_FIELDS: tuple[str, ...] = ("primary_key", "schema_contract", "retention")
# Read by ingest: the gate's limit, and what a complete delivery without rows means (`warn`, the
# default: recorded as an EMPTY_INTERVAL warning in audit.dq_results; `reject`: EMPTY_INTERVAL rejection).
OPTIONAL_FIELDS: tuple[str, ...] = ("max_bad_row_share", "empty_interval")
# The options each transport module reads from `meta.contract` (transports/<name>.py).
TRANSPORT_OPTIONS: dict[str, tuple[str, ...]] = {
    "file_drop": ("file_pattern", "manifest_suffix"),
    "object_storage": ("partition_pattern", "success_marker"),
    "http_api": (
        "endpoint",
        "page_size",
        "conn_id",
        "page_deadline_seconds",
        "run_deadline_seconds",
        "timeout_seconds",
    ),
}
# Column `meta` keys; the vocabulary of `normalize` and `validate` (implemented in
# `normalize.NORMALIZERS` and `validation.DOOR_CHECKS`; a unit test keeps the two in step).
COLUMN_META: tuple[str, ...] = (
    "privacy",
    "source_header",
    "pseudonym_domain",
    "required",
    "parse_format",
    "derived_from",
    "rule",
    "redact",
    "vault",
    "normalize",
    "validate",
    "plausible",
)
NORMALIZATIONS: tuple[str, ...] = ("identifier", "id_number")
VALIDATIONS: tuple[str, ...] = ("id_number",)
# dlt's `schema_contract` entities and the modes implemented for each.
SCHEMA_CONTRACT_MODES: dict[str, tuple[str, ...]] = {
    "columns": ("freeze",),
    "data_type": ("freeze", "quarantine"),
}


class ContractError(ValueError):
    """A contract file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Plausibility:
    """`meta.plausible` of a birth date: on a date column the date itself, on a column validated as an
    ID number the birth date it encodes. Checked against the batch's date (`as_of`, see
    `validation.run_gate`)."""

    not_future: bool = False  # IMPLAUSIBLE_DATE: born after the batch's date
    max_age_years: int | None = None  # IMPLAUSIBLE_AGE: older than this many completed years

    def earliest(self, as_of: date) -> date | None:
        """The earliest birth date of someone at most `max_age_years` old on `as_of`."""
        if self.max_age_years is None:
            return None
        year = as_of.year - self.max_age_years - 1
        # Born on this day `max_age_years + 1` years ago is one year too old; a 29 February falls back
        # to the 28th, whose next day is the first one young enough.
        too_old = (
            as_of.replace(year=year, day=28)
            if (as_of.month, as_of.day) == (2, 29)
            else as_of.replace(year=year)
        )
        return too_old + timedelta(days=1)


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
    normalize: str | None = None
    validate: str | None = None
    plausible: Plausibility | None = None

    @property
    def delivered(self) -> bool:
        """True when the producer sends this column (False for columns derived at the door)."""
        return self.derived_from is None

    @property
    def header(self) -> str:
        """The column's name in the producer's file."""
        return self.source_header or self.name


@dataclass(frozen=True)
class SchemaContract:
    """What happens to a delivery that departs from the declared schema (`meta.contract.schema_contract`,
    named as dlt names its modes).

    `columns: freeze`: a missing, renamed or unexpected column rejects the batch as SCHEMA_DRIFT
    (`readers`); the only mode implemented, because a raw table that evolves by itself is a contract
    change nobody reviewed. `data_type: quarantine`: a cell that does not convert to its declared type
    quarantines its row as UNPARSEABLE_VALUE; `data_type: freeze`: it rejects the batch
    (`parsing.parse_batch`). A Parquet column of the wrong physical type is always SCHEMA_DRIFT.
    """

    columns: str = "freeze"
    data_type: str = "quarantine"


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
    schedule: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    retention: Retention
    schema_contract: SchemaContract = field(default_factory=SchemaContract)
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


def _refuse_unknown(mapping: dict, known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ContractError(
            f"{where}: unknown field(s) {', '.join(unknown)}; nothing reads them (known: {', '.join(known)})"
        )


def _one_of(value: Any, allowed: tuple[str, ...], where: str, field_name: str) -> str:
    if value not in allowed:
        raise ContractError(f"{where}: {field_name} {value!r} is not one of {', '.join(allowed)}")
    return value


def _parse_plausible(raw: Any, where: str) -> Plausibility:
    if not isinstance(raw, dict) or not raw:
        raise ContractError(
            f"{where}: plausible must be a mapping, e.g. {{not_future: true, max_age_years: 120}}"
        )
    _refuse_unknown(raw, ("not_future", "max_age_years"), f"{where} plausible")
    not_future = raw.get("not_future", False)
    if not isinstance(not_future, bool):
        raise ContractError(f"{where}: plausible.not_future must be true or false, got {not_future!r}")
    max_age = raw.get("max_age_years")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1):
        raise ContractError(f"{where}: plausible.max_age_years must be a whole number >= 1, got {max_age!r}")
    return Plausibility(not_future=not_future, max_age_years=max_age)


def _parse_column(raw: dict, where: str) -> Column:
    name = _require(raw, "name", where)
    where = f"{where} column {name!r}"
    meta = raw.get("meta") or {}
    _refuse_unknown(meta, COLUMN_META, f"{where} meta")
    privacy = _require(meta, "privacy", f"{where} meta")
    if privacy not in PRIVACY_CLASSES:
        raise ContractError(f"{where}: privacy {privacy!r} is not one of {', '.join(PRIVACY_CLASSES)}")
    if privacy == "direct" and not meta.get("pseudonym_domain") and not meta.get("derived_from"):
        raise ContractError(f"{where}: a direct identifier needs a pseudonym_domain")
    if meta.get("derived_from") and not meta.get("rule"):
        raise ContractError(f"{where}: a derived column needs a rule")
    data_type = str(_require(raw, "data_type", where)).lower()
    normalize = meta.get("normalize")
    validate = meta.get("validate")
    for key, value, allowed in (
        ("normalize", normalize, NORMALIZATIONS),
        ("validate", validate, VALIDATIONS),
    ):
        if value is None:
            continue
        _one_of(value, allowed, where, key)
        if data_type not in ("varchar", "text", "string") or meta.get("derived_from"):
            raise ContractError(f"{where}: {key} applies to delivered text columns, not {data_type}")
    plausible = None
    if "plausible" in meta:
        if data_type != "date" and validate != "id_number":
            raise ContractError(
                f"{where}: plausible applies to a date column or to an ID number (validate: id_number)"
            )
        plausible = _parse_plausible(meta["plausible"], where)
    return Column(
        name=name,
        data_type=data_type,
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
        normalize=normalize,
        validate=validate,
        plausible=plausible,
    )


def _parse_schema_contract(raw: Any, where: str) -> SchemaContract:
    example = "schema_contract: {columns: freeze, data_type: quarantine}"
    if not isinstance(raw, dict):
        raise ContractError(
            f"{where}: missing required field 'schema_contract' (e.g. {example}); every source says what a "
            "departure from its schema does"
        )
    _refuse_unknown(raw, tuple(SCHEMA_CONTRACT_MODES), f"{where} schema_contract")
    modes = {}
    for entity, allowed in SCHEMA_CONTRACT_MODES.items():
        if entity not in raw:
            raise ContractError(f"{where}: schema_contract.{entity} is missing (e.g. {example})")
        modes[entity] = _one_of(raw[entity], allowed, where, f"schema_contract.{entity}")
    return SchemaContract(**modes)


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
    values = {f: str(_require(meta, f, f"{where} meta.contract")) for f in REQUIRED_FIELDS}
    transport = _one_of(values["transport"], tuple(TRANSPORT_OPTIONS), f"{where} meta.contract", "transport")
    transport_options = TRANSPORT_OPTIONS[transport]
    _refuse_unknown(
        meta,
        (*REQUIRED_FIELDS, *STRUCTURED_FIELDS, *OPTIONAL_FIELDS, *transport_options),
        f"{where} meta.contract (transport {transport})",
    )
    retention = _parse_retention(meta.get("retention"), columns, f"{where} meta.contract")
    schema_contract = _parse_schema_contract(meta.get("schema_contract"), f"{where} meta.contract")
    options = {k: v for k, v in meta.items() if k in (*OPTIONAL_FIELDS, *transport_options)}
    return Contract(
        name=name,
        path=path,
        description=" ".join(str(source.get("description", "")).split()),
        primary_key=primary_key,
        columns=columns,
        retention=retention,
        schema_contract=schema_contract,
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
