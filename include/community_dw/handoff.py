"""What one ingestion task hands the next through XCom: small frozen records, as plain dicts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Self


class Handoff:
    """A dataclass record that crosses task boundaries as a JSON-serializable dict."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**data)
