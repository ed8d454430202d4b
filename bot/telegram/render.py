"""Answer values → Telegram HTML, kept pure so it can be tested without a bot.

Everything that reaches Telegram goes through `esc` (or `highlight`, which escapes the
pieces around the bold terms), so corpus or user text can never be read as markup. Long
output is split at sentence boundaries *before* it is rendered, so every message is a
complete, balanced piece of HTML of at most `MAX_MESSAGE` UTF-16 units (Telegram's unit).
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from retrieval.engine import SyncReport
from retrieval.models import Answer, ArticleInfo, Quote, Source
from retrieval.text.analyze import HANGUL

UiLang = Literal["ko", "en"]

MAX_MESSAGE = 4096  # Telegram's limit for one text message
MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit for inline keyboard callback data
MAX_INLINE_DESCRIPTION = 200

STRINGS: dict[UiLang, dict[str, str]] = {
    "en": {
        "welcome": (
            "<b>Hello!</b> I answer questions about the news articles I have read, "
            "with the exact sentences from the articles and where they come from.\n\n"
            "Try: <code>{example_en}</code>\n\n"
            "<b>안녕하세요!</b> 기사에 대해 질문하시면 기사 원문 문장과 출처로 답해 드립니다.\n"
            "예: <code>{example_ko}</code>\n\n"
            "/help — how to ask · /sources — the articles"
        ),
        "help": (
            "<b>How to ask</b>\n"
            "• In a private chat, just send a question.\n"
            "• In a group: <code>/ask your question</code>, mention me, or reply to my message.\n"
            "• In any chat: type <code>@{bot} your question</code> (inline mode).\n\n"
            "Ask a follow-up (<i>And what did they say?</i>) and I read it with your last questions; "
            "reply to one of my answers to follow up on that one. /new starts a new conversation.\n\n"
            "/sources lists the articles I can quote. "
            "Every answer is copied word for word from an article."
        ),
        "how_to_ask": "Please add a question, e.g. <code>/ask {example}</code>",
        "example": "What did the minister say?",  # only while the corpus is empty
        "sources_title": "<b>Articles I can quote</b> ({count})",
        "sources_empty": "I have no articles yet.",
        "paragraphs": "{n} paragraphs",
        "paragraph": "¶ {n}",
        "more": "More ▸",
        "paragraph_button": "Full paragraph",
        "paragraph_button_n": "Full paragraph of quote {n}",
        "original_button": "Original / 원문",
        "original_of": "<b>Original of quote {n}</b> ({language}):",
        "no_original": "These quotes have no original in the corpus.",
        "helpful": "👍",
        "unhelpful": "👎",
        "thanks": "Thanks — your feedback was saved.",
        "following_up": "<i>following up on: {question}</i>",
        "new_conversation": "Starting a new conversation: your next question stands on its own.",
        "inline_how_to_ask": "No quote found · how to ask",
        "inline_refused": "Not available here · ask in your group with /ask",
        "cross_language": "<i>(These sentences are in another language than your question.)</i>",
        "unsure": "<i>Closest passage — it may not answer exactly.</i>",
        "expired": "This button is from an older answer. Please ask the question again.",
        "no_more": "There are no more quotes for this question.",
        "apology": "Sorry, something went wrong on my side. Please try again in a moment.",
        "refusal": "Sorry, this bot is not available in this chat.",
        "admins_only": "This command is for the bot's administrators.",
        "reloaded": "Reloaded the corpus: {articles} articles ({added} added, {replaced} updated, {removed} removed).",
        "reload_skipped": "Skipped {file}: {why}",
        "reload_busy": "Another writer (an ingest or a reindex) is updating the index; the last good version keeps answering. Try /reload again when it is done.",
        "stats": (
            "<b>Usage</b>\nQuestions served: {served}\n"
            "Abstentions: {abstained} ({rate})\nMedian latency: {median}\n"
            "Helpful: {helpful} ({votes} rated: {up} 👍, {down} 👎)"
        ),
        "inline_help_title": "Ask about the news",
        "inline_help_text": "Type a question after my name, e.g. @{bot} {example}",
        "inline_no_answer": "No quote found",
        "lang_ko": "Korean",
        "lang_en": "English",
        "lang_mixed": "Korean/English",
    },
    "ko": {
        "welcome": (
            "<b>안녕하세요!</b> 제가 읽은 뉴스 기사에 대해 질문하시면 "
            "기사 원문 문장과 출처로 답해 드립니다.\n\n"
            "예: <code>{example_ko}</code>\n\n"
            "<b>Hello!</b> Ask me about the news articles; I answer with their exact sentences.\n"
            "Try: <code>{example_en}</code>\n\n"
            "/help — 질문하는 법 · /sources — 기사 목록"
        ),
        "help": (
            "<b>질문하는 법</b>\n"
            "• 개인 대화에서는 질문을 그대로 보내세요.\n"
            "• 그룹에서는 <code>/ask 질문</code>, 저를 언급하거나 제 메시지에 답장하세요.\n"
            "• 어느 대화에서나 <code>@{bot} 질문</code> 을 입력하세요 (인라인 모드).\n\n"
            "이어지는 질문(<i>그럼 그들은 뭐라고 했나요?</i>)은 최근 질문과 함께 읽습니다. "
            "제 답변에 답장하면 그 답변에 이어서 묻는 것이 됩니다. /new 로 새 대화를 시작합니다.\n\n"
            "/sources 로 인용할 수 있는 기사를 볼 수 있습니다. "
            "모든 답은 기사 문장을 그대로 옮긴 것입니다."
        ),
        "how_to_ask": "질문을 함께 적어 주세요. 예: <code>/ask {example}</code>",
        "example": "장관은 뭐라고 했나요?",  # 기사가 아직 없을 때만
        "sources_title": "<b>인용할 수 있는 기사</b> ({count})",
        "sources_empty": "아직 읽은 기사가 없습니다.",
        "paragraphs": "{n}개 문단",
        "paragraph": "{n}번째 문단",
        "more": "더 보기 ▸",
        "paragraph_button": "문단 전체",
        "paragraph_button_n": "{n}번 인용의 전체 문단",
        "original_button": "원문 / Original",
        "original_of": "<b>{n}번 인용의 원문</b> ({language}):",
        "no_original": "이 인용문들의 원문은 코퍼스에 없습니다.",
        "helpful": "👍",
        "unhelpful": "👎",
        "thanks": "감사합니다 — 의견을 저장했습니다.",
        "following_up": "<i>이전 질문에 이어서: {question}</i>",
        "new_conversation": "새 대화를 시작합니다. 다음 질문은 앞의 질문과 상관없이 답합니다.",
        "inline_how_to_ask": "인용할 문장 없음 · 질문하는 법",
        "inline_refused": "여기서는 쓸 수 없습니다 · 그룹에서 /ask 로 질문하세요",
        "cross_language": "<i>(질문과 다른 언어의 문장입니다.)</i>",
        "unsure": "<i>가장 가까운 문단입니다 — 정확한 답이 아닐 수 있습니다.</i>",
        "expired": "이전 답변의 버튼입니다. 질문을 다시 보내 주세요.",
        "no_more": "이 질문에 대한 인용문이 더 없습니다.",
        "apology": "죄송합니다. 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.",
        "refusal": "죄송합니다. 이 대화에서는 이 봇을 사용할 수 없습니다.",
        "admins_only": "관리자만 사용할 수 있는 명령입니다.",
        "reloaded": "기사를 다시 읽었습니다: {articles}개 (추가 {added}, 갱신 {replaced}, 삭제 {removed}).",
        "reload_skipped": "{file} 파일을 건너뛰었습니다: {why}",
        "reload_busy": "다른 작업(기사 추가나 재색인)이 색인을 갱신하는 중입니다. 마지막으로 완성된 색인이 계속 답합니다. 끝난 뒤 /reload 를 다시 보내 주세요.",
        "stats": (
            "<b>사용 현황</b>\n답한 질문: {served}\n"
            "답하지 못한 질문: {abstained} ({rate})\n응답 시간 중앙값: {median}\n"
            "도움이 됨: {helpful} (평가 {votes}건: 👍 {up}, 👎 {down})"
        ),
        "inline_help_title": "뉴스에 대해 질문하기",
        "inline_help_text": "제 이름 뒤에 질문을 입력하세요. 예: @{bot} {example}",
        "inline_no_answer": "인용할 문장을 찾지 못했습니다",
        "lang_ko": "한국어",
        "lang_en": "영어",
        "lang_mixed": "한국어/영어",
    },
}

# The commands shown in Telegram's menu, per scope; descriptions per interface language.
PRIVATE_COMMANDS: dict[UiLang, list[tuple[str, str]]] = {
    "en": [
        ("ask", "Ask a question about the news"),
        ("sources", "List the articles"),
        ("new", "Start a new conversation"),
        ("help", "How to ask"),
        ("start", "Welcome"),
    ],
    "ko": [
        ("ask", "뉴스에 대해 질문하기"),
        ("sources", "기사 목록"),
        ("new", "새 대화 시작"),
        ("help", "질문하는 법"),
        ("start", "시작"),
    ],
}
GROUP_COMMANDS: dict[UiLang, list[tuple[str, str]]] = {
    lang: [c for c in cmds if c[0] != "start"] for lang, cmds in PRIVATE_COMMANDS.items()
}


def t(lang: UiLang, key: str, **values: object) -> str:
    """One interface string; `values` are inserted as given (escape user text first)."""
    text = STRINGS[lang][key]
    return text.format(**values) if values else text


def ui_language(question_language: str | None, user_language_code: str | None) -> UiLang:
    """The question's language wins; for mixed or unknown text, the user's Telegram locale."""
    if question_language in ("ko", "en"):
        return question_language  # type: ignore[return-value]
    if user_language_code and user_language_code.lower().startswith("ko"):
        return "ko"
    return "en"


# --------------------------------------------------------------------------- escaping


def esc(text: str) -> str:
    """Escape text for Telegram HTML (`<`, `>`, `&`, quotes) — the only way text gets in."""
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    """Telegram measures lengths in UTF-16 code units (an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _term_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for all terms, longest first so `Musk's` wins over `Musk`.

    Latin terms match at a word start and extend to the end of the word (question `invite`
    bolds `invited`); Korean terms match anywhere, since particles attach to the word.
    """
    parts: list[str] = []
    for term in sorted({x.strip() for x in terms if x and x.strip()}, key=len, reverse=True):
        if HANGUL.search(term):
            parts.append(re.escape(term))
        elif len(term) >= 2:
            parts.append(rf"(?<!\w){re.escape(term)}\w*")
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)


Span = tuple[int, int]


def term_spans(text: str, terms: Sequence[str]) -> list[Span]:
    """Where the question's terms occur in `text` (used when the core gives no spans)."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(text) if m.end() > m.start()]


def highlight(text: str, terms: Sequence[str] = (), spans: Sequence[Span] | None = None) -> str:
    """Escape `text` and bold the given character spans (or, without spans, the terms).

    Spans are applied to the raw text and every piece is escaped on its own, so a bold tag
    can never land inside an entity such as `&amp;`, and a term like `amp` cannot match
    markup. Overlapping or out-of-range spans are dropped, so any input gives valid HTML.
    """
    if spans is None:
        spans = term_spans(text, terms)
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        start, end = max(start, 0), min(end, len(text))
        if start < pos or end <= start:
            continue
        out.append(esc(text[pos:start]))
        out.append(f"<b>{esc(text[start:end])}</b>")
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def _spans_within(spans: Sequence[Span], start: int, end: int) -> list[Span]:
    """The spans inside text[start:end], shifted to that slice (cut at its edges)."""
    return [(max(s, start) - start, min(e, end) - start) for s, e in spans if e > start and s < end]


# --------------------------------------------------------------------------- splitting

_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])[\"'”’)\]]*\s+|\n+")


