"""The one object front ends hold: a corpus folder, an analyser and a store, answering questions.

The corpus folder is the source of truth; `retrieval/corpus/sync.py` keeps the store in line
with it. Writers (ingest, reindex, reload) hold the store's lock on the data folder; a question
never takes it and is answered from the commit that was live when it arrived.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from retrieval.answer.quotes import source_of
from retrieval.config import EngineConfig
from retrieval.corpus.files import IngestReport, ingest, parse_file, remove_article
from retrieval.corpus.sync import CorpusSync, ProgressFactory, StoreKeys, SyncReport
from retrieval.corpus.verify import repair
from retrieval.errors import CorpusError, DamagedIndexError, EmptyCorpusError, QuoteQAError
from retrieval.index.store import Store
from retrieval.models import Answer, Article, ArticleInfo, Language, Source, Turn, text_hash
from retrieval.path import AnswerPath, Parts, load_encoder, open_store
from retrieval.text.analyze import Analyzer
from retrieval.text.encoder import Encoder, stamp_of

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["Engine", "EngineConfig", "ProgressFactory", "SyncReport", "load_encoder"]


UNAVAILABLE = "part of the index is damaged and out of service ({n} segment(s)); these answers come from the rest. Run `quoteqa verify --repair`."
NO_VECTORS = "the index holds no passage vectors for the {stamp} encoder (built without it, or before it existed); answering by words only until `quoteqa reindex`"

_DEFAULT = object()


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
        self.path = AnswerPath(config, analyzer, encoder)  # the answer stages, their models and caches
        child_workers = max(1, analyzer.workers - 1) if config.serving else 0
        self.corpus = CorpusSync(config.corpus_dir, config.data_dir, store, progress, child_workers)
        self.last_sync = SyncReport()

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
        return cls.of(Parts(config, analyzer, enc), progress=progress, sync=sync)

    @classmethod
    def of(cls, parts: Parts, *, progress: ProgressFactory | None = None, sync: bool = True) -> Engine:
        """`open` with parts already loaded (a measurement's, shared by its engines)."""
        config, analyzer, enc = parts.config, parts.analyzer, parts.encoder
        store = open_store(config, analyzer, enc)
        engine = cls(config, analyzer, store, progress, enc)
        damaged = list(store.damaged)
        if sync and damaged:
            engine.heal(damaged)
        if sync:
            engine.reload(blocking=store.snapshot().n_passages == 0 or bool(store.damaged))
        engine.encoder  # says once if the index's vectors do not fit the encoder
        return engine

    def heal(self, damaged: Sequence[str]) -> None:
        """An open found part of the index unreadable: rebuild it from the corpus folder as
        `quoteqa verify --repair` does (the same passage numbers where its uid runs survive),
        and say so once, with the count. Another writer busy: left to the sync that follows."""
        with self.store.writing(blocking=False) as got:
            if not got:
                return
            report = repair(self.store, self.corpus, self.analyzer, self._encoder)  # type: ignore[arg-type]
        log.warning(
            "the index in %s was damaged (%s); rebuilt from the corpus folder %s: %d article(s) re-indexed",
            self.data_dir, "; ".join(damaged), self.corpus_dir, report.reindexed,
        )  # fmt: skip

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
    def ask(self, question: str, max_quotes: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Answer one question (`max_quotes`: the config's by default); raises QuestionError for
        input that cannot be asked. `history` is the conversation's recent turns, oldest first:
        a follow-up is read in their light."""
        self.store.refresh()  # a commit another process made since (one stat when there is none)
        snapshot = self.store.serving()
        self.path.clean(snapshot, question)  # bad input is refused before an empty corpus is
        out = getattr(snapshot, "unavailable", ())
        if snapshot.n_passages == 0 and out:  # all of it out of service: each question fails alike
            raise DamagedIndexError(str(self.data_dir), f"its segment(s) {', '.join(out)} are out of service")
        if snapshot.n_passages == 0:
            raise EmptyCorpusError(
                f"the corpus in {self.corpus_dir} has no articles; add some with `quoteqa ingest FILE`"
            )
        try:
            answer = self.path.ask(snapshot, question, max_quotes, history)
        except DamagedIndexError as exc:  # this question fails; the next ones are answered from the rest
            self._take_out(exc)
            raise
        return dataclasses.replace(answer, unavailable=UNAVAILABLE.format(n=len(out))) if out else answer

    @contextlib.contextmanager
    def _damage_fails_this_call(self) -> Iterator[None]:
        try:
            yield
        except DamagedIndexError as exc:
            self._take_out(exc)
            raise

    def _take_out(self, exc: DamagedIndexError) -> None:
        """Serve no more questions from the damaged segment (not re-read on every question);
        the log names the file and the command that mends it, once."""
        if exc.segment is not None and self.store.take_out(exc.segment, str(exc)):
            log.error(
                "%s. Its segment %s is out of service until then: answers come from the rest of the index.",
                exc, exc.segment,
            )  # fmt: skip

    def suggestions(self, lang: Language, n: int = 2) -> list[str]:
        """Example questions about the newest articles (for help texts and empty questions)."""
        self.store.refresh()
        with self._damage_fails_this_call():
            return self.path.suggestions(self.store.serving(), lang, n)

    def sources(self) -> list[ArticleInfo]:
        self.store.refresh()
        with self._damage_fails_this_call():
            return [
                ArticleInfo(
                    a.meta.id, a.meta.title, a.meta.source, a.passages, tuple(a.languages), a.meta.url, a.meta.date
                )
                for a in self.store.serving().articles()
            ]

    def passage(self, uid: int) -> tuple[str, Source]:
        """A whole paragraph by its uid (the Telegram "Paragraph" button)."""
        try:
            with self._damage_fails_this_call():
                view = self.store.serving().passage(uid)
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
