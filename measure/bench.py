"""`quoteqa bench`: one reproducible run that measures build, cold start, queries, answers, ingestion.

The corpus is synthesised from real text: every source paragraph is cut into sentences, and runs
of consecutive sentences are reassembled into passages whose lengths follow the source's own
paragraph lengths, Korean and English in the proportion the sources have. The same seed gives
the same corpus. Questions come from the same SQuAD files (or, for a JSONL source, from words of
its sentences).

Query timings compare quoteqa's index with `rank_bm25.BM25Okapi` built from exactly the same
tokens in the same process; cold start, query, answer latency and serving memory are measured in
a fresh child process that loads the persisted index, so they are what a restarted bot sees.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.config import EngineConfig
from retrieval.corpus.files import split_paragraphs
from retrieval.index.bm25 import SearchParams
from retrieval.models import Article
from retrieval.text.analyze import HANGUL, Analyzer

from .squad import read_squad
from .stats import percentile

SENTENCE_CUT = re.compile(r"(?<=[.!?。])[\"'”’)\]]*\s+")
DEFAULT_SOURCES = ("KorQuAD_v1.0_dev.json", "xquad.en.json")
BASELINE_BUDGET = 20_000_000  # passages x questions timed with rank-bm25 by default (~1 min here)

Progress = Callable[[str, int], Callable[[int], None]]  # (label, total) -> update(n)


# --- corpus synthesis ------------------------------------------------------------------------
@dataclass
class SourceText:
    """Sentences of one language (in source order, paragraph boundaries kept) and its questions."""

    sentences: list[str] = field(default_factory=list)
    paragraph_lengths: list[int] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)


def cut_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in SENTENCE_CUT.split(paragraph) if s.strip()]


def read_sources(paths: Sequence[Path]) -> dict[str, SourceText]:
    """Korean and English text (by script) from SQuAD-format JSON or JSONL corpus files."""
    out = {"ko": SourceText(), "en": SourceText()}
    for path in paths:
        paragraphs: list[tuple[str, str]] = []  # (title, paragraph)
        questions: list[str] = []
        if path.suffix.lower() == ".jsonl":
            for line in path.read_text("utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    paragraphs.extend((row.get("title", ""), p) for p in split_paragraphs(row.get("text", "")))
        else:
            for art in read_squad(path):
                for para in art.paragraphs:
                    paragraphs.append((art.title, para.context))
                    questions.extend(qa.question for qa in para.qas)
        for title, para in paragraphs:
            lang = "ko" if HANGUL.search(para) else "en"
            src = out[lang]
            src.paragraph_lengths.append(len(para))
            src.sentences.extend(cut_sentences(para))
            if title:
                src.titles.append(title)
        for q in questions:
            out["ko" if HANGUL.search(q) else "en"].questions.append(q)
    return {k: v for k, v in out.items() if v.sentences}


@dataclass
class BenchCorpus:
    articles: list[dict[str, str]]  # JSONL rows: id, title, text (paragraphs joined by blank lines)
    n_passages: int
    n_chars: int
    korean_share: float  # of passages
    questions: list[str]


def synthesize(sources: dict[str, SourceText], n_passages: int, n_questions: int, seed: int) -> BenchCorpus:
    """Passages of consecutive source sentences, lengths and languages distributed as in the sources."""
    rng = random.Random(seed)
    langs = sorted(sources)
    weights = [len(sources[k].paragraph_lengths) for k in langs]
    articles: list[dict[str, str]] = []
    made = chars = korean = 0
    while made < n_passages:
        n_paras = min(rng.randint(1, 8), n_passages - made)
        lang = rng.choices(langs, weights)[0]
        src = sources[lang]
        paras = []
        for _ in range(n_paras):
            # A news paragraph: one to four sentences (wire copy rarely runs longer).
            n_sents = rng.randint(1, 4)
            i = rng.randrange(len(src.sentences))
            paras.append(" ".join(src.sentences[(i + k) % len(src.sentences)] for k in range(n_sents)))
        text = "\n\n".join(paras)
        title = rng.choice(src.titles) if src.titles else f"Article {len(articles) + 1}"
        articles.append({"id": f"bench-{len(articles) + 1:07d}", "title": title, "text": text})
        made += n_paras
        chars += sum(len(p) for p in paras)
        korean += n_paras if lang == "ko" else 0
    pool = [(k, q) for k in langs for q in sources[k].questions]
    if pool:
        rng.shuffle(pool)
        questions = [q for _, q in pool[:n_questions]]
        while len(questions) < n_questions:
            questions.append(rng.choice(pool)[1])
    else:  # a JSONL source has no questions: ask for words of its sentences
        questions = []
        for _ in range(n_questions):
            src = sources[rng.choice(langs)]
            words = rng.choice(src.sentences).split()
            start = rng.randrange(max(1, len(words) - 6))
            questions.append(" ".join(words[start : start + 6]))
    return BenchCorpus(articles, made, chars, korean / max(made, 1), questions)


def write_corpus(corpus: BenchCorpus, folder: Path, per_file: int = 5000) -> list[Path]:
    """The articles as JSONL files in a corpus folder (several files, as an archive would be)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, lo in enumerate(range(0, len(corpus.articles), per_file)):
        path = folder / f"archive-{n:04d}.jsonl"
        rows = corpus.articles[lo : lo + per_file]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        paths.append(path)
    return paths


