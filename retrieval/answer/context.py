"""One question's reading of one index snapshot: what every stage of the answer path reads.

A stage used to take the store, a `view` callback, a `title_of` callback and the analyser as
separate arguments (eight of them for the re-rank); now it takes this one object. It caches
each passage it reads and each article title it analyses, so a passage read by the re-rank is
not read again by the sentence scorer or the quote builder.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.answer.anchor_match import NO_ANCHORS, QuestionAnchors, read_anchors
from retrieval.answer.question import Question
from retrieval.index.store import PassageView, Searcher
from retrieval.models import Language
from retrieval.text.analyze import Analyzer, Term
from retrieval.text.anchors import Anchors
from retrieval.text.encoder import Encoder, stamp_of

Vector = npt.NDArray[np.float32]


class QuestionContext:
    """The snapshot a question is answered from, its passage views and title terms, and the
    question as read (`asked`, `words`; absent when only a ranking is wanted)."""

    def __init__(
        self, searcher: Searcher, analyzer: Analyzer, titles: dict[str, frozenset[str]] | None = None,
        asked: Question | None = None, words: list[Term] | None = None, encoder: Encoder | None = None,
        sentence_vectors: SentenceVectors | None = None, anchors: Anchors | None = None,
    ) -> None:  # fmt: skip
        """`titles` is a cache of analysed article titles that outlives the question (the engine
        shares one across questions: titles are not in the index); `sentence_vectors` likewise
        keeps each passage's sentence vectors (uids are never reused; bounded, see
        `SentenceVectors`). `encoder` makes the
        question semantic when the index's vectors carry its stamp (`question_vector`)."""
        self.searcher = searcher
        self.analyzer = analyzer
        self.asked = asked
        self.words = words or []
        self._titles = titles if titles is not None else {}
        self._views: dict[int, PassageView] = {}
        self.encoder = encoder
        self._sentence_vectors = sentence_vectors if sentence_vectors is not None else SentenceVectors()
        self._question_vector: Any = _UNREAD
        self._passage_cos: dict[int, float] = {}
        self.anchors = anchors  # None: no anchors read (a ranking-only context, a store without them)
        self._question_anchors: QuestionAnchors | None = None

    @property
    def question_anchors(self) -> QuestionAnchors:
        """The question's anchors matched against the snapshot's (`anchor_match.py`), read once."""
        if self._question_anchors is None:
            self._question_anchors = NO_ANCHORS
            if self.anchors is not None and self.asked is not None:
                self._question_anchors = read_anchors(self.anchors, self.searcher, self.analyzer, self.asked.text)
        return self._question_anchors

    @property
    def question_vector(self) -> Vector | None:
        """The question's unit vector, encoded once and only when it can be used: the engine has
        an encoder and the index holds vectors of that very encoder (None: lexical only, today's
        path exactly)."""
        if self._question_vector is _UNREAD:
            self._question_vector = None
            enc = self.encoder
            text = self.asked.text if self.asked is not None else " ".join(w.surface for w in self.words)
            if enc is not None and text and getattr(self.searcher, "encoder_stamp", None) == stamp_of(enc):
                self._question_vector = enc.encode([text])[0]
        return self._question_vector

    def passage_cosines(self, uids: list[int]) -> dict[int, float]:
        """Cosine of the question with each passage's stored vector (read once per passage)."""
        qv = self.question_vector
        missing = [u for u in dict.fromkeys(uids) if u not in self._passage_cos]
        if qv is not None and missing:
            vecs = self.searcher.vectors(missing)  # type: ignore[attr-defined]
            self._passage_cos.update(zip(missing, (np.asarray(vecs, np.float32) @ qv).tolist()))
        return {u: self._passage_cos.get(u, 0.0) for u in uids}

    def sentence_vectors(self, uid: int) -> Vector:
        """A passage's sentences as unit vectors (rows in sentence order), encoded once."""
        return self.sentences_of([uid])[uid]

    def sentences_of(self, uids: Iterable[int]) -> dict[int, Vector]:
        """Several passages' sentence vectors; those not kept yet are encoded in one call (one
        flat batch: a passage of two or three sentences alone fills a fraction of the encoder's
        micro-batch)."""
        cache = self._sentence_vectors
        out: dict[int, Vector] = {}
        missing: list[int] = []
        for u in dict.fromkeys(uids):
            vecs = cache.get(u)
            if vecs is None:
                missing.append(u)
            else:
                out[u] = vecs
        if missing:
            assert self.encoder is not None
            texts: list[str] = []
            counts: list[int] = []
            for u in missing:
                v = self.view(u)
                texts += [v.text[s:e] for s, e in (v.sentence(i) for i in range(v.n_sentences))]
                counts.append(v.n_sentences)
            vecs = self.encoder.encode(texts) if texts else np.zeros((0, self.encoder.dim), np.float32)
            at = 0
            for u, n in zip(missing, counts, strict=True):
                out[u] = vecs[at : at + n]
                cache.put(u, out[u])
                at += n
        return out

    def count_quote(self, source: str) -> None:
        """Where the first quote's vector came from (`verdict.quote_cosine`): counted beside the
        cache's look-ups, for the bench."""
        quotes = self._sentence_vectors.quotes
        quotes[source] = quotes.get(source, 0) + 1

    def quote_vector(self, uid: int, start: int, end: int) -> Vector:
        """The vector of the text `view(uid).text[start:end]` (a quote), encoded once across
        questions (`SentenceVectors.quote`)."""
        key = (uid, start, end)
        vec = self._sentence_vectors.quote(key)
        if vec is not None:
            self.count_quote("kept")
            return vec
        assert self.encoder is not None
        self.count_quote("encoded")
        vec = self.encoder.encode([self.view(uid).text[start:end]])[0]
        self._sentence_vectors.keep_quote(key, vec)
        return vec

    def kept_sentence_vectors(self, uid: int) -> Vector | None:
        """A passage's sentence vectors if this question or an earlier one already has them
        (never encodes, never counts as a cache look-up)."""
        return self._sentence_vectors.peek(uid)

    @property
    def question(self) -> Question:
        if self.asked is None:
            raise ValueError("this context was made for a ranking only; it holds no question")
        return self.asked

    def view(self, uid: int) -> PassageView:
        """A passage, read from the snapshot once per question."""
        v = self._views.get(uid)
        if v is None:
            v = self._views[uid] = self.searcher.passage(uid)
        return v

    def languages_of(self, uids: Iterable[int]) -> dict[int, Language]:
        """Each passage's language: from a view this question read already, else from the
        store's language column (a store without one: read the passage)."""
        uids = list(dict.fromkeys(uids))
        out = {u: self._views[u].language for u in uids if u in self._views}
        rest = [u for u in uids if u not in out]
        reader = getattr(self.searcher, "passage_languages", None)
        if reader is None:
            out |= {u: self.view(u).language for u in rest}
        elif rest:
            out |= dict(zip(rest, reader(rest), strict=True))
        return out

    def title_of(self, passage: int) -> frozenset[str]:
        """Terms of the passage's article title, analysed once per title: a question that names
        an article's subject should favour that article."""
        title = self.view(passage).article.title
        terms = self._titles.get(title)
        if terms is None:
            terms = self._titles[title] = frozenset(self.analyzer.terms(title))
        return terms

    def english_term(self, word: str) -> str:
        return self.analyzer.english_term(word)


