"""Judging the news answers, and the figures read from the judged rows.

A quote is gold when it comes from the question's story (the article of the language that story
is indexed in) and its text is a gold line of that language, or is contained in one, or contains
one, whitespace folded and HTML entities decoded (8 English lines hold `&ntilde;`, `&quot;`…; the
corpus reader shows them decoded, retrieval/corpus/entities.py). hit@1 reads the first quote, hit@3 the first three; an abstention quotes
nothing and is a miss.

Calibration (ECE, 10 equal-width bins of the predicted chance, weighted by rows):

* `ece_verdict`: the definition the figures are asked for. The shown `confidence` is read as the
  chance that the verdict shown is right: `answer`/`unsure` are right iff the first quote is
  gold; `abstain` is right iff the question is off-topic or the first quote the answer path would
  have given was not gold (`would_hit`, from a probe without verdicts; when it quoted nothing,
  an abstention is right).
* `ece_abstain_flipped`: the same, but an abstention's chance of being right read as
  1 - confidence: the reading that matched the engine before the calibration round, when the
  shown confidence was, for every verdict, the model's chance that the first quote is right.
  Since then an abstention shows the chance that refusing is right (`confidence.shown`), and
  `ece_verdict` is the figure to quote.
* `ece_answered`: confidence against hit@1 over answered rows (`answer` and `unsure`) only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from retrieval.corpus.entities import decode_entities
from retrieval.text.analyze import normalize_space

from .data import NewsSet, parse_article_id

BINS = 10
VERDICTS = ("answer", "unsure", "abstain")


@dataclass(frozen=True, slots=True)
class Row:
    """One question, in one language, asked of one pool."""

    id: str
    question: str
    lang: str  # the question's language
    pool: str
    story: int | None  # None: off-topic
    kind: str
    half: str
    indexed: str | None  # the language the question's story is indexed in, in this pool
    gold: tuple[int, ...]  # gold lines in `indexed`
    verdict: str
    confidence: float
    cross_language: bool  # the answer's own flag: its quotes are in the other language
    first_quote: str
    first_article: str
    first_line: int | None  # the dev-file line the first quote was taken from
    hit1: bool
    hit3: bool
    would_quote: str = ""  # an abstention's would-be first quote (probe without verdicts)
    would_hit: bool | None = None  # ...and whether it was gold (None: not an abstention)
    signals: dict[str, float] = field(default_factory=dict)
    elapsed_ms: float = 0.0

    @property
    def answerable(self) -> bool:
        return self.story is not None

    @property
    def cross(self) -> bool:
        """Asked across languages: the story is indexed in the other language (by the gold, not
        by the answer's own flag)."""
        return self.indexed is not None and self.indexed != self.lang

    @property
    def direction(self) -> str:
        return f"{self.lang}>{self.indexed}" if self.indexed else f"{self.lang}>off"

    def verdict_right(self) -> bool:
        if self.verdict != "abstain":
            return self.hit1
        if not self.answerable:
            return True
        return not self.would_hit

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["gold"] = list(self.gold)
        out["answerable"] = self.answerable
        out["cross"] = self.cross
        out["confidence"] = round(self.confidence, 6)
        out["elapsed_ms"] = round(self.elapsed_ms, 2)
        return out


def is_gold(
    quote: str, article: str, story: int | None, indexed: str | None, gold: Iterable[int], news: NewsSet
) -> bool:
    """The quote is from the question's story, in its indexed language, and is (or is inside,
    or holds) one of the gold lines."""
    if story is None or indexed is None:
        return False
    where = parse_article_id(article)
    if where != (story, indexed):
        return False
    q = normalize_space(quote)
    if not q:
        return False
    for n in gold:
        line = normalize_space(decode_entities(news.lines[indexed][n]))  # as the corpus reader shows it
        if q == line or q in line or line in q:
            return True
    return False


def line_of(article: str, paragraph: int, news: NewsSet) -> int | None:
    """The dev-file line a quote's 1-based paragraph number stands for (one paragraph a line)."""
    where = parse_article_id(article)
    if where is None:
        return None
    lines = news.stories.get(where[0], ())
    return lines[paragraph - 1] if 1 <= paragraph <= len(lines) else None


# --- figures ------------------------------------------------------------------------------------
def ece(probs: Sequence[float], right: Sequence[bool], bins: int = BINS) -> float | None:
    """Expected calibration error: per equal-width bin of the predicted chance, |mean chance -
    share right|, weighted by the bin's share of rows (1.0 falls in the last bin)."""
    p = np.asarray(probs, np.float64)
    y = np.asarray(right, np.float64)
    if not len(p):
        return None
    idx = np.minimum((np.clip(p, 0.0, 1.0) * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(total)


def _share(rows: Sequence[Row], test) -> float | None:  # type: ignore[no-untyped-def]
    return sum(1 for r in rows if test(r)) / len(rows) if rows else None


def answerable_figures(rows: Sequence[Row]) -> dict[str, float | int | None]:
    """hit@1 (kept: quoted and gold), hit@3, sure-but-wrong (`answer` and not gold), refused
    (`abstain`), unsure share, over answerable rows."""
    return {
        "n": len(rows),
        "hit@1": _share(rows, lambda r: r.hit1),
        "hit@3": _share(rows, lambda r: r.hit3),
        "sure_wrong": _share(rows, lambda r: r.verdict == "answer" and not r.hit1),
        "refused": _share(rows, lambda r: r.verdict == "abstain"),
        "unsure": _share(rows, lambda r: r.verdict == "unsure"),
    }


def offtopic_figures(rows: Sequence[Row]) -> dict[str, float | int | None]:
    return {
        "n": len(rows),
        "refused": _share(rows, lambda r: r.verdict == "abstain"),
        "answer": _share(rows, lambda r: r.verdict == "answer"),
    }


def calibration(rows: Sequence[Row]) -> dict[str, float | None]:
    right = [r.verdict_right() for r in rows]
    flipped = [r.confidence if r.verdict != "abstain" else 1.0 - r.confidence for r in rows]
    answered = [r for r in rows if r.verdict != "abstain"]
    return {
        "ece_verdict": ece([r.confidence for r in rows], right),
        "ece_abstain_flipped": ece(flipped, right),
        "ece_answered": ece([r.confidence for r in answered], [r.hit1 for r in answered]),
    }


GROUPS = ("all", "same", "cross", "ko>en", "en>ko", "en>en", "ko>ko")


def in_group(r: Row, group: str) -> bool:
    if group == "all":
        return True
    if group == "same":
        return not r.cross
    if group == "cross":
        return r.cross
    return r.direction == group


def report(rows: Sequence[Row]) -> dict[str, object]:
    """Per half (and both together): answerable figures by group and by kind, off-topic figures by
    question language, and calibration over all of the half's rows."""
    out: dict[str, object] = {}
    for half in ("fit", "report", "both"):
        hr = [r for r in rows if half == "both" or r.half == half]
        ans = [r for r in hr if r.answerable]
        off = [r for r in hr if not r.answerable]
        kinds = sorted({r.kind for r in ans})
        out[half] = {
            "groups": {g: answerable_figures([r for r in ans if in_group(r, g)]) for g in GROUPS},
            "kinds": {
                k: {
                    g: answerable_figures([r for r in ans if r.kind == k and in_group(r, g)]) for g in ("same", "cross")
                }
                for k in kinds
            },
            "offtopic": {
                lang: offtopic_figures([r for r in off if lang == "all" or r.lang == lang])
                for lang in ("all", "en", "ko")
            },
            "calibration": calibration(hr),
            "verdicts": {v: sum(1 for r in hr if r.verdict == v) for v in VERDICTS},
        }
    return out