def _sentence_ranges(text: str) -> list[Span]:
    ranges: list[Span] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > pos:
            ranges.append((pos, m.end()))
            pos = m.end()
    if pos < len(text):
        ranges.append((pos, len(text)))
    return ranges


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_ranges(text: str, render: Callable[[int, int], str], limit: int) -> list[Span]:
    """Cut `text` into ranges of whole sentences so `render(start, end)` fits `limit` each.

    `render` wraps a range into complete HTML (escaping included), so every chunk is
    balanced by construction. A sentence longer than a message is cut at spaces, and a
    "word" longer than a message at characters — still before escaping, so never inside an
    entity.
    """

    def fits(start: int, end: int) -> bool:
        s, e = _strip(text, start, end)
        return utf16_len(render(s, e)) <= limit

    pieces: list[Span] = []
    for s, e in _sentence_ranges(text):
        if fits(s, e):
            pieces.append((s, e))
            continue
        for w in re.finditer(r"\S+\s*", text[s:e]):  # too long: words
            ws, we = s + w.start(), s + w.end()
            if fits(ws, we):
                pieces.append((ws, we))
            else:
                pieces.extend((i, i + 1) for i in range(ws, we))  # surrogates are rare here

    chunks: list[Span] = []
    cur: Span | None = None
    for s, e in pieces:
        if cur is not None and fits(cur[0], e):
            cur = (cur[0], e)
            continue
        if cur is not None:
            chunks.append(cur)
        cur = (s, e)
    if cur is not None:
        chunks.append(cur)
    stripped = [_strip(text, s, e) for s, e in chunks]
    return [(s, e) for s, e in stripped if e > s]


