"""The anchors column: each passage's language-neutral keys (`retrieval/text/anchors/`), with postings.

Unlike the fixed-width columns of `columns/__init__.py`, a passage holds any number of keys, so
the column is ragged and has a file of its own, `NAME.anc` (a component in `components.py`:
written, kept and verified with the segment). It holds the segment's key list, each passage's
(key, sentence) pairs in text order, and key-major postings (key -> local passage rows,
ascending): the candidate source reads the postings, the verdict reads a passage's keys.

The file is laid out as `NAME.seg` is (`packed.py`: arrays at 64-byte boundaries, a CRC-32C of
each block, checked whole at open) and memory-mapped; a question's postings and passage keys are
read with `pread` (`FileReads`), so a serving process holds no copy of the column. Files written
before (an `.npz` zip, read whole) still open.

Keys are computed where the passages are analysed (`pool.analyse_batch`: here, in a child
process or on a cluster worker), from the sentences the analyser already produced: no second
Kiwi run. A merge takes rows by passage like every other column (`merged`).

A segment written before this column existed has no `.anc` file: opening it raises
IndexFormatError ("written before the anchors column existed"), which drops the segment as
damaged and makes the corpus sync rebuild the index from the corpus (never answering with
anchors half missing).
"""

from __future__ import annotations

import mmap
import os
import struct
import weakref
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from retrieval.errors import IndexFormatError
from retrieval.index.fsutil import seal, unseal, write_new
from retrieval.index.segments import packed
from retrieval.index.segments.blocks import ALGORITHM, BLOCK, Blocks, BlockSums
from retrieval.index.segments.format import decode_strings, interned, strings
from retrieval.text.anchors import Anchors, fuzzy, glossary

if TYPE_CHECKING:
    from retrieval.index.segments.segment import Segment
    from retrieval.text.analyze import Analyzer, Sentence

NAME = "anchors"
SUFFIX = ".anc"
ANCHORS_FORMAT = 2  # 2: the word list's keys (a segment of format 1 lacks them and is rebuilt)
MAGIC = b"QQAANC2\n"  # the mapped layout (`write_arrays`); older files are .npz zips, still read
ZIP_MAGIC = b"PK\x03\x04"
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
# the batch arrays `analyse_batch` sends back beside the term arrays (ids into the batch's own key list)
BATCH_ARRAYS = ("anc_count", "anc_key", "anc_sent", "anc_vocab", "anc_vocab_ptr")

_loaded: dict[int, tuple[object, Anchors]] = {}


def anchors_for(analyzer: Analyzer) -> Anchors:
    """One `Anchors` per analyser and process (the glossary is analysed once with it); raises
    AnchorDataError naming the file when the glossary or the name model is missing or damaged."""
    got = _loaded.get(id(analyzer))
    if got is None or got[0] is not analyzer:
        # the files named at call time (a test points them at a damaged copy)
        got = _loaded[id(analyzer)] = (
            analyzer,
            Anchors.load(analyzer, glossary.GLOSSARY_FILE, fuzzy.NAMES_FILE, lexicon=glossary.LEXICON_FILE),
        )
    return got[1]


