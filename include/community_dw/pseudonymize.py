"""Keyed pseudonyms for direct identifiers, one key per pseudonymization domain.

A pseudonym is HMAC-SHA256(domain key, value) in hex. Domain keys are derived from one master key, so
the same resident ID gets the same pseudonym in the population register, civil affairs and health (domain
`resident`), while telecom device hashes are keyed in their own domain and can never be joined to people.
Pseudonymized is not anonymized (PIPL): whoever holds the key can re-link, so the key lives in an Airflow
connection or an environment variable, never in the repository or the warehouse.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from community_dw import paths

log = logging.getLogger(__name__)

KEY_ENV = "CDW_PSEUDONYMIZATION_KEY"
KEY_CONN_ID = "cdw_pseudonymization"
ALLOW_LOCAL_KEY_ENV = "CDW_ALLOW_LOCAL_KEY"


class MissingKeyError(RuntimeError):
    """No pseudonymization key is configured."""


def _key_from_connection() -> str | None:
    if os.environ.get("AIRFLOW_CONN_" + KEY_CONN_ID.upper()) is None:
        return None
    from airflow.sdk import Connection

    return Connection.get(KEY_CONN_ID).password


def _local_demo_key() -> str:
    path = paths.secrets_dir() / "pseudonymization.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="ascii")
        path.chmod(0o600)
        log.warning(
            "Generated a LOCAL DEMO pseudonymization key at %s. Production must set %s or the Airflow "
            "connection %r; pseudonyms made with this key cannot be re-linked elsewhere.",
            path,
            KEY_ENV,
            KEY_CONN_ID,
        )
    return path.read_text(encoding="ascii").strip()


def master_key() -> bytes:
    """The master key: environment, else Airflow connection, else (demo only) a local generated key."""
    key = os.environ.get(KEY_ENV) or _key_from_connection()
    if not key and os.environ.get(ALLOW_LOCAL_KEY_ENV) == "1":
        key = _local_demo_key()
    if not key:
        raise MissingKeyError(
            f"No pseudonymization key: set {KEY_ENV}, or the password of Airflow connection "
            f"{KEY_CONN_ID!r}; for a local demo set {ALLOW_LOCAL_KEY_ENV}=1 to generate one."
        )
    return key.encode("utf-8")


@dataclass(frozen=True)
class Pseudonymizer:
    """Turns identifier values into pseudonyms, keyed per domain."""

    key: bytes

    @classmethod
    def from_environment(cls) -> Pseudonymizer:
        return cls(master_key())

    def domain_key(self, domain: str) -> bytes:
        return hmac.digest(self.key, f"community-dw/pseudonym-domain/{domain}".encode(), "sha256")

    def pseudonym(self, domain: str, value: str) -> str:
        return hmac.digest(self.domain_key(domain), value.encode("utf-8"), "sha256").hex()

    def pseudonymize(self, domain: str, values: pa.Array) -> pa.Array:
        """Pseudonyms for a column; nulls stay null. Values are normalized (trimmed, upper-cased).

        Each distinct value is hashed once: a day of telecom stays repeats each device about twenty
        times, so hashing the dictionary and taking from it is several times faster than per row.
        """
        key = self.domain_key(domain)
        digest = hmac.digest
        encoded = pc.dictionary_encode(values.cast(pa.string()))
        hashed = pa.array(
            [
                digest(key, v.strip().upper().encode("utf-8"), "sha256").hex()
                for v in encoded.dictionary.to_pylist()
            ],
            pa.string(),
        )
        return pc.take(hashed, encoded.indices)


def fingerprint(key: bytes) -> str:
    """A short, non-reversible label of the key in use, safe to log and to store in the ledger."""
    return hashlib.sha256(b"community-dw/key-fingerprint/" + key).hexdigest()[:12]