# --- helpers ---------------------------------------------------------------------------------
def peak_rss_mib() -> float:
    """Peak resident set size of this process so far.

    Linux: VmHWM, which starts afresh in an exec'd child (ru_maxrss would carry the parent's peak).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def rss_split_mib() -> dict[str, float]:
    """Resident memory by kind (Linux): anonymous (the process's own) and file-backed (pages of
    the memory-mapped index, which the kernel can drop and read again)."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return out


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / (1 << 20)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / (1 << 30), 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _no_progress(label: str, total: int) -> Callable[[int], None]:
    return lambda n: None


def sample_questions(n_total: int, n: int, seed: int) -> list[int]:
    if n >= n_total:
        return list(range(n_total))
    return sorted(random.Random(seed).sample(range(n_total), n))


def default_baseline_questions(n_passages: int, n_questions: int) -> int:
    return max(10, min(n_questions, BASELINE_BUDGET // max(n_passages, 1)))


# --- the run ---------------------------------------------------------------------------------
@dataclass
class BenchResult:
    machine: dict[str, Any]
    command: str
    corpus: dict[str, Any]
    build: dict[str, Any]
    cold_start: dict[str, Any]
    queries: dict[str, Any]
    answers: dict[str, Any]
    ingest: dict[str, Any]
    under_ingest: dict[str, Any]
    serving: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_bench(
    sources: Sequence[Path],
    config: EngineConfig,
    n_passages: int = 100_000,
    n_questions: int = 1000,
    baseline_questions: int | None = None,
    seed: int = 13,
    workdir: Path | None = None,
    raw_sample_chars: int = 8_000_000,
    progress: Progress | None = None,
    show_build_progress: bool = False,
    command: str = "",
    live_passages: int = 10_000,
) -> BenchResult:
    """The whole benchmark of the product as `config` sets it up (its paths are replaced by the
    work folder's); `workdir` keeps the corpus and index (a temp folder otherwise)."""
    progress = progress or _no_progress
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="quoteqa-bench-")) if workdir is None else workdir
    try:
        return _run(
            sources, config, n_passages, n_questions, baseline_questions, seed, work,
            raw_sample_chars, progress, show_build_progress, command, live_passages,
        )  # fmt: skip
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)


