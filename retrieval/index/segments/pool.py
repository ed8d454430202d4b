"""Analysis (and encoding) of big batches in child processes.

Two uses. A process that keeps answering questions (the serving bot) analyses a big ingest in
one child: Kiwi's own threads could run beside a question, but turning its tokens into index
terms is Python, and Python in the same process shares one interpreter lock with the question:
measured here, a 10k-passage ingest in a thread of the bot tripled the answer p95. In a child
process (started fresh, not forked from a threaded parent, and at a lower CPU priority) the
analysis shares nothing with the questions but the cores. And a big build with passage vectors
(the sentence encoder is pure numpy, ~145 passages/s per core) runs in `processes` children at
once, one Kiwi and one encoder each, so both cores encode.

A child sends back each batch as flat integer arrays over its own small term list, which the
writer maps into its segment's dictionary with one array lookup, plus the batch's per-passage
columns (the vectors' int8 codes) when asked for them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from retrieval.index.segments import columns
from retrieval.index.segments.builder import Encoded, SegmentBuilder
from retrieval.index.segments.columns import anchors as anchor_column
from retrieval.text.analyze import Analyzer

EncoderSetup = tuple[str, "Path | None"]  # encoder name and its start-up cache folder
# batches submitted ahead of the one handed over (`encode`): with vectors 32 x 500 passages,
# ~2 min of encoding on 2 cores and ~60 MiB of analysed batches, so the children keep busy
# through most of a merge without the parent holding a whole write's batches
WINDOW = 32

_analyzer: Analyzer | None = None
_encoders: dict[EncoderSetup, object] = {}


def _start(workers: int, nice: int) -> None:
    global _analyzer
    if nice:
        try:
            os.nice(nice)  # questions in the parent come first
        except OSError:
            pass
    _analyzer = Analyzer(workers=workers)
    anchor_column.anchors_for(_analyzer)  # one Anchors per child, loaded before its first batch


def _encoder(setup: EncoderSetup):  # type: ignore[no-untyped-def]
    """One encoder per child process, loaded on its first batch (one BLAS thread: the
    processes are the parallelism)."""
    if setup not in _encoders:
        from retrieval.text.encoder import encoder_from_name

        _encoders[setup] = encoder_from_name(setup[0], cache=setup[1], threads=1)
    return _encoders[setup]


def analyse_batch(analyzer: Analyzer, encoder: object | None, texts: list[str]) -> Encoded:
    """One batch as a child (or a cluster worker) sends it back: flat arrays over the batch's own
    term list, plus its anchors (`columns/anchors.py`) and its per-passage columns (the vectors,
    with `encoder`)."""
    builder = SegmentBuilder(schema=columns.schema(encoder))
    analysed = list(analyzer.analyze_passages(texts, chunk=len(texts) or 1))  # read twice: terms, anchors
    part = builder.encode(analysed, len(texts))
    keys = anchor_column.batch_arrays(anchor_column.anchors_for(analyzer), texts, analysed)
    return part | keys | builder.columns_of(texts), builder.vocab


def _encode(texts: list[str], encoder: EncoderSetup | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    assert _analyzer is not None
    return analyse_batch(_analyzer, _encoder(encoder) if encoder is not None else None, texts)


class AnalysisPool:
    """`processes` children, each with a Kiwi of its own (and an encoder once asked to
    encode); batches are spread over them and handed back in order, while the parent turns
    earlier ones into segment arrays. `nice`: the children's lower priority (a serving bot)."""

    def __init__(self, workers: int, processes: int = 1, nice: int = 10) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(workers, nice)
        )  # fmt: skip

    def encode(
        self, batches: Iterable[list[str]], encoder: EncoderSetup | None = None, window: int = WINDOW
    ) -> Iterator[Encoded]:
        """Each batch analysed (and, with `encoder`, its passages encoded), in order. At most
        `window` batches are submitted ahead of the one handed over: `batches` is read as the
        children need it (a writer hands over a batch's texts only then), and a done future
        holds its result, so keeping every batch submitted kept the texts and the analysis of
        a whole write (a 1M build's parent grew ~190 MiB a 50k flush) where a flushed build
        should hold about one flush. A batch's future is let go once its result is handed over."""
        todo = iter(batches)
        futures: deque[Future[Encoded]] = deque()

        def submit() -> None:
            while len(futures) < window and (texts := next(todo, None)) is not None:
                futures.append(self._pool.submit(_encode, texts, encoder))

        try:
            submit()
            while futures:
                first = futures.popleft()
                submit()  # the children go on with the next ones while this one is handed over
                result = first.result()
                del first
                yield result
                del result
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