def sorted_unique(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """`np.unique(values)` by a sort and a mask. numpy 2.4's `np.unique` takes a hash path on
    these (key × passages + passage) integers that ran 14.5 s on a 200k-passage segment's 3.3M
    entries where the sort took 0.43 s: opening the real 1M-build's 552k index took 21 s, nearly
    all of it here (docs/performance.md, issue 28 item 4)."""
    s = np.sort(values)
    if len(s) < 2:
        return s
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


class SegmentAnchors:
    """One segment's anchors: keys by id, per-passage (key id, sentence) pairs, postings."""

    __slots__ = ("keys", "pass_ptr", "pass_key", "pass_sent", "post_ptr", "post_doc", "_ids", "reads")

    def __init__(
        self, keys: Sequence[str], pass_ptr: I64, pass_key: I32, pass_sent: I32,
        postings: tuple[I64, I32] | None = None,
    ) -> None:  # fmt: skip
        """`postings`: (post_ptr, post_doc) as a file stored them; None: made here from the
        passages' keys (a sort of every (key, passage) pair: 0.5 s of a 552k index's 0.9 s open)."""
        self.keys = tuple(keys)
        self.pass_ptr = np.asarray(pass_ptr, np.int64)
        self.pass_key = np.asarray(pass_key, np.int32)
        self.pass_sent = np.asarray(pass_sent, np.int32)
        if postings is not None:
            self.post_ptr, self.post_doc = np.asarray(postings[0], np.int64), np.asarray(postings[1], np.int32)
        else:
            n = len(self.pass_ptr) - 1
            docs = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.pass_ptr))
            span = max(n, 1)
            uniq = sorted_unique(self.pass_key.astype(np.int64) * span + docs)
            self.post_ptr = np.zeros(len(self.keys) + 1, np.int64)
            np.cumsum(np.bincount(uniq // span, minlength=len(self.keys)), out=self.post_ptr[1:])
            self.post_doc = (uniq % span).astype(np.int32)
        self._ids: dict[str, int] | None = None
        self.reads: FileReads | None = None  # set when mapped from a file: ranges are read, not faulted in

    def _range(self, name: str, lo: int, hi: int) -> np.ndarray:
        arr: np.ndarray = getattr(self, name)
        return arr[lo:hi] if self.reads is None or hi <= lo else self.reads.read(name, arr.dtype, lo, hi)

    @property
    def n_passages(self) -> int:
        return len(self.pass_ptr) - 1

    def key_id(self, key: str) -> int:
        if self._ids is None:
            self._ids = {k: i for i, k in enumerate(self.keys)}
        return self._ids.get(key, -1)

    def rows_of(self, key: str) -> I32:
        """Local rows of the passages holding `key`, ascending."""
        i = self.key_id(key)
        if i < 0:
            return np.zeros(0, np.int32)
        return self._range("post_doc", int(self.post_ptr[i]), int(self.post_ptr[i + 1]))

    def of_passage(self, row: int) -> tuple[tuple[str, int], ...]:
        """(key, sentence) pairs of one passage, in text order."""
        lo, hi = int(self.pass_ptr[row]), int(self.pass_ptr[row + 1])
        keys = self.keys
        ks, ss = self._range("pass_key", lo, hi).tolist(), self._range("pass_sent", lo, hi).tolist()
        return tuple((keys[k], s) for k, s in zip(ks, ss, strict=True))

    def keys_of(self, rows: Iterable[int]) -> frozenset[str]:
        keys = self.keys
        if isinstance(rows, range) and rows.step == 1:  # a story's rows: one read
            spans = [(int(self.pass_ptr[rows.start]), int(self.pass_ptr[rows.stop]))] if len(rows) else []
        else:
            spans = [(int(self.pass_ptr[r]), int(self.pass_ptr[r + 1])) for r in rows]
        return frozenset(keys[k] for lo, hi in spans for k in self._range("pass_key", lo, hi).tolist())

    def take(self, rows: npt.ArrayLike) -> tuple[list[I64], list[I32], list[I32]]:
        rows = np.asarray(rows, np.int64)
        lens = self.pass_ptr[rows + 1] - self.pass_ptr[rows]
        starts = self.pass_ptr[rows]
        ends = np.cumsum(lens)
        idx = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(starts - (ends - lens), lens)
        return [lens], [self.pass_key[idx]], [self.pass_sent[idx]]


class FileReads:
    """Ranges of a mapped anchors file, read with `pread`. A question reads a few postings and
    passages' keys in each segment; through the map, the kernel's fault-around also mapped the
    pages around each one, and 60 questions left ~90 MiB of a 552k index's anchors resident. The
    file's blocks were all checked when it was opened, and a segment's files never change."""

    def __init__(self, path: Path, spans: dict[str, tuple[int, int]]) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)
        self.spans = spans

    def read(self, name: str, dtype: np.dtype, lo: int, hi: int) -> np.ndarray:
        size = dtype.itemsize
        return np.frombuffer(os.pread(self.fd, (hi - lo) * size, self.spans[name][0] + lo * size), dtype)


EMPTY = SegmentAnchors((), np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))


# --- ingest -----------------------------------------------------------------------------------
def batch_arrays(anchors: Anchors, texts: Sequence[str], analysed: Sequence[list[Sentence]]) -> dict[str, np.ndarray]:
    """One analysed batch's anchors as flat arrays over the batch's own key list."""
    ids: dict[str, int] = {}
    count: list[int] = []
    key_ids: list[int] = []
    sents: list[int] = []
    for text, sentences in zip(texts, analysed, strict=True):
        found = anchors.passage(text, sentences).anchors
        count.append(len(found))
        for a in found:
            key_ids.append(ids.setdefault(a.key, len(ids)))
            sents.append(a.sentence)
    return {
        "anc_count": np.array(count, np.int64),
        "anc_key": np.array(key_ids, np.int32),
        "anc_sent": np.array(sents, np.int32),
        **strings("anc_vocab", list(ids)),
    }


