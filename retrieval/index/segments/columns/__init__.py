"""Per-passage columns: one value (or one fixed-width row) per passage, stored in segments.

Every such column is listed once, in `COLUMNS`. Each one says how to compute itself from the
passages' texts and how to read a stored value back; storing, merging, reordering by uid and
deleting are the same for every column (rows are taken by passage), so the segment code and the
memory store handle them generically and a new per-passage column is one new module here plus
its line in `COLUMNS`. A reader finds the `shown` ones on `PassageView.columns[name]`.

A `required` column is in every segment: one written before it existed lacks its array, is
reported as of another schema when opened, and the index is rebuilt from the corpus with a
warning (never read half). An optional one is in the segments whose write holds it (`bound`):
the passage vectors (`vectors.py`) are written only while an encoder is configured, and a
segment without them is not of another schema, it just has none (the store answers lexically
until a reindex writes them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from retrieval.index.segments.columns.vectors import NAME as VECTORS
from retrieval.index.segments.columns.vectors import PassageVectors


class PassageColumn(Protocol):
    name: str  # the array's name in a segment (must not clash with the core arrays)
    dtype: type  # numpy dtype of one value
    required: bool  # every segment holds it (see the module docstring)
    shown: bool  # its value is on `PassageView.columns` (a wide row, like a vector, is read apart)

    def bound(self, encoder: Any) -> PassageColumn | None:
        """The column as a write with this encoder (None: none) computes it; None when such a
        write holds no such column."""

    def compute(self, texts: Sequence[str]) -> np.ndarray:
        """One row per passage, in order (axis 0 is the passage)."""

    def value(self, row: Any) -> Any:
        """A stored row as the answer path reads it (a float, a tuple, an array...)."""


COLUMNS: tuple[PassageColumn, ...] = (
    PassageVectors(),  # int8 codes of the passage's sentence-encoder vector (segments written with an encoder)
)


def schema(encoder: Any = None) -> tuple[PassageColumn, ...]:
    """The columns a segment written now holds, ready to compute."""
    return tuple(b for c in COLUMNS if (b := c.bound(encoder)) is not None)


def dtypes(present: Sequence[str]) -> tuple[tuple[str, type], ...]:
    """(name, dtype) of the listed columns whose arrays are in `present`, in list order."""
    return tuple((c.name, c.dtype) for c in COLUMNS if c.name in present)


def lacking(present: Sequence[str]) -> list[str]:
    """The required columns a segment with these arrays lacks."""
    return [c.name for c in COLUMNS if c.required and c.name not in present]


def stamp_of_schema(cols: Sequence[PassageColumn]) -> str | None:
    """The encoder stamp of a schema's vectors column, or None."""
    return next((c.stamp for c in cols if c.name == VECTORS), None)  # type: ignore[attr-defined]


def compute_all(texts: Sequence[str], cols: Sequence[PassageColumn]) -> dict[str, np.ndarray]:
    return {c.name: np.asarray(c.compute(texts), c.dtype) for c in cols}


def values_of(arrays: Mapping[str, Any], row: int) -> dict[str, Any]:
    """Every shown column's value for passage `row` (`arrays[name][row]`), of those present."""
    return {c.name: c.value(arrays[c.name][row]) for c in COLUMNS if c.shown and c.name in arrays}
