"""One immutable segment: the passages of one ingest batch (or of a merge), written once.

A segment is two files: `NAME.seg`, every array back to back (64-byte aligned, memory-mapped
on open), and `NAME.json`, the table of those arrays with a CRC-32 of each, the counts, and the
format and analyser versions. Nothing in a segment ever changes after it is written; deletions
live beside it as tombstone files named by the commit (`retrieval/index/segments/store.py`).

Arrays, ragged data as values + pointers (as bm25s and the old monolithic index kept them):
- passages: `uid` (stable number), `article` (row in this segment's article table),
  `paragraph`, `lang`, `doc_len` (terms), `text_ptr` into `texts`, `sent_ptr` into sentences;
- sentences: `sent_start`, `sent_end` (character offsets), `sent_tok_ptr` into `tokens`;
- `tokens`: term ids in text order; postings, term-major: `post_ptr`, `post_doc`, `post_tf`;
- the term dictionary (`vocab`, `vocab_ptr`) and the article table (`art_<field>` +
  `art_<field>_ptr` per field, `art_pass_ptr`: an article's passages are contiguous).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import weakref
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.errors import IndexFormatError
from retrieval.index import ann, vectors
from retrieval.index.fsutil import crash_point, fsync_dir, write_new
from retrieval.index.segments import columns
from retrieval.index.store import ARTICLE_FIELDS, ArticleMeta, PassageView
from retrieval.text.analyze import ANALYZER_VERSION, LANG_CODES, Sentence, passage_languages

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 4: immutable segments + commit file (3 was one monolithic index with deltas)
MAGIC = b"QQASEG4\n"
ALIGN = 64
VERIFY_BELOW = 8 << 20  # segments smaller than this are checksummed at every open; larger ones
# only when their size or header looks wrong, so a cold start does not grow with the corpus.

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
CORE_PER_PASSAGE: tuple[tuple[str, type], ...] = (("paragraph", np.int32), ("lang", np.int8), ("doc_len", np.int32))


def per_passage(optional: Sequence[str] = ()) -> tuple[tuple[str, type], ...]:
    """Arrays with one row per passage, taken by row when merging and reordering: the core
    ones, then the columns of `columns/` (their schema is listed there, once), then the
    optional ones named (the passage vectors, when every merged segment has them)."""
    return (
        CORE_PER_PASSAGE
        + tuple((c.name, c.dtype) for c in columns.COLUMNS)
        + tuple((n, columns.OPTIONAL[n]) for n in optional)
    )


Encoded = tuple[dict[str, np.ndarray], list[str]]  # one batch as arrays, over its own term list


# --- building -------------------------------------------------------------------------------
@dataclass
class SegmentBuilder:
    """Collects analysed passages batch by batch as flat int arrays (no per-sentence Python
    objects outlive their batch), then turns them into a segment's arrays."""

    vocab: list[str] = field(default_factory=list)
    term_ids: dict[str, int] = field(default_factory=dict)
    schema: tuple[Any, ...] = field(default_factory=lambda: columns.COLUMNS)  # per-passage columns (columns.schema)
    articles: list[ArticleMeta] = field(default_factory=list)
    _art_passages: list[int] = field(default_factory=list)
    _parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    _texts: list[bytes] = field(default_factory=list)

    @property
    def n_passages(self) -> int:
        return sum(self._art_passages)

    def add_article(self, meta: ArticleMeta, paragraphs: Sequence[str], analysed: Iterable[list[Sentence]]) -> None:
        """One article whose paragraphs were analysed (in order) by the caller."""
        self.articles.append(meta)
        self._art_passages.append(len(paragraphs))
        self._parts.append(self.encode(analysed, len(paragraphs)) | self.columns_of(paragraphs))
        self._texts.extend(p.encode("utf-8") for p in paragraphs)

    def add_batch(
        self, metas: Sequence[ArticleMeta], paragraphs: Sequence[Sequence[str]], analysed: Iterable[list[Sentence]]
    ) -> None:
        """Many articles at once: `analysed` yields one sentence list per paragraph, in order."""
        n = sum(len(p) for p in paragraphs)
        self.articles.extend(metas)
        self._art_passages.extend(len(p) for p in paragraphs)
        self._parts.append(self.encode(analysed, n) | self.columns_of([t for p in paragraphs for t in p]))
        self._texts.extend(t.encode("utf-8") for p in paragraphs for t in p)

    def add_encoded(self, metas: Sequence[ArticleMeta], paragraphs: Sequence[Sequence[str]], encoded: Encoded) -> None:
        """A batch another builder encoded (in a child process): its term ids are mapped into
        this builder's dictionary. Columns the child did not compute are computed here."""
        part, vocab = encoded
        missing = [c for c in self.schema if c.name not in part]
        if missing:
            part = part | columns.compute_all([t for p in paragraphs for t in p], missing)
        get, term_ids = self.term_ids.get, self.term_ids
        remap = np.empty(len(vocab), np.int32)
        for i, t in enumerate(vocab):
            tid = get(t)
            if tid is None:
                tid = term_ids[t] = len(self.vocab)
                self.vocab.append(t)
            remap[i] = tid
        self.articles.extend(metas)
        self._art_passages.extend(len(p) for p in paragraphs)
        self._parts.append({**part, "tokens": remap[part["tokens"]] if len(part["tokens"]) else part["tokens"]})
        self._texts.extend(t.encode("utf-8") for p in paragraphs for t in p)

    def columns_of(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """This builder's per-passage columns for a batch of texts (the encoder runs here)."""
        return columns.compute_all(texts, self.schema)

    @property
    def stamp(self) -> str | None:
        """The encoder stamp of the vectors this builder writes (None: no vectors)."""
        return columns.stamp_of_schema(self.schema)

    def encode(self, analysed: Iterable[list[Sentence]], n: int) -> dict[str, np.ndarray]:
        """n analysed passages as flat arrays, new terms added to this builder's dictionary."""
        term_ids, vocab = self.term_ids, self.vocab
        tokens: list[str] = []
        sent_start: list[int] = []
        sent_end: list[int] = []
        sent_tok_len: list[int] = []
        sent_count: list[int] = []
        for sentences in analysed:
            sent_count.append(len(sentences))
            for s in sentences:
                tokens.extend(s.terms)
                sent_start.append(s.start)
                sent_end.append(s.end)
                sent_tok_len.append(len(s.terms))
        if len(sent_count) != n:
            raise ValueError(f"analysis returned {len(sent_count)} passages for {n}")
        get = term_ids.get
        ids = [get(t, -1) for t in tokens]
        if -1 in ids:
            for i, t in enumerate(tokens):
                if ids[i] == -1:
                    tid = get(t)
                    if tid is None:
                        tid = term_ids[t] = len(vocab)
                        vocab.append(t)
                    ids[i] = tid
        return {
            "tokens": np.array(ids, np.int32),
            "sent_start": np.array(sent_start, np.int32),
            "sent_end": np.array(sent_end, np.int32),
            "sent_tok_len": np.array(sent_tok_len, np.int64),
            "sent_count": np.array(sent_count, np.int64),
        }

    def finish(self, first_uid: int) -> dict[str, np.ndarray]:
        """The segment's arrays; passages get uids first_uid, first_uid + 1, …"""

        def cat(key: str, dtype: type) -> np.ndarray:
            return np.concatenate([np.zeros(0, dtype)] + [p[key] for p in self._parts]).astype(dtype, copy=False)

        n = self.n_passages
        art_counts = np.array(self._art_passages, np.int64)
        texts = b"".join(self._texts)
        text_lens = np.fromiter((len(t) for t in self._texts), np.int64, n)
        decoded = [t.decode("utf-8") for t in self._texts]
        langs = passage_languages(decoded)
        sent_count = cat("sent_count", np.int64)
        sent_tok_len = cat("sent_tok_len", np.int64)
        tokens = cat("tokens", np.int32)
        sent_ptr = _ptr(sent_count)
        sent_tok_ptr = _ptr(sent_tok_len)
        doc_len = np.diff(sent_tok_ptr[sent_ptr])
        docs = np.repeat(np.arange(n, dtype=np.int64), doc_len)
        post_ptr, post_doc, post_tf = postings(tokens, docs, len(self.vocab))
        arrays: dict[str, np.ndarray] = {
            "uid": np.arange(first_uid, first_uid + n, dtype=np.int64),
            "article": np.repeat(np.arange(len(art_counts), dtype=np.int32), art_counts),
            "paragraph": np.concatenate([np.arange(1, c + 1, dtype=np.int32) for c in art_counts])
            if n
            else np.zeros(0, np.int32),
            "lang": langs,
            "doc_len": doc_len.astype(np.int32),
            "text_ptr": _ptr(text_lens),
            "texts": np.frombuffer(texts, np.uint8),
            "sent_ptr": sent_ptr,
            "sent_start": cat("sent_start", np.int32),
            "sent_end": cat("sent_end", np.int32),
            "sent_tok_ptr": sent_tok_ptr,
            "tokens": tokens,
            "post_ptr": post_ptr,
            "post_doc": post_doc,
            "post_tf": post_tf,
            "art_pass_ptr": _ptr(art_counts),
        }
        for c in self.schema:
            parts = [np.asarray(p[c.name], c.dtype) for p in self._parts]
            arrays[c.name] = np.concatenate(parts) if parts else np.asarray(c.compute([]), c.dtype)
        arrays.update(_strings("vocab", self.vocab))
        arrays.update(_article_columns({f: [getattr(a, f) for a in self.articles] for f in ARTICLE_FIELDS}))
        return arrays


def _ptr(lengths: np.ndarray) -> I64:
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


LOOKUP_FIELDS = ("id", "hash", "text_hash")  # article columns with a sorted order, for lookups
ARTICLE_CACHE = 8192  # article metadata kept per open segment (a few MB at most; see Segment.article)


def _article_columns(cols: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The article table as string columns, plus a sorted order of the columns looked up by
    value, so finding an article by id or hash is a binary search, not a dict of every article."""
    out: dict[str, np.ndarray] = {}
    for f in ARTICLE_FIELDS:
        values = cols[f]
        out.update(_strings(f"art_{f}", values))
        if f in LOOKUP_FIELDS:
            out[f"art_{f}_order"] = np.array(sorted(range(len(values)), key=values.__getitem__), np.int32)
    return out


def _strings(name: str, values: Sequence[str]) -> dict[str, np.ndarray]:
    encoded = [v.encode("utf-8") for v in values]
    blob = b"".join(encoded)
    return {
        name: np.frombuffer(blob, np.uint8),
        f"{name}_ptr": _ptr(np.fromiter(map(len, encoded), np.int64, len(encoded))),
    }


def postings(tokens: np.ndarray, docs: np.ndarray, n_terms: int) -> tuple[I64, I32, I32]:
    """Term-major postings (pointer, doc ids ascending, term frequencies) from a token stream."""
    if len(tokens) == 0:
        return np.zeros(n_terms + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    span = int(docs.max()) + 1
    keys = np.asarray(tokens, np.int64) * span + docs
    uniq, tf = np.unique(keys, return_counts=True)
    terms = uniq // span
    ptr = np.zeros(n_terms + 1, np.int64)
    ptr[1:] = np.cumsum(np.bincount(terms, minlength=n_terms))
    return ptr, (uniq % span).astype(np.int32), tf.astype(np.int32)


def take_ragged(ptr: np.ndarray, data: np.ndarray, rows: np.ndarray) -> tuple[I64, np.ndarray]:
    """Rows of a ragged array (values + pointers), in the order given: new pointers and values."""
    ptr = np.asarray(ptr, np.int64)
    rows = np.asarray(rows, np.int64)
    lens = ptr[rows + 1] - ptr[rows]
    new_ptr = _ptr(lens)
    if new_ptr[-1] == 0:
        return new_ptr, np.asarray(data)[:0]
    offsets = np.repeat(ptr[rows] - new_ptr[:-1], lens)
    idx = np.arange(int(new_ptr[-1]), dtype=np.int64) + offsets
    return new_ptr, np.asarray(data)[idx]


# --- the segment ----------------------------------------------------------------------------
class Segment:
    """An open segment: arrays (memory-mapped when read from disk) and lazily built lookups."""

    def __init__(self, name: str, arrays: dict[str, np.ndarray], encoder: str | None = None) -> None:
        self.name = name
        self.a = arrays
        if (encoder is None) != (columns.VECTORS not in arrays):
            raise ValueError("a segment has passage vectors exactly when it names their encoder")
        self.n_passages = len(arrays["uid"])
        self.n_articles = len(arrays["art_pass_ptr"]) - 1
        self.n_terms = len(arrays["post_ptr"]) - 1
        self.total_len = int(np.sum(arrays["doc_len"], dtype=np.int64))
        self.min_uid = int(arrays["uid"][0]) if self.n_passages else 0
        self.max_uid = int(arrays["uid"][-1]) if self.n_passages else -1
        self._term_ids: dict[str, int] | None = None
        self._vocab: list[str] | None = None
        self._columns: dict[str, list[str]] = {}
        self._articles: dict[int, ArticleMeta] = {}  # rows read lately (see `article`)
        self._sorted: tuple[list[str], list[str]] | None = None
        self._df: I64 | None = None
        self._fd: int | None = None  # set when opened from disk: passage data is read, not mapped
        self.encoder = encoder  # stamp of the encoder its `vectors` were made with (None: no vectors)
        self.directory: Path | None = None  # the folder it was opened from (its HNSW file is there)
        self._vector_norms: npt.NDArray[np.float32] | None = None
        self._offsets: dict[str, tuple[int, np.dtype]] = {}

    def _attach(self, path: Path, table: dict[str, dict[str, Any]]) -> None:
        """Read passage texts, sentences and term ids with `pread` instead of through the map.

        A question reads ~20 passages scattered over the file; through the map, every page
        fault also maps the cached pages around it (the kernel's fault-around), so a serving
        process's resident memory filled with index pages no question asked for (at 1M
        passages, nearly the whole 960 MB file). Postings stay mapped: they are read in runs."""
        fd = os.open(path, os.O_RDONLY)
        self._fd = fd
        self._offsets = {k: (t["offset"], np.dtype(t["dtype"])) for k, t in table.items()}
        weakref.finalize(self, os.close, fd)

    def _slice(self, name: str, lo: int, hi: int) -> np.ndarray:
        """array[lo:hi] of a column, read from the file when the segment is on disk."""
        if self._fd is None or hi <= lo:
            return np.asarray(self.a[name][lo:hi])
        offset, dtype = self._offsets[name]
        size = dtype.itemsize
        return np.frombuffer(os.pread(self._fd, (hi - lo) * size, offset + lo * size), dtype)

    @property
    def vector_norms(self) -> npt.NDArray[np.float32]:
        """Each vector row's length (cosine divides by it), computed on the first dense search
        (from the file with `pread` in chunks: mapping would leave every code page resident)."""
        if self._vector_norms is None:
            codes = self.a["vectors"]
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
        codes = self.a["vectors"]
        rows = np.asarray(rows, np.int64)
        if self._fd is None or not len(rows):
            return np.asarray(codes[rows])
        offset, width = self._offsets["vectors"][0], codes.shape[1]
        if rows[-1] - rows[0] + 1 == len(rows):  # one run
            raw = os.pread(self._fd, len(rows) * width, offset + int(rows[0]) * width)
        else:
            raw = b"".join(os.pread(self._fd, width, offset + r * width) for r in rows.tolist())
        return np.frombuffer(raw, np.int8).reshape(len(rows), width)

    # terms
    @property
    def vocab(self) -> list[str]:
        """Terms by id, decoded on first use (a question needs only `term_ids`)."""
        if self._vocab is None:
            self._vocab = self.strings("vocab")
        return self._vocab

    @property
    def term_ids(self) -> dict[str, int]:
        if self._term_ids is None:
            self._term_ids = {w: i for i, w in enumerate(self.vocab)}
        return self._term_ids

    def affix_terms(self, fragment: str) -> list[str]:
        """Terms longer than `fragment` that begin or end with it: a binary search over the
        dictionary sorted forwards and backwards (built on first use; segments never change)."""
        if self._sorted is None:
            self._sorted = (sorted(self.vocab), sorted(t[::-1] for t in self.vocab))
        forward, backward = self._sorted
        out = []
        for words, key, flip in ((forward, fragment, False), (backward, fragment[::-1], True)):
            i = bisect.bisect_right(words, key)
            while i < len(words) and words[i].startswith(key):
                out.append(words[i][::-1] if flip else words[i])
                i += 1
        return out

    def term_id(self, term: str) -> int:
        return self.term_ids.get(term, -1)

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
        blob = bytes(self.a[name])
        ptr = np.asarray(self.a[f"{name}_ptr"]).tolist()
        return [blob[ptr[i] : ptr[i + 1]].decode("utf-8") for i in range(len(ptr) - 1)]

    def string(self, name: str, row: int) -> str:
        lo, hi = (int(x) for x in self._slice(f"{name}_ptr", row, row + 2))
        return self._slice(name, lo, hi).tobytes().decode("utf-8")

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
        return self._slice("texts", lo, hi).tobytes().decode("utf-8")

    def _sentences(self, p: int) -> tuple[int, int, I64]:
        s0, s1 = (int(x) for x in self._slice("sent_ptr", p, p + 2))
        return s0, s1, self._slice("sent_tok_ptr", s0, s1 + 1).astype(np.int64)

    def view(self, p: int) -> PassageView:
        a = self.a
        s0, s1, tok_ptr = self._sentences(p)
        tokens = self._slice("tokens", int(tok_ptr[0]), int(tok_ptr[-1]))
        ids = self.term_ids
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
            lookup=lambda t: ids.get(t, -1),
            columns=columns.values_of(a, p) if columns.COLUMNS else {},
        )

    def passage_terms(self, p: int) -> list[str]:
        """The passage's terms as strings, in text order (for checks against other BM25 code)."""
        vocab = self.vocab
        _, _, tok_ptr = self._sentences(p)
        return [vocab[t] for t in self._slice("tokens", int(tok_ptr[0]), int(tok_ptr[-1])).tolist()]

    # --- persistence --------------------------------------------------------------------------
    def write(self, directory: Path) -> Segment:
        """Write NAME.seg and NAME.json (new files: a segment is never overwritten), verify what
        was written against its checksums, and return the segment opened from disk."""
        table: dict[str, dict[str, Any]] = {}
        offset = _align(len(MAGIC))
        chunks: list[bytes | memoryview] = [MAGIC + bytes(offset - len(MAGIC))]
        for name, arr in self.a.items():  # each array, then zeros up to the next 64-byte boundary
            arr = np.ascontiguousarray(arr)
            raw = memoryview(arr).cast("B") if arr.size else memoryview(b"")
            table[name] = {"offset": offset, "dtype": arr.dtype.str, "length": int(arr.shape[0])}
            if arr.ndim == 2:  # fixed-width rows (the passage vectors)
                table[name]["width"] = int(arr.shape[1])
            end = _align(offset + raw.nbytes)
            chunks += [raw, bytes(end - offset - raw.nbytes)]
            offset = end
        seg_path, meta_path = directory / f"{self.name}.seg", directory / f"{self.name}.json"
        crc = 0
        fd = os.open(seg_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:  # written piece by piece: no second copy of a large segment in memory
            for i, chunk in enumerate(chunks):
                if i == len(chunks) // 2:
                    crash_point("segment-write")  # half a segment on disk, no commit names it
                crc = zlib.crc32(chunk, crc)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view[: 1 << 24]) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        meta = {
            "format": FORMAT_VERSION,
            "analyzer": ANALYZER_VERSION,
            "name": self.name,
            "size": offset,
            "crc32": crc,
            "passages": self.n_passages,
            "articles": self.n_articles,
            "terms": self.n_terms,
            "arrays": table,
        }
        if self.encoder is not None:
            meta["encoder"] = self.encoder
            meta["vectors_crc32"] = vectors.checksum(self.a[columns.VECTORS])
        write_new(meta_path, json.dumps(meta).encode("utf-8"))
        fsync_dir(directory)
        if self.encoder is not None:  # a big segment's HNSW graph beside it (retrieval/index/ann.py)
            ann.build(directory, self.name, self.a[columns.VECTORS], self.encoder)
        return Segment.open(directory, self.name, verify=True)

    @classmethod
    def open(cls, directory: Path, name: str, verify: bool | None = None) -> Segment:
        """Open a written segment or raise IndexFormatError saying what is wrong with it.

        `verify=None` checksums small segments and any segment whose size or header looks
        wrong; large sound-looking ones are mapped without reading every byte."""
        seg_path, meta_path = directory / f"{name}.seg", directory / f"{name}.json"
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
            size = seg_path.stat().st_size
        except FileNotFoundError as exc:
            raise IndexFormatError(f"segment {name} is missing ({exc.filename})") from exc
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"segment {name} has unreadable metadata: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
            raise IndexFormatError(f"segment {name} is of another format")
        if meta.get("analyzer") != ANALYZER_VERSION:
            raise IndexFormatError(
                f"segment {name} was analysed by analyser v{meta.get('analyzer')}, not v{ANALYZER_VERSION}"
            )
        if size != meta.get("size"):
            raise IndexFormatError(f"segment {name} is {size} bytes, expected {meta.get('size')} (truncated?)")
        lacking = [c.name for c in columns.COLUMNS if c.name not in (meta.get("arrays") or {})]
        if lacking:
            raise IndexFormatError(f"segment {name} was written before the column(s) {', '.join(lacking)} existed")
        try:
            raw = np.memmap(seg_path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
            if bytes(raw[: len(MAGIC)]) != MAGIC:
                raise IndexFormatError(f"segment {name} does not start with a segment header")
            if verify is None:
                verify = size < VERIFY_BELOW
            if verify and _file_crc32(seg_path) != meta.get("crc32"):
                raise IndexFormatError(f"segment {name} fails its checksum")
            arrays: dict[str, np.ndarray] = {}
            for key, t in meta["arrays"].items():
                dtype = np.dtype(t["dtype"])
                width = int(t.get("width", 1))
                end = t["offset"] + t["length"] * width * dtype.itemsize
                if end > size:
                    raise IndexFormatError(f"segment {name}: array {key} runs past the end of the file")
                arrays[key] = raw[t["offset"] : end].view(dtype)
                if "width" in t:
                    arrays[key] = arrays[key].reshape(t["length"], width)
            encoder = meta.get("encoder")
            if (encoder is None) != (columns.VECTORS not in arrays):
                raise IndexFormatError(f"segment {name}: passage vectors and their encoder's name do not go together")
            if (
                encoder is not None
                and verify
                and vectors.checksum(arrays[columns.VECTORS]) != meta.get("vectors_crc32")
            ):
                raise IndexFormatError(f"segment {name}: its passage vectors fail their checksum")
            segment = cls(name, arrays, encoder)
            segment.directory = directory
            if size:
                segment._attach(seg_path, meta["arrays"])
        except IndexFormatError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"segment {name} is damaged: {exc}") from exc
        segment._check(meta)
        return segment

    def verify(self, directory: Path) -> None:
        """Read every byte and compare with the checksums written beside it."""
        Segment.open(directory, self.name, verify=True)

    def _check(self, meta: dict[str, Any]) -> None:
        a = self.a
        n, s = self.n_passages, len(a["sent_start"])
        checks = [
            meta.get("passages") == n and meta.get("articles") == self.n_articles and meta.get("terms") == self.n_terms,
            all(len(a[k]) == n for k in ("article", "paragraph", "lang", "doc_len")),
            len(a["text_ptr"]) == n + 1 and int(a["text_ptr"][-1]) == len(a["texts"]),
            len(a["sent_ptr"]) == n + 1 and int(a["sent_ptr"][-1]) == s == len(a["sent_end"]),
            len(a["sent_tok_ptr"]) == s + 1 and int(a["sent_tok_ptr"][-1]) == len(a["tokens"]),
            int(a["post_ptr"][-1]) == len(a["post_doc"]) == len(a["post_tf"]),
            len(a["vocab_ptr"]) == self.n_terms + 1,
            int(a["art_pass_ptr"][-1]) == n,
            all(len(a[f"art_{f}_order"]) == self.n_articles for f in LOOKUP_FIELDS),
            columns.VECTORS not in a or (a[columns.VECTORS].ndim == 2 and len(a[columns.VECTORS]) == n),
        ]
        if not all(checks):
            raise IndexFormatError(f"segment {self.name}: arrays do not fit together (truncated or mixed versions)")


def _file_crc32(path: Path) -> int:
    """CRC-32 of a file read in chunks, not through its memory map: pages read through a map
    stay in this process's resident set while it is mapped, so a build that verified each
    segment it wrote grew by every segment's size (~1 KiB a passage) whatever its flush size."""
    crc = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# --- merging --------------------------------------------------------------------------------
def merge(name: str, parts: Sequence[tuple[Segment, npt.NDArray[np.bool_] | None]]) -> Segment:
    """One segment holding the live passages of several (segment, deleted mask) pairs, in uid
    order, with a merged term dictionary; deleted passages are dropped for good."""
    vocab: list[str] = []
    term_ids: dict[str, int] = {}
    pieces: list[dict[str, np.ndarray]] = []
    art_cols: dict[str, list[str]] = {f: [] for f in ARTICLE_FIELDS}
    n_art = 0
    stamps = {seg.encoder for seg, _ in parts if seg.n_passages}
    encoder = stamps.pop() if len(stamps) == 1 else None  # vectors survive only if every part has the same kind
    optional = (columns.VECTORS,) if encoder is not None else ()
    for seg, deleted in parts:
        a = seg.a
        live_art = np.ones(seg.n_articles, bool)
        if deleted is not None:
            first = np.asarray(a["art_pass_ptr"][:-1])
            live_art = ~deleted[first] if seg.n_passages else live_art
        arts = np.flatnonzero(live_art)
        if len(arts) == 0:
            continue
        art_ptr = np.asarray(a["art_pass_ptr"], np.int64)
        keep = take_ragged(art_ptr, np.arange(seg.n_passages, dtype=np.int64), arts)[1]
        remap_art = np.full(seg.n_articles, -1, np.int64)
        remap_art[arts] = np.arange(n_art, n_art + len(arts))
        n_art += len(arts)
        for f in ARTICLE_FIELDS:
            col = seg.strings(f"art_{f}")
            art_cols[f].extend(col[r] for r in arts.tolist())
        local_vocab = seg.vocab
        remap_term = np.empty(len(local_vocab), np.int32)
        for i, t in enumerate(local_vocab):
            tid = term_ids.get(t)
            if tid is None:
                tid = term_ids[t] = len(vocab)
                vocab.append(t)
            remap_term[i] = tid
        text_ptr, texts = take_ragged(a["text_ptr"], a["texts"], keep)
        sent_ptr, sent_rows = take_ragged(a["sent_ptr"], np.arange(len(a["sent_start"])), keep)
        tok_ptr, tokens = take_ragged(a["sent_tok_ptr"], a["tokens"], sent_rows)
        pieces.append({
            "uid": np.asarray(a["uid"])[keep], "article": remap_art[np.asarray(a["article"])[keep]],
            **{col: np.asarray(a[col])[keep] for col, _ in per_passage(optional)}, "text_len": np.diff(text_ptr), "texts": texts,
            "sent_count": np.diff(sent_ptr), "sent_start": np.asarray(a["sent_start"])[sent_rows],
            "sent_end": np.asarray(a["sent_end"])[sent_rows], "sent_tok_len": np.diff(tok_ptr),
            "tokens": remap_term[tokens] if len(tokens) else tokens.astype(np.int32),
        })  # fmt: skip

    def cat(key: str, dtype: type) -> np.ndarray:
        if not pieces:
            return np.zeros(0, dtype)
        return np.concatenate([np.asarray(p[key], dtype) for p in pieces])

    if not pieces:
        encoder, optional = None, ()
    uid = cat("uid", np.int64)
    order = np.argsort(uid, kind="stable")
    if len(order) and not np.all(order[:-1] < order[1:]):  # pieces interleave in uid order
        return _reorder(name, pieces, order, vocab, art_cols, cat, encoder)
    return _assemble(name, cat, vocab, art_cols, encoder)


def _assemble(
    name: str, cat: Any, vocab: list[str], art_cols: dict[str, list[str]], encoder: str | None = None
) -> Segment:
    optional = (columns.VECTORS,) if encoder is not None else ()
    article = cat("article", np.int64)
    n = len(article)
    sent_ptr = _ptr(cat("sent_count", np.int64))
    sent_tok_ptr = _ptr(cat("sent_tok_len", np.int64))
    tokens = cat("tokens", np.int32)
    doc_len = cat("doc_len", np.int32)
    post_ptr, post_doc, post_tf = postings(tokens, np.repeat(np.arange(n, dtype=np.int64), doc_len), len(vocab))
    n_art = len(art_cols[ARTICLE_FIELDS[0]])
    arrays: dict[str, np.ndarray] = {
        "uid": cat("uid", np.int64), "article": article.astype(np.int32),
        **{col: cat(col, dtype) for col, dtype in per_passage(optional)}, "text_ptr": _ptr(cat("text_len", np.int64)),
        "texts": cat("texts", np.uint8), "sent_ptr": sent_ptr, "sent_start": cat("sent_start", np.int32),
        "sent_end": cat("sent_end", np.int32), "sent_tok_ptr": sent_tok_ptr, "tokens": tokens,
        "post_ptr": post_ptr, "post_doc": post_doc, "post_tf": post_tf,
        "art_pass_ptr": _ptr(np.bincount(article, minlength=n_art).astype(np.int64)),
    }  # fmt: skip
    arrays.update(_strings("vocab", vocab))
    arrays.update(_article_columns(art_cols))
    return Segment(name, arrays, encoder)


def _reorder(
    name: str, pieces: list[dict[str, np.ndarray]], order: I64, vocab: list[str], art_cols: dict[str, list[str]], cat: Any,
    encoder: str | None = None,
) -> Segment:  # fmt: skip
    optional = (columns.VECTORS,) if encoder is not None else ()
    """Put passages in uid order (and articles in the order of their first passage)."""
    text_ptr, texts = take_ragged(_ptr(cat("text_len", np.int64)), cat("texts", np.uint8), order)
    sent_ptr, sent_rows = take_ragged(
        _ptr(cat("sent_count", np.int64)), np.arange(sum(len(p["sent_start"]) for p in pieces)), order
    )
    tok_ptr, tokens = take_ragged(_ptr(cat("sent_tok_len", np.int64)), cat("tokens", np.int32), sent_rows)
    article = cat("article", np.int64)[order]
    first_seen = np.unique(article, return_index=True)[1]
    art_order = article[np.sort(first_seen)]  # old article rows in order of first appearance
    new_row = np.empty(len(art_order), np.int64)
    new_row[art_order] = np.arange(len(art_order))
    cols = {f: [art_cols[f][r] for r in art_order.tolist()] for f in ARTICLE_FIELDS}
    piece = {
        "uid": cat("uid", np.int64)[order], "article": new_row[article],
        **{col: cat(col, dtype)[order] for col, dtype in per_passage(optional)}, "text_len": np.diff(text_ptr),
        "texts": texts, "sent_count": np.diff(sent_ptr), "sent_start": cat("sent_start", np.int32)[sent_rows],
        "sent_end": cat("sent_end", np.int32)[sent_rows], "sent_tok_len": np.diff(tok_ptr), "tokens": tokens,
    }  # fmt: skip

    def cat1(key: str, dtype: type) -> np.ndarray:
        return np.asarray(piece[key], dtype)

    return _assemble(name, cat1, vocab, cols, encoder)
