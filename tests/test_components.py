"""One list of a segment's files (retrieval/index/segments/components.py) writes them, keeps them
through commits, collects them with their segment and verifies them: a new file of a segment is
one entry in that list."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from retrieval import Analyzer, Article, SegmentStore
from retrieval.index.segments import components
from retrieval.index.segments.components import Component


def _write_digest(directory: Path, seg) -> None:  # type: ignore[no-untyped-def]
    (directory / f"{seg.name}.digest").write_text(str(zlib.crc32(bytes(seg.a["texts"]))))


def _verify_digest(directory: Path, seg) -> str | None:  # type: ignore[no-untyped-def]
    path = directory / f"{seg.name}.digest"
    if not path.exists() or path.read_text() != str(zlib.crc32(bytes(seg.a["texts"]))):
        return f"segment {seg.name}: its digest is missing or wrong"
    return None


DIGEST = Component("digest", (".digest",), _write_digest, _verify_digest)


def test_a_new_segment_file_is_one_entry(tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(components, "COMPONENTS", (*components.COMPONENTS, DIGEST))
    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("a", "A", ("Okapis live in the Ituri rainforest.",))])
    store.add([Article("b", "B", ("Zebras have stripes.",))])
    first, second = (s.seg.name for s in store.snapshot().segs)
    assert (index / f"{first}.digest").exists() and (index / f"{second}.digest").exists()  # written
    assert store.verify() == []
    (index / f"{second}.digest").write_text("0")
    assert store.verify() == [f"segment {second}: its digest is missing or wrong"]  # verified
    store.force_merge()
    [merged] = [s.seg.name for s in store.snapshot().segs]
    assert (index / f"{merged}.digest").exists()  # the merged segment has one too
    assert not list(index.glob(f"{first}.*")) and not list(index.glob(f"{second}.*"))  # collected with theirs
    assert SegmentStore(index, analyzer).snapshot().n_passages == 2


def test_the_collector_keeps_exactly_the_listed_files(tmp_path: Path, analyzer: Analyzer) -> None:
    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("a", "A", ("Okapis live in the Ituri rainforest.",))])
    [name] = [s.seg.name for s in store.snapshot().segs]
    (index / f"{name}.stray").write_text("not listed")
    store.add([Article("b", "B", ("Zebras have stripes.",))])  # the next commit collects
    assert not (index / f"{name}.stray").exists()
    listed = components.file_names(s.seg.name for s in store.snapshot().segs)
    assert {p.name for p in index.glob("seg-*") if not p.name.endswith(".del")} <= listed
