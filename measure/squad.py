"""The one SQuAD-format reader (data → paragraphs → context, qas → question, answers).

Both the bench (text and questions to synthesise a corpus from) and the quality evaluation
(passages with gold answers) read these files; malformed ones become one `QuoteQAError` line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import QuoteQAError


@dataclass(frozen=True, slots=True)
class SquadQA:
    id: str | None  # None when the file gives none
    question: str
    answers: tuple[str, ...]  # answer texts as written (may repeat, may be blank)
    impossible: bool  # SQuAD 2.0 `is_impossible`


@dataclass(frozen=True, slots=True)
class SquadParagraph:
    context: str
    qas: tuple[SquadQA, ...]


@dataclass(frozen=True, slots=True)
class SquadArticle:
    title: str  # underscores read as spaces; "" when the file has none
    paragraphs: tuple[SquadParagraph, ...]


def read_squad(path: Path) -> list[SquadArticle]:
    """Every article of a SQuAD-format JSON file, in file order (empty articles kept, so positions match the file)."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise QuoteQAError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise QuoteQAError(f"{path}: not a readable SQuAD JSON file ({exc})") from exc
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, list):
        raise QuoteQAError(f"{path}: expected a SQuAD file with a top-level 'data' list")
    try:
        return [_article(art) for art in data]
    except KeyError as exc:
        raise QuoteQAError(f"{path}: not SQuAD format (missing {exc})") from exc
    except (TypeError, AttributeError) as exc:
        raise QuoteQAError(f"{path}: not SQuAD format ({exc})") from exc


def _article(art: dict[str, Any]) -> SquadArticle:
    title = str(art.get("title") or "").replace("_", " ")
    paragraphs = tuple(
        SquadParagraph(_text(para["context"], "context"), tuple(_qa(qa) for qa in para.get("qas", ())))
        for para in art["paragraphs"]
    )
    return SquadArticle(title, paragraphs)


def _qa(qa: dict[str, Any]) -> SquadQA:
    return SquadQA(
        id=str(qa["id"]) if "id" in qa else None,
        question=_text(qa["question"], "question"),
        answers=tuple(_text(x["text"], "answer text") for x in qa.get("answers", ())),
        impossible=bool(qa.get("is_impossible")),
    )


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value
