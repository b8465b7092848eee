"""What `cdw airflow` (and so `make airflow`) sets up for the auditor's view and the dbt docs, locally.

Three users of Airflow's simple auth manager (which `airflow standalone` forces), the auditor named in
`[community_dw] auditors` (see `access`):

    user      role      auditor   may
    admin     admin     no        everything in Airflow; not the auditor's view (403)
    auditor   viewer    yes       read Airflow; the auditor's view and its reviews
    analyst   viewer    no        read Airflow and the dbt docs; not the auditor's view (403)

Their passwords are generated once into the simple auth manager's password file in the Airflow home
(where it would generate them itself), so `cdw airflow` can print them before Airflow starts. A variable
already set (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS, AIRFLOW__COMMUNITY_DW__AUDITORS,
AIRFLOW__COSMOS__DBT_DOCS_PROJECTS) wins over these defaults.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from community_dw.audit_view.dbt_docs import project_config

LOCAL_USERS = (("admin", "admin"), ("auditor", "viewer"), ("analyst", "viewer"))
LOCAL_AUDITORS = ("auditor",)


def password_file(home: Path) -> Path:
    configured = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    return Path(configured) if configured else home / "simple_auth_manager_passwords.json.generated"


def configure(home: Path) -> dict[str, str]:
    """Set the environment for the local users and the dbt docs; returns {user: password}."""
    os.environ.setdefault(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", ",".join(f"{u}:{r}" for u, r in LOCAL_USERS)
    )
    os.environ.setdefault("AIRFLOW__COMMUNITY_DW__AUDITORS", ",".join(LOCAL_AUDITORS))
    os.environ.setdefault("AIRFLOW__COSMOS__DBT_DOCS_PROJECTS", project_config())
    names = [
        entry.split(":")[0] for entry in os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")
    ]
    file = password_file(home)
    passwords = json.loads(file.read_text(encoding="utf-8") or "{}") if file.exists() else {}
    missing = [name for name in names if name not in passwords]
    if missing:
        passwords |= {name: secrets.token_urlsafe(12) for name in missing}
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(passwords) + "\n", encoding="utf-8")
        file.chmod(0o600)
    return {name: passwords[name] for name in names}


def login_help(passwords: dict[str, str], url: str = "http://localhost:8080") -> str:
    roles = dict(LOCAL_USERS)
    auditors = os.environ.get("AIRFLOW__COMMUNITY_DW__AUDITORS", "").split(",")
    lines = [f"Airflow at {url}: sign in as one of (passwords kept in the Airflow home)"]
    lines += [
        f"  {user:<8} {passwords[user]:<18} role {roles.get(user, '?')}{', auditor' if user in auditors else ''}"
        for user in passwords
    ]
    lines.append(
        "Auditor view: Browse → Auditor view (auditor only) · dbt docs: Browse → dbt docs (signed-in users)"
    )
    return "\n".join(lines)
