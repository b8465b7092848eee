"""Who receives what: the one declared file of contacts per community and per source (YAML, not code).

The file is `notifications/recipients.yml` in the repository (CDW_RECIPIENTS_FILE moves it). A community
is looked up by its 12-digit code, then by its street's 9-digit code, then `default`; a source by name,
then `default`. Each contact names a channel and an address: `email: <address>` or
`webhook: <http connection id>`; servers and credentials stay in Airflow connections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from community_dw import paths

RECIPIENTS_ENV = "CDW_RECIPIENTS_FILE"
DEFAULT_FILE = paths.PROJECT_ROOT / "notifications" / "recipients.yml"
CHANNELS = ("email", "webhook")
ROLES = {"communities": ("duty", "appeals"), "sources": ("data_owner",)}


class RecipientsError(ValueError):
    """The recipients file is malformed; the message names the entry."""


@dataclass(frozen=True, order=True)
class Contact:
    """One destination: a channel and its address (an e-mail address or a webhook's connection id)."""

    channel: str
    address: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}"

    @classmethod
    def parse(cls, text: str) -> Contact:
        channel, _, address = text.partition(":")
        return cls(channel, address)


@dataclass(frozen=True)
class Recipients:
    channels: dict[str, dict[str, Any]]
    communities: dict[str, dict[str, tuple[Contact, ...]]]
    sources: dict[str, dict[str, tuple[Contact, ...]]]

    def for_community(self, community_code: str, role: str) -> tuple[Contact, ...]:
        """The contacts of the most specific entry (community, street, default) that names `role`."""
        for key in (community_code, community_code[:9], "default"):
            contacts = self.communities.get(key, {}).get(role)
            if contacts:
                return contacts
        return ()

    def for_source(self, source: str, role: str = "data_owner") -> tuple[Contact, ...]:
        for key in (source, "default"):
            contacts = self.sources.get(key, {}).get(role)
            if contacts:
                return contacts
        return ()

    def channel(self, name: str) -> dict[str, Any]:
        return self.channels.get(name, {})


def _contacts(raw: Any, where: str) -> tuple[Contact, ...]:
    if not isinstance(raw, list):
        raise RecipientsError(f"{where}: a list of contacts, e.g. [{{email: someone@example.org}}]")
    contacts = []
    for entry in raw:
        if not (isinstance(entry, dict) and len(entry) == 1):
            raise RecipientsError(f"{where}: each contact is one `channel: address` pair, got {entry!r}")
        [(channel, address)] = entry.items()
        if channel not in CHANNELS or not isinstance(address, str) or not address.strip():
            raise RecipientsError(f"{where}: channel must be one of {', '.join(CHANNELS)} with an address")
        contacts.append(Contact(channel, address.strip()))
    return tuple(contacts)


def _section(raw: dict, name: str, path: Path) -> dict[str, dict[str, tuple[Contact, ...]]]:
    entries = raw.get(name) or {}
    section = {}
    for key, roles in entries.items():
        where = f"{path}: {name}.{key}"
        unknown = set(roles or {}) - set(ROLES[name])
        if unknown:
            raise RecipientsError(f"{where}: unknown role(s) {sorted(unknown)}; known: {ROLES[name]}")
        section[str(key)] = {role: _contacts(c, f"{where}.{role}") for role, c in (roles or {}).items()}
    return section


@cache
def _load(path: str, mtime: float) -> Recipients:
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return Recipients(
        channels=dict(raw.get("channels") or {}),
        communities=_section(raw, "communities", Path(path)),
        sources=_section(raw, "sources", Path(path)),
    )


def recipients_file() -> Path:
    return Path(os.environ.get(RECIPIENTS_ENV, DEFAULT_FILE)).resolve()


def load_recipients(path: Path | None = None) -> Recipients:
    """The declared recipients (re-read when the file changes)."""
    path = path or recipients_file()
    return _load(str(path), path.stat().st_mtime)
