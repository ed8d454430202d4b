"""Passage vectors as stored: int8 codes, one row of `dim` bytes per passage, and exact top-k search.

Quantisation. The encoder's vectors have unit length and are only ever compared by cosine, so a
row is stored as its direction alone: each vector is scaled so that its largest component is
±127 and rounded (`quantise`). No per-vector scale is stored (cosine does not need it): the rows'
norms are recomputed from the codes when a column is opened (`row_norms`), which keeps a passage
at exactly `dim` bytes (512 B for USE-m3, the issue's ceiling; a float32 scale would make 516 B and
float16 would make 1 KiB). Measured on Belebele and KorQuAD vectors: cosine error of the
dequantised rows ≤ 0.004 (mean 0.0015), and the top-10 of exact float32 search is kept (recall@10
0.998 or better); see `measure/belebele.py --vectors`.

Search. `top_k` multiplies the codes by the question vector in chunks (int8 → float32 per chunk,
then one BLAS matrix-vector product), divides by the stored rows' norms and keeps the best k with
`argpartition`; `mask` drops tombstoned rows. Everything here is a pure function over arrays so the
segment column (one module per column) can memory-map the codes and call these.

`checksum` is a CRC32 over the codes' bytes (with the shape and dtype), for the segment's manifest.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

CODE_DTYPE = np.int8
CODE_MAX = 127
CHUNK_ROWS = 32_768  # rows converted to float32 at a time: 64 MiB of scratch at d=512

Codes = npt.NDArray[np.int8]


def quantise(vectors: npt.ArrayLike) -> Codes:
    """Rows of float vectors as int8 codes of their direction (largest component → ±127)."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2:
        raise ValueError(f"quantise takes a 2-D array of row vectors, not shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("quantise: vectors hold NaN or infinity")
    peak = np.abs(v).max(axis=1, keepdims=True) if v.shape[1] else np.zeros((len(v), 1), np.float32)
    scale = np.where(peak > 0, CODE_MAX / np.maximum(peak, 1e-30), 0.0).astype(np.float32)
    return np.rint(v * scale).astype(CODE_DTYPE)


def row_norms(codes: Codes) -> npt.NDArray[np.float32]:
    """Each code row's Euclidean length (what `top_k` divides by); computed in chunks."""
    out = np.empty(len(codes), np.float32)
    for s in range(0, len(codes), CHUNK_ROWS):
        c = codes[s : s + CHUNK_ROWS].astype(np.float32)
        out[s : s + len(c)] = np.sqrt(np.einsum("ij,ij->i", c, c))
    return out


def dequantise(codes: Codes, norms: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
    """Unit-length float32 rows back from the codes (a zero row stays zero)."""
    c = np.asarray(codes).astype(np.float32)
    n = row_norms(codes) if norms is None else norms
    return c / np.maximum(n, 1e-12)[:, None]


def checksum(codes: Codes) -> int:
    """CRC32 of the codes with their shape and dtype (a truncated or reshaped file differs)."""
    a = np.ascontiguousarray(codes)
    flat = a.reshape(-1).view(np.uint8)
    step = 1 << 24
    return checksum_of(a.dtype, a.shape, (memoryview(flat[s : s + step]) for s in range(0, len(flat), step)))


def checksum_of(dtype: np.dtype, shape: tuple[int, ...], pieces: Iterable[bytes | memoryview]) -> int:
    """`checksum` of codes of this dtype and shape given as their bytes in pieces (read from a
    file with `pread`: through its map, the pages read would stay resident)."""
    crc = zlib.crc32(f"{dtype.str}:{shape}".encode())
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
    return crc & 0xFFFFFFFF


def cosines(codes: Codes, norms: npt.NDArray[np.float32], query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Cosine of `query` (unit length) with every stored row."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    out = np.empty(len(codes), np.float32)
    buf = np.empty((min(CHUNK_ROWS, max(len(codes), 1)), codes.shape[1] if codes.ndim == 2 else len(q)), np.float32)
    for s in range(0, len(codes), CHUNK_ROWS):
        c = codes[s : s + CHUNK_ROWS]
        b = buf[: len(c)]
        np.copyto(b, c, casting="unsafe")
        np.dot(b, q, out=out[s : s + len(c)])
    out /= np.maximum(norms, 1e-12)
    return out


def top_k(
    codes: Codes, norms: npt.NDArray[np.float32], query: npt.NDArray[np.float32], k: int,
    mask: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:  # fmt: skip
    """The k rows most similar to `query` (row numbers, cosines), best first, exact. `mask`
    (True = live) drops tombstoned rows."""
    if len(codes) == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    sims = cosines(codes, norms, query)
    if mask is not None:
        sims = np.where(mask, sims, -np.inf).astype(np.float32)
    k = min(k, len(sims))
    part = np.argpartition(-sims, k - 1)[:k]
    order = part[np.argsort(-sims[part], kind="stable")]
    keep = np.isfinite(sims[order])
    order = order[keep]
    return order.astype(np.int64), sims[order]


def top_k_float(
    vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Exact top-k over unit float32 rows (the reference `top_k` is measured against)."""
    sims = vectors @ np.asarray(query, np.float32)
    k = min(k, len(sims))
    part = np.argpartition(-sims, k - 1)[:k]
    order = part[np.argsort(-sims[part], kind="stable")]
    return order.astype(np.int64), sims[order]


USEARCH_MIN_ROWS = 2_048  # below this numpy's exact search is as quick


def _usearch_top(codes: Codes, query: npt.NDArray[np.float32], want: int) -> npt.NDArray[np.int64] | None:
    """Candidate rows by usearch's exact int8 cosine kernel (SIMD, no float32 copy of the
    codes), or None when usearch is not installed. The caller rescores them exactly."""
    try:
        from usearch.index import MetricKind, search
    except ImportError:  # pragma: no cover - usearch is a dependency; numpy is the fallback
        return None
    found = search(np.ascontiguousarray(codes), quantise(query[None, :]), want, MetricKind.Cos, exact=True, threads=1)
    keys = np.asarray(found.keys, np.int64).reshape(-1)
    return keys[(keys >= 0) & (keys < len(codes))]


def _block_top(
    codes: Codes, norms: npt.NDArray[np.float32], query: npt.NDArray[np.float32], k: int, live: npt.NDArray[np.bool_] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:  # fmt: skip
    """One block's k best live rows, exact: at size, usearch's int8 kernel picks 2k (plus the
    deleted rows) candidates by the quantised question, and those are rescored with the float
    question as `top_k` would (so both paths give the same cosines)."""
    n = len(codes)
    dead = 0 if live is None else n - int(np.count_nonzero(live))
    want = min(n, 2 * k + dead)
    rows = _usearch_top(codes, query, want) if n >= USEARCH_MIN_ROWS and want < n // 4 else None
    if rows is None:
        return top_k(codes, norms, query, k, live)
    if live is not None:
        rows = rows[live[rows]]
    sims = (np.asarray(codes[np.sort(rows)], np.float32) @ query) / np.maximum(norms[np.sort(rows)], 1e-12)
    rows = np.sort(rows)
    order = np.argsort(-sims, kind="stable")[:k]
    return rows[order], sims[order].astype(np.float32)


def nearest(
    query: npt.NDArray[np.float32],
    blocks: list[tuple[Codes, npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.bool_] | None]],
    k: int,
) -> list[tuple[int, float]]:  # fmt: skip
    """(uid, cosine) of the k rows nearest `query` over several blocks of (codes, norms, row →
    uid, live mask or None), best first, ties to the lower uid: what a store's `dense` returns."""
    if k <= 0:
        return []
    q = np.asarray(query, np.float32).reshape(-1)
    found: list[tuple[int, float]] = []
    for codes, norms, uids, live in blocks:
        if len(codes) == 0:
            continue
        if codes.shape[1] != len(q):
            raise ValueError(f"the query has {len(q)} dimensions, the index's vectors {codes.shape[1]}")
        rows, sims = _block_top(codes, norms, q, k, live)
        found.extend(zip(np.asarray(uids)[rows].tolist(), sims.tolist(), strict=True))
    found.sort(key=lambda x: (-x[1], x[0]))
    return [(int(u), float(s)) for u, s in found[:k]]
