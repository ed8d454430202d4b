"""The BM25 index: passages, their sentences and terms, inverted postings; build, grow, save, load.

Everything lives in flat numpy arrays (ragged data as values + pointer arrays), saved as `.npy`
files that load memory-mapped, plus `meta.json` with a format version, the analyser version, the
article table and a CRC of every file. Postings are term-major (CSC) so a query touches only
the passages that contain its terms; BM25 weights are derived at load, so k1, b and the variant
can change without re-tokenizing anything.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import bm25
from .analyze import ANALYZER_VERSION, Analyzer, Sentence, detect_language
from .bm25 import SearchParams
from .errors import IndexFormatError
from .models import Language

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
LANG_CODES: tuple[Language, ...] = ("ko", "en", "mixed")
ARRAYS = (
    "passage_article", "passage_paragraph", "passage_lang", "text_ptr",
    "sent_ptr", "sent_start", "sent_end", "sent_tok_ptr", "tokens",
    "post_ptr", "post_doc", "post_tf",
)  # fmt: skip

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """An article's row in the index: enough to cite it, plus where its passages are."""

    id: str
    title: str
    source: str = ""
    url: str = ""
    date: str = ""
    file: str = ""
    hash: str = ""


@dataclass(frozen=True, slots=True)
class PassageInput:
    """What the index is built from: one paragraph of one article."""

    article: int  # row in the article table
    paragraph: int  # 1-based
    text: str


Progress = Callable[[int], None]


