"""The segment store on disk: write-once segments, tombstones, merges, commits, damage."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval import Analyzer
from retrieval.index.segments.format import VERIFY_BELOW
from retrieval.index.segments.merge_policy import MergePolicy
from retrieval.index.segments.segment import Segment
from retrieval.index.segments.store import COMMIT, SegmentStore
from retrieval.models import Article
from tests.conftest import CORPUS

MERGE_FACTOR = MergePolicy().factor

SEED = [p for p in (CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8").split("\n\n") if p.strip()]


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file with its inode and modification time: what a write must leave alone."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.iterdir()}


def _commit(directory: Path) -> dict[str, object]:
    return json.loads((directory / COMMIT).read_text())


def test_adding_writes_a_new_segment_and_never_touches_old_ones(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add([Article("a", "A", tuple(SEED[:2])), Article("a2", "A2", tuple(SEED[2:8]))])
    before = {n: v for n, v in _files(tmp_path / "index").items() if n.endswith((".seg", ".json"))}
    store.add([Article("b", "B", tuple(SEED[8:12]))])
    after = _files(tmp_path / "index")
    assert all(after[n] == v for n, v in before.items())  # same inode, same mtime: not rewritten
    new = [n for n in after if n not in before and n.endswith(".seg")]
    assert len(new) == 1
    written = (
        sum((tmp_path / "index" / n).stat().st_size for n in after if n not in before)
        + (tmp_path / "index" / COMMIT).stat().st_size
    )
    assert written < 64 * 1024  # four paragraphs, not the index
    # Removing writes a tombstone beside the old segment, and nothing else but the commit.
    store.remove(["a"])
    after_remove = _files(tmp_path / "index")
    assert [n for n in after_remove if n.endswith(".del")] and all(after_remove[n] == v for n, v in before.items())
    assert [s["deleted"] for s in _commit(tmp_path / "index")["segments"]] == [2, 0]  # type: ignore[index]


def test_reopened_store_equals_the_one_that_wrote_it(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add([Article("a", "A", tuple(SEED[:6]))])
    store.add([Article("b", "B", tuple(SEED[6:12]))])
    store.replace([Article("a", "A", tuple(SEED[12:15]))])
    again = SegmentStore(tmp_path / "index", analyzer)
    assert (
        again.snapshot().generation == store.snapshot().generation
        and again.snapshot().uids().tolist() == store.snapshot().uids().tolist()
    )
    for q in ["Kremlin said", "크렘린궁", "Clubhouse app Musk"]:
        terms = analyzer.terms(q)
        assert again.snapshot().search(terms, 10) == store.snapshot().search(terms, 10)
    assert [a.meta for a in again.snapshot().articles()] == [a.meta for a in store.snapshot().articles()]


def test_merge_keeps_scores_and_uids_and_the_tier_policy_runs(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    arts = [
        Article(f"n{i}", f"N{i}", (SEED[i % len(SEED)], SEED[(i + 3) % len(SEED)])) for i in range(2 * MERGE_FACTOR)
    ]
    for art in arts[: MERGE_FACTOR - 1]:
        store.add([art])
    store.remove(["n2"])
    assert len(store.snapshot().segs) == MERGE_FACTOR - 2
    queries = [analyzer.terms(q) for q in ("Kremlin said", "크렘린궁 대변인", "Clubhouse Musk invited")]
    expected = [[(u, round(s, 9)) for u, s in store.snapshot().search(q, 20)] for q in queries]
    uids = store.snapshot().uids().tolist()
    store.force_merge()
    assert len(store.snapshot().segs) == 1 and store.snapshot().uids().tolist() == uids
    assert [[(u, round(s, 9)) for u, s in store.snapshot().search(q, 20)] for q in queries] == expected
    # COMMIT and its copy, one segment (arrays, table, uid runs, anchors)
    assert sorted(p.suffix for p in (tmp_path / "index").iterdir()) == ["", ".anc", ".bak", ".ids", ".json", ".seg"]
    # The policy: a tier that fills up with MERGE_FACTOR segments is merged into one.
    for art in arts[MERGE_FACTOR - 1 : 2 * MERGE_FACTOR - 3]:
        store.add([art])
    assert len(store.snapshot().segs) == MERGE_FACTOR - 1
    store.add([arts[2 * MERGE_FACTOR - 3]])
    assert len(store.snapshot().segs) == 1 and store.snapshot().uids().tolist()[: len(uids)] == uids


def test_a_mostly_deleted_segment_is_rewritten(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add(
        [Article("keep", "K", (SEED[0],)), Article("drop1", "D", tuple(SEED[1:4])), Article("drop2", "D", (SEED[4],))]
    )
    store.remove(["drop1", "drop2"])
    [live] = store.snapshot().segs
    assert live.n_deleted == 0 and live.seg.n_passages == 1
    assert store.snapshot().passage(0).text == SEED[0]


def test_lazy_checksums_only_for_large_segments(tmp_path: Path, analyzer: Analyzer) -> None:
    """A segment above VERIFY_BELOW is opened without reading every byte; smaller ones are
    verified at every open, and any segment whose size or header is off is refused."""
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add([Article("a", "A", tuple(SEED))])
    [live] = store.snapshot().segs
    path = tmp_path / "index" / f"{live.seg.name}.seg"
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    from retrieval.errors import IndexFormatError

    with pytest.raises(IndexFormatError, match="checksum"):
        Segment.open(tmp_path / "index", live.seg.name)
    with pytest.raises(IndexFormatError, match="checksum"):  # what a large segment gets: its blocks are
        Segment.open(tmp_path / "index", live.seg.name, verify=False).passage_text(0)  # checked when read
    assert path.stat().st_size < VERIFY_BELOW
    path.write_bytes(b"garbage!" + bytes(raw[8:]))
    with pytest.raises(IndexFormatError, match="header"):
        Segment.open(tmp_path / "index", live.seg.name, verify=False)


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta", "tombstone", "commit", "missing"])
def test_a_damaged_segment_is_dropped_with_a_warning(
    tmp_path: Path, analyzer: Analyzer, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add([Article("a", "A", tuple(SEED[:5]))])
    store.add([Article("b", "B", tuple(SEED[5:10])), Article("c", "C", (SEED[10],))])
    store.remove(["c"])
    index = tmp_path / "index"
    second = store.snapshot().segs[1].seg.name
    seg = index / f"{second}.seg"
    if damage == "truncate":
        seg.write_bytes(seg.read_bytes()[:-7])
    elif damage == "flip":
        raw = bytearray(seg.read_bytes())
        raw[-3] ^= 0xFF
        seg.write_bytes(bytes(raw))
    elif damage == "meta":
        (index / f"{second}.json").write_text("{not json")
    elif damage == "tombstone":
        [tomb] = index.glob("*.del")
        tomb.write_bytes(b"\xff\xff\xff")
    elif damage == "commit":
        (index / COMMIT).write_text("{broken")
    else:
        seg.unlink()
    again = SegmentStore(index, analyzer)
    assert again.damaged and "rebuilt" in caplog.text
    if damage == "commit":  # opened from its copy, written just before it: nothing lost
        assert [a.meta.id for a in again.snapshot().articles()] == ["a", "b"]
    else:
        assert [a.meta.id for a in again.snapshot().articles()] == ["a"]  # never stale or half data


def test_files_follow_the_umask(tmp_path: Path, analyzer: Analyzer) -> None:
    old = os.umask(0o002)
    try:
        store = SegmentStore(tmp_path / "index", analyzer)
        store.add([Article("a", "A", (SEED[0],))])
        store.remove(["a"])
        store.add([Article("b", "B", (SEED[1],))])
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "index").iterdir()}
    assert modes and all(m == 0o664 for m in modes.values()), modes
    assert (tmp_path / "index").stat().st_mode & 0o777 == 0o775


def test_deleted_passages_never_score(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add([Article("a", "A", ("Aardvarks eat ants.",) * 3), Article("b", "B", ("Aardvarks dig.",))])
    store.remove(["a"])
    uids, scores = store.snapshot().scores(["aardvark"])
    assert uids.tolist() == [3] and np.all(scores > 0)
    assert [u for u, _ in store.snapshot().search(["aardvark"], 10)] == [3]


def test_the_pool_lets_a_batch_go_once_handed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """`AnalysisPool.encode` keeps no handed-over result: a flushed build holds one flush of
    analysed batches, not every batch of the write (a done future holds its result)."""
    import gc
    import weakref
    from concurrent.futures import ThreadPoolExecutor

    from retrieval.index.segments import pool as pool_module

    monkeypatch.setattr(pool_module, "_encode", lambda texts, encoder=None: ({"codes": np.zeros(len(texts))}, []))
    pool = pool_module.AnalysisPool.__new__(pool_module.AnalysisPool)
    pool._pool = ThreadPoolExecutor(1)  # the same futures as the child processes', without spawning Kiwi
    try:
        results = pool.encode([["a"], ["b", "c"], ["d"]])
        first = weakref.ref(next(results)[0]["codes"])
        second = next(results)
        gc.collect()
        assert first() is None, "the first batch's arrays are still referenced after the writer let them go"
        assert len(second[0]["codes"]) == 2 and len(next(results)[0]["codes"]) == 1
    finally:
        pool._pool.shutdown()


def test_the_pool_reads_the_batches_as_its_window_needs_them() -> None:
    """`AnalysisPool.encode` takes a write's batches from an iterator, at most `window` ahead
    of the one handed over: the writer hands over a batch's texts only then, so a build holds
    the texts of the batches in flight, not of the whole write."""
    from retrieval.index.segments.pool import AnalysisPool

    pulled: list[int] = []

    def batches() -> Iterator[list[str]]:
        for i in range(6):
            pulled.append(i)
            yield [SEED[i]]

    pool = AnalysisPool(1)
    try:
        results = pool.encode(batches(), window=2)
        first = next(results)
        assert len(pulled) <= 3, pulled
        assert len(list(results)) == 5 and pulled == list(range(6)) and len(first[0]["sent_count"]) == 1
    finally:
        pool.close()


def test_a_batch_analysed_in_a_child_process_equals_one_analysed_here(tmp_path: Path, analyzer: Analyzer) -> None:
    """What a serving bot does with a big batch: Kiwi in another process, same segment."""
    from retrieval.index.segments.pool import AnalysisPool
    from retrieval.index.store import WriteOptions

    articles = [Article(f"n{i}", f"N{i}", tuple(SEED[i : i + 4])) for i in range(0, len(SEED), 4)]
    here = SegmentStore(tmp_path / "here", analyzer)
    here.add(articles)
    there = SegmentStore(tmp_path / "there", analyzer)
    pool = AnalysisPool(1)
    options = WriteOptions(pool=pool)
    try:
        there.add([Article("first", "F", (SEED[0],))], options)  # the child's term list differs from ours
        there.remove(["first"])
        there.add(articles, options)
    finally:
        pool.close()
    for q in ["Kremlin said", "크렘린궁 대변인", "Clubhouse Musk invited"]:
        terms = analyzer.terms(q)
        assert [(here.snapshot().passage(u).text, round(s, 9)) for u, s in here.snapshot().search(terms, 20)] == [
            (there.snapshot().passage(u).text, round(s, 9)) for u, s in there.snapshot().search(terms, 20)
        ]
    a, b = (
        here.snapshot().passage(int(here.snapshot().uids()[3])),
        there.snapshot().passage(int(there.snapshot().uids()[3])),
    )
    assert (a.text, a.starts, a.ends) == (b.text, b.starts, b.ends)
    assert [a.ids([t])[0] in a.tokens for t in analyzer.terms(a.text)] == [
        b.ids([t])[0] in b.tokens for t in analyzer.terms(b.text)
    ]


def test_postings_made_a_few_passages_at_a_time_are_those_of_one_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    """`format.postings_by_passage` (what a segment's layout runs) gives the arrays of one sort
    over every (term, passage) key, whatever the chunk: empty passages, unused terms, a term
    whose postings span chunks."""
    from retrieval.index.segments import format

    rng = np.random.default_rng(7)
    doc_len = rng.integers(0, 12, 200).astype(np.int32)
    doc_len[[0, 57, 199]] = 0
    tokens = rng.integers(0, 40, int(doc_len.sum())).astype(np.int32)
    tokens[::5] = 3  # one term in nearly every passage
    reference = format.postings(tokens, np.repeat(np.arange(200, dtype=np.int64), doc_len), 45)
    for step in (1, 7, 64, 1 << 14):
        monkeypatch.setattr(format, "POSTING_PASSAGES", step)
        got = format.postings_by_passage(tokens, doc_len, 45)
        assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(reference, got, strict=True)), step
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            format.postings_by_passage(tokens[:0], doc_len * 0, 4),
            format.postings(tokens[:0], np.zeros(0), 4),
            strict=True,
        )
    )


def test_a_merge_written_as_it_is_made_equals_the_merge_made_in_memory(
    tmp_path: Path,
    analyzer: Analyzer,
    encoder,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """`merge_into` (a store's merges: each array made when the file reaches it, the sources read
    with pread, copied a run of passages at a time) writes byte for byte what
    `merge(...).write` writes, for pieces that interleave in uid order (a build merges its
    smallest segments first) with tombstones and vectors; the merged segment holds each live
    passage as its source held it, and its postings are those of one sort of its terms."""
    from retrieval.index import ann
    from retrieval.index.segments import format
    from retrieval.index.segments.builder import merge, merge_into

    monkeypatch.setattr(format, "POSTING_PASSAGES", 3)
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    for i in range(4):
        store.add([Article(f"n{i}{j}", f"N{i}{j}", tuple(SEED[(5 * i + 2 * j) % len(SEED) :][:3])) for j in range(3)])
    store.remove(["n11", "n20"])
    snap = store.snapshot()
    assert len(snap.segs) == 4 and sum(s.n_deleted for s in snap.segs) > 0
    parts = [(s.seg, s.deleted) for s in reversed(snap.segs)]  # not in uid order: the merge reorders
    (tmp_path / "mem").mkdir()
    (tmp_path / "disk").mkdir()
    merge("seg-m", parts).write(tmp_path / "mem")
    out = merge_into(tmp_path / "disk", "seg-m", parts)
    for suffix in (".seg", ".json", ".anc", ".ids"):
        assert (tmp_path / "mem" / f"seg-m{suffix}").read_bytes() == (tmp_path / "disk" / f"seg-m{suffix}").read_bytes()
    live = snap.uids().tolist()
    assert np.asarray(out.a["uid"]).tolist() == sorted(live) and out.encoder == "use-m3/0.2.1"
    for s in snap.segs:
        for row in np.flatnonzero(~s.deleted if s.deleted is not None else np.ones(s.seg.n_passages, bool)).tolist():
            uid = int(s.seg.a["uid"][row])
            a, b = s.seg.view(row), out.view(out.local(uid))
            assert (a.text, a.starts, a.ends, a.paragraph, a.language, a.article) == (
                b.text, b.starts, b.ends, b.paragraph, b.language, b.article
            )  # fmt: skip
            assert s.seg.passage_terms(row) == out.passage_terms(out.local(uid))
            assert s.seg.anchors.of_passage(row) == out.anchors.of_passage(out.local(uid))
            assert np.array_equal(s.seg.vector_rows(np.array([row])), out.vector_rows(np.array([out.local(uid)])))
    # the graph is built from the codes read a slice at a time with pread: the same sketch
    assert np.array_equal(np.asarray(out.vector_codes()), out.a["vectors"])
    assert np.array_equal(ann.sketch(out.vector_codes(), "levels", 0.5), ann.sketch(out.a["vectors"], "levels", 0.5))
    a = out.a
    docs = np.repeat(np.arange(out.n_passages, dtype=np.int64), np.asarray(a["doc_len"]))
    reference = format.postings(np.asarray(a["tokens"]), docs, out.n_terms)
    assert all(np.array_equal(x, a[k]) for x, k in zip(reference, ("post_ptr", "post_doc", "post_tf"), strict=True))
