"""The repository keeps its promises to a newcomer: exact pins, two commands, CI runs the tests."""

from __future__ import annotations

import re

import yaml

from community_dw import paths

ROOT = paths.PROJECT_ROOT


def _requirement_lines(name: str) -> list[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_every_requirement_is_pinned_exactly():
    for line in _requirement_lines("requirements.txt"):
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", line), f"not an exact pin: {line}"


def test_pins_cover_every_direct_dependency():
    pinned = {
        line.split("==")[0].lower().replace("_", "-") for line in _requirement_lines("requirements.txt")
    }
    for line in _requirement_lines("requirements.in"):
        name = re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is in requirements.in but not pinned in requirements.txt"


def test_stack_versions_are_the_ones_this_project_was_built_on():
    pins = dict(line.split("==") for line in _requirement_lines("requirements.txt"))
    assert pins["apache-airflow"] == "3.3.2"
    assert pins["great-expectations"] == "1.24.1"
    assert pins["dbt-core"].startswith("1.11.")
    assert pins["astronomer-cosmos"] == "1.15.1"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^\s*(make [a-z\-]+)\s*$", readme, flags=re.MULTILINE)
    assert commands[:2] == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_docker_compose_runs_every_airflow_3_component():
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    commands = {name: str(svc.get("command")) for name, svc in services.items()}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker"):
        assert any(component in c for c in commands.values()), f"no service runs {component}"
    assert services["postgres"]["image"].startswith("postgres:")
    assert "FROM apache/airflow:3.3.2" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and source != "./data":
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
