"""A segment's arrays and their two files: the one place that spells the layout.

`NAME.seg` holds every array back to back (64-byte aligned, memory-mapped on open); `NAME.json`
is their table with a CRC-32 of each 64 KiB block of the file (`blocks.py`), the counts, and the format and analyser versions.
Nothing in a segment ever changes after it is written; deletions live beside it as tombstone
files named by the commit (`commit.py`), and the files a segment has are listed in
`components.py`.

Arrays, ragged data as values + pointers (as bm25s and the old monolithic index kept them):
- passages: `uid` (stable number), `article` (row in this segment's article table),
  `paragraph`, `lang`, `doc_len` (terms), then the per-passage columns (`columns/`), `text_ptr`
  into `texts`, `sent_ptr` into sentences;
- sentences: `sent_start`, `sent_end` (character offsets), `sent_tok_ptr` into `tokens`;
- `tokens`: term ids in text order; postings, term-major: `post_ptr`, `post_doc`, `post_tf`;
- the term dictionary (`vocab`, `vocab_ptr`) and the article table (`art_<field>` +
  `art_<field>_ptr` per field, `art_<field>_order` for the looked-up ones, `art_pass_ptr`: an
  article's passages are contiguous).

A builder (`builder.py`: an ingest batch, a merge) hands `layout` a `Content`; the reader
(`segment.py`) opens what `write` wrote through `read`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.errors import IndexFormatError
from retrieval.index import vectors
from retrieval.index.fsutil import crash_point, fsync_dir, seal, unseal, write_new
from retrieval.index.segments import columns, packed
from retrieval.index.segments.blocks import ALGORITHM, BLOCK, Blocks, BlockSums, CheckedArrays
from retrieval.index.store import ARTICLE_FIELDS
from retrieval.text.analyze import ANALYZER_VERSION

FORMAT_VERSION = 4  # 4: immutable segments + commit file (3 was one monolithic index with deltas)
MAGIC = b"QQASEG4\n"
VERIFY_BELOW = 8 << 20  # segments smaller than this are checksummed at every open; larger ones
# only when their size or header looks wrong, so a cold start does not grow with the corpus.
VERIFY_BELOW_ENV = "QUOTEQA_VERIFY_BELOW"  # overrides VERIFY_BELOW (bytes): the damage tests set 1
ARRAYS_SUFFIX, TABLE_SUFFIX = ".seg", ".json"  # NAME.seg and NAME.json

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
CORE_PER_PASSAGE: tuple[tuple[str, type], ...] = (("paragraph", np.int32), ("lang", np.int8), ("doc_len", np.int32))
LOOKUP_FIELDS = ("id", "hash", "text_hash")  # article columns with a sorted order, for lookups
# pointer arrays whose ends `check` reads at open: checked whole there (small: one row each), so
# a bad pointer is a damaged segment at open rather than a wild read later
SMALL = ("text_ptr", "sent_ptr", "post_ptr", "vocab_ptr", "art_pass_ptr")
COUNTED = ("uid", "art_pass_ptr", "post_ptr")  # the arrays whose lengths NAME.json gives as counts
POSTING_PASSAGES = 1 << 14  # passages whose postings are sorted at once (`postings_by_passage`)


def per_passage(present: Sequence[str] = ()) -> tuple[tuple[str, type], ...]:
    """Arrays with one row per passage, taken by row when merging and reordering: the core
    ones, then the columns of `columns/` whose arrays are `present` (a required column always
    is; the vectors when every merged segment has them)."""
    return CORE_PER_PASSAGE + columns.dtypes(present)


Lazy = Callable[[], np.ndarray]  # an array made when the file reaches it (a merge: `builder.merge_into`)


@dataclass(frozen=True, slots=True)
class Content:
    """A segment's data before layout, in passage (uid) order: per-passage rows, ragged data as
    lengths and values, the term list and the article table. Articles' passages are contiguous
    and in article order. An array may be given as a `Lazy` (a function that makes it): `stream`
    calls it when the file reaches that array, so a writer holds one such array at a time."""

    uid: I64 | Lazy
    article: I64 | Lazy  # each passage's row in `articles`
    rows: Mapping[str, np.ndarray | Lazy]  # the `per_passage` arrays: paragraph, lang, doc_len, columns
    text_len: I64 | Lazy
    texts: npt.NDArray[np.uint8] | Lazy  # UTF-8 of every passage's text, back to back
    sent_count: I64 | Lazy  # sentences per passage
    sent_start: I32 | Lazy
    sent_end: I32 | Lazy
    sent_tok_len: I64 | Lazy  # terms per sentence
    tokens: I32 | Lazy  # term ids into `vocab`, in text order
    vocab: list[str]
    articles: Mapping[str, list[str]]  # ARTICLE_FIELDS -> one value per article row


def _made(x: np.ndarray | Lazy) -> np.ndarray:
    return x() if callable(x) else x


def layout(c: Content) -> dict[str, np.ndarray]:
    """The segment's arrays, in file order (see the module docstring)."""
    return dict(stream(c))


