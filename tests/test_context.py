"""What one question reads (`retrieval/answer/context.py`): sentence vectors kept across questions
in a bounded cache that counts its hits, several passages encoded in one call, languages read
without the passages, and the first quote's cosine taken from a vector already at hand
(`verdict.quote_cosine`) instead of a second encode, or kept from an earlier question (issue 28
item 2).

Real parts: the session's Kiwi and USE-m3, a memory store and the file-backed segment store."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from encoder_support import shared_encoder

from retrieval.answer.context import QuestionContext, SentenceVectors
from retrieval.answer.question import read_question
from retrieval.answer.sentences import Candidate
from retrieval.answer.verdict import quote_cosine
from retrieval.index.memory import MemoryStore
from retrieval.models import Article
from retrieval.text.analyze import Analyzer

ARTICLES = [
    Article(
        "typhoon", "Typhoon Haishen forces evacuations",
        ("Typhoon Haishen hit the southern coast on Monday with winds of 160 kilometres per hour.",
         "About 12,000 residents were evacuated from low-lying villages before the storm made landfall. "
         "Officials said two fishermen were still missing on Tuesday morning. "
         "Power was cut to nearly 80,000 homes across the province."),
        source="wire", file="typhoon.txt",
    ),
    Article(
        "bank", "한국은행, 기준금리 동결",
        ("한국은행 금융통화위원회는 목요일 기준금리를 연 3.5%로 동결했다. 위원회는 물가 상승세가 둔화되고 있지만 가계부채 증가를 우려했다고 밝혔다.",
         "이창용 총재는 기자회견에서 내년 상반기까지 금리 인하를 논의하기 어렵다고 말했다."),
        source="press", file="bank.txt",
    ),
]  # fmt: skip


class Counting:
    """The real encoder, counting its calls and the texts it was given."""

    def __init__(self) -> None:
        self.inner = shared_encoder()
        self.name, self.dim, self.version = self.inner.name, self.inner.dim, self.inner.version
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def store(analyzer: Analyzer) -> MemoryStore:
    st = MemoryStore(analyzer, encoder=shared_encoder())
    st.add(ARTICLES)
    return st


def context(store: MemoryStore, analyzer: Analyzer, question: str, enc: Counting, kept: SentenceVectors | None = None) -> QuestionContext:  # fmt: skip
    asked = read_question(question, analyzer.morphemes)
    return QuestionContext(store.snapshot(), analyzer, None, asked, None, enc, kept)


def uids_of(store: MemoryStore) -> list[int]:
    return [int(u) for u in store.snapshot().uids()]


def sentence(view, i: int) -> str:  # type: ignore[no-untyped-def]
    s, e = view.sentence(i)
    return view.text[s:e]


def test_the_cache_drops_the_least_recently_used_passage_and_counts_its_look_ups() -> None:
    kept = SentenceVectors(capacity=2)
    a, b, c = (np.full((1, 4), x, np.float32) for x in (1, 2, 3))
    kept.put(1, a)
    kept.put(2, b)
    assert kept.get(1) is a  # 1 is now the most recently used
    kept.put(3, c)  # over capacity: 2 goes
    assert kept.get(2) is None and kept.get(1) is a and kept.get(3) is c
    assert len(kept) == 2
    assert (kept.hits, kept.misses) == (3, 1) and kept.hit_rate == 0.75
    assert kept.peek(2) is None and (kept.hits, kept.misses) == (3, 1)  # a peek is not a look-up


def test_missing_passages_are_encoded_in_one_call_and_kept_for_the_next_question(store, analyzer) -> None:  # type: ignore[no-untyped-def]
    enc, kept = Counting(), SentenceVectors()
    ctx = context(store, analyzer, "How many residents were evacuated?", enc, kept)
    uids = uids_of(store)
    got = ctx.sentences_of(uids)
    assert len(enc.calls) == 1  # every passage's sentences in one encode
    snap = store.snapshot()
    for u in uids:
        v = snap.passage(u)
        alone = shared_encoder().encode([sentence(v, i) for i in range(v.n_sentences)])
        assert got[u].shape == (v.n_sentences, 512)
        np.testing.assert_allclose(got[u], alone, atol=1e-5)
    assert (kept.hits, kept.misses) == (0, len(uids))
    again = context(store, analyzer, "Who was missing?", enc, kept)
    assert again.sentence_vectors(uids[1]) is got[uids[1]]
    assert len(enc.calls) == 1 and kept.hits == 1


def test_languages_are_read_without_reading_the_passages(store, analyzer, engine) -> None:  # type: ignore[no-untyped-def]
    ctx = context(store, analyzer, "Who was missing?", Counting())
    uids = uids_of(store)
    langs = ctx.languages_of(uids)
    assert langs == {u: store.snapshot().passage(u).language for u in uids}
    assert set(langs.values()) == {"en", "ko"}
    assert not ctx._views  # no passage was read for it
    snap = engine.store.snapshot()  # the file-backed segment store: from its `lang` column
    seg_uids = [int(u) for u in snap.uids()]
    assert snap.passage_languages(seg_uids) == [snap.passage(u).language for u in seg_uids]
    assert {"en", "ko"} <= set(snap.passage_languages(seg_uids))
    with pytest.raises(KeyError):
        snap.passage_languages([max(seg_uids) + 1000])


def quote(ctx: QuestionContext, uid: int, first: int, last: int) -> list[Candidate]:
    v = ctx.view(uid)
    return [Candidate(uid, i, *v.sentence(i), 1.0, v.language) for i in range(first, last + 1)]


def test_a_whole_passage_quote_takes_the_passages_stored_vector(store, analyzer) -> None:  # type: ignore[no-untyped-def]
    enc = Counting()
    ctx = context(store, analyzer, "How strong was the typhoon?", enc)
    qv = ctx.question_vector
    uid = uids_of(store)[0]  # one sentence: the passage itself
    first = quote(ctx, uid, 0, 0)
    assert first[0].start == 0 and first[0].end == len(ctx.view(uid).text)
    calls = len(enc.calls)
    got = quote_cosine(ctx, first, qv)
    assert len(enc.calls) == calls  # no encode
    fresh = float(shared_encoder().encode([ctx.view(uid).text])[0] @ qv)
    assert got == ctx.passage_cosines([uid])[uid]
    assert abs(got - fresh) < 0.01  # int8 codes of the same text's vector
    assert ctx._sentence_vectors.quotes == {"passage": 1}


def test_a_one_sentence_quote_reads_its_kept_row_and_a_partial_window_is_encoded(store, analyzer) -> None:  # type: ignore[no-untyped-def]
    enc = Counting()
    ctx = context(store, analyzer, "How many homes lost power?", enc)
    qv = ctx.question_vector
    uid = uids_of(store)[1]  # three sentences
    view = ctx.view(uid)
    assert view.n_sentences == 3
    # not kept yet: the sentence is encoded, as before
    one = quote(ctx, uid, 2, 2)
    fresh = float(shared_encoder().encode([sentence(view, 2)])[0] @ qv)
    calls = len(enc.calls)
    assert quote_cosine(ctx, one, qv) == pytest.approx(fresh, abs=1e-6)
    assert len(enc.calls) == calls + 1
    # kept (the similarity stage encoded the passage): its row, no encode
    rows = ctx.sentence_vectors(uid)
    calls = len(enc.calls)
    assert quote_cosine(ctx, one, qv) == float(rows[2] @ qv)
    assert len(enc.calls) == calls
    # two sentences of three: neither the passage nor one row; encoded whole
    two = quote(ctx, uid, 1, 2)
    got = quote_cosine(ctx, two, qv)
    assert enc.calls[-1] == [view.text[two[0].start : two[-1].end]]
    assert got == pytest.approx(float(shared_encoder().encode(enc.calls[-1])[0] @ qv), abs=1e-6)
    assert ctx._sentence_vectors.quotes == {"encoded": 2, "sentence": 1}


def test_an_encoded_quote_is_not_encoded_again_for_a_later_question(store, analyzer) -> None:  # type: ignore[no-untyped-def]
    enc, kept = Counting(), SentenceVectors(quote_capacity=1)
    uid = uids_of(store)[1]
    ctx = context(store, analyzer, "How many homes lost power?", enc, kept)
    two, one = quote(ctx, uid, 1, 2), quote(ctx, uid, 0, 0)
    first = quote_cosine(ctx, two, ctx.question_vector)
    later = context(store, analyzer, "Were any fishermen missing?", enc, kept)
    assert later.question_vector is not None  # its own encode
    calls = len(enc.calls)
    got = quote_cosine(later, two, later.question_vector)
    assert len(enc.calls) == calls  # the kept vector, not a second encode
    fresh = shared_encoder().encode([later.view(uid).text[two[0].start : two[-1].end]])[0]
    assert got == pytest.approx(float(fresh @ later.question_vector), abs=1e-6) and got != first
    quote_cosine(later, one, later.question_vector)  # another quote: encoded, and the first one goes
    quote_cosine(later, two, later.question_vector)
    assert len(enc.calls) == calls + 2
    assert kept.quotes == {"encoded": 3, "kept": 1}
