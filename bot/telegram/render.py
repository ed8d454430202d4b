"""Answer values → Telegram HTML messages, kept pure so they can be tested without a bot.

The texts are in `strings`, escaping and highlighting in `markup`, message splitting in
`chunking`; the buttons are `callbacks`, inline mode `inline`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.output.lines import shorten
from bot.telegram.chunking import MAX_MESSAGE, chunk_lines, chunk_ranges, chunk_text, message_text, pack, strip_range
from bot.telegram.markup import Span, esc, highlight, spans_within, term_spans, utf16_len
from bot.telegram.strings import UiLang, example, t
from retrieval.engine import SyncReport
from retrieval.models import Answer, ArticleInfo, Quote, Source


def source_line(source: Source, lang: UiLang) -> str:
    """`— Title · ¶ 3 · English · outlet · date`, the title linked when the article has a URL."""
    title = esc(source.title or source.article)
    if source.url.startswith(("http://", "https://")):
        title = f'<a href="{esc(source.url)}">{title}</a>'
    parts = [f"— <i>{title}</i>", t(lang, "paragraph", n=source.paragraph)]
    known = source.language in ("ko", "en", "mixed")
    parts.append(t(lang, f"lang_{source.language}") if known else esc(source.language))
    if source.source:
        parts.append(esc(source.source))
    if source.date:
        parts.append(esc(source.date))
    return " · ".join(parts)


def quote_spans(quote: Quote, terms: Sequence[str]) -> list[Span]:
    """The core's own highlight spans when it gives them, else the question's terms."""
    return list(quote.highlights) if quote.highlights else term_spans(quote.text, terms)


def quote_blocks(quote: Quote, terms: Sequence[str], lang: UiLang, limit: int = MAX_MESSAGE) -> list[str]:
    """One quote as blockquote(s) + source line; split at sentences if it is too long."""
    line = source_line(quote.source, lang)
    text = quote.text
    spans = quote_spans(quote, terms)

    def render(start: int, end: int) -> str:
        return f"<blockquote>{highlight(text[start:end], spans=spans_within(spans, start, end))}</blockquote>"

    ranges = chunk_ranges(text, render, limit - utf16_len(line) - 1) or [strip_range(text, 0, len(text))]
    blocks = [render(s, e) for s, e in ranges]
    blocks[-1] = f"{blocks[-1]}\n{line}"
    return blocks


def answer_messages(answer: Answer, lang: UiLang, quotes: Sequence[Quote] | None = None) -> list[str]:
    """The HTML messages for an answer, or for its "more" quotes when `quotes` is given."""
    if quotes is None:
        if not answer.answered or not answer.quotes:
            texts = message_text(answer.message or t(lang, "inline_no_answer"), MAX_MESSAGE - 300)
            return [f"{following_up(answer.context, lang)}\n{texts[0]}", *texts[1:]] if answer.context else texts
        quotes = answer.quotes
    elif not quotes:
        return [t(lang, "no_more")]
    blocks = caveats(answer, lang)
    for quote in quotes:
        blocks.extend(quote_blocks(quote, answer.terms, lang))
    return pack(blocks)


def caveats(answer: Answer, lang: UiLang) -> list[str]:
    """What a reader must know before the quotes: that the closest passage may not answer
    (verdict `unsure`), and that the quotes are in the other language."""
    out = [following_up(answer.context, lang)] if answer.context else []
    if answer.verdict == "unsure":
        out.append(t(lang, "unsure"))
    if answer.cross_language:
        out.append(t(lang, "cross_language"))
    if answer.unavailable:  # part of the index out of service (damaged)
        out.append(t(lang, "index_partial"))
    return out


def following_up(question: str, lang: UiLang) -> str:
    """The short, escaped line that says which earlier question an answer was read with."""
    return t(lang, "following_up", question=esc(shorten(question, 80)))


def reload_messages(report: SyncReport, lang: UiLang) -> list[str]:
    """What a /reload did, and every corpus file it skipped with the reason (escaped)."""
    if report.busy:
        return [t(lang, "reload_busy")]
    lines = [
        t(
            lang,
            "reloaded",
            articles=report.articles,
            added=len(report.added),
            replaced=len(report.replaced),
            removed=len(report.removed),
        )
    ]
    lines += [t(lang, "reload_skipped", file=esc(name[:200]), why=esc(why[:1000])) for name, why in report.skipped]
    return chunk_lines(lines)


def original_messages(quotes: Sequence[Quote], lang: UiLang) -> list[str]:
    """Each quote's original (the matching sentences of its article's translation twin, escaped)
    with the twin's source line, numbered as the quotes were."""
    blocks: list[str] = []
    for n, quote in enumerate(quotes, 1):
        if not quote.aligned:
            continue
        language = (
            t(lang, f"lang_{quote.aligned[0].source.language}")
            if quote.aligned[0].source.language in ("ko", "en", "mixed")
            else esc(quote.aligned[0].source.language)
        )
        head = t(lang, "original_of", n=n, language=language)
        for i, item in enumerate(quote.aligned):
            line = source_line(item.source, lang)
            budget = MAX_MESSAGE - utf16_len(line) - utf16_len(head) - 2

            def render(raw: str) -> str:
                return f"<blockquote>{esc(raw)}</blockquote>"

            parts = [render(c) for c in chunk_text(item.text, render, budget)] or [render(item.text.strip())]
            if i == 0:
                parts[0] = f"{head}\n{parts[0]}"
            parts[-1] = f"{parts[-1]}\n{line}"
            blocks.extend(parts)
    return pack(blocks) if blocks else [t(lang, "no_original")]


