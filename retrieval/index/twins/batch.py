"""A commit's twin check over many articles at once, with the findings of one article at a time.

A build's last commit checks every article it wrote (`links.py`); one at a time that was two dense
searches, a few dozen passage reads and the candidates' vectors per article, 30 ms at 552k
passages, ~2 h for a 1M build (docs/performance.md, issue 28 item 4). Two things make it cheap,
neither changing what is found:

* **A bound that rules articles out** (`CrossBound`). `twin_pairs` takes a twin only at a
  mean-vector cosine of `TwinRule.min_cosine` or more, and the twin is a live article of the
  other language. The mean vectors of every live article with a passage in each language are
  kept (int8, with each row's rounding error), and one matrix product gives every checked
  article an upper bound on its cosine to all of them. An article whose bound is below the
  level has no twin whatever the dense search would find, so it is not searched
  (`twin_bound`, read by `find.twin_article`).
* **The first dense search of the rest, together** (`Snapshot.dense_many`: each segment's codes
  read once unless a merge's, its graph asked for all of them in one call), the same hits as
  one by one.

What it keeps is bounded but for 32 bytes an article (issue 28): the kept passages and searches
are bounded, the tables are arrays, the bound's codes wait on disk (`SpilledRows`), a run's
arrays are given back to the system when the next run starts (`trim_heap`), and each graph's
pages once it is searched.

`CheckReader` is the snapshot as one `links.update` reads it: what it was asked once (passages,
dense searches) it keeps, bounded, and `prefetch` asks the above ahead for a run of articles.
Only work is spared: every finding is that of `TwinFinder.find` on the snapshot itself
(`tests/test_twin_batch.py` compares both on a real index).
"""

from __future__ import annotations

import ctypes
import functools
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.index import vectors
from retrieval.index.store import PassageView, Searcher
from retrieval.index.twins.find import TwinFinder, article_query, article_views
from retrieval.text.analyze import LANG_CODES

F32 = npt.NDArray[np.float32]
# Added to each row's rounding error: the mean vectors here are summed in another order than
# `find._mean` sums them, and the products rounded (both ~1e-6 at 512 dimensions).
SLACK = 1e-3
# passages read at a time when the means are built: 32,768 held ~200 MiB of float32 copies
# (dequantised, divided, their norms) for a moment, the twin check's highest point at 200k (issue 28)
ROWS = 4_096
BLOCK = 8_192  # article means compared at a time (16 MiB of them as float32)
# ... with this many queries (16 MiB of products): 4,096 at once held 128 MiB of products and as
# much again for the sum beside them, 1/6 of a 1M build's peak (issue 28)
QUERIES = 512
NO_BOUND = float("inf")


