"""Generalization of a row-level view chosen by the data, as ARX does: the least generalized node of the
lattice whose residual suppression stays under the policy's limit.

Each generalized quasi-identifier has a ladder of columns, finest first (community -> street ->
district; week -> month -> quarter). A node of the lattice picks one level per ladder; its equivalence
classes are the rows that agree on the picked columns and on the kept quasi-identifiers. Rows in
classes under k would be withheld (residual suppression). Among the nodes that withhold at most
`max_suppressed_row_share` of the rows, the one with the lowest mean normalized height (ARX's
"height" metric: how far up its ladders it climbed) wins, ties broken by fewer withheld rows, then by
the order of the ladders. The lattices here are small (tens of nodes), so every node is evaluated;
no pruning is needed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd

from community_dw.disclosure.declarations import RowLevelView


@dataclass(frozen=True)
class Generalization:
    view: str
    levels: dict[str, str]  # output column -> candidate column picked
    class_columns: tuple[str, ...]  # candidate columns whose values define an equivalence class
    suppressed_rows: int
    rows: int
    smallest_kept_class: int | None
    height: float
    nodes_evaluated: int
    within_limit: bool


def choose_generalization(
    view: RowLevelView, rows: pd.DataFrame, k: int, max_suppressed_share: float
) -> Generalization:
    ladders = view.generalize
    best: tuple | None = None
    nodes = list(itertools.product(*(range(len(ladder.levels)) for ladder in ladders)))
    for node in nodes:
        picked = [ladder.levels[level] for ladder, level in zip(ladders, node, strict=True)]
        columns = tuple(picked) + tuple(view.keep)
        sizes = rows.groupby(list(columns), dropna=False).size() if columns else pd.Series([len(rows)])
        small = int(sizes[sizes < k].sum())
        kept = sizes[sizes >= k]
        heights = [
            level / (len(ladder.levels) - 1) if len(ladder.levels) > 1 else 0.0
            for ladder, level in zip(ladders, node, strict=True)
        ]
        height = sum(heights) / len(heights) if heights else 0.0
        within = len(rows) == 0 or small <= max_suppressed_share * len(rows)
        candidate = Generalization(
            view=view.name,
            levels={ladder.column: col for ladder, col in zip(ladders, picked, strict=True)},
            class_columns=columns,
            suppressed_rows=small,
            rows=len(rows),
            smallest_kept_class=int(kept.min()) if len(kept) else None,
            height=height,
            nodes_evaluated=len(nodes),
            within_limit=within,
        )
        # within the limit: least generalized first; otherwise: fewest withheld rows first
        rank = (False, height, small, node) if within else (True, small, height, node)
        if best is None or rank < best[0]:
            best = (rank, candidate)
    assert best is not None
    return best[1]
