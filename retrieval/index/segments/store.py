"""The local store: immutable segments, per-segment tombstones and a commit file (Lucene's design).

    index/COMMIT              {"generation", "next_uid", "segments": [{name, deletes, …}], "extra"}
    index/NAME.seg, NAME.json one segment: arrays + their table and checksums (retrieval/index/segments/segment.py)
    index/NAME.GEN.del        the passages of NAME deleted as of commit GEN (a packed bitmap)

Each write (an ingest batch, a removal, a merge) writes new files only, then replaces COMMIT
atomically (temporary name, fsync, rename, fsync of the folder): a crash at any point leaves the
previous commit whole. Removing or replacing an article writes a tombstone for the segment that
holds it; the old segment is never rewritten. Segments are merged by a tiered policy after a
write, and readers keep answering from the snapshot they hold meanwhile.

BM25 statistics (N, average length, document frequencies) are summed over live passages of all
segments at query time, so scores equal those of one monolithic index with the same passages.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import shutil
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.errors import IndexFormatError
from retrieval.index import ann, bm25, vectors
from retrieval.index.bm25 import SearchParams
from retrieval.index.fsutil import WriterLock, atomic_write, crash_point, fsync_dir, mkdir, write_new
from retrieval.index.segments import columns, flush
from retrieval.index.segments.pool import AnalysisPool
from retrieval.index.segments.segment import FORMAT_VERSION, Segment, SegmentBuilder, merge, take_ragged
from retrieval.index.store import (
    NO_OPTIONS,
    ArticleMeta,
    Change,
    ChangeReport,
    PassageView,
    StoredArticle,
    StoreWrites,
    WriteOptions,
    edits1,
    listed_languages,
)  # fmt: skip
from retrieval.models import Article, Language
from retrieval.text.analyze import ANALYZER_VERSION, LANG_CODES, Analyzer
from retrieval.text.encoder import Encoder, stamp_of

log = logging.getLogger(__name__)

COMMIT = "COMMIT"
MERGE_FACTOR = 10  # a tier of this many segments of similar size is merged into one
MERGE_FLOOR = 1_000  # segments below this many live passages all count as the smallest tier
EXPUNGE_SHARE = 0.5  # a segment with this share of passages deleted is rewritten without them
ANALYSIS_BATCH = 2_000  # passages per analysis call: Kiwi spreads a batch over its workers
ENCODE_BATCH = 500  # passages per batch when they are encoded too (~3 s per batch and core)
ENCODE_PROCESSES = 2  # a big build with vectors runs this many analysis+encoder processes
ENCODE_POOL_MIN = 1_000  # passages from which a build with vectors starts those processes
SPARSE_FACTOR = 32  # a query with fewer postings than passages / this scores only its candidates

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class _Live:
    """A segment as one commit sees it: the segment and its tombstones."""

    seg: Segment
    deleted: npt.NDArray[np.bool_] | None = None
    del_file: str | None = None
    n_deleted: int = 0
    del_crc: int | None = None
    _del_df: I64 | None = field(default=None, repr=False)
    _norm: tuple[tuple[float, float, float], F64] | None = field(default=None, repr=False)

    @property
    def n_live(self) -> int:
        return self.seg.n_passages - self.n_deleted

    @property
    def live_len(self) -> int:
        if self.deleted is None:
            return self.seg.total_len
        return self.seg.total_len - int(np.sum(np.asarray(self.seg.a["doc_len"])[self.deleted], dtype=np.int64))

    def del_df(self) -> I64 | None:
        """Document frequencies within the deleted passages (subtracted from the segment's)."""
        if self.deleted is None:
            return None
        if self._del_df is None:
            a = self.seg.a
            docs = np.flatnonzero(self.deleted)
            doc_ptr = np.asarray(a["sent_tok_ptr"])[np.asarray(a["sent_ptr"])]
            ptr, toks = take_ragged(doc_ptr, a["tokens"], docs)
            keys = np.unique(toks.astype(np.int64) * (self.seg.n_passages + 1) + np.repeat(docs, np.diff(ptr)))
            self._del_df = np.bincount(keys // (self.seg.n_passages + 1), minlength=self.seg.n_terms).astype(np.int64)
        return self._del_df

    def df(self, term: str) -> int:
        tid = self.seg.term_id(term)
        if tid < 0:
            return 0
        d = int(self.seg.df[tid])
        dd = self.del_df()
        return d - int(dd[tid]) if dd is not None else d

    def norm(self, params: SearchParams, avgdl: float) -> F64:
        """k1 * (1 - b + b * len / avgdl) per passage, once per commit (avgdl is global)."""
        key = (params.k1, params.b, avgdl)
        if self._norm is None or self._norm[0] != key:
            dl = np.asarray(self.seg.a["doc_len"], np.float64)
            self._norm = (key, params.k1 * (1.0 - params.b + params.b * dl / avgdl))
        return self._norm[1]

    def live_articles(self) -> npt.NDArray[np.int64]:
        """Rows of articles none of whose passages is deleted (articles go all at once)."""
        n = self.seg.n_articles
        if self.deleted is None or n == 0:
            return np.arange(n, dtype=np.int64)
        first = np.asarray(self.seg.a["art_pass_ptr"][:-1], np.int64)
        return np.flatnonzero(~self.deleted[first]).astype(np.int64)

    def is_live_row(self, row: int) -> bool:
        if self.deleted is None:
            return True
        return not bool(self.deleted[int(self.seg.a["art_pass_ptr"][row])])


class Snapshot(StoreWrites):
    """One commit, read-only: everything a question needs, unchanged by later writes."""

    def __init__(
        self, generation: int, segments: Sequence[_Live], next_uid: int, extra: dict[str, Any], params: SearchParams,
        stamp: str | None = None,
    ) -> None:  # fmt: skip
        self.generation = generation
        self.segs: tuple[_Live, ...] = tuple(s for s in segments if s.seg.n_passages)
        # the commit's encoder stamp holds only if every live segment carries vectors made with it
        self.stamp = stamp if stamp is not None and all(s.seg.encoder == stamp for s in self.segs) else None
        self.next_uid = next_uid
        self._extra = extra
        self._params = params
        self._n = sum(s.n_live for s in self.segs)
        total = sum(s.live_len for s in self.segs)
        self.avgdl = (total / self._n) if self._n else 1.0
        self.avgdl = self.avgdl or 1.0
        self._okapi_mean: float | None = None

    @property
    def params(self) -> SearchParams:
        return self._params

    def set_params(self, params: SearchParams) -> None:
        self._params = params

    def snapshot(self) -> Snapshot:
        return self

    def apply(self, change: Change, options: WriteOptions = NO_OPTIONS) -> ChangeReport:
        raise TypeError("a snapshot is read-only; write through the SegmentStore")

    @property
    def n_passages(self) -> int:
        return self._n

    def extra(self) -> dict[str, Any]:
        return self._extra

    # --- terms ---------------------------------------------------------------------------------
    def df(self, term: str) -> int:
        return sum(s.df(term) for s in self.segs)

    def idf(self, terms: Sequence[str]) -> F64:
        df = np.array([self.df(t) for t in terms], np.int64)
        p = self._params
        if p.variant == "okapi":  # an idf is negative only for a term in over half the passages
            floor = bm25.OKAPI_EPSILON * self.okapi_mean_idf() if (2 * df > self._n).any() else 0.0
            return bm25.idf(df, self._n, "okapi", floor=floor)
        return bm25.idf(df, self._n, p.variant)

    def okapi_mean_idf(self) -> float:
        """rank-bm25's floor for negative idfs is a share of the mean idf over the whole
        vocabulary; it is needed only when a query holds a term in over half the passages."""
        if self._okapi_mean is None:
            totals: dict[str, int] = {}
            for s in self.segs:
                df = s.seg.df - (s.del_df() if s.deleted is not None else 0)
                for term, d in zip(s.seg.vocab, np.asarray(df).tolist()):
                    if d:
                        totals[term] = totals.get(term, 0) + d
            dfs = np.fromiter(totals.values(), np.float64, len(totals))
            n = self._n
            self._okapi_mean = float(np.mean(np.log(n - dfs + 0.5) - np.log(dfs + 0.5))) if len(dfs) else 0.0
        return self._okapi_mean

    def affix_terms(self, fragment: str) -> dict[str, int]:
        found = {t for s in self.segs for t in s.seg.affix_terms(fragment)}
        return {t: d for t in sorted(found) if (d := self.df(t))}

    def near_terms(self, term: str) -> dict[str, int]:
        out = {}
        for e in set(edits1(term)):
            d = self.df(e)
            if d:
                out[e] = d
        return out

    # --- search --------------------------------------------------------------------------------
    def _segment_scores(self, s: _Live, uterms: list[str], weights: F64) -> tuple[I64, F64] | None:
        """(local passage, score) of every passage in one segment holding a query term."""
        seg = s.seg
        ptr, post_doc, post_tf = seg.a["post_ptr"], seg.a["post_doc"], seg.a["post_tf"]
        spans = []
        for t, w in zip(uterms, weights.tolist()):
            tid = seg.term_id(t)
            if tid >= 0 and w != 0.0:
                lo, hi = int(ptr[tid]), int(ptr[tid + 1])
                if hi > lo:
                    spans.append((lo, hi, w))
        if not spans:
            return None
        if len(spans) == 1:
            lo, hi, w = spans[0]
            docs = np.asarray(post_doc[lo:hi])
            tf = np.asarray(post_tf[lo:hi], np.float64)
            wq: F64 | float = w
        else:
            docs = np.concatenate([post_doc[lo:hi] for lo, hi, _ in spans])
            tf = np.concatenate([post_tf[lo:hi] for lo, hi, _ in spans]).astype(np.float64)
            wq = np.repeat(np.array([w for _, _, w in spans]), [hi - lo for lo, hi, _ in spans])
        p = self._params
        vals = wq * (tf * (p.k1 + 1.0)) / (tf + s.norm(p, self.avgdl)[docs])
        return docs, vals

    def _query(self, terms: Sequence[str]) -> tuple[list[str], F64]:
        """Unique terms and their weights: idf times how often the query repeats them."""
        counts: dict[str, int] = {}
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
        uterms = list(counts)
        return uterms, self.idf(uterms) * np.array([counts[t] for t in uterms], np.float64)

    def search(self, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        if not terms or self._n == 0 or k <= 0:
            return []
        uterms, weights = self._query(terms)
        found: list[tuple[float, int]] = []
        for s in self.segs:
            hit = self._segment_scores(s, uterms, weights)
            if hit is None:
                continue
            docs, vals = hit
            n = s.seg.n_passages
            if len(docs) * SPARSE_FACTOR >= n:  # dense: one score per passage
                scores = np.bincount(docs, weights=vals, minlength=n)
                if s.deleted is not None:
                    scores[s.deleted] = 0.0
                top = bm25.top_k(scores, k)
                uids = np.asarray(s.seg.a["uid"])[top]
                found.extend(zip(scores[top].tolist(), uids.tolist()))
            else:  # few postings (rare terms): score only the passages that hold them
                cand, inverse = np.unique(docs, return_inverse=True)
                scores = np.bincount(inverse, weights=vals, minlength=len(cand))
                if s.deleted is not None:
                    scores[s.deleted[cand]] = 0.0
                top = bm25.top_k(scores, k)
                uids = np.asarray(s.seg.a["uid"])[cand[top]]
                found.extend(zip(scores[top].tolist(), uids.tolist()))
        found.sort(key=lambda x: (-x[0], x[1]))
        return [(int(u), float(sc)) for sc, u in found[:k]]

    def scores(self, terms: Sequence[str]) -> tuple[I64, F64]:
        uterms, weights = self._query(terms) if terms else ([], np.zeros(0))
        all_uids, all_scores = [], []
        for s in self.segs:
            n = s.seg.n_passages
            hit = self._segment_scores(s, uterms, weights) if uterms else None
            sc = np.bincount(hit[0], weights=hit[1], minlength=n) if hit else np.zeros(n)
            live = ~s.deleted if s.deleted is not None else np.ones(n, bool)
            all_uids.append(np.asarray(s.seg.a["uid"])[live])
            all_scores.append(sc[live])
        if not all_uids:
            return np.zeros(0, np.int64), np.zeros(0)
        uids, scores = np.concatenate(all_uids), np.concatenate(all_scores)
        order = np.argsort(uids, kind="stable")
        return uids[order].astype(np.int64), scores[order]

    # --- dense vectors -------------------------------------------------------------------------
    @property
    def encoder_stamp(self) -> str | None:
        return self.stamp

    def dense(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        if self.stamp is None:
            return []
        return ann.nearest(query, [(s.seg, s.deleted) for s in self.segs], k)  # HNSW on big segments

    def vectors(self, uids: Sequence[int]) -> npt.NDArray[np.float32]:
        if self.stamp is None:
            raise LookupError("this index holds no passage vectors")
        rows = []
        for uid in uids:
            found = self._locate(int(uid))
            if found is None:
                raise KeyError(uid)
            rows.append(found[0].seg.vector_rows(np.array([found[1]]))[0])  # pread: no mapped pages kept
        dim = self.segs[0].seg.a["vectors"].shape[1] if self.segs else 0
        return vectors.dequantise(np.stack(rows)) if rows else np.zeros((0, dim), np.float32)

    # --- passages and articles -----------------------------------------------------------------
    def _find_seg(self, name: str) -> _Live:
        return next(s for s in self.segs if s.seg.name == name)

    def _locate(self, uid: int) -> tuple[_Live, int] | None:
        for s in self.segs:
            p = s.seg.local(uid)
            if p >= 0:
                if s.deleted is not None and s.deleted[p]:
                    return None
                return s, p
        return None

    def passage(self, uid: int) -> PassageView:
        found = self._locate(int(uid))
        if found is None:
            raise KeyError(uid)
        return found[0].seg.view(found[1])

    def passage_terms(self, uid: int) -> list[str]:
        found = self._locate(int(uid))
        if found is None:
            raise KeyError(uid)
        return found[0].seg.passage_terms(found[1])

    def uids(self) -> I64:
        parts = [
            np.asarray(s.seg.a["uid"])[~s.deleted] if s.deleted is not None else np.asarray(s.seg.a["uid"])
            for s in self.segs
        ]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def languages(self) -> tuple[Language, ...]:
        codes: set[int] = set()
        for s in self.segs:
            langs = np.asarray(s.seg.a["lang"])
            codes.update(np.unique(langs if s.deleted is None else langs[~s.deleted]).tolist())
        return listed_languages(LANG_CODES[c] for c in codes)

    def articles(self) -> list[StoredArticle]:
        rows: list[tuple[int, StoredArticle]] = []
        for s in self.segs:
            a = s.seg.a
            ptr = np.asarray(a["art_pass_ptr"], np.int64)
            langs = np.asarray(a["lang"])
            uid = np.asarray(a["uid"])
            for r in s.live_articles().tolist():
                lo, hi = int(ptr[r]), int(ptr[r + 1])
                found = listed_languages(LANG_CODES[c] for c in set(langs[lo:hi].tolist()))
                rows.append((int(uid[lo]), StoredArticle(s.seg.article(r), hi - lo, found)))
        rows.sort(key=lambda x: x[0])
        return [r for _, r in rows]

    def _find(self, article_id: str, field: str = "id") -> tuple[_Live, int] | None:
        for s in reversed(self.segs):
            for row in s.seg.find(field, article_id):
                if s.is_live_row(row):
                    return s, row
        return None

    def article(self, article_id: str) -> ArticleMeta | None:
        found = self._find(article_id)
        return found[0].seg.article(found[1]) if found else None

    def article_by(self, field: str, value: str) -> ArticleMeta | None:
        found = self._find(value, field)
        return found[0].seg.article(found[1]) if found else None

    @property
    def n_articles(self) -> int:
        return sum(len(s.live_articles()) for s in self.segs)

    def article_hashes(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in self.segs:
            ids, hashes = s.seg.column("art_id"), s.seg.column("art_hash")
            for r in s.live_articles().tolist():
                out[ids[r]] = hashes[r]
        return out

    # a snapshot never changes and is never written through
    damaged: list[str] = []

    def refresh(self) -> bool:
        return False

    @contextmanager
    def writing(self, blocking: bool = True) -> Iterator[bool]:
        raise TypeError("a snapshot is read-only; write through the SegmentStore")
        yield False  # pragma: no cover


class SegmentStore(StoreWrites):
    """The store on disk. Reads go to the current snapshot; `apply` writes a new commit.

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
        self.flush = flush_policy
        self.analyzer = analyzer
        self.encoder = encoder
        self.encoder_name = (
            encoder_name if encoder_name is not None else (encoder.name if encoder is not None else None)
        )
        self.encoder_cache = encoder_cache
        self._warned_stamp: object = ""
        self._params = params or SearchParams()
        self._lock = WriterLock(lock_dir or directory.parent, lock_timeout)
        self._held = 0
        self._holder: int | None = None
        self._thread_lock = threading.RLock()
        self._cache: dict[str, Segment] = {}
        self._state_lock = threading.Lock()  # question threads may refresh at once
        self._commit_stat: tuple[int, int, int] | None = None
        self.damaged: list[str] = []  # what was wrong when the last commit was opened
        self._snap = Snapshot(0, (), 0, {}, self._params)
        self.refresh(force=True)

    # --- reading -------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return self._snap

    @property
    def params(self) -> SearchParams:
        return self._params

    def set_params(self, params: SearchParams) -> None:
        self._params = params
        self._snap.set_params(params)

    @property
    def generation(self) -> int:
        return self._snap.generation

    # Reads go to the current snapshot; a caller that needs several consistent reads (a
    # question) takes `snapshot()` once instead.
    @property
    def n_passages(self) -> int:
        return self._snap.n_passages

    def extra(self) -> dict[str, Any]:
        return self._snap.extra()

    def df(self, term: str) -> int:
        return self._snap.df(term)

    def idf(self, terms: Sequence[str]) -> F64:
        return self._snap.idf(terms)

    def affix_terms(self, fragment: str) -> dict[str, int]:
        return self._snap.affix_terms(fragment)

    def near_terms(self, term: str) -> dict[str, int]:
        return self._snap.near_terms(term)

    def search(self, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        return self._snap.search(terms, k)

    def scores(self, terms: Sequence[str]) -> tuple[I64, F64]:
        return self._snap.scores(terms)

    def passage(self, uid: int) -> PassageView:
        return self._snap.passage(uid)

    def passage_terms(self, uid: int) -> list[str]:
        return self._snap.passage_terms(uid)

    def uids(self) -> I64:
        return self._snap.uids()

    def articles(self) -> list[StoredArticle]:
        return self._snap.articles()

    def languages(self) -> tuple[Language, ...]:
        return self._snap.languages()

    def article(self, article_id: str) -> ArticleMeta | None:
        return self._snap.article(article_id)

    def article_hashes(self) -> dict[str, str]:
        return self._snap.article_hashes()

    def article_by(self, field: str, value: str) -> ArticleMeta | None:
        return self._snap.article_by(field, value)

    @property
    def n_articles(self) -> int:
        return self._snap.n_articles

    def refresh(self, force: bool = False) -> bool:
        """Open the newest commit if another writer made one; True when the snapshot changed."""
        if self._held and not force:
            return False  # this process is writing: the writer installs its own commits
        path = self.directory / COMMIT
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        except OSError:
            stamp = None
        if not force and stamp == self._commit_stat:
            return False
        with self._state_lock:
            if not force and stamp == self._commit_stat:
                return False  # another thread opened it meanwhile
            for _ in range(5):  # a writer may delete a segment between our reading COMMIT and opening it
                try:
                    snap, damaged = self._open_commit()
                    break
                except _Retry:
                    continue
            else:
                snap, damaged = self._open_commit(final=True)
            self._snap, self.damaged, self._commit_stat = snap, damaged, stamp
        for d in damaged:
            log.warning("index in %s: %s; what it held will be rebuilt", self.directory, d)
        return True

    def _open_commit(self, final: bool = False) -> tuple[Snapshot, list[str]]:
        path = self.directory / COMMIT
        try:
            commit = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            old = [p.name for p in (self.directory / "CURRENT",) if p.exists()]
            damaged = ["it was written by an older quoteqa (format 3)"] if old else []
            return Snapshot(0, (), 0, {}, self._params), damaged
        except (OSError, ValueError) as exc:
            return Snapshot(0, (), 0, {}, self._params), [f"the commit file is unreadable ({exc})"]
        if (
            not isinstance(commit, dict)
            or commit.get("format") != FORMAT_VERSION
            or commit.get("analyzer") != ANALYZER_VERSION
        ):
            fmt = commit.get("format") if isinstance(commit, dict) else "?"
            return Snapshot(0, (), 0, {}, self._params), [
                f"the commit is of format {fmt}, analyser {commit.get('analyzer') if isinstance(commit, dict) else '?'}; this quoteqa writes format {FORMAT_VERSION}"
            ]
        lives: list[_Live] = []
        damaged: list[str] = []
        try:
            entries = list(commit["segments"])
            generation, next_uid = int(commit["generation"]), int(commit["next_uid"])
            extra = dict(commit.get("extra") or {})
        except (KeyError, TypeError, ValueError) as exc:
            return Snapshot(0, (), 0, {}, self._params), [f"the commit file is malformed ({exc})"]
        for entry in entries:
            name = entry.get("name", "?")
            try:
                seg = self._cache.get(name)
                if seg is None:
                    seg = Segment.open(self.directory, name)
                    self._cache[name] = seg
                live = _Live(seg)
                if entry.get("deletes"):
                    live.deleted = _read_deletes(self.directory / entry["deletes"], seg.n_passages, entry.get("crc32"))
                    live.del_file, live.del_crc = entry["deletes"], entry.get("crc32")
                    live.n_deleted = int(live.deleted.sum())
                lives.append(live)
            except IndexFormatError as exc:
                if not final and _commit_changed(path, commit):
                    raise _Retry() from exc
                damaged.append(str(exc))
                self._cache.pop(name, None)
        live_names = {e.get("name") for e in entries}
        for name in list(self._cache):
            if name not in live_names:
                self._cache.pop(name, None)
        stamp = commit.get("encoder") if isinstance(commit.get("encoder"), str) else None
        return Snapshot(generation, lives, next_uid, extra, self._params, stamp), damaged

    # --- writing -------------------------------------------------------------------------------
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
                self.refresh()  # build on the newest commit, whoever wrote it
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
        snap = self._snap
        adds = _last_per_id(change.add)
        gone = set(change.remove) | {a.id for a in adds}
        located = {aid: found for aid in sorted(gone) if (found := snap._find(aid)) is not None}
        removed = [aid for aid in located if aid in change.remove]
        if not adds and not located and change.extra is None:
            return ChangeReport()
        stamp = self._stamp_after(
            snap, bool(adds), sum(len(live.seg.article_passages(row)) for live, row in located.values())
        )
        batch_size = min(ENCODE_BATCH if stamp is not None else ANALYSIS_BATCH, self.flush.passages)
        groups = flush.flushes(flush.batches(adds, batch_size), self.flush.passages) or [[]]
        analysed = self._analysed(groups, options, stamp is not None) if adds else iter(())
        extra0 = snap.extra()
        # an article replaced is tombstoned in the commit that adds its new version (a reindex
        # never shows readers a half-empty index); those only removed go with the first one
        pure_removes = set(change.remove) - {a.id for a in adds}
        n_added = 0
        try:
            for i, group in enumerate(groups):
                last = i == len(groups) - 1
                ids = {a.id for batch in group for a in batch} | (pure_removes if i == 0 else set())
                extra = change.extra if last and change.extra is not None else extra0
                n_added += self._write_part(group, ids, analysed, extra, stamp, options)
                if not last:
                    crash_point("flush")  # some flushes committed, the rest (and the file table) not
        finally:
            close = getattr(analysed, "close", None)
            if close is not None:
                close()
        return ChangeReport(tuple(a.id for a in adds), tuple(removed), n_added)

    def _write_part(
        self, group: Sequence[list[Article]], ids: set[str], analysed: Iterator[Any], extra: dict[str, Any],
        stamp: str | None, options: WriteOptions,
    ) -> int:  # fmt: skip
        """One commit: a segment of `group`'s articles (analysed batch by batch), tombstones for
        the live articles named by `ids`; then merges as the policy asks. Returns passages added."""
        snap = self._snap
        generation = snap.generation + 1
        hits: dict[str, list[int]] = {}  # segment name -> article rows to delete
        for aid in sorted(ids):
            found = snap._find(aid)
            if found is not None:
                hits.setdefault(found[0].seg.name, []).append(found[1])
        new_seg: Segment | None = None
        if group:
            builder = SegmentBuilder(schema=columns.schema(self.encoder if stamp is not None else None))
            for batch in group:
                metas, paragraphs = [ArticleMeta.of(a) for a in batch], [a.paragraphs for a in batch]
                builder.add_encoded(metas, paragraphs, next(analysed))
                crash_point("analysis")  # a batch analysed, nothing written
                if options.progress:
                    options.progress(sum(len(p) for p in paragraphs))
            mkdir(self.directory)
            name = f"seg-{generation:08d}-{secrets.token_hex(3)}"
            new_seg = Segment(name, builder.finish(snap.next_uid), builder.stamp).write(self.directory)
            del builder
        lives: list[_Live] = []
        for s in snap.segs:
            rows = hits.get(s.seg.name)
            if rows:
                deleted = s.deleted.copy() if s.deleted is not None else np.zeros(s.seg.n_passages, bool)
                for r in rows:
                    deleted[s.seg.article_passages(r).start : s.seg.article_passages(r).stop] = True
                name = f"{s.seg.name}.{generation}.del"
                crc = _write_deletes(self.directory / name, deleted)
                lives.append(_Live(s.seg, deleted, name, int(deleted.sum()), crc))
            else:
                lives.append(s)
        n_added = new_seg.n_passages if new_seg is not None else 0
        if new_seg is not None:
            lives.append(_Live(new_seg))
        self._commit(generation, lives, snap.next_uid + n_added, extra, stamp)
        self.maybe_merge()
        return n_added

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
        self, groups: Sequence[Sequence[list[Article]]], options: WriteOptions, encode: bool
    ) -> Iterator[Any]:
        """Every batch of every flush analysed (and encoded when `encode`), in order, as the
        flat arrays `SegmentBuilder.add_encoded` takes: here, or by `options.pool` (child
        processes, or a cluster), which is asked for all batches at once so it can run ahead of
        the flushes. A build with vectors and no pool starts its own processes when big."""
        if self.analyzer is None and options.pool is None:
            raise TypeError("this store was opened without an analyser, so it cannot add articles")
        texts = [[p for a in batch for p in a.paragraphs] for group in groups for batch in group]
        setup = (self.encoder_name, self.encoder_cache) if encode and self.encoder_name else None
        pool, own_pool = options.pool, None
        if pool is None and setup is not None and sum(map(len, texts)) >= ENCODE_POOL_MIN:
            pool = own_pool = AnalysisPool(workers=1, processes=ENCODE_PROCESSES, nice=0)
        try:
            if pool is not None:
                yield from (pool.encode(texts, setup) if setup is not None else pool.encode(texts))
                return
            assert self.analyzer is not None
            schema = columns.schema(self.encoder if encode else None)
            for batch_texts in texts:
                local = SegmentBuilder(schema=schema)
                part = local.encode(self.analyzer.analyze_passages(batch_texts), len(batch_texts))
                yield part | local.columns_of(batch_texts), local.vocab
        finally:
            if own_pool is not None:
                own_pool.close()

    def _commit(
        self, generation: int, lives: Sequence[_Live], next_uid: int, extra: dict[str, Any], stamp: str | None = None
    ) -> None:
        entries = [
            {"name": s.seg.name, "deletes": s.del_file, "deleted": s.n_deleted, "passages": s.seg.n_passages, "crc32": s.del_crc}
            for s in lives if s.n_live > 0
        ]  # fmt: skip
        commit = {
            "format": FORMAT_VERSION, "analyzer": ANALYZER_VERSION, "generation": generation,
            "next_uid": next_uid, "segments": entries, "extra": extra, "encoder": stamp,
        }  # fmt: skip
        mkdir(self.directory)
        atomic_write(
            self.directory / COMMIT,
            json.dumps(commit, ensure_ascii=False).encode("utf-8"),
            crash_before_rename="commit",
        )
        kept = [s for s in lives if s.n_live > 0]
        with self._state_lock:
            for s in kept:
                self._cache[s.seg.name] = s.seg
            self._snap = Snapshot(generation, kept, next_uid, extra, self._params, stamp)
            st = (self.directory / COMMIT).stat()
            self._commit_stat = (st.st_mtime_ns, st.st_ino, st.st_size)
            self.damaged = []
            self._collect(commit)

    def _collect(self, commit: dict[str, Any]) -> None:
        """Delete files no commit names any more (a reader elsewhere keeps its mapped copy)."""
        keep = {COMMIT, "write.lock"}
        for e in commit["segments"]:
            keep.update({f"{e['name']}.seg", f"{e['name']}.json", *ann.file_names(e["name"])})
            if e["deletes"]:
                keep.add(e["deletes"])
        for path in self.directory.iterdir():
            if path.is_dir():
                if path.name.startswith(("v3-", "build-")):  # what the format-3 index left
                    shutil.rmtree(path, ignore_errors=True)
                continue
            if path.name in keep:
                continue
            try:
                path.unlink()
            except OSError:
                pass
        for name in list(self._cache):
            if f"{name}.seg" not in keep:
                self._cache.pop(name, None)

    # --- merging -------------------------------------------------------------------------------
    def merge_plan(self) -> list[_Live]:
        """Tiered: a tier holds segments within a factor MERGE_FACTOR of each other in size;
        a full tier is merged into one segment of the next tier, within `flush.merge_cap` live
        passages (bigger segments are left as they are). A segment with most of its passages
        deleted is rewritten on its own."""
        tiers: dict[int, list[_Live]] = {}
        cap = self.flush.merge_cap  # segments this big are final; a merge stays within it
        for s in self._snap.segs:
            if s.n_live >= cap:
                continue
            tier = int(math.log(max(s.n_live, MERGE_FLOOR) / MERGE_FLOOR, MERGE_FACTOR))
            tiers.setdefault(tier, []).append(s)
        for tier in sorted(tiers):
            group = sorted(tiers[tier], key=lambda s: s.n_live)[:MERGE_FACTOR]
            if len(tiers[tier]) >= MERGE_FACTOR:
                chosen = flush.capped([s.n_live for s in group], cap)
                if chosen:
                    return [group[i] for i in chosen]
        for s in self._snap.segs:
            if s.n_deleted and s.n_deleted >= EXPUNGE_SHARE * s.seg.n_passages:
                return [s]
        return []

    def maybe_merge(self) -> int:
        """Merge while the policy finds work; returns how many merges ran."""
        done = 0
        with self.writing():
            while plan := self.merge_plan():
                self._merge(plan)
                done += 1
        return done

    def force_merge(self) -> None:
        """Everything into one segment (after a build from scratch: the fastest layout to query)."""
        with self.writing():
            if len(self._snap.segs) > 1 or any(s.n_deleted for s in self._snap.segs):
                self._merge(list(self._snap.segs))

    def _merge(self, plan: Sequence[_Live]) -> None:
        snap = self._snap
        generation = snap.generation + 1
        merged = merge(f"seg-{generation:08d}-{secrets.token_hex(3)}", [(s.seg, s.deleted) for s in plan])
        merged = merged.write(self.directory)
        crash_point("merge")  # the merged segment is written, no commit names it yet
        names = {s.seg.name for s in plan}
        lives: list[_Live] = []
        placed = False
        for s in snap.segs:
            if s.seg.name in names:
                if not placed:
                    lives.append(_Live(merged))
                    placed = True
                continue
            lives.append(s)
        self._commit(generation, lives, snap.next_uid, snap.extra(), snap.stamp)
        log.info("merged %d segments into %s (%d passages)", len(plan), merged.name, merged.n_passages)

    def verify(self) -> list[str]:
        """Read every byte of every live segment and compare with its checksums."""
        problems = []
        for s in self._snap.segs:
            try:
                s.seg.verify(self.directory)
            except IndexFormatError as exc:
                problems.append(str(exc))
                continue
            with self.writing():  # a missing or bad HNSW file is rebuilt from the codes
                bad = ann.verify(self.directory, s.seg)
            if bad:
                problems.append(bad)
        return problems


class _Retry(Exception):
    pass


def _commit_changed(path: Path, commit: dict[str, Any]) -> bool:
    try:
        return json.loads(path.read_text("utf-8")).get("generation") != commit.get("generation")
    except (OSError, ValueError, AttributeError):
        return True


@contextmanager
def _try(lock: threading.RLock) -> Iterator[bool]:
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def _last_per_id(articles: Sequence[Article]) -> list[Article]:
    seen: dict[str, Article] = {}
    for a in articles:
        seen.pop(a.id, None)
        seen[a.id] = a
    return list(seen.values())


def _write_deletes(path: Path, deleted: npt.NDArray[np.bool_]) -> int:
    data = np.packbits(deleted).tobytes()
    path.unlink(missing_ok=True)
    write_new(path, data)
    fsync_dir(path.parent)
    return zlib.crc32(data)


def _read_deletes(path: Path, n: int, crc: int | None) -> npt.NDArray[np.bool_]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IndexFormatError(f"tombstones {path.name} are missing") from exc
    if len(data) != (n + 7) // 8 or (crc is not None and zlib.crc32(data) != crc):
        raise IndexFormatError(f"tombstones {path.name} are damaged")
    return np.unpackbits(np.frombuffer(data, np.uint8), count=n).astype(bool)