class AnchorCollector:
    """A segment builder's anchors, batch by batch, over one key list."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.ids: dict[str, int] = {}
        self.counts: list[I64] = []
        self.key_ids: list[I32] = []
        self.sents: list[I32] = []

    def add(self, part: dict[str, np.ndarray]) -> None:
        remap = interned(decode_strings(part["anc_vocab"], part["anc_vocab_ptr"]), self.ids, self.keys)
        keys = np.asarray(part["anc_key"], np.int32)
        self.counts.append(np.asarray(part["anc_count"], np.int64))
        self.key_ids.append(remap[keys] if len(keys) else keys)
        self.sents.append(np.asarray(part["anc_sent"], np.int32))

    def finish(self) -> SegmentAnchors:
        return _assemble(self.keys, self.counts, self.key_ids, self.sents)


def _assemble(
    keys: Sequence[str], counts: list[I64], key_ids: list[I32], sents: list[I32], postings: bool = True
) -> SegmentAnchors:
    """The anchors of passages given batch by batch; `postings` False: without their postings
    (a merge's rows before they are put in uid order, which only `take` reads)."""
    cat = lambda xs, t: np.concatenate([np.zeros(0, t)] + [np.asarray(x, t) for x in xs])  # noqa: E731
    c = cat(counts, np.int64)
    ptr = np.zeros(len(c) + 1, np.int64)
    np.cumsum(c, out=ptr[1:])
    k, s = cat(key_ids, np.int32), cat(sents, np.int32)
    used = np.unique(k)  # drop keys no passage holds any more (a merge after deletions)
    if len(used) < len(keys):
        remap = np.full(len(keys), -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        keys, k = [keys[i] for i in used.tolist()], remap[k]
    placeholder = None if postings else (np.zeros(len(keys) + 1, np.int64), np.zeros(0, np.int32))
    return SegmentAnchors(keys, ptr, k, s, placeholder)


def merged(
    pieces: Sequence[tuple[SegmentAnchors, npt.ArrayLike]], order: npt.ArrayLike | None = None
) -> SegmentAnchors:
    """The anchors of a merged segment: each piece's kept rows, in piece order, then (when the
    pieces interleave in uid order) reordered by `order`."""
    keys: list[str] = []
    ids: dict[str, int] = {}
    counts: list[I64] = []
    key_ids: list[I32] = []
    sents: list[I32] = []
    for anc, rows in pieces:
        remap = interned(anc.keys, ids, keys)
        c, k, s = anc.take(rows)
        counts += c
        key_ids.append(remap[k[0]] if len(k[0]) else k[0])
        sents += s
    out = _assemble(keys, counts, key_ids, sents, postings=order is None)
    if order is None:
        return out
    c2, k2, s2 = out.take(order)
    return _assemble(out.keys, c2, k2, s2)


# --- the file ---------------------------------------------------------------------------------
def path_of(directory: Path, segment: str) -> Path:
    return directory / f"{segment}{SUFFIX}"


def write(directory: Path, seg: Segment) -> None:
    write_anchors(directory, seg.name, seg.anchors, seg.n_passages)


def write_anchors(directory: Path, segment: str, anc: SegmentAnchors, n_passages: int) -> None:
    """NAME.anc of a segment of `n_passages` passages (a merge writes it before the segment is opened)."""
    if anc.n_passages != n_passages:
        raise ValueError(f"segment {segment}: anchors for {anc.n_passages} passages, not {n_passages}")
    write_arrays(path_of(directory, segment), {
        **strings("keys", anc.keys), "pass_ptr": anc.pass_ptr, "pass_key": anc.pass_key,
        "pass_sent": anc.pass_sent, "post_ptr": anc.post_ptr, "post_doc": anc.post_doc,
    })  # fmt: skip


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """NAME.anc: MAGIC, the arrays laid out as in NAME.seg (`packed.py`), then a sealed footer
    (the format, their table, a CRC-32C of each block before it) and the footer's length."""
    start = packed.align(len(MAGIC))
    table, body, size = packed.lay_out(arrays, start)
    chunks = [MAGIC + bytes(start - len(MAGIC)), *body]
    sums = BlockSums()
    for chunk in chunks:
        sums.feed(chunk)
    footer = seal({
        "format": ANCHORS_FORMAT, "size": size, "block": BLOCK, "checksum": ALGORITHM, "blocks": sums.finish(),
        "arrays": table,
    })  # fmt: skip
    write_new(path, [*chunks, footer, struct.pack("<Q", len(footer))])


def read(directory: Path, segment: str, n_passages: int) -> SegmentAnchors:
    """A segment's anchors, every byte checked (block checksums, or an older file's zip CRC-32s),
    or IndexFormatError. A file of this version is memory-mapped: a serving process keeps
    resident only the pages its questions touch (at 552k passages the arrays are ~105 MiB)."""
    path = path_of(directory, segment)
    what = f"segment {segment}: its anchors ({path.name})"
    mapped: mmap.mmap | None = None
    try:
        arrays, mapped, spans = file_arrays(path, segment)
        keys = decode_strings(arrays["keys"], arrays["keys_ptr"])
        # the postings as written (a file written before they were kept: made at open)
        stored = (arrays["post_ptr"], arrays["post_doc"]) if "post_ptr" in arrays and "post_doc" in arrays else None
        anc = SegmentAnchors(keys, arrays["pass_ptr"], arrays["pass_key"], arrays["pass_sent"], stored)
        if spans is not None:
            anc.reads = FileReads(path, spans)
    except FileNotFoundError as exc:
        raise IndexFormatError(
            f"segment {segment} was written before the anchors column existed ({path.name} is missing); "
            "the index is rebuilt from the corpus"
        ) from exc
    except IndexFormatError:
        raise
    except (OSError, ValueError, KeyError, IndexError, UnicodeDecodeError, zipfile.BadZipFile, EOFError) as exc:
        raise IndexFormatError(f"{what} are damaged: {exc}") from exc
    k, pp, pd = anc.pass_key, anc.post_ptr, anc.post_doc
    if (
        anc.n_passages != n_passages
        or int(anc.pass_ptr[-1]) != len(k)
        or len(anc.pass_sent) != len(k)
        or (len(k) and (int(k.min()) < 0 or int(k.max()) >= len(keys)))
        or len(pp) != len(keys) + 1
        or int(pp[0]) != 0
        or int(pp[-1]) != len(pd)
        or bool(np.any(np.diff(pp) < 0))
        or (len(pd) and (int(pd.min()) < 0 or int(pd.max()) >= n_passages))
    ):
        raise IndexFormatError(f"{what} do not fit the segment")
    if mapped is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)  # the checks above read every page: let them go again
    return anc


Spans = dict[str, tuple[int, int]]


def file_arrays(path: Path, segment: str) -> tuple[dict[str, np.ndarray], mmap.mmap | None, Spans | None]:
    """The arrays of an anchors file of either layout, its map and the arrays' byte spans (None,
    None: an older file, read whole)."""
    what = f"segment {segment}: its anchors ({path.name})"
    with path.open("rb") as f:
        zipped = f.read(len(ZIP_MAGIC)) == ZIP_MAGIC
    return (_read_zip(path, what), None, None) if zipped else _read_mapped(path, segment, what)


def _read_zip(path: Path, what: str) -> dict[str, np.ndarray]:
    """A file written before the mapped layout: an .npz, read whole (its CRC-32s checked)."""
    with np.load(path, allow_pickle=False) as z:
        if int(z["format"][0]) != ANCHORS_FORMAT:
            raise IndexFormatError(f"{what} are of another format")
        return {k: z[k] for k in z.files}


def _read_mapped(path: Path, segment: str, what: str) -> tuple[dict[str, np.ndarray], mmap.mmap, Spans]:
    size = path.stat().st_size
    with path.open("rb") as f:
        if f.read(len(MAGIC)) != MAGIC or size < len(MAGIC) + 8:
            raise IndexFormatError(f"{what} are damaged: not an anchors file")
        f.seek(size - 8)
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size - 8 - len(MAGIC):
            raise IndexFormatError(f"{what} are damaged: a footer of {n} bytes")
        f.seek(size - 8 - n)
        meta = unseal(f.read(n))
        if meta.get("format") != ANCHORS_FORMAT:
            raise IndexFormatError(f"{what} are of another format")
        data = meta.get("size")
        if meta.get("block") != BLOCK or meta.get("checksum") != ALGORITHM or data != size - 8 - n:
            raise IndexFormatError(f"{what} are damaged: the footer does not fit the file")
        Blocks(path, segment, [int(x) for x in meta["blocks"]], data).check_all()  # type: ignore[union-attr]
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    raw = np.frombuffer(mapped, np.uint8, count=data)
    arrays, spans = packed.views(raw, meta["arrays"], what)  # type: ignore[arg-type]
    return arrays, mapped, spans


def present(directory: Path, segment: str) -> bool:
    return path_of(directory, segment).is_file()


def verify(directory: Path, seg: Segment) -> str | None:
    """Every byte checked, and the stored postings made again from the passages' keys (`read`
    trusts them: a sort of every pair at each open was most of a large index's open time)."""
    try:
        anc = read(directory, seg.name, seg.n_passages)
    except IndexFormatError as exc:
        return str(exc)
    again = SegmentAnchors(anc.keys, anc.pass_ptr, anc.pass_key, anc.pass_sent)
    if not (np.array_equal(again.post_ptr, anc.post_ptr) and np.array_equal(again.post_doc, anc.post_doc)):
        return f"segment {seg.name}: its anchors' postings ({path_of(directory, seg.name).name}) do not match its passages' keys"
    return None
