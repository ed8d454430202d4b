"""An answer as styled lines, built from its JSON form (`Answer.to_json()`: what `ask --json`
prints and `/v1/ask` returns), so a local answer and one from a server read the same.

A line is a tuple of (style, text) segments. The style names what a piece *is* (a caveat, a
quote number, a matched word, a source); the plain renderer drops it and the console maps it
to a colour, so both print the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Style = Literal["", "dim", "warn", "number", "hit", "source", "label"]
Segment = tuple[Style, str]
Line = tuple[Segment, ...]
Row = Mapping[str, Any]
Span = tuple[int, int]

LANG_NAMES = {"ko": "Korean", "en": "English", "mixed": "Korean/English"}
# A quote that opens with its own quotation mark is printed as it is: wrapping it in ours would
# double the mark (““Interesting,” Peskov said.”).
OPENING_MARKS = ("“", '"', "‘", "'", "«", "「", "『", "„", "‚")
NO_ORIGINAL = "no original: the last answer's quotes have no translation twin in the corpus"


def shorten(text: str, limit: int) -> str:
    """White space collapsed, and cut with "…" past `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quoted(text: str, spans: Sequence[Span] = ()) -> list[Segment]:
    """The quote in quotation marks (unless it opens with its own), its matched words styled
    `hit`; overlapping or out-of-range spans are dropped."""
    out: list[Segment] = []
    pos = 0
    for start, end in sorted(spans):
        start, end = max(start, 0), min(end, len(text))
        if start < pos or end <= start:
            continue
        out += [("", text[pos:start]), ("hit", text[start:end])]
        pos = end
    out.append(("", text[pos:]))
    if text.startswith(OPENING_MARKS):
        return [s for s in out if s[1]]
    return [s for s in [("", "“"), *out, ("", "”")] if s[1]]


def language_name(code: str) -> str:
    return LANG_NAMES.get(code, code)


def source_text(quote: Row) -> str:
    """`title · paragraph 3 · English · CNBC`."""
    parts = [
        str(quote.get("title", "")),
        f"paragraph {quote.get('paragraph')}",
        language_name(quote.get("language", "")),
    ]
    if quote.get("source"):
        parts.append(str(quote["source"]))
    return " · ".join(parts)


def aligned_text(item: Row) -> str:
    """Where a twin's sentence stands: `title · paragraph 3 · Korean`."""
    title = item.get("title") or item.get("article", "")
    return " · ".join([str(title), f"paragraph {item.get('paragraph')}", language_name(item.get("language", ""))])


def _aligned(item: Row) -> list[Segment]:
    return [("label", "original:"), ("", " "), *quoted(str(item.get("text", ""))), ("", " "),
            ("source", f"— {aligned_text(item)}")]  # fmt: skip


def answer_lines(
    row: Row, highlights: Sequence[Sequence[Span]] | None = None, originals: bool = False, question: bool = False
) -> list[Line]:
    """The answer: the question it followed up on, a refusal or a caveat, then each quote and
    its source. `highlights`: each quote's matched-word spans (a local answer has them; the JSON
    form does not carry them, and plain text does not show them). `originals`: each quote's
    translation-twin sentence(s) under it. `question`: a `Q: …` line first (answers in a batch)."""
    lines: list[Line] = []
    if question:
        lines.append((("", f"Q: {row.get('question', '')}"),))
    if row.get("context"):
        lines.append((("dim", f"following up on: {shorten(str(row['context']), 80)}"),))
    if row.get("unavailable"):  # part of the index out of service (damaged): said before anything else
        lines.append((("warn", str(row["unavailable"])),))
    message = str(row.get("message") or "")
    if not row.get("answered"):
        lines.append((("warn", message),))
        return lines
    if message:  # the unsure caveat (and the other-language note) come before the quotes
        lines.append((("warn" if row.get("verdict") == "unsure" else "dim", message),))
    for i, quote in enumerate(row.get("quotes") or [], start=1):
        spans = highlights[i - 1] if highlights is not None and i - 1 < len(highlights) else ()
        lines.append((("number", f"{i}."), ("", " "), *quoted(str(quote.get("text", "")), spans)))
        lines.append((("", "   "), ("source", f"— {source_text(quote)}")))
        if originals:
            lines.extend((("", "   "), *_aligned(item)) for item in quote.get("aligned") or [])
    return lines


def originals_lines(row: Row | None) -> list[Line]:
    """Each quote's matching sentence(s) in its article's translation twin (`:original`)."""
    quotes = [(i, q) for i, q in enumerate(row.get("quotes") or [], start=1) if q.get("aligned")] if row else []
    if not quotes:
        return [(("dim", NO_ORIGINAL),)]
    lines: list[Line] = []
    for i, quote in quotes:
        for n, item in enumerate(quote["aligned"]):
            lead: Line = (("number", f"{i}."), ("", " ")) if n == 0 else (("", "   "),)
            lines.append((*lead, *_aligned(item)))
    return lines


def plain(lines: Sequence[Line]) -> str:
    """The lines as plain text, one per line, styles dropped."""
    return "".join("".join(text for _, text in line) + "\n" for line in lines)
