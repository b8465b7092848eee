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

        Every value is hashed, repeated or not: through the batch HMAC a value costs less (0.29 us) than
        finding its repeats did (Arrow's dictionary encoding, 0.46 us a 64-byte value).
        """
        normalized = pc.utf8_upper(pc.utf8_trim_whitespace(values.cast(pa.string())))
        return hmac_sha256_hex(self.domain_key(domain), normalized)


def hmac_sha256_hex(key: bytes, values: pa.Array) -> pa.StringArray:
    """HMAC-SHA256 of each value under one key, in lowercase hex (`hmac.new(key, value, sha256).hexdigest()`);
    nulls stay null.

    Through `community_dw._hmac_sha256` (C over OpenSSL, built at install: why and its measurements
    there), which writes the hex digests of the whole array into one buffer that becomes the data of the
    result's Arrow string array. Where that extension could not be built, `_hmac_loop` gives the same
    digests at about 2.5x the CPU time.
    """
    values = values.cast(pa.binary())
    if len(values) > _MAX_PER_ARRAY:  # the result's 32-bit offsets
        parts = range(0, len(values), _MAX_PER_ARRAY)
        return pa.concat_arrays([hmac_sha256_hex(key, values.slice(i, _MAX_PER_ARRAY)) for i in parts])
    count = len(values)
    if _batch is None:
        digests = _hmac_loop(key, values)
    else:
        _validity, offsets, data = values.buffers()
        value_offsets = (
            offsets.slice(values.offset * 4, (count + 1) * 4) if count else pa.py_buffer(b"\0" * 4)
        )
        digests = _batch.hmac_sha256_hex(key, data if data is not None else b"", value_offsets)
    hex_offsets = np.arange(0, _HEX_DIGEST * (count + 1), _HEX_DIGEST, dtype=np.int32)
    hashed = pa.StringArray.from_buffers(count, pa.py_buffer(hex_offsets), pa.py_buffer(digests))
    if values.null_count:
        hashed = pc.if_else(pc.is_valid(values), hashed, pa.scalar(None, pa.string()))
    return hashed


def _hmac_loop(key: bytes, values: pa.BinaryArray) -> bytes:
    """The portable path: a keyed `cryptography` (OpenSSL) state copied per value, with one update and one
    finalize (0.59 CPU-us a 64-byte value on this machine, 2026-12-03; `hmac.digest()` 1.4 us, as it
    derives the pads again each call); nulls hash as empty values, masked by the caller."""
    copy = crypto_hmac.HMAC(key, crypto_hashes.SHA256()).copy
    digests = []
    append = digests.append
    for value in values.to_pylist():
        keyed = copy()
        keyed.update(value or b"")
        append(keyed.finalize())
    return binascii.hexlify(b"".join(digests))


try:
    from community_dw import _hmac_sha256 as _batch
except ImportError:  # built at install where a compiler and OpenSSL's headers are found (pyproject.toml)
    _batch = None
    log.warning("community_dw._hmac_sha256 is not built: pseudonymizing through the slower per-value loop")


_HEX_DIGEST = 64  # characters of one SHA-256 digest in hex
_MAX_PER_ARRAY = (2**31 - 1) // _HEX_DIGEST


def fingerprint(key: bytes) -> str:
    """A short, non-reversible label of the key in use, safe to log and to store in the ledger."""
    return hashlib.sha256(b"community-dw/key-fingerprint/" + key).hexdigest()[:12]
