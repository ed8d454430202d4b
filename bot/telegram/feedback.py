"""Readers' 👍 / 👎 on answers, turned into SQuAD-format data that can grow an evaluation set.

What a row becomes (`squad_export`):
- 👍: one question whose context is the *first* quote's whole paragraph (first-quote accuracy
  is what the answer path is measured on) and whose answer is that quote, with its
  `answer_start` in the context. The quote's text is whitespace-normalized by the core, so it
  is located in the paragraph word by word and the answer text is taken from the paragraph
  itself: `context[start:start + len(text)] == text` always holds.
- 👎: left out. A 👎 says the quote did not help the reader, not that its paragraph cannot
  answer the question, so SQuAD v2's `is_impossible` would be a false label. They are counted
  (and `/stats` shows them in the helpfulness rate).
- A 👍 whose paragraph was gone when it was pressed, or whose quote cannot be found in it,
  is left out too and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.telegram.state import FeedbackRow


@dataclass
class Export:
    """The SQuAD document and what was left out of it, for the command's summary line."""

    squad: dict[str, Any]
    questions: int = 0
    unhelpful: int = 0
    unplaced: int = 0
    articles: set[str] = field(default_factory=set)


def locate(quote: str, paragraph: str) -> tuple[int, int] | None:
    """Where `quote` lies in `paragraph`, allowing any run of whitespace between its words."""
    words = quote.split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(w) for w in words), paragraph)
    return match.span() if match else None


def squad_export(rows: Iterable[FeedbackRow]) -> Export:
    """Marked answers as SQuAD 1.1-style data: one article per source article, one paragraph
    entry per quoted paragraph (questions about the same paragraph share it)."""
    articles: dict[str, dict[str, Any]] = {}
    contexts: dict[tuple[str, str], dict[str, Any]] = {}
    out = Export({"version": "quoteqa-feedback-1", "data": []})
    for n, row in enumerate(rows, 1):
        if row.vote != "up":
            out.unhelpful += 1
            continue
        span = (
            locate(row.quotes[0].text, row.paragraphs[0])
            if row.quotes and row.paragraphs and row.paragraphs[0]
            else None
        )
        if span is None:
            out.unplaced += 1
            continue
        source, context = row.quotes[0].source, row.paragraphs[0]
        article = articles.get(source.article)
        if article is None:
            article = articles[source.article] = {
                "title": source.title or source.article,
                "id": source.article,
                "paragraphs": [],
            }
            out.squad["data"].append(article)
        entry = contexts.get((source.article, context))
        if entry is None:
            entry = contexts[(source.article, context)] = {"context": context, "qas": []}
            article["paragraphs"].append(entry)
        start, end = span
        entry["qas"].append(
            {
                "id": f"feedback-{n}",
                "question": row.question,
                "answers": [{"text": context[start:end], "answer_start": start}],
                "confidence": round(row.confidence, 3),
                "verdict": row.verdict,
            }
        )
        out.questions += 1
        out.articles.add(source.article)
    return out
