"""Dense search at scale (issue 19, the speed side): HNSW against exact search, and the answer cost
with and without the sentence encoder, on an index that holds passage vectors.

Three parts, each a function and a command:

- `measure(data_dir, corpus_dir, ...)`: on a built index with vectors, the question vectors of the
  bench's real questions; dense search exact (usearch's int8 kernel + exact rescoring, the path
  small segments keep) against the HNSW path, recall@10 of the latter; the HNSW files' build time
  and bytes; answer p50/p95 with the encoder and without it (two engines over the same index, the
  questions alternated in this one process, so the ratio is a same-machine-state baseline); serving
  RSS of a fresh child process that answers every question with the encoder.
- `tune(codes, queries)`: recall@10 / search ms / build s / bytes for a grid of HNSW settings
  (i8 vs f16 storage, M, ef) on the same vectors; what `HnswParams`'s docstring reports.
- `build_synthetic(n, workdir)`: a bench corpus of n passages whose vectors are *synthesised*:
  every source sentence is encoded for real (USE-m3), and a passage's vector is the normalised
  mean of its sentences' vectors (the bench's passages are runs of source sentences). Encoding 1M
  passages for real takes ~1.5 h here; `mean_vs_real` says how close the synthesis is to real
  passage vectors (cosine), measured on passages encoded both ways.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .bench import cut_sentences, read_sources, rss_mib, rss_split_mib, synthesize
from .stats import percentile

_enc: Any = None


def _start(cache: str) -> None:
    global _enc
    from retrieval.text.encoder import UseM3

    _enc = UseM3(cache, threads=1)


def _encode(texts: list[str]) -> npt.NDArray[np.float32]:
    return _enc.encode(texts)


def encode_all(texts: Sequence[str], cache: Path, processes: int = 2, chunk: int = 256) -> npt.NDArray[np.float32]:
    """Real USE-m3 vectors of `texts` in `processes` processes (one BLAS thread each)."""
    if not texts:
        return np.zeros((0, 512), np.float32)
    with ProcessPoolExecutor(
        processes, mp_context=get_context("spawn"), initializer=_start, initargs=(str(cache),)
    ) as pool:
        parts = list(pool.map(_encode, [list(texts[i : i + chunk]) for i in range(0, len(texts), chunk)]))
    return np.concatenate(parts)


class SentenceMean:
    """An encoder stand-in for a synthetic corpus: a passage's vector is the normalised mean of its
    sentences' real vectors (looked up in `table`). Stamped as the real encoder it stands in for,
    so the real encoder's question vectors are compared with these."""

    def __init__(self, real: Any, table: dict[str, npt.NDArray[np.float32]]) -> None:
        self.name, self.dim, self.version = real.name, real.dim, real.version
        self.real, self.table = real, table

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        cut = [cut_sentences(t) or [t] for t in texts]
        missing = sorted({s for ss in cut for s in ss if s not in self.table})
        if missing:
            self.table.update(zip(missing, self.real.encode(missing), strict=True))
        out = np.stack([np.mean([self.table[s] for s in ss], axis=0) for ss in cut]).astype(np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def default_sources() -> list[Path]:
    from .bench import DEFAULT_SOURCES

    return [Path(__file__).resolve().parent.parent.parent / "shared" / "data" / name for name in DEFAULT_SOURCES]


def build_synthetic(corpus: Any, corpus_dir: Path, data: Path, cache: Path, work: Path) -> dict[str, Any]:
    """Index a bench corpus (already written to `corpus_dir`) into `data` by the real build path
    (analysis processes, one segment, its HNSW graph), its vectors synthesised (module doc)."""
    from retrieval import Engine, EngineConfig
    from retrieval.corpus.files import split_paragraphs
    from retrieval.text.encoder import UseM3

    real = UseM3(cache, threads=1)
    sentences = sorted({s for a in corpus.articles for p in split_paragraphs(a["text"]) for s in cut_sentences(p)})
    t = time.perf_counter()
    table = dict(zip(sentences, _sentence_table(sentences, work), strict=True))
    encode_s = time.perf_counter() - t
    t = time.perf_counter()
    Engine.open(EngineConfig(corpus_dir, data, encoder="none", encoder_cache=cache), encoder=SentenceMean(real, table))
    build_s = time.perf_counter() - t
    return {"passages": corpus.n_passages, "sentences_encoded": len(sentences), "sentence_encode_s": round(encode_s, 1),
            "build_s": round(build_s, 1), "passages_per_s": round(corpus.n_passages / build_s, 1),
            "load_average_1min": os.getloadavg()[0]}  # fmt: skip


def mean_vs_real(texts: Sequence[str], real_vectors: npt.NDArray[np.float32], cache: Path) -> dict[str, float]:
    """Cosine between passages' real vectors and their sentence-mean synthesis."""
    from retrieval.text.encoder import UseM3

    real = UseM3(cache, threads=1)
    synth = SentenceMean(real, {}).encode(list(texts))
    cos = np.einsum("ij,ij->i", synth, real_vectors)
    return {
        "passages": len(texts),
        "cosine_mean": round(float(cos.mean()), 4),
        "cosine_p5": round(float(np.percentile(cos, 5)), 4),
    }


# --- HNSW settings ----------------------------------------------------------------------------
TIE = 1e-5  # cosines this close to the 10th best count as tied with it


def recall_at_10(found_sims: Sequence[float], exact_sims: Sequence[float]) -> float:
    """Share of the exact top 10 that the search found, ties counted: a found passage whose
    (exactly rescored) cosine reaches the exact 10th best is as good as the one exact search
    listed (the bench corpus repeats sentences, so equal vectors are common)."""
    ref = list(exact_sims)[:10]
    if not ref:
        return 1.0
    return min(sum(1 for s in list(found_sims)[:10] if s >= ref[-1] - TIE), len(ref)) / len(ref)


def exact_top(
    codes: npt.NDArray[np.int8], norms: npt.NDArray[np.float32], q: npt.NDArray[np.float32], k: int
) -> list[float]:
    """The exact top k's cosines (every row scored with the float question)."""
    from retrieval.index import vectors as V

    return V.top_k(codes, norms, q, k)[1].tolist()


GRID = (("codes", 16, 128), ("signs", 16, 128), ("levels", 16, 128))  # (what the graph holds, M, ef_add)
EF_SEARCH = (128, 256, 512, 1024)


def tune(
    codes: npt.NDArray[np.int8], queries: npt.NDArray[np.float32], grid: Sequence[tuple[str, int, int]] = GRID,
    efs: Sequence[int] = EF_SEARCH, k: int = 20, oversample: Sequence[int] = (2, 5),
) -> list[dict[str, Any]]:  # fmt: skip
    """recall@10 (of the top k, oversampled and rescored as the store does) per setting."""
    import tempfile

    from retrieval.index import ann
    from retrieval.index import vectors as V

    norms = V.row_norms(codes)
    refs = [exact_top(codes, norms, q, 10) for q in queries]
    rows = []
    for sketch, m, efc in grid:
        params = ann.HnswParams(min_rows=1, connectivity=m, expansion_add=efc, sketch=sketch)
        with tempfile.TemporaryDirectory() as tmp:
            meta = ann.build(Path(tmp), "tune", codes, "x", params)
            assert meta is not None
            for ef in efs:
                graph = ann.AnnIndex.open(Path(tmp), "tune", len(codes), "x", ann.HnswParams(expansion_search=ef))
                for over in oversample:
                    graph.oversample = over
                    ms, rec = [], []
                    for q, ref in zip(queries, refs, strict=True):
                        t = time.perf_counter()
                        got = graph.top(codes, norms, q, k, None, len(codes))
                        ms.append((time.perf_counter() - t) * 1000)
                        assert got is not None
                        rec.append(recall_at_10(got[1].tolist(), ref))
                    rows.append({"sketch": sketch, "M": m, "ef_add": efc, "ef_search": ef, "oversample": over,
                                 "recall_at_10": round(float(np.mean(rec)), 4), "p50_ms": round(percentile(ms, 50), 3),
                                 "p95_ms": round(percentile(ms, 95), 3), "build_s": meta["build_s"],
                                 "bytes_per_row": round(meta["size"] / len(codes), 1), "load_average_1min": os.getloadavg()[0]})  # fmt: skip
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
                del graph
    return rows


def sketch_bound(
    codes: npt.NDArray[np.int8], queries: npt.NDArray[np.float32], candidates: Sequence[int] = (100, 200, 400)
) -> list[dict[str, Any]]:
    """recall@10 of each kind of graph sketch without a graph: the `candidates` rows nearest the
    question's sketch by brute force, rescored exactly. What a graph over that sketch can reach
    at best (`tune` then shows what the graph keeps of it)."""
    from usearch.index import MetricKind, search

    from retrieval.index import ann
    from retrieval.index import vectors as V

    norms = V.row_norms(codes)
    refs = [exact_top(codes, norms, q, 10) for q in queries]
    dim = codes.shape[1]
    rng = np.random.default_rng(0)
    rotation = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
    unit = V.dequantise(codes, norms)
    mean = unit.mean(axis=0)
    pcs = np.linalg.eigh(np.cov(unit[:: max(1, len(unit) // 50_000)].T))[1][:, ::-1][:, : dim // 4].astype(np.float32)
    kinds: dict[str, tuple[Any, Any]] = {
        "signs": (lambda c: ann.sketch(c, "signs"), MetricKind.Hamming),
        "signs, rotated": (lambda c: np.packbits(V.dequantise(c) @ rotation > 0, axis=1), MetricKind.Hamming),
        f"i8 PCA to {dim // 4}": (lambda c: V.quantise((V.dequantise(c) - mean) @ pcs), MetricKind.Cos),
        **{f"levels t={t}": ((lambda c, t=t: ann.sketch(c, "levels", t)), MetricKind.Hamming) for t in (0.2, 0.35, 0.5, 0.6)},
    }  # fmt: skip
    del unit
    rows_out = []
    for name, (fn, metric) in kinds.items():
        table, qs = np.ascontiguousarray(fn(codes)), fn(V.quantise(queries))
        for want in candidates:
            rec = []
            for q, s, ref in zip(queries, qs, refs, strict=True):
                keys = np.asarray(search(table, s[None, :], want, metric, exact=True, threads=0).keys, np.int64)
                rows = np.sort(keys[(keys >= 0) & (keys < len(codes))])
                sims = (codes[rows].astype(np.float32) @ q) / np.maximum(norms[rows], 1e-12)
                rec.append(recall_at_10(sorted(sims.tolist(), reverse=True)[:10], ref))
            rows_out.append({"sketch": name, "bytes_per_row": table.shape[1], "candidates": want,
                             "recall_at_10": round(float(np.mean(rec)), 4)})  # fmt: skip
            print(json.dumps(rows_out[-1]), file=sys.stderr, flush=True)
    return rows_out


def _sentence_table(sentences: list[str], work: Path) -> npt.NDArray[np.float32]:
    """Real vectors of `sentences`, in order; kept in `work` so a second run encodes only new ones."""
    f_text, f_vec = work / "sentences.json", work / "sentences.npy"
    known: dict[str, npt.NDArray[np.float32]] = {}
    if f_text.exists() and f_vec.exists():
        known = dict(zip(json.loads(f_text.read_text("utf-8")), np.load(f_vec), strict=True))
    missing = [s for s in sentences if s not in known]
    known.update(zip(missing, encode_all(missing, work / "encoder-cache"), strict=True))
    f_text.write_text(json.dumps(list(known), ensure_ascii=False), "utf-8")
    np.save(f_vec, np.stack(list(known.values())))
    return np.stack([known[s] for s in sentences])


def synthetic_codes(n: int, work: Path, seed: int = 13) -> tuple[npt.NDArray[np.int8], list[str]]:
    """int8 codes of n bench passages' sentence-mean vectors (module doc), and the questions."""
    from retrieval.corpus.files import split_paragraphs
    from retrieval.index import vectors as V

    corpus = synthesize(read_sources(default_sources()), n, 300, seed)
    cut = [cut_sentences(p) or [p] for a in corpus.articles for p in split_paragraphs(a["text"])]
    sentences = sorted({s for ss in cut for s in ss})
    table = _sentence_table(sentences, work)
    row = {s: i for i, s in enumerate(sentences)}
    codes = np.empty((len(cut), table.shape[1]), np.int8)
    for lo in range(0, len(cut), 50_000):
        part = cut[lo : lo + 50_000]
        idx = np.fromiter((row[s] for ss in part for s in ss), np.int64)
        owner = np.repeat(np.arange(len(part)), [len(ss) for ss in part])
        sums = np.zeros((len(part), table.shape[1]), np.float32)
        np.add.at(sums, owner, table[idx])
        codes[lo : lo + len(part)] = V.quantise(sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12))
    return codes, corpus.questions


def scale(n: int, work: Path, k: int = 20) -> dict[str, Any]:
    """Dense search over n synthesised passage vectors (no lexical index): exact vs HNSW (built by
    the store's own `ann.build` with the shipped parameters), recall@10, build time and bytes,
    and this process's RSS growth from mapping the codes and the graph and searching."""
    from retrieval.index import ann
    from retrieval.index import vectors as V
    from retrieval.text.encoder import UseM3

    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    codes, questions = synthetic_codes(n, work)
    synth_s = time.perf_counter() - t
    codes_file = work / f"codes-{n}.npy"
    np.save(codes_file, codes)
    del codes
    meta = ann.build(work, f"scale-{n}", np.load(codes_file, mmap_mode="r"), "use-m3/0.2.1")
    assert meta is not None
    qv = UseM3(work / "encoder-cache").encode(questions)
    rss0 = rss_mib()
    codes = np.load(codes_file, mmap_mode="r")
    norms = V.row_norms(codes)
    graph = ann.AnnIndex.open(work, f"scale-{n}", n, "use-m3/0.2.1")
    ann_ms, ex_ms, rec = [], [], []
    for q in qv:
        t = time.perf_counter()
        got = graph.top(codes, norms, q, k, None, n)
        ann_ms.append((time.perf_counter() - t) * 1000)
        assert got is not None
        t = time.perf_counter()
        V._block_top(codes, norms, q, k, None)  # the exact path small segments take
        ex_ms.append((time.perf_counter() - t) * 1000)
        rec.append(recall_at_10(got[1].tolist(), exact_top(codes, norms, q, 10)))
    rss_ann_only = rss_mib()
    return {"rows": n, "questions": len(qv), "synthesis_s": round(synth_s, 1),
            "hnsw_p50_ms": round(percentile(ann_ms, 50), 2), "hnsw_p95_ms": round(percentile(ann_ms, 95), 2),
            "exact_p50_ms": round(percentile(ex_ms, 50), 2), "exact_p95_ms": round(percentile(ex_ms, 95), 2),
            "recall_at_10_vs_exact": round(float(np.mean(rec)), 4), "hnsw_build_s": meta["build_s"],
            "hnsw_bytes": meta["size"], "hnsw_bytes_per_row": round(meta["size"] / n, 1),
            "vector_bytes_per_row": codes.shape[1], "rss_growth_mib": round(rss_ann_only - rss0, 1),
            "params": meta["params"], "load_average_1min": os.getloadavg()[0]}  # fmt: skip


def tile_index(src: Path, dst: Path, times: int) -> dict[str, Any]:
    """A `times`-fold index from a built one, for serving figures at a size whose real build
    (Kiwi plus the encoder) does not fit a session: every passage of `src/index` (text, terms,
    vector: the same text has the same vector) `times` times under new uids, merged into one
    segment and written by the store's own path (so its HNSW graph is built as usual)."""
    from retrieval.index.segments.builder import merge
    from retrieval.index.segments.segment import Segment
    from retrieval.index.segments.snapshot import LiveSegment
    from retrieval.index.segments.store import SegmentStore

    snap = SegmentStore(src / "index").snapshot()
    n = snap.n_passages
    copies = []
    for i in range(times):
        for j, live in enumerate(snap.segs):  # type: ignore[attr-defined]
            seg = live.seg
            arrays = dict(seg.a)
            arrays["uid"] = np.asarray(seg.a["uid"]) + i * snap.next_uid  # type: ignore[attr-defined]
            copy = Segment(f"copy{i}-{j}", arrays, seg.encoder)
            copy.anchors = seg.anchors  # an anchor's rows are passage numbers within the segment: unchanged
            copies.append((copy, live.deleted))
    t = time.perf_counter()
    merged = merge("seg-tiled", copies)
    store = SegmentStore(dst / "index")
    dst.joinpath("index").mkdir(parents=True, exist_ok=True)
    written = merged.write(dst / "index")
    build_s = time.perf_counter() - t
    store.writer.commit(
        1, [LiveSegment(written)], times * snap.next_uid, snap.extra(), snap.encoder_stamp, carry_twins(snap, dst, 1)
    )  # type: ignore[attr-defined]
    return {"passages": times * n, "from": str(src), "times": times, "merge_write_and_graph_s": round(build_s, 1)}


def carry_twins(snap: Any, dst: Path, generation: int) -> Any:
    """The source's translation-twin links written for the tiled index (its copies repeat the
    article ids, so the links name the same articles): without them every question would find
    twins itself, which no index with vectors written today does."""
    from retrieval.index.twins import links as twin_links

    found = snap.twin_links
    if found is None:
        return None
    return twin_links.write(dst / "index", generation, found.encoder, found.links, found.unchecked)


def add_twins(src: Path, dst: Path) -> dict[str, Any]:
    """A tiled index written before `tile_index` carried the links: commit them to it."""
    from retrieval.index.segments.store import SegmentStore

    source = SegmentStore(src / "index").snapshot()
    store = SegmentStore(dst / "index")
    snap = store.snapshot()
    gen = snap.generation + 1  # type: ignore[attr-defined]
    store.writer.commit(
        gen, list(snap.segs), snap.next_uid, snap.extra(), snap.encoder_stamp, carry_twins(source, dst, gen)
    )  # type: ignore[attr-defined]
    return {"generation": gen, "twin_links": len(source.twin_links.links) if source.twin_links else None}  # type: ignore[attr-defined]


# --- the serving measurement -------------------------------------------------------------------
def untied(exact_sims: Sequence[float]) -> bool:
    """The exact top 10 is one set (its 10th cosine beats the 11th by more than `TIE`) and holds
    no two passages of equal cosine: a question whose recall does not hinge on near-duplicates
    (the bench corpus recombines ~8k source sentences, so many questions' top 10 are ties).
    `exact_sims`: the exact top 11 (or fewer, when the index holds fewer), best first."""
    top = list(exact_sims)[:11]
    return all(a - b > TIE for a, b in zip(top, top[1:], strict=False))


def dense_recall(
    snap: Any, qv: npt.NDArray[np.float32], refs: Sequence[Sequence[float]], k: int = 20
) -> dict[str, Any]:
    """The store's dense search (its HNSW graphs as opened) over the question vectors: recall@10
    against `refs` (each question's exact top 11), over all questions and over the `untied` ones."""
    ms, scores = [], []
    for q, ref in zip(qv, refs, strict=True):
        t = time.perf_counter()
        got = snap.dense(q, k)
        ms.append((time.perf_counter() - t) * 1000)
        scores.append(recall_at_10([c for _, c in got], ref))
    plain = [r for r, ref in zip(scores, refs, strict=True) if untied(ref)]
    return {"hnsw_p50_ms": round(percentile(ms, 50), 2), "hnsw_p95_ms": round(percentile(ms, 95), 2),
            "recall_at_10_vs_exact": round(float(np.mean(scores)), 4),
            "untied_questions": len(plain),
            "recall_at_10_untied": round(float(np.mean(plain)), 4) if plain else None}  # fmt: skip


def measure(
    data_dir: Path, corpus_dir: Path, questions: Sequence[str], cache: Path, rss_child: bool = True,
    more_ef_search: Sequence[int] = (),
) -> dict[str, Any]:  # fmt: skip
    from retrieval import Engine, EngineConfig
    from retrieval.index import ann
    from retrieval.index import vectors as V
    from retrieval.text.encoder import UseM3

    enc = UseM3(cache, threads=1)
    sem = Engine.open(
        EngineConfig(corpus_dir, data_dir, encoder="use-m3", encoder_cache=cache), encoder=enc, sync=False
    )
    lex = Engine.open(EngineConfig(corpus_dir, data_dir, encoder="none"), encoder=None, sync=False)
    snap = sem.store.snapshot()
    segs = snap.segs  # type: ignore[attr-defined]
    out: dict[str, Any] = {"passages": snap.n_passages, "segments": len(segs), "questions": len(questions),
                           "encoder_stamp": snap.encoder_stamp}  # fmt: skip
    out["vector_bytes_per_passage"] = sum(s.seg.a["vectors"].nbytes for s in segs) / max(snap.n_passages, 1)
    metas = []
    for s in segs:
        mp = ann.paths(data_dir / "index", s.seg.name)[1]
        if mp.exists():
            metas.append(json.loads(mp.read_text("utf-8")))
    out["hnsw"] = {"segments_with_graph": len(metas), "build_s": round(sum(m["build_s"] for m in metas), 1),
                   "bytes": sum(m["size"] for m in metas),
                   "bytes_per_passage": round(sum(m["size"] for m in metas) / max(sum(m["rows"] for m in metas), 1), 1),
                   "params": metas[0]["params"] if metas else None}  # fmt: skip
    qv = enc.encode(list(questions))
    ann_ms, ex_ms, rec, refs = [], [], [], []
    parts = [(s.seg, s.deleted) for s in segs]
    for q in qv:
        t = time.perf_counter()
        got = snap.dense(q, 20)
        ann_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        blocks = [
            (s.seg.a["vectors"], s.seg.vector_norms, s.seg.a["uid"], None if s.deleted is None else ~s.deleted)
            for s in segs
        ]
        V.nearest(q, blocks, 20)  # the exact path: usearch's int8 kernel, then exact rescoring
        ex_ms.append((time.perf_counter() - t) * 1000)
        live = [(s, None if s.deleted is None else ~s.deleted) for s in segs]
        ref = sorted(
            (c for s, m in live for c in V.top_k(s.seg.a["vectors"], s.seg.vector_norms, q, 11, m)[1].tolist()),
            reverse=True,
        )[:11]  # the 11th says whether the top 10 is one set (`untied`)
        refs.append(ref)
        rec.append(recall_at_10([c for _, c in got], ref))
    del parts
    plain = [r for r, ref in zip(rec, refs, strict=True) if untied(ref)]
    out["dense"] = {"hnsw_p50_ms": round(percentile(ann_ms, 50), 2), "hnsw_p95_ms": round(percentile(ann_ms, 95), 2),
                    "exact_p50_ms": round(percentile(ex_ms, 50), 2), "exact_p95_ms": round(percentile(ex_ms, 95), 2),
                    "recall_at_10_vs_exact": round(float(np.mean(rec)), 4), "untied_questions": len(plain),
                    "recall_at_10_untied": round(float(np.mean(plain)), 4) if plain else None,
                    "ef_search": ann.PARAMS.expansion_search}  # fmt: skip
    graphs = [g for g in (ann.index_of(s.seg) for s in segs) if g is not None]
    out["dense_by_ef_search"] = []
    for ef in more_ef_search:  # the same graphs searched with a wider beam (the shipped value is restored after)
        for g in graphs:
            g.index.expansion_search = ef
        out["dense_by_ef_search"].append({"ef_search": ef, **dense_recall(snap, qv, refs)})
        print(json.dumps(out["dense_by_ef_search"][-1]), file=sys.stderr, flush=True)
    for g in graphs:
        g.index.expansion_search = ann.PARAMS.expansion_search
    print(json.dumps(out), file=sys.stderr, flush=True)  # the dense figures, before the (long) answer part
    for text in questions[:20]:  # warm both paths (first-use caches) before timing
        lex.ask(text)
        sem.ask(text)
    times: dict[str, list[float]] = {"none": [], "use-m3": []}
    for text in questions:
        for name, engine in (("none", lex), ("use-m3", sem)):
            t = time.perf_counter()
            engine.ask(text)
            times[name].append((time.perf_counter() - t) * 1000)
    out["answer"] = {
        name: {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2)}
        for name, ms in times.items()
    }
    out["answer"]["p50_ratio_with_vs_without"] = round(
        out["answer"]["use-m3"]["p50_ms"] / max(out["answer"]["none"]["p50_ms"], 1e-9), 2
    )
    out["answer"] |= sentence_vector_figures(sem)
    out["answer"]["passage_reads_per_question"] = {
        name: passage_reads(engine, questions[:100]) for name, engine in (("none", lex), ("use-m3", sem))
    }
    out["load_average_1min"] = os.getloadavg()[0]
    if rss_child:
        qfile = data_dir.parent / "ann-questions.json"
        qfile.write_text(json.dumps(list(questions), ensure_ascii=False), "utf-8")
        r = subprocess.run([sys.executable, "-m", "measure.ann_bench", "serve", str(data_dir), str(corpus_dir), str(qfile), str(cache)],
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            raise RuntimeError(f"serving child failed: {r.stderr[-800:]}")
        out["serving"] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def sentence_vector_figures(engine: Any) -> dict[str, Any]:
    """What the engine's sentence-vector cache spared over the questions it answered (issue 28
    item 2): its look-ups and hit rate, and where each first quote's vector came from (the
    passage's stored vector, kept sentence vectors, a quote kept from an earlier question, or a
    fresh encode)."""
    kept = getattr(engine.path, "sentence_vectors", None)
    if kept is None:
        return {}
    quotes = dict(kept.quotes)
    n = sum(quotes.values())
    return {"sentence_cache": {"capacity": kept.capacity, "passages_kept": len(kept), "hits": kept.hits,
                               "quote_capacity": kept.quote_capacity,
                               "misses": kept.misses, "hit_rate": round(kept.hit_rate, 4)},
            "first_quote_vector": quotes | {"encoded_share": round(quotes.get("encoded", 0) / n, 4) if n else 0.0}}  # fmt: skip


def passage_reads(engine: Any, questions: Sequence[str]) -> float:
    """Passages read from the index per question (`Snapshot.passage` calls), the answers' own
    caches warm from the timed runs."""
    from retrieval.index.segments.snapshot import Snapshot

    calls = 0
    original = Snapshot.passage

    def counted(self: Any, uid: int) -> Any:
        nonlocal calls
        calls += 1
        return original(self, uid)

    Snapshot.passage = counted  # type: ignore[method-assign]
    try:
        for text in questions:
            engine.ask(text)
    finally:
        Snapshot.passage = original  # type: ignore[method-assign]
    return round(calls / max(len(questions), 1), 1)


def mapped_by_kind(data_dir: Path) -> dict[str, float]:
    """Resident MiB of this process's file mappings (Linux smaps) by kind: the HNSW graphs, the
    index's other files (segments: postings and the like), everything else (libraries, models)."""
    out = {"hnsw": 0.0, "index_other": 0.0, "other_files": 0.0}
    try:
        lines = Path("/proc/self/smaps").read_text().splitlines()
    except OSError:
        return out
    where = ""
    root = str(data_dir.resolve())
    for line in lines:
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's first line
            where = head[5] if len(head) > 5 else ""
        elif head and head[0] == "Rss:" and where.startswith("/"):
            kind = "hnsw" if where.endswith(".hnsw") else "index_other" if where.startswith(root) else "other_files"
            out[kind] += int(head[1]) / 1024
    return {k: round(v, 1) for k, v in out.items()}


def serve(data_dir: Path, corpus_dir: Path, qfile: Path, cache: Path, encoder: str = "use-m3") -> dict[str, Any]:
    """A fresh process that opens the index with the encoder (or `none`: the control without
    question vectors, so without the graph) and answers every question: its RSS."""
    from retrieval import Engine, EngineConfig

    questions = json.loads(qfile.read_text("utf-8"))
    t = time.perf_counter()
    config = EngineConfig(corpus_dir, data_dir, encoder=encoder, encoder_cache=cache)
    engine = Engine.open(config, sync=False) if encoder != "none" else Engine.open(config, encoder=None, sync=False)
    ready = time.perf_counter() - t
    ms = []
    for text in questions:
        t = time.perf_counter()
        engine.ask(text)
        ms.append((time.perf_counter() - t) * 1000)
    return {"rss_mib": round(rss_mib(), 1), **{k: v for k, v in rss_split_mib().items()},
            "mapped_mib": mapped_by_kind(data_dir), "open_s": round(ready, 2), "questions": len(questions),
            "answer_p50_ms": round(percentile(ms, 50), 2), "answer_p95_ms": round(percentile(ms, 95), 2)}  # fmt: skip


def main(argv: Sequence[str]) -> None:
    cmd, *a = argv
    if cmd == "serve":  # serve DATA CORPUS QUESTIONS.json CACHE [ENCODER]
        print(json.dumps(serve(Path(a[0]), Path(a[1]), Path(a[2]), Path(a[3]), *a[4:5])))
    elif cmd == "scale":  # scale N WORKDIR
        print(json.dumps(scale(int(a[0]), Path(a[1])), indent=1))
    elif cmd == "measure":  # measure WORKDIR [N_QUESTIONS [EF,EF]]: WORKDIR/{corpus,data,questions.json,encoder-cache}
        work = Path(a[0])
        qs = json.loads((work / "questions.json").read_text("utf-8"))[: int(a[1]) if len(a) > 1 else 300]
        efs = [int(x) for x in a[2].split(",")] if len(a) > 2 else []  # [EF_SEARCH,...]: recall with wider beams too
        print(
            json.dumps(
                measure(work / "data", work / "corpus", qs, work / "encoder-cache", more_ef_search=efs), indent=1
            )
        )
    elif cmd == "tile":  # tile SRC_DATA DST_DATA TIMES
        print(json.dumps(tile_index(Path(a[0]), Path(a[1]), int(a[2])), indent=1))
    elif cmd == "tile-twins":  # tile-twins SRC_DATA DST_DATA: commit the source's twin links to a tiled index
        print(json.dumps(add_twins(Path(a[0]), Path(a[1]))))
    elif cmd == "tune-synthetic":  # tune-synthetic N WORKDIR: the grid on synthesised vectors
        from retrieval.text.encoder import UseM3

        codes, questions = synthetic_codes(int(a[0]), Path(a[1]))
        qv = UseM3(Path(a[1]) / "encoder-cache").encode(questions[:200])
        print(json.dumps(tune(codes, qv), indent=1))
    elif cmd == "tune":  # tune WORKDIR N [GRID [EF_SEARCH [OVERSAMPLE]]]: the grid on a `bench --semantic`
        # workdir's real vectors; GRID "levels:16:128,codes:16:128" (sketch:M:ef_add), the others "256,512"
        from retrieval.index.segments.store import SegmentStore
        from retrieval.text.encoder import UseM3

        work = Path(a[0])
        snap = SegmentStore(work / "data-use-m3" / "index").snapshot()
        codes = np.concatenate([np.asarray(s.seg.a["vectors"]) for s in snap.segs])  # type: ignore[attr-defined]
        questions = synthesize(read_sources(default_sources()), int(a[1]), 300, 13).questions[:200]
        grid = [(d, int(m), int(e)) for d, m, e in (g.split(":") for g in a[2].split(","))] if len(a) > 2 else GRID
        efs = [int(x) for x in a[3].split(",")] if len(a) > 3 else EF_SEARCH
        over = [int(x) for x in a[4].split(",")] if len(a) > 4 else (2, 5)
        qv = UseM3(work / "encoder-cache").encode(questions)
        print(json.dumps(tune(codes, qv, grid, efs, oversample=over), indent=1))
    elif cmd == "sketches":  # sketches WORKDIR N [ROWS]: `sketch_bound` on a `bench --semantic` workdir
        from retrieval.index.segments.store import SegmentStore
        from retrieval.text.encoder import UseM3

        work = Path(a[0])
        snap = SegmentStore(work / "data-use-m3" / "index").snapshot()
        codes = np.concatenate([np.asarray(s.seg.a["vectors"]) for s in snap.segs])[: int(a[2]) if len(a) > 2 else None]  # type: ignore[attr-defined]
        questions = synthesize(read_sources(default_sources()), int(a[1]), 300, 13).questions[:200]
        print(json.dumps(sketch_bound(codes, UseM3(work / "encoder-cache").encode(questions)), indent=1))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
