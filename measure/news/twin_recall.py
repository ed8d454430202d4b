"""Twin-sentence R@1 on the dev files (issue 26, item 6): for each sentence of one language, is its
translation (the same line number in the other file) the nearest of all 1,000 sentences there?

A scorer takes the queries and the candidates and returns a (queries x candidates) score matrix;
R@1 is the share of rows whose own line scores strictly above every other candidate (a tie is a
miss: duplicated lines in a file tie with each other). Misaligned lines (a headline against a
sentence, a line shifted by one) count as misses too: the figure is a floor on real pairs.

Shipped scorers: `words` (BM25 of the product's analysed terms of one side against the other:
across scripts only shared Latin tokens and numbers can match, so it is reported as it comes) and
`encoder` (cosine of USE-m3 vectors via `retrieval.text.encoder`). Hook for more: pass
`extra={"encoder + anchors": scorer}` to `twin_figures` (or add to `scorers`), where `scorer`
has the `Scorer` signature; nothing else needs to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

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


def scorers(analyzer: Analyzer, encoder: Encoder | None) -> dict[str, Scorer]:
    out = {"words": words_scorer(analyzer)}
    if encoder is not None:
        out["encoder"] = encoder_scorer(encoder)
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
