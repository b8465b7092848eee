"""Keyed pseudonyms for direct identifiers, one key per pseudonymization domain.

A pseudonym is HMAC-SHA256(domain key, value) in hex. Domain keys are derived from one master key, so
the same resident ID gets the same pseudonym in the population register, civil affairs and health (domain
`resident`), while telecom device hashes are keyed in their own domain and can never be joined to people.
Pseudonymized is not anonymized (PIPL): whoever holds the key can re-link, so the key lives in an Airflow
connection or an environment variable, never in the repository or the warehouse.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes as crypto_hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

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


LOCAL_KEY_NAME = "pseudonymization.key"


def _legacy_key_file() -> Path:
    """Where earlier demos kept the key: beside the data it protects (moved out on first use)."""
    return paths.data_dir() / "secrets" / LOCAL_KEY_NAME


def ensure_local_key() -> Path:
    """The demo's local key file (mode 0600, outside the data folder), generated once.

    A key an earlier demo left in `data/secrets/` is moved here rather than replaced, so the pseudonyms
    already in the warehouse keep joining; nothing of it stays under the data folder.
    """
    path = paths.local_key_file()
    if path.is_relative_to(paths.data_dir()):
        raise MissingKeyError(
            f"The local key file {path} is inside the data folder {paths.data_dir()}; keep the key apart "
            "from the data it protects (set CDW_LOCAL_KEY_FILE elsewhere)."
        )
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    legacy = _legacy_key_file()
    key = legacy.read_text(encoding="ascii").strip() if legacy.exists() else secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key)
    if legacy.exists():
        legacy.unlink()
        with contextlib.suppress(OSError):
            legacy.parent.rmdir()
        log.warning(
            "Moved the local demo pseudonymization key from %s to %s (outside the data folder).", legacy, path
        )
    else:
        log.warning(
            "Generated a LOCAL DEMO pseudonymization key at %s (mode 0600, outside the data folder). "
            "Production must set %s or the Airflow connection %r; pseudonyms made with this key cannot be "
            "re-linked elsewhere.",
            path,
            KEY_ENV,
            KEY_CONN_ID,
        )
    return path


def _local_demo_key() -> str:
    return ensure_local_key().read_text(encoding="ascii").strip()


def use_local_key_connection() -> str | None:
    """Demo and `make airflow`: serve the local key to tasks as the Airflow connection, as production does.

    Does nothing (returns None) when a key is configured already or CDW_ALLOW_LOCAL_KEY is not 1;
    otherwise sets AIRFLOW_CONN_CDW_PSEUDONYMIZATION for this process and the Airflow components it
    starts, and returns where the key file is.
    """
    conn_env = "AIRFLOW_CONN_" + KEY_CONN_ID.upper()
    if os.environ.get(KEY_ENV) or os.environ.get(conn_env) or os.environ.get(ALLOW_LOCAL_KEY_ENV) != "1":
        return None
    path = ensure_local_key()
    key = path.read_text(encoding="ascii").strip()
    os.environ[conn_env] = json.dumps({"conn_type": "generic", "password": key})
    return str(path)


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
        """One value's pseudonym, through the same normalization as a column's."""
        return self.pseudonymize(domain, pa.array([value], pa.string()))[0].as_py()

    def pseudonymize(self, domain: str, values: pa.Array) -> pa.Array:
        """Pseudonyms for a column; nulls stay null. Values are normalized (trimmed, upper-cased).

        Each distinct value is hashed once (Arrow's dictionary encoding), then HMAC'd by `hmac_sha256_hex`.
        """
        normalized = pc.utf8_upper(pc.utf8_trim_whitespace(values.cast(pa.string())))
        encoded = pc.dictionary_encode(normalized)
        distinct = encoded.dictionary.cast(pa.binary()).to_pylist()
        hashed = hmac_sha256_hex(self.domain_key(domain), distinct)
        return pc.take(hashed, encoded.indices)


def hmac_sha256_hex(key: bytes, messages: list[bytes]) -> pa.StringArray:
    """HMAC-SHA256 of each message under one key, in lowercase hex: exactly `hmac.new(key, m, sha256).hexdigest()`.

    Through the `cryptography` package (OpenSSL): the key is set once and each message costs a copy of
    that keyed state, one update and one finalize; the 32-byte digests are joined and hex-encoded in one
    call into the data buffer of an Arrow string array, so no Python string is made per value. Measured
    on 400,000 distinct 64-byte values on this 2-core machine (2026-12-03, process CPU time): 0.59 µs a
    value, against 0.73 for the previous loop over copies of hashlib states with the pads absorbed once,
    and 1.4 for `hmac.digest()` (which derives the pads again on every call). The rest of an HMAC's cost
    here is the Python loop itself: one `hashlib.sha256(m).digest()` per value already takes 0.35 µs, so
    no per-value loop in Python reaches OpenSSL's own rate (`openssl speed -hmac sha256`, about 0.22 µs).
    """
    if len(messages) > _MAX_PER_ARRAY:  # the string array's 32-bit offsets
        parts = range(0, len(messages), _MAX_PER_ARRAY)
        return pa.concat_arrays([hmac_sha256_hex(key, messages[i : i + _MAX_PER_ARRAY]) for i in parts])
    base = crypto_hmac.HMAC(key, crypto_hashes.SHA256())
    copy = base.copy
    digests = []
    append = digests.append
    for message in messages:
        keyed = copy()
        keyed.update(message)
        append(keyed.finalize())
    count = len(digests)
    offsets = np.arange(0, _HEX_DIGEST * (count + 1), _HEX_DIGEST, dtype=np.int32)
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(binascii.hexlify(b"".join(digests)))
    )


_HEX_DIGEST = 64  # characters of one SHA-256 digest in hex
_MAX_PER_ARRAY = (2**31 - 1) // _HEX_DIGEST


def fingerprint(key: bytes) -> str:
    """A short, non-reversible label of the key in use, safe to log and to store in the ledger."""
    return hashlib.sha256(b"community-dw/key-fingerprint/" + key).hexdigest()[:12]
