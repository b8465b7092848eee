"""dbt docs in the Airflow UI through astronomer-cosmos's Airflow 3 plugin, behind Airflow's authentication.

Cosmos 1.15 mounts its dbt docs app (`/cosmos/<project>/dbt_docs_index.html`, `manifest.json`,
`catalog.json`) with no authentication, as every plugin app is mounted (fixed upstream later, in
astronomer-cosmos PR #2972). `protected` rebuilds that app with each of its routes depending on Airflow's
`get_user`, so anonymous requests get 401; the docs are for every signed-in user (analysts, engineers,
auditors). The plugin in `plugins/dbt_docs.py` uses it and takes the name `cosmos`, so Cosmos's own
entry-point plugin (same name, loaded after the plugins folder) is skipped.

`project_config()` is the `[cosmos] dbt_docs_projects` value for this repository's dbt project; the docs
are generated into dbt_project/target by `cdw dbt-docs` (dbt docs generate).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from community_dw import paths

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

PROJECT_SLUG = "community_dw"


def project_config() -> str:
    target = paths.DBT_PROJECT_DIR / "target"
    return json.dumps(
        {PROJECT_SLUG: {"dir": str(target), "index": "index.html", "name": "dbt docs (community-dw)"}}
    )


def protected(app: FastAPI, dependency: Callable[..., Any]) -> FastAPI:
    """A copy of `app` whose every API route first runs `dependency`; its other routes (the
    OpenAPI schema and Swagger pages FastAPI adds) are left out."""
    from fastapi import Depends, FastAPI
    from fastapi.routing import APIRoute

    guarded = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    for route in app.routes:
        if isinstance(route, APIRoute):
            guarded.add_api_route(
                route.path,
                route.endpoint,
                methods=sorted(route.methods),
                response_class=route.response_class,
                dependencies=[*route.dependencies, Depends(dependency)],
                include_in_schema=False,
            )
    return guarded
