"""One dbt harness: the project copied with fixture seeds, dbt run in-process, the release step after it.

    project = project_copy(tmp_path_factory.mktemp("dbt") / "dbt_project", {"ref_divisions": SEED_CSV})
    run_dbt(project, {"CDW_WAREHOUSE_PATH": str(path)}, "build", "--target", "duckdb", dbt_vars=...)
    release(DuckDBBackend(conn), project, policy)

The copy keeps dbt_project/target (which Cosmos and the DAGs read) untouched. dbt replaces a var's
value instead of merging it, so `disclosure_policy` builds the whole policy var from the two k's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from community_dw import paths

from support import environment

DBT_PROJECT_DIR = paths.DBT_PROJECT_DIR


def disclosure_policy(k_person: int, k_device: int) -> dict[str, Any]:
    """The `disclosure_policy` var with these k's (protection width k - 1), as dbt_project.yml states it."""
    return {
        "k": {"person": k_person, "device": k_device},
        "protection_width": {"person": k_person - 1, "device": k_device - 1},
        "max_suppressed_row_share": 0.05,
        "quasi_identifier_classes": ["quasi"],
    }


def project_copy(destination: Path, seeds: dict[str, str]) -> Path:
    """Copy the dbt project to `destination` and replace seeds/<name>.csv with the fixture's text."""
    shutil.copytree(
        DBT_PROJECT_DIR, destination, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    (destination / "seeds").mkdir(exist_ok=True)
    for name, text in seeds.items():
        (destination / "seeds" / f"{name}.csv").write_text(text, encoding="utf-8")
    return destination


def run_dbt(
    project: Path,
    env: dict[str, str],
    *args: str,
    dbt_vars: dict[str, Any] | None = None,
    expect_success: bool = True,
) -> Any:
    """Run dbt in-process with `env` set; unless told otherwise, fail with the failing nodes' messages."""
    from dbt.cli.main import dbtRunner

    options = ["--project-dir", str(project), "--profiles-dir", str(project)]
    if dbt_vars is not None:
        options += ["--vars", json.dumps(dbt_vars)]
    with environment(**env):
        result = dbtRunner().invoke([*args, *options])
    if expect_success:
        failures = [
            f"{r.node.unique_id}: {r.status} {r.message}"
            for r in (result.result or [])
            if str(r.status) not in ("success", "pass", "warn")
        ]
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception or failures}"
    return result


def manifest(project: Path) -> dict[str, Any]:
    return json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))


def models_in(project: Path, schema: str) -> list[dict[str, Any]]:
    """The model nodes of the project's last build whose schema is `schema`."""
    return [
        n
        for n in manifest(project)["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == schema
    ]


def release(backend, project: Path, policy: dict[str, Any]):
    """The release step, as build_warehouse runs it after dbt, under the test build's policy var."""
    from community_dw.disclosure.policy import DisclosurePolicy
    from community_dw.disclosure.release import run_release

    protection = DisclosurePolicy(k=policy["k"], protection_width=policy["protection_width"])
    return run_release(backend, project / "target" / "manifest.json", protection)
