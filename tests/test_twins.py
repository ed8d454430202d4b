"""Translation twins at question time (retrieval/answer/twins.py): each quote carries the twin's
matching sentence(s), verbatim, with language, article and paragraph.

The real USE-m3 encoder throughout (one per session, `encoder_support.shared_encoder`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, normalize
from encoder_support import CACHE as ENCODER_CACHE
from encoder_support import shared_encoder
from news_pages import EN_PARAGRAPHS, KO_PARAGRAPHS

from retrieval import Analyzer, Engine, EngineConfig, MemoryStore
from retrieval.index.twins.align import TwinRule
from retrieval.index.twins.find import TwinCheck, article_views, twin_article
from retrieval.models import Aligned, Answer, Quote, Source

SHIPPED = (CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8")
PARAGRAPHS = [p.strip() for p in SHIPPED.split("\n\n") if p.strip()]
CUT = next(i for i, p in enumerate(PARAGRAPHS) if p.startswith("Russia hasn"))  # where the English half starts
TYPHOON_KO = (
    "기상청은 제5호 태풍 '망온'이 주말 동안 제주도 남쪽 해상을 지나 일본 규슈 방향으로 이동할 것으로 내다봤다고 18일 밝혔다.",
    "태풍의 영향으로 제주와 남해안에는 시간당 50밀리미터 안팎의 강한 비가 내리고 순간 풍속 초속 30미터의 강풍이 불 것으로 예상된다.",
    "해양수산부는 여객선 운항을 일부 통제하고 어선들에 안전한 항구로 대피하라고 권고했다.",
)
# The old Quote codec's keys: without twins the stored and printed JSON must not change.
OLD_QUOTE_KEYS = {"text", "score", "passage", "sentences", "highlights", "source"}
OLD_JSON_KEYS = {"text", "article", "title", "paragraph", "language", "source", "url", "date", "score", "passage"}


@pytest.fixture(scope="module")
def twin_engine(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer) -> Engine:
    """The shipped corpus (one file: Korean, then English) with the encoder configured."""
    base = tmp_path_factory.mktemp("twins-shipped")
    shutil.copytree(CORPUS, base / "corpus")
    return Engine.open(
        EngineConfig(base / "corpus", base / "data", encoder="use-m3"), analyzer=analyzer, encoder=shared_encoder()
    )


def separate_corpus(folder: Path) -> str:
    """The shipped article's halves as two articles, the test news pages' Korean and English
    versions of the same story (loosely translated), and an unrelated Korean typhoon story."""
    rows = [
        {"id": "club-ko", "title": "머스크의 클럽하우스 초대와 크렘린궁의 반응", "text": "\n\n".join(PARAGRAPHS[:CUT])},
        {"id": "club-en", "title": "Musk invites Putin to Clubhouse", "text": "\n\n".join(PARAGRAPHS[CUT:])},
        {"id": "news-ko", "title": "크렘린궁, 클럽하우스 초대에 신중", "text": "\n\n".join(KO_PARAGRAPHS)},
        {"id": "news-en", "title": "Kremlin cool on Clubhouse invitation", "text": "\n\n".join(EN_PARAGRAPHS)},
        {"id": "typhoon-ko", "title": "태풍 망온 북상", "text": "\n\n".join(TYPHOON_KO)},
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "news.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    return normalize("\n".join(r["text"] for r in rows))


@pytest.fixture(scope="module", params=["segments", "memory"])
def separate(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer
) -> tuple[Engine, str]:
    """Separate twin articles need passage vectors: both stores hold them (int8)."""
    base = tmp_path_factory.mktemp("twins-separate")
    text = separate_corpus(base / "corpus")
    enc = shared_encoder()
    config = EngineConfig(base / "corpus", base / "data", encoder="use-m3", encoder_cache=ENCODER_CACHE)
    if request.param == "segments":
        engine = Engine.open(config, analyzer=analyzer, encoder=enc)
        assert engine.encoder is enc  # the index carries vectors of this encoder
    else:
        engine = Engine(config, analyzer, MemoryStore(analyzer, encoder=enc), encoder=enc)
        engine.reload()
    return engine, text


def quote_with(answer: Answer, words: str) -> Quote:
    found = [q for q in answer.quotes if words in q.text]
    assert found, [q.text for q in answer.quotes]
    return found[0]


def check_verbatim(engine: Engine, item: Aligned, corpus_text: str) -> None:
    """The aligned text is copied from the twin's paragraph, which the source names."""
    assert normalize(item.text) in corpus_text
    paragraph, source = engine.passage(item.passage)
    assert item.text in normalize(paragraph) and source == item.source


