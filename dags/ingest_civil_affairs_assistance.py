"""Ingest civil-affairs assistance case versions (daily incremental).

Reads:  the civil-affairs file drop `civil_affairs_assistance_<YYYYMMDD>.csv` (UTF-8) with its `.ok` manifest.
Writes: raw.civil_affairs_assistance (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.civil_affairs_assistance, which schedules build_warehouse.
Contract: dbt_project/models/sources/civil_affairs_assistance.yml; gate: expectations/civil_affairs_assistance.json.
Airflow DAG file: the tasks and schedule come from community_dw.orchestration.ingestion.ingestion_dag.
"""

from community_dw.orchestration.ingestion import ingestion_dag

dag = ingestion_dag("civil_affairs_assistance", __doc__)
