"""One question's reading of one index snapshot: what every stage of the answer path reads.

A stage used to take the store, a `view` callback, a `title_of` callback and the analyser as
separate arguments (eight of them for the re-rank); now it takes this one object. It caches
each passage it reads and each article title it analyses, so a passage read by the re-rank is
not read again by the sentence scorer or the quote builder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.answer.anchor_match import NO_ANCHORS, QuestionAnchors, read_anchors
from retrieval.answer.question import Question
from retrieval.index.store import PassageView, Searcher
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
        sentence_vectors: dict[int, Vector] | None = None, anchors: Anchors | None = None,
    ) -> None:  # fmt: skip
        """`titles` is a cache of analysed article titles that outlives the question (the engine
        shares one across questions: titles are not in the index); `sentence_vectors` likewise
        caches each passage's sentence vectors (uids are never reused). `encoder` makes the
        question semantic when the index's vectors carry its stamp (`question_vector`)."""
        self.searcher = searcher
        self.analyzer = analyzer
        self.asked = asked
        self.words = words or []
        self._titles = titles if titles is not None else {}
        self._views: dict[int, PassageView] = {}
        self.encoder = encoder
        self._sentence_vectors = sentence_vectors if sentence_vectors is not None else {}
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
        vecs = self._sentence_vectors.get(uid)
        if vecs is None:
            v = self.view(uid)
            spans = [v.sentence(i) for i in range(v.n_sentences)]
            assert self.encoder is not None
            if len(self._sentence_vectors) >= SENTENCE_CACHE:
                self._sentence_vectors.clear()
            vecs = self._sentence_vectors[uid] = self.encoder.encode([v.text[s:e] for s, e in spans])
        return vecs

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
SENTENCE_CACHE = 4096  # passages whose sentence vectors a shared cache keeps (then it starts over)
