"""The synthetic district: 西湖区 (330106) split into streets, communities and grids.

The division tree is reference data, not generated data: it is built by a fixed function (its own
constant seed, independent of any generation parameter), written once to the dbt seed
`ref_divisions.csv` and committed, so that the warehouse and the generator agree on every code.
The generator reads the seed back with `load_divisions()` and only decides how many residents live
in each grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from community_dw import paths

DISTRICT_CODE = "330106"
DISTRICT_NAME = "西湖区"
SEED_PATH = paths.SEEDS_DIR / "ref_divisions.csv"
COLUMNS = (
    "district_code",
    "district_name",
    "street_code",
    "street_name",
    "community_code",
    "community_name",
    "grid_code",
    "grid_name",
    "grid_weight",
)

# Residents per street when streets are filled in order: the demo (50,000) is one street; a larger
# city opens further streets, and beyond 12 x 60,000 the whole district simply gets denser.
STREET_CAPACITY = 60_000

STREETS = (
    "北山街道",
    "西溪街道",
    "灵隐街道",
    "翠苑街道",
    "文新街道",
    "古荡街道",
    "西湖街道",
    "留下街道",
    "转塘街道",
    "蒋村街道",
    "三墩街道",
    "双浦街道",
)

# Community names are a first syllable and a second syllable, the way many Hangzhou estates are named
# (翠苑, 嘉绿, 文鼎...), with an occasional 一区/二区 or 新村. Fixed lists, fixed order, fixed seed.
_FIRST = "文翠嘉桂青紫云金玉龙松梅竹兰荷柳枫溪山桃杏华锦和春秋德正丰益竞求曙保黄古北南东西新盛瑞"
_SECOND = "苑华园庭港湾桥塘坞岭荡庄里居源林浦舍府"
_VARIANTS = ("社区", "社区", "社区", "社区", "新村社区", "一区社区", "二区社区")
_BUILD_SEED = 330106


def build_divisions() -> pa.Table:
    """The fixed division tree of the district, one row per grid, in code order.

    12 streets, 19-21 communities each (12-digit code = county + 3-digit street + 3-digit community),
    4-8 grids per community (15-character code = community code + 3 digits). `grid_weight` (0.85-1.35)
    is a grid's relative size; with streets filled in order it keeps grids at 300-1,000 residents for
    both the one-street demo (50,000) and the full district (1,000,000).
    """
    rng = np.random.default_rng(_BUILD_SEED)
    stems = [a + b for a in _FIRST for b in _SECOND]
    order = rng.permutation(len(stems))
    names: list[str] = []
    seen: set[str] = set()
    for i in order:
        name = stems[i] + _VARIANTS[int(rng.integers(len(_VARIANTS)))]
        if name not in seen:
            seen.add(name)
            names.append(name)
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    next_name = 0
    for s, street_name in enumerate(STREETS, start=1):
        street_code = f"{DISTRICT_CODE}{s:03d}"
        for c in range(1, int(rng.integers(19, 22)) + 1):
            community_code = f"{street_code}{c:03d}"
            community_name = names[next_name]
            next_name += 1
            for g in range(1, int(rng.integers(4, 9)) + 1):
                rows["district_code"].append(DISTRICT_CODE)
                rows["district_name"].append(DISTRICT_NAME)
                rows["street_code"].append(street_code)
                rows["street_name"].append(street_name)
                rows["community_code"].append(community_code)
                rows["community_name"].append(community_name)
                rows["grid_code"].append(f"{community_code}{g:03d}")
                rows["grid_name"].append(f"{community_name}第{g}网格")
                rows["grid_weight"].append(round(float(rng.uniform(0.85, 1.35)), 2))
    schema = pa.schema([(c, pa.float64() if c == "grid_weight" else pa.string()) for c in COLUMNS])
    return pa.table(rows, schema=schema)


def write_divisions_seed(path: Path = SEED_PATH) -> Path:
    """Write `build_divisions()` as the UTF-8 dbt seed (run once; the file is committed)."""
    table = build_divisions()
    lines = [",".join(COLUMNS)]
    for row in table.to_pylist():
        lines.append(",".join(f"{row[c]:.2f}" if c == "grid_weight" else row[c] for c in COLUMNS))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_divisions(path: Path | None = None) -> pa.Table:
    """Read the committed seed with every code kept as text (leading zeros, long digit strings)."""
    types = {c: pa.float64() if c == "grid_weight" else pa.string() for c in COLUMNS}
    return pacsv.read_csv(
        path or SEED_PATH,
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(COLUMNS)),
    )


@dataclass(frozen=True)
class Geography:
    """The division tree as NumPy arrays indexed by grid number (row of the seed)."""

    grid_codes: np.ndarray
    community_codes: np.ndarray
    grid_community: np.ndarray  # community index of each grid
    grid_street: np.ndarray  # street index of each grid
    grid_weight: np.ndarray
    street_names: tuple[str, ...]
    community_names: np.ndarray

    @property
    def n_grids(self) -> int:
        return len(self.grid_codes)

    @property
    def n_streets(self) -> int:
        return len(self.street_names)

    def grid_community_code(self) -> np.ndarray:
        return self.community_codes[self.grid_community]


@cache
def geography(path: Path | None = None) -> Geography:
    table = load_divisions(path)
    grid_codes = np.array(table["grid_code"].to_pylist())
    community_of_grid = np.array(table["community_code"].to_pylist())
    community_codes, first, grid_community = np.unique(
        community_of_grid, return_index=True, return_inverse=True
    )
    community_names = np.array(table["community_name"].to_pylist())[first]
    street_codes = table["street_code"].to_pylist()
    street_list = sorted(set(street_codes))
    street_index = {code: i for i, code in enumerate(street_list)}
    names = dict(zip(street_codes, table["street_name"].to_pylist(), strict=True))
    return Geography(
        grid_codes=grid_codes,
        community_codes=community_codes,
        grid_community=grid_community.astype(np.int32),
        grid_street=np.array([street_index[c] for c in street_codes], dtype=np.int32),
        grid_weight=np.asarray(table["grid_weight"].to_numpy(), dtype=np.float64),
        street_names=tuple(names[c] for c in street_list),
        community_names=community_names,
    )


def streets_used(residents: int, n_streets: int) -> int:
    """How many streets (in code order) the residents fill: one per STREET_CAPACITY, at most all."""
    return max(1, min(n_streets, math.ceil(residents / STREET_CAPACITY)))


def allocate_residents(residents: int, geo: Geography) -> np.ndarray:
    """Residents per grid: the first streets share them in proportion to grid weight, the rest are empty.

    Largest-remainder rounding, so the counts sum exactly to `residents`.
    """
    k = streets_used(residents, geo.n_streets)
    weight = np.where(geo.grid_street < k, geo.grid_weight, 0.0)
    share = residents * weight / weight.sum()
    counts = np.floor(share).astype(np.int64)
    short = residents - int(counts.sum())
    if short:
        counts[np.argsort(-(share - counts), kind="stable")[:short]] += 1
    return counts
