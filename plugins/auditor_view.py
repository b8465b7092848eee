"""The auditor's view in the Airflow UI: data-quality history, the ledger's proof, release audits, purges.

Mounts `community_dw.audit_view.app` under /auditor and adds it to the navigation (Browse → Auditor
view). Every route checks Airflow's authentication and the auditor role itself (plugin apps inherit no
authentication); the logic is in `community_dw.audit_view`.
"""

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from community_dw.audit_view.app import URL_PREFIX, create_app, plugin_href


class AuditorViewPlugin(AirflowPlugin):
    name = "community_dw_auditor_view"
    fastapi_apps: ClassVar[list[dict]] = [
        {"name": "auditor_view", "app": create_app(), "url_prefix": URL_PREFIX}
    ]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Auditor view",
            "href": plugin_href(),
            "url_route": "auditor",
            "category": "Browse",
            "destination": "nav",
        }
    ]
