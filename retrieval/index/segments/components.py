"""Every file a segment has, listed once (tantivy's `SegmentComponent`): this list writes a
segment's files, tells the commit's collector which files a live segment keeps, and verifies
them (`SegmentStore.verify`, `quoteqa verify`).

A component is one or more files written, kept and checked together: the arrays and their
table (`format.py`), the HNSW graph and its metadata (`retrieval/index/ann.py`), the uid runs a
repair rebuilds the segment with (`recovery.py`). A derived one is
rebuilt from the segment's own data when missing or bad, so it never makes a segment unreadable.
A new file of a segment (another graph, a second vector column of its own) is one entry here.
Tombstones are not a segment's files: a commit names them (`commit.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import IndexFormatError
from retrieval.index import ann
from retrieval.index.segments import format, recovery
from retrieval.index.segments.columns import anchors

if TYPE_CHECKING:  # the open segment (segment.py) writes itself through this list
    from retrieval.index.segments.segment import Segment


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    suffixes: tuple[str, ...]  # its files are NAME + suffix
    write: Callable[[Path, Segment], None]  # writes its files for a segment about to be committed
    verify: Callable[[Path, Segment], str | None]  # reads every byte: a problem, or None (changes nothing)
    derived: bool = False  # rebuilt from the segment when missing or bad (`repair`)
    repair: Callable[[Path, Segment], None] | None = None  # a derived one's rebuild (default: `write`)

    def rebuild(self, directory: Path, seg: Segment) -> None:
        (self.repair or self.write)(directory, seg)

    def files(self, segment: str) -> tuple[str, ...]:
        return tuple(f"{segment}{s}" for s in self.suffixes)


def _write_arrays(directory: Path, seg: Segment) -> None:
    format.write(directory, seg.name, seg.a, seg.encoder)


def _verify_arrays(directory: Path, seg: Segment) -> str | None:
    try:
        format.read(directory, seg.name, verify=True)
    except IndexFormatError as exc:
        return str(exc)
    return None


def _write_graph(directory: Path, seg: Segment) -> None:
    if seg.encoder is not None:  # a big segment's HNSW graph beside it (None below `HnswParams.min_rows`)
        ann.build(directory, seg.name, seg.vector_codes(), seg.encoder)


def _verify_graph(directory: Path, seg: Segment) -> str | None:
    return ann.verify(directory, seg, repair=False)


def _repair_graph(directory: Path, seg: Segment) -> None:
    _write_graph(directory, seg)
    ann.forget(seg)  # the next search opens the new file


COMPONENTS: tuple[Component, ...] = (
    Component("arrays", (format.ARRAYS_SUFFIX, format.TABLE_SUFFIX), _write_arrays, _verify_arrays),
    Component("hnsw", ann.SUFFIXES, _write_graph, _verify_graph, derived=True, repair=_repair_graph),
    Component("ids", (recovery.SUFFIX,), recovery.write, recovery.verify, derived=True),  # uid runs: an exact rebuild
    Component("anchors", (anchors.SUFFIX,), anchors.write, anchors.verify),  # names, numbers, terms: columns/anchors.py
)


def file_names(segments: Iterable[str]) -> set[str]:
    """Every file the named segments may have (what a commit's collector keeps)."""
    return {f for name in segments for c in COMPONENTS for f in c.files(name)}


MADE_BY_MERGE = ("arrays", "anchors")  # `builder.merge_into` writes these as it makes them


def write(directory: Path, seg: Segment, skip: tuple[str, ...] = ()) -> None:
    """Every component's files but those named in `skip` (written already)."""
    for c in COMPONENTS:
        if c.name not in skip:
            c.write(directory, seg)
