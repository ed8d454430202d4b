"""`quoteqa bench --semantic`: what the passage vectors cost (issue 19, the index side).

On the bench corpus (`measure/bench.py`'s synthesis, same seed, same sources):
- encode throughput of the sentence encoder alone, one process and two (one encoder and one BLAS
  thread each), on a sample of the corpus's passages;
- the index build without and with vectors (the real path: `Engine.open` on the corpus folder;
  with vectors a big build runs two analysis+encoder processes);
- vector bytes per passage as stored, and the index on disk;
- dense search (`Searcher.dense`, k=20) p50/p95 over the corpus's own questions encoded for
  real, with the exact numpy search over the same codes as the baseline and its recall@10;
  the same at `--scale` rows by tiling the codes (timing only: the kernel does not care);
- answer p50 without the encoder and "with" it: today's answer plus encoding the question and
  the dense search (what the answer side adds before fusion);
- one-shot `quoteqa ask` wall time with QUOTEQA_ENCODER=none and =use-m3 (warm cache);
- resident memory of this process after the dense searches (the vectors are mapped).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from .bench import read_sources, rss_mib, synthesize, write_corpus
from .stats import percentile

_enc: Any = None


def _start(cache: str) -> None:
    global _enc
    from retrieval.text.encoder import UseM3

    _enc = UseM3(cache, threads=1)


def _encode(texts: list[str]) -> tuple[int, float]:
    c = time.process_time()
    _enc.encode(texts)
    return len(texts), time.process_time() - c


def encode_rate(texts: Sequence[str], cache: Path, processes: int) -> tuple[float, float]:
    """Passages per second (wall) of the encoder alone in `processes` processes, start-up
    excluded, and per CPU-second (what a core gives when the machine is not shared)."""
    with ProcessPoolExecutor(
        processes, mp_context=get_context("spawn"), initializer=_start, initargs=(str(cache),)
    ) as pool:
        list(pool.map(_encode, [["warm up"]] * processes))
        step = max(1, len(texts) // (processes * 4))
        chunks = [list(texts[i : i + step]) for i in range(0, len(texts), step)]
        t = time.perf_counter()
        done = list(pool.map(_encode, chunks))
        wall = time.perf_counter() - t
        n, cpu = sum(d[0] for d in done), sum(d[1] for d in done)
        return n / wall, n / max(cpu, 1e-9)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the analysis processes)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def ask_wall(corpus: Path, data: Path, cache: Path, encoder: str, runs: int = 5) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    env.update(
        QUOTEQA_CORPUS_DIR=str(corpus),
        QUOTEQA_DATA_DIR=str(data),
        QUOTEQA_ENCODER=encoder,
        QUOTEQA_ENCODER_CACHE_DIR=str(cache),
    )
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "bot.cli", "ask", "What did the Kremlin say?"],
            env=env,
            capture_output=True,
            text=True,
        )
        if r.returncode not in (0, 1) or "Traceback" in r.stderr:  # 1: not answered
            raise RuntimeError(f"quoteqa ask failed: {r.stderr[-500:]}")
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def run_semantic(
    sources: Sequence[Path], n_passages: int = 20_000, n_questions: int = 300, seed: int = 13,
    workdir: Path | None = None, scale: Sequence[int] = (100_000,), encode_sample: int = 800,
) -> dict[str, Any]:  # fmt: skip
    from retrieval import Analyzer, Engine, EngineConfig
    from retrieval.index import vectors as V
    from retrieval.text.encoder import UseM3

    work = workdir or Path(tempfile.mkdtemp(prefix="quoteqa-sembench-"))
    corpus = synthesize(read_sources(sources), n_passages, n_questions, seed)
    corpus_dir = work / "corpus"
    shutil.rmtree(corpus_dir, ignore_errors=True)
    write_corpus(corpus, corpus_dir)
    cache = work / "encoder-cache"
    out: dict[str, Any] = {"passages": corpus.n_passages, "articles": len(corpus.articles), "questions": len(corpus.questions),
                           "mean_passage_chars": round(corpus.n_chars / max(corpus.n_passages, 1), 1)}  # fmt: skip

    t = time.perf_counter()
    UseM3(cache)  # the cold start writes the cache
    out["encoder_cold_start_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    enc = UseM3(cache, threads=1)
    out["encoder_warm_start_s"] = round(time.perf_counter() - t, 3)

    from retrieval.corpus.files import split_paragraphs

    sample = [p for a in corpus.articles for p in split_paragraphs(a["text"])][:encode_sample]
    for k in (1, 2):
        wall, per_cpu = encode_rate(sample, cache, k)
        out[f"encode_passages_per_s_{k}_process"] = round(wall, 1)
        out[f"encode_passages_per_cpu_s_{k}_process"] = round(per_cpu, 1)
    out["load_average_1min"] = os.getloadavg()[0]

    analyzer = Analyzer(workers=0)
    builds = {}
    engines = {}
    for name in ("none", "use-m3"):
        data = work / f"data-{name}"
        shutil.rmtree(data, ignore_errors=True)
        t, c0 = time.perf_counter(), _cpu()
        engines[name] = Engine.open(
            EngineConfig(corpus_dir, data, encoder=name, encoder_cache=cache), analyzer=analyzer
        )
        wall, cpu = time.perf_counter() - t, _cpu() - c0
        builds[name] = {"wall_s": round(wall, 1), "passages_per_s": round(corpus.n_passages / wall, 1),
                        "cpu_s": round(cpu, 1), "passages_per_cpu_s": round(corpus.n_passages / cpu, 1),
                        "index_mib": round(sum(p.stat().st_size for p in (data / "index").iterdir()) / (1 << 20), 1)}  # fmt: skip
    out["build"] = builds
    out["build_with_vectors_vs_lexical"] = round(builds["use-m3"]["wall_s"] / builds["none"]["wall_s"], 2)
    snap = engines["use-m3"].store.snapshot()
    segs = snap.segs  # type: ignore[attr-defined]
    out["encoder_stamp"] = snap.encoder_stamp
    out["vector_bytes_per_passage"] = sum(s.seg.a["vectors"].nbytes for s in segs) / max(snap.n_passages, 1)
    out["segments"] = len(segs)

    qv = enc.encode(corpus.questions)
    blocks = [(s.seg.a["vectors"], s.seg.vector_norms, s.seg.a["uid"], None) for s in segs]
    dense_ms, exact_ms, recall = [], [], []
    for q in qv:
        t = time.perf_counter()
        got = snap.dense(q, 20)
        dense_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ref = []
        for codes, norms, uids, _ in blocks:
            r, s = V.top_k(codes, norms, q, 20)
            ref.extend(zip(np.asarray(uids)[r].tolist(), s.tolist()))
        ref.sort(key=lambda x: (-x[1], x[0]))
        exact_ms.append((time.perf_counter() - t) * 1000)
        recall.append(len({u for u, _ in got[:10]} & {u for u, _ in ref[:10]}) / 10)
    out["dense"] = {"rows": snap.n_passages, "p50_ms": round(percentile(dense_ms, 50), 2), "p95_ms": round(percentile(dense_ms, 95), 2),
                    "numpy_exact_p50_ms": round(percentile(exact_ms, 50), 2), "recall_at_10_vs_exact": round(float(np.mean(recall)), 4)}  # fmt: skip
    codes = np.concatenate([s.seg.a["vectors"] for s in segs])
    rng = np.random.default_rng(seed)
    for size in scale:
        reps = -(-size // len(codes))
        big = np.concatenate([codes] * reps)[:size].copy()
        big[len(codes) :] = np.clip(
            big[len(codes) :].astype(np.int16) + rng.integers(-2, 3, big[len(codes) :].shape), -127, 127
        ).astype(np.int8)
        norms, uids = V.row_norms(big), np.arange(size, dtype=np.int64)
        ms, ex = [], []
        for q in qv[:100]:
            t = time.perf_counter()
            V.nearest(q, [(big, norms, uids, None)], 20)
            ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            V.top_k(big, norms, q, 20)
            ex.append((time.perf_counter() - t) * 1000)
        out[f"dense_at_{size}"] = {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
                                   "numpy_exact_p50_ms": round(percentile(ex, 50), 2)}  # fmt: skip
        del big

    ans = {}
    for name, engine in engines.items():
        ms = []
        for text in corpus.questions:
            t = time.perf_counter()
            engine.ask(text)
            if name != "none":
                e = engine.encoder
                assert e is not None
                engine.store.snapshot().dense(e.encode([text])[0], 20)
            ms.append((time.perf_counter() - t) * 1000)
        ans[name] = {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2)}
    out["answer"] = ans
    out["rss_mib"] = round(rss_mib(), 1)
    out["ask_wall_s"] = {
        name: round(ask_wall(corpus_dir, work / f"data-{name}", cache, name), 3) for name in ("none", "use-m3")
    }
    out["ask_wall_extra_s"] = round(out["ask_wall_s"]["use-m3"] - out["ask_wall_s"]["none"], 3)
    return out


if __name__ == "__main__":  # python -m measure.semantic_bench N [WORKDIR [QUESTIONS SCALE SAMPLE]]
    from .bench import DEFAULT_SOURCES

    def default_sources() -> list[Path]:
        return [Path(__file__).resolve().parent.parent.parent / "shared" / "data" / name for name in DEFAULT_SOURCES]

    a = sys.argv[1:]
    n = int(a[0]) if a else 20_000
    print(json.dumps(run_semantic(
        default_sources(), n, workdir=Path(a[1]) if len(a) > 1 else None, n_questions=int(a[2]) if len(a) > 2 else 300,
        scale=tuple(int(x) for x in a[3].split(",")) if len(a) > 3 else (100_000,), encode_sample=int(a[4]) if len(a) > 4 else 800,
    ), indent=1))  # fmt: skip