_UNREAD = object()
SENTENCE_CACHE = 4096  # passages whose sentence vectors a shared cache keeps (least recently used go first)
QUOTE_CACHE = 4096  # encoded first quotes whose vectors it keeps besides (2 KB each)


class SentenceVectors:
    """Passages' sentence vectors kept across questions: the least recently used passage goes
    first once `capacity` passages are kept (2 KB of float32 per sentence: ~20 MB at the default,
    at two or three sentences a passage). It counts its look-ups (`hits`, `misses`), so a bench
    can say how many encodes it spares: only a hit saves one. (It used to be a dict that started
    over when full.)

    Beside them, the vectors of first quotes that had to be encoded (a sentence or a run of
    sentences, keyed by passage and span; `quote_capacity` of them, least recently used first):
    the same quote of a later question (a story many ask about) is not encoded again.
    `quotes` counts where each first quote's vector came from (`verdict.quote_cosine`)."""

    def __init__(self, capacity: int = SENTENCE_CACHE, quote_capacity: int = QUOTE_CACHE) -> None:
        self.capacity = capacity
        self.quote_capacity = quote_capacity
        self.hits = 0
        self.misses = 0
        self.quotes: dict[str, int] = {}  # first quotes' vectors by source: passage, sentence, kept, encoded
        self._kept: OrderedDict[int, Vector] = OrderedDict()
        self._quotes: OrderedDict[tuple[int, int, int], Vector] = OrderedDict()

    def quote(self, key: tuple[int, int, int]) -> Vector | None:
        """A first quote's vector encoded for an earlier question ((uid, start, end)), or None."""
        vec = self._quotes.get(key)
        if vec is not None:
            self._quotes.move_to_end(key)
        return vec

    def keep_quote(self, key: tuple[int, int, int], vec: Vector) -> None:
        self._quotes[key] = vec
        self._quotes.move_to_end(key)
        while len(self._quotes) > self.quote_capacity:
            self._quotes.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, uid: int) -> Vector | None:
        vecs = self._kept.get(uid)
        if vecs is None:
            self.misses += 1
            return None
        self.hits += 1
        self._kept.move_to_end(uid)
        return vecs

    def peek(self, uid: int) -> Vector | None:
        return self._kept.get(uid)

    def put(self, uid: int, vecs: Vector) -> None:
        self._kept[uid] = vecs
        self._kept.move_to_end(uid)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0
