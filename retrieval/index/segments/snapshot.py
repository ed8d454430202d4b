"""The read side of the segment store: one commit's segments with their tombstones, as a `Searcher`.

BM25 statistics (N, average length, document frequencies) are summed over the live passages of
all segments at query time, so scores equal those of one monolithic index with the same passages.
A snapshot never changes: a question is answered from the commit that was live when it arrived,
whatever is written meanwhile (`writer.py` makes new commits; `commit.py` opens them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.index import ann, bm25, vectors
from retrieval.index.bm25 import SearchParams
from retrieval.index.segments.format import take_ragged
from retrieval.index.segments.segment import Segment
from retrieval.index.store import ArticleMeta, PassageView, StoredArticle, edits1, listed_languages
from retrieval.index.twins.links import TwinLinks
from retrieval.models import Language
from retrieval.text.analyze import LANG_CODES

SPARSE_FACTOR = 32  # a query with fewer postings than passages / this scores only its candidates

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class LiveSegment:
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


class Snapshot:
    """One commit, read-only: everything a question needs, unchanged by later writes (the
    `Searcher` of the segment store; `SegmentStore.snapshot()` hands out the live one)."""

    def __init__(
        self, generation: int, segments: Sequence[LiveSegment], next_uid: int, extra: dict[str, Any], params: SearchParams,
        stamp: str | None = None, unavailable: tuple[str, ...] = (), twin_links: TwinLinks | None = None,
        twin_problem: str | None = None,
    ) -> None:  # fmt: skip
        self.generation = generation
        # the commit's translation-twin links (`retrieval/index/twins/links.py`); None with
        # `twin_problem` saying why when the commit names none or its file is damaged
        self.twin_links = twin_links
        self.twin_problem = twin_problem
        # segments of this commit taken out of service in this process (damaged: `commit.py`)
        self.unavailable = unavailable
        self.segs: tuple[LiveSegment, ...] = tuple(s for s in segments if s.seg.n_passages)
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
        self._anchor_keys: frozenset[str] | None = None

    @property
    def params(self) -> SearchParams:
        return self._params

    def with_params(self, params: SearchParams) -> Snapshot:
        """The same commit read with other BM25 parameters (they apply at query time)."""
        return Snapshot(
            self.generation, self.segs, self.next_uid, self._extra, params, self.stamp, self.unavailable,
            self.twin_links, self.twin_problem,
        )  # fmt: skip

    def snapshot(self) -> Snapshot:
        return self

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
    def _segment_scores(self, s: LiveSegment, uterms: list[str], weights: F64) -> tuple[I64, F64] | None:
        """(local passage, score) of every passage in one segment holding a query term."""
        seg = s.seg
        ptr = seg.a["post_ptr"]
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
            doc_run, tf_run = seg.postings(lo, hi)
            docs = np.asarray(doc_run)
            tf = np.asarray(tf_run, np.float64)
            wq: F64 | float = w
        else:
            runs = [seg.postings(lo, hi) for lo, hi, _ in spans]
            docs = np.concatenate([d for d, _ in runs])
            tf = np.concatenate([t for _, t in runs]).astype(np.float64)
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

    def dense_many(self, queries: npt.NDArray[np.float32], k: int) -> list[list[tuple[int, float]]]:
        """`dense(q, k)` for each row of `queries`, the same hits, searched together (a commit's
        twin check asks one per article it adds)."""
        if self.stamp is None:
            return [[] for _ in range(len(queries))]
        return ann.nearest_many(queries, [(s.seg, s.deleted) for s in self.segs], k)

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

    # --- anchors (columns/anchors.py) -----------------------------------------------------------
    def anchor_keys(self) -> frozenset[str]:
        """Every anchor key of the live segments (the fuzzy lookup's vocabulary), once per commit."""
        if self._anchor_keys is None:
            self._anchor_keys = frozenset(k for s in self.segs for k in s.seg.anchors.keys)
        return self._anchor_keys

    def anchor_passages(self, keys: Sequence[str]) -> dict[str, I64]:
        """Each key's live passages (uids, ascending per segment); keys no live passage holds are left out."""
        out: dict[str, I64] = {}
        for key in keys:
            parts = []
            for s in self.segs:
                rows = s.seg.anchors.rows_of(key)
                if len(rows) and s.deleted is not None:
                    rows = rows[~s.deleted[rows]]
                if len(rows):
                    parts.append(np.asarray(s.seg.a["uid"])[rows])
            if parts:
                out[key] = np.concatenate(parts).astype(np.int64)
        return out

    def anchor_df(self, keys: Sequence[str]) -> tuple[dict[str, int], int]:
        """Each key's count of passages holding it (tombstoned rows included: an idf, not a
        list), and the live passage count: no postings are copied, so a word every passage
        holds costs as little as a rare name."""
        df: dict[str, int] = {}
        for key in keys:
            df[key] = sum(len(s.seg.anchors.rows_of(key)) for s in self.segs)
        return df, max(self.n_passages, 1)

    def stories_of(self, uids: npt.ArrayLike) -> I64:
        """A number per uid naming its article (story) within this snapshot, -1 for a uid not
        live here: whether keys found in different passages are of one story, without reading them."""
        uids = np.asarray(uids, np.int64)
        out = np.full(len(uids), -1, np.int64)
        for i, s in enumerate(self.segs):
            inside = np.flatnonzero((uids >= s.seg.min_uid) & (uids <= s.seg.max_uid))  # only these can be here
            if not len(inside):
                continue
            seg_uids = np.asarray(s.seg.a["uid"])
            at = np.searchsorted(seg_uids, uids[inside])
            ok = at < len(seg_uids)
            ok[ok] = seg_uids[at[ok]] == uids[inside][ok]
            if s.deleted is not None:
                ok[ok] = ~s.deleted[at[ok]]
            out[inside[ok]] = (i << 32) + np.asarray(s.seg.a["article"])[at[ok]].astype(np.int64)
        return out

    def passage_anchors(self, uid: int) -> tuple[tuple[str, int], ...]:
        """A passage's (key, sentence) pairs, in text order."""
        found = self._locate(int(uid))
        if found is None:
            raise KeyError(uid)
        return found[0].seg.anchors.of_passage(found[1])

    def story_anchors(self, uid: int) -> frozenset[str]:
        """The anchor keys of every passage of the passage's article (its story)."""
        seg, rows = self._story(uid)
        return seg.anchors.keys_of(rows)

    def story_uids(self, uid: int) -> list[int]:
        """The uids of every passage of the passage's article (its story), in text order."""
        seg, rows = self._story(uid)
        return np.asarray(seg.a["uid"][rows.start : rows.stop]).astype(np.int64).tolist()

    def story_size(self, uid: int) -> int:
        """How many passages the passage's article (its story) has."""
        return len(self._story(uid)[1])

    def _story(self, uid: int) -> tuple[Segment, range]:
        """The segment holding a live passage, and the rows of its article there (KeyError for a
        uid that is not live)."""
        found = self._locate(int(uid))
        if found is None:
            raise KeyError(uid)
        seg, row = found[0].seg, found[1]
        return seg, seg.article_passages(int(seg.a["article"][row]))

    # --- passages and articles -----------------------------------------------------------------
    def _locate(self, uid: int) -> tuple[LiveSegment, int] | None:
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

    def passage_languages(self, uids: Sequence[int]) -> list[Language]:
        """Each live passage's language, from the `lang` column: no passage read (the fusion asks
        it of every candidate). KeyError for a uid that is not live."""
        out: list[Language] = []
        for uid in uids:
            found = self._locate(int(uid))
            if found is None:
                raise KeyError(uid)
            out.append(LANG_CODES[int(found[0].seg.a["lang"][found[1]])])
        return out

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

    def find(self, article_id: str, field: str = "id") -> tuple[LiveSegment, int] | None:
        for s in reversed(self.segs):
            for row in s.seg.find(field, article_id):
                if s.is_live_row(row):
                    return s, row
        return None

    def article_uid(self, article_id: str) -> int | None:
        """The uid of a live article's first passage (None: not live)."""
        found = self.find(article_id)
        if found is None:
            return None
        live, row = found
        return int(live.seg.a["uid"][live.seg.article_passages(row).start])

    def article(self, article_id: str) -> ArticleMeta | None:
        found = self.find(article_id)
        return found[0].seg.article(found[1]) if found else None

    def article_by(self, field: str, value: str) -> ArticleMeta | None:
        found = self.find(value, field)
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