# --- halves of one file -------------------------------------------------------------------------


def test_the_korean_valuation_gets_the_english_billion_sentence(twin_engine: Engine, corpus_text: str) -> None:
    answer = twin_engine.ask("클럽하우스의 가치는 얼마로 평가받았나?")
    quote = quote_with(answer, "10억 달러")
    [item] = quote.aligned
    assert "$1 billion" in item.text and item.text.startswith("Last month, Clubhouse was valued by investors")
    assert item.source.language == "en" and item.source.article == quote.source.article
    assert item.source.paragraph > quote.source.paragraph  # the English half comes after
    check_verbatim(twin_engine, item, corpus_text)


def test_the_saturday_invitation_is_aligned(twin_engine: Engine, corpus_text: str) -> None:
    answer = twin_engine.ask("머스크는 푸틴을 어디에 초대했나?")
    quote = quote_with(answer, "지난 토요일")
    assert "초대" in quote.text
    [item] = quote.aligned
    assert item.text.startswith("On Saturday, Musk invited Putin")
    check_verbatim(twin_engine, item, corpus_text)


def test_an_english_quote_gets_the_korean_original(twin_engine: Engine, corpus_text: str) -> None:
    answer = twin_engine.ask("How much was Clubhouse valued at?")
    quote = quote_with(answer, "$1 billion")
    assert any("10억 달러" in a.text and a.source.language == "ko" for a in quote.aligned)
    for item in quote.aligned:
        check_verbatim(twin_engine, item, corpus_text)


def test_sentences_said_in_another_order_get_no_original(twin_engine: Engine) -> None:
    """Peskov's remarks come early in English and are summed up in one Korean clause: the
    monotone alignment cannot pair them, and the margin keeps what it did pair from showing."""
    answer = twin_engine.ask("What did Peskov say?")
    assert answer.quotes
    for quote in answer.quotes:
        if "figure it out" in quote.text:
            assert quote.aligned == ()


def test_without_an_encoder_no_quote_carries_the_field(make_engine) -> None:  # type: ignore[no-untyped-def]
    """`QUOTEQA_ENCODER=none`: both codecs write exactly the old keys."""
    answer = make_engine(encoder="none").ask("클럽하우스의 가치는 얼마로 평가받았나?")
    assert answer.quotes and all(q.aligned == () for q in answer.quotes)
    assert all(set(q.to_dict()) == OLD_QUOTE_KEYS for q in answer.quotes)
    assert all(set(q) == OLD_JSON_KEYS for q in answer.to_json()["quotes"])  # type: ignore[union-attr]


def test_the_codecs_keep_aligned(twin_engine: Engine) -> None:
    answer = twin_engine.ask("클럽하우스의 가치는 얼마로 평가받았나?")
    assert Answer.from_dict(json.loads(json.dumps(answer.to_dict()))) == answer
    [shown] = [q for q in answer.to_json()["quotes"] if q.get("aligned")]  # type: ignore[union-attr]
    [item] = shown["aligned"]
    assert (
        {"text", "language", "article", "paragraph"} <= item.keys()
        and item["language"] == "en"
        and "$1 billion" in item["text"]
    )
    old = Quote("t", Source("a", "T", 1, "en"), 1.0, 3, (0,))
    assert Quote.from_dict(old.to_dict()) == old and "aligned" not in old.to_dict()


# --- separate articles ------------------------------------------------------------------------


def test_two_separate_articles_that_translate_each_other(separate: tuple[Engine, str]) -> None:
    engine, text = separate
    answer = engine.ask("클럽하우스의 가치는 얼마로 평가받았나?")
    quote = quote_with(answer, "10억 달러")
    assert quote.source.article == "club-ko"
    [item] = quote.aligned
    assert item.source.article == "club-en" and item.source.language == "en" and "$1 billion" in item.text
    check_verbatim(engine, item, text)
    back = quote_with(engine.ask("When did Musk invite Putin to Clubhouse?"), "On Saturday, Musk invited Putin")
    assert back.source.article == "club-en"
    assert [a.source.article for a in back.aligned] == ["club-ko"] and "지난 토요일" in back.aligned[0].text


