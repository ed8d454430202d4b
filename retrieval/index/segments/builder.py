"""Making segments: from analysed passages (an ingest batch) or from other segments (a merge).

Both hand their data to `format.layout` as a `Content`, so the array layout is spelled once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.index.segments import columns, components, format
from retrieval.index.segments.columns import anchors as anchor_column
from retrieval.index.segments.format import Content, layout, per_passage, ptr, take_ragged
from retrieval.index.segments.segment import Segment
from retrieval.index.store import ARTICLE_FIELDS, ArticleMeta
from retrieval.text.analyze import Sentence, passage_languages

I64 = npt.NDArray[np.int64]
Encoded = tuple[dict[str, np.ndarray], list[str]]  # one batch as arrays, over its own term list


@dataclass
class SegmentBuilder:
    """Collects analysed passages batch by batch as flat int arrays (no per-sentence Python
    objects outlive their batch), then turns them into a segment's arrays."""

    vocab: list[str] = field(default_factory=list)
    term_ids: dict[str, int] = field(default_factory=dict)
    schema: tuple[Any, ...] = field(default_factory=columns.schema)  # per-passage columns (columns.schema)
    articles: list[ArticleMeta] = field(default_factory=list)
    _art_passages: list[int] = field(default_factory=list)
    _parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    _texts: list[bytes] = field(default_factory=list)
    _anchors: anchor_column.AnchorCollector = field(default_factory=anchor_column.AnchorCollector)

    @property
    def n_passages(self) -> int:
        return sum(self._art_passages)

    def add_encoded(self, metas: Sequence[ArticleMeta], paragraphs: Sequence[Sequence[str]], encoded: Encoded) -> None:
        """A batch encoded by `encode` (here, or in a child process): its term ids are mapped
        into this builder's dictionary. Columns the encoder did not compute are computed here."""
        part, vocab = encoded
        missing = [c for c in self.schema if c.name not in part]
        if missing:
            part = part | columns.compute_all([t for p in paragraphs for t in p], missing)
        remap = format.interned(vocab, self.term_ids, self.vocab)
        if "anc_count" not in part:
            raise ValueError("an analysed batch came back without its anchors (a worker of an older quoteqa?)")
        self._anchors.add(part)
        self.articles.extend(metas)
        self._art_passages.extend(len(p) for p in paragraphs)
        part = {k: v for k, v in part.items() if k not in anchor_column.BATCH_ARRAYS}
        self._parts.append({**part, "tokens": remap[part["tokens"]] if len(part["tokens"]) else part["tokens"]})
        self._texts.extend(t.encode("utf-8") for p in paragraphs for t in p)

    def columns_of(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """This builder's per-passage columns for a batch of texts (the encoder runs here)."""
        return columns.compute_all(texts, self.schema)

    def anchors(self) -> anchor_column.SegmentAnchors:
        """The anchors of every passage added so far (the segment's `anchors`, `NAME.anc`)."""
        return self._anchors.finish()

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
        sent_tok_len = cat("sent_tok_len", np.int64)
        sent_count = cat("sent_count", np.int64)
        rows: dict[str, np.ndarray] = {
            "paragraph": np.concatenate([np.arange(1, c + 1, dtype=np.int32) for c in art_counts])
            if n
            else np.zeros(0, np.int32),
            "lang": passage_languages([t.decode("utf-8") for t in self._texts]),
            "doc_len": np.diff(ptr(sent_tok_len)[ptr(sent_count)]).astype(np.int32),
        }
        for c in self.schema:
            parts = [np.asarray(p[c.name], c.dtype) for p in self._parts]
            rows[c.name] = np.concatenate(parts) if parts else np.asarray(c.compute([]), c.dtype)
        return layout(
            Content(
                uid=np.arange(first_uid, first_uid + n, dtype=np.int64),
                article=np.repeat(np.arange(len(art_counts), dtype=np.int64), art_counts),
                rows=rows,
                text_len=np.fromiter((len(t) for t in self._texts), np.int64, n),
                texts=np.frombuffer(b"".join(self._texts), np.uint8),
                sent_count=sent_count,
                sent_start=cat("sent_start", np.int32),
                sent_end=cat("sent_end", np.int32),
                sent_tok_len=sent_tok_len,
                tokens=cat("tokens", np.int32),
                vocab=self.vocab,
                articles={f: [getattr(a, f) for a in self.articles] for f in ARTICLE_FIELDS},
            )
        )


# --- merging ----------------------------------------------------------------------------------
def merge(name: str, parts: Sequence[tuple[Segment, npt.NDArray[np.bool_] | None]]) -> Segment:
    """One segment holding the live passages of several (segment, deleted mask) pairs, in uid
    order, with a merged term dictionary; deleted passages are dropped for good. In memory
    (every array at once): a store merges with `merge_into`, which writes the same files."""
    m = _Merge(parts)
    out = Segment(name, layout(m.content()), m.encoder)
    out.anchors = m.anchors()
    return out


def merge_into(directory: Path, name: str, parts: Sequence[tuple[Segment, npt.NDArray[np.bool_] | None]]) -> Segment:
    """`merge(name, parts).write(directory)`, the same files, written as they are made: each
    array of NAME.seg is computed when the file reaches it and let go once written, reading
    the sources with `pread`; the graph and the uid runs come from the segment written. A
    merge of 4 x 50k passages held every array (and the sources' mapped pages) at once: its
    peak RSS figures are in docs/performance.md (issue 28)."""
    m = _Merge(parts)
    format.write(directory, name, format.stream(m.content()), m.encoder)
    anchors = m.anchors()
    anchor_column.write_anchors(directory, name, anchors, m.n_passages)
    del anchors, m
    out = Segment.open(directory, name, verify=True)
    components.write(directory, out, skip=components.MADE_BY_MERGE)
    return out


@dataclass
class _Piece:
    """One source segment of a merge: its kept rows, and where they go."""

    seg: Segment
    keep: I64  # source passage rows kept (live articles), ascending
    remap_term: npt.NDArray[np.int32]  # source term id -> merged term id
    dest: I64 = field(default_factory=lambda: np.zeros(0, np.int64))  # merged rows of `keep`, ascending


class _Merge:
    """What a merge writes, made array by array (`content` gives them as `format.Lazy`). Only
    per-passage pointers and the small tables are held; each big array is made from one source
    at a time, read whole with `pread` and let go."""

    def __init__(self, parts: Sequence[tuple[Segment, npt.NDArray[np.bool_] | None]]) -> None:
        vocab: list[str] = []
        term_ids: dict[str, int] = {}
        self.pieces: list[_Piece] = []
        self.anchor_pieces: list[tuple[anchor_column.SegmentAnchors, np.ndarray]] = []
        art_cols: dict[str, list[str]] = {f: [] for f in ARTICLE_FIELDS}
        uids: list[I64] = []
        articles: list[I64] = []
        n_art = 0
        written = [seg for seg, _ in parts if seg.n_passages]
        stamps = {seg.encoder for seg in written}
        encoder = stamps.pop() if len(stamps) == 1 else None  # vectors survive only if every part has the same kind
        # a column survives when every part holds it (a required one always does)
        rows = per_passage([
            c.name for c in columns.COLUMNS
            if all(c.name in seg.a for seg in written) and (c.name != columns.VECTORS or encoder is not None)
        ])  # fmt: skip
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
            self.anchor_pieces.append((seg.anchors, keep))
            remap_art = np.full(seg.n_articles, -1, np.int64)
            remap_art[arts] = np.arange(n_art, n_art + len(arts))
            n_art += len(arts)
            for f in ARTICLE_FIELDS:
                col = seg.strings(f"art_{f}")
                art_cols[f].extend(col[r] for r in arts.tolist())
            remap_term = format.interned(seg.vocab, term_ids, vocab)
            uids.append(seg.whole("uid")[keep])
            articles.append(remap_art[seg.whole("article")[keep]])
            self.pieces.append(_Piece(seg, keep, remap_term))
        if not self.pieces:
            encoder = None
            rows = per_passage([c.name for c in columns.COLUMNS if c.required])
        self.encoder, self.rows, self.vocab = encoder, rows, vocab
        uid = np.concatenate([np.zeros(0, np.int64), *uids])
        order = np.argsort(uid, kind="stable")
        # pieces interleave in uid order (a build merges its smallest segments first)
        self.order = order if len(order) and not np.all(order[:-1] < order[1:]) else None
        source = np.repeat(np.arange(len(self.pieces)), [len(p.keep) for p in self.pieces])[order]
        for i, p in enumerate(self.pieces):
            p.dest = np.flatnonzero(source == i)  # a piece's rows keep their order (uids ascend in a segment)
        self.uid = uid[order]
        # articles in the order of their first passage (as they were when the pieces do not interleave)
        article = np.concatenate([np.zeros(0, np.int64), *articles])[order]
        first_seen = np.unique(article, return_index=True)[1]
        art_order = article[np.sort(first_seen)]
        new_row = np.empty(len(art_order), np.int64)
        new_row[art_order] = np.arange(len(art_order))
        self.article = new_row[article]
        self.articles = {f: [art_cols[f][r] for r in art_order.tolist()] for f in ARTICLE_FIELDS}
        self.n_passages = len(self.uid)
        self._ptr: dict[str, I64] = {}  # the merged segment's pointers, made with their lengths

    def content(self) -> Content:
        row = lambda name, dtype: lambda: self._rows(name, dtype)  # noqa: E731
        return Content(
            uid=self.uid, article=self.article, rows={name: row(name, dtype) for name, dtype in self.rows},
            text_len=lambda: self._lengths("text_ptr"), texts=lambda: self._ragged("texts", "text_ptr", np.uint8),
            sent_count=lambda: self._lengths("sent_ptr"),
            sent_start=lambda: self._ragged("sent_start", "sent_ptr", np.int32),
            sent_end=lambda: self._ragged("sent_end", "sent_ptr", np.int32),
            sent_tok_len=self._sentence_lengths, tokens=self._tokens, vocab=self.vocab, articles=self.articles,
        )  # fmt: skip

    def anchors(self) -> anchor_column.SegmentAnchors:
        return anchor_column.merged(self.anchor_pieces, self.order)

    def _rows(self, name: str, dtype: type) -> np.ndarray:
        """A per-passage array, its rows taken from each source in turn."""
        out: np.ndarray | None = None
        for p in self.pieces:
            src = p.seg.whole(name)
            if out is None:
                out = np.empty((self.n_passages, *src.shape[1:]), dtype)
            out[p.dest] = src[p.keep]
            del src
        return out if out is not None else np.zeros(0, dtype)

    def _lengths(self, pointers: str) -> I64:
        """Each merged passage's length in a ragged array (`pointers` names it); its pointers kept."""
        out = np.zeros(self.n_passages, np.int64)
        for p in self.pieces:
            out[p.dest] = np.diff(p.seg.whole(pointers).astype(np.int64))[p.keep]
        self._ptr[pointers] = ptr(out)
        return out

    def _ragged(self, name: str, pointers: str, dtype: type, values: Any = None) -> np.ndarray:
        """A ragged array by passage (`pointers`, made by `_lengths`), copied from each source a
        run of consecutive passages at a time. `values(piece)`: the source's values (default:
        its array `name`)."""
        out_ptr = self._ptr[pointers]
        out = np.empty(int(out_ptr[-1]), dtype)
        for p in self.pieces:
            src = values(p) if values is not None else p.seg.whole(name)
            _copy_runs(out, out_ptr, p.dest, src, self._source_ptr(p, pointers), p.keep)
            del src
        return out

    def _source_ptr(self, p: _Piece, pointers: str) -> I64:
        if pointers == "passage_tok_ptr":  # a passage's terms: its sentences' terms
            return np.asarray(p.seg.whole("sent_tok_ptr"), np.int64)[np.asarray(p.seg.whole("sent_ptr"), np.int64)]
        return np.asarray(p.seg.whole(pointers), np.int64)

    def _sentence_lengths(self) -> I64:
        """Terms per sentence (sentences are ragged by passage, as `sent_ptr` says)."""
        out = self._ragged("", "sent_ptr", np.int64, lambda p: np.diff(p.seg.whole("sent_tok_ptr").astype(np.int64)))
        self._ptr["passage_tok_ptr"] = ptr(out)[self._ptr["sent_ptr"]]
        return out

    def _tokens(self) -> npt.NDArray[np.int32]:
        def remapped(p: _Piece) -> npt.NDArray[np.int32]:
            tokens = p.seg.whole("tokens")
            return p.remap_term[tokens] if len(tokens) else tokens.astype(np.int32)

        return self._ragged("tokens", "passage_tok_ptr", np.int32, remapped)


def _copy_runs(out: np.ndarray, out_ptr: I64, dest: I64, src: np.ndarray, src_ptr: I64, rows: I64) -> None:
    """out's ragged rows `dest` = src's rows `rows` (the same lengths), one slice for each run of
    rows consecutive in both: a merge's sources are runs of uids, so a handful of copies, where
    an index of every byte (`take_ragged`) took 24 bytes a byte of text."""
    if not len(rows):
        return
    brk = np.flatnonzero((np.diff(dest) != 1) | (np.diff(rows) != 1)) + 1
    first = np.concatenate([[0], brk])
    last = np.concatenate([brk, [len(rows)]]) - 1
    spans = zip(
        out_ptr[dest[first]].tolist(), out_ptr[dest[last] + 1].tolist(),
        src_ptr[rows[first]].tolist(), src_ptr[rows[last] + 1].tolist(), strict=True,
    )  # fmt: skip
    for lo, hi, s_lo, s_hi in spans:
        out[lo:hi] = src[s_lo:s_hi]
