"""Big writes in bounded pieces: a segment is flushed (written and committed) every
`FlushPolicy.passages` passages, and merges during a build never make a segment above
`FlushPolicy.merge_cap` passages.

Why: a build held every passage of a write in one in-memory segment builder, so its peak memory
grew with the corpus (a 1M-passage build peaked at 5.0 GiB writing one 1M-passage segment). Cut
into flushes, a build holds at most one flush of analysed passages, and a merge at most
`merge_cap` passages, whatever the corpus size.

Each flush is an ordinary commit of the store's protocol, so a crash between two flushes leaves
the last commit whole. The corpus file table (what the index last saw of each source file) goes
only into the last flush's commit: a rerun reads the changed files again, and the sync skips every
article whose hash the index already holds, so it analyses only what was not committed.

Flushes are cut between analysis batches, so the batches (and a remote analyser's tasks) are the
same whether a write is flushed once or many times; a flush holds whole articles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval import defaults


@dataclass(frozen=True, slots=True)
class FlushPolicy:
    """How big a write's pieces get. `passages`: a segment is written and committed every this
    many passages (rounded up to whole analysis batches); a build's peak memory follows it
    (figures in docs/performance.md, "Building on a cluster"). `merge_cap`: a merge
    never makes a segment of more live passages than this (Lucene's max merged segment size), so
    merges stay bounded too; bigger segments only come from `force_merge`."""

    passages: int = defaults.FLUSH_PASSAGES
    merge_cap: int = defaults.MERGE_CAP_PASSAGES

    def __post_init__(self) -> None:
        if self.passages < 1 or self.merge_cap < 1:
            raise ValueError("flush sizes must be positive")


DEFAULT_FLUSH = FlushPolicy()


def batches_of(sizes: Sequence[int], batch_size: int) -> list[list[int]]:
    """Articles (by their paragraph counts `sizes`) in analysis batches of about `batch_size`
    passages, whole articles each: positions, so a writer plans a write without holding its
    texts (`store.ArticleSource`)."""
    out: list[list[int]] = [[]]
    size = 0
    for i, n in enumerate(sizes):
        if size >= batch_size:
            out.append([])
            size = 0
        out[-1].append(i)
        size += n
    return [b for b in out if b]


def flushes_of(batched: Sequence[list[int]], sizes: Sequence[int], passages: int) -> list[list[list[int]]]:
    """Consecutive analysis batches (positions into `sizes`, paragraph counts) grouped into
    flushes of at least `passages` passages (the last one may be smaller)."""
    out: list[list[list[int]]] = []
    size = passages
    for batch in batched:
        if size >= passages:
            out.append([])
            size = 0
        out[-1].append(batch)
        size += sum(sizes[i] for i in batch)
    return out
