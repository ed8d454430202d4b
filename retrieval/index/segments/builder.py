"""Making segments: from analysed passages (an ingest batch) or from other segments (a merge).

Both hand their data to `format.layout` as a `Content`, so the array layout is spelled once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.index.segments import columns
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
        get, term_ids = self.term_ids.get, self.term_ids
        remap = np.empty(len(vocab), np.int32)
        for i, t in enumerate(vocab):
            tid = get(t)
            if tid is None:
                tid = term_ids[t] = len(self.vocab)
                self.vocab.append(t)
            remap[i] = tid
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
    order, with a merged term dictionary; deleted passages are dropped for good."""
    vocab: list[str] = []
    term_ids: dict[str, int] = {}
    pieces: list[dict[str, np.ndarray]] = []
    anchor_pieces: list[tuple[anchor_column.SegmentAnchors, np.ndarray]] = []
    art_cols: dict[str, list[str]] = {f: [] for f in ARTICLE_FIELDS}
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
        anchor_pieces.append((seg.anchors, keep))
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
            **{col: np.asarray(a[col])[keep] for col, _ in rows}, "text_len": np.diff(text_ptr), "texts": texts,
            "sent_count": np.diff(sent_ptr), "sent_start": np.asarray(a["sent_start"])[sent_rows],
            "sent_end": np.asarray(a["sent_end"])[sent_rows], "sent_tok_len": np.diff(tok_ptr),
            "tokens": remap_term[tokens] if len(tokens) else tokens.astype(np.int32),
        })  # fmt: skip

    def cat(key: str, dtype: type) -> np.ndarray:
        if not pieces:
            return np.zeros(0, dtype)
        return np.concatenate([np.asarray(p[key], dtype) for p in pieces])

    if not pieces:
        encoder = None
        rows = per_passage([c.name for c in columns.COLUMNS if c.required])
    uid = cat("uid", np.int64)
    order = np.argsort(uid, kind="stable")
    article = cat("article", np.int64)
    if len(order) and not np.all(order[:-1] < order[1:]):  # pieces interleave in uid order
        out = _reordered(name, pieces, order, vocab, art_cols, cat, rows, encoder)
        out.anchors = anchor_column.merged(anchor_pieces, order)
        return out
    content = Content(
        uid=uid, article=article, rows={col: cat(col, dtype) for col, dtype in rows},
        text_len=cat("text_len", np.int64), texts=cat("texts", np.uint8), sent_count=cat("sent_count", np.int64),
        sent_start=cat("sent_start", np.int32), sent_end=cat("sent_end", np.int32),
        sent_tok_len=cat("sent_tok_len", np.int64), tokens=cat("tokens", np.int32), vocab=vocab, articles=art_cols,
    )  # fmt: skip
    out = Segment(name, layout(content), encoder)
    out.anchors = anchor_column.merged(anchor_pieces)
    return out


def _reordered(
    name: str, pieces: list[dict[str, np.ndarray]], order: I64, vocab: list[str], art_cols: dict[str, list[str]],
    cat: Any, rows: tuple[tuple[str, type], ...], encoder: str | None,
) -> Segment:  # fmt: skip
    """Passages in uid order (and articles in the order of their first passage)."""
    text_ptr, texts = take_ragged(ptr(cat("text_len", np.int64)), cat("texts", np.uint8), order)
    sent_ptr, sent_rows = take_ragged(
        ptr(cat("sent_count", np.int64)), np.arange(sum(len(p["sent_start"]) for p in pieces)), order
    )
    tok_ptr, tokens = take_ragged(ptr(cat("sent_tok_len", np.int64)), cat("tokens", np.int32), sent_rows)
    article = cat("article", np.int64)[order]
    first_seen = np.unique(article, return_index=True)[1]
    art_order = article[np.sort(first_seen)]  # old article rows in order of first appearance
    new_row = np.empty(len(art_order), np.int64)
    new_row[art_order] = np.arange(len(art_order))
    content = Content(
        uid=cat("uid", np.int64)[order], article=new_row[article],
        rows={col: cat(col, dtype)[order] for col, dtype in rows}, text_len=np.diff(text_ptr), texts=texts,
        sent_count=np.diff(sent_ptr), sent_start=cat("sent_start", np.int32)[sent_rows],
        sent_end=cat("sent_end", np.int32)[sent_rows], sent_tok_len=np.diff(tok_ptr), tokens=tokens, vocab=vocab,
        articles={f: [art_cols[f][r] for r in art_order.tolist()] for f in ARTICLE_FIELDS},
    )  # fmt: skip
    return Segment(name, layout(content), encoder)
