"""Ingest one hourly partition of carrier stays per run.

Reads:  object storage `dt=<date>/hour=<HH>/part-*.parquet` once `_SUCCESS` is written (CDW_TELECOM_STORE_URL).
Writes: raw.telecom_stays (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.telecom_stays, which schedules build_warehouse.
Contract: dbt_project/models/sources/telecom_stays.yml; gate: expectations/telecom_stays.json.
"""

from airflow.sdk import DAG

from community_dw.contracts import get_contract
from community_dw.orchestration import DEFAULT_ARGS, START_DATE, schedule_for
from community_dw.orchestration.ingestion import ingestion_tasks

SOURCE = get_contract("telecom_stays")

with DAG(
    dag_id="ingest_telecom_stays",
    schedule=schedule_for(SOURCE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ingestion", "object_storage", "telecom_stays"],
    doc_md=__doc__,
):
    ingestion_tasks(SOURCE.name)
