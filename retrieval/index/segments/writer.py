"""The write side of the segment store: the writer lock, and every write as new files plus a commit.

Each write (an ingest batch, a removal, a merge) writes new files only, then replaces COMMIT
(`commit.py`): a crash at any point leaves the previous commit whole. Removing or replacing an
article writes a tombstone for the segment that holds it; the old segment is never rewritten. A
big write is cut into flushes (`flush.py`), and after each commit the merge policy
(`merge_policy.py`) says which segments to fold together; readers keep answering from the
snapshot they hold meanwhile. With an encoder, each commit also carries the translation-twin
links, brought up to date for what it adds and takes out (`retrieval/index/twins/links.py`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.index.fsutil import WriterLock, crash_point, mkdir
from retrieval.index.segments import columns, flush, merge_policy
from retrieval.index.segments.builder import SegmentBuilder, merge_into
from retrieval.index.segments.commit import CommitReader, collect, deletes_name, write_commit, write_deletes
from retrieval.index.segments.pool import AnalysisPool, analyse_batch
from retrieval.index.segments.segment import Segment
from retrieval.index.segments.snapshot import LiveSegment, Snapshot
from retrieval.index.store import NO_OPTIONS, ArticleMeta, ArticleSource, Change, ChangeReport, WriteOptions
from retrieval.index.twins import links as twin_links
from retrieval.index.twins.find import TwinFinder
from retrieval.index.twins.links import LinkState, TwinLinks
from retrieval.models import Article
from retrieval.text.analyze import Analyzer
from retrieval.text.encoder import Encoder, stamp_of

log = logging.getLogger(__name__)

ANALYSIS_BATCH = 2_000  # passages per analysis call: Kiwi spreads a batch over its workers
ENCODE_BATCH = 500  # passages per batch when they are encoded too (~3 s per batch and core)
ENCODE_PROCESSES = 2  # a big build with vectors runs this many analysis+encoder processes
ENCODE_POOL_MIN = 1_000  # passages from which a build with vectors starts those processes


class SegmentWriter:
    """Writes a store folder: holds the writer lock (across processes, re-entrant within a
    thread), turns changes into segments and tombstones, commits, and merges. Every commit it
    makes is handed to `reader`, so this process reads what it wrote without opening it again."""

    def __init__(
        self, directory: Path, reader: CommitReader, lock: WriterLock, analyzer: Analyzer | None = None, *,
        encoder: Encoder | None = None, encoder_name: str | None = None, encoder_cache: Path | None = None,
        flush_policy: flush.FlushPolicy = flush.DEFAULT_FLUSH, merges: merge_policy.MergePolicy | None = None,
    ) -> None:  # fmt: skip
        self.directory = directory
        self.reader = reader
        self.analyzer = analyzer
        self.encoder = encoder
        self.encoder_name = (
            encoder_name if encoder_name is not None else (encoder.name if encoder is not None else None)
        )
        self.encoder_cache = encoder_cache
        # finds each added article's translation twin before a commit (None: no encoder, no links)
        self.finder = TwinFinder(encoder) if encoder is not None else None
        self.flush = flush_policy
        self.merges = merges or merge_policy.MergePolicy(cap=flush_policy.merge_cap)
        self._warned_stamp: object = ""
        self._lock = lock
        self._held = 0
        self._holder: int | None = None
        self._thread_lock = threading.RLock()

    @property
    def held(self) -> bool:
        """This process holds the writer lock (its commits are installed as it makes them)."""
        return bool(self._held)

    @contextmanager
    def writing(self, blocking: bool = True) -> Iterator[bool]:
        """Hold the writer lock (re-entrant within a thread); yields False if `blocking` is off
        and another writer has it."""
        me = threading.get_ident()
        with self._thread_lock if blocking else _try(self._thread_lock) as got_thread:
            if not got_thread:
                yield False
                return
            if self._held and self._holder == me:
                self._held += 1
                try:
                    yield True
                finally:
                    self._held -= 1
                return
            if not self._lock.acquire(blocking):
                yield False
                return
            try:
                self.reader.refresh()  # build on the newest commit, whoever wrote it
                self._held, self._holder = 1, me
                yield True
            finally:
                self._held, self._holder = 0, None
                self._lock.release()

    def apply(self, change: Change, options: WriteOptions = NO_OPTIONS) -> ChangeReport:
        with self.writing():
            return self._apply(change, options)

    def _apply(self, change: Change, options: WriteOptions) -> ChangeReport:
        """Tombstones for what goes, new segments for what comes. A big write is flushed in
        pieces (`flush.py`): each piece is one commit that adds a flush of articles and
        tombstones their old versions; the first one also removes what only `change.remove`
        names, the last one writes `change.extra` (so a rerun after a crash in between redoes
        the rest)."""
        snap = self.reader.snapshot()
        source = ArticleSource.held(change.add)  # read a batch at a time when it is a file-backed source
        adds = _last_per_id(source.ids)  # positions in `source`
        added = [source.ids[r] for r in adds]
        gone = set(change.remove) | set(added)
        located = {aid: found for aid in sorted(gone) if (found := snap.find(aid)) is not None}
        removed = [aid for aid in located if aid in change.remove]
        if not adds and not located and change.extra is None:
            return ChangeReport()
        stamp = self._stamp_after(
            snap, bool(adds), sum(len(live.seg.article_passages(row)) for live, row in located.values())
        )
        batch_size = min(ENCODE_BATCH if stamp is not None else ANALYSIS_BATCH, self.flush.passages)
        sizes = [source.sizes[r] for r in adds]
        groups = [
            [[adds[i] for i in batch] for batch in group]
            for group in flush.flushes_of(flush.batches_of(sizes, batch_size), sizes, self.flush.passages)
        ] or [[]]  # fmt: skip
        analysed = self._analysed(source, groups, options, stamp is not None) if adds else iter(())
        extra0 = snap.extra()
        # an article replaced is tombstoned in the commit that adds its new version (a reindex
        # never shows readers a half-empty index); those only removed go with the first one
        pure_removes = set(change.remove) - set(added)
        links = self._link_state(snap)
        n_added = 0
        try:
            for i, group in enumerate(groups):
                last = i == len(groups) - 1
                ids = {source.ids[r] for batch in group for r in batch} | (pure_removes if i == 0 else set())
                extra = change.extra if last and change.extra is not None else extra0
                n_added += self._write_part(group, ids, analysed, extra, stamp, options, links, last)
                if not last:
                    crash_point("flush")  # some flushes committed, the rest (and the file table) not
        finally:
            close = getattr(analysed, "close", None)
            if close is not None:
                close()
        return ChangeReport(tuple(added), tuple(removed), n_added)

    def _link_state(self, snap: Snapshot) -> LinkState | None:
        """The twin links a write starts from (None: this writer finds no twins)."""
        if self.finder is None:
            return None
        mine, before = stamp_of(self.finder.encoder), snap.twin_links
        live = snap.article_hashes() if before is None or before.encoder != mine else {}
        return LinkState.start(mine, before, live)

    def _write_part(
        self, group: Sequence[list[int]], ids: set[str], analysed: Iterator[tuple[list[Article], Any]],
        extra: dict[str, Any], stamp: str | None, options: WriteOptions, links: LinkState | None = None,
        last: bool = True,
    ) -> int:  # fmt: skip
        """One commit: a segment of `group`'s articles (batches of positions in the write's
        source, each handed over with its analysis by `analysed`), tombstones for the live
        articles named by `ids`; then merges as the policy asks. Returns passages added."""
        snap = self.reader.snapshot()
        generation = snap.generation + 1
        hits: dict[str, list[int]] = {}  # segment name -> article rows to delete
        for aid in sorted(ids):
            found = snap.find(aid)
            if found is not None:
                hits.setdefault(found[0].seg.name, []).append(found[1])
        new_seg: Segment | None = None
        group_ids: set[str] = set()  # the articles this commit adds
        if group:
            builder = SegmentBuilder(schema=columns.schema(self.encoder if stamp is not None else None))
            for _ in group:
                batch, encoded = next(analysed)
                metas, paragraphs = [ArticleMeta.of(a) for a in batch], [a.paragraphs for a in batch]
                group_ids.update(a.id for a in batch)
                builder.add_encoded(metas, paragraphs, encoded)
                del batch, encoded
                crash_point("analysis")  # a batch analysed, nothing written
                if options.progress:
                    options.progress(sum(len(p) for p in paragraphs))
            mkdir(self.directory)
            name = f"seg-{generation:08d}-{secrets.token_hex(3)}"
            new_seg = Segment(name, builder.finish(snap.next_uid), builder.stamp)
            new_seg.anchors = builder.anchors()
            new_seg = new_seg.write(self.directory)
            del builder
        lives: list[LiveSegment] = []
        for s in snap.segs:
            rows = hits.get(s.seg.name)
            if rows:
                deleted = s.deleted.copy() if s.deleted is not None else np.zeros(s.seg.n_passages, bool)
                for r in rows:
                    deleted[s.seg.article_passages(r).start : s.seg.article_passages(r).stop] = True
                name = deletes_name(s.seg.name, generation)
                crc = write_deletes(self.directory / name, deleted)
                lives.append(LiveSegment(s.seg, deleted, name, int(deleted.sum()), crc))
            else:
                lives.append(s)
        n_added = new_seg.n_passages if new_seg is not None else 0
        if new_seg is not None:
            lives.append(LiveSegment(new_seg))
        twins = self._links(links, generation, lives, snap.next_uid + n_added, extra, stamp, group_ids, ids, last)
        self.commit(generation, lives, snap.next_uid + n_added, extra, stamp, twins)
        self.maybe_merge()
        return n_added

    def _links(
        self, state: LinkState | None, generation: int, lives: Sequence[LiveSegment], next_uid: int,
        extra: dict[str, Any], stamp: str | None, added: set[str], gone: set[str], last: bool,
    ) -> TwinLinks | None:  # fmt: skip
        """The twin links of the commit about to be made over `lives` (None: it names none):
        `state` brought up to date with the articles `added` (ids) and those `gone` takes out,
        checked in the snapshot the `last` commit of the write will be, and written as a new
        file when they changed."""
        if state is None or self.finder is None:
            return None
        if added or gone or (last and state.pending):
            t0 = time.perf_counter()
            n = len(state.pending | added) if last else 0
            twin_links.update(state, Snapshot(generation, lives, next_uid, extra, self.reader.params, stamp),
                              added, gone, self.finder, final=last)  # fmt: skip
            if n:
                log.info("twins of %d article(s) found in %.3f s", n, time.perf_counter() - t0)
        if not state.complete:
            return None
        if state.written is None:
            mkdir(self.directory)
            state.written = twin_links.write(self.directory, generation, state.encoder, state.records, state.pending)
            crash_point("twins")  # the links are written, no commit names them yet
        return state.written

    def relink(self) -> int:
        """Find every live article's twin again and commit the links (`quoteqa verify --repair`,
        when a commit's links file is damaged or missing); returns the links written."""
        if self.finder is None:
            return 0
        with self.writing():
            snap = self.reader.snapshot()
            state = LinkState.start(stamp_of(self.finder.encoder), None, snap.article_hashes())
            twin_links.update(state, snap, set(state.unknown), set(), self.finder)
            generation = snap.generation + 1
            twins = twin_links.write(self.directory, generation, state.encoder, state.records)
            self.commit(generation, list(snap.segs), snap.next_uid, snap.extra(), snap.stamp, twins)
            return len(state.records)

    def _stamp_after(self, snap: Snapshot, adds: bool, removed: int) -> str | None:
        """The encoder stamp of the commit a write makes. Deletions keep the vectors there are;
        new passages get vectors from this store's encoder, which stamps the commit when the
        passages that stay have its vectors too (or none stay: a reindex). Otherwise the index
        holds no usable vectors (and answers lexically) until it is rebuilt."""
        if not adds:
            return snap.stamp
        mine = stamp_of(self.encoder) if self.encoder is not None else None
        if mine is not None and (snap.stamp == mine or snap.n_passages - removed <= 0):
            return mine
        if mine is not None and self._warned_stamp != snap.stamp:
            self._warned_stamp = snap.stamp
            log.warning(
                "index in %s holds no %s vectors for its older passages: new passages are not encoded until `quoteqa reindex`",
                self.directory,
                mine,
            )
        return None

    def _analysed(
        self, source: ArticleSource, groups: Sequence[Sequence[list[int]]], options: WriteOptions, encode: bool
    ) -> Iterator[tuple[list[Article], Any]]:
        """Every batch of every flush, in order: its articles (taken from `source` only now) and
        their analysis (encoded too when `encode`), as the flat arrays
        `SegmentBuilder.add_encoded` takes: here, or by `options.pool` (child processes, or a
        cluster), which is handed the batches' texts as it asks for them so it can run ahead of
        the flushes, a window of batches at most. A build with vectors and no pool starts its
        own processes when big. Only the batches in that window are held, not the whole write."""
        if self.analyzer is None and options.pool is None:
            raise TypeError("this store was opened without an analyser, so it cannot add articles")
        batches = [batch for group in groups for batch in group]
        waiting: deque[list[Article]] = deque()  # the articles of the batches handed to the analyser

        def texts() -> Iterator[list[str]]:
            for batch in batches:
                articles = source.take(batch)
                waiting.append(articles)
                yield [p for a in articles for p in a.paragraphs]

        setup = (self.encoder_name, self.encoder_cache) if encode and self.encoder_name else None
        pool, own_pool = options.pool, None
        n_passages = sum(source.sizes[r] for batch in batches for r in batch)
        if pool is None and setup is not None and n_passages >= ENCODE_POOL_MIN:
            pool = own_pool = AnalysisPool(workers=1, processes=ENCODE_PROCESSES, nice=0)
        try:
            if pool is not None:
                for encoded in pool.encode(texts(), setup) if setup is not None else pool.encode(texts()):
                    yield waiting.popleft(), encoded
                return
            assert self.analyzer is not None
            for batch_texts in texts():
                yield waiting.popleft(), analyse_batch(self.analyzer, self.encoder if encode else None, batch_texts)
        finally:
            if own_pool is not None:
                own_pool.close()

    def commit(
        self,
        generation: int,
        lives: Sequence[LiveSegment],
        next_uid: int,
        extra: dict[str, Any],
        stamp: str | None = None,
        twins: TwinLinks | None = None,
    ) -> None:
        """Replace COMMIT with one naming `lives` (those with a live passage) and the twin links
        `twins` (none when None), install its snapshot in the reader, then delete what no
        commit names."""
        kept = [s for s in lives if s.n_live > 0]
        commit = write_commit(self.directory, generation, kept, next_uid, extra, stamp, twins)
        self.reader.install(generation, kept, next_uid, extra, stamp, twins)
        collect(self.directory, commit)

    # --- merging -------------------------------------------------------------------------------
    def merge_plan(self) -> list[LiveSegment]:
        """The segments the merge policy would merge next (`merge_policy.py`), or []."""
        segs = self.reader.snapshot().segs
        sizes = [merge_policy.SegmentSize(s.seg.n_passages, s.n_deleted) for s in segs]
        return [segs[i] for i in merge_policy.plan(sizes, self.merges)]

    def maybe_merge(self) -> int:
        """Merge while the policy finds work; returns how many merges ran."""
        done = 0
        with self.writing():
            while chosen := self.merge_plan():
                self._merge(chosen)
                done += 1
        return done

    def force_merge(self) -> None:
        """Everything into one segment (after a build from scratch: the fastest layout to query)."""
        with self.writing():
            segs = self.reader.snapshot().segs
            if len(segs) > 1 or any(s.n_deleted for s in segs):
                self._merge(list(segs))

    def _merge(self, plan: Sequence[LiveSegment]) -> None:
        snap = self.reader.snapshot()
        generation = snap.generation + 1
        name = f"seg-{generation:08d}-{secrets.token_hex(3)}"
        merged = merge_into(self.directory, name, [(s.seg, s.deleted) for s in plan])  # written as it is made
        crash_point("merge")  # the merged segment is written, no commit names it yet
        names = {s.seg.name for s in plan}
        lives: list[LiveSegment] = []
        placed = False
        for s in snap.segs:
            if s.seg.name in names:
                if not placed:
                    lives.append(LiveSegment(merged))
                    placed = True
                continue
            lives.append(s)
        # a merge keeps every article as it was (ids, texts, uids): the links stay
        self.commit(generation, lives, snap.next_uid, snap.extra(), snap.stamp, snap.twin_links)
        log.info("merged %d segments into %s (%d passages)", len(plan), merged.name, merged.n_passages)


@contextmanager
def _try(lock: threading.RLock) -> Iterator[bool]:
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def _last_per_id(ids: Sequence[str]) -> list[int]:
    """Positions of the articles a write adds: the last one of each id, in the order of those."""
    seen: dict[str, int] = {}
    for i, aid in enumerate(ids):
        seen.pop(aid, None)
        seen[aid] = i
    return list(seen.values())
