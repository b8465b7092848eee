"""Errors that speak to the person who must act: which source, batch, file, row, column and rule."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BatchRejected(Exception):
    """A critical rule failed: the whole batch stays in landing and nothing of it is loaded."""

    source: str
    batch_id: str
    rule: str
    detail: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    received_rows: int | None = None

    def __str__(self) -> str:
        where = [f"source {self.source}", f"batch {self.batch_id}"]
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return (
            f"Batch rejected by rule {self.rule} ({', '.join(where)}): {self.detail} "
            "Nothing from this batch was loaded; fix the delivery and rerun the task."
        )


class SourceNotReady(Exception):
    """The extract for this interval has not been delivered (yet)."""
