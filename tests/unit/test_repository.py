"""The repository keeps its promises to a newcomer: exact pins, two commands, CI runs the tests, the
image runs the pinned Airflow."""

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


def test_pyproject_dependencies_are_pinned_and_the_runtime_needs_no_tooling():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = {
        line.split("==")[0].lower().replace("_", "-") for line in _requirement_lines("requirements.txt")
    }
    declared = project["dependencies"] + [
        d for extra in project["optional-dependencies"].values() for d in extra
    ]
    names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in declared}
    assert names <= pinned, f"declared in pyproject but not pinned: {names - pinned}"
    assert "faker" not in {n.lower() for n in project["dependencies"]}, "Faker is the tools extra's"


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
    pins = dict(line.split("==") for line in _requirement_lines("requirements.txt"))
    image = re.search(r"^FROM apache/airflow:([\d.]+)", (ROOT / "Dockerfile").read_text("utf-8"), re.M)
    assert image and image.group(1) == pins["apache-airflow"], "the image runs the pinned Airflow"
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and source != "./data":
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
