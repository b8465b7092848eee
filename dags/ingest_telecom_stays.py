"""Ingest one hourly partition of carrier stays per run.

Reads:  object storage `dt=<date>/hour=<HH>/part-*.parquet` once `_SUCCESS` is written (CDW_TELECOM_STORE_URL).
Writes: raw.telecom_stays (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.telecom_stays, which schedules build_warehouse.
Contract: dbt_project/models/sources/telecom_stays.yml; gate: expectations/telecom_stays.json.
Airflow DAG file: the tasks and schedule come from community_dw.orchestration.ingestion.ingestion_dag.
"""

from community_dw.orchestration.ingestion import ingestion_dag

dag = ingestion_dag("telecom_stays", __doc__)
