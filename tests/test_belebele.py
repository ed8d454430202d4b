"""`quoteqa eval --belebele`: the pools of each mode, and a small cross-language pool through the
real answer path with the real encoder (measure/belebele.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from measure import belebele, splits, twins

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


def test_a_small_cross_language_pool_words_against_meaning(parts) -> None:  # type: ignore[no-untyped-def]
    passages, questions = belebele.load(DATA)
    links = sorted({k for _, k in passages})[:12]
    items = [("en", k) for k in links]
    asked = [q for q in questions if q.lang == "ko" and q.link in links]
    rows = belebele.run_mode("cross-ko>en", items, asked, passages, parts)
    words = [r for r in rows if r.system == belebele.WORDS]
    meaning = [r for r in rows if r.system == belebele.MEANING]
    assert len(words) == len(meaning) == len(asked) and all(r.answerable and not r.gold_same for r in rows)
    assert sum(r.correct for r in meaning) >= 0.6 * len(asked) > sum(r.correct for r in words)
    assert all(r.cross for r in meaning if r.correct)
    table = belebele.table(rows)
    assert {t["system"] for t in table} == {belebele.WORDS, belebele.MEANING}
    # the cross mode joins the confidence fit as a "file" of its own, which the topic gate leaves out
    fit_rows = belebele.half_rows(rows)
    assert len(fit_rows) == len(asked) and {r.file for r in fit_rows} == {"belebele-ko>en"}
    assert all(splits.is_cross(r) and r.group == "answerable" for r in fit_rows)


def test_twin_levels_are_fitted_precision_first() -> None:
    """The fitted cosine level keeps MARGIN above every wrong pair, and takes every right one above
    that; with no wrong pair it is the highest level that loses no right one."""
    right = [twins.Candidate(f"ko{i}", f"l{i}", f"en{i}", c, 1.0) for i, c in enumerate((0.58, 0.62, 0.7, 0.8, 0.9))]
    wrong = twins.Candidate("ko9", "l9", "en3", 0.55, 1.0)
    rule = twins.fit_rule([*right, wrong])
    assert rule.min_cosine >= 0.55 + twins.MARGIN - 1e-9
    s = twins.score([*right, wrong], rule)
    assert s["precision"] == 1.0 and s["right"] == 4  # 0.58 is lost to the margin
    assert twins.fit_rule(right).min_cosine == 0.58


def test_twin_pool_has_pairs_and_single_language_articles() -> None:
    passages, _ = belebele.load(DATA)
    links = sorted({k for _, k in passages})
    kinds = [twins.sides(k) for k in links]
    assert {("ko", "en"), ("ko",), ("en",)} == set(kinds)
    assert 0.35 < sum(len(k) == 2 for k in kinds) / len(links) < 0.65
