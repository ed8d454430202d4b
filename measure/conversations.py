"""Follow-up questions: does a conversation's context pick the right passage, and does it leave
self-contained questions alone? (issue 14, `quoteqa eval --conversations FILE`)

Two sets:

* **Hand-written** (`measure/conversations.jsonl`): questions about the shipped article, each
  followed by one that leaves out what the first named ("And what did the Kremlin say about
  it?", "그럼 페이스북은?"). The corpus is the shipped article plus the file's own distractor
  articles, written to share the follow-ups' words (another Kremlin statement, another
  Clubhouse story), so that without context the follow-up is ambiguous. Right = the first
  quote is from the gold article and holds the gold words.
* **Generated from a SQuAD file**: for a question that names its article's title ("Where did
  Super Bowl 50 take place?"), the follow-up is the same question with the title replaced by a
  pronoun ("Where did it take place?"), asked after another question of the same article that
  names the title. The corpus is the whole file: every other article is a distractor. Right =
  the first quote is from the gold passage.

Each follow-up is asked with the first question as history and without it. The
self-contained check asks SQuAD questions after an unrelated question (another article's) and
counts the answers that differ in any quote, verdict or confidence: it must be zero.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import QuoteQAError
from retrieval.index.store import Store
from retrieval.models import Answer, Article, Turn
from retrieval.path import Parts
from retrieval.text.analyze import Analyzer, normalize_space

from .evaluate import Dataset, build_store

DEFAULT_FILE = Path(__file__).with_name("conversations.jsonl")
SELF_CONTAINED_SAMPLE = 300  # SQuAD questions asked after an unrelated one, per file
FOLLOWUP_SAMPLE = 200  # generated follow-ups per SQuAD file

_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
# Korean particles after a title, and the pronoun form that replaces "title + particle".
_KO_PRONOUN = (
    ("이라는", "그런"), ("에서는", "그곳에서는"), ("에서", "그곳에서"), ("에게", "그에게"), ("으로", "그것으로"),
    ("로", "그것으로"), ("와", "그와"), ("과", "그와"), ("은", "그는"), ("는", "그는"), ("이", "그가"), ("가", "그가"),
    ("을", "그것을"), ("를", "그것을"), ("의", "그의"), ("도", "그도"), ("에", "그곳에"), ("", "그"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    turns: tuple[str, ...]  # the questions before the follow-up, oldest first
    followup: str
    gold_article: str = ""  # hand-written: the article the answer must come from...
    gold_contains: str = ""  # ...and words its first quote must hold
    gold_passage: int | None = None  # generated: the store uid of the gold passage
    origin: str = ""


@dataclass
class ConversationSet:
    name: str
    conversations: list[Conversation]
    articles: list[Article] = field(default_factory=list)  # distractors to add to the corpus


def load_conversations(path: Path = DEFAULT_FILE) -> ConversationSet:
    """The hand-written set: JSON lines of `{"type": "article", ...}` (distractors) and
    `{"type": "conversation", "id", "turns", "followup", "gold": {"article", "contains"}}`."""
    convs: list[Conversation] = []
    arts: list[Article] = []
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as exc:
        raise QuoteQAError(f"{path}: cannot read the conversations ({exc.strerror})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row["type"] == "article":
                arts.append(
                    Article(
                        row["id"],
                        row["title"],
                        tuple(row["paragraphs"]),
                        source=row.get("source", ""),
                        file=Path(path).name,
                    )
                )
            elif row["type"] == "conversation":
                gold = row["gold"]
                convs.append(
                    Conversation(
                        row["id"],
                        tuple(row["turns"]),
                        row["followup"],
                        gold["article"],
                        gold["contains"],
                        origin=Path(path).name,
                    )
                )
            else:
                raise KeyError("type")
        except (ValueError, KeyError, TypeError) as exc:
            raise QuoteQAError(f"{path}:{n}: not a conversation or article line ({exc})") from None
    if not convs:
        raise QuoteQAError(f"{path}: no conversations in it")
    return ConversationSet(Path(path).name, convs, arts)


def subject_of(title: str) -> str:
    """A title as a question would name it: "Sky (United Kingdom)" -> "Sky", "Super_Bowl_50" -> "Super Bowl 50"."""
    return _PAREN.sub("", title.replace("_", " ")).strip()


def without_subject(question: str, subject: str, korean: bool) -> str | None:
    """The question with its subject replaced by a pronoun, or None when it does not name it."""
    if korean:
        for particle, pronoun in _KO_PRONOUN:
            m = re.search(re.escape(subject) + re.escape(particle) + r"(?=\s|$|\?)", question)
            if m:
                return normalize_space(question[: m.start()] + pronoun + question[m.end() :])
        return None
    m = re.search(r"\b(?:the\s+)?" + re.escape(subject) + r"(?P<s>'s|’s)?\b", question, re.I)
    if not m:
        return None
    pronoun = "its" if m.group("s") else "it"
    out = question[: m.start()] + pronoun + question[m.end() :]
    if m.start() == 0:
        out = out[0].upper() + out[1:]
    return normalize_space(out)


def short_followup(question: str, subject: str, korean: bool, rarest: Callable[[str, int], list[str]]) -> str | None:
    """The terse follow-up a chat user types: "What about its <rarest words>?", "그럼 <words>은?"
    — the question's one or two rarest words besides its subject, nothing else."""
    rest = re.sub(re.escape(subject), " ", question, flags=re.I)
    words = rarest(rest, 2)
    if not words:
        return None
    phrase = " ".join(words)
    if korean:
        last = phrase[-1]
        final = "HANGUL" not in unicodedata.name(last, "") or (ord(last) - 0xAC00) % 28 != 0
        return f"그럼 {phrase}{'은' if final else '는'}?"
    return f"What about its {phrase}?"


