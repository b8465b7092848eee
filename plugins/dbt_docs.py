"""dbt docs in the Airflow UI (Browse → dbt docs): astronomer-cosmos's Airflow 3 plugin, signed-in users only.

Named `cosmos` so that it replaces the plugin Cosmos registers for itself, which would serve the same
routes to anyone; see community_dw.audit_view.dbt_docs.
"""

import cosmos.plugin.airflow3 as cosmos_airflow3

from community_dw.audit_view.access import require_authenticated
from community_dw.audit_view.dbt_docs import protected


class DbtDocsPlugin(cosmos_airflow3.CosmosAF3Plugin):
    name = "cosmos"

    def __init__(self) -> None:
        self.external_views = []  # Cosmos appends to a list shared by the class otherwise
        super().__init__()
        self.fastapi_apps = [
            entry | {"app": protected(entry["app"], require_authenticated)} for entry in self.fastapi_apps
        ]
