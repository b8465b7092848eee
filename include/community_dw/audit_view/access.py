"""Who may open the auditor's view: Airflow's own authentication, then an auditor role, failing closed.

Airflow mounts a plugin's FastAPI app without its authentication (every route would be anonymous), so
each route of the view depends on `require_auditor`: Airflow's `get_user` (the JWT from the
`Authorization: Bearer` header or the UI's `_token` cookie, validated by the auth manager; 401 without
one), then the auth manager in use is asked whether this user may use the custom view `Auditor view`
(`is_authorized_custom_view`, the auth manager API for plugin views; 403 if not).

The role is defined with the auth manager:

- locally, `LocalAuthManager` below: Airflow's simple auth manager with one more role, `auditor`
  (users `auditor:auditor` in AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS). An auditor reads Airflow
  like a viewer and is the only role let into the view; admins are not auditors.
- with the FAB auth manager (production), a role holding the `Auditor view` resource's permission;
  FAB answers `is_authorized_custom_view` from its permission tables.

Airflow's plain SimpleAuthManager lets every viewer into any custom view, which would open the view to
all users, so under it the view refuses everyone and logs why (fail closed).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import (
    SimpleAuthManager,
    SimpleAuthManagerRole,
)
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from fastapi import Depends, HTTPException, Request, status

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

log = logging.getLogger(__name__)

RESOURCE = "Auditor view"
AUDITOR_ROLE = "auditor"
AUTH_MANAGER_PATH = "community_dw.audit_view.access.LocalAuthManager"


def is_auditor(user: Any) -> bool:
    return (getattr(user, "role", None) or "").lower() == AUDITOR_ROLE


def _as_viewer(user: SimpleAuthManagerUser) -> SimpleAuthManagerUser:
    return SimpleAuthManagerUser(
        username=user.username, role=SimpleAuthManagerRole.VIEWER.name, teams=user.teams
    )


class LocalAuthManager(SimpleAuthManager):
    """The simple auth manager (development only) with an `auditor` role for the auditor's view.

    Everywhere else in Airflow an auditor is a viewer (read-only); only an auditor may use the view.
    """

    @staticmethod
    def _is_authorized(*, user, **kwargs) -> bool:
        return SimpleAuthManager._is_authorized(user=_as_viewer(user) if is_auditor(user) else user, **kwargs)

    @staticmethod
    def _is_admin(user) -> bool:
        return not is_auditor(user) and SimpleAuthManager._is_admin(user)

    def is_authorized_custom_view(self, *, method: str, resource_name: str, user) -> bool:
        if resource_name == RESOURCE:
            return is_auditor(user)
        return super().is_authorized_custom_view(method=method, resource_name=resource_name, user=user)


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
    if type(manager) is SimpleAuthManager:
        log.error(
            "The auditor's view refuses everyone under Airflow's plain SimpleAuthManager (it lets every "
            "viewer into plugin views); set AIRFLOW__CORE__AUTH_MANAGER=%s",
            AUTH_MANAGER_PATH,
        )
        raise HTTPException(status.HTTP_403_FORBIDDEN, "The auth manager in use defines no auditor role")
    if not manager.is_authorized_custom_view(method=method, resource_name=RESOURCE, user=user):
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
