"""Analysis and encoding on a Dask cluster; the one writer stays here.

`quoteqa ingest --cluster tcp://HOST:8786` (or `QUOTEQA_DASK_SCHEDULER`) reads and checks the
sources here as always, cuts them into the store's analysis batches, and sends each batch's
texts to a Dask worker. A worker process holds one warm Kiwi and one encoder (`QuoteqaWorker`, a
`WorkerPlugin`, loads them once) and sends back the batch as finished segment data: flat term-id
arrays over the batch's own term list, and the passages' vector codes
(`retrieval.index.segments.pool.analyse_batch`, the same function the local child processes run).
The store here maps those into its segments and commits through its usual protocol, flush by
flush, while readers keep answering from the last commit.

Same index whatever the cluster: batches are consumed in the order they were submitted (a window
of them runs ahead on the workers), so uids, segments and answers equal a local build's whatever
the number of workers and the order in which batches finish. A worker that dies takes its
running batches with it; Dask runs them again elsewhere and the client, waiting on their
futures, never sees a batch twice. A worker whose quoteqa, analyser, format or encoder differ from
the client's is refused: its plugin fails at registration, and every batch checks again, with a
message saying which version to install.

Dask is an optional extra (`quoteqa[cluster]`); this module is imported only when asked for.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from distributed import Client, WorkerPlugin, get_worker
from distributed.comm.addressing import get_address_host_port

from retrieval.errors import QuoteQAError
from retrieval.index.segments.builder import Encoded
from retrieval.index.segments.format import FORMAT_VERSION
from retrieval.index.segments.pool import analyse_batch
from retrieval.text.analyze import ANALYZER_VERSION, Analyzer
from retrieval.text.encoder import encoder_from_name, stamp_of

log = logging.getLogger(__name__)
PLUGIN = "quoteqa"
WINDOW_PER_WORKER = 3  # batches in flight per worker: enough to hide a round trip, few held in memory


class ClusterError(QuoteQAError):
    """The cluster cannot be used for this build (unreachable, no workers, a worker refused)."""


class WorkerVersionError(ClusterError):
    """A worker runs another quoteqa, analyser, index format or encoder than the client."""


def versions(encoder: str | None = None) -> dict[str, str]:
    """What must match between the client and a worker for their segment data to mix."""
    try:
        package = metadata.version("quoteqa")
    except metadata.PackageNotFoundError:
        package = "unknown"
    out = {"quoteqa": package, "analyzer": str(ANALYZER_VERSION), "format": str(FORMAT_VERSION)}
    if encoder is not None:
        out["encoder"] = encoder
    return out


def _mismatch(mine: dict[str, str], theirs: dict[str, str], where: str) -> str | None:
    diff = [f"{k} {theirs.get(k)} here, {v} on the client" for k, v in mine.items() if theirs.get(k) != v]
    if not diff:
        return None
    return (
        f"worker {where} refused: {'; '.join(diff)}. Install the client's quoteqa ({mine.get('quoteqa')}) "
        "with the same encoder on every worker and restart it (`dask worker ...`)."
    )


@dataclass
class QuoteqaWorker(WorkerPlugin):
    """Loads Kiwi once per worker process (and each encoder on its first batch) and refuses a
    worker whose versions differ from `expect`, the client's."""

    expect: dict[str, str]
    kiwi_threads: int = 1
    name: str = PLUGIN
    analyzer: Analyzer | None = field(default=None, repr=False)
    refused: str | None = None
    _encoders: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __getstate__(self) -> dict[str, Any]:  # shipped to workers without what it loads there
        return {"expect": self.expect, "kiwi_threads": self.kiwi_threads, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def setup(self, worker: Any) -> None:
        mine = {k: v for k, v in versions().items()}
        self.refused = _mismatch({k: v for k, v in self.expect.items() if k != "encoder"}, mine, worker.address)
        if self.refused:
            raise WorkerVersionError(self.refused)
        self.analyzer = Analyzer(workers=self.kiwi_threads)

    def encoder(self, name: str) -> Any:
        """The named encoder, loaded on this worker's first batch that asks for it, with its
        start-up cache in `QUOTEQA_ENCODER_CACHE_DIR` or the worker's temp folder."""
        if name not in self._encoders:
            cache = os.environ.get("QUOTEQA_ENCODER_CACHE_DIR") or str(Path(tempfile.gettempdir()) / "quoteqa-encoder")
            enc = encoder_from_name(name, cache=cache, threads=1)
            stamp = stamp_of(enc) if enc is not None else None
            want = self.expect.get("encoder")
            if want is not None and stamp != want:
                raise WorkerVersionError(
                    f"worker refused: its encoder is {stamp}, the client's index is written with {want}; "
                    "install the client's quoteqa and encoder package versions on every worker"
                )
            self._encoders[name] = enc
        return self._encoders[name]


def run_batch(texts: list[str], encoder: str | None, expect: dict[str, str]) -> tuple[Encoded, float]:
    """A Dask task: one batch analysed (and encoded) on this worker; returns it and the seconds
    it took here (for the scheduler-overhead figure)."""
    t0 = time.perf_counter()
    plugin = get_worker().plugins.get(PLUGIN)
    if not isinstance(plugin, QuoteqaWorker) or plugin.analyzer is None:
        raise ClusterError("this worker has no quoteqa plugin loaded; the client registers it before a build")
    problem = plugin.refused or _mismatch(
        {k: v for k, v in expect.items() if k != "encoder"}, versions(), get_worker().address
    )
    if problem:
        raise WorkerVersionError(problem)
    with plugin._lock:  # one Kiwi per process: threads of one worker take turns
        enc = plugin.encoder(encoder) if encoder else None
        out = analyse_batch(plugin.analyzer, enc, texts)
    return out, time.perf_counter() - t0


@dataclass
class ClusterStats:
    """What a build cost on the cluster, for `quoteqa bench --cluster`."""

    batches: int = 0
    passages: int = 0
    bytes_sent: int = 0  # pickled texts
    bytes_back: int = 0  # the arrays and term lists returned
    worker_seconds: float = 0.0  # time inside `run_batch`, summed over batches
    wait_seconds: float = 0.0  # time the client waited for the next batch in order


class DaskAnalyser:
    """A `BatchAnalyser` over a Dask cluster: `encode` submits the batches (a window of them at
    a time) and yields their results in submission order."""

    def __init__(self, client: Client, encoder_stamp: str | None, window: int | None = None) -> None:
        self.client = client
        self.expect = versions(encoder_stamp)
        n = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        self.window = window or WINDOW_PER_WORKER * n
        self.stats = ClusterStats()
        try:
            client.register_plugin(QuoteqaWorker(self.expect), name=PLUGIN)
        except WorkerVersionError:
            raise
        except Exception as exc:  # a worker's setup failed for another reason: say which
            raise ClusterError(f"a Dask worker could not load quoteqa ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def connect(cls, address: str, encoder_stamp: str | None, timeout: float = 30.0) -> DaskAnalyser:
        quiet_dask()
        _probe(address)
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as exc:
            raise ClusterError(_unreachable(address, exc)) from exc
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as exc:
            client.close()
            raise ClusterError(
                f"the Dask scheduler at {address} has no workers; start some with `dask worker {address}`"
            ) from exc
        analyser = cls(client, encoder_stamp)
        workers = client.scheduler_info(n_workers=-1).get("workers", {})
        log.info(
            "analysing on the Dask cluster at %s: %d worker(s), %d thread(s), %d batch(es) in flight",
            address, len(workers), sum(int(w.get("nthreads", 0)) for w in workers.values()), analyser.window,
        )  # fmt: skip
        return analyser

    def encode(self, batches: Iterable[list[str]], encoder: tuple[str, Any] | None = None) -> Iterator[Encoded]:
        name = encoder[0] if encoder is not None else None
        stats = self.stats
        pending: deque[Any] = deque()
        todo = iter(batches)

        def submit() -> bool:
            texts = next(todo, None)
            if texts is None:
                return False
            stats.bytes_sent += len(pickle.dumps(texts, protocol=5))
            stats.passages += len(texts)
            pending.append(self.client.submit(run_batch, texts, name, self.expect, pure=False))
            return True

        try:
            while len(pending) < self.window and submit():
                pass
            while pending:
                t0 = time.perf_counter()
                fut = pending.popleft()
                (part, vocab), seconds = fut.result()
                stats.wait_seconds += time.perf_counter() - t0
                stats.batches += 1
                stats.worker_seconds += seconds
                stats.bytes_back += sum(a.nbytes for a in part.values()) + sum(len(t.encode("utf-8")) for t in vocab)
                fut.release()
                submit()
                yield part, vocab
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        st = self.stats
        if st.batches:
            log.info(
                "the Dask cluster analysed %d batch(es), %d passage(s): %.1f s on the workers, %.1f s waited for here",
                st.batches, st.passages, st.worker_seconds, st.wait_seconds,
            )  # fmt: skip
        self.client.close()


PROBE_SECONDS = 3.0  # a TCP connect to a scheduler that is up takes milliseconds


def _unreachable(address: str, exc: BaseException) -> str:
    return (
        f"cannot reach the Dask scheduler at {address} ({exc}); start it with `dask scheduler` "
        "and check --cluster / QUOTEQA_DASK_SCHEDULER"
    )


def _probe(address: str) -> None:
    """Fail in seconds when nothing listens at a TCP scheduler address: Dask's client retries a
    refused connection until its timeout (30 s) and then reports only a timeout."""
    try:
        host, port = get_address_host_port(address)
    except ValueError:
        return  # another transport (inproc://, ucx://): Dask's own connect decides
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        raise ClusterError(_unreachable(address, exc.strerror or exc)) from None


def quiet_dask() -> None:
    """Dask logs every connection at INFO on its own handlers; a build's output stays ours."""
    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
