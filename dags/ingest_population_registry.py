"""Ingest the real-population register (实有人口) daily snapshot.

Reads:  the public-security file drop `population_registry_<YYYYMMDD>.csv` (GBK) with its `.ok` manifest.
Writes: raw.population_registry (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.population_registry, which schedules build_warehouse.
Contract: dbt_project/models/sources/population_registry.yml; gate: expectations/population_registry.json.
Airflow DAG file: the tasks and schedule come from community_dw.orchestration.ingestion.ingestion_dag.
"""

from community_dw.orchestration.ingestion import ingestion_dag

dag = ingestion_dag("population_registry", __doc__)
