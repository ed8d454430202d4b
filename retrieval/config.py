"""Everything an `Engine` is opened with, as one frozen value.

Its defaults are the product's (`retrieval/defaults.py`, the same values `Settings` starts
from): a bare `EngineConfig(corpus, data)` is what a user runs with no settings, encoder
included, so tests and benchmarks cannot drift onto another pipeline. Front ends build it once
from their settings (`bot/wiring.py::engine_config`) and hand it down whole; `measure` is
handed that config and changes only what a measurement must (paths, `refusals` for fitting),
with `dataclasses.replace`. `retrieval/path.py` turns it into a store and an answer path, the
one assembly that `Engine` and `measure` share. A new knob is one field here and one line in
the settings factory, not a keyword threaded through four signatures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from retrieval import defaults
from retrieval.answer import confidence
from retrieval.answer.confidence import ConfidenceModel
from retrieval.answer.params import AnswerParams
from retrieval.index.bm25 import SearchParams
from retrieval.index.segments.flush import DEFAULT_FLUSH, FlushPolicy


@dataclass(frozen=True, slots=True)
class EngineConfig:
    corpus_dir: Path
    data_dir: Path  # the index, its manifests and the writer lock live here
    search: SearchParams = field(default_factory=SearchParams)  # BM25 variant, k1, b
    answer: AnswerParams = field(default_factory=AnswerParams)  # every weight of the answer path
    workers: int = defaults.WORKERS  # Kiwi threads (0: Kiwi's own choice)
    max_question_chars: int = defaults.MAX_QUESTION_CHARS
    max_quotes: int = defaults.MAX_QUOTES  # quotes per answer when the caller does not say
    lock_timeout: float = defaults.LOCK_TIMEOUT_SECONDS  # seconds a writer waits for another writer's lock
    serving: bool = False  # questions arrive while writes run: a big batch gets a Kiwi of its own
    sure_confidence: float | None = None  # verdict levels; None keeps the ones fitted with the model
    min_confidence: float | None = None
    encoder: str = defaults.ENCODER  # sentence encoder for passage vectors and questions: "use-m3" or "none" (lexical only)
    encoder_cache: Path | None = None  # the encoder's start-up cache; None: data_dir / "encoder"
    flush: FlushPolicy = DEFAULT_FLUSH  # a big write commits a segment every this many passages (flush.py)
    # Measurement only (measure/splits.py, measure/belebele.py): False answers every question
    # with its signals and no verdict model, so the models can be fitted on what they would
    # judge. Never set by a front end.
    refusals: bool = True

    @property
    def encoder_cache_dir(self) -> Path:
        return self.encoder_cache if self.encoder_cache is not None else self.data_dir / "encoder"

    def judge(self) -> ConfidenceModel:
        """The shipped confidence model with this config's verdict levels."""
        return confidence.shipped().with_levels(self.sure_confidence, self.min_confidence)

    def semantic_judge(self) -> ConfidenceModel:
        """The shipped model for answers the sentence encoder took part in (`confidence_semantic.json`),
        with this config's verdict levels when they are set (both models are calibrated
        probabilities of the same event, "the first quote is from the right passage")."""
        return confidence.shipped_semantic().with_levels(self.sure_confidence, self.min_confidence)
