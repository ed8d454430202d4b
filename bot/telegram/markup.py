"""Text into Telegram HTML: everything that reaches Telegram goes through `esc` (or `highlight`,
which escapes the pieces around the bold terms), so corpus or user text can never be read as
markup. Lengths are Telegram's: UTF-16 code units."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from retrieval.text.analyze import HANGUL

Span = tuple[int, int]


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


def spans_within(spans: Sequence[Span], start: int, end: int) -> list[Span]:
    """The spans inside text[start:end], shifted to that slice (cut at its edges)."""
    return [(max(s, start) - start, min(e, end) - start) for s, e in spans if e > start and s < end]
