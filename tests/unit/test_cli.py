"""`cdw` offers every command the README, the Makefile and the images call."""

from __future__ import annotations

import re

import pytest

from community_dw import paths
from community_dw_tools.cli import build_parser

DOCUMENTED_IN = ("README.md", "Makefile", "Dockerfile", "docker-compose.yaml")


def _subcommands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]  # argparse keeps subparsers here
    return set(sub.choices)


def test_every_documented_command_exists():
    used = {
        command
        for name in DOCUMENTED_IN
        for command in re.findall(r"\bcdw ([a-z][a-z-]+)", (paths.PROJECT_ROOT / name).read_text("utf-8"))
    }
    assert used >= {"demo", "summary", "dbt-manifest", "data-docs-assets", "airflow"}
    assert used <= _subcommands(), f"documented but missing: {used - _subcommands()}"


@pytest.mark.parametrize("argv", [["demo", "--residents", "10", "--days", "1"], ["dbt-manifest", "--force"]])
def test_commands_parse_their_options(argv):
    args = build_parser().parse_args(argv)
    assert callable(args.func)
