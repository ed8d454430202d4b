"""The topic gate of the semantic path: does the corpus speak about what the question asks at all?

The confidence model (`confidence_semantic.json`) reads "is the first quote from the right
passage". Its lowest level cannot also say "the question is about something the corpus never
covers": a reading-comprehension question whose passage is indexed but whose answer was missed
looks, to that model, like a question about nothing in the corpus, and one level for both either
refuses the first or quotes something for the second (off-topic abstention fell from 0.98 to 0.53
when the encoder came in).

So a second logistic model of the same form, fitted on the FIT half with another label: 1 for a
question whose gold passage is indexed (answered right or not), 0 for an off-topic one (another
file's questions, everyday questions); questions about the same kind of text whose passage is not
indexed are left out, since they are neither. Its `minimum` is the gate: below it the answer is
`abstain` whatever the confidence says. Fitted by `quoteqa eval --splits --fit --encoder use-m3`
(measure/splits.py: `fit_topic` for the model, `fit_semantic` for its level and the confidence
model's `min`, chosen together; docs/quality.md, eighth round). Only the semantic path reads it,
so the words-only path is unchanged.

Two levels, by the kind of corpus. In a corpus that holds the question's language (one language
asked in it, or both languages: the shipped article, a bilingual newsroom, Belebele's half-indexed
pools) the gate refuses below `minimum` (chosen on FIT: each file's answerable questions refused
at most 2%; it refuses none of those pools' cross-language answers). In a corpus wholly in the
other language it refuses below `cross_minimum`, a much lower level: there the dev data's
questions are either answerable (Belebele's cross modes) or off-topic (the other SQuAD file's,
everyday ones), and the gate's features do not tell them apart (one level refused 55-67% of the
answerable ones, docs/quality.md, ninth round). `cross_minimum` is the highest level at which no
FIT file loses more than 0.5% of its right answers: it refuses only what would mostly have been
wrong anyway, and an off-topic question there is `unsure`, quoted after the caveat (answering
across languages is the product's promise; a caveated quote is the lesser harm). Such an answer
is never `answer`: below the same-language level it is at best `unsure`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from retrieval.answer.confidence import ConfidenceModel, write_json

TOPIC_FILE = "topic_semantic.json"


CORPUS_OTHER = "sem_corpus_other"  # 1.0 when no passage of the corpus is in the question's language


@dataclass(frozen=True, slots=True)
class TopicGate:
    """The gate model and its two levels (a corpus holding the question's language: `model.minimum`;
    a corpus wholly in the other language: `cross_minimum`)."""

    model: ConfidenceModel
    cross_minimum: float

    @property
    def minimum(self) -> float:
        return self.model.minimum

    def level(self, signals: Mapping[str, float]) -> float:
        """`cross_minimum` for a question asked of a corpus wholly in the other language, else
        `minimum` (a corpus holding both languages: the same-language level was fitted on such
        pools, Belebele's half-indexed ones, and refuses none of their cross-language answers)."""
        return self.cross_minimum if signals.get(CORPUS_OTHER, 0.0) >= 0.5 else self.model.minimum

    def verdict(self, verdict: str, signals: Mapping[str, float]) -> str:
        """The verdict after the gate: `abstain` below the corpus's level; below the same-language
        level (so only in a corpus wholly in the other language) at best `unsure`: the confidence
        model alone said 0.71 to "Recommend a movie for the weekend" quoted from a Korean article.
        No signals: the gate has no say."""
        if verdict == "abstain" or not signals:
            return verdict
        t = self.model.predict(signals)
        if t < self.level(signals):
            return "abstain"
        return "unsure" if verdict == "answer" and t < self.model.minimum else verdict

    def refuses_many(self, signals: Sequence[Mapping[str, float]]) -> npt.NDArray[np.bool_]:
        if not len(signals):
            return np.zeros(0, bool)
        t = self.model.predict_many(list(signals))
        levels = np.array([self.level(s) for s in signals])
        return (t < levels) & np.array([bool(s) for s in signals], bool)

    def with_fitted(self, **info: object) -> TopicGate:
        return replace(self, model=self.model.with_fitted(**info))

    def to_json(self) -> dict[str, object]:
        raw = self.model.to_json()
        raw["thresholds"] = dict(raw["thresholds"]) | {"cross_min": self.cross_minimum}  # type: ignore[arg-type]
        return raw

    @classmethod
    def from_json(cls, raw: object, where: str = "topic gate") -> TopicGate:
        model = ConfidenceModel.from_json(raw, where)
        th = raw.get("thresholds") or {} if isinstance(raw, dict) else {}
        return cls(model, float(th.get("cross_min", model.minimum)))

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())


@functools.cache
def shipped_topic() -> TopicGate | None:
    """The shipped topic gate, read once per process; None when none is shipped."""
    res = resources.files(__package__).joinpath(TOPIC_FILE)
    if not res.is_file():
        return None
    return TopicGate.from_json(json.loads(res.read_text("utf-8")), f"retrieval/answer/{TOPIC_FILE}")


def topic_path() -> Path:
    """Where `shipped_topic()` reads from (to write a newly fitted gate)."""
    return Path(__file__).resolve().parent / TOPIC_FILE
