"""A per-segment approximate nearest-neighbour index (HNSW, usearch) for dense search at scale.

Why. Exact dense search reads every passage's 512-byte code: 13.8 ms at 100k passages and ~110 ms
at 1M on this machine, more than the whole answer budget. An HNSW graph visits a few thousand
codes instead. It pays only on big segments, so a segment gets one only from `HnswParams.min_rows`
passages; fresh ingests (small segments) stay exact.

Files. Beside a segment `NAME.seg` / `NAME.json`: `NAME.hnsw` (usearch's own file: the graph and,
per passage, a 2-bit-a-dimension sketch of its code, 128 B at 512 dimensions: not a second copy of
the codes, which format 1 held, 512 of its 660 B a row; see `sketch`) and `NAME.hnsw.json` (rows, encoder stamp, parameters, size and CRC-32 of
`NAME.hnsw`). Both are written when the segment is written (an ingest batch or a merge), atomically
(temporary name, fsync, rename), and are derived data: the segment's own files and checksums do
not name them, so a missing or damaged HNSW file never makes the segment unreadable. It is opened
memory-mapped (`view=True`) on a segment's first dense search; its size, header and stamp are
checked then, its CRC by `SegmentStore.verify` (which rebuilds a bad one) — like segments over
8 MiB. When it is missing, damaged or stale, the segment is searched exactly and one warning
names `quoteqa reindex`.

Search. The graph is searched with the quantised question's sketch (Hamming distance) for
`oversample × k / live share` candidates (tombstoned rows are in the graph and dropped
afterwards); the live candidates are rescored exactly from the segment's int8 codes, read with
`pread` (so they are not kept resident), with the float question, as the exact path
(`retrieval/index/vectors.py::_block_top`) does, so a passage found both ways gets the same cosine.
If too few live candidates come back the search widens, and at worst falls back to exact search.
"""

from __future__ import annotations

import logging
import math
import mmap
import os
import threading
import time
import weakref
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.index import vectors
from retrieval.index.fsutil import atomic_write, fsync_dir, seal, unseal

log = logging.getLogger(__name__)

FORMAT = 2  # 1: usearch's graph over the int8 codes (a second copy); 2: over their sign bits
SUFFIX = ".hnsw"  # NAME.hnsw beside NAME.seg, and NAME.hnsw.json
SUFFIXES = (SUFFIX, f"{SUFFIX}.json")  # a segment's files of this kind (retrieval/index/segments/components.py)


