"""`quoteqa bench --cluster`: the bench corpus built on a `distributed.LocalCluster` of 1 and then
2 worker processes on this machine (one thread each), the client in this process writing.

Printed per size: passages/s, the workers' busy share, the scheduler's overhead per batch (round
trips of empty tasks through the same window of batches in flight, against a batch's own
analysis time) and bytes shipped per passage each way. The load average is printed with them:
the machine is shared, and other processes' load shows in the figures.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from measure.build_bench import corpus_folder

if TYPE_CHECKING:
    from retrieval import EngineConfig


def cluster_build(
    sources: Sequence[Path], config: EngineConfig, n_passages: int, workers: Sequence[int] = (1, 2), seed: int = 13
) -> dict[str, Any]:
    """The bench corpus built on a LocalCluster of each size in `workers` with the product's
    `config` (the workers encode when it has an encoder); figures per size."""
    import distributed

    from bot.cluster import DaskAnalyser, quiet_dask
    from retrieval import Analyzer, Engine
    from retrieval.index.segments import writer
    from retrieval.path import load_encoder
    from retrieval.text.encoder import stamp_of

    quiet_dask()
    work = Path(tempfile.mkdtemp(prefix="quoteqa-cluster-"))
    out: dict[str, Any] = {"batch_passages": writer.ANALYSIS_BATCH, "runs": []}
    try:
        out["corpus"] = corpus_folder(sources, n_passages, seed, work / "corpus")
        analyzer = Analyzer(workers=1)  # the client's (it analyses nothing here: questions only)
        encoder = load_encoder(config)
        for n in workers:
            with distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster, distributed.Client(cluster, set_as_default=False) as client:  # fmt: skip
                client.wait_for_workers(n, timeout=120)
                # The plugin loads Kiwi (and the encoder) on each worker first.
                analyser = DaskAnalyser(client, stamp_of(encoder) if encoder is not None else None)
                overhead = _noop_round_trips(client, analyser.window, 200)
                engine = Engine.open(
                    dataclasses.replace(config, corpus_dir=work / "corpus", data_dir=work / f"data-{n}"),
                    analyzer=analyzer, encoder=encoder, sync=False,
                )
                engine.corpus.analyser = analyser
                load0 = os.getloadavg()
                t0 = time.perf_counter()
                engine.reload()
                wall = time.perf_counter() - t0
                st = analyser.stats
                per_batch = st.worker_seconds / max(st.batches, 1)
                out["runs"].append({
                    "workers": n, "wall_s": round(wall, 1), "passages_per_s": round(st.passages / wall, 1),
                    "batches": st.batches, "worker_s_per_batch": round(per_batch, 3),
                    "worker_busy_share": round(st.worker_seconds / (wall * n), 3),
                    "client_wait_s": round(st.wait_seconds, 1),
                    "scheduler_ms_per_batch": round(overhead * 1000, 2),
                    "scheduler_share_of_batch": round(overhead / per_batch, 4) if per_batch else None,
                    "bytes_sent_per_passage": round(st.bytes_sent / max(st.passages, 1), 1),
                    "bytes_back_per_passage": round(st.bytes_back / max(st.passages, 1), 1),
                    "load_average_before": load0, "load_average_after": os.getloadavg(),
                })  # fmt: skip
        runs = out["runs"]
        if len(runs) >= 2:
            out["speedup_2_vs_1"] = round(runs[1]["passages_per_s"] / runs[0]["passages_per_s"], 2)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _noop(i: int) -> int:
    return i


def _noop_round_trips(client: Any, window: int, n: int) -> float:
    """Seconds of scheduling per task on one worker: n empty tasks kept `window` in flight,
    as the build keeps its batches, wall time times workers over n."""
    from collections import deque

    n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    pending: deque[Any] = deque()
    t0 = time.perf_counter()
    for i in range(n):
        pending.append(client.submit(_noop, i, pure=False))
        if len(pending) >= window:
            pending.popleft().result()
    while pending:
        pending.popleft().result()
    return (time.perf_counter() - t0) * n_workers / n
