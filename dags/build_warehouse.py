"""Build the warehouse: run the dbt project (staging -> intermediate -> marts) through Cosmos.

Scheduled on: the raw Assets the ingestion DAGs emit.
Reads: raw.*, seeds. Writes: staging, intermediate, marts (and later analyst, care, audit models).
Each model's dbt tests run right after it; a failing test stops its dependants.
"""

from airflow.sdk import DAG
from cosmos import DbtTaskGroup

from community_dw.orchestration import DEFAULT_ARGS, START_DATE, raw_asset
from community_dw.orchestration.warehouse_build import (
    EXECUTION_CONFIG,
    PROFILE_CONFIG,
    PROJECT_CONFIG,
    RENDER_CONFIG,
)

with DAG(
    dag_id="build_warehouse",
    schedule=[raw_asset("population_registry")],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["dbt", "warehouse"],
    doc_md=__doc__,
):
    DbtTaskGroup(
        group_id="dbt",
        project_config=PROJECT_CONFIG,
        profile_config=PROFILE_CONFIG,
        render_config=RENDER_CONFIG,
        execution_config=EXECUTION_CONFIG,
    )
