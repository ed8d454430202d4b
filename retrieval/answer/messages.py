"""What a person reads besides the quotes: the "no answer" reply, the caveat on an unsure
answer, the cross-language note and the empty-question error, in each language we answer in.

Texts only, and the one helper that appends example questions made from the corpus (see
`retrieval/answer/suggest.py`): the answer path decides when each is shown (`retrieval/answer/pipeline.py`).
"""

from __future__ import annotations

from retrieval.models import Language

ABSTAIN_MESSAGE: dict[Language, str] = {
    "en": "The articles I have do not answer that. Ask about what they cover (see the list of sources)",
    "ko": "가지고 있는 기사에서는 그 질문의 답을 찾을 수 없습니다. 기사 목록에 있는 내용에 대해 물어 보세요",
    "mixed": "The articles I have do not answer that. / 가지고 있는 기사에서는 답을 찾을 수 없습니다",
}
# "What next?" after the last sentence of a story.
STORY_END: dict[Language, str] = {
    "en": "That was the end of “{title}”.",
    "ko": "“{title}” 기사는 여기까지입니다.",
    "mixed": "That was the end of “{title}”. / “{title}” 기사는 여기까지입니다.",
}
EXAMPLE_LEAD: dict[Language, str] = {"en": ", e.g. ", "ko": ". 예: ", "mixed": ". e.g. "}
EMPTY_QUESTION = "the question is empty; type a question about the articles (`quoteqa sources` lists them)"
CAVEAT: dict[Language, str] = {
    "en": "Closest passage — it may not answer exactly.",
    "ko": "가장 가까운 문단입니다 — 정확한 답이 아닐 수 있습니다.",
    "mixed": "Closest passage — it may not answer exactly. / 가장 가까운 문단입니다 — 정확한 답이 아닐 수 있습니다.",
}
CROSS_MESSAGE: dict[Language, str] = {
    "en": "No English passage answers this; quoting the Korean text.",
    "ko": "한국어 기사에는 답이 없어 영어 원문을 인용합니다.",
    "mixed": "Quoting the other language.",
}


def with_examples(message: str, lang: Language, examples: list[str]) -> str:
    """A message, then example questions made from the corpus (none when it is empty)."""
    if not examples:
        return message + "."
    return message + EXAMPLE_LEAD[lang] + " / ".join(f"“{e}”" for e in examples)
