"""Ingest appeal ticket versions from the 12345 hotline / community app API every 15 minutes.

Reads:  the appeals HTTP API (connection `cdw_appeals_api`), versions updated within the run's data interval.
Writes: raw.appeals (pseudonymized), its quarantine, audit ledger and DQ results, vault. Descriptions are redacted at the door.
Emits:  the Asset raw.appeals, which schedules build_warehouse.
Contract: dbt_project/models/sources/appeals.yml; gate: expectations/appeals.json.
Airflow DAG file: the tasks and schedule come from community_dw.orchestration.ingestion.ingestion_dag.
"""

from community_dw.orchestration.ingestion import ingestion_dag

dag = ingestion_dag("appeals", __doc__)
