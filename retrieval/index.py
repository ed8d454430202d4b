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
from typing import Any
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import bm25
from .analyze import ANALYZER_VERSION, Analyzer, Sentence
from .bm25 import SearchParams
from .errors import IndexFormatError
from .models import Language

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 3: appended passages may be saved as `delta.*` files over a linked base
LANG_CODES: tuple[Language, ...] = ("ko", "en", "mixed")
ARRAYS = (
    "passage_article", "passage_paragraph", "passage_lang", "text_ptr",
    "sent_ptr", "sent_start", "sent_end", "sent_tok_ptr", "tokens",
    "post_ptr", "post_doc", "post_tf",
)  # fmt: skip
DELTA_ARRAYS = (
    "passage_article", "passage_paragraph", "passage_lang", "text_len",
    "sent_count", "sent_start", "sent_end", "sent_tok_len", "tokens",
)  # fmt: skip
SPARSE_FACTOR = 32  # a query with fewer postings than passages / this scores only its candidates
DELTA_MIN = 5_000  # passages a delta may always hold
DELTA_SHARE = 0.2  # beyond DELTA_MIN, a delta larger than this share of the base means a full rewrite

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
    # The saved version whose files hold a prefix of these arrays (dir, file checks, counts):
    # a later save links those files and writes only what was appended since.
    _base: dict[str, Any] | None = field(default=None, repr=False)

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
        """Append articles; only the new text is analysed, the postings are merged in place.

        Each batch is turned into flat int arrays as soon as Kiwi returns it, so no per-sentence
        Python objects outlive their batch (at a million passages they would not fit in memory).
        """
        base_article = len(self.articles)
        parts: list[dict[str, np.ndarray]] = []
        for lo in range(0, len(passages), batch):
            chunk = passages[lo : lo + batch]
            parts.append(self._encode(analyzer.analyze_passages([p.text for p in chunk])))
            if progress:
                progress(len(chunk))
        self._append(list(articles), passages, base_article, parts)

    def _encode(self, analysed: Iterable[list[Sentence]]) -> dict[str, np.ndarray]:
        """Term ids and sentence rows of one batch of analysed passages, as numpy arrays."""
        term_ids = self.term_ids
        vocab = self.vocab
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
        tok_len = np.array(sent_tok_len, np.int64)
        counts = np.array(sent_count, np.int64)
        sent_ptr = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=sent_ptr[1:])
        tok_cum = np.zeros(len(tok_len) + 1, np.int64)
        np.cumsum(tok_len, out=tok_cum[1:])
        return {
            "tokens": np.array(ids, np.int32),
            "sent_start": np.array(sent_start, np.int32),
            "sent_end": np.array(sent_end, np.int32),
            "sent_tok_len": tok_len,
            "sent_count": counts,
            "doc_len": np.diff(tok_cum[sent_ptr]),
        }

    def _append(
        self,
        articles: list[ArticleMeta],
        passages: Sequence[PassageInput],
        base_article: int,
        parts: list[dict[str, np.ndarray]],
    ) -> None:
        def cat(key: str, dtype: type) -> np.ndarray:
            return np.concatenate([np.zeros(0, dtype)] + [p[key] for p in parts]).astype(dtype, copy=False)

        n_new = len(passages)
        texts = [p.text for p in passages]
        langs = passage_languages(texts)
        encoded = [t.encode("utf-8") for t in texts]
        text_lens = np.fromiter((len(b) for b in encoded), np.int64, n_new)
        new_texts = b"".join(encoded)
        del encoded, texts
        delta = {
            "passage_article": np.fromiter((p.article + base_article for p in passages), np.int32, n_new),
            "passage_paragraph": np.fromiter((p.paragraph for p in passages), np.int32, n_new),
            "passage_lang": langs,
            "text_len": text_lens,
            "sent_count": cat("sent_count", np.int64),
            "sent_start": cat("sent_start", np.int32),
            "sent_end": cat("sent_end", np.int32),
            "sent_tok_len": cat("sent_tok_len", np.int64),
            "tokens": cat("tokens", np.int32),
        }
        parts.clear()
        self.articles.extend(articles)
        self._append_arrays(delta, new_texts)

    def _append_arrays(self, d: dict[str, np.ndarray], new_texts: bytes) -> None:
        """Append passages given as flat arrays (`DELTA_ARRAYS`); postings are merged in."""
        a = self.arrays
        n_old = self.n_passages
        n_new = len(d["passage_article"])
        a["passage_article"] = np.concatenate([a["passage_article"], d["passage_article"]])
        a["passage_paragraph"] = np.concatenate([a["passage_paragraph"], d["passage_paragraph"]])
        a["passage_lang"] = np.concatenate([a["passage_lang"], d["passage_lang"]])
        a["text_ptr"] = _extend_ptr(a["text_ptr"], d["text_len"])
        self.texts = bytes(self.texts) + new_texts if len(self.texts) else new_texts
        a["sent_ptr"] = _extend_ptr(a["sent_ptr"], d["sent_count"])
        a["sent_start"] = np.concatenate([a["sent_start"], d["sent_start"]])
        a["sent_end"] = np.concatenate([a["sent_end"], d["sent_end"]])
        a["sent_tok_ptr"] = _extend_ptr(a["sent_tok_ptr"], d["sent_tok_len"])
        a["tokens"] = np.concatenate([a["tokens"], d["tokens"]])

        # Postings of the new passages, merged after the old ones term by term (doc ids only grow).
        tok_cum = np.zeros(len(d["sent_tok_len"]) + 1, np.int64)
        np.cumsum(d["sent_tok_len"], out=tok_cum[1:])
        sent_cum = np.zeros(n_new + 1, np.int64)
        np.cumsum(d["sent_count"], out=sent_cum[1:])
        doc_len = np.diff(tok_cum[sent_cum])
        docs = np.repeat(np.arange(n_old, n_old + n_new, dtype=np.int64), doc_len)
        ptr, pdoc, ptf = _postings(np.asarray(d["tokens"]), docs, len(self.vocab))
        a["post_ptr"], a["post_doc"], a["post_tf"] = _merge_postings(
            a["post_ptr"], a["post_doc"], a["post_tf"], ptr, pdoc, ptf, len(self.vocab)
        )
        self._weights = None

    def _delta_arrays(self, base: dict[str, int]) -> tuple[dict[str, np.ndarray], bytes]:
        """Everything appended since the saved base, in the form `_append_arrays` takes."""
        a = self.arrays
        p, s, t = base["passages"], base["sentences"], base["tokens"]
        d = {
            "passage_article": np.asarray(a["passage_article"][p:]),
            "passage_paragraph": np.asarray(a["passage_paragraph"][p:]),
            "passage_lang": np.asarray(a["passage_lang"][p:]),
            "text_len": np.diff(np.asarray(a["text_ptr"][p:], np.int64)),
            "sent_count": np.diff(np.asarray(a["sent_ptr"][p:], np.int64)),
            "sent_start": np.asarray(a["sent_start"][s:]),
            "sent_end": np.asarray(a["sent_end"][s:]),
            "sent_tok_len": np.diff(np.asarray(a["sent_tok_ptr"][s:], np.int64)),
            "tokens": np.asarray(a["tokens"][t:]),
        }
        return d, bytes(self.texts[base["text_bytes"] :])

    def _counts(self) -> dict[str, int]:
        a = self.arrays
        return {
            "passages": self.n_passages, "sentences": len(a["sent_start"]), "tokens": len(a["tokens"]),
            "vocab": len(self.vocab), "articles": len(self.articles), "text_bytes": len(self.texts),
        }  # fmt: skip

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
        self._base = None  # the saved files no longer hold a prefix of the arrays
        return removed

    def copy(self) -> Index:
        """A copy that can be grown or shrunk while the original keeps serving (arrays are shared,
        and every change replaces an array rather than writing into it)."""
        return Index(
            list(self.articles), list(self.vocab), dict(self.arrays), self.texts, self.params,
            dict(self.extra), dict(self.term_ids), self._weights, self._base,
        )  # fmt: skip

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
        n = self.n_passages
        hit = self._postings_of(terms)
        if hit is None:
            return np.zeros(n)
        docs, vals = hit
        return np.bincount(docs, weights=vals, minlength=n)

    def _postings_of(self, terms: Iterable[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """Doc ids and weighted contributions of every posting of the query's terms."""
        ids = self.query_ids(terms)
        if not ids or self.n_passages == 0:
            return None
        ptr = self.arrays["post_ptr"]
        post_doc = self.arrays["post_doc"]
        w = self.weights
        uniq, counts = np.unique(np.array(ids, np.int64), return_counts=True)
        spans = [(int(ptr[t]), int(ptr[t + 1])) for t in uniq]
        docs = np.concatenate([post_doc[a:b] for a, b in spans])
        vals = np.concatenate([w[a:b] * float(c) if c > 1 else w[a:b] for (a, b), c in zip(spans, counts)])
        return docs, vals

    def search(self, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        """The k best passages, best first; ties go to the lower passage number (as a stable sort)."""
        n = self.n_passages
        hit = self._postings_of(terms)
        if hit is None:
            return []
        docs, vals = hit
        if len(docs) * SPARSE_FACTOR >= n:  # dense: one pass over a score per passage
            scores = np.bincount(docs, weights=vals, minlength=n)
            return [(int(i), float(scores[i])) for i in bm25.top_k(scores, k)]
        # Few postings (rare terms in a big index): score only the passages that contain them.
        cand, inverse = np.unique(docs, return_inverse=True)
        scores = np.bincount(inverse, weights=vals, minlength=len(cand))
        return [(int(cand[i]), float(scores[i])) for i in bm25.top_k(scores, k)]

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
    def save(self, directory: Path) -> str:
        """Write a complete new version beside the old one, then switch a pointer file atomically.

        When the index only grew since it was loaded or saved (and by less than `DELTA_SHARE`),
        the new version hard-links the previous version's files and writes just the appended
        passages as `delta.*` files, so adding an article does not rewrite the whole index.
        Returns the name of the new version folder.
        """
        directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=directory))
        try:
            files: dict[str, dict[str, int]] = {}
            base = self._base if self._delta_fits() else None
            if base is not None:
                for name, check in base["files"].items():
                    _link_or_copy(base["dir"] / name, tmp / name)
                    files[name] = check
                delta, delta_texts = self._delta_arrays(base["counts"])
                for name, arr in delta.items():
                    files.update(_save_array(tmp / f"delta.{name}.npy", arr))
                files.update(_save_bytes(tmp / "delta.texts.bin", delta_texts))
                vocab = json.dumps(self.vocab[base["counts"]["vocab"] :], ensure_ascii=False).encode("utf-8")
                files.update(_save_bytes(tmp / "delta.vocab.json", vocab))
                base_files, base_counts = dict(base["files"]), dict(base["counts"])
            else:
                for name in ARRAYS:
                    files.update(_save_array(tmp / f"{name}.npy", self.arrays[name]))
                files.update(_save_bytes(tmp / "texts.bin", bytes(self.texts)))
                files.update(_save_bytes(tmp / "vocab.json", json.dumps(self.vocab, ensure_ascii=False).encode("utf-8")))
                base_files, base_counts = dict(files), self._counts()
            meta = {
                "format": FORMAT_VERSION,
                "analyzer": ANALYZER_VERSION,
                "params": {"variant": self.params.variant, "k1": self.params.k1, "b": self.params.b},
                "passages": self.n_passages,
                "article_fields": list(ArticleMeta.__slots__),
                "articles": [[a.id, a.title, a.source, a.url, a.date, a.file, a.hash] for a in self.articles],
                "files": files,
                "base": base_counts,
                "delta": base is not None,
                "extra": self.extra,
                "saved_at": time.time(),
            }
            (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
            for f in tmp.iterdir():
                if base is None or f.name not in base_files:  # linked files are already on disk
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
        self._base = {"dir": final, "files": base_files, "counts": base_counts}
        return final.name

    def _delta_fits(self) -> bool:
        base = self._base
        if base is None:
            return False
        counts = base["counts"]
        grown = self.n_passages - counts["passages"]
        if grown < 0 or grown > max(DELTA_MIN, DELTA_SHARE * counts["passages"]):
            return False
        if counts["articles"] > len(self.articles) or counts["vocab"] > len(self.vocab):
            return False
        try:  # the base files must still be there, whole
            return all((base["dir"] / n).stat().st_size == c["size"] for n, c in base["files"].items())
        except OSError:
            return False

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
            if meta["article_fields"] != list(ArticleMeta.__slots__):
                raise IndexFormatError("the article table was written with other fields")
            articles = [ArticleMeta(*a) for a in meta["articles"]]
            stored = meta["params"]
            index = cls(articles, vocab, arrays, texts, SearchParams(stored["variant"], stored["k1"], stored["b"]), meta.get("extra", {}))
            base_counts = meta["base"]
            if index._counts() | {"articles": base_counts["articles"]} != base_counts:
                raise IndexFormatError("index arrays do not match the counts in meta.json")
            if meta.get("delta"):
                index.vocab.extend(json.loads((version_dir / "delta.vocab.json").read_text("utf-8")))
                delta = {n: np.load(version_dir / f"delta.{n}.npy") for n in DELTA_ARRAYS}
                index._append_arrays(delta, (version_dir / "delta.texts.bin").read_bytes())
            base_files = {n: c for n, c in files.items() if not n.startswith("delta.")}
            index._base = {"dir": version_dir, "files": base_files, "counts": base_counts}
        except IndexFormatError:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
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


def passage_languages(texts: Sequence[str], chunk: int = 20_000) -> npt.NDArray[np.int8]:
    """`detect_language` of many texts at once (same rule, counted with numpy over UTF-32)."""
    out = np.empty(len(texts), np.int8)
    for lo in range(0, len(texts), chunk):
        part = texts[lo : lo + chunk]
        lens = np.fromiter((len(t) for t in part), np.int64, len(part))
        cps = np.frombuffer("".join(part).encode("utf-32-le"), np.uint32)
        hangul = ((cps >= 0xAC00) & (cps <= 0xD7A3)) | ((cps >= 0x1100) & (cps <= 0x11FF)) | ((cps >= 0x3130) & (cps <= 0x318F))
        latin = ((cps >= 0x41) & (cps <= 0x5A)) | ((cps >= 0x61) & (cps <= 0x7A))
        bounds = np.zeros(len(part) + 1, np.int64)
        np.cumsum(lens, out=bounds[1:])
        h = np.add.reduceat(np.append(hangul, False).astype(np.int64), bounds[:-1]) if len(part) else np.zeros(0, np.int64)
        l = np.add.reduceat(np.append(latin, False).astype(np.int64), bounds[:-1]) if len(part) else np.zeros(0, np.int64)
        h = np.where(lens > 0, h, 0).astype(np.float64)
        l = np.where(lens > 0, l, 0).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = h / (h + l / 3)
        code = np.where(share >= 0.8, 0, np.where(share <= 0.1, 1, 2))
        code[(h == 0) & (l == 0)] = 1
        out[lo : lo + len(part)] = code
    return out


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


def _save_array(path: Path, arr: np.ndarray) -> dict[str, dict[str, int]]:
    np.save(path, np.ascontiguousarray(arr))
    return {path.name: _file_check(path)}


def _save_bytes(path: Path, data: bytes) -> dict[str, dict[str, int]]:
    path.write_bytes(data)
    return {path.name: {"size": len(data), "crc32": zlib.crc32(data)}}


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


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
