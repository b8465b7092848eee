"""Ingest civil-affairs assistance case versions (daily incremental).

Reads:  the civil-affairs file drop `civil_affairs_assistance_<YYYYMMDD>.csv` (UTF-8) with its `.ok` manifest.
Writes: raw.civil_affairs_assistance (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.civil_affairs_assistance, which schedules build_warehouse.
Contract: dbt_project/models/sources/civil_affairs_assistance.yml; gate: expectations/civil_affairs_assistance.json.
"""

from airflow.sdk import DAG

from community_dw.contracts import get_contract
from community_dw.orchestration import DEFAULT_ARGS, START_DATE, schedule_for
from community_dw.orchestration.ingestion import ingestion_tasks

SOURCE = get_contract("civil_affairs_assistance")

with DAG(
    dag_id="ingest_civil_affairs_assistance",
    schedule=schedule_for(SOURCE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ingestion", "file_drop", "civil_affairs_assistance"],
    doc_md=__doc__,
):
    ingestion_tasks(SOURCE.name)
