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

from .bench import cli_ingest_minus_ask, read_sources, synthesize, ten_paragraph_articles, write_corpus

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
    workdir: Path | None = None, encode_sample: int = 800, synthetic_vectors: bool | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The semantic bench. `synthetic_vectors` (default: above 200k passages) builds the index
    with synthesised vectors (`measure/ann_bench.py`: each passage the mean of its sentences'
    real vectors) instead of encoding every passage, and measures serving only."""
    from retrieval import Analyzer, Engine, EngineConfig
    from retrieval.text.encoder import UseM3

    work = workdir or Path(tempfile.mkdtemp(prefix="quoteqa-sembench-"))
    corpus = synthesize(read_sources(sources), n_passages, n_questions, seed)
    corpus_dir = work / "corpus"
    shutil.rmtree(corpus_dir, ignore_errors=True)
    write_corpus(corpus, corpus_dir)
    cache = work / "encoder-cache"
    out: dict[str, Any] = {"passages": corpus.n_passages, "articles": len(corpus.articles), "questions": len(corpus.questions),
                           "mean_passage_chars": round(corpus.n_chars / max(corpus.n_passages, 1), 1)}  # fmt: skip

    if synthetic_vectors if synthetic_vectors is not None else n_passages > 200_000:
        from .ann_bench import build_synthetic, measure

        out["vectors"] = (
            "synthesised: each passage's vector is the normalised mean of its sentences' real USE-m3 vectors"
        )
        out["build"] = build_synthetic(corpus, corpus_dir, work / "data-use-m3", cache, work)
        out["serving"] = measure(work / "data-use-m3", corpus_dir, corpus.questions, cache)
        return out
    t = time.perf_counter()
    UseM3(cache)  # the cold start writes the cache
    out["encoder_cold_start_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    UseM3(cache, threads=1)
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
    print(json.dumps(out), file=sys.stderr, flush=True)  # the builds' figures, before anything later can fail
    snap = engines["use-m3"].store.snapshot()
    segs = snap.segs  # type: ignore[attr-defined]
    out["encoder_stamp"] = snap.encoder_stamp
    out["vector_bytes_per_passage"] = sum(s.seg.a["vectors"].nbytes for s in segs) / max(snap.n_passages, 1)
    out["segments"] = len(segs)

    del engines
    return out | serving_figures(work, corpus_dir, cache, corpus.questions, sources, seed)


def serving_figures(
    work: Path,
    corpus_dir: Path,
    cache: Path,
    questions: Sequence[str],
    sources: Sequence[Path],
    seed: int,
    serving: bool = True,
) -> dict[str, Any]:
    """Everything measured on the built indexes `work/data-none` and `work/data-use-m3`: serving
    (`ann_bench.measure`), one-shot ask, `ingest` then `ask`, one article found by meaning."""
    from retrieval import EngineConfig

    from .ann_bench import measure

    out: dict[str, Any] = {}
    if serving:
        out["serving"] = measure(work / "data-use-m3", corpus_dir, questions, cache)
        print(json.dumps(out), file=sys.stderr, flush=True)  # a long run shows its figures as they come
    (work / "incoming").mkdir(parents=True, exist_ok=True)
    out["ask_wall_s"] = {
        name: round(ask_wall(corpus_dir, work / f"data-{name}", cache, name), 3) for name in ("none", "use-m3")
    }
    out["ask_wall_extra_s"] = round(out["ask_wall_s"]["use-m3"] - out["ask_wall_s"]["none"], 3)
    out["load_average_1min_after_ask"] = os.getloadavg()[0]
    print(json.dumps(out), file=sys.stderr, flush=True)
    fresh = ten_paragraph_articles(read_sources(sources), 3, seed + 1)
    saved = {k: os.environ.get(k) for k in ("QUOTEQA_ENCODER", "QUOTEQA_ENCODER_CACHE_DIR")}
    os.environ.update(QUOTEQA_ENCODER="use-m3", QUOTEQA_ENCODER_CACHE_DIR=str(cache))
    try:
        config = EngineConfig(corpus_dir, work / "data-use-m3", workers=0, encoder="use-m3", encoder_cache=cache)
        out["cli_ingest_then_ask"] = cli_ingest_minus_ask(config, fresh, work)
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    belebele = Path(sources[0]).parent / "belebele-dev"
    if (belebele / "kor_Hang.jsonl").exists():
        out["article_by_meaning"] = article_by_meaning(corpus_dir, work / "data-use-m3", cache, belebele, work)
    out["load_average_1min_end"] = os.getloadavg()[0]
    return out


def belebele_articles(folder: Path, n: int) -> list[tuple[dict[str, str], str, str]]:
    """n articles of ten Korean Belebele passages each (one paragraph a passage), each with the
    English question about its first passage: (article, question, first passage)."""
    ko = [json.loads(x) for x in (folder / "kor_Hang.jsonl").read_text("utf-8").splitlines() if x.strip()]
    en = [json.loads(x) for x in (folder / "eng_Latn.jsonl").read_text("utf-8").splitlines() if x.strip()]
    english = {r["metadata"]["extra"]["url"]: r["items"][0]["question"] for r in en if r.get("items")}
    passages: dict[str, dict[str, Any]] = {}
    for r in ko:
        if r["link"] in english:
            passages.setdefault(r["link"], r)
    rows = list(passages.values())
    out = []
    for i in range(n):
        group = rows[10 * i : 10 * i + 10]
        first = group[0]
        art = {
            "id": f"belebele-ko-{i}",
            "title": f"Belebele {i}",
            "text": "\n\n".join(r["flores_passage"] for r in group),
        }
        out.append((art, english[first["link"]], first["flores_passage"]))
    return out


def article_by_meaning(corpus_dir: Path, data_dir: Path, cache: Path, belebele: Path, work: Path) -> dict[str, Any]:
    """In a running process with the encoder: ingest one 10-paragraph Korean article, then ask an
    English question about it (no shared words: only meaning finds it). Timed: ingest plus the
    answer; answerable: the first quote comes from the article. The words-only engine over the
    same index is asked too (expected: not from the article)."""
    from retrieval import Engine, EngineConfig

    sem = Engine.open(EngineConfig(corpus_dir, data_dir, encoder="use-m3", encoder_cache=cache), sync=False)
    lex = Engine.open(EngineConfig(corpus_dir, data_dir, encoder="none"), encoder=None, sync=False)
    sem.ask("What did the Kremlin say?")  # first-use caches warm
    runs = []
    for art, question, _ in belebele_articles(belebele, 3):
        path = work / "incoming" / f"{art['id']}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(art, ensure_ascii=False) + "\n", "utf-8")
        t = time.perf_counter()
        sem.ingest([path])
        ingest_s = time.perf_counter() - t
        answer = sem.ask(question)
        total = time.perf_counter() - t
        words = lex.ask(question)
        runs.append({"ingest_s": round(ingest_s, 3), "ingest_and_answer_s": round(total, 3), "question": question,
                     "answerable": bool(answer.quotes) and answer.quotes[0].source.article == art["id"],
                     "verdict": answer.verdict,
                     "words_only_from_article": bool(words.quotes) and words.quotes[0].source.article == art["id"]})  # fmt: skip
    return {
        "runs": runs,
        "median_ingest_and_answer_s": round(statistics.median(r["ingest_and_answer_s"] for r in runs), 3),
    }


def main(argv: Sequence[str]) -> None:
    """`python -m measure.semantic_bench N [WORKDIR [QUESTIONS [SAMPLE]]]`: the semantic bench.
    `python -m measure.semantic_bench serving WORKDIR N [SEED] [--no-measure]`: a `quoteqa bench
    --semantic` workdir, built (data-none, data-use-m3); builds missing HNSW graphs (verify), then
    every serving figure. (`serving` lived among ann_bench's commands, which made the two modules
    import each other.)"""
    from .ann_bench import default_sources

    cmd, *a = argv or ["20000"]
    if cmd != "serving":
        a = [cmd, *a]
        print(json.dumps(run_semantic(
            default_sources(), int(a[0]), workdir=Path(a[1]) if len(a) > 1 else None,
            n_questions=int(a[2]) if len(a) > 2 else 300, encode_sample=int(a[3]) if len(a) > 3 else 800,
        ), indent=1))  # fmt: skip
    else:
        from retrieval.index.segments.store import SegmentStore

        work, n, seed = Path(a[0]), int(a[1]), int(a[2]) if len(a) > 2 and a[2].isdigit() else 13
        t = time.perf_counter()
        repaired = SegmentStore(work / "data-use-m3" / "index").verify()
        out = {"graphs_built_by_verify": repaired, "verify_s": round(time.perf_counter() - t, 1)}
        corpus = synthesize(read_sources(default_sources()), n, 300, seed)
        out |= serving_figures(
            work,
            work / "corpus",
            work / "encoder-cache",
            corpus.questions,
            default_sources(),
            seed,
            "--no-measure" not in a,
        )
        print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
