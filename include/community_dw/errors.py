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
    offset: int | None = None  # a byte offset in the file, where rows cannot be counted (encodings)

    def __str__(self) -> str:
        where = [f"source {self.source}", f"batch {self.batch_id}"]
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.offset is not None and self.row is None:
            where.append(f"byte offset {self.offset}")
        if self.column:
            where.append(f"column {self.column}")
        return (
            f"Batch rejected by rule {self.rule} ({', '.join(where)}): {self.detail} "
            "Nothing from this batch was loaded; fix the delivery and rerun the task."
        )


@dataclass
class RowProblem:
    """One failed cell: a data row (1-based, header excluded), the column and the reason code.

    Problems carry positions and rules, never the delivered value (it may identify a person).
    """

    row: int
    column: str | None
    reason: str
    rule: str


class SourceNotReady(Exception):
    """The extract for this interval has not been delivered (yet)."""
