"""Example questions made from the corpus itself, for help texts and "no answer" replies.

A fixed example ("What did the Kremlin say?") makes sense for one article only; a bot that
reads a news feed should suggest questions about what it actually holds. The newest articles'
titles become questions in the user's language (a bilingual "English / 한국어" title gives each
language its own half).
"""

from __future__ import annotations

import re

from retrieval.index.store import Searcher
from retrieval.models import Language
from retrieval.text.analyze import detect_language

MAX_TITLE = 60  # characters of a title inside an example question
SCAN = 64  # newest passages looked at for distinct titles
TITLE_PARTS = re.compile(r"\s+[/|]\s+")

TEMPLATES: dict[str, str] = {
    "en": "What does ‘{title}’ report?",
    "ko": "‘{title}’ 기사는 무엇을 전했나요?",
}


def suggestions(store: Searcher, lang: Language, n: int = 2) -> list[str]:
    """Up to n questions about the newest articles, in `lang` (English for "mixed")."""
    want = "ko" if lang == "ko" else "en"
    uids = store.uids()
    titles: list[str] = []
    for uid in uids[::-1][:SCAN].tolist():
        title = _title_in(store.passage(uid).article.title, want)
        if title and title not in titles:
            titles.append(title)
        if len(titles) == n:
            break
    return [TEMPLATES[want].format(title=t) for t in titles]


def _title_in(title: str, lang: str) -> str:
    """The part of a title in `lang` when it has one per language, shortened at a word."""
    parts = [p.strip() for p in TITLE_PARTS.split(title) if p.strip()]
    if not parts:
        return ""
    mine = [p for p in parts if (detect_language(p) == "ko") == (lang == "ko")]
    text = (mine or parts)[0]
    if len(text) > MAX_TITLE:
        text = text[:MAX_TITLE].rsplit(" ", 1)[0].rstrip(",;:—-") + "…"
    return text
