"""Twin-sentence R@1 on the dev files (issue 26, item 6): for each sentence of one language, is its
translation (the same line number in the other file) the nearest of all 1,000 sentences there?

A scorer takes the queries and the candidates and returns a (queries x candidates) score matrix;
R@1 is the share of rows whose own line scores strictly above every other candidate (a tie is a
miss: duplicated lines in a file tie with each other). Misaligned lines (a headline against a
sentence, a line shifted by one) count as misses too: the figure is a floor on real pairs.

Shipped scorers: `words` (BM25 of the product's analysed terms of one side against the other:
across scripts only shared Latin tokens and numbers can match, so it is reported as it comes) and
`encoder` (cosine of USE-m3 vectors via `retrieval.text.encoder`) and `encoder + anchors` (the
cosine plus `ANCHOR_WEIGHT` × the weighted share of the query's anchors, names in either script
included, that the candidate holds; see `anchors_scorer`). Hook for more: pass
`extra={"encoder + anchors": scorer}` to `twin_figures` (or add to `scorers`), where `scorer`
has the `Scorer` signature; nothing else needs to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from retrieval.answer.anchor_match import KIND_WEIGHTS
from retrieval.text.analyze import Analyzer, normalize_space
from retrieval.text.encoder import Encoder

from ..evaluate import SparseBM25
from .data import NewsSet

Scorer = Callable[[Sequence[str], Sequence[str]], npt.NDArray[np.floating]]


def recall_at_1(scores: npt.NDArray[np.floating]) -> float:
    """Share of rows i whose column i is strictly the best (a square matrix: row i's twin is
    column i)."""
    s = np.asarray(scores, np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"twin scores must be a square matrix, got shape {s.shape}")
    if not len(s):
        return 0.0
    own = np.diag(s).copy()
    others = s.copy()
    np.fill_diagonal(others, -np.inf)
    return float(np.mean(own > others.max(axis=1)))


def words_scorer(analyzer: Analyzer) -> Scorer:
    """BM25 (rank-bm25's Okapi settings) of each query's analysed terms against the candidates'."""

    def score(queries: Sequence[str], candidates: Sequence[str]) -> npt.NDArray[np.float64]:
        model = SparseBM25([analyzer.terms(c) for c in candidates])
        return np.vstack([model.scores(analyzer.terms(q)) for q in queries])

    return score


def encoder_scorer(encoder: Encoder) -> Scorer:
    """Cosine of the encoder's unit vectors."""

    def score(queries: Sequence[str], candidates: Sequence[str]) -> npt.NDArray[np.float32]:
        return encoder.encode(list(queries)) @ encoder.encode(list(candidates)).T

    return score


# How much a shared anchor counts beside the cosine, and each kind's part of the share (the fusion's
# `KIND_WEIGHTS`, with the word list's everyday words at a glossary term's weight). ANCHOR_WEIGHT
# was chosen on the lines of FIT stories (0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5): en>ko / ko>en R@1
# 0.874 / 0.823 → 0.896 / 0.851 at 0.2; on REPORT lines 0.892 / 0.876 → 0.908 / 0.884.
ANCHOR_WEIGHT = 0.2
SHARE_WEIGHTS = {**KIND_WEIGHTS, "word": KIND_WEIGHTS["term"]}


def anchors_scorer(encoder: Encoder, analyzer: Analyzer, weight: float = ANCHOR_WEIGHT) -> Scorer:
    """Cosine plus `weight` × the share of the query's anchors (`retrieval/text/anchors/`: names as
    skeletons matched fuzzily against the candidates' names, numbers, dates, glossary terms and
    the word list's words, each by `SHARE_WEIGHTS`) that the candidate holds."""
    from retrieval.index.segments.columns.anchors import anchors_for
    from retrieval.text.anchors import kind_of

    anchors = anchors_for(analyzer)
    cosine = encoder_scorer(encoder)

    def score(queries: Sequence[str], candidates: Sequence[str]) -> npt.NDArray[np.float64]:
        cand = [frozenset(anchors.text(analyzer, c).keys) for c in candidates]
        vocab = anchors.vocabulary({k for keys in cand for k in keys})
        share = np.zeros((len(queries), len(candidates)))
        for i, q in enumerate(queries):
            keys = anchors.text(analyzer, q).keys
            total = sum(SHARE_WEIGHTS[kind_of(k)] for k in keys)
            for k in keys if total else ():
                found = set(vocab.expand(k)) if kind_of(k) == "name" else {k}
                w = SHARE_WEIGHTS[kind_of(k)] / total
                for j, c in enumerate(cand):
                    if not found.isdisjoint(c):
                        share[i, j] += w
        return np.asarray(cosine(queries, candidates), np.float64) + weight * share

    return score


def scorers(analyzer: Analyzer, encoder: Encoder | None) -> dict[str, Scorer]:
    out = {"words": words_scorer(analyzer)}
    if encoder is not None:
        out["encoder"] = encoder_scorer(encoder)
        out["encoder + anchors"] = anchors_scorer(encoder, analyzer)
    return out


def twin_figures(
    news: NewsSet, analyzer: Analyzer, encoder: Encoder | None, extra: Mapping[str, Scorer] | None = None
) -> dict[str, dict[str, float]]:
    """R@1 per scorer and direction (`en>ko`: English sentences look for their Korean twin)."""
    en = [normalize_space(x) for x in news.lines["en"]]
    ko = [normalize_space(x) for x in news.lines["ko"]]
    out: dict[str, dict[str, float]] = {}
    for name, scorer in {**scorers(analyzer, encoder), **(extra or {})}.items():
        out[name] = {"en>ko": recall_at_1(scorer(en, ko)), "ko>en": recall_at_1(scorer(ko, en)), "n": float(len(en))}
    return out
