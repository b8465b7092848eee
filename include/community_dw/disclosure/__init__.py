"""Disclosure control over the analyst release as a whole.

Everything an analyst can read (the `marts` and `analyst` schemas on PostgreSQL, the analyst file on
DuckDB) is one publication under one policy (policy.py, declared in dbt_project.yml). dbt builds it as
candidates with exact values; `release.run_release` withholds small and complementary cells and
generalizes row-level views (suppression.py, kanonymity.py) over cells that span every relation
(cells.py), proves the result against an attacker's linear programme (attack.py), publishes it in one
transaction and keeps the verdict in `audit.release_audits`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from community_dw.disclosure.release import ReleaseResult


def publish_release(target: str | None = None) -> ReleaseResult:
    """Protect, audit and publish the release of the warehouse in use; on DuckDB, write the analyst file.

    Raises ReleaseRejected (nothing published, no analyst file written) when the audit fails.
    """
    from community_dw.disclosure.backends import open_backend
    from community_dw.disclosure.release import run_release

    with open_backend(target) as backend:
        result = run_release(backend)
        name = backend.name
    if name == "duckdb":
        from community_dw.publish import publish_analyst_file

        publish_analyst_file()
    return result
