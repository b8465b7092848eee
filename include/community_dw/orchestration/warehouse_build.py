"""The dbt step of build_warehouse: one Cosmos task running the whole project's `dbt build`.

`dbt build` runs each model's tests right after it, and a failing test skips only the models that depend
on it (an emergency's crowd alerts are still built when an appeals test fails); the failures fail the
task, naming the nodes, and every test result is in audit.dbt_test_results (the on-run-end hook). The
task is Cosmos' own dbt build operator, through dbt's Python runner in the worker, starting from the
parse state `cdw dbt-manifest` leaves in target/ (run by `make`): parsing the DAG never starts dbt.

Why one task and not one per model (Cosmos' DbtTaskGroup), measured by `make bench` on 100,000
residents against a plain `dbt build` of the same warehouse in one process (2026-12-03, this 2-core
machine): a task per model and per test group (54 dbt invocations) took 3.64x the plain build, each
invocation loading the project and its adapter again; Cosmos' watcher mode (one `dbt build` by a
producer task, a sensor per node reporting its result) 2.13x at best (producer 1.5x: about five XComs
per node, 24 ms each on the demo's metadata database, for ~250 nodes; then ~60 sensor tasks). One task
is the plain build plus one task's start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cosmos import ProfileConfig
from cosmos.constants import InvocationMode

from community_dw import paths
from community_dw.dbt_runner import dbt_env, dbt_target

if TYPE_CHECKING:
    from typing import Any

    from cosmos.operators.local import DbtBuildLocalOperator

# dbt's environment is rendered when the task runs, by the worker, not frozen when the DAG file is
# first imported: a process that parses the DAG under one CDW_* setting and runs it under another (a
# test session, a worker with its own data folder) must build the warehouse it is pointed at now.
USER_DEFINED_MACROS = {"cdw_dbt_env": lambda name: dbt_env()[name]}
PROFILE_CONFIG = ProfileConfig(
    profile_name="community_dw",
    target_name=dbt_target(),  # from CDW_WAREHOUSE_URL when it names PostgreSQL
    profiles_yml_filepath=paths.DBT_PROJECT_DIR / "profiles.yml",
)


def dbt_build(task_id: str = "build", **operator_args: Any) -> DbtBuildLocalOperator:
    """The Cosmos task that runs `dbt build` of the whole project (models, seeds, snapshot, tests)."""
    from cosmos.operators.local import DbtBuildLocalOperator

    return DbtBuildLocalOperator(
        task_id=task_id,
        project_dir=str(paths.DBT_PROJECT_DIR),
        profile_config=PROFILE_CONFIG,
        invocation_mode=InvocationMode.DBT_RUNNER,
        env={name: f"{{{{ cdw_dbt_env('{name}') }}}}" for name in dbt_env()},
        # Cosmos' dataset URIs cannot describe a Unix-socket PostgreSQL; ingestion DAGs own the Assets.
        emit_datasets=False,
        install_deps=False,
        **operator_args,
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
