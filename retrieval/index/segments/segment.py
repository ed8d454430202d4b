"""An open segment: the reader of one immutable segment's arrays (`format.py` spells them).

Postings are read through the memory map (in runs); a passage's text, sentences and terms and
an article's fields are read with `pread`, so a serving process keeps only the pages its
questions use. Terms, the article table and the lookups built from them are decoded on first use
and kept: a segment never changes.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.errors import DamagedIndexError, IndexFormatError
from retrieval.index import vectors
from retrieval.index.segments import columns, components, format
from retrieval.index.segments.blocks import Blocks, CheckedArrays
from retrieval.index.segments.columns import anchors as anchor_column
from retrieval.index.segments.terms import TermTable
from retrieval.index.store import ARTICLE_FIELDS, ArticleMeta, PassageView
from retrieval.text.analyze import LANG_CODES

I64 = npt.NDArray[np.int64]
ARTICLE_CACHE = 8192  # article metadata kept per open segment (a few MB at most; see Segment.article)


class Segment:
    """An open segment: arrays (memory-mapped when read from disk) and lazily built lookups."""

    def __init__(self, name: str, arrays: Mapping[str, np.ndarray], encoder: str | None = None) -> None:
        self.name = name
        self.a = arrays  # a CheckedArrays when opened from disk: each array checked when first taken whole
        self._blocks: Blocks | None = arrays.blocks if isinstance(arrays, CheckedArrays) else None
        if (encoder is None) != (columns.VECTORS not in arrays):
            raise ValueError("a segment has passage vectors exactly when it names their encoder")
        self.n_passages = len(arrays["uid"])
        self.n_articles = len(arrays["art_pass_ptr"]) - 1
        self.n_terms = len(arrays["post_ptr"]) - 1
        self.total_len = int(np.sum(arrays["doc_len"], dtype=np.int64))
        self.min_uid = int(arrays["uid"][0]) if self.n_passages else 0
        self.max_uid = int(arrays["uid"][-1]) if self.n_passages else -1
        self._terms: TermTable | None = None
        self._columns: dict[str, list[str]] = {}
        self._articles: dict[int, ArticleMeta] = {}  # rows read lately (see `article`)
        self._df: I64 | None = None
        self._fd: int | None = None  # set when opened from disk: passage data is read, not mapped
        self.encoder = encoder  # stamp of the encoder its `vectors` were made with (None: no vectors)
        self.directory: Path | None = None  # the folder it was opened from (its HNSW file is there)
        self._vector_norms: npt.NDArray[np.float32] | None = None
        self._offsets: dict[str, tuple[int, np.dtype]] = {}
        self._anchors: anchor_column.SegmentAnchors | None = None  # set by a builder; read from NAME.anc on first use

    @property
    def anchors(self) -> anchor_column.SegmentAnchors:
        """The passages' anchor keys and their postings (`columns/anchors.py`)."""
        if self._anchors is None:
            if self.directory is None:
                return anchor_column.EMPTY if not self.n_passages else self._no_anchors()
            self._anchors = anchor_column.read(self.directory, self.name, self.n_passages)
        return self._anchors

    @anchors.setter
    def anchors(self, value: anchor_column.SegmentAnchors) -> None:
        self._anchors = value

    def _no_anchors(self) -> anchor_column.SegmentAnchors:
        raise ValueError(f"segment {self.name} was built without its anchors")

    def _attach(self, path: Path, table: dict[str, dict[str, Any]]) -> None:
        """Read passage texts, sentences and term ids with `pread` instead of through the map.

        A question reads ~20 passages scattered over the file; through the map, every page
        fault also maps the cached pages around it (the kernel's fault-around), so a serving
        process's resident memory filled with index pages no question asked for (at 1M
        passages, nearly the whole 960 MB file). Postings stay mapped: they are read in runs."""
        if self._blocks is not None:
            self._fd = self._blocks.fd  # one descriptor: the blocks' (closed with them)
        else:
            fd = os.open(path, os.O_RDONLY)
            self._fd = fd
            weakref.finalize(self, os.close, fd)
        self._offsets = {k: (t["offset"], np.dtype(t["dtype"])) for k, t in table.items()}

    def _raw(self, name: str) -> np.ndarray:
        """An array's map without checking it (its shape; or a range checked by the caller)."""
        a = self.a
        return a.unchecked(name) if isinstance(a, CheckedArrays) else a[name]

    def _check(self, name: str, lo: int, hi: int, row_bytes: int | None = None) -> None:
        """Rows [lo, hi) of an array are sound (`blocks.py`), else DamagedIndexError."""
        if self._blocks is not None and hi > lo:
            offset, dtype = self._offsets[name]
            size = row_bytes or dtype.itemsize
            self._blocks.check(offset + lo * size, offset + hi * size)

    def _slice(self, name: str, lo: int, hi: int) -> np.ndarray:
        """array[lo:hi] of a column, read from the file when the segment is on disk (its blocks
        checked first: a damaged block is never decoded)."""
        if self._fd is None or hi <= lo:
            return np.asarray(self.a[name][lo:hi])
        if not 0 <= lo <= hi <= len(self._raw(name)):
            raise DamagedIndexError(
                str(self._blocks.path if self._blocks else self.name), f"{name}[{lo}:{hi}] out of range", self.name
            )
        self._check(name, lo, hi)
        offset, dtype = self._offsets[name]
        size = dtype.itemsize
        return np.frombuffer(os.pread(self._fd, (hi - lo) * size, offset + lo * size), dtype)

    def whole(self, name: str) -> np.ndarray:
        """A whole array as a copy read with `pread` (its blocks checked), not through the map:
        a merge reads each source array once, and pages read through the map stay resident as
        long as the source segment is open (a 4 x 50k merge's sources: ~300 MiB)."""
        if self._fd is None:
            return np.asarray(self.a[name])
        n = len(self._raw(name))
        if name == columns.VECTORS:
            return self.vector_rows(np.arange(n, dtype=np.int64))
        return self._slice(name, 0, n)

    def postings(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Doc ids and term frequencies of postings [lo, hi), through the map (read in runs),
        their blocks checked first."""
        self._check("post_doc", lo, hi)
        self._check("post_tf", lo, hi)
        return self._raw("post_doc")[lo:hi], self._raw("post_tf")[lo:hi]

    @property
    def vector_norms(self) -> npt.NDArray[np.float32]:
        """Each vector row's length (cosine divides by it), computed on the first dense search
        (from the file with `pread` in chunks: mapping would leave every code page resident)."""
        if self._vector_norms is None:
            codes = self._raw("vectors")
            if self._fd is None:
                self._vector_norms = vectors.row_norms(codes)
            else:
                step = vectors.CHUNK_ROWS
                self._vector_norms = np.concatenate(
                    [np.zeros(0, np.float32)]
                    + [vectors.row_norms(self.vector_rows(np.arange(lo, min(lo + step, len(codes))))) for lo in range(0, len(codes), step)]
                )  # fmt: skip
        return self._vector_norms

    def vector_rows(self, rows: npt.NDArray[np.int64]) -> vectors.Codes:
        """Code rows (ascending row numbers), read with `pread` when on disk: a few scattered
        rows a question must not map the pages around them (see `_attach`)."""
        rows = np.asarray(rows, np.int64)
        if self._fd is None or not len(rows):
            return np.asarray(self.a["vectors"][rows])
        codes = self._raw("vectors")
        offset, width = self._offsets["vectors"][0], codes.shape[1]
        if rows[-1] - rows[0] + 1 == len(rows):  # one run
            self._check("vectors", int(rows[0]), int(rows[-1]) + 1, width)
            raw = os.pread(self._fd, len(rows) * width, offset + int(rows[0]) * width)
        else:
            for r in rows.tolist():
                self._check("vectors", r, r + 1, width)
            raw = b"".join(os.pread(self._fd, width, offset + r * width) for r in rows.tolist())
        return np.frombuffer(raw, np.int8).reshape(len(rows), width)

    def vector_codes(self) -> Any:
        """The codes as a graph build reads them (`ann.build`: their shape, then slices of rows):
        read with `pread` a slice at a time when on disk, so the pages read do not stay resident
        while the segment is open."""
        return _VectorRows(self) if self._fd is not None else self.a[columns.VECTORS]

    # terms
    @property
    def terms(self) -> TermTable:
        """The term dictionary (`terms.py`), made on first use; no string per term is kept."""
        if self._terms is None:
            self._terms = TermTable(self.a["vocab"], self.a["vocab_ptr"])
        return self._terms

    @property
    def vocab(self) -> list[str]:
        """Terms by id, decoded now and not kept (for whole-vocabulary passes; a question uses `term_id`)."""
        return self.terms.terms()

    def affix_terms(self, fragment: str) -> list[str]:
        """Terms longer than `fragment` that begin or end with it."""
        return self.terms.affixes(fragment)

    def term_id(self, term: str) -> int:
        return self.terms.id(term)

    @property
    def df(self) -> I64:
        if self._df is None:
            self._df = np.diff(np.asarray(self.a["post_ptr"], np.int64))
        return self._df

    def column(self, name: str) -> list[str]:
        """A string column decoded once (a segment never changes): ids and hashes for syncs."""
        col = self._columns.get(name)
        if col is None:
            col = self._columns[name] = self.strings(name)
        return col

    def strings(self, name: str) -> list[str]:
        return format.decode_strings(self.a[name], self.a[f"{name}_ptr"])

    def string(self, name: str, row: int) -> str:
        lo, hi = (int(x) for x in self._slice(f"{name}_ptr", row, row + 2))
        return self._decode(name, self._slice(name, lo, hi))

    # articles
    def article(self, row: int) -> ArticleMeta:
        """One article's metadata. Every passage a question reads names its article, and each
        field is a separate read from the file (a fifth of the answer time at 20k passages), so
        the ones read lately are kept; a segment never changes, so they never go stale."""
        meta = self._articles.get(row)
        if meta is None:
            if len(self._articles) >= ARTICLE_CACHE:
                self._articles.clear()
            meta = self._articles[row] = ArticleMeta(*(self.string(f"art_{f}", row) for f in ARTICLE_FIELDS))
        return meta

    def find(self, field: str, value: str) -> list[int]:
        """Rows whose `field` (id, hash or text_hash) equals `value`: a binary search over the
        column's sorted order, decoding a few strings instead of the whole column."""
        order = self.a[f"art_{field}_order"]
        name = f"art_{field}"
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.string(name, int(order[mid])) < value:
                lo = mid + 1
            else:
                hi = mid
        rows = []
        while lo < len(order) and self.string(name, int(order[lo])) == value:
            rows.append(int(order[lo]))
            lo += 1
        return rows

    def article_passages(self, row: int) -> range:
        ptr = self.a["art_pass_ptr"]
        return range(int(ptr[row]), int(ptr[row + 1]))

    # passages
    def local(self, uid: int) -> int:
        """The local passage number of a uid, or -1."""
        if not self.min_uid <= uid <= self.max_uid:
            return -1
        i = int(np.searchsorted(self.a["uid"], uid))
        return i if i < self.n_passages and int(self.a["uid"][i]) == uid else -1

    def passage_text(self, p: int) -> str:
        lo, hi = (int(x) for x in self._slice("text_ptr", p, p + 2))
        return self._decode("texts", self._slice("texts", lo, hi))

    def _decode(self, name: str, raw: np.ndarray) -> str:
        try:
            return raw.tobytes().decode("utf-8")
        except UnicodeDecodeError as exc:  # an unchecked in-memory segment, or damage past the sums
            where = str(self._blocks.path) if self._blocks is not None else self.name
            raise DamagedIndexError(where, f"{name} is not UTF-8 at byte {exc.start}", self.name) from exc

    def _sentences(self, p: int) -> tuple[int, int, I64]:
        s0, s1 = (int(x) for x in self._slice("sent_ptr", p, p + 2))
        return s0, s1, self._slice("sent_tok_ptr", s0, s1 + 1).astype(np.int64)

    def view(self, p: int) -> PassageView:
        a = self.a
        s0, s1, tok_ptr = self._sentences(p)
        tokens = self._slice("tokens", int(tok_ptr[0]), int(tok_ptr[-1]))
        return PassageView(
            uid=int(a["uid"][p]),
            text=self.passage_text(p),
            paragraph=int(a["paragraph"][p]),
            language=LANG_CODES[int(a["lang"][p])],
            article=self.article(int(a["article"][p])),
            starts=tuple(self._slice("sent_start", s0, s1).tolist()),
            ends=tuple(self._slice("sent_end", s0, s1).tolist()),
            tok_ptr=tok_ptr - tok_ptr[0],
            tokens=tokens,
            lookup=self.terms.id,
            columns=columns.values_of(a, p),
        )

    def passage_terms(self, p: int) -> list[str]:
        """The passage's terms as strings, in text order (for checks against other BM25 code)."""
        _, _, tok_ptr = self._sentences(p)
        return [self.terms.term(t) for t in self._slice("tokens", int(tok_ptr[0]), int(tok_ptr[-1])).tolist()]

    # --- persistence --------------------------------------------------------------------------
    def write(self, directory: Path) -> Segment:
        """Write every file of the segment (`components.py`: new files, a segment is never
        overwritten), verify what was written against its checksums, and return the segment
        opened from disk."""
        components.write(directory, self)
        return Segment.open(directory, self.name, verify=True)

    @classmethod
    def open(cls, directory: Path, name: str, verify: bool | None = None) -> Segment:
        """Open a written segment or raise IndexFormatError saying what is wrong with it
        (`format.read`; `verify=None` checksums only small or odd-looking ones)."""
        found = format.read(directory, name, verify)
        # read now, not on first use: a reader keeps answering from a snapshot whose files a later
        # commit collected (the arrays stay mapped); written before the anchors column: rebuilt
        anchors = anchor_column.read(directory, name, int(found.meta.get("passages", 0)))
        try:
            segment = cls(name, found.arrays, found.encoder)
            segment._anchors = anchors
            segment.directory = directory
            if found.meta["size"]:
                segment._attach(found.path, found.meta["arrays"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"segment {name} is damaged: {exc}") from exc
        return segment


class _VectorRows:
    """A segment's vector codes, read with `pread` (`Segment.vector_rows`) when sliced."""

    def __init__(self, seg: Segment) -> None:
        self._seg = seg
        self.shape: tuple[int, ...] = tuple(seg._raw(columns.VECTORS).shape)
        self.dtype = np.dtype(np.int8)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        lo, hi, step = rows.indices(len(self))
        return self._seg.vector_rows(np.arange(lo, hi, step, dtype=np.int64))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[0 : len(self)]
        return whole if dtype is None else whole.astype(dtype)
