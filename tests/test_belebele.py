"""`quoteqa eval --belebele`: the pools of each mode, and a small cross-language pool through the
real answer path with the real encoder (measure/belebele.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from encoder_support import shared_encoder

from measure import belebele
from retrieval.index.bm25 import SearchParams
from retrieval.text.analyze import Analyzer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "belebele-dev"
pytestmark = pytest.mark.skipif(
    not (DATA / "kor_Hang.jsonl").exists(), reason="the shared Belebele dev files are not here"
)


def test_pools_index_each_story_as_the_mode_says() -> None:
    passages, questions = belebele.load(DATA)
    links = {k for _, k in passages}
    pools = belebele.pools(passages, questions)
    assert set(pools) == set(belebele.MODES)
    assert {lang for lang, _ in pools["cross-ko>en"][0]} == {"en"} and {q.lang for q in pools["cross-ko>en"][1]} == {
        "ko"
    }
    assert {lang for lang, _ in pools["cross-en>ko"][0]} == {"ko"} and {q.lang for q in pools["cross-en>ko"][1]} == {
        "en"
    }
    split = pools["split"][0]
    assert len(split) == len(links) == len({k for _, k in split}) and {lang for lang, _ in split} == {"ko", "en"}
    half = pools["half"][0]
    assert 0.35 * len(links) < len(half) < 0.65 * len(links) and set(half) <= set(split)
    assert len(pools["mixed"][0]) == 2 * len(links)
    assert {q.half for q in questions} == {"fit", "report"}
    assert all(
        q.half == belebele.Question("", "", "", q.link).half for q in questions
    )  # by the link alone: twins share a half


def test_a_small_cross_language_pool_words_against_meaning(analyzer: Analyzer) -> None:
    passages, questions = belebele.load(DATA)
    links = sorted({k for _, k in passages})[:12]
    items = [("en", k) for k in links]
    asked = [q for q in questions if q.lang == "ko" and q.link in links]
    rows = belebele.run_mode("cross-ko>en", items, asked, passages, analyzer, SearchParams(), shared_encoder())
    words = [r for r in rows if r.system == belebele.WORDS]
    meaning = [r for r in rows if r.system == belebele.MEANING]
    assert len(words) == len(meaning) == len(asked) and all(r.answerable and not r.gold_same for r in rows)
    assert sum(r.correct for r in meaning) >= 0.6 * len(asked) > sum(r.correct for r in words)
    assert all(r.cross for r in meaning if r.correct)
    table = belebele.table(rows)
    assert {t["system"] for t in table} == {belebele.WORDS, belebele.MEANING}
