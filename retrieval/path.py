"""The product's answer path, assembled in one place from an `EngineConfig`.

`Engine` answers through an `AnswerPath` over its live snapshot; `measure` builds the same
object over the stores of its dev pools. Before this, `measure` made `Answerer`s by hand (no
translation twins, the shipped levels instead of the configured ones, another encoder than the
product's), so the figures it printed were of a pipeline no user ran. Now a measurement differs
from the product only by what it changes in the config with `dataclasses.replace`.

`open_store` is the other half: the segment store a config describes, for `Engine.open` and for
a measurement that indexes its own pool.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.answer.confidence import ConfidenceModel, shown
from retrieval.answer.context import SentenceVectors
from retrieval.answer.messages import EMPTY_QUESTION
from retrieval.answer.params import AnswerParams
from retrieval.answer.pipeline import Answerer
from retrieval.answer.question import clean_question
from retrieval.answer.suggest import suggestions
from retrieval.answer.topic import TopicGate, shipped_topic
from retrieval.answer.twins import Twins
from retrieval.answer.verdict import decide
from retrieval.config import EngineConfig
from retrieval.errors import QuestionError
from retrieval.index.segments.columns.anchors import anchors_for
from retrieval.index.segments.store import SegmentStore
from retrieval.index.store import Searcher
from retrieval.models import Answer, Language, Turn
from retrieval.text.analyze import Analyzer
from retrieval.text.anchors import Anchors
from retrieval.text.encoder import Encoder, encoder_from_name


def load_encoder(config: EngineConfig) -> Encoder | None:
    """The configured sentence encoder (None for `none`), its start-up cache beside the index."""
    if config.encoder in ("none", ""):
        return None
    return encoder_from_name(config.encoder, cache=config.encoder_cache_dir, threads=1)


@dataclass(frozen=True, slots=True)
class Parts:
    """What an engine is made of: a config and the heavy objects it chose (Kiwi, the encoder),
    loaded once. `Engine.open` is made from one; a measurement takes one from its caller and
    builds every pool's store and answer path from it, so it runs the product's pipeline."""

    config: EngineConfig
    analyzer: Analyzer
    encoder: Encoder | None

    @classmethod
    def load(cls, config: EngineConfig, analyzer: Analyzer | None = None) -> Parts:
        return cls(config, analyzer or Analyzer(workers=config.workers), load_encoder(config))

    def but(self, **changes: Any) -> Parts:
        """The same parts with some config fields changed (`encoder="none"` also drops the
        encoder object: the words-only path of the same product)."""
        config = dataclasses.replace(self.config, **changes)
        encoder = None if config.encoder in ("none", "") else self.encoder
        if encoder is None and config.encoder not in ("none", ""):
            encoder = load_encoder(config)
        return Parts(config, self.analyzer, encoder)

    def store(self, directory: Path) -> SegmentStore:
        """An empty or existing store of this config in `directory` (a measurement's pool)."""
        return open_store(self.config, self.analyzer, self.encoder, directory)

    def path(self) -> AnswerPath:
        return AnswerPath(self.config, self.analyzer, self.encoder)


def open_store(
    config: EngineConfig, analyzer: Analyzer, encoder: Encoder | None, directory: Path | None = None
) -> SegmentStore:
    """The segment store `config` describes (in `directory`, default `data_dir/index`), writing
    passage vectors with `encoder`."""
    return SegmentStore(
        directory if directory is not None else config.data_dir / "index", analyzer, config.search,
        lock_dir=config.data_dir if directory is None else None, lock_timeout=config.lock_timeout, encoder=encoder,
        encoder_name=config.encoder, encoder_cache=config.encoder_cache_dir, flush_policy=config.flush,
    )  # fmt: skip


class AnswerPath:
    """Questions → `Answer`s over any snapshot, with the config's models, levels, twins and caches.

    The caches outlive a question (analysed titles, sentence vectors, the twin stage's pairings,
    per-snapshot example questions and languages); one path serves one index."""

    def __init__(self, config: EngineConfig, analyzer: Analyzer, encoder: Encoder | None) -> None:
        self.config = config
        self.analyzer = analyzer
        self.encoder = encoder
        self.params: AnswerParams = config.answer
        if not config.refusals:  # fitting: every question answered, signals kept, no model (config.py)
            self.params = dataclasses.replace(config.answer, min_coverage=0.0)
        # The verdict models, loaded even when `refusals` is off: a measurement then judges the
        # answers it collected with them (`verdict`), as the product would have.
        self.judge: ConfidenceModel = config.judge()
        self.semantic_judge: ConfidenceModel = config.semantic_judge()
        self.topic_gate: TopicGate | None = shipped_topic()
        self.twins: Twins | None = Twins(encoder) if encoder is not None else None
        # read at start: a missing or damaged glossary or name model stops the engine here with
        # AnchorDataError naming the file, never later as answers quietly without anchors
        self.anchors: Anchors = anchors_for(analyzer)
        self._titles: dict[str, frozenset[str]] = {}  # analysed article titles, shared by questions
        self.sentence_vectors = SentenceVectors()  # passages' sentence vectors (uids are never reused), bounded
        self._examples_cache: tuple[object, dict[tuple[Language, int], list[str]]] = (None, {})
        self._languages_cache: tuple[object, frozenset[str]] = (None, frozenset())

    def answerer(self, snapshot: Searcher) -> Answerer:
        """The answer stages over `snapshot` (cheap: one per question)."""
        refuse = self.config.refusals
        return Answerer(
            snapshot, self.analyzer, self.params, self._titles, self.judge if refuse else None,
            self._examples_of(snapshot), encoder=self.encoder, semantic_judge=self.semantic_judge if refuse else None,
            sentence_vectors=self.sentence_vectors, twins=self.twins, topic_gate=self.topic_gate if refuse else None,
            corpus_languages=self._languages_of(snapshot), anchors=self.anchors,
        )  # fmt: skip

    def verdict(self, signals: Mapping[str, float], semantic: bool) -> tuple[float, str]:
        """(confidence shown, verdict) the product gives an answer with these signals: how a
        measurement that collected answers with `refusals` off judges them afterwards."""
        if not signals:
            return 1.0, "abstain"
        if semantic:
            chance, verdict = decide(self.semantic_judge, dict(signals), self.topic_gate)
        else:
            chance, verdict = decide(self.judge, dict(signals))
        return shown(chance, verdict), verdict

    def ask(
        self, snapshot: Searcher, question: str, max_quotes: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        """Answer one question from `snapshot`; raises QuestionError for input that cannot be asked
        (an empty one with example questions about this corpus)."""
        t0 = time.perf_counter()
        text = self.clean(snapshot, question)
        answer = self.answerer(snapshot).answer(
            text, max_quotes=self.config.max_quotes if max_quotes is None else max_quotes, history=history
        )
        return dataclasses.replace(answer, elapsed_ms=(time.perf_counter() - t0) * 1000)

    def clean(self, snapshot: Searcher, question: str) -> str:
        """The question as it is answered, or a QuestionError a person can act on."""
        try:
            return clean_question(question, self.config.max_question_chars)
        except QuestionError as exc:
            examples = (
                self.suggestions(snapshot, "en", 1) + self.suggestions(snapshot, "ko", 1)
                if str(exc) == EMPTY_QUESTION and snapshot.n_passages
                else []
            )
            if examples:  # say what can be asked of this corpus
                raise QuestionError(
                    "the question is empty; ask something like " + " / ".join(f"“{e}”" for e in examples)
                ) from None
            raise

    def suggestions(self, snapshot: Searcher, lang: Language, n: int) -> list[str]:
        """Example questions about the newest articles, made once per commit, language and count:
        finding the newest articles walks the whole index (tens of ms at 1M passages), and
        refusals and help texts come often."""
        cache = self._examples_cache
        if cache[0] is not snapshot:
            cache = self._examples_cache = (snapshot, {})
        made = cache[1]
        if (lang, n) not in made:
            made[(lang, n)] = suggestions(snapshot, lang, n)
        return made[(lang, n)]

    def _examples_of(self, snapshot: Searcher) -> Callable[[Language], list[str]]:
        """The abstain message's example question, from the same per-commit cache."""
        return lambda lang: self.suggestions(snapshot, lang, 1)

    def _languages_of(self, snapshot: Searcher) -> frozenset[str]:
        """The languages of the snapshot's passages, listed once per snapshot (the topic gate's
        level depends on them; retrieval/answer/topic.py)."""
        if self._languages_cache[0] is not snapshot:
            self._languages_cache = (snapshot, frozenset(snapshot.languages()))
        return self._languages_cache[1]
