"""Ingest health-service contacts (daily incremental; no diagnoses).

Reads:  the health-commission file drop `health_services_<YYYYMMDD>.jsonl` with its `.ok` manifest.
Writes: raw.health_services (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.health_services, which schedules build_warehouse.
Contract: dbt_project/models/sources/health_services.yml; gate: expectations/health_services.json.
Airflow DAG file: the tasks and schedule come from community_dw.orchestration.ingestion.ingestion_dag.
"""

from community_dw.orchestration.ingestion import ingestion_dag

dag = ingestion_dag("health_services", __doc__)
