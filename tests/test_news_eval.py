"""`quoteqa eval --news` (measure/news): the question file, the judge and the calibration figures on
hand-made rows, and a small real run through `Engine.ask` with the real encoder."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from encoder_support import CACHE, shared_encoder

from measure.news import data, harness, judge, twin_recall
from measure.news.data import NewsQuestion, NewsSet
from measure.news.judge import Row
from retrieval import Engine, EngineConfig
from retrieval.path import Parts
from retrieval.text.analyze import HANGUL, normalize_space

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / data.FOLDER_NAME
needs_data = pytest.mark.skipif(
    not (DATA / data.STORIES_FILE).exists(),
    reason="the shared news dev set (../shared/data/ko-en-news-dev) is not here",
)
QUESTIONS = data.load_questions()


# --- the question file --------------------------------------------------------------------------
def test_questions_are_complete_in_both_languages() -> None:
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids))
    for q in QUESTIONS:
        assert q.kind in data.KINDS, q.id
        assert q.text["en"].strip() and not HANGUL.search(q.text["en"]), q.id
        assert HANGUL.search(q.text["ko"]), q.id
        if q.answerable:
            assert q.gold and q.gold["en"] and q.gold["ko"], q.id
            assert q.half == data.story_half(q.story), q.id  # type: ignore[arg-type]
        else:
            assert q.absent and q.half == data.half_of(q.id), q.id


def test_counts_meet_the_brief() -> None:
    answerable = [q for q in QUESTIONS if q.answerable]
    off = [q for q in QUESTIONS if not q.answerable]
    kinds = Counter(q.kind for q in answerable)
    assert len(answerable) >= 150 and len(off) >= 40
    assert kinds["say"] >= 30 and kinds["number"] >= 30 and kinds["when"] >= 20 and kinds["where"] >= 20
    assert kinds["why"] >= 15
    for group in (answerable, off):
        fit = sum(q.half == "fit" for q in group)
        assert 0.35 < fit / len(group) < 0.65


@needs_data
def test_gold_lines_exist_inside_their_story() -> None:
    news = data.load_set(DATA)
    assert len(news.lines["en"]) == len(news.lines["ko"]) == 1000
    asked = set()
    for q in QUESTIONS:
        if not q.answerable:
            continue
        story = news.stories[q.story]  # type: ignore[index]
        asked.add(q.story)
        for lang in data.LANGS:
            for n in q.gold[lang]:  # type: ignore[index]
                assert n in story, f"{q.id}: {lang} line {n} is not in story {q.story}"
                assert news.lines[lang][n].strip(), f"{q.id}: {lang} line {n} is blank"
    assert len(asked) >= 0.8 * len(news.stories)  # most stories get a question


def _word_in(name: str, text: str) -> bool:
    if HANGUL.search(name):
        return re.search(r"(?<![\uac00-\ud7a3])" + re.escape(name), text) is not None
    return re.search(r"\b" + re.escape(name) + r"\b", text, re.IGNORECASE) is not None


def test_the_name_check_sees_a_name_and_only_a_name() -> None:
    assert _word_in("Lula", "President Lula said") and not _word_in("Lula", "from Talula Does the Hula")
    assert _word_in("룰라", "룰라 대통령은") and not _word_in("룰라", "탈룰라는 하와이")


@needs_data
def test_offtopic_names_are_in_neither_file() -> None:
    news = data.load_set(DATA)
    text = "\n".join(news.lines["en"]) + "\n" + "\n".join(news.lines["ko"])
    for q in QUESTIONS:
        for name in q.absent:
            assert not _word_in(name, text), f"{q.id}: {name!r} is in the dev files"


# --- the judge ----------------------------------------------------------------------------------
NEWS = NewsSet(
    lines={
        "en": (
            "The bridge fell at dusk.",
            "Four people died, police said.",
            "Rain fell.",
            "Four people died, police said.",
        ),
        "ko": (
            "다리가 해질녘 무너졌다.",
            "경찰은 4명이 숨졌다고 밝혔다.",
            "비가 내렸다.",
            "경찰은 4명이 숨졌다고 밝혔다.",
        ),
    },
    stories={0: (0, 1), 1: (2, 3)},
)


def test_a_quote_is_gold_only_from_its_story_language_and_lines() -> None:
    en0, ko0, en1 = data.article_id(0, "en"), data.article_id(0, "ko"), data.article_id(1, "en")
    assert judge.is_gold("Four people died, police said.", en0, 0, "en", (1,), NEWS)
    assert judge.is_gold("Four  people died,\npolice said.", en0, 0, "en", (1,), NEWS)  # whitespace folded
    assert judge.is_gold("Four people died", en0, 0, "en", (1,), NEWS)  # inside the gold line
    assert judge.is_gold("Four people died, police said. More.", en0, 0, "en", (1,), NEWS)  # holds it
    assert not judge.is_gold("The bridge fell at dusk.", en0, 0, "en", (1,), NEWS)  # another line
    assert not judge.is_gold("Four people died, police said.", en1, 0, "en", (1,), NEWS)  # same words, other story
    assert not judge.is_gold("경찰은 4명이 숨졌다고 밝혔다.", ko0, 0, "en", (1,), NEWS)  # story indexed in English
    assert judge.is_gold("경찰은 4명이 숨졌다고 밝혔다.", ko0, 0, "ko", (1,), NEWS)
    assert not judge.is_gold("", en0, 0, "en", (1,), NEWS)
    assert not judge.is_gold("Four people died", en0, None, None, (), NEWS)  # off-topic: nothing is gold
    assert judge.line_of(en1, 2, NEWS) == 3 and judge.line_of(en1, 3, NEWS) is None


def _row(verdict: str, conf: float, hit: bool, story: int | None = 0, would: bool | None = None, lang: str = "en",
         indexed: str | None = "en") -> Row:  # fmt: skip
    return Row(
        id="x", question="q", lang=lang, pool="A", story=story, kind="say", half="fit",
        indexed=indexed if story is not None else None, gold=(1,) if story is not None else (), verdict=verdict,
        confidence=conf, cross_language=False, first_quote="", first_article="", first_line=None, hit1=hit, hit3=hit,
        would_hit=would,
    )  # fmt: skip


def test_ece_by_hand() -> None:
    # bin 9: chance 0.95, one of two right (|0.95 - 0.5| = 0.45); bin 0: chance 0.05, none right (0.05)
    assert judge.ece([0.95, 0.95, 0.05, 0.05], [True, False, False, False]) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)
    assert judge.ece([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    assert judge.ece([1.0, 0.0], [True, False]) == pytest.approx(0.0)  # 1.0 falls in the last bin
    assert judge.ece([], []) is None


def test_a_verdict_is_right_as_the_definition_says() -> None:
    assert _row("answer", 0.9, True).verdict_right() and not _row("answer", 0.9, False).verdict_right()
    assert _row("unsure", 0.5, True).verdict_right() and not _row("unsure", 0.5, False).verdict_right()
    assert _row("abstain", 0.1, False, story=None).verdict_right()  # off-topic: refusing is right
    assert _row("abstain", 0.1, False, would=False).verdict_right()  # its quote would have been wrong
    assert not _row("abstain", 0.1, False, would=True).verdict_right()  # it would have been right


def test_figures_on_hand_made_rows() -> None:
    rows = [
        _row("answer", 0.9, True), _row("answer", 0.8, False), _row("unsure", 0.4, False),
        _row("abstain", 0.2, False, would=True),
        _row("answer", 0.6, True, lang="ko", indexed="en"), _row("abstain", 0.1, False, lang="ko", indexed="en", would=False),
    ]  # fmt: skip
    f = judge.answerable_figures(rows)
    assert f["n"] == 6 and f["hit@1"] == pytest.approx(2 / 6)
    assert f["sure_wrong"] == pytest.approx(1 / 6)  # an unsure miss is not sure-but-wrong
    assert f["refused"] == pytest.approx(2 / 6) and f["unsure"] == pytest.approx(1 / 6)
    assert [r.cross for r in rows] == [False] * 4 + [True] * 2 and rows[4].direction == "ko>en"
    off = [_row("abstain", 0.05, False, story=None), _row("answer", 0.7, False, story=None)]
    o = judge.offtopic_figures(off)
    assert o["refused"] == 0.5 and o["answer"] == 0.5
    cal = judge.calibration(rows + off)
    right = [True, False, False, False, True, True, True, False]
    shown = [0.9, 0.8, 0.4, 0.2, 0.6, 0.1, 0.05, 0.7]
    flipped = [0.9, 0.8, 0.4, 0.8, 0.6, 0.9, 0.95, 0.7]
    assert cal["ece_verdict"] == pytest.approx(judge.ece(shown, right))
    assert cal["ece_abstain_flipped"] == pytest.approx(judge.ece(flipped, right))
    answered = [(0.9, True), (0.8, False), (0.4, False), (0.6, True), (0.7, False)]
    assert cal["ece_answered"] == pytest.approx(judge.ece(*zip(*answered, strict=True)))  # type: ignore[arg-type]
    rep = judge.report(rows + off)
    assert rep["fit"]["groups"]["cross"]["n"] == 2 and rep["report"]["groups"]["all"]["n"] == 0  # type: ignore[index]


def test_twin_recall_counts_a_tie_as_a_miss() -> None:
    s = np.array([[0.9, 0.1, 0.2], [0.5, 0.5, 0.1], [0.1, 0.8, 0.7]])
    assert twin_recall.recall_at_1(s) == pytest.approx(1 / 3)  # row 1 ties, row 2 loses
    with pytest.raises(ValueError):
        twin_recall.recall_at_1(np.zeros((2, 3)))


def test_the_pools_split_every_story_by_language() -> None:
    for s in range(6):
        assert {data.pool_language("A", s), data.pool_language("B", s)} == {"en", "ko"}
    assert data.pool_language("A", 0) == "en" and data.pool_language("A", 1) == "ko"
    assert data.parse_article_id(data.article_id(12, "ko")) == (12, "ko") and data.parse_article_id("other") is None


# --- a small real run ---------------------------------------------------------------------------
STORIES = [0, 23, 45]  # the supercomputer, and the Istanbul bombing told twice (lines 130 and 289 are the same)


@needs_data
def test_a_small_real_run(analyzer) -> None:  # type: ignore[no-untyped-def]
    """Three stories through `Engine.ask` with the real encoder: every quote is verbatim from the
    line its paragraph names, the judge agrees with the line numbers, and an abstention's probe
    quotes what the answer path would have led with."""
    news = data.load_set(DATA)
    enc = shared_encoder()
    qs = [q for q in QUESTIONS if q.story in STORIES] + [q for q in QUESTIONS if not q.answerable][:6]
    rows: list[Row] = []
    probes: list[tuple[harness.Probe, Row]] = []
    with tempfile.TemporaryDirectory() as tmp:
        parts = Parts(EngineConfig(Path(tmp) / "x", Path(tmp) / "x", encoder_cache=CACHE), analyzer, enc)
        for pool in data.POOLS:
            base = Path(tmp) / pool
            data.write_pool(news, pool, base / "corpus", STORIES)
            engine = Engine.of(harness.pool_parts(parts, base))
            got = harness.ask_pool(engine, news, pool, qs)
            rows += got
            probe = harness.Probe(engine)
            probes += [(probe, r) for r in got if r.verdict != "abstain"][:4]
    assert len(rows) == len(qs) * 2 * 2
    for r in rows:
        if r.first_quote:
            story, lang = data.parse_article_id(r.first_article)  # type: ignore[misc]
            assert story in STORIES and r.first_line is not None
            assert normalize_space(r.first_quote) in normalize_space(news.lines[lang][r.first_line])
            assert r.hit1 == (story == r.story and lang == r.indexed and r.first_line in r.gold), r
        else:
            assert r.verdict == "abstain" and not r.hit1 and r.would_hit is not None
        if not r.answerable:
            assert not r.hit1 and not r.hit3
    for probe, r in probes:  # the probe leads with the quote the engine led with
        assert probe.answer(r.question).quotes[0].text == r.first_quote
    same = [r for r in rows if r.answerable and not r.cross]
    assert sum(r.hit3 for r in same) >= 0.5 * len(same)
    assert {r.pool for r in rows} == {"A", "B"} and any(r.cross for r in rows) and any(not r.cross for r in rows)


def test_a_missing_folder_is_a_clear_error_and_exit_2(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from retrieval.errors import QuoteQAError

    with pytest.raises(QuoteQAError, match="not here"):
        data.load_set(tmp_path / "nowhere")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")} | {"QUOTEQA_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", "--news", str(tmp_path / "nowhere")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "nowhere is not here" in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())  # nothing was written


def test_news_questions_are_frozen_values() -> None:
    q = QUESTIONS[0]
    assert isinstance(q, NewsQuestion)
    with pytest.raises(AttributeError):
        q.kind = "who"  # type: ignore[misc]


def test_anchors_lift_a_twin_whose_names_the_encoder_blurs(analyzer, encoder) -> None:  # type: ignore[no-untyped-def]
    # two English candidates close in meaning; only the second names the Korean sentence's person
    ko = ["페스코프 대변인은 모스크바에서 제재를 비판했다."]
    en = ["The spokesman criticised the sanctions in Moscow.", "Spokesman Peskov criticised the sanctions in Moscow."]
    plain = twin_recall.encoder_scorer(encoder)(ko, en)
    lifted = twin_recall.anchors_scorer(encoder, analyzer)(ko, en)
    gain = lifted - plain
    assert gain[0, 1] > gain[0, 0] >= 0  # Peskov's skeleton counts only for the sentence naming him
    assert gain.max() <= twin_recall.ANCHOR_WEIGHT + 1e-9
