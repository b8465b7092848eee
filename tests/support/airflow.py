"""The Airflow runner the demo uses, for the tests: DAGs through `dag.test()` in this process.

    state = run_dag("ingest_population_registry", interval_run_date(day))
    with appeals_api_server(Faults.none()):
        run_dag("ingest_appeals", interval_run_date(day), conf={...})

Needs the session's migrated metadata database (the `airflow_db` fixture of tests/conftest.py).
"""

from __future__ import annotations

from community_dw_tools.devserver.appeals_api import Faults
from community_dw_tools.runner import appeals_api_server, hourly_run_date, interval_run_date, run_dag

__all__ = ["Faults", "appeals_api_server", "hourly_run_date", "interval_run_date", "run_dag"]
