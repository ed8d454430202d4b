"""Stage 3 of the answer path: candidate passages from the sources (`answer/retrieve/`: BM25 and,
for a question with a vector, the dense one), the words list's top few re-scored with what BM25
cannot see, then every list joined at one point (`retrieve`).

Re-rank features, each a share in [0, 1] summed with its weight onto BM25 relative to the top
hit: the best sentence's share of the question (the words said together, not scattered), the
whole passage's share, the article title's share (a headline names the subject), the share of the
question's neighbouring words found side by side, and the best two neighbouring sentences' share.
The weights and what each one bought are in docs/quality.md ("First round", "Second round").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.retrieve import CandidateSource, Hits, Join, gather
from retrieval.answer.retrieve.lexical import LEXICAL, Lexical
from retrieval.index.store import PassageView

LEXICAL_ONLY: tuple[CandidateSource, ...] = (Lexical(),)


@dataclass(frozen=True, slots=True)
class RerankWeights:
    rerank_depth: int = 20  # passages re-scored by sentence coverage after BM25
    rerank_sentence: float = 0.75  # weight of the best sentence's coverage in the passage score
    rerank_passage: float = 0.0  # weight of the whole passage's coverage
    rerank_title: float = 0.5  # weight of the article title's coverage (a headline names the subject)
    rerank_phrase: float = 0.4  # weight of the share of neighbouring question words found side by side
    rerank_window: float = 0.3  # weight of the best two neighbouring sentences' coverage (a question often spans a sentence and the one that says "it")

    def any(self) -> bool:
        return any(
            w > 0
            for w in (
                self.rerank_sentence,
                self.rerank_passage,
                self.rerank_title,
                self.rerank_phrase,
                self.rerank_window,
            )
        )


@dataclass(frozen=True, slots=True)
class Coverage:
    present: npt.NDArray[np.bool_]  # sentence x content term: does the sentence hold the term
    sentences: npt.NDArray[np.float64]  # each sentence's share of the question's idf mass
    best: float  # the best sentence's share
    passage: float  # the whole passage's share
    tokens: npt.NDArray[np.integer]  # the passage's term ids in text order (read here once, for phrases too)

    def window(self, weights: npt.NDArray[np.float64]) -> float:
        """The best two neighbouring sentences' share of the question (a question often spans
        a sentence and the one that says "it")."""
        if len(self.present) < 2:
            return self.best
        return float(((self.present[1:] | self.present[:-1]) @ weights).max())


@dataclass(frozen=True, slots=True)
class Retrieved:
    hits: Hits  # re-ranked, at most k
    coverage: dict[int, Coverage]  # for every passage the sources returned, re-ranked or not
    bm25: Hits  # BM25's own ranking, before the re-rank (the confidence model reads its scores)
    by_source: Mapping[str, Hits]  # each candidate source's own list
    fusion: Any = None  # `retrieve/fusion.Fused` when dense candidates were fused in (None: lexical only)


def retrieve(
    ctx: QuestionContext, query: Query, k: int, weights: RerankWeights, sources: Sequence[CandidateSource] = LEXICAL_ONLY,
    join: Join | None = None, prefer: frozenset[str] = frozenset(), prior: float = 0.0,
) -> Retrieved:  # fmt: skip
    """Candidates from the `sources` (each asked once, `gather`); the first (words) list's top
    `rerank_depth` re-scored (see the module docstring; a passage of an article in `prefer`,
    the one a conversation is about, gains `prior`); then, when several sources took part, every
    list joined by `join`, the one fusion point. Coverage is kept for the words list and every
    joined passage."""
    lists = gather(ctx, query, max(k, weights.rerank_depth), sources)
    first = next(iter(lists.values()), [])
    bm25 = lists.get(LEXICAL, first)
    coverage = coverage_of([h for h, _ in first], query, ctx)
    ranked = rerank(ctx, query, first, coverage, weights, prefer, prior)[:k]
    if len(lists) < 2:
        return Retrieved(ranked, coverage, bm25, lists)
    if join is None:
        raise ValueError(f"{len(lists)} candidate sources ({', '.join(lists)}) need a join to merge their lists")
    joined = join(ctx, query, {**lists, next(iter(lists)): ranked}, coverage)
    if not joined.hits:
        return Retrieved(joined.hits, coverage, bm25, lists, joined.fusion)
    missing = [u for u, _ in joined.hits if u not in coverage]
    return Retrieved(joined.hits, coverage | coverage_of(missing, query, ctx), bm25, lists, joined.fusion)


def rerank(
    ctx: QuestionContext, query: Query, hits: Hits, coverage: Mapping[int, Coverage], weights: RerankWeights,
    prefer: frozenset[str] = frozenset(), prior: float = 0.0,
) -> Hits:  # fmt: skip
    """`hits` re-scored: each score relative to the first, plus the weighted shares of the
    module docstring, best first (unchanged when every re-rank weight is 0)."""
    w = weights
    if not hits or not w.any():
        return hits
    view = ctx.view
    indexed = frozenset(t for t in set(query.terms) if ctx.searcher.df(t)) if w.rerank_phrase > 0 else frozenset()
    top = hits[0][1]
    rescored = []
    for h, score in hits:
        c = coverage[h]
        in_title = query.share_in(ctx.title_of(h) if w.rerank_title > 0 else frozenset())
        phrases = phrase_share(view(h), query, c, indexed) if w.rerank_phrase > 0 else 0.0
        window = c.window(query.weights_arr)
        rescored.append((
            h, score / top + w.rerank_sentence * c.best + w.rerank_passage * c.passage
            + w.rerank_title * in_title + w.rerank_phrase * phrases + w.rerank_window * window
            + (prior if prefer and view(h).article.id in prefer else 0.0),
        ))  # fmt: skip
    rescored.sort(key=lambda x: -x[1])
    return rescored


def phrase_share(view: PassageView, query: Query, coverage: Coverage, indexed: frozenset[str]) -> float:
    """The share of the question's neighbouring word pairs that stand side by side in the
    passage too: "national anthem" in a passage is more than "national" and "anthem" somewhere in it.
    `indexed`: the question's terms some live passage holds, so the share is the same whichever
    segment holds the passage (a segment's dictionary knows only its own passages' terms)."""
    pairs = question_pairs(query.terms, indexed)
    if not pairs:
        return 0.0
    ids = {(view.lookup(a), view.lookup(b)) for a, b in pairs}
    return len(ids & adjacent(coverage.tokens)) / len(pairs)


def question_pairs(terms: list[str], indexed: frozenset[str]) -> set[tuple[str, str]]:
    """Neighbouring question words that the index holds, as pairs of terms."""
    return {(x, y) for x, y in zip(terms, terms[1:], strict=False) if x in indexed and y in indexed and x != y}


def adjacent(tokens: npt.NDArray[np.integer]) -> set[tuple[int, int]]:
    ids = tokens.tolist()
    return set(zip(ids, ids[1:]))


def coverage_of(passages: list[int], query: Query, ctx: QuestionContext) -> dict[int, Coverage]:
    """Per passage, which question terms each sentence holds and their share of idf mass."""
    qw = query.weights_arr
    nq = len(query.known)
    out: dict[int, Coverage] = {}
    for p in passages:
        v = ctx.view(p)
        ns = v.n_sentences
        qids = v.ids(query.known)  # the question's known terms in this passage's id space
        valid = np.flatnonzero(qids >= 0)
        if nq == 0 or ns == 0 or len(valid) == 0:
            out[p] = Coverage(np.zeros((ns, nq), bool), np.zeros(ns), 0.0, 0.0, np.asarray(v.tokens))
            continue
        ptr, toks = v.tok_ptr, v.tokens
        order = valid[np.argsort(qids[valid])]
        sq = qids[order]
        where = np.searchsorted(sq, toks)
        np.minimum(where, len(sq) - 1, out=where)
        pos = np.flatnonzero(sq[where] == toks)
        present = np.zeros((ns, nq), bool)
        present[np.searchsorted(ptr, pos, side="right") - 1, order[where[pos]]] = True
        cov = present @ qw
        out[p] = Coverage(present, cov, float(cov.max()), float(present.any(axis=0) @ qw), toks)
    return out