@dataclass
class Index:
    articles: list[ArticleMeta]
    vocab: list[str]
    arrays: dict[str, np.ndarray]
    texts: bytes | np.ndarray  # UTF-8 passage texts, back to back
    params: SearchParams = field(default_factory=SearchParams)
    extra: dict[str, object] = field(default_factory=dict)  # e.g. the corpus fingerprint
    _term_ids: dict[str, int] = field(default_factory=dict, repr=False)
    _weights: np.ndarray | None = field(default=None, repr=False)

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def empty(cls, params: SearchParams | None = None) -> Index:
        zi = np.zeros(0, dtype=np.int32)
        arrays = {
            "passage_article": zi, "passage_paragraph": zi, "passage_lang": np.zeros(0, np.int8),
            "text_ptr": np.zeros(1, np.int64), "sent_ptr": np.zeros(1, np.int64),
            "sent_start": zi, "sent_end": zi, "sent_tok_ptr": np.zeros(1, np.int64),
            "tokens": zi, "post_ptr": np.zeros(1, np.int64), "post_doc": zi,
            "post_tf": zi,
        }  # fmt: skip
        return cls([], [], arrays, b"", params or SearchParams())

    @classmethod
    def build(
        cls,
        articles: Sequence[ArticleMeta],
        passages: Sequence[PassageInput],
        analyzer: Analyzer,
        params: SearchParams | None = None,
        progress: Progress | None = None,
        batch: int = 2000,
    ) -> Index:
        index = cls.empty(params)
        index.add(articles, passages, analyzer, progress=progress, batch=batch)
        return index

    def add(
        self,
        articles: Sequence[ArticleMeta],
        passages: Sequence[PassageInput],
        analyzer: Analyzer,
        progress: Progress | None = None,
        batch: int = 2000,
    ) -> None:
        """Append articles; only the new text is analysed, the postings are merged in place."""
        base_article = len(self.articles)
        analysed: list[list[Sentence]] = []
        for lo in range(0, len(passages), batch):
            chunk = passages[lo : lo + batch]
            analysed.extend(analyzer.analyze_passages(p.text for p in chunk))
            if progress:
                progress(len(chunk))
        self._append(
            list(articles),
            [PassageInput(p.article + base_article, p.paragraph, p.text) for p in passages],
            analysed,
        )

    def _append(
        self, articles: list[ArticleMeta], passages: list[PassageInput], analysed: list[list[Sentence]]
    ) -> None:
        a = self.arrays
        n_old = self.n_passages
        term_ids = self.term_ids
        new_tokens: list[int] = []
        sent_start: list[int] = []
        sent_end: list[int] = []
        sent_tok_len: list[int] = []
        sent_count: list[int] = []
        doc_len: list[int] = []
        for sentences in analysed:
            n_tok = 0
            for s in sentences:
                for term in s.terms:
                    tid = term_ids.get(term)
                    if tid is None:
                        tid = term_ids[term] = len(self.vocab)
                        self.vocab.append(term)
                    new_tokens.append(tid)
                sent_start.append(s.start)
                sent_end.append(s.end)
                sent_tok_len.append(len(s.terms))
                n_tok += len(s.terms)
            sent_count.append(len(sentences))
            doc_len.append(n_tok)
        encoded = [p.text.encode("utf-8") for p in passages]
        text_lens = np.fromiter((len(b) for b in encoded), np.int64, len(encoded))

        self.articles.extend(articles)
        a["passage_article"] = np.concatenate([a["passage_article"], np.array([p.article for p in passages], np.int32)])
        a["passage_paragraph"] = np.concatenate([a["passage_paragraph"], np.array([p.paragraph for p in passages], np.int32)])
        langs = [LANG_CODES.index(detect_language(p.text)) for p in passages]
        a["passage_lang"] = np.concatenate([a["passage_lang"], np.array(langs, np.int8)])
        a["text_ptr"] = _extend_ptr(a["text_ptr"], text_lens)
        self.texts = bytes(self.texts) + b"".join(encoded)
        a["sent_ptr"] = _extend_ptr(a["sent_ptr"], np.array(sent_count, np.int64))
        a["sent_start"] = np.concatenate([a["sent_start"], np.array(sent_start, np.int32)])
        a["sent_end"] = np.concatenate([a["sent_end"], np.array(sent_end, np.int32)])
        a["sent_tok_ptr"] = _extend_ptr(a["sent_tok_ptr"], np.array(sent_tok_len, np.int64))
        new_tok = np.array(new_tokens, np.int32)
        a["tokens"] = np.concatenate([a["tokens"], new_tok])

        # Postings of the new passages, merged after the old ones term by term (doc ids only grow).
        docs = np.repeat(np.arange(n_old, n_old + len(passages), dtype=np.int64), np.array(doc_len, np.int64))
        ptr, pdoc, ptf = _postings(new_tok, docs, len(self.vocab))
        a["post_ptr"], a["post_doc"], a["post_tf"] = _merge_postings(
            a["post_ptr"], a["post_doc"], a["post_tf"], ptr, pdoc, ptf, len(self.vocab)
        )
        self._weights = None

    def remove_articles(self, keep: Callable[[ArticleMeta], bool]) -> int:
        """Drop articles (e.g. deleted or edited files) without re-analysing what stays."""
        kept_articles = [i for i, art in enumerate(self.articles) if keep(art)]
        removed = len(self.articles) - len(kept_articles)
        if removed == 0:
            return 0
        a = self.arrays
        remap = np.full(len(self.articles), -1, np.int64)
        remap[kept_articles] = np.arange(len(kept_articles))
        keep_p = np.flatnonzero(remap[a["passage_article"]] >= 0)

        text_ptr, texts = _take_ragged(a["text_ptr"], np.frombuffer(bytes(self.texts), np.uint8), keep_p)
        sent_ptr, sent_rows = _take_ragged(a["sent_ptr"], np.arange(len(a["sent_start"])), keep_p)
        tok_ptr, tokens = _take_ragged(a["sent_tok_ptr"], np.asarray(a["tokens"]), sent_rows)
        new = {
            "passage_article": remap[a["passage_article"][keep_p]].astype(np.int32),
            "passage_paragraph": np.asarray(a["passage_paragraph"])[keep_p],
            "passage_lang": np.asarray(a["passage_lang"])[keep_p],
            "text_ptr": text_ptr,
            "sent_ptr": sent_ptr,
            "sent_start": np.asarray(a["sent_start"])[sent_rows],
            "sent_end": np.asarray(a["sent_end"])[sent_rows],
            "sent_tok_ptr": tok_ptr,
            "tokens": tokens.astype(np.int32),
        }
        doc_len = np.diff(sent_ptr_to_tok(sent_ptr, tok_ptr))
        docs = np.repeat(np.arange(len(keep_p), dtype=np.int64), doc_len)
        new["post_ptr"], new["post_doc"], new["post_tf"] = _postings(new["tokens"], docs, len(self.vocab))
        self.arrays = new
        self.texts = texts.tobytes()
        self.articles = [self.articles[i] for i in kept_articles]
        self._weights = None
        return removed

    # --- queries ---------------------------------------------------------------------------
    @property
    def n_passages(self) -> int:
        return len(self.arrays["passage_article"])

    @property
    def term_ids(self) -> dict[str, int]:
        if len(self._term_ids) != len(self.vocab):
            self._term_ids = {t: i for i, t in enumerate(self.vocab)}
        return self._term_ids

    def doc_lengths(self) -> I64:
        return np.diff(sent_ptr_to_tok(self.arrays["sent_ptr"], self.arrays["sent_tok_ptr"]))

    def document_frequency(self) -> I64:
        return np.diff(self.arrays["post_ptr"])

    def idf(self) -> npt.NDArray[np.float64]:
        return bm25.idf(self.document_frequency(), self.n_passages, self.params.variant)

    def set_params(self, params: SearchParams) -> None:
        if params != self.params:
            self.params = params
            self._weights = None

    @property
    def weights(self) -> npt.NDArray[np.float32]:
        if self._weights is None:
            a = self.arrays
            df = np.diff(a["post_ptr"])
            terms = np.repeat(np.arange(len(df), dtype=np.int64), df)
            self._weights = bm25.posting_weights(
                terms, np.asarray(a["post_doc"]), np.asarray(a["post_tf"]), self.doc_lengths(),
                self.idf(), self.params,
            )  # fmt: skip
        return self._weights

    def query_ids(self, terms: Iterable[str]) -> list[int]:
        ids = self.term_ids
        return [ids[t] for t in terms if t in ids]

    def scores(self, terms: Iterable[str]) -> npt.NDArray[np.float64]:
        """BM25 score of every passage (repeated query terms count again, as in rank-bm25)."""
        ids = self.query_ids(terms)
        n = self.n_passages
        if not ids or n == 0:
            return np.zeros(n)
        ptr = self.arrays["post_ptr"]
        w = self.weights
        uniq, counts = np.unique(np.array(ids, np.int64), return_counts=True)
        docs = [self.arrays["post_doc"][ptr[t] : ptr[t + 1]] for t in uniq]
        vals = [w[ptr[t] : ptr[t + 1]] * float(c) for t, c in zip(uniq, counts)]
        return np.bincount(np.concatenate(docs), weights=np.concatenate(vals), minlength=n)

    def search(self, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        scores = self.scores(terms)
        return [(int(i), float(scores[i])) for i in bm25.top_k(scores, k)]

    # --- passage access --------------------------------------------------------------------
    def passage_text(self, p: int) -> str:
        ptr = self.arrays["text_ptr"]
        return bytes(self.texts[int(ptr[p]) : int(ptr[p + 1])]).decode("utf-8")

    def passage_language(self, p: int) -> Language:
        return LANG_CODES[int(self.arrays["passage_lang"][p])]

    def passage_article(self, p: int) -> ArticleMeta:
        return self.articles[int(self.arrays["passage_article"][p])]

    def sentence_rows(self, p: int) -> range:
        ptr = self.arrays["sent_ptr"]
        return range(int(ptr[p]), int(ptr[p + 1]))

    def sentence_span(self, row: int) -> tuple[int, int]:
        return int(self.arrays["sent_start"][row]), int(self.arrays["sent_end"][row])

    def sentence_terms(self, row: int) -> npt.NDArray[np.int32]:
        ptr = self.arrays["sent_tok_ptr"]
        return self.arrays["tokens"][int(ptr[row]) : int(ptr[row + 1])]

    # --- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write a complete new version beside the old one, then switch a pointer file atomically."""
        directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=directory))
        try:
            files: dict[str, dict[str, int]] = {}
            for name in ARRAYS:
                path = tmp / f"{name}.npy"
                np.save(path, np.ascontiguousarray(self.arrays[name]))
                files[path.name] = _file_check(path)
            (tmp / "texts.bin").write_bytes(bytes(self.texts))
            files["texts.bin"] = _file_check(tmp / "texts.bin")
            (tmp / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), "utf-8")
            files["vocab.json"] = _file_check(tmp / "vocab.json")
            meta = {
                "format": FORMAT_VERSION,
                "analyzer": ANALYZER_VERSION,
                "params": {"variant": self.params.variant, "k1": self.params.k1, "b": self.params.b},
                "passages": self.n_passages,
                "articles": [vars_of(a) for a in self.articles],
                "files": files,
                "extra": self.extra,
                "saved_at": time.time(),
            }
            (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
            for f in tmp.iterdir():
                _fsync(f)
            final = directory / f"v{FORMAT_VERSION}-{time.time_ns()}"
            os.replace(tmp, final)
            pointer = directory / "CURRENT.tmp"
            pointer.write_text(final.name, "utf-8")
            _fsync(pointer)
            os.replace(pointer, directory / "CURRENT")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in directory.iterdir():
            if old.is_dir() and old.name != final.name:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, params: SearchParams | None = None, verify: bool = True) -> Index:
        """Load a saved index or raise IndexFormatError saying what is wrong with it."""
        pointer = directory / "CURRENT"
        try:
            version_dir = directory / pointer.read_text("utf-8").strip()
            meta = json.loads((version_dir / "meta.json").read_text("utf-8"))
        except FileNotFoundError as exc:
            raise IndexFormatError(f"no index at {directory}") from exc
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"unreadable index metadata in {directory}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
            raise IndexFormatError(f"index format {meta.get('format') if isinstance(meta, dict) else '?'} is not {FORMAT_VERSION}")
        if meta.get("analyzer") != ANALYZER_VERSION:
            raise IndexFormatError(f"index was analysed by analyser v{meta.get('analyzer')}, not v{ANALYZER_VERSION}")
        try:
            files = meta["files"]
            for name, check in files.items():
                path = version_dir / name
                if path.stat().st_size != check["size"]:
                    raise IndexFormatError(f"{name} is {path.stat().st_size} bytes, expected {check['size']}")
                if verify and _crc(path) != check["crc32"]:
                    raise IndexFormatError(f"{name} fails its checksum")
            arrays = {n: np.load(version_dir / f"{n}.npy", mmap_mode="r") for n in ARRAYS}
            vocab = json.loads((version_dir / "vocab.json").read_text("utf-8"))
            texts = np.memmap(version_dir / "texts.bin", dtype=np.uint8, mode="r") if files["texts.bin"]["size"] else b""
            articles = [ArticleMeta(**a) for a in meta["articles"]]
            stored = meta["params"]
            index = cls(articles, vocab, arrays, texts, SearchParams(stored["variant"], stored["k1"], stored["b"]), meta.get("extra", {}))
        except IndexFormatError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"damaged index in {version_dir.name}: {exc}") from exc
        index._check_shapes()
        if params is not None:
            index.set_params(params)
        return index

    def _check_shapes(self) -> None:
        a = self.arrays
        n = len(a["passage_article"])
        checks = [
            len(a["passage_paragraph"]) == n and len(a["passage_lang"]) == n,
            len(a["text_ptr"]) == n + 1 and int(a["text_ptr"][-1]) == len(self.texts),
            len(a["sent_ptr"]) == n + 1 and int(a["sent_ptr"][-1]) == len(a["sent_start"]) == len(a["sent_end"]),
            len(a["sent_tok_ptr"]) == len(a["sent_start"]) + 1 and int(a["sent_tok_ptr"][-1]) == len(a["tokens"]),
            len(a["post_ptr"]) == len(self.vocab) + 1 and int(a["post_ptr"][-1]) == len(a["post_doc"]) == len(a["post_tf"]),
            n == 0 or int(np.max(a["passage_article"])) < len(self.articles),
        ]
        if not all(checks):
            raise IndexFormatError("index arrays do not fit together (truncated or mixed versions)")


