"""Ingest health-service contacts (daily incremental; no diagnoses).

Reads:  the health-commission file drop `health_services_<YYYYMMDD>.jsonl` with its `.ok` manifest.
Writes: raw.health_services (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.health_services, which schedules build_warehouse.
Contract: dbt_project/models/sources/health_services.yml; gate: expectations/health_services.json.
"""

from airflow.sdk import DAG

from community_dw.contracts import get_contract
from community_dw.orchestration import DEFAULT_ARGS, START_DATE, schedule_for
from community_dw.orchestration.ingestion import ingestion_tasks

SOURCE = get_contract("health_services")

with DAG(
    dag_id="ingest_health_services",
    schedule=schedule_for(SOURCE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ingestion", "file_drop", "health_services"],
    doc_md=__doc__,
):
    ingestion_tasks(SOURCE.name)