@dataclass(frozen=True, slots=True)
class HnswParams:
    """HNSW settings, one place. Measured on the 100k bench corpus's real USE-m3 passage vectors
    with 200 of its real questions (`python -m measure.ann_bench tune WORKDIR 100000 GRID EFS
    OVERSAMPLES`, 2 shared cores at load 10–12, so search times are noisy), recall@10 against
    exact search over the codes (ties counted), k = 20, M 16 unless said:

    | graph holds (B/row) | ef_add | ef_search | oversample | recall@10 | search p50 | build (100k) |
    |---|---|---|---|---|---|---|
    | codes, format 1 (660) | 128 | 256 / 512 | 2 | 0.987 / 0.998 | 1.5 / 10 ms | 95 s |
    | signs (212) | 128 | 512 | 2 / 10 / 20 | 0.885 / 0.978 / 0.988 | 1.6 / 1.9 / 2.4 ms | 60 s |
    | levels (276) | 128 | 512 | 2 / 10 / 20 | 0.959 / 0.9915 / 0.9915 | 1.4 / 1.5 / 1.5 ms | 67 s |
    | **levels (276)** | **256** | **512** / 1024 | **10** | **0.996** / 0.999 | **1.4** / 8.6 ms | 135 s |
    | levels, M 24 (340) | 128 | 512 / 1024 | 10 | 0.997 / 0.9995 | 1.7 / 10.7 ms | 61 s |

    - What the graph holds (`sketch`): format 1 held usearch's own copy of the int8 codes, 512
      of its 660 B a row, and a question's beam (~16k nodes at ef 512 at 1M) left most of it
      resident. "levels" (2 bits a dimension) keeps the codes only in the segment; the
      candidates are rescored from there. Brute force over the sketches alone (no graph),
      200 candidates rescored: levels (t = 0.5/√dim) 0.9995 on the 100k; on its first 50k rows
      levels 0.9995 (t 0.2 / 0.35 / 0.6 × 1/√dim: 0.9935 / 0.9975 / 0.9985), signs 0.977,
      signs after a random rotation 0.981, 1,024 random-projection bits 0.9895, an i8 PCA to
      128 dimensions 0.983. So at ef_add 128 the graph, not the sketch, loses the last 0.008
      (Hamming distances are coarse: many ties), and ef_add 256 buys it back.
    - oversample: the candidates rescored per wanted hit. 10 (200 for k = 20: ~0.3 ms of
      `pread`); 20 adds nothing.
    - The bench corpus is hard for a graph: its passages are recombined from ~8k source
      sentences, so a question's top 10 are near-duplicates a few thousandths of cosine apart.
      At 1M on synthesised vectors (each sentence-mean vector repeated ~100 times) the codes
      graph gave 0.807 at ef_search 512, and on the 100k tiled 10× (nine exact twins a row)
      the levels graph 0.743 (0.90 at ef_search 2,048 on 40 questions). On the real build with
      vectors, stopped at 552k passages (eight graphs of 50k-200k), it is 0.9963 at ef_search
      512, 1,024 and 2,048 alike (docs/performance.md, issue 28 item 4).
    - connectivity (M) 16 (usearch's default): M 24 reaches the same recall with a faster build
      but 64 B a row more of graph, which is what a serving process keeps resident.
    - min_rows: below it exact search (usearch's int8 kernel, ~0.14 ms per 1k rows idle) costs
      ≲ 3 ms, so no graph; fresh ingests stay exact.
    """

    min_rows: int = 20_000  # segments with fewer passages are searched exactly
    connectivity: int = 16
    expansion_add: int = 256
    expansion_search: int = 512
    sketch: str = "levels"  # what the graph holds a row (`sketch`): "levels", "signs", "codes" (format 1)
    level: float = 0.5  # "levels": the threshold t on a unit row's components, times √dim
    oversample: int = 10  # candidates asked of the graph per wanted hit (before tombstones), rescored exactly


PARAMS = HnswParams()
# `nearest_many` reads a segment's codes whole (one `pread`) up to this size (131k passages at 512
# dimensions); a bigger segment's (a merge's, ≤ 122 MiB at the 250k cap) a query's rows at a
# time, as `nearest` reads them: ~1.5 ms more a query and segment, for a 1M build's last commit
# ~120 MiB less at its highest (issue 28)
HOLD_BYTES = 64 << 20
HOLD_QUERIES = 64  # ... and only for this many queries or more (one query reads ~400 rows a segment)


def paths(directory: Path, name: str) -> tuple[Path, Path]:
    """The HNSW file and its metadata for segment `name`."""
    graph, meta = SUFFIXES
    return directory / f"{name}{graph}", directory / f"{name}{meta}"


def _crc_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc & 0xFFFFFFFF


SKETCH_ROWS = 8_192  # rows turned into graph vectors at a time: ~9 B of scratch a code byte (38 MiB at d=512;
# 65,536 rows took ~300 MiB, the peak of a 4 x 50k merge once its arrays were streamed)
SKETCHES = {"levels": ("b1", 2), "signs": ("b1", 1), "codes": ("i8", 1)}  # usearch storage, graph dims per code dim


def _graph_kind(sketch_kind: str, dim: int) -> tuple[str, int]:
    """usearch's storage and dimensions for a sketch of `dim`-wide codes."""
    if sketch_kind not in SKETCHES:
        raise ValueError(f"unknown HNSW sketch {sketch_kind!r}")
    storage, per = SKETCHES[sketch_kind]
    return storage, per * dim


