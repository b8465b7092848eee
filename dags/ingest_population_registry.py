"""Ingest the real-population register (实有人口) daily snapshot.

Reads:  the public-security file drop `population_registry_<YYYYMMDD>.csv` (GBK) with its `.ok` manifest.
Writes: raw.population_registry (pseudonymized), its quarantine, audit ledger and DQ results, vault.
Emits:  the Asset raw.population_registry, which schedules build_warehouse.
Contract: dbt_project/models/sources/population_registry.yml; gate: expectations/population_registry.json.
"""

from airflow.sdk import DAG

from community_dw.contracts import get_contract
from community_dw.orchestration import DEFAULT_ARGS, START_DATE, schedule_for
from community_dw.orchestration.ingestion import ingestion_tasks

SOURCE = get_contract("population_registry")

with DAG(
    dag_id="ingest_population_registry",
    schedule=schedule_for(SOURCE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ingestion", "file_drop", "population_registry"],
    doc_md=__doc__,
):
    ingestion_tasks(SOURCE.name)
