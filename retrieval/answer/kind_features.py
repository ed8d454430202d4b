"""Stage 4's kind features: what the question's kind asks a sentence to hold, read closely.

`sentences.py` scores every sentence by its words and a coarse cue per kind (`ANSWER_CUES`: any
quotation for "say", any number for "how many"). These features say more, each in a module of its
own (issue 26, "In sentence choice"):

* `attributed` (attribution.py): "What did X say?" — the sentence is X's speech: X named in it,
  or in the sentence before or after with the quote going on;
* `direct_quote`: ...and it quotes X's words (quotation marks), not a paraphrase of them;
* `counted` (counted.py): "How many people / 몇 명" — the sentence holds a number of the unit
  or noun asked about (not a date, not another count);
* `dated` (when_where.py): "When" — it holds a date or a time;
* `placed` (when_where.py): "Where" — it names a place the question does not.

Each adds its weight (`KindWeights`) to the sentence's score. Weights were chosen on the FIT half
of the news dev set (`quoteqa eval --news --half fit`) and checked on REPORT, KorQuAD and XQuAD
(docs/quality.md, "Sentence choice by kind").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.answer.attribution import Speaker, attributed, quotes_words
from retrieval.answer.context import QuestionContext
from retrieval.answer.counted import AskedCount, asked_count, counts
from retrieval.answer.question import Question
from retrieval.answer.when_where import dated, placed
from retrieval.index.store import PassageView


@dataclass(frozen=True, slots=True)
class KindWeights:
    attributed_weight: float = 1.0  # "what did X say": the sentence is X's speech (X in it or next door)
    direct_quote_weight: float = 0.0  # ...and quotes X's words in quotation marks (0.3: +1 FIT row; it put a shipped direct quote over the "told reporters" sentence of test_cli)
    counted_weight: float = 1.0  # "how many X": a number of the unit/noun asked about
    dated_weight: float = (
        0.0  # "when": a date or a time (0.6 gained on FIT only, and cost KorQuAD/XQuAD "when" answers)
    )
    placed_weight: float = (
        0.0  # "where": a place the question does not name (0.4: news +2 REPORT rows, KorQuAD -13, XQuAD -3)
    )


class KindFeatures:
    """The kind features of one question, ready to score its candidate sentences."""

    def __init__(
        self, ctx: QuestionContext, asked: Question, speaker: Sequence[str], speaker_weights: Sequence[float],
        weights: KindWeights,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.asked = asked
        self.speaker = Speaker.of(speaker, speaker_weights) if speaker else None
        self.w = weights
        self.count: AskedCount | None = asked_count(asked.text, asked.language) if asked.kind == "number" else None

    def attributed(self, view: PassageView, i: int) -> bool:
        """The sentence is the named speaker's speech (a "say" question with a speaker only)."""
        return self.asked.kind == "say" and self.speaker is not None and attributed(self.ctx, view, i, self.speaker)

    def score(self, view: PassageView, i: int, sentence: str, said: bool = False) -> float:
        """The kind features' sum; `said`: `attributed(view, i)`, read once by the caller."""
        w, kind = self.w, self.asked.kind
        if kind == "say":
            return w.attributed_weight * said + w.direct_quote_weight * (said and quotes_words(sentence))
        if kind == "number":
            return w.counted_weight * counts(sentence, self.count)
        if kind == "when":
            return w.dated_weight * dated(sentence)
        if kind == "where":
            return w.placed_weight * placed(sentence, self.asked.text)
        return 0.0
