"""The runtime's commands of `cdw`: build the dbt manifest, fetch the Data Docs assets, run the Airflow CLI,
trace a relation's lineage to its batches, list the notifications sent.

The `cdw` console script is `community_dw_tools.cli`, which adds these to the tooling's commands
(generate, demo, summary); this package knows nothing of the tooling, so it installs and runs without
Faker and the development servers.
"""

from __future__ import annotations

import argparse
import subprocess


def _manifest(args: argparse.Namespace) -> int:
    from community_dw.dbt_runner import build_manifest

    print(build_manifest(force=args.force))
    return 0


def _warehouse_init(args: argparse.Namespace) -> int:
    """Declare the warehouse's tables and, on PostgreSQL, apply the access policy (as its owner)."""
    from community_dw import warehouse

    tables = warehouse.initialise(args.url)
    print(f"warehouse declared ({len(tables)} sources): {', '.join(tables)}")
    return 0


# Airflow commands that run until stopped: supervised in their own process group (community_dw.processes).
SERVICES = {"standalone", "scheduler", "api-server", "dag-processor", "triggerer", "celery"}


def _airflow(args: argparse.Namespace) -> int:
    """Run the Airflow CLI against this repository's Airflow home and DAGs.

    The venv's `bin` goes first on the command's PATH (standalone starts its components as `airflow`).
    `standalone` and `db migrate` also create the project's pools; a long-running command (a service)
    is stopped, with every process it started, within 10 s of Ctrl-C or SIGTERM.
    """
    import os

    from community_dw import airflow_home, processes
    from community_dw.pseudonymize import KEY_CONN_ID, use_local_key_connection

    home = airflow_home.configure()
    key_file = use_local_key_connection()
    if key_file:
        print(
            f"Local demo pseudonymization key {key_file} (outside data/), served as connection {KEY_CONN_ID}"
        )
    command = args.airflow_args
    _local_users(home, show=command[:1] in (["standalone"], ["api-server"]))
    argv = [str(processes.venv_bin() / "airflow"), *command]
    if command[:1] == ["standalone"]:
        airflow_home.migrate()  # before the scheduler starts: its tasks name the pools
    if command[:2] == ["db", "migrate"]:
        code = subprocess.run(argv, env=processes.venv_env(), check=False).returncode
        if code == 0:
            airflow_home.ensure_pools()
        return code
    if command[:1] and command[0] in SERVICES:
        return processes.supervise(argv)
    os.environ.update(processes.venv_env())
    os.execv(argv[0], argv)
    return 0  # pragma: no cover - execv does not return


def _local_users(home, show: bool) -> None:
    """Local development: users admin, auditor and analyst (community_dw.audit_view.local_airflow)."""
    import os

    from community_dw import paths
    from community_dw.audit_view import local_airflow

    passwords = local_airflow.configure(home)
    if show:
        print(
            local_airflow.login_help(
                passwords, f"http://localhost:{os.environ.get('AIRFLOW__API__PORT', '8080')}"
            )
        )
        if not (paths.DBT_PROJECT_DIR / "target" / "index.html").exists():
            print(
                "dbt docs are not generated yet: run `cdw dbt-docs` once the warehouse is built (make demo)"
            )


def _dbt_docs(args: argparse.Namespace) -> int:
    from community_dw.dbt_runner import invoke

    invoke(["docs", "generate", "--quiet"])
    print("dbt docs in dbt_project/target (Airflow: Browse → dbt docs)")
    return 0


def _data_docs_assets(args: argparse.Namespace) -> int:
    from community_dw import data_docs_assets

    print(f"Data Docs assets in {data_docs_assets.install()}")
    return 0


def _lineage(args: argparse.Namespace) -> int:
    """Where a relation's rows come from: dbt models and sources down to the batches in raw."""
    import json

    from community_dw.lineage import trace

    traced = trace(args.relation)
    print(json.dumps(traced.as_dict(), default=str, indent=2) if args.json else "\n".join(traced.lines()))
    return 0


def _notifications(args: argparse.Namespace) -> int:
    from community_dw.notifications import sent_notifications

    for row in sent_notifications(args.limit):
        print(
            f"{row['sent_at']:%Y-%m-%d %H:%M:%S}  {row['event_kind']:<26} {row['event_state']:<8} "
            f"{row['recipient']:<48} {row['event_key']}"
        )
    return 0


def add_commands(sub) -> None:
    """Add the runtime's commands to the `cdw` subparsers (`sub`, from `add_subparsers`)."""
    manifest = sub.add_parser("dbt-manifest", help="build dbt_project/target/manifest.json for Cosmos")
    manifest.add_argument("--force", action="store_true")
    manifest.set_defaults(func=_manifest)

    init = sub.add_parser(
        "warehouse-init",
        help="declare raw, audit and vault tables; on PostgreSQL also roles and grants (run as the owner)",
    )
    init.add_argument("--url", help="the warehouse URL (default: CDW_WAREHOUSE_URL, else the DuckDB file)")
    init.set_defaults(func=_warehouse_init)

    docs = sub.add_parser(
        "dbt-docs", help="dbt docs generate into dbt_project/target (served in the Airflow UI)"
    )
    docs.set_defaults(func=_dbt_docs)

    assets = sub.add_parser(
        "data-docs-assets",
        help="fetch the scripts and styles GX Data Docs need to render offline (npm registry)",
    )
    assets.set_defaults(func=_data_docs_assets)

    lineage = sub.add_parser(
        "lineage", help="trace a relation (e.g. marts.crowd_alerts) to the source batches that fed it"
    )
    lineage.add_argument("relation")
    lineage.add_argument("--json", action="store_true", help="the whole trace as JSON")
    lineage.set_defaults(func=_lineage)

    notifications = sub.add_parser("notifications", help="the notifications sent, from audit.notifications")
    notifications.add_argument("--limit", type=int, default=50)
    notifications.set_defaults(func=_notifications)

    airflow = sub.add_parser(
        "airflow", help="the Airflow CLI with this project's home and DAGs, e.g. `cdw airflow standalone`"
    )
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow.set_defaults(func=_airflow)
