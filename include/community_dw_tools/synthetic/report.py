"""What a generation run produced, for the CLI to print and for callers to check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path


@dataclass
class SourceStats:
    rows: int = 0
    files: int = 0
    defects: int = 0


@dataclass
class GenerationReport:
    out_dir: Path
    residents: int
    days: int
    seed: int
    defect_rate: float
    start_date: date
    sources: dict[str, SourceStats] = field(default_factory=dict)
    batch_defects: int = 0
    events: int = 0
    elapsed_seconds: float = 0.0

    def source(self, name: str) -> SourceStats:
        return self.sources.setdefault(name, SourceStats())

    def parameters(self) -> dict[str, object]:
        return {
            "residents": self.residents,
            "days": self.days,
            "seed": self.seed,
            "defect_rate": self.defect_rate,
            "start_date": self.start_date.isoformat(),
        }

    def summary_lines(self) -> list[str]:
        lines = [
            f"synthetic city in {self.out_dir}: {self.residents:,} residents, {self.days} day(s) from "
            f"{self.start_date.isoformat()}, seed {self.seed}, defect rate {self.defect_rate:g}",
        ]
        width = max((len(n) for n in self.sources), default=0)
        for name, stats in self.sources.items():
            counts = f"{stats.rows:>12,} rows  {stats.files:>4} files  {stats.defects:>7,} row defects"
            lines.append(f"  {name:<{width}}  {counts}")
        lines.append(f"  batch-defect variants: {self.batch_defects}; events: {self.events}")
        lines.append(f"  done in {self.elapsed_seconds:.1f} s")
        return lines
