"""The local store: immutable segments, per-segment tombstones and a commit file (Lucene's design).

A `SegmentStore` is a folder and two objects composed, not one inheriting the other: the read
side (`commit.py::CommitReader`: the live `Snapshot`, refreshed when another process commits)
and the write side (`writer.py::SegmentWriter`: the writer lock, segments, tombstones, commits
and merges). Readers hold a snapshot (`snapshot.py`), a `Searcher`; the store itself offers no
reads. How the pieces are laid out:

    snapshot.py     one commit's segments and tombstones, read as a Searcher
    commit.py       the COMMIT file: open it (the reader), write it, collect unnamed files
    writer.py       the writer lock and every write: flushes, tombstones, commits, merges
    merge_policy.py which segments to merge, a pure function of their sizes
    segment.py      one open segment (the reader of its arrays)
    builder.py      new segments: from analysed passages, or merged from others
    format.py       the arrays and their two files, spelled once
    blocks.py       a CRC-32 per 64 KiB block of the arrays, checked when a read first touches it
    recovery.py     NAME.ids: each article's uid run, so a damaged segment is rebuilt exactly
    verify.py       `quoteqa verify`: every file checked byte for byte; a damaged segment rebuilt
    components.py   every file a segment has: written, kept and verified from one list
    columns/        per-passage columns (the passage vectors)
    flush.py        how big a write's pieces get
    pool.py         analysis (and encoding) in child processes
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from retrieval.index.bm25 import SearchParams
from retrieval.index.fsutil import WriterLock
from retrieval.index.segments import components, flush
from retrieval.index.segments.commit import COMMIT, CommitReader
from retrieval.index.segments.snapshot import Snapshot
from retrieval.index.segments.writer import SegmentWriter
from retrieval.index.store import NO_OPTIONS, Change, ChangeReport, StoreWrites, WriteOptions
from retrieval.text.analyze import Analyzer
from retrieval.text.encoder import Encoder

__all__ = ["COMMIT", "SegmentStore"]


class SegmentStore(StoreWrites):
    """The store on disk. `snapshot()` is the live commit; `apply` writes a new one.

    Writers in other processes are kept out by a lock on the data folder (`writing()`); a
    reader picks up their commits with `refresh()`, which costs one `stat` when nothing changed.
    """

    def __init__(
        self, directory: Path, analyzer: Analyzer | None = None, params: SearchParams | None = None, *,
        lock_dir: Path | None = None, lock_timeout: float = 600.0,
        encoder: Encoder | None = None, encoder_name: str | None = None, encoder_cache: Path | None = None,
        flush_policy: flush.FlushPolicy = flush.DEFAULT_FLUSH,
    ) -> None:  # fmt: skip
        """`encoder`: passages written are also encoded (a vector column, the commit stamped with
        the encoder); `encoder_name`/`encoder_cache` let analysis processes load their own copy.
        `flush_policy`: how big a write's segments and a build's merges get (`flush.py`)."""
        self.directory = directory
        self.reader = CommitReader(directory, params or SearchParams())
        self.writer = SegmentWriter(
            directory, self.reader, WriterLock(lock_dir or directory.parent, lock_timeout), analyzer,
            encoder=encoder, encoder_name=encoder_name, encoder_cache=encoder_cache, flush_policy=flush_policy,
        )  # fmt: skip

    # --- the read side ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return self.reader.snapshot()

    def serving(self) -> Snapshot:
        """The live commit less any segment taken out of service (`take_out`): what questions read."""
        return self.reader.serving()

    def take_out(self, segment: str, reason: str) -> bool:
        """A read found `segment` damaged: answer from the rest for the rest of this process."""
        return self.reader.take_out(segment, reason)

    def refresh(self) -> bool:
        """Open the newest commit if another writer made one; True when the snapshot changed."""
        if self.writer.held:
            return False  # this process is writing: the writer installs its own commits
        return self.reader.refresh()

    @property
    def damaged(self) -> list[str]:
        """What could not be read when the live commit was opened (the engine rebuilds it)."""
        return self.reader.damaged

    @property
    def params(self) -> SearchParams:
        return self.reader.params

    def set_params(self, params: SearchParams) -> None:
        self.reader.set_params(params)

    # --- the write side --------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder | None:
        """The encoder passages written are encoded with (None: written without vectors)."""
        return self.writer.encoder

    def writing(self, blocking: bool = True) -> AbstractContextManager[bool]:
        return self.writer.writing(blocking)

    def apply(self, change: Change, options: WriteOptions = NO_OPTIONS) -> ChangeReport:
        return self.writer.apply(change, options)

    def maybe_merge(self) -> int:
        return self.writer.maybe_merge()

    def force_merge(self) -> None:
        self.writer.force_merge()

    def verify(self) -> list[str]:
        """Read every byte of every live segment's files (`components.py`) and compare them
        with their checksums; a derived file found bad (an HNSW graph) is rebuilt, under the
        writer lock. A segment whose own data fails is not checked further."""
        problems = []
        for s in self.snapshot().segs:
            for c in components.COMPONENTS:
                with self.writing() if c.derived else nullcontext(True):
                    bad = c.verify(self.directory, s.seg)
                    if bad and c.derived:
                        c.rebuild(self.directory, s.seg)
                        bad += " (rebuilt)"
                if bad:
                    problems.append(bad)
                    if not c.derived:
                        break
        return problems
