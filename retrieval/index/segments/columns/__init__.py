"""Per-passage columns: one value (or one fixed-width row) per passage, stored in every segment.

The schema of these columns is listed once, in `COLUMNS`. Each column says how to compute
itself from the passages' texts and how to read a stored value back; storing, merging,
reordering by uid and deleting are the same for every such column (rows are taken by passage),
so `segment.py` and the memory store handle them generically and a new per-passage column is one
new module here plus its line in `COLUMNS`. A reader finds the values on
`PassageView.columns[name]`.

`COLUMNS` are in every segment. One optional column, the passage vectors (`vectors.py`), is
added by `schema(encoder)` when an encoder is configured: a segment without it is not of another
schema, it just has no vectors (the store answers lexically until a reindex writes them).

Changing the list changes what a segment must hold: a segment written before a column existed
lacks its array, is reported as of another schema when opened, and the index is rebuilt from the
corpus with a warning (never read half).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from retrieval.index.segments.columns.vectors import NAME as VECTORS
from retrieval.index.segments.columns.vectors import PassageVectors


class PassageColumn(Protocol):
    name: str  # the array's name in a segment (must not clash with the core arrays)
    dtype: type  # numpy dtype of one value

    def compute(self, texts: Sequence[str]) -> np.ndarray:
        """One row per passage, in order (axis 0 is the passage)."""

    def value(self, row: Any) -> Any:
        """A stored row as the answer path reads it (a float, a tuple, an array...)."""


COLUMNS: tuple[PassageColumn, ...] = ()

OPTIONAL: dict[str, type] = {VECTORS: np.int8}  # columns `schema` may add, by name


def schema(encoder: Any = None) -> tuple[PassageColumn, ...]:
    """The columns a segment written now holds: `COLUMNS`, and the passage vectors when an
    encoder is given."""
    return COLUMNS if encoder is None else COLUMNS + (PassageVectors(encoder),)


def stamp_of_schema(cols: Sequence[PassageColumn]) -> str | None:
    """The encoder stamp of a schema's vectors column, or None."""
    return next((c.stamp for c in cols if c.name in OPTIONAL), None)  # type: ignore[attr-defined]


def compute_all(texts: Sequence[str], cols: Sequence[PassageColumn] | None = None) -> dict[str, np.ndarray]:
    return {c.name: np.asarray(c.compute(texts), c.dtype) for c in (COLUMNS if cols is None else cols)}


def values_of(arrays: Any, row: int) -> dict[str, Any]:
    """Every column's value for passage `row` (`arrays[name][row]`)."""
    return {c.name: c.value(arrays[c.name][row]) for c in COLUMNS}
