"""HTML character references left in plain text (`&#8212;`, `&amp;`, `&quot;`), decoded.

A news article pasted from a web page, a wire feed saved as .txt or a JSONL export often carries
entities that a browser would have shown decoded. A reader expects "—", not "&#8212;", and a
quote must be what the reader sees, so the corpus reader decodes them before paragraphs are
split, and the quote is cut from the decoded text.

Only complete references (`&…;`, with the semicolon) are decoded: `html.unescape` alone also reads
legacy forms without one ("&copy 2020", "R&D&not" would lose letters), which plain text holds
as ordinary ampersands far more often than as entities. One layer only: `&amp;#8212;` reads as
`&#8212;`, as a browser shows it.
"""

from __future__ import annotations

import html
import re

ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def decode_entities(text: str) -> str:
    """`text` with every complete HTML character reference decoded (unknown names kept)."""
    if "&" not in text:
        return text
    return ENTITY.sub(_decode, text)


def _decode(m: re.Match[str]) -> str:
    ref = m.group()
    out = html.unescape(ref)
    if out == ref or out.endswith(";") and len(out) > 1:
        return ref  # an unknown name ("&foo;"), or a legacy prefix read as one ("&notit;" -> "¬it;")
    return out