def sketch(codes: vectors.Codes, kind: str, level: float = 0.0) -> npt.NDArray[Any]:
    """What the graph stores for each code row, and what a question is compared with.

    - "levels": two bits a dimension, the unit row's component above +t and above −t
      (t = `level` / √dim): Hamming distance between two rows is then the L1 distance of their
      three-level rounding. dim / 4 bytes a row (128 B at 512).
    - "signs": one bit a dimension, the component's sign (dim / 8 bytes; SimHash-like).
    - "codes": the int8 codes themselves (format 1: a second full copy of the segment's codes).
    """
    storage, _ = _graph_kind(kind, int(codes.shape[1]))
    if kind == "codes":
        return np.ascontiguousarray(codes)
    dim = int(codes.shape[1])
    width = (dim * SKETCHES[kind][1] + 7) // 8
    out = np.empty((len(codes), width), np.uint8)
    for lo in range(0, len(codes), SKETCH_ROWS):
        c = np.asarray(codes[lo : lo + SKETCH_ROWS])
        if kind == "signs":
            bits = c > 0
        else:
            t = (level / math.sqrt(dim)) * vectors.row_norms(c)[:, None]  # t on the unit row, in code units
            f = c.astype(np.float32)
            bits = np.concatenate([f > t, f > -t], axis=1)
        out[lo : lo + len(c)] = np.packbits(bits, axis=1)
    return out


