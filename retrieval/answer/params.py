"""Every tunable of the answer path in one frozen value, grouped by the stage that reads it.

Each stage keeps its own weights dataclass beside its code (`QueryWeights` in query.py, ...);
this file only gathers them, so `AnswerParams.of(name=...)` can set any of them by its flat name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from retrieval.answer.conversation import ConversationWeights
from retrieval.answer.kind_features import KindWeights
from retrieval.answer.neighbours import NeighbourWeights
from retrieval.answer.offtopic import OffTopicGate
from retrieval.answer.query import QueryWeights
from retrieval.answer.quotes import QuoteShape
from retrieval.answer.rerank import RerankWeights
from retrieval.answer.retrieve.fusion import FusionWeights
from retrieval.answer.sentences import SentenceWeights
from retrieval.answer.similar import SimilarWeights


@dataclass(frozen=True, slots=True)
class AnswerParams:
    """Every weight of the answer path, grouped by the stage that reads it, and the abstention
    threshold used without a confidence model. `AnswerParams.of(name=value, ...)` sets weights
    by their own (flat) names, which are unique across the stages."""

    query: QueryWeights = field(default_factory=QueryWeights)
    rerank: RerankWeights = field(default_factory=RerankWeights)
    neighbours: NeighbourWeights = field(default_factory=NeighbourWeights)  # the first passage's story neighbours, read too
    sentences: SentenceWeights = field(default_factory=SentenceWeights)
    kinds: KindWeights = field(default_factory=KindWeights)  # what the question's kind asks a sentence to hold
    quotes: QuoteShape = field(default_factory=QuoteShape)
    conversation: ConversationWeights = field(default_factory=ConversationWeights)
    fusion: FusionWeights = field(default_factory=FusionWeights)  # semantic only: lexical + dense candidates
    similar: SimilarWeights = field(default_factory=SimilarWeights)  # semantic only: sentences by meaning
    offtopic: OffTopicGate = field(default_factory=OffTopicGate)  # names the corpus never names: refused
    min_coverage: float = (
        0.34  # without a confidence model only: share of the question's idf mass the best passage must contain
    )

    @classmethod
    def of(cls, **weights: Any) -> AnswerParams:
        """The defaults with some weights changed, each named by its own (flat) name:
        `AnswerParams.of(window_temperature=0.0, speaker_weight=0.0)`. An unknown name is a TypeError."""
        unknown = [name for name in weights if name not in _STAGE_OF]
        if unknown:
            raise TypeError(
                f"AnswerParams has no weight {', '.join(map(repr, unknown))}; it has: {', '.join(_STAGE_OF)}"
            )
        base = cls()
        stages = {s: {n: v for n, v in weights.items() if _STAGE_OF[n] == s} for s in _STAGES}
        return cls(
            **{s: dataclasses.replace(getattr(base, s), **kw) for s, kw in stages.items() if kw},
            **{n: v for n, v in weights.items() if _STAGE_OF[n] is None},
        )

    def flat(self) -> dict[str, object]:
        """Every weight by its flat name, as `of` takes them (for reports: feed them back to `of`)."""
        return {n: getattr(self if s is None else getattr(self, s), n) for n, s in _STAGE_OF.items()}


_STAGES = ("query", "rerank", "neighbours", "sentences", "kinds", "quotes", "conversation", "fusion", "similar", "offtopic")
# flat weight name -> the stage group holding it (None: a field of AnswerParams itself)
_STAGE_OF: dict[str, str | None] = {
    f.name: s for s in _STAGES for f in dataclasses.fields(getattr(AnswerParams(), s))
} | {f.name: None for f in dataclasses.fields(AnswerParams) if f.name not in _STAGES}
