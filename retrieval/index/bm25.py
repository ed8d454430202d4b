"""BM25 scoring as pure array functions, so variants can be compared and checked against rank-bm25."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from retrieval import defaults

Variant = Literal["okapi", "lucene"]
VARIANTS: tuple[Variant, ...] = ("okapi", "lucene")

# rank_bm25.BM25Okapi replaces negative idfs with epsilon * mean idf; we match it exactly.
OKAPI_EPSILON = 0.25


@dataclass(frozen=True, slots=True)
class SearchParams:
    # Chosen with `quoteqa eval` (docs/quality.md); the values and why are in retrieval/defaults.py.
    variant: Variant = defaults.BM25_VARIANT  # type: ignore[assignment]
    k1: float = defaults.BM25_K1
    b: float = defaults.BM25_B

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown BM25 variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.k1 <= 0 or not 0 <= self.b <= 1:
            raise ValueError("BM25 needs k1 > 0 and 0 <= b <= 1")


def idf(
    df: npt.NDArray[np.integer], n_docs: int, variant: Variant, floor: float | None = None
) -> npt.NDArray[np.float64]:
    """Inverse document frequency per term; terms that occur nowhere get 0.

    Okapi's floor for negative idfs is `OKAPI_EPSILON` times the mean idf of the whole
    vocabulary; pass it as `floor` when `df` holds only some of the terms."""
    df = df.astype(np.float64)
    present = df > 0
    if variant == "lucene":
        # Always positive: a term in every passage still counts a little (Lucene's BM25Similarity).
        out = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    else:
        out = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
        live = out[present]
        if floor is None and live.size:
            floor = OKAPI_EPSILON * live.mean()
        if floor is not None:
            out = np.where(out < 0, floor, out)
    out[~present] = 0.0
    return out


def posting_weights(
    term_of_posting: npt.NDArray[np.integer],
    doc_of_posting: npt.NDArray[np.integer],
    tf: npt.NDArray[np.integer],
    doc_len: npt.NDArray[np.integer],
    idf_by_term: npt.NDArray[np.float64],
    params: SearchParams,
) -> npt.NDArray[np.float32]:
    """Each posting's full BM25 contribution, precomputed so a query is a gather and a sum."""
    avgdl = float(doc_len.mean()) if doc_len.size else 1.0
    avgdl = avgdl or 1.0
    k1, b = params.k1, params.b
    doc_norm = k1 * (1.0 - b + b * np.asarray(doc_len, np.float64) / avgdl)  # once per passage
    tf = np.array(tf, np.float64)  # a copy: it is overwritten below
    w = tf * (k1 + 1.0)
    tf += doc_norm[doc_of_posting]
    w /= tf
    w *= idf_by_term[term_of_posting]
    return w.astype(np.float32)


def top_k(scores: npt.NDArray[np.floating], k: int) -> npt.NDArray[np.int64]:
    """Indices of the k best positive scores, best first (ties by lower index, as a stable sort)."""
    positive = np.flatnonzero(scores > 0)
    if positive.size == 0:
        return positive.astype(np.int64)
    if positive.size > k:  # all above the k-th score, then the lowest indices of those tied with it
        s = scores[positive]
        kth = -np.partition(-s, k - 1)[k - 1]
        above = positive[s > kth]
        positive = np.sort(np.concatenate([above, positive[s == kth][: k - len(above)]]))
    order = np.argsort(-scores[positive], kind="stable")
    return positive[order].astype(np.int64)
