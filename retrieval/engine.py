"""The one object front ends hold: a corpus folder, an analyser and a store, answering questions.

The corpus folder is the source of truth; `retrieval/corpus/sync.py` keeps the store in line
with it. Writers (ingest, reindex, reload) hold the store's lock on the data folder; a question
never takes it and is answered from the commit that was live when it arrived.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from retrieval.answer.messages import EMPTY_QUESTION
from retrieval.answer.pipeline import Answerer
from retrieval.answer.question import clean_question
from retrieval.answer.quotes import source_of
from retrieval.answer.suggest import suggestions
from retrieval.answer.twins import Twins
from retrieval.config import EngineConfig
from retrieval.corpus.files import IngestReport, ingest, parse_file, remove_article
from retrieval.corpus.sync import CorpusSync, ProgressFactory, StoreKeys, SyncReport
from retrieval.errors import CorpusError, EmptyCorpusError, QuestionError, QuoteQAError
from retrieval.index.segments.store import SegmentStore
from retrieval.index.store import Searcher, Store
from retrieval.models import Answer, Article, ArticleInfo, Language, Source, Turn, text_hash
from retrieval.text.analyze import Analyzer
from retrieval.text.encoder import Encoder, encoder_from_name, stamp_of

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["Engine", "EngineConfig", "ProgressFactory", "SyncReport"]


NO_VECTORS = "the index holds no passage vectors for the {stamp} encoder (built without it, or before it existed); answering by words only until `quoteqa reindex`"

_DEFAULT = object()


def load_encoder(config: EngineConfig) -> Encoder | None:
    """The configured sentence encoder (None for `none`), its start-up cache beside the index."""
    if config.encoder in ("none", ""):
        return None
    return encoder_from_name(config.encoder, cache=config.encoder_cache_dir, threads=1)


class Engine:
    def __init__(
        self, config: EngineConfig, analyzer: Analyzer, store: Store, progress: ProgressFactory | None = None,
        encoder: Encoder | None = None,
    ) -> None:  # fmt: skip
        """`progress` makes a bar for a long analysis (label, total); the command line's, say.
        `encoder`: the configured sentence encoder (the store is given the same one to write
        passage vectors with); questions use it only while the index's vectors match it."""
        self.config = config
        self.analyzer = analyzer
        self.store = store
        self._encoder = encoder
        self._warned_stamp: object = None
        self._twin_stage: Twins | None = None  # translation twins and their caches, across questions
        self.answer_params = config.answer
        self.judge = config.judge()  # confidence model and verdict thresholds
        self.semantic_judge = config.semantic_judge()  # ...for answers the encoder took part in
        self._sentence_vectors: dict[
            int, Any
        ] = {}  # passages' sentence vectors, shared by questions (uids are never reused)
        child_workers = max(1, analyzer.workers - 1) if config.serving else 0
        self.corpus = CorpusSync(config.corpus_dir, config.data_dir, store, progress, child_workers)
        self._titles: dict[str, frozenset[str]] = {}  # analysed article titles, shared by questions
        self.last_sync = SyncReport()
        self._examples_cache: tuple[object, dict[tuple[Language, int], list[str]]] = (None, {})
        self._languages_cache: tuple[object, frozenset[str]] = (None, frozenset())

    @classmethod
    def open(
        cls, config: EngineConfig, *, analyzer: Analyzer | None = None, progress: ProgressFactory | None = None, sync: bool = True,
        encoder: Encoder | None | object = _DEFAULT,
    ) -> Engine:  # fmt: skip
        """Open the store and (unless `sync` is off) bring it in line with the corpus folder.
        When another writer holds the store, the last commit is served as it is (unless there
        is none yet: then the first build is waited for). `encoder` overrides the configured
        one (a test's shared encoder, say); by default `config.encoder` is loaded."""
        analyzer = analyzer or Analyzer(workers=config.workers)
        enc: Encoder | None = load_encoder(config) if encoder is _DEFAULT else encoder  # type: ignore[assignment]
        store = SegmentStore(
            config.data_dir / "index", analyzer, config.search, lock_dir=config.data_dir, lock_timeout=config.lock_timeout,
            encoder=enc, encoder_name=config.encoder, encoder_cache=config.encoder_cache_dir, flush_policy=config.flush,
        )  # fmt: skip
        engine = cls(config, analyzer, store, progress, enc)
        if sync:
            engine.reload(blocking=store.snapshot().n_passages == 0 or bool(store.damaged))
        engine.encoder  # says once if the index's vectors do not fit the encoder
        return engine

    @property
    def encoder(self) -> Encoder | None:
        """The encoder questions are encoded with: the configured one while the live index's
        vectors were made by it, else None (answers are then lexical; a warning says once why)."""
        enc = self._encoder
        if enc is None:
            return None
        snap = self.store.snapshot()
        if snap.encoder_stamp == stamp_of(enc):
            return enc
        if snap.n_passages and self._warned_stamp is not snap:
            self._warned_stamp = snap
            log.warning(NO_VECTORS.format(stamp=stamp_of(enc)))
        return None

    @property
    def corpus_dir(self) -> Path:
        return self.config.corpus_dir

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    # --- questions -------------------------------------------------------------------------
    def ask(self, question: str, max_quotes: int = 3, history: Sequence[Turn] = ()) -> Answer:
        """Answer one question; raises QuestionError for input that cannot be asked. `history`
        is the conversation's recent turns, oldest first: a follow-up is read in their light."""
        t0 = time.perf_counter()
        try:
            text = clean_question(question, self.config.max_question_chars)
        except QuestionError as exc:
            examples = self.suggestions("en", 1) + self.suggestions("ko", 1) if str(exc) == EMPTY_QUESTION else []
            if examples:  # say what can be asked of this corpus
                raise QuestionError(
                    "the question is empty; ask something like " + " / ".join(f"“{e}”" for e in examples)
                ) from None
            raise
        self.store.refresh()  # a commit another process made since (one stat when there is none)
        snapshot = self.store.snapshot()
        if snapshot.n_passages == 0:
            raise EmptyCorpusError(
                f"the corpus in {self.corpus_dir} has no articles; add some with `quoteqa ingest FILE`"
            )
        answer = Answerer(
            snapshot, self.analyzer, self.answer_params, self._titles, self.judge, self._examples_of(snapshot),
            encoder=self._encoder, semantic_judge=self.semantic_judge, sentence_vectors=self._sentence_vectors,
            twins=self._twins(), corpus_languages=self._languages_of(snapshot),
        ).answer(text, max_quotes=max_quotes, history=history)  # fmt: skip
        return dataclasses.replace(answer, elapsed_ms=(time.perf_counter() - t0) * 1000)

    def _languages_of(self, snapshot: Searcher) -> frozenset[str]:
        """The languages of the snapshot's passages, listed once per snapshot (the topic gate's
        level depends on them; retrieval/answer/topic.py)."""
        if self._languages_cache[0] is not snapshot:
            langs = frozenset(snapshot.languages())
            self._languages_cache = (snapshot, langs)
        return self._languages_cache[1]

    def _twins(self) -> Twins | None:
        """The translation-twin stage (retrieval/answer/twins.py) whenever an encoder is configured:
        it compares index vectors only with index vectors and encodes both sides' sentences
        itself, so (unlike the question vector) it does not need the index's stamp to match."""
        enc = self._encoder
        if enc is None:
            return None
        if self._twin_stage is None or self._twin_stage.encoder is not enc:
            self._twin_stage = Twins(enc)
        return self._twin_stage

    def suggestions(self, lang: Language, n: int = 2) -> list[str]:
        """Example questions about the newest articles (for help texts and empty questions)."""
        self.store.refresh()
        return self._suggestions(self.store.snapshot(), lang, n)

    def _suggestions(self, snapshot: Searcher, lang: Language, n: int) -> list[str]:
        """`suggestions` made once per commit, language and count: finding the newest articles
        walks the whole index (tens of ms at 1M passages), and refusals and help texts come often."""
        cache = self._examples_cache
        if cache[0] is not snapshot:
            cache = self._examples_cache = (snapshot, {})
        made = cache[1]
        if (lang, n) not in made:
            made[(lang, n)] = suggestions(snapshot, lang, n)
        return made[(lang, n)]

    def _examples_of(self, snapshot: Searcher) -> Callable[[Language], list[str]]:
        """The abstain message's example question, from the same per-commit cache."""
        return lambda lang: self._suggestions(snapshot, lang, 1)

    def sources(self) -> list[ArticleInfo]:
        self.store.refresh()
        return [
            ArticleInfo(a.meta.id, a.meta.title, a.meta.source, a.passages, tuple(a.languages), a.meta.url, a.meta.date)
            for a in self.store.snapshot().articles()
        ]

    def passage(self, uid: int) -> tuple[str, Source]:
        """A whole paragraph by its uid (the Telegram "Paragraph" button)."""
        try:
            view = self.store.snapshot().passage(uid)
        except KeyError:
            raise QuoteQAError("that paragraph is no longer in the corpus; ask the question again") from None
        return view.text, source_of(view)

    # --- corpus changes --------------------------------------------------------------------
    def reload(self, blocking: bool = True) -> SyncReport:
        """Bring the store in line with the corpus folder; returns what changed and what was
        skipped. With `blocking` off, a busy store is left as it is (`busy` in the report)."""
        with self.store.writing(blocking) as got:
            if not got:
                log.info("another writer holds %s; answering from the last commit", self.data_dir)
                report = SyncReport(articles=self.store.snapshot().n_articles, busy=True)
            else:
                report = self.corpus.run()
        self.last_sync = report
        return report

    def rebuild(self) -> SyncReport:
        """Analyse the whole corpus again into a fresh store (`quoteqa reindex`)."""
        with self.store.writing():
            return self.corpus.run(fresh=True)

    def ingest(self, paths: Sequence[Path]) -> IngestReport:
        """Copy files into the corpus folder, then index only what is new, under the writer
        lock from start to end: two ingests at once run one after the other."""
        report, sync = self.write_corpus(lambda store: ingest(paths, self.corpus_dir, known=StoreKeys(store)))
        report.skipped = sync.skipped
        return report

    def write_corpus(self, write: Callable[[Store], T]) -> tuple[T, SyncReport]:
        """Run `write` (which changes files in the corpus folder, asking the store what it
        holds) under the writer lock, then index what it wrote."""
        with self.store.writing():
            self.corpus.run()
            result = write(self.store)
            sync = self.corpus.run()
        self.last_sync = sync
        return result, sync

    def remove(self, article_id: str) -> SyncReport:
        """Take an article out of the corpus folder (its file, or its line of a .jsonl file)
        and out of the index."""

        def drop(store: Store) -> None:
            meta = store.snapshot().article(article_id)
            if meta is None or not meta.file:
                raise CorpusError(f"no article {article_id!r} in the corpus; `quoteqa sources` lists the ids")
            remove_article(self.corpus_dir, meta.file, article_id)

        return self.write_corpus(drop)[1]

    def article(self, article_id: str) -> Article:
        """A stored article as its corpus file gives it (the paragraphs are the passages)."""
        meta = self.store.snapshot().article(article_id)
        if meta is None:
            raise CorpusError(f"no article {article_id!r} in the corpus; `quoteqa sources` lists the ids")
        try:
            found = [a for a in parse_file(self.corpus_dir / meta.file) if a.id == article_id]
        except (CorpusError, OSError):
            found = []
        if not found or text_hash(found[0]) != meta.text_hash:
            raise CorpusError(f"{meta.file}: changed or unreadable since it was indexed; run `quoteqa reindex`")
        return found[0]
