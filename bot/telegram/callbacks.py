"""The buttons under an answer: their layout and the callback data they carry (as
python-telegram-bot's rules-bot keeps its callbacks in `components/callbacks.py`).

Callback data is a short `|`-separated string (Telegram allows 64 bytes): `m|lang|key` More,
`p|lang|passage|check` Full paragraph, `o|lang|key[|m]` Original, `f|lang|key|u/d` feedback.
`parse_data` reads back only what these functions wrote; anything else is an expired button."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.telegram.strings import UiLang, t
from retrieval.models import Quote, Source

MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit for inline keyboard callback data


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
