"""A second, deliberately plain `Store`: dicts of passages and postings, held in memory.

It proves the seam: the answer pipeline and the store test suite run on it unchanged, and it is
short enough to read as the definition of what a store must do. As the segment store, it is two
objects: `MemorySnapshot` reads one state, `MemoryStore` writes. Each write builds new dicts, so
a snapshot taken before it never changes (fine for tests and small corpora, not for a million
passages).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.index import bm25, vectors
from retrieval.index.bm25 import SearchParams
from retrieval.index.segments import columns
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
from retrieval.models import Language
from retrieval.text.analyze import Analyzer, detect_language
from retrieval.text.encoder import Encoder, stamp_of


@dataclass(frozen=True, slots=True)
class _Passage:
    uid: int
    text: str
    paragraph: int
    language: Language
    article: str
    spans: tuple[tuple[int, int], ...]
    terms: tuple[tuple[str, ...], ...]  # per sentence, in text order
    columns: dict[str, Any] = field(default_factory=dict)  # per-passage columns (index/segments/columns/)

    @property
    def length(self) -> int:
        return sum(len(t) for t in self.terms)


@dataclass(frozen=True, slots=True)
class _State:
    passages: dict[int, _Passage] = field(default_factory=dict)
    postings: dict[str, dict[int, int]] = field(default_factory=dict)  # term -> uid -> tf
    articles: dict[str, tuple[ArticleMeta, tuple[int, ...]]] = field(default_factory=dict)
    next_uid: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    vectors: dict[int, npt.NDArray[np.int8]] = field(default_factory=dict)  # uid -> int8 codes (index/vectors.py)
    stamp: str | None = None  # the encoder every vector was made with (None: no vectors)
    generation: int = 0  # writes so far


class MemorySnapshot:
    """One state of a `MemoryStore`, read as a `Searcher`; it never changes."""

    def __init__(self, state: _State, params: SearchParams, vocab: dict[str, int]) -> None:
        self._state = state
        self._params = params
        self._vocab = vocab  # the store's term ids: they only grow, so they hold in every snapshot
        self._dense_cache: tuple[npt.NDArray[np.int8], npt.NDArray[np.float32], npt.NDArray[np.int64]] | None = None

    @property
    def params(self) -> SearchParams:
        return self._params

    @property
    def generation(self) -> int:
        return self._state.generation

    def snapshot(self) -> MemorySnapshot:
        return self

    # --- dense vectors -------------------------------------------------------------------------
    @property
    def encoder_stamp(self) -> str | None:
        return self._state.stamp

    def _matrix(self) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        if self._dense_cache is None:
            st = self._state
            uids = np.array(sorted(st.vectors), np.int64)
            dim = next(iter(st.vectors.values())).shape[0] if st.vectors else 0
            codes = np.stack([st.vectors[int(u)] for u in uids]) if len(uids) else np.zeros((0, dim), np.int8)
            self._dense_cache = (codes, vectors.row_norms(codes), uids)
        return self._dense_cache

    def dense(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        if self._state.stamp is None:
            return []
        codes, norms, uids = self._matrix()
        return vectors.nearest(query, [(codes, norms, uids, None)], k)

    def vectors(self, uids: Sequence[int]) -> npt.NDArray[np.float32]:
        st = self._state
        if st.stamp is None:
            raise LookupError("this index holds no passage vectors")
        codes = [st.vectors[int(u)] for u in uids]  # KeyError for a passage that is not live
        dim = next(iter(st.vectors.values())).shape[0] if st.vectors else 0
        return vectors.dequantise(np.stack(codes)) if codes else np.zeros((0, dim), np.float32)

    @property
    def n_passages(self) -> int:
        return len(self._state.passages)

    def extra(self) -> dict[str, Any]:
        return self._state.extra

    # --- terms and scores ----------------------------------------------------------------------
    def df(self, term: str) -> int:
        return len(self._state.postings.get(term, ()))

    def idf(self, terms: Sequence[str]) -> npt.NDArray[np.float64]:
        df = np.array([self.df(t) for t in terms], np.int64)
        floor = None
        if self._params.variant == "okapi":
            every = np.array([len(p) for p in self._state.postings.values()], np.float64)
            n = self.n_passages
            floor = (
                bm25.OKAPI_EPSILON * float(np.mean(np.log(n - every + 0.5) - np.log(every + 0.5)))
                if len(every)
                else 0.0
            )
        return bm25.idf(df, self.n_passages, self._params.variant, floor=floor)

    def affix_terms(self, fragment: str) -> dict[str, int]:
        return {
            t: len(d)
            for t, d in self._state.postings.items()
            if t != fragment and (t.startswith(fragment) or t.endswith(fragment))
        }

    def near_terms(self, term: str) -> dict[str, int]:
        return {e: self.df(e) for e in set(edits1(term)) if self.df(e)}

    def _score_map(self, terms: Sequence[str]) -> dict[int, float]:
        st, p = self._state, self._params
        if not st.passages:
            return {}
        avgdl = (sum(x.length for x in st.passages.values()) / len(st.passages)) or 1.0
        counts: dict[str, int] = {}
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
        out: dict[int, float] = {}
        for t, w in zip(counts, self.idf(list(counts)).tolist()):
            for uid, tf in st.postings.get(t, {}).items():
                norm = p.k1 * (1 - p.b + p.b * st.passages[uid].length / avgdl)
                out[uid] = out.get(uid, 0.0) + counts[t] * w * tf * (p.k1 + 1) / (tf + norm)
        return out

    def search(self, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        ranked = sorted(((u, s) for u, s in self._score_map(terms).items() if s > 0), key=lambda x: (-x[1], x[0]))
        return ranked[: max(k, 0)]

    def scores(self, terms: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        got = self._score_map(terms)
        uids = self.uids()
        return uids, np.array([got.get(int(u), 0.0) for u in uids], np.float64)

    # --- passages and articles -----------------------------------------------------------------
    def uids(self) -> npt.NDArray[np.int64]:
        return np.array(sorted(self._state.passages), np.int64)

    def passage(self, uid: int) -> PassageView:
        p = self._state.passages[int(uid)]
        vocab = self._vocab
        ids = [vocab[t] for sent in p.terms for t in sent]
        lens = [len(s) for s in p.terms]
        return PassageView(
            uid=p.uid, text=p.text, paragraph=p.paragraph, language=p.language,
            article=self._state.articles[p.article][0],
            starts=tuple(s for s, _ in p.spans), ends=tuple(e for _, e in p.spans),
            tok_ptr=np.concatenate([[0], np.cumsum(lens, dtype=np.int64)]).astype(np.int64),
            tokens=np.array(ids, np.int32), lookup=lambda t: vocab.get(t, -1), columns=p.columns,
        )  # fmt: skip

    def passage_languages(self, uids: Sequence[int]) -> list[Language]:
        return [self._state.passages[int(u)].language for u in uids]

    def passage_terms(self, uid: int) -> list[str]:
        return [t for sent in self._state.passages[int(uid)].terms for t in sent]

    def languages(self) -> tuple[Language, ...]:
        return listed_languages(p.language for p in self._state.passages.values())

    def articles(self) -> list[StoredArticle]:
        out = []
        for meta, uids in sorted(self._state.articles.values(), key=lambda x: x[1][0]):
            langs = listed_languages(self._state.passages[u].language for u in uids)
            out.append(StoredArticle(meta, len(uids), langs))
        return out

    def article(self, article_id: str) -> ArticleMeta | None:
        found = self._state.articles.get(article_id)
        return found[0] if found else None

    def article_by(self, field: str, value: str) -> ArticleMeta | None:
        return next((m for m, _ in self._state.articles.values() if getattr(m, field) == value), None)

    @property
    def n_articles(self) -> int:
        return len(self._state.articles)

    def article_hashes(self) -> dict[str, str]:
        return {aid: meta.hash for aid, (meta, _) in self._state.articles.items()}


class MemoryStore(StoreWrites):
    """The writer: `apply` makes a new state, `snapshot()` reads the live one. `encoder`:
    passages added are also encoded, and held as the same int8 codes the segment store writes
    (so both stores' `dense` agree)."""

    def __init__(
        self, analyzer: Analyzer | None = None, params: SearchParams | None = None, encoder: Encoder | None = None
    ) -> None:
        self.analyzer = analyzer
        self.encoder = encoder
        self._params = params or SearchParams()
        self._state = _State()
        self._snap: MemorySnapshot | None = None
        self._vocab: dict[str, int] = {}  # only grows, so ids stay valid in every snapshot
        self._lock = threading.RLock()
        self.damaged: list[str] = []

    def refresh(self) -> bool:
        return False  # nobody else writes to memory

    @contextmanager
    def writing(self, blocking: bool = True) -> Iterator[bool]:
        got = self._lock.acquire(blocking=blocking)
        try:
            yield got
        finally:
            if got:
                self._lock.release()

    @property
    def params(self) -> SearchParams:
        return self._params

    def set_params(self, params: SearchParams) -> None:
        self._params = params

    def snapshot(self) -> MemorySnapshot:
        if self._snap is None or self._snap._state is not self._state or self._snap.params != self._params:
            self._snap = MemorySnapshot(self._state, self._params, self._vocab)
        return self._snap

    def serving(self) -> MemorySnapshot:
        return self.snapshot()  # nothing in memory is read back from a disk

    def take_out(self, segment: str, reason: str) -> bool:
        return False

    # --- writes --------------------------------------------------------------------------------
    def apply(self, change: Change, options: WriteOptions = NO_OPTIONS) -> ChangeReport:
        """`options` change nothing here: analysis runs in this thread, and is quick."""
        with self.writing():
            return self._apply(change)

    def _apply(self, change: Change) -> ChangeReport:
        st = self._state
        adds = {a.id: a for a in change.add}
        gone = (set(change.remove) | set(adds)) & set(st.articles)
        passages = dict(st.passages)
        postings = {t: dict(d) for t, d in st.postings.items()}
        articles = dict(st.articles)
        # the same rule as the segment store's: deletions keep the vectors; new passages are
        # encoded when the passages that stay have this encoder's vectors (or none stay)
        stamp = stamp_of(self.encoder) if self.encoder is not None else None
        if not adds:
            stamp = st.stamp
        elif stamp != st.stamp and len(gone) < len(st.articles):
            stamp = None  # passages stay whose vectors are missing or not comparable: no vectors until rebuilt
        codes = dict(st.vectors) if stamp is not None else {}
        for aid in gone:
            for uid in articles.pop(aid)[1]:
                p = passages.pop(uid)
                codes.pop(uid, None)
                for t in {t for sent in p.terms for t in sent}:
                    del postings[t][uid]
                    if not postings[t]:
                        del postings[t]
        uid = st.next_uid
        added = 0
        for art in adds.values():
            uids = []
            for n, (text, sentences) in enumerate(zip(art.paragraphs, self._analyse(art.paragraphs)), start=1):
                terms = tuple(s.terms for s in sentences)
                cols = columns.values_of(columns.compute_all([text], columns.schema()), 0)
                passages[uid] = _Passage(
                    uid, text, n, detect_language(text), art.id, tuple((s.start, s.end) for s in sentences), terms, cols
                )
                for sent in terms:
                    for t in sent:
                        self._vocab.setdefault(t, len(self._vocab))
                        bucket = postings.setdefault(t, {})
                        bucket[uid] = bucket.get(uid, 0) + 1
                uids.append(uid)
                uid += 1
                added += 1
            articles[art.id] = (ArticleMeta.of(art), tuple(uids))
            if stamp is not None and self.encoder is not None:
                codes.update(zip(uids, vectors.quantise(self.encoder.encode(art.paragraphs))))
        extra = st.extra if change.extra is None else change.extra
        self._state = replace(
            st, passages=passages, postings=postings, articles=articles, next_uid=uid, extra=extra, vectors=codes, stamp=stamp,
            generation=st.generation + 1,
        )  # fmt: skip
        return ChangeReport(tuple(adds), tuple(a for a in change.remove if a in gone), added)

    def _analyse(self, paragraphs: Sequence[str]) -> list[list[Any]]:
        if self.analyzer is None:
            raise TypeError("this store was made without an analyser, so it cannot add articles")
        return list(self.analyzer.analyze_passages(list(paragraphs)))
