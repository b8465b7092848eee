"""Who may open the auditor's view: Airflow's own authentication, then an auditor role, failing closed.

Airflow mounts a plugin's FastAPI app without its authentication (every route would be anonymous), so
each route of the view depends on `require_auditor`: Airflow's `get_user` (the JWT from the
`Authorization: Bearer` header or the UI's `_token` cookie, validated by the auth manager; 401 without
one), then the auditor role, as the auth manager in use defines it (403 without it):

- Airflow's simple auth manager (local development; `airflow standalone` forces it) has four fixed
  roles and no custom ones. There an auditor is a user with its read-only `viewer` role who is named in
  `[community_dw] auditors` (AIRFLOW__COMMUNITY_DW__AUDITORS=auditor), the setting that sits beside
  `[core] simple_auth_manager_users`. Nobody is an auditor while the list is empty; admins are not
  auditors unless listed, and a listed user with another role than viewer is refused.
- Any other auth manager (FAB, Keycloak; production) is asked `is_authorized_custom_view(method,
  "Auditor view", user)`, the auth manager API for plugin views: with FAB, a role that holds the
  `Auditor view` resource's permission is the auditor role.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import (
    SimpleAuthManager,
    SimpleAuthManagerRole,
)
from fastapi import Depends, HTTPException, Request, status

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

log = logging.getLogger(__name__)

RESOURCE = "Auditor view"


def simple_auth_auditors() -> set[str]:
    from airflow.configuration import conf

    return {
        name.strip() for name in conf.get("community_dw", "auditors", fallback="").split(",") if name.strip()
    }


def role_of(user: Any) -> str:
    """The role name to record with an acknowledgement (simple auth manager: one role; FAB: many)."""
    role = getattr(user, "role", None)
    if role:
        return str(role)
    roles = getattr(user, "roles", None) or []
    return ",".join(getattr(r, "name", str(r)) for r in roles) or "unknown"


def _authorize(user: BaseUser, method: str) -> None:
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    if isinstance(manager, SimpleAuthManager):
        viewer = (getattr(user, "role", None) or "").upper() == SimpleAuthManagerRole.VIEWER.name
        allowed = viewer and user.get_name() in simple_auth_auditors()
    else:
        allowed = manager.is_authorized_custom_view(method=method, resource_name=RESOURCE, user=user)
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only auditors may use the auditor's view")


def _user_dependency():
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


async def require_auditor(request: Request, user: Annotated[Any, Depends(_user_dependency())]) -> Any:
    """The authenticated user, if the auth manager says they hold the auditor role (else 401/403)."""
    _authorize(user, "GET" if request.method in ("GET", "HEAD") else "POST")
    return user


async def require_authenticated(user: Annotated[Any, Depends(_user_dependency())]) -> Any:
    """Any user Airflow authenticated (dbt docs are for analysts and engineers too)."""
    return user
