"""Everything an `Engine` is opened with, as one frozen value.

Front ends build it once from their settings (`bot/wiring.py::engine_config` from `Settings`;
`measure` from the same factory) and hand it down whole, so a new knob is one field here and
one line in that factory, not a keyword threaded through four signatures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    workers: int = 0  # Kiwi threads (0: Kiwi's own choice)
    max_question_chars: int = 2000
    lock_timeout: float = 600.0  # seconds a writer waits for another writer's lock
    serving: bool = False  # questions arrive while writes run: a big batch gets a Kiwi of its own
    sure_confidence: float | None = None  # verdict levels; None keeps the ones fitted with the model
    min_confidence: float | None = None
    encoder: str = "none"  # sentence encoder for passage vectors and questions: "use-m3" or "none" (lexical only)
    encoder_cache: Path | None = None  # the encoder's start-up cache; None: data_dir / "encoder"
    flush: FlushPolicy = DEFAULT_FLUSH  # a big write commits a segment every this many passages (flush.py)

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
