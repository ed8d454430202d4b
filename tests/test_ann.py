"""The per-segment HNSW graph (retrieval/index/ann.py): written beside big segments, searched with
tombstones dropped and cosines rescored exactly, and never a reason to fail: a missing or damaged
graph means exact search, a warning, and `verify` rebuilds it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from retrieval import Analyzer, Article, SegmentStore
from retrieval.index import ann
from retrieval.index import vectors as V

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = (
    "What did the Kremlin say?",
    "클럽하우스에 누구를 초대했나요?",
    "typhoon evacuation",
    "금리 인상",
    "Who is the MVP?",
)


@pytest.fixture
def small_graphs(monkeypatch: pytest.MonkeyPatch) -> ann.HnswParams:
    """Graphs from 8 rows (the shipped threshold is tens of thousands: too many to encode in a test)."""
    params = ann.HnswParams(min_rows=8)
    monkeypatch.setattr(ann, "PARAMS", params)
    return params


def _articles() -> list[Article]:
    text = (ROOT / "corpus" / "clubhouse-putin-musk.txt").read_text("utf-8")
    paras = [p.strip() for p in text.split("\n\n") if p.strip()]
    extra = [
        Article(
            "rates",
            "Rates",
            ("The central bank raised its key interest rate by a quarter point.", "Markets expected it."),
        ),
        Article(
            "storm", "Storm", ("A typhoon hit the southern coast and thousands were evacuated.", "Two are missing.")
        ),
        Article("ko", "한국", ("한국은행이 기준금리를 0.25%포인트 인상했다.", "삼성전자는 3분기 실적을 발표했다.")),
        Article("mvp", "MVP", ("The striker was named the league's most valuable player.",)),
    ]
    return [Article("clubhouse", "Clubhouse", tuple(paras))] + extra


def _exact(store: SegmentStore, q: np.ndarray, k: int) -> list[tuple[int, float]]:
    snap = store.snapshot()
    blocks = [
        (s.seg.a["vectors"], s.seg.vector_norms, s.seg.a["uid"], None if s.deleted is None else ~s.deleted)
        for s in snap.segs  # type: ignore[attr-defined]
    ]
    return V.nearest(q, blocks, k)


def _same(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    assert [u for u, _ in a] == [u for u, _ in b]
    assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-6)


def test_a_big_segment_gets_a_graph_that_finds_what_exact_search_finds(
    tmp_path: Path,
    analyzer: Analyzer,
    encoder,
    small_graphs,  # type: ignore[no-untyped-def]
) -> None:
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    store.add(_articles())
    [live] = store.snapshot().segs  # type: ignore[attr-defined]
    graph_file, meta_file = ann.paths(tmp_path / "index", live.seg.name)
    meta = json.loads(meta_file.read_text())
    assert graph_file.stat().st_size == meta["size"] and meta["rows"] == live.seg.n_passages
    assert meta["encoder"] == "use-m3/0.2.1" and meta["params"]["sketch"] == "levels" and meta["format"] == ann.FORMAT
    reopened = SegmentStore(tmp_path / "index", analyzer)  # from disk: the graph is mapped on first use
    for text in QUESTIONS:
        q = encoder.encode([text])[0]
        got = reopened.snapshot().dense(q, 5)
        assert ann.index_of(reopened.snapshot().segs[0].seg) is not None  # type: ignore[attr-defined]
        _same(got, _exact(reopened, q, 5))
    assert reopened.verify() == []


def test_tombstoned_passages_never_come_back_and_a_merge_gets_a_new_graph(
    tmp_path: Path,
    analyzer: Analyzer,
    encoder,
    small_graphs,  # type: ignore[no-untyped-def]
) -> None:
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    store.add(_articles())
    first = store.snapshot().segs[0].seg.name  # type: ignore[attr-defined]
    store.add([Article("late", "Late", ("A small segment: searched exactly, no graph.",))])
    assert ann.paths(tmp_path / "index", first)[0].exists()  # kept by the next commit
    late = store.snapshot().segs[-1].seg.name  # type: ignore[attr-defined]
    assert not ann.paths(tmp_path / "index", late)[0].exists()
    q = encoder.encode(["What did the Kremlin say?"])[0]
    before = store.snapshot().dense(q, 40)
    store.remove(["clubhouse"])
    gone = {u for u, _ in before} - {u for u, _ in store.snapshot().dense(q, 40)}
    after = store.snapshot().dense(q, 10)
    assert gone and not gone & {u for u, _ in after}
    _same(after, _exact(store, q, 10))
    store.force_merge()
    [live] = store.snapshot().segs  # type: ignore[attr-defined]
    assert ann.paths(tmp_path / "index", live.seg.name)[0].exists()
    assert not ann.paths(tmp_path / "index", first)[0].exists()  # collected with its segment
    _same(store.snapshot().dense(q, 10), after)


def _old_graph(directory: Path, name: str, codes: np.ndarray, stamp: str, fmt: int) -> None:
    """A graph as format 1 wrote it (usearch's own copy of the int8 codes), its metadata sealed
    as `fmt` and fitting the file in size and CRC: only the format or the header can tell."""
    from retrieval.index.fsutil import seal, unseal

    meta = ann.build(directory, name, codes, stamp, ann.HnswParams(min_rows=1, sketch="codes"))
    assert meta is not None
    _, meta_file = ann.paths(directory, name)
    if fmt != ann.FORMAT:
        meta["format"] = fmt
    else:  # today's format, but the metadata says the graph holds sign bits
        meta["params"] = {**meta["params"], "sketch": ann.PARAMS.sketch, "level": ann.PARAMS.level}
    meta_file.write_bytes(seal(meta))
    assert unseal(meta_file.read_bytes())["params"]["sketch"] in ("codes", ann.PARAMS.sketch)


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "other-rows", "old-format", "other-storage"])
def test_a_bad_graph_means_exact_search_a_warning_and_verify_rebuilds_it(
    tmp_path: Path,
    analyzer: Analyzer,
    encoder,
    small_graphs,
    caplog: pytest.LogCaptureFixture,
    damage: str,  # type: ignore[no-untyped-def]
) -> None:
    store = SegmentStore(tmp_path / "index", analyzer, encoder=encoder)
    store.add(_articles())
    name = store.snapshot().segs[0].seg.name  # type: ignore[attr-defined]
    graph_file, meta_file = ann.paths(tmp_path / "index", name)
    if damage == "missing":
        graph_file.unlink()
    elif damage == "truncated":
        graph_file.write_bytes(graph_file.read_bytes()[:100])
    elif damage == "garbage":  # same size, other bytes: only the checksum sees it
        graph_file.write_bytes(bytes(graph_file.stat().st_size))
    elif damage in ("old-format", "other-storage"):
        seg = store.snapshot().segs[0].seg  # type: ignore[attr-defined]
        fmt = 1 if damage == "old-format" else ann.FORMAT
        _old_graph(tmp_path / "index", name, np.asarray(seg.a["vectors"]), seg.encoder, fmt)
    else:
        meta = json.loads(meta_file.read_text())
        meta_file.write_text(json.dumps({**meta, "rows": meta["rows"] + 1}))
    reopened = SegmentStore(tmp_path / "index", analyzer)
    q = encoder.encode(["What did the Kremlin say?"])[0]
    with caplog.at_level(logging.WARNING, logger="retrieval.index.ann"):
        try:
            got = reopened.snapshot().dense(q, 5)
        except Exception as exc:  # pragma: no cover - the failure this test is for
            pytest.fail(f"a bad graph broke dense search: {exc!r}")
    _same(got, _exact(reopened, q, 5))
    if damage != "garbage":  # garbage of the right size is found by verify's checksum
        warned = [r.getMessage() for r in caplog.records if "quoteqa reindex" in r.getMessage()]
        assert len(warned) == 1, warned
        reopened.snapshot().dense(q, 5)  # once per open segment, not per question
        assert len([r for r in caplog.records if "quoteqa reindex" in r.getMessage()]) == 1
    from retrieval.index.segments.verify import check  # `quoteqa verify` names the file (and changes nothing)

    named = {p.file for p in check(tmp_path / "index").problems}
    assert named == {str(meta_file if damage == "other-rows" else graph_file)}, named
    problems = reopened.verify()
    assert len(problems) == 1 and name in problems[0] and "rebuilt" in problems[0]
    assert reopened.verify() == []
    fresh = SegmentStore(tmp_path / "index", analyzer)
    assert ann.index_of(fresh.snapshot().segs[0].seg) is not None  # type: ignore[attr-defined]
    _same(fresh.snapshot().dense(q, 5), got)


def test_the_graph_holds_two_bits_a_dimension_not_a_second_copy_of_the_codes(tmp_path: Path) -> None:
    """The shipped graph stores dim / 4 bytes a row: against a graph over the codes themselves
    (format 1) it is smaller by 3/4 of the codes, so the only full copy of the codes is the
    segment's. The two bits are the unit row's component above +t and above −t."""
    rng = np.random.default_rng(3)
    codes = V.quantise(rng.standard_normal((3000, 512)).astype(np.float32))
    sketched = ann.build(tmp_path, "b", codes, "x", ann.HnswParams(min_rows=1))
    copied = ann.build(tmp_path, "c", codes, "x", ann.HnswParams(min_rows=1, sketch="codes"))
    assert sketched is not None and copied is not None
    assert (copied["size"] - sketched["size"]) / len(codes) >= 512 * 3 / 4
    bits = np.unpackbits(ann.sketch(codes, "levels", 0.5), axis=1).astype(bool)
    unit = V.dequantise(codes)
    t = 0.5 / np.sqrt(512)
    assert bits.shape == (3000, 1024)
    assert np.array_equal(bits[:, :512], unit > t) and np.array_equal(bits[:, 512:], unit > -t)
    assert np.array_equal(np.unpackbits(ann.sketch(codes, "signs"), axis=1).astype(bool), codes > 0)


def test_graph_search_over_codes_keeps_recall_with_many_tombstones() -> None:
    """On clustered vectors (no encoder), with a third of the rows deleted: recall@10 ≥ 0.98 and
    only live rows, cosines exactly the exact path's."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((60, 64)).astype(np.float32)
    x = centres[rng.integers(0, 60, 6000)] + 0.8 * rng.standard_normal((6000, 64)).astype(np.float32)
    codes = V.quantise(x / np.linalg.norm(x, axis=1, keepdims=True))
    norms = V.row_norms(codes)
    params = ann.HnswParams(min_rows=1)
    dead = rng.random(len(codes)) < 0.33
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        ann.build(Path(d), "t", codes, "x", params)
        graph = ann.AnnIndex.open(Path(d), "t", len(codes), "x", params)
        recall = []
        for i in rng.integers(0, len(x), 40):  # questions near stored passages, as real ones are
            q = x[i] + 0.5 * rng.standard_normal(64).astype(np.float32)
            q /= np.linalg.norm(q)
            rows, sims = graph.top(codes, norms, q, 20, ~dead, int((~dead).sum()))  # type: ignore[misc]
            ref_rows, ref_sims = V._block_top(codes, norms, q, 20, ~dead)
            assert not dead[rows].any() and len(rows) == 20
            recall.append(len(set(rows[:10].tolist()) & set(ref_rows[:10].tolist())) / 10)
            both = {int(r): float(s) for r, s in zip(ref_rows, ref_sims, strict=True)}
            for r, s in zip(rows.tolist(), sims.tolist(), strict=True):
                if r in both:
                    assert abs(both[r] - s) < 1e-6
    assert np.mean(recall) >= 0.98


def test_bench_recall_counts_tied_passages_and_misses() -> None:
    """measure/ann_bench.py's recall@10: a found passage tied with the exact 10th counts, a
    worse one does not (the bench corpus repeats sentences, so ties are common)."""
    from measure.ann_bench import recall_at_10

    exact = [0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert recall_at_10(exact, exact) == 1.0
    assert recall_at_10([0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 + 1e-7], exact) == 1.0  # another tied one
    assert recall_at_10([0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5, 0.4, 0.3], exact) == 0.8


def test_bench_untied_questions_have_one_distinct_top_ten() -> None:
    """measure/ann_bench.py's `untied`: the recall figure restricted to questions whose exact top
    10 holds no equal cosines and is cut clear of the 11th (near-duplicates apart)."""
    from measure.ann_bench import untied

    distinct = [0.9 - 0.01 * i for i in range(11)]
    assert untied(distinct)
    assert untied(distinct[:10])  # an index of 10 rows has no 11th
    assert not untied(distinct[:9] + [0.8, 0.8])  # the 10th tied with the 11th: the top 10 is not one set
    assert not untied([0.9, 0.9 - 1e-7] + distinct[2:])  # two equal cosines inside the top 10
    assert untied(distinct[:10] + [0.0] * 5)  # only the top 11 counts


def test_bench_counts_passage_reads_and_the_sentence_cache(engine) -> None:  # type: ignore[no-untyped-def]
    """measure/ann_bench.py's answer figures (issue 28 item 2): passages read per question, and
    where the first quotes' vectors came from, on the shipped corpus with the real encoder."""
    from measure.ann_bench import passage_reads, sentence_vector_figures

    questions = ["What did the Kremlin say?", "크렘린궁은 뭐라고 말했어?", "Who invited Putin to Clubhouse?"]
    reads = passage_reads(engine, questions)
    assert reads > 0
    figures = sentence_vector_figures(engine)
    quotes = figures["first_quote_vector"]
    assert sum(v for k, v in quotes.items() if k != "encoded_share") >= len(questions)  # one first quote each
    assert 0.0 <= quotes["encoded_share"] <= 1.0
    cache = figures["sentence_cache"]
    assert cache["hits"] + cache["misses"] >= 0 and cache["capacity"] == 4096
