"""Translation twins and sentence alignment (retrieval/index/twins/align.py) on the shipped article,
whose first part is Korean and the rest English."""

from __future__ import annotations

import re

import numpy as np
import pytest
from encoder_support import ROOT, shared_encoder

from retrieval.index.twins import align
from retrieval.text.analyze import detect_language


def sentences(text: str) -> list[str]:
    return [
        s.strip()
        for p in text.split("\n")
        if p.strip()
        for s in re.split(r"(?<=[.!?])\s+(?=\S)", p.strip())
        if s.strip()
    ]


@pytest.fixture(scope="module")
def halves() -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    sents = sentences((ROOT / "corpus" / "clubhouse-putin-musk.txt").read_text("utf-8"))
    cut = align.language_halves([detect_language(s) for s in sents])
    assert cut is not None
    a, b = sents[:cut], sents[cut:]
    assert detect_language(" ".join(a)) == "ko" and detect_language(" ".join(b)) == "en"
    enc = shared_encoder()
    return a, b, enc.encode(a), enc.encode(b)


def test_the_two_halves_are_twins(halves) -> None:  # type: ignore[no-untyped-def]
    a, b, va, vb = halves
    assert align.twin_pairs([va], [vb], [" ".join(a)], [" ".join(b)]) == [(0, 0, pytest.approx(0.80, abs=0.05))]


def test_an_unrelated_text_is_no_twin(halves) -> None:  # type: ignore[no-untyped-def]
    a, _, va, _ = halves
    other = ["The recipe needs two eggs and a cup of flour.", "Bake it for forty minutes at 180 degrees."]
    assert align.twin_pairs([va], [shared_encoder().encode(other)], [" ".join(a)], [" ".join(other)]) == []


def test_alignment_pairs_the_sentences_that_say_the_same(halves) -> None:  # type: ignore[no-untyped-def]
    a, b, va, vb = halves
    matches = align.align(va, vb, a, b)
    pairs = [(" ".join(a[i] for i in m.a), " ".join(b[j] for j in m.b)) for m in matches]
    assert any("10억 달러" in ko and "$1 billion" in en for ko, en in pairs)  # the valuation, numbers as anchors
    assert any("지난 토요일" in ko and "On Saturday" in en for ko, en in pairs)  # the invitation
    # monotone: both sides only move forward
    flat = [(m.a[0], m.b[0]) for m in matches]
    assert flat == sorted(flat) and all(x[1] < y[1] for x, y in zip(flat, flat[1:]))


def test_halves_need_two_languages() -> None:
    assert align.language_halves(["en"] * 6) is None
    assert align.language_halves(["ko", "ko", "ko", "en", "en", "en"]) == 3
    assert align.align(np.zeros((0, 4)), np.zeros((2, 4)), [], ["a", "b"]) == []
