"""The term dictionary over stored strings (`retrieval/index/segments/terms.py`) against the
plain Python structures it replaced: a dict from term to id and two sorted lists."""

from __future__ import annotations

import bisect
import random

import numpy as np
import pytest

from retrieval.index.segments.format import strings
from retrieval.index.segments.terms import TermTable

WORDS = ["크렘린궁", "크렘린", "신크렘린", "대변인", "kremlin", "kreml", "peskov", "said", "궁", "a", "", "ab", "ba"]


def _table(terms: list[str]) -> TermTable:
    arrays = strings("vocab", terms)
    return TermTable(arrays["vocab"], arrays["vocab_ptr"])


def _affixes_as_before(terms: list[str], fragment: str) -> list[str]:
    out = []
    for words, key, flip in ((sorted(terms), fragment, False), (sorted(t[::-1] for t in terms), fragment[::-1], True)):
        i = bisect.bisect_right(words, key)
        while i < len(words) and words[i].startswith(key):
            out.append(words[i][::-1] if flip else words[i])
            i += 1
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ids_and_affixes_are_those_of_a_dict_and_sorted_lists(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "abc크렘린궁"
    terms = list(dict.fromkeys(WORDS + ["".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(400)]))
    rng.shuffle(terms)
    table = _table(terms)
    ids = {t: i for i, t in enumerate(terms)}
    assert table.terms() == terms and [table.term(i) for i in range(len(terms))] == terms
    for t in terms + ["nothing", "크렘", "abcabcabc"]:
        assert table.id(t) == ids.get(t, -1)
    for fragment in ["크렘린", "a", "ab", "궁", "c", "zz", "린궁"]:
        assert table.affixes(fragment) == _affixes_as_before(terms, fragment)


def test_terms_with_one_hash_are_told_apart_by_their_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Terms whose hashes collide: the id is the one whose stored text is the term."""
    import retrieval.index.segments.terms as terms_module

    table = _table(["alpha", "beta", "gamma"])
    table._hashes = np.zeros(3, np.int64)  # every term in one bucket, as if all collided
    table._by_hash = np.array([2, 0, 1], np.int32)
    monkeypatch.setattr(terms_module, "hash", lambda _t: 0, raising=False)
    assert [table.id(t) for t in ["alpha", "beta", "gamma", "delta"]] == [0, 1, 2, -1]
