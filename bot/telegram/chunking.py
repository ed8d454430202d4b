"""Long output split into Telegram messages. Text is split at sentence boundaries *before*
it is rendered, so every message is a complete, balanced piece of HTML of at most
`MAX_MESSAGE` UTF-16 units (Telegram's unit)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.telegram.markup import Span, esc, utf16_len

MAX_MESSAGE = 4096  # Telegram's limit for one text message

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


def strip_range(text: str, start: int, end: int) -> Span:
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
        s, e = strip_range(text, start, end)
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
    stripped = [strip_range(text, s, e) for s, e in chunks]
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


def chunk_lines(lines: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Already-escaped lines (each shorter than a message) packed into as few messages as fit."""
    out: list[str] = []
    for line in lines:
        if out and utf16_len(out[-1]) + 1 + utf16_len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def message_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Plain (user or engine) text as escaped HTML messages."""
    return [esc(c) for c in chunk_text(text, esc, limit)] or [esc(text[:limit])]
