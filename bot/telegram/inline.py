"""Inline mode (`@bot question` in any chat): the top quotes as results to pick from."""

from __future__ import annotations

from dataclasses import dataclass

from bot.output.lines import shorten
from bot.telegram.markup import esc
from bot.telegram.render import help_text, quote_blocks, source_line
from bot.telegram.strings import UiLang, example, t
from retrieval.models import Answer

MAX_INLINE_DESCRIPTION = 200


@dataclass(frozen=True, slots=True)
class InlineResult:
    """One inline article result: what the picker shows and the HTML it sends."""

    id: str
    title: str
    description: str
    html: str


def inline_results(answer: Answer, lang: UiLang) -> list[InlineResult]:
    """Top quotes as inline articles. An unanswerable question gives no result at all (the
    Telegram layer shows a "how to ask" button instead): any result can be chosen, and
    choosing it would post a non-answer into someone else's chat."""
    if not answer.answered or not answer.quotes:
        return []
    results: list[InlineResult] = []
    for i, quote in enumerate(answer.quotes):
        blocks = quote_blocks(quote, answer.terms, lang)
        # A quote too long for one message: send its first part, with the source line.
        html_text = blocks[0] if len(blocks) == 1 else f"{blocks[0]}\n{source_line(quote.source, lang)}"
        if answer.verdict == "unsure":
            html_text = f"{t(lang, 'unsure')}\n{html_text}"
        title = f"{quote.source.title or quote.source.article} · {t(lang, 'paragraph', n=quote.source.paragraph)}"
        results.append(
            InlineResult(
                f"q{i}-{quote.passage}", shorten(title, 100), shorten(quote.text, MAX_INLINE_DESCRIPTION), html_text
            )
        )
    return results


def inline_help(lang: UiLang, bot_username: str, examples: dict[UiLang, str] | None = None) -> InlineResult:
    text = t(lang, "inline_help_text", bot=bot_username, example=example(lang, examples))
    return InlineResult("help", t(lang, "inline_help_title"), text, esc(text) + "\n\n" + help_text(lang, bot_username))
