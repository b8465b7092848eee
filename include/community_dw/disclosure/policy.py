"""The disclosure policy, declared once in dbt_project.yml (`vars.disclosure_policy`).

dbt macros read it with `var('disclosure_policy')`, the release step and the tests with `load_policy()`,
so k, the protection interval and the row-suppression limit cannot drift apart between them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from community_dw import paths

# A test (or an operator trying a stricter policy) may override fields as JSON; dbt gets the same
# values through `--vars` (community_dw.dbt_runner passes them on).
POLICY_ENV = "CDW_DISCLOSURE_POLICY"


@dataclass(frozen=True)
class DisclosurePolicy:
    """k per unit of count, the protection interval per unit, and the row-level view limits."""

    k: dict[str, int] = field(default_factory=lambda: {"person": 11, "device": 20})
    # An attacker's interval for a withheld count (upper minus lower bound, from everything published)
    # must be at least this wide: with the default k - 1, a withheld count stays among k possible values.
    protection_width: dict[str, int] = field(default_factory=lambda: {"person": 10, "device": 19})
    # A k-anonymous row-level view may withhold at most this share of its rows (residual suppression);
    # the generalization is chosen among those that stay under it.
    max_suppressed_row_share: float = 0.05
    # Column classes that make a column a quasi-identifier in a row-level view.
    quasi_identifier_classes: tuple[str, ...] = ("quasi",)

    def k_for(self, unit: str) -> int:
        if unit not in self.k:
            raise KeyError(f"disclosure policy has no k for unit {unit!r} (known: {', '.join(self.k)})")
        return int(self.k[unit])

    def width_for(self, unit: str) -> int:
        return int(self.protection_width.get(unit, self.k_for(unit) - 1))

    def as_dbt_var(self) -> dict[str, Any]:
        return {
            "k": dict(self.k),
            "protection_width": dict(self.protection_width),
            "max_suppressed_row_share": self.max_suppressed_row_share,
            "quasi_identifier_classes": list(self.quasi_identifier_classes),
        }


def _declared(project_dir: Path) -> dict[str, Any]:
    import yaml

    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    declared = (project.get("vars") or {}).get("disclosure_policy")
    if not isinstance(declared, dict):
        raise ValueError(f"{project_dir / 'dbt_project.yml'} declares no vars.disclosure_policy mapping")
    return declared


@cache
def _load(project_dir: str, override: str | None) -> DisclosurePolicy:
    values = _declared(Path(project_dir))
    if override:
        values = {**values, **json.loads(override)}
    return DisclosurePolicy(
        k={unit: int(v) for unit, v in values["k"].items()},
        protection_width={unit: int(v) for unit, v in values["protection_width"].items()},
        max_suppressed_row_share=float(values["max_suppressed_row_share"]),
        quasi_identifier_classes=tuple(values["quasi_identifier_classes"]),
    )


def load_policy(project_dir: Path | None = None) -> DisclosurePolicy:
    """The policy of the dbt project (default: this repository's), with the CDW_DISCLOSURE_POLICY override."""
    return _load(str(project_dir or paths.DBT_PROJECT_DIR), os.environ.get(POLICY_ENV))
