"""The news dev set: the parallel sentences, their stories, our questions, and the pools.

`korean-english-park.dev.{en,ko}` hold 1,000 news sentences, line n of one translating line n of
the other (not always: some lines are headlines, fragments or shifted by one; that is why every
question names its gold lines per language). `stories.jsonl` cuts them into 151 stories of
consecutive lines. The questions are ours (`measure/news_questions.jsonl`,
`measure/news_questions.md` says how they were written).

A pool indexes every story once, in ONE language: pool `A` has the even-numbered stories in
English and the odd ones in Korean, pool `B` the reverse. Each story is one article, one
paragraph per line (the wire layout), so a quote's paragraph number names its line. Its title
is a dash: a made-up title would lend its words to the questions' matching.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from retrieval.errors import QuoteQAError
from retrieval.text.analyze import normalize_space

Lang = Literal["en", "ko"]
LANGS: tuple[Lang, Lang] = ("en", "ko")
POOLS = ("A", "B")
FOLDER_NAME = "ko-en-news-dev"
# where the dev set lives beside the project (../shared/data/ko-en-news-dev)
DEFAULT_FOLDER = Path(__file__).resolve().parents[2].parent / "shared" / "data" / FOLDER_NAME
FILES = {"en": "korean-english-park.dev.en", "ko": "korean-english-park.dev.ko"}
STORIES_FILE = "stories.jsonl"
QUESTIONS_FILE = Path(__file__).resolve().parent.parent / "news_questions.jsonl"
TITLE = "—"  # analyses to no terms: no title word can match a question
KINDS = ("say", "number", "when", "where", "why", "who", "what")


def half_of(key: str) -> str:
    """FIT or REPORT by an md5 of `key` ("story-12" for a story's questions, the id for an
    off-topic one): fixed, documented, and independent of the order questions are written in."""
    return "fit" if int(hashlib.md5(key.encode()).hexdigest(), 16) % 2 == 0 else "report"


def story_half(story: int) -> str:
    return half_of(f"story-{story}")


@dataclass(frozen=True, slots=True)
class NewsSet:
    """The two files, line by line, and the stories (story number -> its line numbers)."""

    lines: dict[str, tuple[str, ...]]
    stories: dict[int, tuple[int, ...]]

    def story_of_line(self) -> dict[int, int]:
        return {line: s for s, ls in self.stories.items() for line in ls}


@dataclass(frozen=True, slots=True)
class NewsQuestion:
    """One question in both languages. `story` is None for an off-topic one (its `absent` names
    appear in neither file); otherwise `gold` gives, per language, the lines that answer it."""

    id: str
    kind: str
    half: str
    text: dict[str, str]  # language -> wording
    story: int | None = None
    gold: dict[str, tuple[int, ...]] | None = None
    absent: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.story is not None


def load_set(folder: Path) -> NewsSet:
    """The dev files; a missing folder or file is a QuoteQAError naming it."""
    if not folder.is_dir():
        raise QuoteQAError(
            f'{folder} is not here: the news dev set lives in ../shared/data/{FOLDER_NAME} (README, "Evaluation data")'
        )
    lines: dict[str, tuple[str, ...]] = {}
    for lang, name in FILES.items():
        path = folder / name
        if not path.is_file():
            raise QuoteQAError(
                f"{path} is missing: the news dev set needs {', '.join(FILES.values())} and {STORIES_FILE}"
            )
        lines[lang] = tuple(path.read_text(encoding="utf-8").splitlines())
    if len(lines["en"]) != len(lines["ko"]):
        raise QuoteQAError(
            f"{folder}: the two files differ in length ({len(lines['en'])} and {len(lines['ko'])} lines)"
        )
    path = folder / STORIES_FILE
    if not path.is_file():
        raise QuoteQAError(f"{path} is missing")
    stories = {}
    for row in (json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()):
        stories[int(row["story"])] = tuple(int(n) for n in row["lines"])
    return NewsSet(lines, stories)


def load_questions(path: Path = QUESTIONS_FILE) -> list[NewsQuestion]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            gold = {"en": tuple(r["gold_en"]), "ko": tuple(r["gold_ko"])} if r.get("story") is not None else None
            out.append(NewsQuestion(
                r["id"], r["kind"], r["half"], {"en": r["en"], "ko": r["ko"]}, r.get("story"), gold,
                tuple(r.get("absent", ())),
            ))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise QuoteQAError(f"{path}:{n}: not a news question ({exc})") from exc
    return out


def pool_language(pool: str, story: int) -> Lang:
    """Pool A: even stories in English, odd in Korean; pool B the reverse."""
    even = story % 2 == 0
    return "en" if even == (pool == "A") else "ko"


def article_id(story: int, lang: str) -> str:
    return f"news-{story:03d}-{lang}"


def parse_article_id(article: str) -> tuple[int, str] | None:
    parts = article.split("-")
    if len(parts) != 3 or parts[0] != "news" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def write_pool(news: NewsSet, pool: str, folder: Path, stories: list[int] | None = None) -> Path:
    """The pool's corpus: one `.jsonl` article per story (`stories`: only these), each line a
    paragraph. Lines are whitespace-folded; a blank line would merge or drop a paragraph, so none
    may be blank."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"news-pool-{pool.lower()}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for s in sorted(news.stories if stories is None else stories):
            lang = pool_language(pool, s)
            paras = [normalize_space(news.lines[lang][n]) for n in news.stories[s]]
            if not all(paras):
                raise QuoteQAError(f"story {s} has a blank {lang} line: it cannot be one paragraph per line")
            row = {"id": article_id(s, lang), "title": TITLE, "text": "\n\n".join(paras), "source": FOLDER_NAME}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