def vars_of(a: ArticleMeta) -> dict[str, str]:
    return {k: getattr(a, k) for k in ArticleMeta.__slots__}


def sent_ptr_to_tok(sent_ptr: np.ndarray, sent_tok_ptr: np.ndarray) -> I64:
    """Token pointer per passage, from the sentence pointers."""
    return np.asarray(sent_tok_ptr)[np.asarray(sent_ptr)].astype(np.int64)


def _extend_ptr(ptr: np.ndarray, lengths: np.ndarray) -> I64:
    start = int(ptr[-1]) if len(ptr) else 0
    return np.concatenate([np.asarray(ptr, np.int64), start + np.cumsum(lengths, dtype=np.int64)])


def _postings(tokens: np.ndarray, docs: np.ndarray, n_terms: int) -> tuple[I64, I32, I32]:
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


def _merge_postings(
    ptr_a: np.ndarray, doc_a: np.ndarray, tf_a: np.ndarray,
    ptr_b: np.ndarray, doc_b: np.ndarray, tf_b: np.ndarray, n_terms: int,
) -> tuple[I64, I32, I32]:  # fmt: skip
    """Interleave two posting lists term by term; every doc in b comes after every doc in a."""
    len_a = np.zeros(n_terms, np.int64)
    old = np.diff(np.asarray(ptr_a, np.int64))
    len_a[: len(old)] = old
    len_b = np.diff(ptr_b)
    ptr = np.concatenate([[0], np.cumsum(len_a + len_b)]).astype(np.int64)
    doc = np.empty(int(ptr[-1]), np.int32)
    tf = np.empty(int(ptr[-1]), np.int32)
    # Old postings keep their order; each shifts right by the new postings of earlier terms.
    shift_a = np.repeat(ptr[:-1] - np.concatenate([[0], np.cumsum(len_a)[:-1]]), len_a)
    pos_a = np.arange(len(doc_a), dtype=np.int64) + shift_a
    doc[pos_a] = doc_a
    tf[pos_a] = tf_a
    shift_b = np.repeat(ptr[:-1] + len_a - ptr_b[:-1], len_b)
    pos_b = np.arange(len(doc_b), dtype=np.int64) + shift_b
    doc[pos_b] = doc_b
    tf[pos_b] = tf_b
    return ptr, doc, tf


def _take_ragged(ptr: np.ndarray, data: np.ndarray, rows: np.ndarray) -> tuple[I64, np.ndarray]:
    """Select rows of a ragged array (values + pointers); returns new pointers and values."""
    ptr = np.asarray(ptr, np.int64)
    lens = ptr[rows + 1] - ptr[rows]
    new_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    if new_ptr[-1] == 0:
        return new_ptr, np.asarray(data)[:0]
    offsets = np.repeat(ptr[rows] - new_ptr[:-1], lens)
    idx = np.arange(int(new_ptr[-1]), dtype=np.int64) + offsets
    return new_ptr, np.asarray(data)[idx]


def _crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def _file_check(path: Path) -> dict[str, int]:
    return {"size": path.stat().st_size, "crc32": _crc(path)}


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())
