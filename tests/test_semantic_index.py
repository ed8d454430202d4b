"""Passage vectors in the index (issue 19, the index side): written beside each segment by the
configured encoder, stamped, merged and tombstoned with their segment, searched by `dense`; an
index without them (or with another encoder's) keeps answering lexically and says so."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval import Analyzer, Article, Engine, EngineConfig, MemoryStore, SegmentStore
from retrieval.errors import IndexFormatError
from retrieval.index.segments.segment import Segment
from retrieval.index.segments.store import COMMIT
from retrieval.index.twins.find import article_views, sentence_list
from retrieval.text.encoder import stamp_of

ROOT = Path(__file__).resolve().parent.parent

ARTICLES = [
    Article(
        "rates",
        "Rates",
        ("The central bank raised its key interest rate by a quarter point.", "Markets had expected the move."),
    ),
    Article(
        "storm", "Storm", ("A typhoon hit the southern coast and thousands were evacuated.", "Two people are missing.")
    ),
    Article("ko", "한국", ("한국은행이 기준금리를 0.25%포인트 인상했다.", "삼성전자는 3분기 실적을 발표했다.")),
    Article("mvp", "MVP", ("The striker was named the league's most valuable player.",)),
]


class Counting:
    """The real encoder, counting the texts it was asked to encode."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.texts = inner, 0
        self.name, self.dim, self.version = inner.name, inner.dim, inner.version

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return self.inner.encode(texts)


