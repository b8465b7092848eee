"""What the tests share, one copy each (import as `from support.dbt import run_dbt`; tests/ is on the path):

    support.dbt      one dbt harness: a project copy with fixture seeds, dbt in-process, the release step
    support.raw      one raw-table loader: schemas, audit tables and raw.<source> from the contracts
    support.cities   the fixture cities: the hand-built care street, the generated small and demo cities
    support.airflow  the in-process DAG runner (community_dw_tools.runner) and the appeals API server
    support.pg       a real PostgreSQL: CDW_TEST_PG_URL or a throwaway pgserver
    support.browser  headless Chromium with the network cut off, for page tests
    support.processes  processes started as from a terminal (own session), HTTP polling, cleanup

`own_data_folders(patch, root)` points sources, landing, work and the warehouse at folders of `root`.
`environment(**values)` sets environment variables for a block (pytest's MonkeyPatch, so it also works
in module- and session-scoped fixtures, where the `monkeypatch` fixture is not available).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def environment(**values: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield


def own_data_folders(patch: pytest.MonkeyPatch, root, warehouse: str = "community.duckdb") -> None:
    """Sources, landing, work and the warehouse under `root` (`root/sources`, `root/landing`, ...)."""
    patch.setenv("CDW_SOURCES_DIR", str(root / "sources"))
    patch.setenv("CDW_LANDING_DIR", str(root / "landing"))
    patch.setenv("CDW_WORK_DIR", str(root / "work"))
    patch.setenv("CDW_WAREHOUSE_PATH", str(root / "warehouse" / warehouse))
