"""docker-compose.yaml is valid, and agrees with what `make airflow-distributed` runs here (the same
components, worker names and settings; community_dw_tools.distributed), since no daemon can run it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from community_dw import paths
from community_dw_tools.distributed import SERVICES, WORKERS, Settings
from community_dw_tools.distributed import commands as distributed_commands

COMPOSE = paths.PROJECT_ROOT / "docker-compose.yaml"
# Addresses and sizes of this machine's processes, not settings the two must share.
LOCAL_ONLY = {
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_docker_compose_validates_the_file_offline():
    # `make test` installs Debian's docker-compose: without it this fails rather than skips.
    assert shutil.which("docker-compose"), "Debian's docker-compose is not installed (make test installs it)"
    check = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr


def test_the_same_components_and_workers_run_in_both(services):
    commands = {name: service.get("command") for name, service in services.items()}
    local = distributed_commands(Settings())
    for component in SERVICES:
        assert commands[f"airflow-{component.replace('api-server', 'apiserver')}"] == component
        assert local[component][1:] == [component]
    for worker in WORKERS:
        compose = f"celery worker --celery-hostname {worker}@%h"
        assert commands[f"airflow-{worker}"] == compose
        assert local[worker][1:5] == compose.split()  # here also --queues and --skip-serve-logs
    assert "cdw airflow db migrate" in " ".join(commands["airflow-init"])  # creates the pools
    assert "cdw warehouse-init" in " ".join(commands["airflow-init"])  # as make airflow-distributed does


def test_both_name_the_warehouse_by_its_url(services):
    """The compose file's warehouse is PostgreSQL through the one setting the package reads, as
    `make airflow-distributed` is given it, not the dbt profile's variables set by hand."""
    compose = services["airflow-scheduler"]["environment"]
    assert compose["CDW_WAREHOUSE_URL"].endswith("-postgresql://airflow:airflow@postgres/warehouse}")
    assert not {name for name in compose if name.startswith("CDW_PG_")}, "CDW_PG_* come from the URL"


def test_both_give_the_components_the_same_settings(services):
    compose = services["airflow-scheduler"]["environment"]
    local = Settings().environment()
    assert set(local) - LOCAL_ONLY <= set(compose), set(local) - LOCAL_ONLY - set(compose)
    for name in ("AIRFLOW__CORE__EXECUTOR",):
        assert compose[name] == local[name]
    assert json.loads(compose["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"]) == json.loads(
        local["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"]
    )
    for env in (compose, local):
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")
    assert compose["CDW_STAGING_URL"].endswith("file:///opt/community-dw/data/work}")  # the shared volume
    assert services["airflow-worker-a"]["environment"]["DUMB_INIT_SETSID"] == "0"  # warm shutdown


def test_the_image_installs_what_the_celery_topology_imports():
    pins = (paths.PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8")
    for package in (
        "apache-airflow-providers-celery==",
        "celery==",
        "redis==",
        "asyncpg==",
        "psycopg2-binary==",
    ):
        assert f"\n{package}" in pins, package
    assert "requirements.txt" in (paths.PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
