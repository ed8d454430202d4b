"""Per-passage columns (retrieval/index/segments/columns/): a column added to the schema is
stored, survives deletes and merges in uid order, reads the same from both stores, and a
segment written before it existed is refused as of another schema (so the index is rebuilt)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval import Analyzer, Article, MemoryStore, SegmentStore
from retrieval.errors import IndexFormatError
from retrieval.index.segments import columns
from retrieval.index.segments.segment import Segment


@dataclass(frozen=True)
class Chars:
    name: str = "test_chars"
    dtype: type = np.float32
    required: bool = True
    shown: bool = True

    def bound(self, encoder: Any) -> Chars:
        return self

    def compute(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([len(t) for t in texts], np.float32)

    def value(self, row: Any) -> float:
        return float(row)


ARTICLES = [
    Article("a", "A", ("The Kremlin said Putin has no plans.", "Peskov told reporters so.")),
    Article("b", "B", ("Clubhouse came to Android.", "It was blocked in China.", "Musk invited Putin.")),
    Article("c", "C", ("크렘린궁은 말했다.",)),
]


def _check(store: Any) -> None:
    for uid in store.snapshot().uids().tolist():
        view = store.snapshot().passage(uid)
        assert view.columns == {"test_chars": float(len(view.text))}


def test_a_new_column_is_stored_merged_and_read(
    tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columns, "COLUMNS", (*columns.COLUMNS, Chars()))  # a new column is one entry in the list
    store = SegmentStore(tmp_path / "index", analyzer)
    for art in ARTICLES:  # one segment each
        store.add([art])
    store.replace([Article("a", "A", ("The Kremlin said nothing at all today.",))])  # a tombstone + a later uid
    _check(store)
    store.force_merge()
    assert len(store.snapshot().segs) == 1
    _check(store)
    _check(SegmentStore(tmp_path / "index", analyzer))  # read back from disk
    memory = MemoryStore(analyzer)
    memory.add(ARTICLES)
    _check(memory)


def test_a_segment_written_before_a_column_existed_is_refused(
    tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add(ARTICLES)
    name = store.snapshot().segs[0].seg.name
    monkeypatch.setattr(columns, "COLUMNS", (*columns.COLUMNS, Chars()))
    with pytest.raises(IndexFormatError, match="test_chars"):
        Segment.open(tmp_path / "index", name)
    reopened = SegmentStore(tmp_path / "index", analyzer)  # says so, and serves nothing half-read
    assert reopened.damaged and reopened.snapshot().n_passages == 0
