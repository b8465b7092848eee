"""A minimal valid file-drop contract written to a file, for tests that parse contracts or run the gate:

    path = write_contract(tmp_path / "cases.yml", [column], primary_key=["case_id", "updated_at"])
    contract = parse_contract(path)

Source and table are both `cases`; keyword arguments replace or add `meta.contract` fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MINIMAL_CONTRACT: dict[str, Any] = {
    "producer": "a bureau",
    "transport": "file_drop",
    "format": "csv",
    "encoding": "utf-8",
    "schedule": "@daily",
    "schema_contract": {"columns": "freeze", "data_type": "quarantine"},
    "primary_key": ["case_id"],
    "file_pattern": "cases_{ds_nodash}.csv",
    "retention": {"landing_days": 7},
}


def write_contract(path: Path, columns: list[dict[str, Any]], **fields: Any) -> Path:
    """Write the contract of source `cases` with these columns to `path` (its folder must exist)."""
    document = {
        "version": 2,
        "sources": [
            {
                "name": "cases",
                "meta": {"contract": {**MINIMAL_CONTRACT, **fields}},
                "tables": [{"name": "cases", "columns": columns}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path
