"""The one object front ends hold: corpus + analyser + persisted index, answering questions.

Opening never serves a stale index: the corpus folder's content fingerprint is stored in the
index, and on a mismatch only the articles that changed are removed or analysed again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .analyze import Analyzer
from .answer import AnswerParams, Answerer, clean_question
from .bm25 import SearchParams
from .corpus import ArticleKey, IngestReport, article_hash, file_digests, fingerprint_of, ingest, scan_corpus
from .errors import EmptyCorpusError, IndexFormatError, QuoteQAError
from .index import ArticleMeta, Index, PassageInput
from .models import Answer, Article, ArticleInfo, Source

log = logging.getLogger(__name__)


def _known_files(stored: object) -> dict[str, tuple[str, list[ArticleKey]]]:
    """The per-file article table saved with the index (empty if absent or malformed)."""
    if not isinstance(stored, dict):
        return {}
    try:
        return {
            name: (digest, [ArticleKey(i, h, t, name) for i, h, t in keys])
            for name, (digest, keys) in stored.items()
        }  # fmt: skip
    except (TypeError, ValueError):
        return {}


def article_rows(articles: Sequence[Article]) -> tuple[list[ArticleMeta], list[PassageInput]]:
    metas: list[ArticleMeta] = []
    passages: list[PassageInput] = []
    for i, art in enumerate(articles):
        metas.append(ArticleMeta(art.id, art.title, art.source, art.url, art.date, art.file, article_hash(art)))
        passages.extend(PassageInput(i, n, text) for n, text in enumerate(art.paragraphs, start=1))
    return metas, passages


class Engine:
    def __init__(
        self,
        corpus_dir: Path,
        data_dir: Path,
        analyzer: Analyzer,
        index: Index,
        params: SearchParams,
        answer_params: AnswerParams | None = None,
        max_question_chars: int = 2000,
        progress: bool = False,
    ) -> None:
        self.corpus_dir = corpus_dir
        self.data_dir = data_dir
        self.analyzer = analyzer
        self.params = params
        self.answer_params = answer_params or AnswerParams()
        self.max_question_chars = max_question_chars
        self.progress = progress
        self._answerer = Answerer(index, analyzer, self.answer_params)
        self._write_lock = threading.Lock()
        self._version: str | None = None  # the saved version the serving index was loaded from
        self._known: dict[str, tuple[str, list[ArticleKey]]] | None = None  # the serving index's file table

    @property
    def index(self) -> Index:
        return self._answerer.index

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @classmethod
    def open(
        cls,
        corpus_dir: Path,
        data_dir: Path,
        params: SearchParams | None = None,
        workers: int = 0,
        max_question_chars: int = 2000,
        analyzer: Analyzer | None = None,
        answer_params: AnswerParams | None = None,
        progress: bool = False,
    ) -> Engine:
        params = params or SearchParams()
        analyzer = analyzer or Analyzer(workers=workers)
        engine = cls(corpus_dir, data_dir, analyzer, Index.empty(params), params, answer_params, max_question_chars, progress)
        engine.reload()
        return engine

    # --- questions -------------------------------------------------------------------------
    def ask(self, question: str, max_quotes: int = 3) -> Answer:
        """Answer one question; raises QuestionError for input that cannot be asked."""
        t0 = time.perf_counter()
        text = clean_question(question, self.max_question_chars)
        answerer = self._answerer  # one consistent snapshot even if a reload swaps it meanwhile
        if answerer.index.n_passages == 0:
            raise EmptyCorpusError(f"the corpus in {self.corpus_dir} has no articles; add some with `quoteqa ingest FILE`")
        answer = answerer.answer(text, max_quotes=max_quotes)
        return dataclasses.replace(answer, elapsed_ms=(time.perf_counter() - t0) * 1000)

    def sources(self) -> list[ArticleInfo]:
        index = self.index
        counts: dict[int, int] = {}
        langs: dict[int, set[str]] = {}
        for p, a in enumerate(index.arrays["passage_article"].tolist()):
            counts[a] = counts.get(a, 0) + 1
            lang = index.passage_language(p)
            langs.setdefault(a, set()).update(("ko", "en") if lang == "mixed" else (lang,))
        return [
            ArticleInfo(art.id, art.title, art.source, counts.get(i, 0), tuple(sorted(langs.get(i, ()))), art.url, art.date)
            for i, art in enumerate(index.articles)
        ]

    def passage(self, passage: int) -> tuple[str, Source]:
        index = self.index
        if not 0 <= passage < index.n_passages:
            raise QuoteQAError("that paragraph is no longer in the corpus; ask the question again")
        art = index.passage_article(passage)
        para = int(index.arrays["passage_paragraph"][passage])
        src = Source(art.id, art.title, para, index.passage_language(passage), art.source, art.url, art.date)
        return index.passage_text(passage), src

    # --- corpus changes --------------------------------------------------------------------
    def reload(self) -> dict[str, int]:
        """Bring the index in line with the corpus folder; returns what changed.

        Only files whose content digest differs from the one stored with the index are read
        again; what the other files hold is remembered in the index (`extra["files"]`).
        """
        with self._write_lock:
            return self._reload()

    def _reload(self) -> dict[str, int]:
        digests = file_digests(self.corpus_dir)
        fp = fingerprint_of(digests)
        index = self._load_saved()
        if index is not None and index.extra.get("fingerprint") == fp:
            if index is not self.index:
                self._swap(index)
                self._known = None
            return {"added": 0, "removed": 0, "articles": len(index.articles)}
        if index is None:
            known = {}
        elif index is self.index and self._known is not None:
            known = self._known
        else:
            known = _known_files(index.extra.get("files"))
        keys, parsed, table = scan_corpus(self.corpus_dir, digests, known)
        if index is None:
            index = Index.empty(self.params)
        elif index is self.index:
            index = index.copy()  # the serving index stays untouched until the swap
        wanted = {k.hash for k in keys}
        removed = index.remove_articles(lambda a: a.hash in wanted)
        present = {a.hash for a in index.articles}
        fresh = [parsed[k.hash] for k in keys if k.hash not in present]
        if fresh:
            metas, passages = article_rows(fresh)
            with _progress_bar(self.progress, len(passages), "indexing") as bar:
                index.add(metas, passages, self.analyzer, progress=bar)
        index.extra["fingerprint"] = fp
        index.extra["files"] = {name: [digest, [[k.id, k.hash, k.text] for k in ks]] for name, (digest, ks) in table.items()}
        self._version = index.save(self.index_dir)
        self._swap(index)
        self._known = table
        log.info("index updated: %d articles added, %d removed", len(fresh), removed)
        return {"added": len(fresh), "removed": removed, "articles": len(index.articles)}

    def ingest(self, paths: Sequence[Path]) -> IngestReport:
        """Add files to the corpus folder, then index only what is new (nothing else is re-read)."""
        with self._write_lock:
            self._reload()  # cheap when the folder has not changed; makes `known` current
            files = self._known if self._known is not None else _known_files(self.index.extra.get("files"))
            known = [k for _, keys in files.values() for k in keys]
            report = ingest(paths, self.corpus_dir, known=known)
            self._reload()
        return report

    def _load_saved(self) -> Index | None:
        """The saved index; the one in memory when it is the version saved last (no re-read)."""
        try:
            version = (self.index_dir / "CURRENT").read_text("utf-8").strip()
        except OSError:
            version = None
        if version is not None and version == self._version and self.index.n_passages:
            return self.index
        try:
            index = Index.load(self.index_dir, self.params)
        except IndexFormatError as exc:
            if (self.index_dir / "CURRENT").exists():
                log.warning("rebuilding the index in %s: %s", self.index_dir, exc)
            return None
        self._version = version
        return index

    def _swap(self, index: Index) -> None:
        index.set_params(self.params)
        _ = index.weights  # derive BM25 weights now, not in the first question after a change
        self._answerer = Answerer(index, self.analyzer, self.answer_params)


class _progress_bar:
    """A tqdm bar on stderr when asked for, a no-op callable otherwise."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self._bar = None
        if enabled and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit="passage", leave=False)

    def __enter__(self) -> _progress_bar:
        return self

    def __call__(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