def _run(
    sources: Sequence[Path], config: EngineConfig, n_passages: int, n_questions: int, baseline_questions: int | None,
    seed: int, work: Path, raw_sample_chars: int, progress: Progress, show_build_progress: bool, command: str,
    live_passages: int,
) -> BenchResult:  # fmt: skip
    """The bench's phases in order, each a function of its own: the corpus, raw Kiwi (the
    yardstick), the build, serving in a fresh process, rank-bm25 on the same tokens, live writes."""
    texts_by_lang = read_sources(sources)
    corpus = synthesize(texts_by_lang, n_passages, n_questions, seed)
    config = dataclasses.replace(config, corpus_dir=work / "corpus", data_dir=work / "data")
    shutil.rmtree(config.corpus_dir, ignore_errors=True)
    shutil.rmtree(config.data_dir, ignore_errors=True)
    write_corpus(corpus, config.corpus_dir)

    t = time.perf_counter()
    analyzer = Analyzer(workers=config.workers)
    kiwi_load = time.perf_counter() - t
    raw = _raw_kiwi(analyzer, corpus, raw_sample_chars, progress)
    from retrieval.index.segments.columns.anchors import anchors_for

    anchors_for(analyzer)  # the glossary's Korean forms analysed once, before the count of corpus passages starts
    analysed = _count_analysed(analyzer)
    engine, build = _build(config, analyzer, corpus, raw, analysed, progress if show_build_progress else None)

    n_base = baseline_questions or default_baseline_questions(corpus.n_passages, len(corpus.questions))
    base_rows = sample_questions(len(corpus.questions), min(n_base, len(corpus.questions)), seed)
    served = _serve_fresh(config, corpus, texts_by_lang, base_rows, live_passages, seed, work)
    queries = _against_rank_bm25(engine, config.search, base_rows, served, corpus.n_passages, progress)
    ingest = _live_writes(engine, config, texts_by_lang, analysed, seed, work)

    return BenchResult(
        machine=machine(),
        command=command,
        corpus={
            "sources": [p.name for p in sources],
            "seed": seed,
            "passages": corpus.n_passages,
            "articles": len(corpus.articles),
            "characters": corpus.n_chars,
            "mean_passage_chars": round(corpus.n_chars / max(corpus.n_passages, 1), 1),
            "korean_passage_share": round(corpus.korean_share, 3),
            "questions": len(corpus.questions),
        },
        build=build,
        cold_start={
            "kiwi_model_load_s": round(served["kiwi_load_s"], 2),
            "kiwi_model_load_s_builder": round(kiwi_load, 2),
            "index_load_s": round(served["index_load_s"], 3),
            "first_query_ready_s": round(served["ready_s"], 3),
        },
        queries=queries,
        answers={
            "questions": len(served["answer_ms"]),
            "p50_ms": round(percentile(served["answer_ms"], 50), 2),
            "p95_ms": round(percentile(served["answer_ms"], 95), 2),
            "answered_share": round(served["answered"] / max(len(served["answer_ms"]), 1), 3),
            "breakdown_p50_ms": served["breakdown_p50_ms"],
        },
        ingest=ingest,
        under_ingest=served["under_ingest"],
        serving={
            "rss_mib": round(served["rss_mib"], 1),
            "anon_mib": served.get("rss_split_mib", {}).get("RssAnon"),
            "file_mib": served.get("rss_split_mib", {}).get("RssFile"),
            "peak_rss_mib": round(served["peak_rss_mib"], 1),
            "kiwi_only_rss_mib": round(served["kiwi_rss_mib"], 1),
        },
    )


@dataclasses.dataclass(frozen=True, slots=True)
class RawKiwi:
    """Raw Kiwi on a sample of the same text: the yardstick the build is compared with."""

    chars: int
    wall_s: float
    cpu_s: float


def _raw_kiwi(analyzer: Analyzer, corpus: BenchCorpus, sample_chars: int, progress: Progress) -> RawKiwi:
    sample: list[str] = []
    size = 0
    for art in corpus.articles:
        for para in split_paragraphs(art["text"]):
            sample.append(para)
            size += len(para)
        if size >= sample_chars:
            break
    update = progress("raw Kiwi", len(sample))
    w0, c0 = time.perf_counter(), time.process_time()
    for i, _ in enumerate(analyzer.raw_korean_tokens(sample), start=1):
        if i % 500 == 0:
            update(500)
    raw = RawKiwi(size, time.perf_counter() - w0, time.process_time() - c0)
    update(-1)
    return raw