class CrossBound:
    """Per language, the mean passage vector of every live article with a passage in it, to
    bound from above the cosine of any article's mean to all of them."""

    def __init__(self, snap: Any) -> None:
        dim = int(snap.segs[0].seg.a["vectors"].shape[1]) if snap.segs else 0
        where = next((s.seg.directory for s in snap.segs if getattr(s.seg, "directory", None) is not None), None)
        # the codes, 512 bytes an article (117 MiB at a 1M build's 222k), wait on disk
        self.codes = {c: SpilledRows(dim, where) for c in ("ko", "en")}
        self._scale: dict[str, list[F32]] = {"ko": [], "en": []}  # 1 / the code row's length
        self._err: dict[str, list[F32]] = {"ko": [], "en": []}  # |mean - dequantised| + SLACK
        self._keys: dict[str, list[npt.NDArray[np.int64]]] = {"ko": [], "en": []}  # (segment << 32) + article row
        for i, s in enumerate(snap.segs):
            self._add_segment(i, s)
        self.scale = {c: _cat(self._scale[c], np.float32) for c in self.codes}
        self.err = {c: _cat(self._err[c], np.float32) for c in self.codes}
        # ascending (segments in order, rows in order): a key's row is a binary search away, 8
        # bytes an article where a dict of them held ~100
        self.keys = {c: _cat(self._keys[c], np.int64) for c in self.codes}
        del self._scale, self._err, self._keys

    @classmethod
    def of(cls, snap: Any) -> CrossBound | None:
        """The bound over a segment snapshot with vectors (None for another store)."""
        if getattr(snap, "segs", None) is None or getattr(snap, "stamp", None) is None:
            return None
        return cls(snap)

    @property
    def nbytes(self) -> int:
        """What it holds in memory (its codes wait on disk)."""
        return sum(self.scale[c].nbytes + self.err[c].nbytes + self.keys[c].nbytes for c in self.codes)

    def rows(self, lang: str, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Each key's row among `lang`'s means, -1 where it has none."""
        held = self.keys[lang]
        if not len(held):
            return np.full(len(keys), -1, np.int64)
        at = np.minimum(np.searchsorted(held, keys), len(held) - 1)
        return np.where(held[at] == keys, at, -1).astype(np.int64)

    def _add_segment(self, index: int, s: Any) -> None:
        seg = s.seg
        ptr = np.asarray(seg.a["art_pass_ptr"], np.int64)
        lang = np.asarray(seg.a["lang"])
        live = s.live_articles()
        n_art = len(ptr) - 1
        a0 = 0
        while a0 < n_art:  # whole articles, about ROWS passages at a time
            a1 = max(a0 + 1, int(np.searchsorted(ptr, ptr[a0] + ROWS, side="right")) - 1)
            a1 = min(a1, n_art)
            lo, hi = int(ptr[a0]), int(ptr[a1])
            full = ptr[a0 + 1 : a1 + 1] > ptr[a0:a1]  # articles with passages (strictly rising starts)
            if hi == lo:
                a0 = a1
                continue
            codes = seg.vector_rows(np.arange(lo, hi, dtype=np.int64))
            unit = vectors.dequantise(codes)  # as `Snapshot.vectors` gives them
            starts = ptr[a0:a1][full] - lo
            sums = np.add.reduceat(unit, starts, axis=0)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            means = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
            rows = np.arange(a0, a1, dtype=np.int64)[full]
            ok = np.isin(rows, live)
            for code, name in enumerate(LANG_CODES):
                if name not in self.codes:
                    continue
                has = np.add.reduceat((lang[lo:hi] == code).astype(np.int64), starts) > 0
                pick = ok & has
                if not pick.any():
                    continue
                m = means[pick]
                q = vectors.quantise(m)
                length = vectors.row_norms(q)
                scale = (1.0 / np.maximum(length, 1e-12)).astype(np.float32)
                err = np.linalg.norm(m - q.astype(np.float32) * scale[:, None], axis=1).astype(np.float32) + SLACK
                self.codes[name].append(q)
                self._scale[name].append(scale)
                self._err[name].append(err)
                self._keys[name].append((np.int64(index) << 32) + rows[pick])
            a0 = a1

    def bounds(self, means: F32, others: Sequence[str], keys: Sequence[int]) -> npt.NDArray[np.float64]:
        """For each row of `means` (an article's mean vector, unit length), an upper bound on its
        cosine to every article of the language `others[i]` but itself (`keys[i]`, its
        (segment << 32) + article row); -inf when there is none."""
        out = np.full(len(means), -np.inf)
        all_keys = np.asarray(keys, np.int64)
        for lang, codes in self.codes.items():
            idx = np.array([i for i, o in enumerate(others) if o == lang], np.int64)
            if not len(idx) or not len(codes):
                continue
            q = np.asarray(means[idx], np.float32)
            own = self.rows(lang, all_keys[idx])
            best = np.full(len(idx), -np.inf)
            for lo in range(0, len(codes), BLOCK):
                block = codes.rows(lo, lo + BLOCK).astype(np.float32) * self.scale[lang][lo : lo + BLOCK, None]
                err = self.err[lang][lo : lo + BLOCK][None, :]
                for q0 in range(0, len(q), QUERIES):  # products of QUERIES rows at a time, added to in place
                    sims = q[q0 : q0 + QUERIES] @ block.T
                    sims += err
                    mine = np.flatnonzero((own[q0 : q0 + QUERIES] >= lo) & (own[q0 : q0 + QUERIES] < lo + len(block)))
                    sims[mine, own[q0 + mine] - lo] = -np.inf  # not its own twin
                    np.maximum(best[q0 : q0 + QUERIES], sims.max(axis=1), out=best[q0 : q0 + QUERIES])
                    del sims
            out[idx] = best
        return out


class SpilledRows:
    """int8 rows appended to a nameless file (in `directory`: the index's folder, not a tmpfs
    that would hold them in memory all the same) and read back a block at a time with `pread`:
    the page cache keeps them, the process does not. Gone when closed or collected."""

    def __init__(self, dim: int, directory: Path | None = None) -> None:
        self.dim, self._n = dim, 0
        try:
            self._file = tempfile.TemporaryFile(dir=directory)
        except OSError:  # a folder it may not write in (a read-only copy measured)
            self._file = tempfile.TemporaryFile()

    def __len__(self) -> int:
        return self._n

    def append(self, rows: npt.NDArray[np.int8]) -> None:
        self._file.write(np.ascontiguousarray(rows, np.int8).tobytes())
        self._file.flush()
        self._n += len(rows)

    def rows(self, lo: int, hi: int) -> npt.NDArray[np.int8]:
        hi = min(hi, self._n)
        raw = os.pread(self._file.fileno(), max(hi - lo, 0) * self.dim, lo * self.dim)
        return np.frombuffer(raw, np.int8).reshape(-1, self.dim)

    def close(self) -> None:
        self._file.close()


def _cat(parts: list[Any], dtype: Any, empty: tuple[int, ...] = (0,)) -> Any:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(empty, dtype)


class CheckReader:
    """A snapshot read by one `links.update`: the passages and dense searches it asks for again
    are kept (the articles checked in one commit meet the same candidates, and a pair's two
    checks search from each other's mean vector), both bounded; `prefetch` asks ahead for a run
    of articles. Only repeats are spared: the findings are those of the snapshot itself."""

    # Bounded by bytes: 50,000 views (text, sentences, terms: ~1.5 KiB each) were ~75 MiB of a
    # build's last commit, the most of what it kept (issue 28). A run's own views, read by
    # `prefetch`, may be gone by their check: read again, the same passages.
    PASSAGE_BYTES = 16 << 20
    # Dense searches kept, at least `TwinCheck.batch` (a run's first searches, asked ahead): the
    # 2 KiB query bytes and the hits as two arrays, ~3 KiB each (~7 KiB as a list of tuples).
    SEARCHES = 8_192

    def __init__(self, snap: Searcher) -> None:
        self._snap = snap
        self._views: OrderedDict[int, tuple[PassageView, int]] = OrderedDict()
        self._view_bytes = 0
        self._dense: OrderedDict[tuple[bytes, int], tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = (
            OrderedDict()
        )
        self._cross: CrossBound | None = None
        self._bounds: dict[str, float] = {}
        self._firsts: FirstUids | None = None  # every live article's first passage uid, for a run
        self.bound_s = 0.0  # seconds spent on the bound's products (they grow with the index)
        self.ruled_out = 0  # articles the bound spared a search

    def __getattr__(self, name: str) -> Any:
        return getattr(self._snap, name)

    def passage(self, uid: int) -> PassageView:
        kept = self._views.get(uid)
        if kept is not None:
            return kept[0]
        view = self._snap.passage(uid)
        size = _view_bytes(view)
        self._views[uid] = (view, size)
        self._view_bytes += size
        while self._view_bytes > self.PASSAGE_BYTES and len(self._views) > 1:
            self._view_bytes -= self._views.popitem(last=False)[1][1]
        return view

    def dense(self, query: Any, k: int) -> list[tuple[int, float]]:
        key = (np.asarray(query, np.float32).tobytes(), k)
        kept = self._dense.get(key)
        if kept is None:
            # One search visits most of every graph: a few between two runs kept them all
            # resident (~276 B a passage, ~265 MiB at 1M). `dense_many` lets each go once
            # searched, with the same hits (rare here: `prefetch` asks a run's first searches
            # together).
            many: Any = getattr(self._snap, "dense_many", None)
            q = np.asarray(query, np.float32)
            hits = many(q[None, :], k)[0] if many is not None else self._snap.dense(query, k)  # type: ignore[attr-defined]
            self._keep(key, hits)
            return hits
        self._dense.move_to_end(key)
        return list(zip(kept[0].tolist(), kept[1].tolist(), strict=True))  # the same ints and floats

    def _keep(self, key: tuple[bytes, int], hits: list[tuple[int, float]]) -> None:
        uids = np.array([u for u, _ in hits], np.int64)
        sims = np.array([c for _, c in hits], np.float64)  # a Python float exactly
        self._dense[key] = (uids, sims)
        while len(self._dense) > self.SEARCHES:
            self._dense.popitem(last=False)

    def article_uid(self, article_id: str) -> int | None:
        """`Snapshot.article_uid`: from a table of every live article once `prefetch` has run
        (a run of checks looks up thousands: each a binary search per segment, a read a step)."""
        if self._firsts is None:
            return self._snap.article_uid(article_id)  # type: ignore[attr-defined,no-any-return]
        return self._firsts.get(article_id, self.passage)

    def twin_bound(self, article_id: str) -> float:
        """An upper bound on the cosine of the article's mean vector to any article of the
        other language (`find.twin_article`); +inf unless `prefetch` worked it out."""
        return self._bounds.get(article_id, NO_BOUND)

    def prefetch(self, article_ids: Sequence[str], finder: TwinFinder) -> None:
        """Work out ahead, for these articles, what their checks will ask first: the bound, and
        the first dense search of those it does not rule out."""
        dense_many: Any = getattr(self._snap, "dense_many", None)
        if dense_many is None or getattr(self._snap, "segs", None) is None:
            return
        trim_heap()  # the last run's arrays are gone: their pages too
        if self._cross is None:
            self._cross = CrossBound.of(self._snap)
        if self._firsts is None:
            self._firsts = FirstUids(self._snap.segs)  # type: ignore[attr-defined]
        self._bounds.clear()
        ids: list[str] = []
        firsts: list[int] = []
        means: list[F32] = []
        others: list[str] = []
        for aid in article_ids:
            uid = self.article_uid(aid)
            if uid is None:
                continue
            views = article_views(self, uid)
            query = article_query(self, views)
            if query is not None:
                ids.append(views[0].article.id)
                firsts.append(views[0].uid)
                others.append(query[0])
                means.append(query[1])
        if not means:
            return
        depth = finder.check.candidates
        stacked = np.stack(means)
        search = np.ones(len(means), bool)
        if self._cross is not None:
            keys = self._snap.stories_of(np.array(firsts, np.int64))  # type: ignore[attr-defined]
            t = time.perf_counter()
            bounds = self._cross.bounds(stacked, others, keys.tolist())
            self.bound_s += time.perf_counter() - t
            self._bounds.update(zip(ids, bounds.tolist(), strict=True))
            search = bounds >= finder.rule.min_cosine
            self.ruled_out += int(np.count_nonzero(~search))
        todo = [i for i in np.flatnonzero(search).tolist() if (means[i].tobytes(), depth) not in self._dense]
        if todo:
            for i, hits in zip(todo, dense_many(stacked[todo], depth), strict=True):
                self._keep((means[i].tobytes(), depth), hits)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's `malloc_trim`; elsewhere nothing).
    A run's arrays (means, the bound's products, a segment's codes: tens of MiB, freed at its
    end) leave free pages glibc keeps: once a big block is freed its mmap threshold rises, so
    the next ones come from the heap. Without this the check's resident memory grew by ~100 MiB
    over 22k articles; with it, a run leaves nothing behind (issue 28)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _view_bytes(view: PassageView) -> int:
    """About what a kept view holds (a little over: ~1.5 KiB a view measured with tracemalloc):
    its text, sentence spans and terms, and the objects around them (its article record is
    shared with the article's other views)."""
    return 1024 + 2 * len(view.text) + 16 * len(view.starts) + view.tokens.nbytes + view.tok_ptr.nbytes


class FirstUids:
    """Each live article's first passage uid, as `Snapshot.article_uid` finds it: the newest
    segment first, and in a segment the first live row in the id column's sorted order.

    Held as sorted arrays of the ids' hashes and the uids, 16 bytes an article (a dict of the
    ids held ~150, 33 MiB at a 1M build's 222k articles). A hash names candidates only: the
    caller's reader confirms the id from the passage its check reads first anyway, the
    candidates of one hash in the order above (as `terms.TermTable` confirms a term's)."""

    def __init__(self, segs: Sequence[Any]) -> None:
        hashes: list[npt.NDArray[np.int64]] = []
        uids: list[npt.NDArray[np.int64]] = []
        for s in reversed(segs):
            seg = s.seg
            ptr = np.asarray(seg.a["art_pass_ptr"], np.int64)
            live = np.zeros(len(ptr) - 1, bool)
            live[s.live_articles()] = True
            order = np.asarray(seg.a["art_id_order"], np.int64)
            rows = order[live[order]]
            ids = seg.strings("art_id")  # not `column`: the segment would keep them
            hashes.append(np.fromiter((hash(ids[r]) for r in rows.tolist()), np.int64, len(rows)))
            del ids
            uids.append(np.asarray(seg.a["uid"], np.int64)[ptr[rows]])
        h, u = _cat(hashes, np.int64), _cat(uids, np.int64)
        order = np.argsort(h, kind="stable")  # equal hashes stay in the order met: the first confirmed wins
        self._hashes, self._uids = h[order], u[order]

    def get(self, article_id: str, passage: Callable[[int], PassageView]) -> int | None:
        """The article's first passage uid (None: not live), confirmed by `passage` (the reader's)."""
        h = hash(article_id)
        at = int(np.searchsorted(self._hashes, h))
        while at < len(self._hashes) and int(self._hashes[at]) == h:
            uid = int(self._uids[at])
            if passage(uid).article.id == article_id:
                return uid
            at += 1
        return None


__all__ = ["CheckReader", "CrossBound", "FirstUids"]