class Renamed(Counting):
    """The same vectors under another version: an index stamped with it does not fit."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        super().__init__(inner)
        self.version = "9.9"


def _q(encoder, text: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    return encoder.encode([text])[0]


def test_vectors_are_written_stamped_and_found(tmp_path: Path, analyzer: Analyzer, encoder) -> None:  # type: ignore[no-untyped-def]
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    store.add(ARTICLES)
    snap = store.snapshot()
    assert snap.encoder_stamp == stamp_of(encoder) == "use-m3/0.2.1"
    [live] = snap.segs
    assert live.seg.a["vectors"].dtype == np.int8 and live.seg.a["vectors"].shape == (7, 512)  # 512 B a passage
    meta = json.loads((tmp_path / "index" / f"{live.seg.name}.json").read_text())
    assert meta["encoder"] == "use-m3/0.2.1" and "vectors_crc32" in meta
    assert json.loads((tmp_path / "index" / COMMIT).read_text())["encoder"] == "use-m3/0.2.1"
    hits = snap.dense(_q(encoder, "태풍 때문에 주민들이 대피했다"), 3)  # Korean question, English passage
    assert hits[0][0] == 2 and len(hits) == 3 and hits[0][1] >= hits[1][1] >= hits[2][1]
    v = snap.vectors([2, 0])
    assert v.shape == (2, 512) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert abs(float(v[0] @ _q(encoder, "태풍 때문에 주민들이 대피했다")) - hits[0][1]) < 1e-5
    again = SegmentStore(tmp_path / "index", analyzer)  # read back from disk, no encoder needed
    assert again.snapshot().dense(_q(encoder, "태풍 때문에 주민들이 대피했다"), 3) == hits


def test_vectors_survive_tombstones_and_merges(tmp_path: Path, analyzer: Analyzer, encoder) -> None:  # type: ignore[no-untyped-def]
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    for art in ARTICLES:  # one segment each
        store.add([art])
    q = _q(encoder, "Who was the most valuable player?")
    before = store.snapshot().dense(q, 10)
    assert before[0][0] == 6 and len(before) == 7
    store.remove(["mvp"])  # a tombstone: its dense hit disappears
    after = store.snapshot().dense(q, 10)
    assert 6 not in [u for u, _ in after] and after == [h for h in before if h[0] != 6]
    with pytest.raises(KeyError):
        store.snapshot().vectors([6])
    store.replace([Article("storm", "Storm", ("The typhoon weakened overnight; evacuation orders were lifted.",))])
    q2 = _q(encoder, "evacuation orders lifted")
    pre_merge = store.snapshot().dense(q2, 10)
    vec_pre = store.snapshot().vectors([u for u, _ in pre_merge])
    store.force_merge()
    [live] = store.snapshot().segs
    assert live.seg.encoder == "use-m3/0.2.1" and store.snapshot().encoder_stamp == "use-m3/0.2.1"
    post = store.snapshot().dense(q2, 10)
    assert [u for u, _ in post] == [u for u, _ in pre_merge] and np.allclose(
        [s for _, s in post], [s for _, s in pre_merge]
    )
    assert np.array_equal(store.snapshot().vectors([u for u, _ in post]), vec_pre)
    assert SegmentStore(tmp_path / "index", analyzer).snapshot().dense(q2, 10) == post


def test_memory_and_segment_stores_agree_on_dense(tmp_path: Path, analyzer: Analyzer, encoder) -> None:  # type: ignore[no-untyped-def]
    seg = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    mem = MemoryStore(analyzer, encoder=encoder)
    for store in (seg, mem):
        store.add(ARTICLES[:2])
        store.add(ARTICLES[2:])
        store.remove(["rates"])
    assert seg.snapshot().encoder_stamp == mem.snapshot().encoder_stamp == "use-m3/0.2.1"
    for text in ("금리 인상", "Samsung quarterly results", "missing people after the storm"):
        a, b = seg.snapshot().dense(_q(encoder, text), 4), mem.snapshot().dense(_q(encoder, text), 4)
        assert [u for u, _ in a] == [u for u, _ in b] and np.allclose([s for _, s in a], [s for _, s in b], atol=1e-6)
    uids = seg.snapshot().uids().tolist()
    assert np.allclose(seg.snapshot().vectors(uids), mem.snapshot().vectors(uids), atol=1e-6)


def test_a_vector_checksum_mismatch_is_detected(tmp_path: Path, analyzer: Analyzer, encoder) -> None:  # type: ignore[no-untyped-def]
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    store.add(ARTICLES)
    [live] = store.snapshot().segs
    index = tmp_path / "index"
    meta_path = index / f"{live.seg.name}.json"
    meta = json.loads(meta_path.read_text())
    t = meta["arrays"]["vectors"]
    path = index / f"{live.seg.name}.seg"
    raw = bytearray(path.read_bytes())
    raw[t["offset"] + 700] ^= 0x55  # one code of the second passage
    path.write_bytes(bytes(raw))
    from retrieval.index.fsutil import seal
    from retrieval.index.segments.blocks import BlockSums

    sums = BlockSums()  # even with the file's block checksums made to fit
    sums.feed(bytes(raw))
    meta["blocks"] = sums.finish()
    meta_path.write_bytes(seal(meta))
    with pytest.raises(IndexFormatError, match="vectors fail their checksum"):
        Segment.open(index, live.seg.name, verify=True)
    reopened = SegmentStore(index, analyzer)  # a small segment is verified at open: dropped, to be rebuilt
    assert any("vectors fail their checksum" in d for d in reopened.damaged) and reopened.snapshot().n_passages == 0


def test_none_writes_no_vectors(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add(ARTICLES)
    snap = store.snapshot()
    assert snap.encoder_stamp is None and snap.dense(np.ones(512, np.float32) / 512**0.5, 5) == []
    assert all("vectors" not in s.seg.a for s in snap.segs)
    meta = json.loads(next((tmp_path / "index").glob("*.json")).read_text())
    assert "vectors" not in meta["arrays"] and "encoder" not in meta
    with pytest.raises(LookupError):
        snap.vectors([0])


def _engine(tmp_path: Path, analyzer: Analyzer, encoder, name: str = "use-m3") -> Engine:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(ROOT / "corpus", corpus)
    return Engine.open(EngineConfig(corpus, tmp_path / "data", encoder=name), analyzer=analyzer, encoder=encoder)


def test_an_index_without_vectors_answers_lexically_and_says_so(
    tmp_path: Path, analyzer: Analyzer, encoder, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    lexical = _engine(tmp_path, analyzer, None, "none")  # an index as built before vectors existed
    assert lexical.encoder is None and lexical.store.snapshot().encoder_stamp is None
    expected = lexical.ask("What did the Kremlin say?")
    with caplog.at_level(logging.WARNING):
        engine = _engine(tmp_path, analyzer, encoder)
    assert engine.encoder is None  # the index's vectors do not fit: questions are not encoded
    assert sum("quoteqa reindex" in r.getMessage() for r in caplog.records) == 1
    got = engine.ask("What did the Kremlin say?")
    assert got.quotes == expected.quotes and got.verdict == expected.verdict
    engine.rebuild()  # `quoteqa reindex` encodes every passage
    assert engine.encoder is encoder and engine.store.snapshot().encoder_stamp == "use-m3/0.2.1"
    assert engine.store.snapshot().dense(_q(encoder, "크렘린궁 대변인"), 1)


def test_a_stamp_change_re_encodes_on_reindex(tmp_path: Path, analyzer: Analyzer, encoder) -> None:  # type: ignore[no-untyped-def]
    first = Counting(encoder)
    engine = _engine(tmp_path, analyzer, first)
    snap = engine.store.snapshot()
    n = snap.n_passages
    # every passage once, and the sentences of the shipped article once: the writer aligns its
    # two halves (its translation twin) before it commits (retrieval/index/twins/)
    assert snap.twin_links is not None and list(snap.twin_links.links) == ["clubhouse-putin-musk"]
    sentences = len(sentence_list(article_views(snap, int(snap.uids()[0])))[1])
    assert first.texts == n + sentences and engine.encoder is first
    other = Renamed(encoder)
    moved = _engine(tmp_path, analyzer, other)
    assert moved.encoder is None and other.texts == 0  # use-m3/0.2.1 vectors are not comparable with use-m3/9.9
    moved.rebuild()
    assert other.texts == n + sentences and moved.encoder is other and moved.store.snapshot().encoder_stamp == "use-m3/9.9"
    back = _engine(tmp_path, analyzer, None, "none")  # `none` reads an index with vectors and ignores them
    assert back.encoder is None and back.ask("What did the Kremlin say?").quotes


def test_deletions_keep_the_vectors_and_a_write_without_the_encoder_drops_the_stamp(
    tmp_path: Path, analyzer: Analyzer, encoder
) -> None:  # type: ignore[no-untyped-def]
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    store.add(ARTICLES)
    plain = SegmentStore(tmp_path / "index", analyzer)  # QUOTEQA_ENCODER=none on the same index
    plain.remove(["mvp"])
    assert plain.snapshot().encoder_stamp == "use-m3/0.2.1"
    plain.add([Article("new", "New", ("A passage written without vectors.",))])
    assert plain.snapshot().encoder_stamp is None  # half the passages would have none: no dense at all
    store.refresh()
    store.add([Article("newer", "Newer", ("Still no vectors until reindexed.",))])
    assert store.snapshot().encoder_stamp is None and store.snapshot().dense(_q(encoder, "vectors"), 3) == []


def test_a_big_build_encodes_in_two_processes_with_the_same_vectors(
    tmp_path: Path, analyzer: Analyzer, encoder, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from encoder_support import CACHE

    from retrieval.index.segments import writer

    monkeypatch.setattr(writer, "ENCODE_POOL_MIN", 4)
    monkeypatch.setattr(writer, "ENCODE_BATCH", 3)  # three batches over two processes
    counted = Counting(encoder)
    pooled = SegmentStore(tmp_path / "pooled", analyzer, encoder=counted, encoder_name="use-m3", encoder_cache=CACHE)
    pooled.add(ARTICLES)
    assert counted.texts == 0  # the children encoded every passage
    here = MemoryStore(analyzer, encoder=encoder)
    here.add(ARTICLES)
    uids = pooled.snapshot().uids().tolist()
    assert pooled.snapshot().encoder_stamp == "use-m3/0.2.1"
    assert np.allclose(pooled.snapshot().vectors(uids), here.snapshot().vectors(uids), atol=1e-6)
    assert [p.text for p in map(pooled.snapshot().passage, uids)] == [
        p.text for p in map(here.snapshot().passage, uids)
    ]