def build(
    directory: Path, name: str, codes: vectors.Codes, stamp: str, params: HnswParams | None = None, threads: int = 0
) -> dict[str, Any] | None:
    """Write NAME.hnsw and NAME.hnsw.json for a segment's codes (None: too few rows for a graph).
    `threads` 0: all cores (the build runs in the writer, after the segment is written)."""
    p = params or PARAMS
    n = len(codes)
    if n < p.min_rows or n == 0:
        return None
    from usearch.index import Index, MetricKind

    t = time.perf_counter()
    storage, ndim = _graph_kind(p.sketch, int(codes.shape[1]))
    index = Index(
        ndim=ndim, metric=MetricKind.Hamming if storage == "b1" else MetricKind.Cos, dtype=storage,
        connectivity=p.connectivity, expansion_add=p.expansion_add, expansion_search=p.expansion_search,
    )  # fmt: skip
    index.add(np.arange(n, dtype=np.uint64), sketch(codes, p.sketch, p.level), threads=threads)
    built = time.perf_counter() - t
    ann_path, meta_path = paths(directory, name)
    tmp = ann_path.with_name(f".{ann_path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        index.save(str(tmp))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        crc, size = _crc_file(tmp), tmp.stat().st_size
        os.replace(tmp, ann_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    meta = {
        "format": FORMAT, "segment": name, "rows": n, "dim": int(codes.shape[1]), "encoder": stamp,
        "params": asdict(p), "size": size, "crc32": crc, "build_s": round(built, 3),
    }  # fmt: skip
    atomic_write(meta_path, seal(meta))
    log.info("HNSW for %s: %d rows in %.1f s, %d bytes", name, n, built, size)
    return meta


class AnnError(Exception):
    """An HNSW file that cannot be used (the segment is then searched exactly)."""


def _read_meta(directory: Path, name: str, rows: int, stamp: str | None) -> dict[str, Any]:
    ann_path, meta_path = paths(directory, name)
    try:
        meta = unseal(meta_path.read_bytes())
        size = ann_path.stat().st_size
    except FileNotFoundError as exc:
        raise AnnError(f"its HNSW file is missing ({Path(exc.filename).name})") from exc
    except (OSError, ValueError) as exc:
        raise AnnError(f"its HNSW metadata is unreadable ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("segment") != name:
        raise AnnError("its HNSW file is of another format")
    if meta.get("rows") != rows or meta.get("encoder") != stamp:
        raise AnnError(
            f"its HNSW file was built for {meta.get('rows')} rows of {meta.get('encoder')}, not this segment"
        )
    if size != meta.get("size"):
        raise AnnError(f"its HNSW file is {size} bytes, expected {meta.get('size')} (truncated?)")
    return meta


def _check_header(head: dict[str, Any] | None, meta: dict[str, Any]) -> None:
    """usearch's header says what the metadata says: dimensions and storage (a graph over the
    codes themselves, format 1, must not be searched with a sign-bit question)."""
    scalar = getattr(head.get("kind_scalar"), "name", "") if head else ""
    storage, ndim = _graph_kind(meta["params"]["sketch"], meta["dim"])
    if not head or head.get("dimensions") != ndim or scalar.lower() != storage:
        raise AnnError("its HNSW file's header does not match its metadata")


class AnnIndex:
    """One segment's HNSW graph, memory-mapped, searched for rows then rescored exactly."""

    def __init__(self, index: Any, meta: dict[str, Any]) -> None:
        self._mapped: mmap.mmap | None = None
        self.index = index
        self.meta = meta
        self.sketch, self.level = meta["params"]["sketch"], float(meta["params"]["level"])
        self.oversample = int(meta["params"]["oversample"])

    @classmethod
    def open(
        cls, directory: Path, name: str, rows: int, stamp: str | None, params: HnswParams | None = None
    ) -> AnnIndex:
        meta = _read_meta(directory, name, rows, stamp)
        from usearch.index import Index

        ann_path = paths(directory, name)[0]
        try:  # mapped by us, read at random: no fault-around (MADV_RANDOM), so a serving
            # process keeps only the graph pages its questions visit
            with open(ann_path, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            if hasattr(mapped, "madvise"):
                mapped.madvise(mmap.MADV_RANDOM)
            _check_header(Index.metadata(mapped), meta)
            index = Index.restore(mapped, view=True, enable_key_lookups=False)
        except AnnError:
            raise
        except Exception as exc:  # usearch raises RuntimeError/ValueError on a bad file
            raise AnnError(f"its HNSW file cannot be opened ({exc})") from exc
        if index is None or len(index) != rows:
            raise AnnError("its HNSW file does not hold one entry per passage")
        index.expansion_search = (params or PARAMS).expansion_search
        graph = cls(index, meta)
        graph._mapped = mapped  # the view reads this buffer: it lives as long as the graph
        return graph

    def release(self) -> None:
        """Drop the graph's pages from this process's resident memory; they stay in the page
        cache, and the next search maps back those it visits. A commit's twin check searches
        thousands of queries, which visit most of every graph (276 B a passage: ~270 MiB of a
        1M build's resident memory, issue 28); a serving process's few questions do not."""
        if self._mapped is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._mapped.madvise(mmap.MADV_DONTNEED)

    def top(
        self, codes: vectors.Codes, norms: npt.NDArray[np.float32] | None, query: npt.NDArray[np.float32], k: int,
        live: npt.NDArray[np.bool_] | None, n_live: int, take: Callable[[npt.NDArray[np.int64]], vectors.Codes] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None:  # fmt: skip
        """The k best live rows and their exact cosines, best first; None when the graph cannot
        give k live rows (the caller searches exactly). `take(rows)`: the code rows (ascending
        rows), read from the segment's file (default: indexing `codes`); `norms` None: the picked
        rows' lengths are computed from them (no pass over every code at the first question)."""
        n = len(codes)
        k = min(k, n_live)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        q = sketch(vectors.quantise(query[None, :]), self.sketch, self.level)[0]  # as the rows were
        want = self._want(k, n, n_live)
        while True:
            rows = self._live_rows(self.index.search(q, want, threads=1).keys, n, live)
            if len(rows) >= k:
                break
            if want >= n or want >= 8 * self.oversample * k * n / max(n_live, 1):
                return None
            want = min(n, want * 4)
        return _rescore(codes, norms, query, k, rows, take)

    def top_many(
        self, codes: vectors.Codes, queries: npt.NDArray[np.float32], k: int, live: npt.NDArray[np.bool_] | None,
        n_live: int, take: Callable[[npt.NDArray[np.int64]], vectors.Codes] | None = None,
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None]:  # fmt: skip
        """`top(codes, None, q, k, live, n_live, take)` for each row q of `queries`, the same
        results: the graph is asked for all of them in one call (a search is deterministic, so
        a query's candidates are those it gets alone); a query short of k live rows widens
        alone, as `top` does."""
        n = len(codes)
        kk = min(k, n_live)
        if kk <= 0 or not len(queries):
            return [self.top(codes, None, q, k, live, n_live, take) for q in queries]
        sketches = sketch(vectors.quantise(queries), self.sketch, self.level)
        found = self.index.search(sketches, self._want(kk, n, n_live), threads=1)
        keys = np.asarray(found.keys).reshape(len(queries), -1)
        # a query's own matches only: past `counts[i]` a batch's row is padding (keys that repeat
        # or name row 0), which `top` never sees
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]] * len(queries)), np.int64).reshape(-1)
        out: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None] = []
        for i, q in enumerate(queries):
            rows = self._live_rows(keys[i, : counts[i]], n, live)
            out.append(
                _rescore(codes, None, q, kk, rows, take)
                if len(rows) >= kk
                else self.top(codes, None, q, k, live, n_live, take)
            )
        return out

    def _want(self, k: int, n: int, n_live: int) -> int:
        """Candidates first asked of the graph for k live rows."""
        return min(n, math.ceil(self.oversample * k * n / max(n_live, 1)))

    @staticmethod
    def _live_rows(keys: Any, n: int, live: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.int64]:
        rows = np.asarray(keys, np.int64).reshape(-1)
        rows = rows[(rows >= 0) & (rows < n)]
        return rows[live[rows]] if live is not None else rows


