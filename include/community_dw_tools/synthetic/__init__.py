"""Synthetic city generator: realistic deliveries of all five sources for one district, with known defects.

`generate_city(out_dir, residents, days, seed, defect_rate, start_date)` writes the file drops, the
telecom object-store partitions and the appeals API payload under `out_dir`, plus `defects.json` (every
injected defect with its expected reason code, batch-level defect variants and events such as a crowd
spike) and `generation.json` (the parameters). Same seed, same bytes. The district's division tree is
the committed dbt seed `ref_divisions.csv` (see `geography`).
"""

from community_dw_tools.synthetic.city import DEFAULT_START, generate_city
from community_dw_tools.synthetic.geography import load_divisions
from community_dw_tools.synthetic.report import GenerationReport, SourceStats

__all__ = ["DEFAULT_START", "GenerationReport", "SourceStats", "generate_city", "load_divisions"]