def paragraph_messages(text: str, source: Source, lang: UiLang) -> list[str]:
    """The whole paragraph in an expandable blockquote (split if long), then its source."""
    line = source_line(source, lang)

    def render(raw: str) -> str:
        return f"<blockquote expandable>{esc(raw)}</blockquote>"

    chunks = chunk_text(text, render, MAX_MESSAGE - utf16_len(line) - 1)
    blocks = [render(c) for c in chunks] or [render(text.strip())]
    blocks[-1] = f"{blocks[-1]}\n{line}"
    return pack(blocks)


def sources_messages(articles: Sequence[ArticleInfo], lang: UiLang) -> list[str]:
    """The corpus listing, one line per article."""
    if not articles:
        return [t(lang, "sources_empty")]
    lines = [t(lang, "sources_title", count=len(articles))]
    for i, a in enumerate(articles, 1):
        title = esc(a.title or a.id)
        if a.url.startswith(("http://", "https://")):
            title = f'<a href="{esc(a.url)}">{title}</a>'
        extra = [t(lang, "paragraphs", n=a.passages), ", ".join(esc(x) for x in a.languages)]
        if a.source:
            extra.append(esc(a.source))
        if a.date:
            extra.append(esc(a.date))
        lines.append(f"{i}. {title} — " + " · ".join(x for x in extra if x))
    return pack(lines, sep="\n")


def welcome(lang: UiLang, examples: dict[UiLang, str] | None = None) -> str:
    """`examples`: a question per language made from the corpus (`Engine.suggestions`)."""
    return t(lang, "welcome", example_en=esc(example("en", examples)), example_ko=esc(example("ko", examples)))


def help_text(lang: UiLang, bot_username: str) -> str:
    return t(lang, "help", bot=esc(bot_username))


def how_to_ask(lang: UiLang, examples: dict[UiLang, str] | None = None) -> str:
    return t(lang, "how_to_ask", example=esc(example(lang, examples)))


def stats_text(lang: UiLang, served: int, abstained: int, median_ms: float | None, up: int = 0, down: int = 0) -> str:
    """Usage since the state file was made; helpfulness is 👍 over all rated answers."""
    rate = f"{abstained / served:.0%}" if served else "–"
    median = f"{median_ms:.0f} ms" if median_ms is not None else "–"
    helpful = f"{up / (up + down):.0%}" if up + down else "–"
    return t(
        lang,
        "stats",
        served=served,
        abstained=abstained,
        rate=rate,
        median=median,
        helpful=helpful,
        votes=up + down,
        up=up,
        down=down,
    )
