"""Build-only figures: a build's peak memory (flushed or in one piece) and a build on a Dask cluster.

`quoteqa bench --build-only --passages N [--flush P]`: the bench corpus is written to a folder,
then a fresh child process builds the index from it as `quoteqa ingest` would, and reports its
wall time and peak RSS (VmHWM: the child holds nothing but the build, so the figure is the
build's own). `--flush 1000000000` builds in one piece, as before flushing existed.

`quoteqa bench --cluster` (`bot/cli/cluster_bench.py`: it needs the cluster module of `bot`)
builds the same corpus on Dask workers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure.bench import peak_rss_mib, read_sources, synthesize, write_corpus


def corpus_folder(sources: Sequence[Path], n_passages: int, seed: int, folder: Path) -> dict[str, Any]:
    corpus = synthesize(read_sources(sources), n_passages, 1, seed)
    write_corpus(corpus, folder)
    return {"passages": corpus.n_passages, "articles": len(corpus.articles), "characters": corpus.n_chars}


def build_memory(sources: Sequence[Path], n_passages: int, flush: int | None, seed: int = 13) -> dict[str, Any]:
    """One local build in a fresh child process: wall, passages/s, peak RSS, segments."""
    work = Path(tempfile.mkdtemp(prefix="quoteqa-build-"))
    try:
        info = corpus_folder(sources, n_passages, seed, work / "corpus")
        out = subprocess.run(
            [sys.executable, "-m", "measure.build_bench", "child", str(work / "corpus"), str(work / "data"), str(flush or 0)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"the build child failed: {out.stderr[-2000:]}")
        found = json.loads(out.stdout.strip().splitlines()[-1])
        return {"corpus": info, "build": found, "load_average": os.getloadavg()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _child(corpus_dir: Path, data_dir: Path, flush: int) -> None:
    from retrieval import Engine, EngineConfig
    from retrieval.index.segments.flush import DEFAULT_FLUSH, FlushPolicy

    policy = FlushPolicy(flush, max(DEFAULT_FLUSH.merge_cap, 5 * flush)) if flush else DEFAULT_FLUSH
    t0 = time.perf_counter()
    engine = Engine.open(EngineConfig(corpus_dir, data_dir, flush=policy))
    wall = time.perf_counter() - t0
    segs = engine.store.snapshot().segs  # type: ignore[attr-defined]
    print(json.dumps({
        "wall_s": round(wall, 1), "passages_per_s": round(engine.store.snapshot().n_passages / wall, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1), "segments": [s.n_live for s in segs],
        "flush_passages": policy.passages, "merge_cap": policy.merge_cap,
    }))  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
