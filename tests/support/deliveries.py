"""Hand-built delivered rows, as a bureau writes them (codes, not decoded values):

row = register_row(name="欧阳娜娜")     # the population register's one valid resident, overridden
"""

from __future__ import annotations

# A present, registered resident with a valid GB 11643 ID number (check letter X).
REGISTER_ROW: dict[str, str] = {
    "resident_id": "11010519491231002X",
    "name": "张三",
    "sex": "2",
    "birth_date": "19491231",
    "ethnicity": "01",
    "phone": "13800000000",
    "household_id": "330106001",
    "relation_to_head": "02",
    "residence_type": "1",
    "community_code": "330106001001",
    "grid_code": "330106001001001",
    "address_detail": "文三路12幢2单元301室",
    "move_in_date": "20000101",
    "status": "1",
    "special_groups": "",
    "updated_at": "2026-11-25 08:00:00",
}


def register_row(**overrides: str) -> dict[str, str]:
    """REGISTER_ROW with `overrides` (delivered column name -> text)."""
    return {**REGISTER_ROW, **overrides}


# An active civil-affairs assistance case of REGISTER_ROW's resident.
ASSISTANCE_ROW: dict[str, str] = {
    "case_id": "C1",
    "resident_id": REGISTER_ROW["resident_id"],
    "programme": "senior_allowance",
    "status": "active",
    "start_date": "2026-01-01",
    "end_date": "",
    "monthly_amount": "300.00",
    "community_code": "330106001001",
    "updated_at": "2026-11-25 08:00:00",
}


def delivered(contract, values: dict[str, str]) -> list[str]:
    """`values` in the order of `contract`'s delivered columns (one CSV row's fields)."""
    return [values[c.name] for c in contract.delivered_columns]