def generated_conversations(
    dataset: Dataset, seed: int = 13, limit: int = FOLLOWUP_SAMPLE, rarest: Callable[[str, int], list[str]] | None = None,
) -> list[Conversation]:  # fmt: skip
    """Follow-ups made from a SQuAD file (see the module docstring); uid i = passage i. With
    `rarest` (words of a text, rarest first), the terse "What about its …?" form instead."""
    korean = dataset.language == "ko"
    by_article: dict[int, list[int]] = {}
    for i, q in enumerate(dataset.questions):
        by_article.setdefault(dataset.passages[q.gold].article, []).append(i)
    rng = random.Random(seed)
    out: list[Conversation] = []
    for art, members in sorted(by_article.items()):
        subject = subject_of(dataset.articles[art].title)
        if len(subject) < 2:
            continue
        naming = [i for i in members if subject.lower() in dataset.questions[i].question.lower()]
        for i in naming:
            q = dataset.questions[i]
            followup = (
                without_subject(q.question, subject, korean)
                if rarest is None
                else short_followup(q.question, subject, korean, rarest)
            )
            others = [j for j in naming if j != i]
            if not followup or not others or followup == q.question:
                continue
            first = dataset.questions[rng.choice(others)].question
            out.append(
                Conversation(
                    f"{q.id}:{'short' if rarest else 'followup'}",
                    (first,),
                    followup,
                    gold_passage=q.gold,
                    origin=dataset.name,
                )
            )
    if len(out) > limit:
        out = [out[i] for i in sorted(rng.sample(range(len(out)), limit))]
    return out


@dataclass
class ConversationReport:
    name: str
    n: int
    with_history: float
    without_history: float
    examples: list[dict[str, object]] = field(default_factory=list)  # followups history fixed or broke

    def to_json(self) -> dict[str, object]:
        return {
            "set": self.name, "followups": self.n, "accuracy_with_history": round(self.with_history, 4),
            "accuracy_without_history": round(self.without_history, 4),
            "gain": round(self.with_history - self.without_history, 4), "examples": self.examples[:10],
        }  # fmt: skip


def _right(answer: Answer, conv: Conversation) -> bool:
    if not answer.quotes:
        return False
    first = answer.quotes[0]
    if conv.gold_passage is not None:
        return first.passage == conv.gold_passage
    return first.source.article == conv.gold_article and conv.gold_contains in first.text


class Asker:
    """One pool's questions through the product's answer path (`AnswerPath.ask` on its snapshot)."""

    def __init__(self, parts: Parts, store: Store) -> None:
        self.path = parts.path()
        self.store = store
        self.snapshot = store.snapshot()

    def answer(self, question: str, max_quotes: int = 3, history: Sequence[Turn] = ()) -> Answer:
        return self.path.ask(self.snapshot, question, max_quotes, tuple(history))


