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

Known cost: in a corpus wholly in the other language than the question, the only such questions
in the dev data are off-topic ones, so the gate refuses most answerable ones there too (Belebele
cross modes: 55–67%); a corpus holding both languages is not affected.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from retrieval.answer.confidence import ConfidenceModel

TOPIC_FILE = "topic_semantic.json"


@functools.cache
def shipped_topic() -> ConfidenceModel | None:
    """The shipped topic gate, read once per process; None when none is shipped."""
    res = resources.files(__package__).joinpath(TOPIC_FILE)
    if not res.is_file():
        return None
    return ConfidenceModel.from_json(json.loads(res.read_text("utf-8")), f"retrieval/answer/{TOPIC_FILE}")


def topic_path() -> Path:
    """Where `shipped_topic()` reads from (to write a newly fitted gate)."""
    return Path(__file__).resolve().parent / TOPIC_FILE


def off_topic(gate: ConfidenceModel | None, signals: Mapping[str, float]) -> bool:
    """True when the gate says the corpus does not cover the question (no gate: never)."""
    return gate is not None and bool(signals) and gate.predict(signals) < gate.minimum