def _build(
    config: EngineConfig, analyzer: Analyzer, corpus: BenchCorpus, raw: RawKiwi, analysed: list[int],
    progress: Progress | None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """The real path (read the corpus folder, analyse, encode, build, save) with the product's config."""
    from retrieval.engine import Engine

    rss_before = rss_mib()
    w0, c0 = time.perf_counter(), time.process_time()
    engine = Engine.open(config, analyzer=analyzer, progress=progress)
    build_wall, build_cpu = time.perf_counter() - w0, time.process_time() - c0
    build_peak = peak_rss_mib()
    segments = engine.store.snapshot().segs
    raw_rate = raw.chars / raw.wall_s
    build_rate = corpus.n_chars / build_wall
    return engine, {
        "workers": analyzer.workers,
        "wall_s": round(build_wall, 2),
        "cpu_s": round(build_cpu, 2),
        "cores_used": round(build_cpu / build_wall, 2),
        "passages_per_s": round(corpus.n_passages / build_wall, 1),
        "chars_per_s": round(build_rate),
        "passages_analysed": analysed[0],
        "raw_kiwi_sample_chars": raw.chars,
        "raw_kiwi_wall_s": round(raw.wall_s, 2),
        "raw_kiwi_chars_per_s": round(raw_rate),
        "raw_kiwi_chars_per_cpu_s": round(raw.chars / raw.cpu_s),
        "build_chars_per_cpu_s": round(corpus.n_chars / build_cpu),
        "vs_raw_kiwi_wall": round(build_rate / raw_rate, 3),
        "vs_raw_kiwi_cpu": round((corpus.n_chars / build_cpu) / (raw.chars / raw.cpu_s), 3),
        "peak_rss_mib": round(build_peak, 1),
        "rss_before_mib": round(rss_before, 1),
        "index_mib_on_disk": round(dir_size(config.data_dir / "index") / (1 << 20), 1),
        "segments": len(segments),
        "vocabulary": max((s.seg.n_terms for s in segments), default=0),
        "postings": int(sum(len(s.seg.a["post_doc"]) for s in segments)),
    }


def _serve_fresh(
    config: EngineConfig, corpus: BenchCorpus, texts_by_lang: dict[str, SourceText], base_rows: list[int],
    live_passages: int, seed: int, work: Path,
) -> dict[str, Any]:  # fmt: skip
    """Cold start, query and answer latency: a fresh process that loads the persisted index and
    answers, also while a batch of `live_passages` is ingested."""
    qfile = work / "questions.json"
    qfile.write_text(json.dumps(corpus.questions, ensure_ascii=False), "utf-8")
    live = work / "incoming" / "live-batch.jsonl"  # ingested while the child answers
    live.parent.mkdir(parents=True, exist_ok=True)
    live_corpus = synthesize(texts_by_lang, live_passages, 1, seed + 2)
    live.write_text(
        "".join(json.dumps({**a, "id": "live-" + a["id"]}, ensure_ascii=False) + "\n" for a in live_corpus.articles),
        "utf-8",
    )
    return _serve_in_child(config, qfile, base_rows, live)


def _against_rank_bm25(
    engine: Any, search: SearchParams, base_rows: list[int], served: dict[str, Any], n_passages: int,
    progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    """rank-bm25 on exactly the same tokens (the index's own terms), in this process, on the okapi
    variant of the same k1 and b: it differs from the product's lucene only in the idf formula,
    which costs the same."""
    from rank_bm25 import BM25Okapi

    okapi = okapi_of(search)
    update = progress("rank-bm25 corpus", n_passages)
    docs = []
    built = engine.store.snapshot()
    for p, uid in enumerate(built.uids().tolist()):  # uid order: rank-bm25's row p is uid p
        docs.append(built.passage_terms(uid))
        if p % 10_000 == 9_999:
            update(10_000)
    t = time.perf_counter()
    oracle = BM25Okapi(docs, k1=okapi.k1, b=okapi.b)
    base_build = time.perf_counter() - t
    update(-1)
    del docs
    update = progress("rank-bm25 queries", len(base_rows))
    base_ms: list[float] = []
    agree: list[float] = []
    exact = 0
    for row, ours in zip(base_rows, served["baseline_top"]):
        terms = served["terms"][row]
        t = time.perf_counter()
        scores = oracle.get_scores(terms)
        top = _top10(scores)
        base_ms.append((time.perf_counter() - t) * 1000)
        a, same = _agreement(ours, top, scores)
        agree.append(a)
        exact += same
        update(1)
    update(-1)
    q_ours = served["query_ms"]
    ours_sample = [q_ours[r] for r in base_rows]
    return {
        "questions": len(q_ours),
        "p50_ms": round(percentile(q_ours, 50), 3),
        "p95_ms": round(percentile(q_ours, 95), 3),
        "baseline_questions": len(base_rows),
        "ours_p50_ms_on_baseline_sample": round(percentile(ours_sample, 50), 3),
        "rank_bm25_p50_ms": round(percentile(base_ms, 50), 1),
        "rank_bm25_p95_ms": round(percentile(base_ms, 95), 1),
        "rank_bm25_build_s": round(base_build, 1),
        "speedup_p50": round(percentile(base_ms, 50) / max(percentile(ours_sample, 50), 1e-9), 1),
        "top10_agreement_okapi": round(float(np.mean(agree)) if agree else float("nan"), 4),
        "top10_identical_ids": exact,
        "mean_query_terms": round(float(np.mean([len(t) for t in served["terms"]])), 1),
    }


def _live_writes(
    engine: Any, config: EngineConfig, texts_by_lang: dict[str, SourceText], analysed: list[int], seed: int,
    work: Path,
) -> dict[str, Any]:  # fmt: skip
    """Live writes in this running process: three 10-paragraph articles ingested one by one (copy
    into the corpus, analyse, write a segment, commit), each answerable right after; then one
    replaced and one removed, both through the store and through the corpus folder."""
    corpus_dir, data_dir = config.corpus_dir, config.data_dir
    fresh = ten_paragraph_articles(texts_by_lang, 8, seed + 1)  # each step below gets text of its own
    ingest_runs = []
    for n, art in enumerate(fresh[:3]):
        path = work / "incoming" / f"breaking-{n}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({k: v for k, v in art.items() if k != "marker"}, ensure_ascii=False) + "\n"
        path.write_text(line, "utf-8")
        before, files = analysed[0], file_states(corpus_dir, data_dir)
        t = time.perf_counter()
        report = engine.ingest([path])
        seconds = time.perf_counter() - t
        ingest_runs.append({
            "seconds": round(seconds, 3),
            "paragraphs": len(split_paragraphs(art["text"])),
            "passages_analysed": analysed[0] - before,
            "added": report.added,
            "answerable": answerable(engine, art),
            "bytes_written": written_since(files, corpus_dir, data_dir),
            "article_bytes": len(line.encode("utf-8")),
        })  # fmt: skip
    store = engine.store
    # Through the corpus folder, as an editor would: rewrite a file, delete one, reload.
    (corpus_dir / "breaking-2.jsonl").write_text(
        json.dumps({"id": fresh[2]["id"], "title": fresh[2]["title"], "text": fresh[3]["text"]}, ensure_ascii=False)
        + "\n",
        "utf-8",
    )
    t = time.perf_counter()
    folder_replace = engine.reload()
    folder_replace_s = time.perf_counter() - t
    (corpus_dir / "breaking-1.jsonl").unlink()
    t = time.perf_counter()
    folder_remove = engine.reload()
    folder_remove_s = time.perf_counter() - t
    cli = cli_ingest_minus_ask(config, [fresh[4], fresh[6], fresh[7]], work)
    # Through the store itself (what the targets name): replace one article, remove one.
    replacement = Article(fresh[0]["id"], fresh[5]["title"], split_paragraphs(fresh[5]["text"]))
    t = time.perf_counter()
    store.replace([replacement])
    replace_s = time.perf_counter() - t
    replaced_ok = answerable(engine, {"id": replacement.id, "marker": fresh[5]["marker"]})
    t = time.perf_counter()
    store.remove([fresh[2]["id"]])
    remove_s = time.perf_counter() - t
    ingest = {
        "runs": ingest_runs,
        "median_s": round(statistics.median(r["seconds"] for r in ingest_runs), 3),
        "passages_after": store.snapshot().n_passages,
        "replace_s": round(replace_s, 4),
        "replaced_answerable": replaced_ok,
        "remove_s": round(remove_s, 4),
        "folder_replace_s": round(folder_replace_s, 4),
        "folder_replaced": folder_replace.replaced,
        "folder_remove_s": round(folder_remove_s, 4),
        "folder_removed": folder_remove.removed,
        "segments_after": len(store.snapshot().segs),  # type: ignore[attr-defined]
    }
    ingest.update(cli)
    return ingest


def okapi_of(search: SearchParams) -> SearchParams:
    """rank-bm25's BM25Okapi scoring with the product's k1 and b (scores identical to it)."""
    return SearchParams("okapi", search.k1, search.b)


def _count_analysed(analyzer: Analyzer) -> list[int]:
    """Count passages that go through analysis (to show ingestion re-analyses nothing else):
    in this process, and in the analysis processes a build with vectors hands its batches to."""
    from retrieval.index.segments.pool import AnalysisPool

    counter = [0]
    original = analyzer.analyze_passages
    pool_encode = AnalysisPool.encode

    def counted(texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        texts = list(texts)
        counter[0] += len(texts)
        return original(texts, *args, **kwargs)

    def pool_counted(self, batches, *args, **kwargs):  # type: ignore[no-untyped-def]
        batches = list(batches)
        counter[0] += sum(map(len, batches))
        return pool_encode(self, batches, *args, **kwargs)

    analyzer.analyze_passages = counted  # type: ignore[method-assign]
    AnalysisPool.encode = pool_counted  # type: ignore[method-assign]
    return counter


def _top10(scores: np.ndarray) -> list[int]:
    positive = np.flatnonzero(scores > 0)
    if positive.size > 10:
        positive = positive[np.argpartition(-scores[positive], 9)[:10]]
    return positive[np.argsort(-scores[positive], kind="stable")].tolist()


def _agreement(ours: Sequence[int], ref: Sequence[int], ref_scores: np.ndarray) -> tuple[float, bool]:
    """Share of the top 10 that agree; a different id tied on score with the one it replaces counts."""
    if set(ours) == set(ref):
        return 1.0, True
    if len(ours) != len(ref):
        return len(set(ours) & set(ref)) / max(len(ref), 1), False
    a = np.sort(ref_scores[list(ours)])[::-1]
    b = np.sort(ref_scores[list(ref)])[::-1]
    if np.allclose(a, b, rtol=1e-5, atol=1e-6):
        return 1.0, False  # same scores, different ids among ties at the cut
    return len(set(ours) & set(ref)) / len(ref), False


# --- live writes --------------------------------------------------------------------------------
def ten_paragraph_articles(sources: dict[str, SourceText], n: int, seed: int) -> list[dict[str, str]]:
    """n articles of exactly ten paragraphs each (news-length), from the same sources. The
    first paragraph of each names a made-up word (`marker`), so a question about it has one
    right answer in a corpus whose sentences otherwise recur."""
    pool = synthesize(sources, 10 * n + 40, 1, seed).articles
    paragraphs = [p for art in pool for p in split_paragraphs(art["text"])]
    out = []
    for i in range(n):
        marker = marker_word(seed, i)
        paras = paragraphs[10 * i : 10 * i + 10]
        paras[0] = f"The {marker} report: {paras[0]}"
        out.append(
            {"id": f"breaking-{seed}-{i}", "title": pool[i]["title"], "text": "\n\n".join(paras), "marker": marker}
        )
    return out


def marker_word(seed: int, i: int) -> str:
    return "zq" + "".join(chr(97 + int(d)) for d in f"{seed}{i:03d}")


def file_states(*folders: Path) -> dict[Path, tuple[int, int, int]]:
    return {
        p: (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns)
        for f in folders
        for p in f.rglob("*")
        if p.is_file()
    }


def written_since(before: dict[Path, tuple[int, int, int]], *folders: Path) -> int:
    """Bytes of every file that is new or was rewritten since `before` (deleted files cost nothing)."""
    return sum(state[1] for p, state in file_states(*folders).items() if before.get(p) != state)


def answerable(engine: Any, art: dict[str, str]) -> bool:
    """A question about the article's made-up word is answered from that article."""
    answer = engine.ask(f"What is the {art['marker']} report?")
    return answer.answered and answer.quotes[0].source.article == art["id"]


def cli_ingest_minus_ask(config: EngineConfig, arts: Sequence[dict[str, str]], work: Path) -> dict[str, float]:
    """`quoteqa ingest one.md` and `quoteqa ask` as a user runs them, on the same index: the
    difference is what an ingest costs beyond starting up (both load Kiwi, whose load alone
    varies by a second on a busy machine, so each command's best of len(arts) runs counts)."""
    corpus_dir = config.corpus_dir
    env = {
        **os.environ,
        "QUOTEQA_CORPUS_DIR": str(corpus_dir),
        "QUOTEQA_DATA_DIR": str(config.data_dir),
        "QUOTEQA_WORKERS": str(config.workers),
        "QUOTEQA_ENCODER": config.encoder,
        "QUOTEQA_BM25_VARIANT": config.search.variant,
        "QUOTEQA_BM25_K1": str(config.search.k1),
        "QUOTEQA_BM25_B": str(config.search.b),
    }

    def run(*args: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, check=False, capture_output=True)
        return time.perf_counter() - t

    ask = min(run("ask", "What did the Kremlin say?") for _ in arts)
    times = []
    for n, art in enumerate(arts):
        one = work / "incoming" / f"one-{n}.md"
        one.write_text(f"---\ntitle: {art['title']}\n---\n{art['text']}\n", "utf-8")
        times.append(run("ingest", str(one)))
        if not (corpus_dir / one.name).exists():
            raise RuntimeError("the timed `quoteqa ingest` did not add its article")
    ingest = min(times)
    return {
        "cli_ask_s": round(ask, 3),
        "cli_ingest_s": round(ingest, 3),
        "cli_ingest_minus_ask_s": round(ingest - ask, 3),
    }


# --- the serving child -----------------------------------------------------------------------
def _serve_in_child(config: EngineConfig, qfile: Path, base_rows: list[int], live: Path) -> dict[str, Any]:
    rows = qfile.with_name("baseline_rows.json")
    rows.write_text(json.dumps(base_rows), "utf-8")
    out = qfile.with_name("served.json")
    config_file = qfile.with_name("config.pickle")  # the child opens exactly this config
    config_file.write_bytes(pickle.dumps(dataclasses.replace(config, serving=True)))
    cmd = [sys.executable, "-m", "measure.bench", "serve", str(config_file), str(qfile), str(rows), str(out), str(live)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text("utf-8"))


def serve(config_file: Path, qfile: Path, rows_file: Path, out: Path, live: Path) -> None:
    """Runs in a fresh process: load the product's config (pickled by the parent), answer every
    question, report timings and memory; then answer again while `live` (a big JSONL batch) is
    ingested by the same process."""
    from retrieval.engine import Engine

    config: EngineConfig = pickle.loads(config_file.read_bytes())  # written by this bench's parent
    questions: list[str] = json.loads(qfile.read_text("utf-8"))
    base_rows: list[int] = json.loads(rows_file.read_text("utf-8"))
    t = time.perf_counter()
    analyzer = Analyzer(workers=config.workers)
    kiwi_load = time.perf_counter() - t
    kiwi_rss = rss_mib()
    t = time.perf_counter()
    engine = Engine.open(config, analyzer=analyzer)
    index_load = time.perf_counter() - t
    store = engine.store.snapshot()
    store.search(["warm"], 10)
    ready = time.perf_counter() - t

    # Raw queries on the okapi variant (rank-bm25's), then back to the product's for answers.
    okapi = store.with_params(okapi_of(config.search))
    terms = [analyzer.terms(q) for q in questions]
    query_ms = []
    tops: dict[int, list[int]] = {}
    base = set(base_rows)
    for i, q in enumerate(terms):
        t = time.perf_counter()
        hits = okapi.search(q, 10)
        query_ms.append((time.perf_counter() - t) * 1000)
        if i in base:
            tops[i] = [p for p, _ in hits]

    analysis_ms, answer_ms = [], []
    answered = 0
    for q in questions:
        t = time.perf_counter()
        analyzer.question_words(q)
        analysis_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        try:
            a = engine.ask(q)
            answered += a.answered
        except Exception:  # noqa: BLE001 - a question the engine refuses still counts its time
            pass
        answer_ms.append((time.perf_counter() - t) * 1000)
    p50_a, p50_q, p50_all = percentile(analysis_ms, 50), percentile(query_ms, 50), percentile(answer_ms, 50)
    rss, peak, split = rss_mib(), peak_rss_mib(), rss_split_mib()
    under = _answer_during_ingest(engine, questions, live)
    under["idle_p95_ms"] = round(percentile(answer_ms, 95), 2)
    under["ratio_p95"] = round(under["p95_ms"] / max(under["idle_p95_ms"], 1e-9), 2)
    out.write_text(json.dumps({
        "kiwi_load_s": kiwi_load,
        "index_load_s": index_load,
        "ready_s": ready,
        "terms": terms,
        "query_ms": query_ms,
        "baseline_top": [tops[r] for r in base_rows],
        "answer_ms": answer_ms,
        "answered": answered,
        "breakdown_p50_ms": {
            "question_analysis": round(p50_a, 2),
            "retrieval": round(p50_q, 2),
            "sentence_choice_and_rest": round(max(p50_all - p50_a - p50_q, 0.0), 2),
        },
        "rss_mib": rss,
        "rss_split_mib": split,
        "peak_rss_mib": peak,
        "kiwi_rss_mib": kiwi_rss,
        "under_ingest": under,
    }, ensure_ascii=False), "utf-8")  # fmt: skip


def _answer_during_ingest(engine: Any, questions: list[str], live: Path) -> dict[str, Any]:
    """Questions asked in a loop while another thread of the same process ingests `live`."""
    import threading

    done = threading.Event()
    result: dict[str, Any] = {}

    def write() -> None:
        t = time.perf_counter()
        try:
            result["added"] = len(engine.ingest([live]).added)
        finally:
            result["seconds"] = time.perf_counter() - t
            done.set()

    writer = threading.Thread(target=write, name="bench-ingest")
    writer.start()
    latencies: list[float] = []
    i = 0
    while not done.is_set():
        t = time.perf_counter()
        try:
            engine.ask(questions[i % len(questions)])
        except Exception:  # noqa: BLE001 - refused questions still count their time
            pass
        latencies.append((time.perf_counter() - t) * 1000)
        i += 1
    writer.join()
    return {
        "ingest_passages": sum(
            len(split_paragraphs(json.loads(line)["text"]))
            for line in live.read_text("utf-8").splitlines()
            if line.strip()
        ),
        "ingest_s": round(result.get("seconds", 0.0), 1),
        "articles_added": result.get("added", 0),
        "questions": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
    }


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "serve":
        serve(*(Path(a) for a in sys.argv[2:7]))
    else:
        sys.exit("usage: python -m measure.bench serve CONFIG.pickle QUESTIONS ROWS OUT LIVE_JSONL")