def run_followups(asker: Asker, name: str, convs: Sequence[Conversation], max_quotes: int = 3) -> ConversationReport:
    right_with = right_without = 0
    examples: list[dict[str, object]] = []
    for conv in convs:
        history: list[Turn] = []
        for q in conv.turns:
            history.append(asker.answer(q, max_quotes, history).turn())
        alone = asker.answer(conv.followup, max_quotes)
        follow = asker.answer(conv.followup, max_quotes, history)
        a, b = _right(follow, conv), _right(alone, conv)
        right_with += a
        right_without += b
        if a != b:
            examples.append({
                "id": conv.id, "turns": list(conv.turns), "followup": conv.followup, "right_with_history": a,
                "context": follow.context, "quote": follow.quotes[0].text[:160] if follow.quotes else "",
            })  # fmt: skip
    n = len(convs) or 1
    return ConversationReport(name, len(convs), right_with / n, right_without / n, examples)


def self_contained_changes(
    asker: Asker, dataset: Dataset, seed: int = 13, sample: int = SELF_CONTAINED_SAMPLE
) -> tuple[int, int, list[str]]:
    """(asked, changed, ids of changed): questions asked after another article's question."""
    rng = random.Random(seed + 1)
    picked = sorted(rng.sample(range(len(dataset.questions)), min(sample, len(dataset.questions))))
    changed: list[str] = []
    for i in picked:
        q = dataset.questions[i]
        art = dataset.passages[q.gold].article
        others = [x for x in dataset.questions if dataset.passages[x.gold].article != art]
        if not others:
            continue
        earlier = asker.answer(rng.choice(others).question, 3).turn()
        alone, after = asker.answer(q.question, 3), asker.answer(q.question, 3, history=(earlier,))
        same = (
            [x.text for x in alone.quotes] == [x.text for x in after.quotes] and alone.verdict == after.verdict
            and alone.confidence == after.confidence and not after.context
        )  # fmt: skip
        if not same:
            changed.append(q.id)
    return len(picked), len(changed), changed


def _rarest_words(analyzer: Analyzer, store: Store) -> Callable[[str, int], list[str]]:
    """Surfaces of a text's content words, the k rarest in the index, in text order."""
    from retrieval.answer.question import FRAME_TERMS

    from .splits import rarest_surfaces

    def rarest(text: str, k: int) -> list[str]:
        words = [w for w in analyzer.question_words(text) if w.term not in FRAME_TERMS]
        return rarest_surfaces(words, store, k, unknown_first=False)

    return rarest


def hand_written_store(
    conversations: ConversationSet, corpus: Sequence[Article], parts: Parts, directory: Path
) -> Store:
    """The shipped corpus and the set's distractor articles, in the product's store."""
    store = parts.store(directory)
    store.add([*corpus, *conversations.articles])
    return store


def evaluate_conversations(
    conversations: ConversationSet, corpus: Sequence[Article], datasets: Sequence[Dataset], parts: Parts,
    seed: int = 13, progress: Callable[[str], None] | None = None,
) -> dict[str, object]:  # fmt: skip
    """Every figure `quoteqa eval --conversations` prints, as plain values (`parts`: the
    product's config, Kiwi and encoder)."""
    reports: list[ConversationReport] = []
    unchanged: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="quoteqa-conv-") as tmp:
        asker = Asker(parts, hand_written_store(conversations, corpus, parts, Path(tmp) / "hand"))
        reports.append(run_followups(asker, conversations.name, conversations.conversations))
    for ds in datasets:
        if progress:
            progress(ds.name)
        with tempfile.TemporaryDirectory(prefix="quoteqa-conv-") as tmp:
            asker = Asker(parts, build_store(ds, parts, Path(tmp) / "index"))
            reports.append(run_followups(asker, f"{ds.name} (generated)", generated_conversations(ds, seed)))
            rarest = _rarest_words(parts.analyzer, asker.store)
            reports.append(
                run_followups(asker, f"{ds.name} (generated, terse)", generated_conversations(ds, seed, rarest=rarest))
            )
            asked, changed, ids = self_contained_changes(asker, ds, seed)
            unchanged.append({"file": ds.name, "asked": asked, "changed": changed, "changed_ids": ids[:10]})
    total = sum(r.n for r in reports) or 1
    return {
        "sets": [r.to_json() for r in reports],
        "all": {
            "followups": sum(r.n for r in reports),
            "accuracy_with_history": round(sum(r.with_history * r.n for r in reports) / total, 4),
            "accuracy_without_history": round(sum(r.without_history * r.n for r in reports) / total, 4),
        },
        "self_contained": unchanged,
    }
