"""Who says a sentence: "What did X say?" wants the sentence attributed to X.

News attributes speech in a few set ways, and often across a sentence boundary:

* in the sentence: "…, Erdogan said." / "Erdogan told reporters…" / "according to Erdogan" /
  "에르도안 총리는 “…”고 말했다" / "…라며" / "…고 밝혔다";
* in the sentence before, the quote going on after it: `"…," he said. "…"`, or a paragraph
  naming X followed by one that opens with a quotation mark or "He said" / "그는 …";
* in the sentence after: a quotation that a next sentence ("…, Erdogan added.") attributes.

A sentence is *attributed* to the speaker when it carries speech and the speaker is named in it,
or named next door with the link above. Named means its rarest term, or terms worth half its
weight, are there: "port" alone does not name "port chief Kim Min-su". Neighbours cross paragraph boundaries within one
article (wire copy puts one sentence in a paragraph). Names are matched as the question's own
index terms, so "the Kremlin" matches "Kremlin" and 크렘린궁 its analysed form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answer.context import QuestionContext
from retrieval.index.store import PassageView

# reported speech, with the verb forms attribution takes in both languages
SPEECH_VERB = re.compile(
    r"\b(?:said|says|say|told|tells|added|adds|according\s+to|stated|announced|noted|explained|insisted|warned|"
    r"wrote|writes|argued|asked|declared|replied|quoted)\b|말했|밝혔|전했|덧붙였|강조했|설명했|주장했|언급했|지적했|"
    r"이라며|라며|라고|이라고|고\s*말|고\s*밝|고\s*전|고\s*했|보도했|발표했|썼다|적었",
    re.I,
)
QUOTE_MARK = re.compile(r"[\"“”«»「」『』]|''|``")
OPENS_QUOTE = re.compile(r"^\W{0,3}[\"“«「『]|^\s*``")
# a sentence that leans on the one before for its speaker
PRONOUN_SPEAKER = re.compile(
    r"^\W{0,3}(?:He|She|They|It|The(?:\s+[\w-]+){1,5}?)\s+(?:\w+\s+){0,2}?(?:said|says|told|added|noted|warned|wrote|argued)\b|"
    r"^\W{0,3}(?:그는|그녀는|그들은|이들은|이\s*관계자는|이\s*대변인은|관계자는|대변인은|또\s*그는|그러면서|이어)"
)
# a sentence that only attributes the quote before it: "…, Erdogan added." / "라고 그는 말했다."
TAIL_ATTRIBUTION = re.compile(
    r"^[^\"“”]{0,60}\b(?:said|added|told)\b[^\"“”]{0,60}$|^[^“”\"]{0,40}(?:고|라고)\s*\S{0,6}\s*(?:말했|밝혔|덧붙였)"
)


def speech(sentence: str) -> bool:
    return bool(SPEECH_VERB.search(sentence) or QUOTE_MARK.search(sentence))


@dataclass(frozen=True, slots=True)
class Speaker:
    """The speaker's index terms with their query weights, rarest first."""

    terms: tuple[str, ...]
    weights: tuple[float, ...]

    @classmethod
    def of(cls, terms: Sequence[str], weights: Sequence[float]) -> Speaker:
        pairs = sorted(zip(terms, weights, strict=True), key=lambda tw: -tw[1])
        return cls(tuple(t for t, _ in pairs), tuple(w for _, w in pairs))


def names(view: PassageView, i: int, speaker: Speaker) -> bool:
    """Sentence `i` of `view` names the speaker: it holds the speaker's rarest term, or terms
    worth half the speaker's weight ("port" alone does not name "port chief Kim Min-su")."""
    ids = view.ids(speaker.terms)
    held = (ids >= 0) & np.isin(ids, view.sentence_tokens(i))
    if not held.any():
        return False
    return bool(held[0]) or float(np.dot(held, speaker.weights)) >= 0.5 * sum(speaker.weights)


def neighbour(ctx: QuestionContext, view: PassageView, i: int, step: int) -> tuple[PassageView, int] | None:
    """The sentence before (`step` -1) or after (+1) sentence `i`, across paragraph boundaries
    of the same article (an article's passages have neighbouring uids)."""
    j = i + step
    if 0 <= j < view.n_sentences:
        return view, j
    try:
        other = ctx.view(view.uid + step)
    except KeyError:
        return None
    if other.article.id != view.article.id or other.n_sentences == 0:
        return None
    return other, (other.n_sentences - 1 if step < 0 else 0)


def attributed(ctx: QuestionContext, view: PassageView, i: int, speaker: Speaker) -> bool:
    """Sentence `i` is speech of the speaker (see the module docstring)."""
    s, e = view.sentence(i)
    text = view.text[s:e]
    if not speech(text):
        return False
    if names(view, i, speaker):
        return True
    before = neighbour(ctx, view, i, -1)
    if before is not None and names(*before, speaker) and (OPENS_QUOTE.search(text) or PRONOUN_SPEAKER.search(text)):
        return True
    after = neighbour(ctx, view, i, 1)
    if after is not None and QUOTE_MARK.search(text) and names(*after, speaker):
        a, b = after[0].sentence(after[1])
        return bool(TAIL_ATTRIBUTION.search(after[0].text[a:b]))
    return False


def quotes_words(sentence: str) -> bool:
    """The sentence quotes words (a direct quotation, not reported speech)."""
    return bool(QUOTE_MARK.search(sentence))
