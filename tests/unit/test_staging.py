"""The staging store: batches handed between tasks through a URL every worker reaches, cleaned after."""

from __future__ import annotations

import stat

import pyarrow as pa
import pytest

from community_dw import paths, staging

BATCH = "population_registry/2026-11-25"
TABLE = pa.table({"resident_id": ["a" * 64, "b" * 64], "age": pa.array([7, 81], pa.int16())})


def test_by_default_the_store_is_the_local_work_folder_and_reads_memory_map(monkeypatch):
    monkeypatch.delenv(staging.STAGING_URL_ENV, raising=False)
    folder = staging.work_folder(BATCH)
    assert str(folder) == (paths.work_dir() / BATCH).as_uri()
    staging.stage(TABLE, folder / "accepted.arrow")
    assert (paths.work_dir() / BATCH / "accepted.arrow").is_file()
    again = staging.folder_at(str(folder))  # what the next task rebuilds from the batch description
    assert staging.staged(again / "accepted.arrow").equals(TABLE)
    big = pa.table({"n": pa.array(range(1_000_000), pa.int64())})
    staging.stage(big, folder / "big.arrow")
    mapped = staging.staged(folder / "big.arrow")
    address = mapped.column("n").chunks[0].buffers()[1].address
    assert _mapped_from(address) == str(paths.work_dir() / BATCH / "big.arrow"), "read, not memory-mapped"


def _mapped_from(address: int) -> str | None:
    """The file whose memory mapping holds `address` in this process (Linux /proc/self/maps)."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(bound, 16) for bound in fields[0].split("-"))
            if start <= address < end:
                return fields[5].strip() if len(fields) == 6 else None
    return None


def test_the_vault_file_is_owner_only_on_a_local_store_even_when_rewritten(monkeypatch):
    monkeypatch.delenv(staging.STAGING_URL_ENV, raising=False)
    vault = staging.work_folder(BATCH) / staging.VAULT_FILE
    for _ in range(2):  # a retried task stages the vault again over the old file
        staging.stage(TABLE, vault, private=True)
        assert stat.S_IMODE((paths.work_dir() / BATCH / staging.VAULT_FILE).stat().st_mode) == 0o600
    assert staging.staged(vault).equals(TABLE)


def test_a_remote_store_is_used_through_its_file_objects_and_no_local_folder(monkeypatch):
    """memory:// stands in for s3:// or gs://: any fsspec store named by CDW_STAGING_URL."""
    monkeypatch.setenv(staging.STAGING_URL_ENV, "memory://cdw-staging/work")
    folder = staging.work_folder(BATCH)
    assert str(folder) == f"memory://cdw-staging/work/{BATCH}"
    staging.stage(TABLE, folder / "accepted.arrow")
    staging.stage(TABLE, folder / staging.VAULT_FILE, private=True)
    assert staging.staged(staging.folder_at(str(folder)) / "accepted.arrow").equals(TABLE)
    assert not (paths.work_dir() / "memory:").exists() and not (paths.work_dir() / "cdw-staging").exists()
    staging.discard(folder)
    assert not (folder / "accepted.arrow").exists() and not (folder / staging.VAULT_FILE).exists()


def test_discard_removes_the_vault_file_first_then_the_folder(monkeypatch):
    monkeypatch.delenv(staging.STAGING_URL_ENV, raising=False)
    folder = staging.work_folder(BATCH)
    for name in ("accepted.arrow", "problems.arrow", staging.VAULT_FILE):
        staging.stage(TABLE, folder / name, private=name == staging.VAULT_FILE)
    removed = []
    real_unlink = type(folder).unlink

    def unlink(path, missing_ok=False):
        removed.append(path.name)
        return real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(type(folder), "unlink", unlink)
    staging.discard(folder)
    assert removed[0] == staging.VAULT_FILE
    assert not (paths.work_dir() / BATCH).exists()
    staging.discard(folder)  # a batch discarded twice (a rejection after a load attempt) is no error


def test_a_missing_staged_file_names_itself(monkeypatch):
    monkeypatch.delenv(staging.STAGING_URL_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"problems\.arrow"):
        staging.staged(staging.work_folder(BATCH) / "problems.arrow")
