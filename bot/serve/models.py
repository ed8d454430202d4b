"""The wire models: what the API takes and gives, as the OpenAPI document shows them.

Requests are strict (an unknown field is an error, so a misspelt one is never ignored);
answers are open (`_Open`): fields may be added and a client must ignore what it does not know.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ARTICLE_ID = r"^[\w.\-]{1,200}$"  # the corpus's own rule for ids (retrieval.corpus.ID_OK)
MAX_URLS = 100
_OK = "[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]"
QUESTION_PATTERN = f"^{_OK}*[^\\s\\u0000-\\u001f\\u007f-\\u009f]{_OK}*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnIn(_Strict):
    """One earlier exchange of the conversation: its question and the article(s) its answer
    quoted first (`quotes[0].article` of that answer), oldest turn first. With that quote's
    `passage` and `text` too, a follow-up can lean on where the quote stood ("What next?", "What
    did the spokesperson say?" about the same story), as in the console and the bot."""

    question: str = Field(max_length=4000)
    articles: list[str] = Field(default_factory=list, max_length=10)
    answered: bool = True
    passage: int = Field(default=-1, ge=-1, description="`quotes[0].passage` of that answer")
    quote: str = Field(default="", max_length=4000, description="`quotes[0].text` of that answer")


class AskIn(_Strict):
    question: str = Field(description="the question (Korean or English); control characters are refused")
    history: list[TurnIn] = Field(
        default_factory=list, max_length=100, description="the conversation's earlier turns, oldest first"
    )
    max_quotes: int | None = Field(default=None, ge=1, le=10, description="quotes at most (default QUOTEQA_MAX_QUOTES)")
    language: Literal["ko", "en"] | None = Field(
        default=None, description="the asker's interface language: the server's own error messages use it"
    )


class _Open(BaseModel):
    """Fields may be added (issue 19's `aligned`, say): a client must ignore what it does not know."""

    model_config = ConfigDict(extra="allow")


class AlignedOut(_Open):
    text: str = ""
    language: str = ""
    article: str = ""
    paragraph: int = 0


class QuoteOut(_Open):
    text: str
    article: str
    title: str
    paragraph: int
    language: str
    source: str
    url: str
    date: str
    score: float
    passage: int
    aligned: list[AlignedOut] | AlignedOut | str | None = Field(
        default=None, description="the translation twin's matching sentence(s), when the article has one"
    )


class AnswerOut(_Open):
    """Exactly what `quoteqa ask --json` prints."""

    answered: bool
    verdict: Literal["answer", "unsure", "abstain"]
    confidence: float
    question: str
    language: str
    kind: str
    quotes: list[QuoteOut]
    message: str
    cross_language: bool
    context: str
    elapsed_ms: float


class SourceOut(BaseModel):
    """One row of `quoteqa sources --json`."""

    id: str
    title: str
    source: str
    passages: int
    languages: list[str]
    url: str
    date: str


class ArticleOut(BaseModel):
    """What `quoteqa show --json` prints."""

    id: str
    title: str
    url: str
    date: str
    author: str
    source: str
    updated: str
    file: str
    paragraphs: list[str]


class IngestIn(_Strict):
    urls: list[str] = Field(min_length=1, max_length=MAX_URLS, description="web pages to fetch and index")


class FailedOut(BaseModel):
    source: str
    reason: str


class IngestOut(BaseModel):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    failed: list[FailedOut]
    articles: int
    passages: int
    commit: int


class RemovedOut(BaseModel):
    removed: str
    articles: int
    passages: int
    commit: int


class HealthOut(BaseModel):
    status: Literal["ok"]
    index_open: bool
    commit: int
    passages: int
    articles: int


class ErrorOut(BaseModel):
    code: str = Field(description="stable, machine-readable: what went wrong")
    message: str = Field(description="for a person: what went wrong and what to do")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's documented errors: each status answers with `ErrorOut`."""
    return {code: {"model": ErrorOut} for code in codes}
