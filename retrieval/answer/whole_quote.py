"""A quotation the sentence splitter cut in two comes back whole.

The splitter ends a sentence at a full stop even inside quotation marks, so a quote can stop
half-way through what someone said: `“We lost three cranes. We will rebuild,” he said.` becomes
two sentences, and a quote of the first shows an opening mark that never closes. And wire copy
goes on after the attribution: `"…," he said. "…"`. So a quote's run of sentences is widened
inside its paragraph, by at most `QuoteShape.whole_quote_sentences` sentences, until its quotation marks balance, and
over a `"…," he said.` to the quotation that goes on right after it. Quotes stay verbatim: only
whole neighbouring sentences are added, never text cut from them.
"""

from __future__ import annotations

import re

from retrieval.answer.context import QuestionContext
from retrieval.answer.sentences import Candidate

OPEN_MARKS = "“«「『"
CLOSE_MARKS = "”»」』"
_STARTS_QUOTE = re.compile(r"^\W{0,2}[\"“«「『]")
# `"…," he said.` / `"…," said Posada, who…` / `…”라고 그는 말했다.`: an attribution after a closed quotation
_SAID_TAIL = re.compile(
    r"[\"”»」』],?\s+(?:(?:he|she|they|[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3})\s+(?:said|says|added|told\s+\w+)|"
    r"(?:said|says|added)\s+[A-Z\w][^\"“”]{0,120})\s*[.,]?\s*$"
    r"|[”\"](?:라고|고|며|라며)\s*[^“”\"]{0,40}(?:말했|밝혔|덧붙였|전했)[^“”\"]{0,10}$"
)


def unbalanced(text: str) -> int:
    """+1: a quotation opens and does not close; -1: one closes that did not open here; 0: balanced."""
    opens = sum(text.count(c) for c in OPEN_MARKS)
    closes = sum(text.count(c) for c in CLOSE_MARKS)
    straight = text.count('"')
    if opens != closes:
        return 1 if opens > closes else -1
    if straight % 2:
        return 1 if _STARTS_QUOTE.search(text) else -1
    return 0


def whole(
    ctx: QuestionContext, group: list[Candidate], used: set[tuple[int, int]], max_extra: int
) -> list[Candidate]:  # fmt: skip
    """`group` (neighbouring sentences of one passage) widened, by at most `max_extra`
    sentences none of which is in `used`, so that its quotation is whole."""
    if max_extra <= 0 or not group:
        return group
    group = sorted(group, key=lambda c: c.sent)
    p, lang = group[0].passage, group[0].sentence_lang
    v = ctx.view(p)
    lo, hi = group[0].sent, group[-1].sent
    extra = 0

    def free(i: int) -> bool:
        return 0 <= i < v.n_sentences and (p, i) not in used

    def text(a: int, b: int) -> str:
        return v.text[v.sentence(a)[0] : v.sentence(b)[1]]

    while extra < max_extra:
        side = unbalanced(text(lo, hi))
        if side > 0 and free(hi + 1):
            hi += 1
        elif side < 0 and free(lo - 1):
            lo -= 1
        elif (
            side == 0
            and free(hi + 1)
            and _SAID_TAIL.search(text(hi, hi))
            and _STARTS_QUOTE.search(text(hi + 1, hi + 1))
        ):
            hi += 1  # `"…," he said. "…"`: the quotation goes on
        else:
            break
        extra += 1
    if (lo, hi) == (group[0].sent, group[-1].sent):
        return group
    have = {c.sent: c for c in group}
    return [have.get(i) or Candidate(p, i, *v.sentence(i), 0.0, lang) for i in range(lo, hi + 1)]