def chunk_text(text: str, render: Callable[[str], str], limit: int) -> list[str]:
    """`chunk_ranges` for renderers that only need the raw chunk."""
    return [text[s:e] for s, e in chunk_ranges(text, lambda s, e: render(text[s:e]), limit)]


def pack(blocks: Sequence[str], limit: int = MAX_MESSAGE, sep: str = "\n\n") -> list[str]:
    """Put whole HTML blocks into as few messages as fit; each block must fit on its own."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}{sep}{block}" if current else block
        if utf16_len(candidate) <= limit:
            current = candidate
        else:
            if current:
                messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


# --------------------------------------------------------------------------- answers


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
        return f"<blockquote>{highlight(text[start:end], spans=_spans_within(spans, start, end))}</blockquote>"

    ranges = chunk_ranges(text, render, limit - utf16_len(line) - 1) or [_strip(text, 0, len(text))]
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
    return out


def following_up(question: str, lang: UiLang) -> str:
    """The short, escaped line that says which earlier question an answer was read with."""
    return t(lang, "following_up", question=esc(shorten(question, 80)))


def message_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Plain (user or engine) text as escaped HTML messages."""
    return [esc(c) for c in chunk_text(text, esc, limit)] or [esc(text[:limit])]


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


def chunk_lines(lines: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Already-escaped lines (each shorter than a message) packed into as few messages as fit."""
    out: list[str] = []
    for line in lines:
        if out and utf16_len(out[-1]) + 1 + utf16_len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


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
    return t(lang, "welcome", example_en=esc(_example("en", examples)), example_ko=esc(_example("ko", examples)))


def help_text(lang: UiLang, bot_username: str) -> str:
    return t(lang, "help", bot=esc(bot_username))


def how_to_ask(lang: UiLang, examples: dict[UiLang, str] | None = None) -> str:
    return t(lang, "how_to_ask", example=esc(_example(lang, examples)))


def _example(lang: UiLang, examples: dict[UiLang, str] | None) -> str:
    return (examples or {}).get(lang) or STRINGS[lang]["example"]


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


# --------------------------------------------------------------------------- buttons


@dataclass(frozen=True, slots=True)
class Button:
    """A keyboard button as plain data; the Telegram layer turns it into InlineKeyboardButton."""

    text: str
    data: str


def _check(source: Source) -> str:
    """Short fingerprint of (article, paragraph): a button pressed after a reload or restart
    must not show a different paragraph that happens to have the same passage number."""
    value = zlib.crc32(f"{source.article}\x1f{source.paragraph}".encode())
    return _b36(value)


def _b36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, r = divmod(value, 36)
        out = digits[r] + out
        if not value:
            return out


def more_data(lang: UiLang, key: str) -> str:
    return _fit(f"m|{lang}|{key}")


def feedback_data(lang: UiLang, key: str, helpful: bool) -> str:
    return _fit(f"f|{lang}|{key}|{'u' if helpful else 'd'}")


def original_data(lang: UiLang, key: str, more: bool = False) -> str:
    """The "Original / 원문" button of an answer's quotes (or of its "more" quotes)."""
    return _fit(f"o|{lang}|{key}" + ("|m" if more else ""))


def paragraph_data(lang: UiLang, quote: Quote) -> str:
    return _fit(f"p|{lang}|{quote.passage}|{_check(quote.source)}")


def _fit(data: str) -> str:
    if len(data.encode()) > MAX_CALLBACK_DATA:
        raise ValueError(f"callback data too long: {len(data.encode())} bytes")
    return data


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """Decoded callback data."""

    action: Literal["more", "paragraph", "feedback", "original"]
    lang: UiLang
    key: str = ""
    passage: int = -1
    check: str = ""
    helpful: bool = False
    more: bool = False  # "original": of the answer's further quotes

    def matches(self, source: Source) -> bool:
        return self.check == _check(source)


def parse_data(data: str | None) -> ButtonPress | None:
    """Decode what `more_data`/`paragraph_data` made; anything else (old formats) → None."""
    if not data:
        return None
    parts = data.split("|")
    if len(parts) < 3 or parts[1] not in ("ko", "en"):
        return None
    lang: UiLang = parts[1]  # type: ignore[assignment]
    if parts[0] == "o" and (len(parts) == 3 or (len(parts) == 4 and parts[3] == "m")):
        return ButtonPress("original", lang, key=parts[2], more=len(parts) == 4)
    if parts[0] == "m" and len(parts) == 3:
        return ButtonPress("more", lang, key=parts[2])
    if parts[0] == "f" and len(parts) == 4 and parts[3] in ("u", "d"):
        return ButtonPress("feedback", lang, key=parts[2], helpful=parts[3] == "u")
    if parts[0] == "p" and len(parts) == 4 and parts[2].isdigit():
        return ButtonPress("paragraph", lang, passage=int(parts[2]), check=parts[3])
    return None


def answer_buttons(
    quotes: Sequence[Quote], lang: UiLang, more_key: str | None, feedback_key: str | None = None,
    original_key: str | None = None, more: bool = False,
) -> list[list[Button]]:  # fmt: skip
    """Rows: [More] when there are further quotes, one "Full paragraph of quote n" per quote
    (labelled by quote, since the source lines beside them name paragraph numbers), [Original /
    원문] when a quote has a translation twin (`original_key`: the stored answer; `more`: these
    are its further quotes), then [👍 | 👎] when the answer can be rated."""
    rows: list[list[Button]] = []
    if more_key:
        rows.append([Button(t(lang, "more"), more_data(lang, more_key))])
    if len(quotes) == 1:
        rows.append([Button(t(lang, "paragraph_button"), paragraph_data(lang, quotes[0]))])
    else:
        rows.extend(
            [Button(t(lang, "paragraph_button_n", n=i), paragraph_data(lang, q))] for i, q in enumerate(quotes, 1)
        )
    if original_key and any(q.aligned for q in quotes):
        rows.append([Button(t(lang, "original_button"), original_data(lang, original_key, more))])
    if feedback_key:
        rows.append(
            [
                Button(t(lang, "helpful"), feedback_data(lang, feedback_key, True)),
                Button(t(lang, "unhelpful"), feedback_data(lang, feedback_key, False)),
            ]
        )
    return rows


# --------------------------------------------------------------------------- inline mode


@dataclass(frozen=True, slots=True)
class InlineResult:
    """One inline article result: what the picker shows and the HTML it sends."""

    id: str
    title: str
    description: str
    html: str


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
    text = t(lang, "inline_help_text", bot=bot_username, example=_example(lang, examples))
    return InlineResult("help", t(lang, "inline_help_title"), text, esc(text) + "\n\n" + help_text(lang, bot_username))
