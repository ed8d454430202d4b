"""Plain values that cross the boundary between the core and its front ends."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Language = Literal["ko", "en", "mixed"]
Verdict = Literal["answer", "unsure", "abstain"]


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as read from the corpus; paragraphs keep their original text."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    source: str = ""
    url: str = ""
    date: str = ""
    file: str = ""
    author: str = ""
    updated: str = ""  # when a web article was last seen with changed text

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def article_hash(article: Article) -> str:
    """Content identity: same text and citation data means the same article. (Here, beside
    `Article`, because both the corpus reader and the index key articles by it.)"""
    fields: list[object] = [article.title, article.source, article.url, article.date, article.paragraphs]
    if article.author or article.updated:  # only then, so hashes stored before these fields stay valid
        fields += [article.author, article.updated]
    payload = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def text_hash(article: Article) -> str:
    return hashlib.sha1("\n\n".join(article.paragraphs).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Source:
    """Where a quote comes from, enough for a reader to check it."""

    article: str
    title: str
    paragraph: int  # 1-based, as a person counts paragraphs
    language: Language
    source: str = ""
    url: str = ""
    date: str = ""


@dataclass(frozen=True, slots=True)
class Aligned:
    """A quote's counterpart in its translation twin (retrieval/answer/twins.py): the twin's
    sentence(s) the quoted sentence(s) align with, verbatim, with where they stand, so a reader
    can check the original."""

    text: str
    source: Source  # the twin's article and paragraph, and its language
    passage: int  # the twin paragraph's uid (for its "Full paragraph")
    sentences: tuple[int, ...] = ()  # sentence numbers inside that passage, 0-based

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "passage": self.passage,
            "sentences": list(self.sentences),
            "source": _source_dict(self.source),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Aligned:
        return cls(
            text=d["text"], source=Source(**d["source"]), passage=d["passage"], sentences=tuple(d.get("sentences", ()))
        )


def _source_dict(s: Source) -> dict[str, Any]:
    return {"article": s.article, "title": s.title, "paragraph": s.paragraph, "language": s.language,
            "source": s.source, "url": s.url, "date": s.date}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Quote:
    """A run of consecutive sentences copied from one paragraph (whitespace normalized only)."""

    text: str
    source: Source
    score: float
    passage: int  # index-wide passage number, for "show the whole paragraph"
    sentences: tuple[int, ...] = ()  # sentence numbers inside the passage, 0-based
    # Character spans in `text` of words that match the question's terms, for bolding.
    highlights: tuple[tuple[int, int], ...] = ()
    # The matching sentence(s) of the article's translation twin, when it has one (empty
    # without an encoder: then neither codec writes the field, so the JSON is as before).
    aligned: tuple[Aligned, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Every field, exactly (no rounding): `Quote.from_dict` gives the same quote back."""
        out = {
            "text": self.text, "score": self.score, "passage": self.passage, "sentences": list(self.sentences),
            "highlights": [list(h) for h in self.highlights], "source": _source_dict(self.source),
        }  # fmt: skip
        if self.aligned:
            out["aligned"] = [a.to_dict() for a in self.aligned]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quote:
        return cls(
            text=d["text"], source=Source(**d["source"]), score=d["score"], passage=d["passage"],
            sentences=tuple(d.get("sentences", ())), highlights=tuple((a, b) for a, b in d.get("highlights", ())),
            aligned=tuple(Aligned.from_dict(a) for a in d.get("aligned", ())),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation, as a front end keeps it: the question, and the
    article(s) its answer was about. `Engine.ask(question, history=...)` reads the recent ones to
    tell a follow-up ("And what did the Kremlin say?") from a new question."""

    question: str
    articles: tuple[str, ...] = ()
    answered: bool = True
    # Where its first quote ended: the passage uid and the quote's last sentence there (-1:
    # unknown), for "what next?" and for reading a follow-up with the story it points back to.
    passage: int = -1
    sentence: int = -1


@dataclass(frozen=True, slots=True)
class Answer:
    """What the core returns for one question; front ends only render it."""

    question: str
    language: Language
    answered: bool
    quotes: tuple[Quote, ...] = ()
    message: str = ""
    kind: str = "other"  # question type: say, who, when, where, number, other
    terms: tuple[str, ...] = ()  # surface forms of the question's content words, for highlighting
    more: tuple[Quote, ...] = field(default=(), repr=False)  # further quotes, for a "More" button
    elapsed_ms: float = 0.0
    cross_language: bool = False  # quotes are in another language than the question
    # Chance that the first quote's passage answers the question (retrieval/answer/confidence.py), and
    # what it makes of the answer: `answer` (confident), `unsure` (quoted with a caveat: the
    # closest passage, which may not answer exactly), `abstain` (nothing quoted).
    confidence: float = 0.0
    verdict: Verdict = "abstain"
    # The earlier question this one was read as following up on ("" when it stood alone).
    context: str = ""
    # Per-question evidence (shares and ratios that mean the same on any corpus), for confidence.
    signals: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    # Set when part of the index was out of service (damaged) while answering: what is missing
    # and how to mend it. Empty otherwise, and then absent from both JSON forms.
    unavailable: str = ""

    # Two JSON forms: `to_dict`/`from_dict` is the exact one (the bot keeps answers in it for
    # its buttons; unchanged since the first bot state, so stored rows still read); `to_json`
    # is the public view `quoteqa ask --json` prints (rounded, flat sources).
    def to_dict(self) -> dict[str, Any]:
        """Every field a front end needs later (not the signals), exactly."""
        return {
            "question": self.question, "language": self.language, "answered": self.answered,
            "quotes": [q.to_dict() for q in self.quotes], "more": [q.to_dict() for q in self.more],
            "message": self.message, "kind": self.kind, "terms": list(self.terms),
            "cross_language": self.cross_language, "confidence": self.confidence, "verdict": self.verdict,
            "context": self.context, "elapsed_ms": self.elapsed_ms,
        } | ({"unavailable": self.unavailable} if self.unavailable else {})  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Answer:
        return cls(
            question=d["question"], language=d["language"], answered=d["answered"],
            quotes=tuple(Quote.from_dict(q) for q in d["quotes"]), more=tuple(Quote.from_dict(q) for q in d["more"]),
            message=d["message"], kind=d["kind"], terms=tuple(d["terms"]), cross_language=d["cross_language"],
            confidence=d["confidence"], verdict=d["verdict"], context=d.get("context", ""),
            elapsed_ms=d.get("elapsed_ms", 0.0), unavailable=d.get("unavailable", ""),
        )  # fmt: skip

    def to_json(self) -> dict[str, object]:
        """The public view (`quoteqa ask --json`): rounded numbers, each quote's source flattened."""
        return {
            "answered": self.answered,
            "verdict": self.verdict,
            "confidence": round(self.confidence, 3),
            "question": self.question,
            "language": self.language,
            "kind": self.kind,
            "quotes": [quote_json(q) for q in self.quotes],
            "message": self.message,
            "cross_language": self.cross_language,
            "context": self.context,
            "elapsed_ms": round(self.elapsed_ms, 2),
        } | ({"unavailable": self.unavailable} if self.unavailable else {})

    def turn(self) -> Turn:
        """This exchange as history for the next question of the conversation: the article of
        its first quote is what the conversation is about (later quotes may be from anywhere)."""
        if not self.quotes:
            return Turn(self.question, (), self.answered)
        first = self.quotes[0]
        return Turn(
            self.question, (first.source.article,), self.answered, first.passage, max(first.sentences, default=-1)
        )


def quote_json(q: Quote) -> dict[str, object]:
    out: dict[str, object] = {
        "text": q.text,
        "article": q.source.article,
        "title": q.source.title,
        "paragraph": q.source.paragraph,
        "language": q.source.language,
        "source": q.source.source,
        "url": q.source.url,
        "date": q.source.date,
        "score": round(q.score, 4),
        "passage": q.passage,
    }
    if q.aligned:  # only when the article has a translation twin: without one the view is as before
        out["aligned"] = [aligned_json(a) for a in q.aligned]
    return out


def aligned_json(a: Aligned) -> dict[str, object]:
    s = a.source
    return {
        "text": a.text, "language": s.language, "article": s.article, "title": s.title, "paragraph": s.paragraph,
        "source": s.source, "url": s.url, "date": s.date, "passage": a.passage,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    """A corpus listing row: what `sources` shows."""

    id: str
    title: str
    source: str
    passages: int
    languages: tuple[str, ...]
    url: str = ""
    date: str = ""
