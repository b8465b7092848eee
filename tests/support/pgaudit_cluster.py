"""A private PostgreSQL 15 cluster with pgaudit loaded, for the access-log tests.

    with pgaudit_cluster() as cluster:          # initdb + pg_ctl start in /tmp/cdwpga-XXXXXXXX
        cluster.params                          # support.pg.PgParams of its `postgres` database
        cluster.log_dir                         # where the server writes its csvlog files
    # stopped (pg_ctl stop -m fast) and deleted here

The system server cannot be restarted with `shared_preload_libraries = pgaudit` by a test, so this
one is started from Debian's binaries (/usr/lib/postgresql/15/bin) with the access log's production
settings (`community_dw.audit_view.access_log.SERVER_SETTINGS`), on a free port and a Unix socket in
its own short temporary folder (socket paths are limited to ~107 bytes). PostgreSQL refuses to run as
root: under root the cluster belongs to the `postgres` system user (Debian's package creates it).
Debian's `postgresql-15-pgaudit` is installed by `make test` (`make pgaudit`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.pg import PgParams
from support.processes import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
PGAUDIT_LIBRARY = Path("/usr/lib/postgresql/15/lib/pgaudit.so")


@dataclass(frozen=True)
class Cluster:
    params: PgParams
    log_dir: Path
    data_dir: Path


def _as_server_user() -> dict:
    """subprocess arguments that run a command as the cluster's owner (postgres when we are root)."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, **_as_server_user())
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


@contextmanager
def pgaudit_cluster(extra_settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    from community_dw.audit_view.access_log import SERVER_SETTINGS

    if not (BIN / "initdb").exists() or not PGAUDIT_LIBRARY.exists():
        raise RuntimeError(
            "PostgreSQL 15 and pgaudit are needed: `make test` installs Debian's postgresql-15-pgaudit "
            "(make pgaudit)"
        )
    root = Path(tempfile.mkdtemp(prefix="cdwpga-", dir="/tmp"))
    data, logs = root / "data", root / "log"
    port = free_port()
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        _run(str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        settings = {
            "port": str(port),
            "listen_addresses": "''",
            "unix_socket_directories": f"'{root}'",
            "fsync": "off",
            "log_directory": f"'{logs}'",
            "log_file_mode": "0644",
            **SERVER_SETTINGS,
            **(extra_settings or {}),
        }
        conf = "".join(f"{name} = {value}\n" for name, value in settings.items())
        with (data / "postgresql.conf").open("a", encoding="utf-8") as handle:
            handle.write("\n# community-dw access-log test cluster\n" + conf)
        _run(str(BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "start")
        try:
            params = PgParams(host=str(root), port=port, user="postgres", password="", dbname="postgres")
            params.execute_autocommit("create extension if not exists pgaudit")
            yield Cluster(params=params, log_dir=logs, data_dir=data)
        finally:
            _run(str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
