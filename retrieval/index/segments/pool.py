"""Analysis of a big batch in a child process, for a process that keeps answering questions.

Kiwi's own threads could run beside a question, but turning its tokens into index terms is
Python, and Python in the same process shares one interpreter lock with the question: measured
here, a 10k-passage ingest in a thread of the bot tripled the answer p95. In a child process
(started fresh, not forked from a threaded parent, and at a lower CPU priority) the analysis
shares nothing with the questions but the cores. The child sends back each batch as flat
integer arrays over its own small term list, which the writer maps into its segment's
dictionary with one array lookup.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from retrieval.index.segments.segment import Encoded, SegmentBuilder
from retrieval.text.analyze import Analyzer

_analyzer: Analyzer | None = None


def _start(workers: int) -> None:
    global _analyzer
    try:
        os.nice(10)  # questions in the parent come first
    except OSError:
        pass
    _analyzer = Analyzer(workers=workers)


def _encode(texts: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    assert _analyzer is not None
    builder = SegmentBuilder()
    part = builder.encode(_analyzer.analyze_passages(texts, chunk=len(texts) or 1), len(texts))
    return part, builder.vocab


class AnalysisPool:
    """One child process with a Kiwi of its own; batches are analysed in order, while the
    parent turns the previous one into segment arrays."""

    def __init__(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(workers,))

    def encode(self, batches: Sequence[list[str]]) -> Iterator[Encoded]:
        futures = [self._pool.submit(_encode, texts) for texts in batches]
        try:
            for f in futures:
                yield f.result()
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