def test_an_unrelated_or_merely_similar_article_is_no_twin(separate: tuple[Engine, str]) -> None:
    """The typhoon story has no twin; the news pages tell the Clubhouse story too, in other
    words: neither is taken for the Clubhouse article's original (a wrong original is worse
    than none)."""
    engine, _ = separate
    snap = engine.store.snapshot()
    first = {}
    for uid in snap.uids().tolist():
        first.setdefault(snap.passage(uid).article.id, uid)
    twins = {
        aid: twin_article(snap, article_views(snap, uid), TwinRule(), TwinCheck().candidates)
        for aid, uid in first.items()
    }
    found = {aid: (t[0].article.id if t else None) for aid, t in twins.items()}
    assert found["club-ko"] == "club-en" and found["club-en"] == "club-ko"
    assert found["typhoon-ko"] is None
    assert found["news-ko"] in (None, "news-en") and found["news-en"] in (None, "news-ko")
    answer = engine.ask("태풍 망온은 어디로 이동하나?")
    assert answer.quotes and all(q.aligned == () for q in answer.quotes)


# --- front ends: `quoteqa ask --json` and the console --------------------------------------------


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("twins-cli")
    shutil.copytree(CORPUS, base / "corpus")
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    e.update(QUOTEQA_CORPUS_DIR=str(base / "corpus"), QUOTEQA_DATA_DIR=str(base / "data"), QUOTEQA_WORKERS="2")
    e.update(QUOTEQA_ENCODER="use-m3", QUOTEQA_ENCODER_CACHE_DIR=str(ENCODER_CACHE))
    return e


def quoteqa(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=180
    )


def test_ask_json_has_the_aligned_field_only_with_an_encoder(cli_env: dict[str, str], corpus_text: str) -> None:
    r = quoteqa(cli_env, "ask", "클럽하우스의 가치는 얼마로 평가받았나?", "--json")
    assert r.returncode == 0, r.stderr
    [quote] = [q for q in json.loads(r.stdout)["quotes"] if "10억 달러" in q["text"]]
    [item] = quote["aligned"]
    assert item["language"] == "en" and item["article"] == quote["article"] and item["paragraph"] > quote["paragraph"]
    assert "$1 billion" in item["text"] and normalize(item["text"]) in corpus_text
    r = quoteqa(cli_env | {"QUOTEQA_ENCODER": "none"}, "ask", "클럽하우스의 가치는 얼마로 평가받았나?", "--json")
    assert r.returncode == 0, r.stderr
    assert '"aligned"' not in r.stdout and all(set(q) == OLD_JSON_KEYS for q in json.loads(r.stdout)["quotes"])


def test_console_shows_the_original_on_request(cli_env: dict[str, str]) -> None:
    r = quoteqa(
        cli_env,
        "console",
        stdin="클럽하우스의 가치는 얼마로 평가받았나?\n:original\n:original on\n머스크는 푸틴을 어디에 초대했나?\n:quit\n",
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    first, _, rest = out.partition("original: ")
    assert "10억 달러" in first and "$1 billion" not in first  # not shown until asked
    assert rest.startswith("“Last month, Clubhouse was valued by investors at around $1 billion")
    assert "English" in rest.splitlines()[0] or "English" in rest.splitlines()[1]
    after_on = out.split("originals shown under each quote")[1]
    assert "original: “On Saturday, Musk invited Putin" in after_on


def test_a_twin_ingested_later_is_found_and_a_removed_one_is_dropped(tmp_path: Path, analyzer: Analyzer) -> None:
    """Findings are carried from one commit to the next only while they still hold: "no twin"
    until an article is added, a twin while its text is live."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "club-ko.txt").write_text("\n\n".join(PARAGRAPHS[:CUT]) + "\n", "utf-8")
    (corpus / "typhoon.txt").write_text("\n\n".join(TYPHOON_KO) + "\n", "utf-8")
    config = EngineConfig(corpus, tmp_path / "data", encoder="use-m3", encoder_cache=ENCODER_CACHE)
    engine = Engine.open(config, analyzer=analyzer, encoder=shared_encoder())
    question = "클럽하우스의 가치는 얼마로 평가받았나?"
    assert quote_with(engine.ask(question), "10억 달러").aligned == ()
    assert quote_with(engine.ask(question), "10억 달러").aligned == ()  # the same commit, from the cache
    (corpus / "club-en.txt").write_text("\n\n".join(PARAGRAPHS[CUT:]) + "\n", "utf-8")
    engine.reload()
    [item] = quote_with(engine.ask(question), "10억 달러").aligned
    assert item.source.article == "club-en" and "$1 billion" in item.text
    (corpus / "typhoon.txt").unlink()  # another commit: the twin is carried over
    engine.reload()
    [again] = quote_with(engine.ask(question), "10억 달러").aligned
    assert again == item
    (corpus / "club-en.txt").unlink()
    engine.reload()
    assert quote_with(engine.ask(question), "10억 달러").aligned == ()