def stream(c: Content) -> Iterator[tuple[str, np.ndarray]]:
    """The segment's arrays one at a time, in file order. What a later array needs (the
    articles, lengths and terms, for the postings and `art_pass_ptr`) is kept; nothing else is,
    so `write` of this stream holds about one array of a `Lazy` content at a time."""
    yield "uid", np.asarray(_made(c.uid), np.int64)
    article = np.asarray(_made(c.article)).astype(np.int32)
    yield "article", article
    doc_len = np.zeros(0, np.int32)
    for name, dtype in per_passage(list(c.rows)):
        row = np.asarray(_made(c.rows[name])).astype(dtype, copy=False)
        if name == "doc_len":
            doc_len = row
        yield name, row
        del row
    yield "text_ptr", ptr(_made(c.text_len))
    yield "texts", np.asarray(_made(c.texts), np.uint8)
    yield "sent_ptr", ptr(_made(c.sent_count))
    yield "sent_start", np.asarray(_made(c.sent_start), np.int32)
    yield "sent_end", np.asarray(_made(c.sent_end), np.int32)
    yield "sent_tok_ptr", ptr(_made(c.sent_tok_len))
    tokens = np.asarray(_made(c.tokens), np.int32)
    yield "tokens", tokens
    post_ptr, post_doc, post_tf = postings_by_passage(tokens, doc_len, len(c.vocab))
    del tokens
    yield "post_ptr", post_ptr
    yield "post_doc", post_doc
    yield "post_tf", post_tf
    del post_ptr, post_doc, post_tf
    n_art = len(c.articles[ARTICLE_FIELDS[0]])
    yield "art_pass_ptr", ptr(np.bincount(article.astype(np.int64), minlength=n_art).astype(np.int64))
    yield from strings("vocab", c.vocab).items()
    yield from _article_columns(c.articles)


