"""Build the warehouse: run the dbt project (staging -> intermediate -> candidate marts, care) via Cosmos,
one `dbt build` task, then publish the analyst release.

Scheduled on: any raw Asset the ingestion DAGs emit (one per source contract).
Reads: raw.*, seeds. Writes: staging, intermediate, snapshots, candidate_marts, candidate_analyst, care;
then marts and analyst (the release), the analyst file on DuckDB, and audit.release_audits.
First declares every contract's raw table (so a source that has not delivered yet is an empty table,
not a failed build); each model's dbt tests run right after it; a failing test stops its dependants
(and fails dbt.build, naming it).
The release is published only when its disclosure audit passes. Beside it, once dbt is done (whatever
its tests said: an emergency is not held back by a failing test elsewhere), notify_communities tells
each community's duty contact of crowd alerts and its appeals contact of tickets past their SLA, once
per condition and again when resolved, and records every message in audit.notifications.
Every task writes the warehouse (dbt opens the DuckDB file for writing, its tests too): on DuckDB each
takes the writer pool's one slot, so they queue instead of failing on the file's lock; on PostgreSQL
they run in parallel.
"""

from airflow.sdk import DAG, AssetAny, TaskGroup, TriggerRule, chain, task

from community_dw.contracts import load_contracts
from community_dw.orchestration import ONE_RUN_AT_A_TIME, raw_asset, warehouse_writer
from community_dw.orchestration.warehouse_build import USER_DEFINED_MACROS, dbt_build
from community_dw.orchestration.warehouse_build import notify_communities as _notify_communities
from community_dw.orchestration.warehouse_build import publish_release as _publish_release


@task(**warehouse_writer())
def publish_release() -> dict:
    return _publish_release()


# Writes audit.notifications; reads the candidate marts, so it needs dbt done, not the release passed.
@task(trigger_rule=TriggerRule.ALL_DONE, **warehouse_writer())
def notify_communities(run_id=None) -> dict:
    return _notify_communities(run_id)


@task(**warehouse_writer())
def declare_raw_tables() -> list[str]:
    from community_dw import warehouse

    return warehouse.declare_all_raw_tables()


with DAG(
    dag_id="build_warehouse",
    schedule=AssetAny(*(raw_asset(source) for source in load_contracts())),
    tags=["dbt", "warehouse"],
    doc_md=__doc__,
    user_defined_macros=USER_DEFINED_MACROS,
    **ONE_RUN_AT_A_TIME,
):
    with TaskGroup(group_id="dbt") as dbt:
        dbt_build(**warehouse_writer())
    chain(declare_raw_tables(), dbt, [publish_release(), notify_communities()])
