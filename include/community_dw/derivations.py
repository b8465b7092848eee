"""Columns computed at the door, before direct identifiers are replaced by pseudonyms.

Each rule is named in a contract (`meta.rule`) and turns one delivered column into one derived column,
so that nothing downstream ever needs the original identifier: the warehouse keeps the birth date and
sex an ID number encodes, whether its check digit was valid, and a display-masked name.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from community_dw import idnumber


def mask_name(names: pa.Array) -> pa.Array:
    """Surname followed by one asterisk per remaining character: 张三丰 -> 张**."""
    names = pc.utf8_trim_whitespace(names.cast(pa.string()))
    stars = pc.binary_repeat(pa.scalar("*"), pc.max_element_wise(pc.subtract(pc.utf8_length(names), 1), 0))
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(names, 0, 1), stars, "")


RULES: dict[str, Callable[[pa.Array], pa.Array]] = {
    "id_birth_date": idnumber.birth_date,
    "id_sex": idnumber.sex,
    "id_region_code": idnumber.region_code,
    "id_checksum_valid": idnumber.checksum_valid,
    "mask_name": mask_name,
}


def derive(rule: str, values: pa.Array) -> pa.Array:
    if rule not in RULES:
        raise KeyError(f"unknown derivation rule {rule!r}; known: {', '.join(sorted(RULES))}")
    return RULES[rule](values)
