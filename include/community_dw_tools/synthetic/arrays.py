"""Sort-based NumPy set helpers.

`np.unique` and `np.isin` take a hash-table path for int64 in NumPy 2.x that costs over a second per
million values; sorting is ~20x faster, and these helpers are used on whole districts.
"""

from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values."""
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def repeated(values: np.ndarray) -> np.ndarray:
    """True for every occurrence of a value after its first (in stable sorted order)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    later = np.zeros(len(values), dtype=bool)
    later[order[1:][ordered[1:] == ordered[:-1]]] = True
    return later


def member_of(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Like np.isin(values, pool)."""
    if len(pool) == 0:
        return np.zeros(len(values), dtype=bool)
    ordered = np.sort(pool)
    pos = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return ordered[pos] == values