def check(name: str, a: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> None:
    """The arrays fit together (and the counts in `meta`, when given): else IndexFormatError."""
    n, s = len(a["uid"]), len(a["sent_start"])
    n_articles, n_terms = len(a["art_pass_ptr"]) - 1, len(a["post_ptr"]) - 1
    vec = a.get(columns.VECTORS)
    checks = [
        meta is None
        or (meta.get("passages") == n and meta.get("articles") == n_articles and meta.get("terms") == n_terms),
        all(len(a[k]) == n for k in ("article", *(col for col, _ in per_passage(list(a))))),
        len(a["text_ptr"]) == n + 1 and int(a["text_ptr"][-1]) == len(a["texts"]),
        len(a["sent_ptr"]) == n + 1 and int(a["sent_ptr"][-1]) == s == len(a["sent_end"]),
        len(a["sent_tok_ptr"]) == s + 1 and int(a["sent_tok_ptr"][-1]) == len(a["tokens"]),
        int(a["post_ptr"][-1]) == len(a["post_doc"]) == len(a["post_tf"]),
        len(a["vocab_ptr"]) == n_terms + 1,
        int(a["art_pass_ptr"][-1]) == n,
        all(len(a[f"art_{f}_order"]) == n_articles for f in LOOKUP_FIELDS),
        vec is None or vec.ndim == 2,
    ]
    if not all(checks):
        raise IndexFormatError(f"segment {name}: arrays do not fit together (truncated or mixed versions)")


# --- the two files ----------------------------------------------------------------------------
def paths(directory: Path, name: str) -> tuple[Path, Path]:
    return directory / f"{name}{ARRAYS_SUFFIX}", directory / f"{name}{TABLE_SUFFIX}"


def write(
    directory: Path, name: str, arrays: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]], encoder: str | None
) -> None:
    """Write NAME.seg and NAME.json (new files: a segment is never overwritten), fsynced.
    `arrays`: a segment's arrays, or (name, array) pairs in file order (`stream`), each written
    and let go before the next is asked for."""
    start = packed.align(len(MAGIC))
    packer = packed.Packer(start)
    seg_path, meta_path = paths(directory, name)
    sums = BlockSums()
    counts: dict[str, int] = {}
    vectors_crc: int | None = None

    def watched() -> Iterator[tuple[str, np.ndarray]]:
        nonlocal vectors_crc
        for key, arr in arrays.items() if isinstance(arrays, Mapping) else arrays:
            if key == "tokens":
                crash_point("segment-write")  # half a segment on disk, no commit names it
            if key in COUNTED:
                counts[key] = len(arr)
            if key == columns.VECTORS and encoder is not None:
                vectors_crc = vectors.checksum(arr)
            yield key, arr
            del arr

    def pieces() -> Iterator[bytes | memoryview]:
        for piece in itertools.chain([MAGIC + bytes(start - len(MAGIC))], packer.chunks(watched())):
            sums.feed(piece)
            yield piece

    write_new(seg_path, pieces())  # a full disk leaves no half segment behind (no commit names it anyway)
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "analyzer": ANALYZER_VERSION,
        "name": name,
        "size": packer.offset,
        "block": BLOCK,
        "checksum": ALGORITHM,
        "blocks": sums.finish(),  # CRC-32 of each BLOCK of NAME.seg (`blocks.py`)
        "passages": counts["uid"],
        "articles": counts["art_pass_ptr"] - 1,
        "terms": counts["post_ptr"] - 1,
        "arrays": packer.table,
    }
    if encoder is not None:
        meta["encoder"] = encoder
        meta["vectors_crc32"] = vectors_crc
    write_new(meta_path, seal(meta))
    fsync_dir(directory)


@dataclass(frozen=True, slots=True)
class Read:
    arrays: CheckedArrays  # memory-mapped views into NAME.seg, checked block by block when read
    meta: dict[str, Any]  # NAME.json
    path: Path  # NAME.seg
    encoder: str | None