def _rescore(
    codes: vectors.Codes, norms: npt.NDArray[np.float32] | None, query: npt.NDArray[np.float32], k: int,
    rows: npt.NDArray[np.int64], take: Callable[[npt.NDArray[np.int64]], vectors.Codes] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:  # fmt: skip
    """The k best of a graph's candidate rows by exact cosine with the float question."""
    rows = np.sort(rows)
    picked = take(rows) if take is not None else codes[rows]
    lengths = norms[rows] if norms is not None else vectors.row_norms(picked)  # as `row_norms` of all rows would
    sims = (np.asarray(picked, np.float32) @ query) / np.maximum(lengths, 1e-12)
    order = np.argsort(-sims, kind="stable")[:k]
    return rows[order], sims[order].astype(np.float32)


# --- per open segment: its graph, opened once ------------------------------------------------
_open: weakref.WeakKeyDictionary[Any, AnnIndex | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def index_of(seg: Any) -> AnnIndex | None:
    """The segment's HNSW graph, or None (small segment, no vectors, or an unusable file: then a
    warning, once per open segment)."""
    try:
        return _open[seg]
    except KeyError:
        pass
    with _lock:
        if seg in _open:
            return _open[seg]
        found: AnnIndex | None = None
        directory = getattr(seg, "directory", None)
        if directory is not None and seg.encoder is not None and seg.n_passages >= PARAMS.min_rows:
            try:
                found = AnnIndex.open(directory, seg.name, seg.n_passages, seg.encoder)
            except AnnError as exc:
                log.warning(
                    "segment %s: %s; searching its %d vectors exactly (slower) until `quoteqa reindex` rebuilds it",
                    seg.name, exc, seg.n_passages,
                )  # fmt: skip
        _open[seg] = found
        return found


def forget(seg: Any) -> None:
    """Drop a segment's opened graph (after a repair), so the next search opens the new file."""
    with _lock:
        _open.pop(seg, None)


def nearest(
    query: npt.NDArray[np.float32], parts: list[tuple[Any, npt.NDArray[np.bool_] | None]], k: int
) -> list[tuple[int, float]]:
    """(uid, cosine) of the k live passages nearest `query` over (segment, deleted mask) pairs,
    best first, ties to the lower uid: the HNSW graph where a segment has one, exact otherwise."""
    if k <= 0:
        return []
    q = np.asarray(query, np.float32).reshape(-1)
    found: list[tuple[int, float]] = []
    for seg, deleted in parts:
        arrays = seg.a  # a graph search reads only the rows it rescores (checked as they are read)
        codes = arrays.unchecked("vectors") if hasattr(arrays, "unchecked") else arrays["vectors"]
        if len(codes) == 0:
            continue
        if codes.shape[1] != len(q):
            raise ValueError(f"the query has {len(q)} dimensions, the index's vectors {codes.shape[1]}")
        live = None if deleted is None else ~deleted
        graph = index_of(seg)
        got = None
        if graph is not None:
            n_live = len(codes) if live is None else int(np.count_nonzero(live))
            # the picked rows' norms only: all of them would read every code at the first question
            got = graph.top(codes, None, q, k, live, n_live, getattr(seg, "vector_rows", None))
        rows, sims = got if got is not None else vectors._block_top(seg.a["vectors"], seg.vector_norms, q, k, live)
        found.extend(zip(np.asarray(seg.a["uid"])[rows].tolist(), sims.tolist(), strict=True))
    found.sort(key=lambda x: (-x[1], x[0]))
    return [(int(u), float(s)) for u, s in found[:k]]


def nearest_many(
    queries: npt.NDArray[np.float32], parts: list[tuple[Any, npt.NDArray[np.bool_] | None]], k: int
) -> list[list[tuple[int, float]]]:
    """`nearest(q, parts, k)` for each row q of `queries`, the same lists, for many queries at
    once (a commit's twin check: one per article it adds). Segment by segment: its codes are read
    once (one `pread`; a question's search reads only the rows it rescores, and many questions
    would read them all a row at a time) unless over `HOLD_BYTES`, its graph asked for every
    query in one call, then its pages let go (`AnnIndex.release`)."""
    qs = np.asarray(queries, np.float32)
    found: list[list[tuple[int, float]]] = [[] for _ in range(len(qs))]
    if k <= 0 or not len(qs):
        return found
    for seg, deleted in parts:
        arrays = seg.a
        codes = arrays.unchecked("vectors") if hasattr(arrays, "unchecked") else arrays["vectors"]
        if len(codes) == 0:
            continue
        if codes.shape[1] != qs.shape[1]:
            raise ValueError(f"the query has {qs.shape[1]} dimensions, the index's vectors {codes.shape[1]}")
        live = None if deleted is None else ~deleted
        graph = index_of(seg)
        got: list[Any] = [None] * len(qs)
        if graph is not None:
            n_live = len(codes) if live is None else int(np.count_nonzero(live))
            read = getattr(seg, "vector_rows", None)
            if read is not None and (codes.nbytes > HOLD_BYTES or len(qs) < HOLD_QUERIES):  # rows read per query
                got = graph.top_many(codes, qs, k, live, n_live, read)
            else:
                held = read(np.arange(len(codes), dtype=np.int64)) if read is not None else np.asarray(codes)
                got = graph.top_many(held, qs, k, live, n_live)
                del held
            graph.release()  # the batch visited most of it: not kept resident (see `release`)
        uids = np.asarray(seg.a["uid"])
        for i, q in enumerate(qs):
            rows, sims = (
                got[i] if got[i] is not None else vectors._block_top(seg.a["vectors"], seg.vector_norms, q, k, live)
            )
            found[i].extend(zip(uids[rows].tolist(), sims.tolist(), strict=True))
    out = []
    for hits in found:
        hits.sort(key=lambda x: (-x[1], x[0]))
        out.append([(int(u), float(s)) for u, s in hits[:k]])
    return out


def damaged_file(directory: Path, seg: Any) -> Path:
    """Which of a segment's two HNSW files a problem is in: the metadata when it does not read
    or does not describe this segment, else the graph."""
    graph, meta_path = paths(directory, seg.name)
    try:
        meta = unseal(meta_path.read_bytes())
    except (OSError, ValueError):
        return meta_path
    if meta.get("segment") != seg.name or meta.get("rows") != seg.n_passages or meta.get("encoder") != seg.encoder:
        return meta_path
    return graph


def verify(directory: Path, seg: Any, repair: bool = True) -> str | None:
    """Check a segment's HNSW file byte for byte (a problem, or None); with `repair`, rebuild a
    missing or bad one from the segment's codes."""
    if seg.encoder is None or seg.n_passages < PARAMS.min_rows:
        return None
    try:
        meta = _read_meta(directory, seg.name, seg.n_passages, seg.encoder)
        graph = paths(directory, seg.name)[0]
        if _crc_file(graph) != meta.get("crc32"):
            raise AnnError("its HNSW file fails its checksum")
        from usearch.index import Index

        try:
            head = Index.metadata(str(graph))
        except Exception as exc:  # usearch raises on a file it cannot read
            raise AnnError(f"its HNSW file's header is unreadable ({exc})") from exc
        _check_header(head, meta)
        return None
    except AnnError as exc:
        problem = f"segment {seg.name}: {exc}"
    if repair:
        build(directory, seg.name, seg.a["vectors"], seg.encoder)
        forget(seg)
        problem += " (rebuilt)"
    return problem
