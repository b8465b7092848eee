"""Fixtures of the end-to-end tests: the appeals API's ticket versions and tickets file, and per-test
data folders (support.appeals_api)."""

from support.appeals_api import isolated_data, tickets, versions

__all__ = ["isolated_data", "tickets", "versions"]