def read(directory: Path, name: str, verify: bool | None = None) -> Read:
    """Map a written segment's arrays or raise IndexFormatError saying what is wrong with it.

    NAME.json is checked whole (it carries its own checksum); NAME.seg block by block as it is
    read (`blocks.py`), or whole now with `verify` (`None`: only segments below VERIFY_BELOW)."""
    seg_path, meta_path = paths(directory, name)
    try:
        meta = unseal(meta_path.read_bytes(), required=False)
        size = seg_path.stat().st_size
    except FileNotFoundError as exc:
        raise IndexFormatError(f"segment {name} is missing ({exc.filename})") from exc
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"segment {name} has unreadable metadata {meta_path}: {exc}") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise IndexFormatError(f"segment {name} is of another format")
    if meta.get("name") != name:
        raise IndexFormatError(f"segment {name}: {meta_path} is the table of segment {meta.get('name')!r}")
    if meta.get("block") != BLOCK or meta.get("checksum") != ALGORITHM or not isinstance(meta.get("blocks"), list):
        raise IndexFormatError(f"segment {name} was written by an older quoteqa, without block checksums")
    if meta.get("analyzer") != ANALYZER_VERSION:
        raise IndexFormatError(
            f"segment {name} was analysed by analyser v{meta.get('analyzer')}, not v{ANALYZER_VERSION}"
        )
    if size != meta.get("size"):
        raise IndexFormatError(f"segment {name}: {seg_path} is {size} bytes, expected {meta.get('size')} (truncated?)")
    missing = columns.lacking(list(meta.get("arrays") or {}))
    if missing:
        raise IndexFormatError(f"segment {name} was written before the column(s) {', '.join(missing)} existed")
    try:
        blocks = Blocks(seg_path, name, [int(x) for x in meta["blocks"]], size)
        if verify is None:
            verify = size < int(os.environ.get(VERIFY_BELOW_ENV) or VERIFY_BELOW)
        if verify:
            blocks.check_all()
        raw = np.memmap(seg_path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        if bytes(raw[: len(MAGIC)]) != MAGIC:
            raise IndexFormatError(f"segment {name} does not start with a segment header")
        arrays, spans = packed.views(raw, meta["arrays"], f"segment {name}")
        encoder = meta.get("encoder")
        if (encoder is None) != (columns.VECTORS not in arrays):
            raise IndexFormatError(f"segment {name}: passage vectors and their encoder's name do not go together")
        checked = CheckedArrays(arrays, spans, blocks)
        if encoder is not None and verify and _vectors_crc(blocks, arrays, spans) != meta.get("vectors_crc32"):
            raise IndexFormatError(f"segment {name}: its passage vectors fail their checksum")
        check(name, {k: checked[k] if k in SMALL else v for k, v in arrays.items()}, meta)
    except IndexFormatError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(f"segment {name} is damaged: {exc}") from exc
    return Read(checked, meta, seg_path, encoder)


def _vectors_crc(blocks: Blocks, arrays: Mapping[str, np.ndarray], spans: Mapping[str, tuple[int, int]]) -> int:
    """The vectors' checksum read with `pread` (every block was checked just before): read
    through the map, their pages stayed resident as long as the segment was open (25 MiB a
    50k-passage flush, 103 MiB after a 4 x 50k merge). A verified open of a real 50k segment
    now leaves 18 MiB resident, where it left 43 (/tmp/h1/open_rss.py)."""
    codes, (lo, hi) = arrays[columns.VECTORS], spans[columns.VECTORS]
    step = 1 << 20  # 16 MiB reads left ~14 MiB more of heap behind (glibc's mmap threshold rises)
    pieces = (os.pread(blocks.fd, min(step, hi - at), at) for at in range(lo, hi, step))
    return vectors.checksum_of(codes.dtype, codes.shape, pieces)


# --- ragged arrays, strings, postings ---------------------------------------------------------
def ptr(lengths: npt.ArrayLike) -> I64:
    """Pointers (a leading 0, then running sums) of ragged rows' lengths."""
    lengths = np.asarray(lengths)
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _article_columns(cols: Mapping[str, list[str]]) -> Iterator[tuple[str, np.ndarray]]:
    """The article table as string columns, plus a sorted order of the columns looked up by
    value, so finding an article by id or hash is a binary search, not a dict of every article."""
    for f in ARTICLE_FIELDS:
        values = cols[f]
        yield from strings(f"art_{f}", values).items()
        if f in LOOKUP_FIELDS:
            yield f"art_{f}_order", np.array(sorted(range(len(values)), key=values.__getitem__), np.int32)


def strings(name: str, values: Sequence[str]) -> dict[str, np.ndarray]:
    encoded = [v.encode("utf-8") for v in values]
    blob = b"".join(encoded)
    return {
        name: np.frombuffer(blob, np.uint8),
        f"{name}_ptr": ptr(np.fromiter(map(len, encoded), np.int64, len(encoded))),
    }


def interned(values: Iterable[str], ids: dict[str, int], listing: list[str]) -> I32:
    """Each value's number in a list that grows (`listing`, found through `ids`), a new value
    appended: a merged term dictionary or key list, and one source's ids remapped into it."""
    out = []
    for v in values:
        i = ids.get(v)
        if i is None:
            i = ids[v] = len(listing)
            listing.append(v)
        out.append(i)
    return np.array(out, np.int32)


def decode_strings(blob: npt.ArrayLike, pointers: npt.ArrayLike) -> list[str]:
    """The values `strings` laid out (its blob and pointers), decoded."""
    data, at = bytes(np.asarray(blob, np.uint8)), np.asarray(pointers, np.int64).tolist()
    return [data[at[i] : at[i + 1]].decode("utf-8") for i in range(len(at) - 1)]


def postings(tokens: np.ndarray, docs: np.ndarray, n_terms: int) -> tuple[I64, I32, I32]:
    """Term-major postings (pointer, doc ids ascending, term frequencies) from a token stream."""
    if len(tokens) == 0:
        return np.zeros(n_terms + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    span = int(docs.max()) + 1
    keys = np.asarray(tokens, np.int64) * span + docs
    uniq, tf = np.unique(keys, return_counts=True)
    terms = uniq // span
    out = np.zeros(n_terms + 1, np.int64)
    out[1:] = np.cumsum(np.bincount(terms, minlength=n_terms))
    return out, (uniq % span).astype(np.int32), tf.astype(np.int32)


def postings_by_passage(tokens: np.ndarray, doc_len: np.ndarray, n_terms: int) -> tuple[I64, I32, I32]:
    """`postings(tokens, np.repeat(np.arange(n), doc_len), n_terms)`, the same arrays, sorted
    `POSTING_PASSAGES` passages at a time. One sort of every (term, passage) key held ~40 bytes a
    term of the text at once: ~330 MiB for a 200k-passage merge's 8.3M terms. Chunks come in
    passage order, so each term's postings stay ascending; a first pass counts them per term."""
    tokens, doc_len = np.asarray(tokens), np.asarray(doc_len)
    if len(tokens) == 0:
        return postings(tokens, np.zeros(0, np.int64), n_terms)
    tok_ptr = ptr(doc_len)
    n = len(doc_len)

    def chunks() -> Iterator[tuple[I64, I32, I32]]:
        for lo in range(0, n, POSTING_PASSAGES):
            hi = min(n, lo + POSTING_PASSAGES)
            ptr_c, doc_c, tf_c = postings(
                tokens[tok_ptr[lo] : tok_ptr[hi]], np.repeat(np.arange(lo, hi, dtype=np.int64), doc_len[lo:hi]), n_terms
            )
            yield ptr_c, doc_c, tf_c

    df = np.zeros(n_terms, np.int64)
    for ptr_c, _, _ in chunks():
        df += np.diff(ptr_c)
    out_ptr = ptr(df)
    out_doc, out_tf = np.empty(int(out_ptr[-1]), np.int32), np.empty(int(out_ptr[-1]), np.int32)
    cursor = out_ptr[:-1].copy()  # where each term's next postings go
    for ptr_c, doc_c, tf_c in chunks():
        counts = np.diff(ptr_c)
        # entry j of term t goes to cursor[t] + (j - ptr_c[t])
        at = np.repeat(cursor - ptr_c[:-1], counts) + np.arange(len(doc_c), dtype=np.int64)
        out_doc[at], out_tf[at] = doc_c, tf_c
        cursor += counts
    return out_ptr, out_doc, out_tf


def take_ragged(pointers: np.ndarray, data: np.ndarray, rows: np.ndarray) -> tuple[I64, np.ndarray]:
    """Rows of a ragged array (values + pointers), in the order given: new pointers and values."""
    pointers = np.asarray(pointers, np.int64)
    rows = np.asarray(rows, np.int64)
    lens = pointers[rows + 1] - pointers[rows]
    new_ptr = ptr(lens)
    if new_ptr[-1] == 0:
        return new_ptr, np.asarray(data)[:0]
    offsets = np.repeat(pointers[rows] - new_ptr[:-1], lens)
    idx = np.arange(int(new_ptr[-1]), dtype=np.int64) + offsets
    return new_ptr, np.asarray(data)[idx]
