"""Ingest appeal ticket versions from the 12345 hotline / community app API every 15 minutes.

Reads:  the appeals HTTP API (connection `cdw_appeals_api`), versions updated within the run's data interval.
Writes: raw.appeals (pseudonymized), its quarantine, audit ledger and DQ results, vault. Descriptions are redacted at the door.
Emits:  the Asset raw.appeals, which schedules build_warehouse.
Contract: dbt_project/models/sources/appeals.yml; gate: expectations/appeals.json.
"""

from airflow.sdk import DAG

from community_dw.contracts import get_contract
from community_dw.orchestration import DEFAULT_ARGS, START_DATE, schedule_for
from community_dw.orchestration.ingestion import ingestion_tasks

SOURCE = get_contract("appeals")

with DAG(
    dag_id="ingest_appeals",
    schedule=schedule_for(SOURCE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ingestion", "http_api", "appeals"],
    doc_md=__doc__,
):
    ingestion_tasks(SOURCE.name)
