"""Dense candidates and the learned fusion / language switch (retrieval/answer/retrieve/)."""

from __future__ import annotations

import numpy as np
import pytest
from encoder_support import shared_encoder

from measure.fusion_fit import fit_conditional_logit
from retrieval import MemoryStore
from retrieval.answer.context import QuestionContext
from retrieval.answer.question import read_question
from retrieval.answer.retrieve import dense, fusion
from retrieval.models import Article

PASSAGES = [  # uid 0-1 Korean, 2-4 English (the stories differ)
    "한국은행은 목요일 기준금리를 연 3.5%로 동결했다고 밝혔다. 물가 상승세가 둔화되고 있다는 판단이다.",
    "서울 지하철 노조가 다음 주 파업을 예고했다. 출퇴근 시간 운행 차질이 우려된다.",
    "Typhoon Hinnamnor forced the evacuation of thousands of residents on Okinawa on Tuesday.",
    "Samsung Electronics reported a 30 percent drop in quarterly operating profit as chip prices fell.",
    "The national football team won the final 2-1, and its captain was named most valuable player.",
]


def test_a_korean_question_finds_the_english_story_by_its_vector(analyzer) -> None:  # type: ignore[no-untyped-def]
    enc = shared_encoder()
    store = MemoryStore(analyzer, encoder=enc)
    store.add([Article(f"p{i}", f"P{i}", (text,)) for i, text in enumerate(PASSAGES)])
    asked = read_question("삼성전자의 영업이익은 얼마나 줄었나?", analyzer.morphemes)
    ctx = QuestionContext(store.snapshot(), analyzer, asked=asked, encoder=enc)
    hits = dense.Dense(3).candidates(ctx, None, 20)  # type: ignore[arg-type]
    assert hits is not None and len(hits) == 3 and hits[0][0] == 3
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    store.remove(["p3"])  # a removed passage is no candidate
    ctx = QuestionContext(store.snapshot(), analyzer, asked=asked, encoder=enc)
    assert 3 not in [u for u, _ in dense.Dense(5).candidates(ctx, None, 20) or []]  # type: ignore[arg-type]


def test_the_dense_source_takes_no_part_without_a_question_vector(analyzer) -> None:  # type: ignore[no-untyped-def]
    store = MemoryStore(analyzer)  # no encoder: no vectors
    store.add([Article("p0", "P0", (PASSAGES[0],))])
    ctx = QuestionContext(store.snapshot(), analyzer, asked=read_question("금리는?", analyzer.morphemes))
    assert dense.Dense(5).candidates(ctx, None, 20) is None  # type: ignore[arg-type]


def test_the_switch_takes_the_other_language_when_lexical_evidence_is_weak() -> None:
    w = fusion.FusionWeights()
    # a Korean question; BM25 found only a weak same-language passage (uid 1: a shared common
    # word), while the dense ranking's first is an English passage (uid 3) by a wide margin
    lexical = [(1, 2.0)]
    coverage = {1: 0.15}
    dense_hits = [(3, 0.55), (0, 0.20), (1, 0.18)]
    cos = {0: 0.20, 1: 0.18, 3: 0.55}
    other = {0: False, 1: False, 3: True}
    uids, X = fusion.candidate_features(lexical, coverage, dense_hits, cos, other)
    assert X.shape == (3, len(fusion.FEATURES))
    ranked = fusion.fuse(uids, X, w, other)
    assert ranked[0].uid == 3 and ranked[0].other
    assert abs(sum(h.chance for h in ranked) - 1.0) < 1e-9


def test_well_covered_lexical_evidence_keeps_the_question_language() -> None:
    w = fusion.FusionWeights()
    lexical = [(0, 9.0), (1, 3.0)]
    coverage = {0: 0.9, 1: 0.2}
    dense_hits = [(2, 0.42), (0, 0.40)]
    cos = {0: 0.40, 1: 0.15, 2: 0.42}
    other = {0: False, 1: False, 2: True}
    uids, X = fusion.candidate_features(lexical, coverage, dense_hits, cos, other)
    assert fusion.fuse(uids, X, w, other)[0].uid == 0


def test_weights_are_checked_and_fitting_recovers_a_preference() -> None:
    with pytest.raises(ValueError):
        fusion.FusionWeights((1.0, 2.0))
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(200):
        X = rng.standard_normal((6, 3))
        groups.append((X, int(np.argmax(X[:, 0] * 3 + rng.standard_normal(6) * 0.5))))
    b = fit_conditional_logit(groups, l2=0.001)
    assert b[0] > 1.0 and abs(b[1]) < 0.5 and abs(b[2]) < 0.5
