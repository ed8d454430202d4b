"""Stage 0 of the answer path: whether a question leans on the conversation before it, and
what it brings in from there (issue 14; docs/quality.md, "Sixth round").

"And what did the Kremlin say about it?" after "Who did Musk invite to Clubhouse?" names
neither Musk nor Clubhouse; alone, it is answered from whichever Kremlin story scores best. A
question depends on its context when it opens like a follow-up ("and", "what about", "그럼"),
uses a pronoun ("it", "he", "그는", "그것"), or has at most one content word. Then the earlier
questions' rarest words join the query at reduced weight and the passages of the articles the
conversation was quoting are preferred: historical query expansion, as in TREC CAsT's HQE
baseline, without a neural rewriter. A question that does not depend on its context is
answered exactly as without it.

A short question that points back to the last answer's story, or whose words all stand in one
paragraph of it, is read in that story alone (issue 20; `Answerer._story`), and "what next?"
goes on from where the last answer's first quote ended (`continues`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.answer.question import FRAME_TERMS
from retrieval.index.store import Searcher
from retrieval.models import Language, Turn
from retrieval.text.analyze import Term


@dataclass(frozen=True, slots=True)
class ConversationWeights:
    history_turns: int = 2  # the most recent turns read (a conversation drifts)
    expansion_terms: int = (
        2  # rarest words brought in from those turns' questions (2 chosen on half of the follow-ups, docs/quality.md)
    )
    expansion_weight: float = 0.5  # their share of a question word's weight in the coverage stages
    article_prior: float = 0.3  # re-rank bonus of a passage from an article the conversation quoted
    few_terms: int = 1  # a question with at most this many content words leans on its context
    short_terms: int = 3  # a question this short whose words the last story holds is read with that story
    continue_sentences: int = 2  # sentences "what next?" shows


FOLLOW_CUE: dict[Language, re.Pattern[str]] = {
    "en": re.compile(r"^\W*(?:and|but|so|also|then|what about|how about|and what about)\b", re.I),
    "ko": re.compile(r"^\W*(?:그럼|그러면|그리고|또|그래서|그렇다면|그런데|그건|그거)"),
}
PRONOUN: dict[Language, re.Pattern[str]] = {
    "en": re.compile(r"\b(?:he|she|it|its|they|them|their|his|her|him|this|these|those)\b|\bthat\s+\w+\W*$", re.I),
    "ko": re.compile(
        r"(?:^|\s)(?:그는|그가|그의|그를|그에게|그와|그도|그녀\w*|그것\w*|그곳\w*|그들\w*|이것\w*|이곳\w*|해당|거기\w*|그\s)"
    ),
}


# A whole question that asks to go on from the last quote: "what next?", "more", "그 다음은?".
CONTINUE = re.compile(
    r"^\W*(?:(?:and|so)\s+)?(?:what(?:'s|\s+is|\s+happened|\s+comes)?\s+next|then\s+what|(?:tell\s+me\s+)?more|go\s+on|continue|"
    r"and\s+then(?:\s+what)?|what\s+else)\W*$"
    r"|^\W*(?:그럼\s*|그리고\s*)?(?:그\s*다음|그\s*뒤|그\s*후|다음|더|계속)(?:은|는|에는|엔)?\s*(?:요|\?|뭐(?:야|예요|죠)?|어떻게\s*됐(?:어|나요|어요)?|보여\s*줘|알려\s*줘|해\s*줘)?\W*$",
    re.I,
)


def continues(text: str) -> bool:
    """The question only asks to go on from where the last quote ended."""
    return bool(CONTINUE.match(text.strip()))


@dataclass(frozen=True, slots=True)
class Context:
    """What the conversation lends a question that depends on it."""

    question: str  # the latest earlier question, as the answer names it ("following up on: …")
    terms: tuple[Term, ...]  # earlier questions' rarest words, at `expansion_weight`
    articles: frozenset[str]  # articles the conversation quoted, preferred in the re-rank


def depends(text: str, lang: Language, content_terms: int, weights: ConversationWeights = ConversationWeights()) -> str:
    """Why a question leans on what came before ("" when it stands alone). `lang` is kept for
    callers; the cue and pronoun patterns of both languages are read."""
    # Both languages' cues: "And 크렘린궁은?" mixes them, and the cues cannot be mistaken for each other.
    if any(p.search(text) for p in FOLLOW_CUE.values()):
        return "cue"
    if any(p.search(text) for p in PRONOUN.values()):
        return "pronoun"
    if content_terms <= weights.few_terms:
        return "few words"
    return ""


def context_of(
    history: Sequence[Turn], asked_terms: set[str], question_words: Callable[[str], list[Term]], store: Searcher,
    weights: ConversationWeights = ConversationWeights(),
) -> Context | None:  # fmt: skip
    """The recent turns' rarest content words the question lacks, and their articles."""
    recent = [t for t in history[-weights.history_turns :] if t.question.strip()]
    if not recent:
        return None
    seen: dict[str, Term] = {}
    for turn in reversed(recent):  # the latest turn first: on equal rarity its words win
        for w in question_words(turn.question):
            if w.term not in FRAME_TERMS and w.term not in asked_terms and w.term not in seen and store.df(w.term):
                seen[w.term] = w
    ranked = sorted(seen.values(), key=lambda w: store.df(w.term))[: weights.expansion_terms]
    articles = frozenset(a for t in recent for a in t.articles)
    if not ranked and not articles:
        return None
    return Context(recent[-1].question, tuple(ranked), articles)
