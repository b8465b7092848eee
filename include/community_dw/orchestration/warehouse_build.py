"""Cosmos configuration for running the dbt project as Airflow tasks.

Rendered from the prebuilt manifest (`cdw dbt-manifest`, run by `make`), so parsing the DAG never
starts dbt; models run through dbt's Python runner in the worker, with tests after each model.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

from community_dw import paths
from community_dw.dbt_runner import MANIFEST_PATH, dbt_env

if TYPE_CHECKING:
    from typing import Any

# dbt's environment is rendered when each task runs, by the worker, not frozen when the DAG file is
# first imported: a process that parses the DAG under one CDW_* setting and runs it under another (a
# test session, a worker with its own data folder) must build the warehouse it is pointed at now.
USER_DEFINED_MACROS = {"cdw_dbt_env": lambda name: dbt_env()[name]}
PROJECT_CONFIG = ProjectConfig(
    dbt_project_path=paths.DBT_PROJECT_DIR,
    manifest_path=MANIFEST_PATH,
    env_vars={name: f"{{{{ cdw_dbt_env('{name}') }}}}" for name in dbt_env()},
)
PROFILE_CONFIG = ProfileConfig(
    profile_name="community_dw",
    target_name=os.environ.get("CDW_DBT_TARGET", "duckdb"),
    profiles_yml_filepath=paths.DBT_PROJECT_DIR / "profiles.yml",
)
RENDER_CONFIG = RenderConfig(
    load_method=LoadMode.DBT_MANIFEST,
    test_behavior=TestBehavior.BUILD,
    # Cosmos' own dataset URIs cannot describe a Unix-socket PostgreSQL; ingestion DAGs own the Assets.
    emit_datasets=False,
    # A test reading several models (totals checks, seed relationships) runs after all of them.
    should_detach_multiple_parents_tests=True,
)
EXECUTION_CONFIG = ExecutionConfig(
    invocation_mode=InvocationMode.DBT_RUNNER,
    test_indirect_selection=TestIndirectSelection.CAUTIOUS,
)


def publish_release() -> dict[str, Any]:
    """The build's last step: protect, audit and publish the analyst release (community_dw.disclosure).

    A release that fails its audit fails the task without retries (a rerun would fail the same way):
    nothing is published, and the verdict naming the relation, cells and rule is in audit.release_audits.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from community_dw.disclosure import publish_release as publish
    from community_dw.disclosure.release import ReleaseRejected

    try:
        result = publish()
    except ReleaseRejected as rejection:
        raise AirflowFailException(str(rejection)) from rejection
    return {
        "release_id": result.release_id,
        "relations": sorted(result.relations),
        "cells_suppressed": sum(a.cells_suppressed for a in result.relations.values()),
    }


def notify_communities(run_id: str | None = None) -> dict[str, Any]:
    """Tell each community's duty contact of crowds and its appeals contact of tickets past their SLA,
    each condition once and again when resolved (community_dw.notifications); recorded in audit."""
    from community_dw.notifications import notify_warehouse_events

    return notify_warehouse_events(run_id)
