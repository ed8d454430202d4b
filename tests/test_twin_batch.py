"""A commit's twin check over many articles at once (`retrieval/index/twins/batch.py`) finds what
`TwinFinder.find` finds one article at a time. Real Kiwi, the real USE-m3 encoder, the
file-backed store with an HNSW graph on each segment (the threshold lowered) and tombstones.

The corpus: the shipped article (two halves: its own twin), the test twins of `test_twins`
(separate articles, a loose translation, an unrelated story), and when `../shared/data` is here,
news stories in Korean and in English (every one has its twin) with KorQuAD and XQuAD articles
(none has), read at test time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from encoder_support import CACHE as ENCODER_CACHE
from encoder_support import shared_encoder
from test_twins import SHIPPED, separate_corpus

from retrieval import Analyzer, Engine, EngineConfig
from retrieval.index import ann
from retrieval.index.segments.flush import FlushPolicy
from retrieval.index.twins import batch
from retrieval.index.twins import links as twin_links
from retrieval.index.twins.find import TwinCheck, TwinFinder, _mean, article_language, article_views
from retrieval.text.encoder import stamp_of

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEWS = SHARED / "ko-en-news-dev"
STORIES = 30  # news stories (60 articles)
SQUAD = 12  # articles of each of KorQuAD and XQuAD (2 paragraphs each)


def _news_rows() -> list[dict[str, str]]:
    if not (NEWS / "stories.jsonl").exists():
        return []
    ko = (NEWS / "korean-english-park.dev.ko").read_text("utf-8").splitlines()
    en = (NEWS / "korean-english-park.dev.en").read_text("utf-8").splitlines()
    rows = []
    for line in (NEWS / "stories.jsonl").read_text("utf-8").splitlines()[:STORIES]:
        story = json.loads(line)
        for lang, lines in (("ko", ko), ("en", en)):
            paras = [lines[i].strip() for i in story["lines"] if lines[i].strip()]
            rows.append({"id": f"s{story['story']}-{lang}", "title": paras[0][:60], "text": "\n\n".join(paras)})
    for name, tag in (("KorQuAD_v1.0_dev.json", "kq"), ("xquad.en.json", "xq")):
        path = SHARED / name
        if path.exists():
            for i, art in enumerate(json.loads(path.read_text("utf-8"))["data"][:SQUAD]):
                text = "\n\n".join(p["context"] for p in art["paragraphs"][:2])
                rows.append({"id": f"{tag}{i}", "title": art.get("title", tag), "text": text})
    return rows


@pytest.fixture(scope="module")
def small_graphs() -> Iterator[None]:
    """A graph on every segment of 8 rows or more (the shipped threshold is tens of thousands)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ann, "PARAMS", ann.HnswParams(min_rows=8))
        yield


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer, small_graphs: None) -> Engine:
    base = tmp_path_factory.mktemp("twin-batch")
    corpus = base / "corpus"
    separate_corpus(corpus)
    (corpus / "club.txt").write_text(SHIPPED, "utf-8")
    rows = _news_rows()
    (corpus / "more.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    config = EngineConfig(
        corpus, base / "data", encoder="use-m3", encoder_cache=ENCODER_CACHE, flush=FlushPolicy(150, 10_000)
    )
    engine = Engine.open(config, analyzer=analyzer, encoder=shared_encoder())
    if rows:  # an article taken out: its segment keeps its rows as tombstones
        (corpus / "more.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows if r["id"] != "kq1"), "utf-8"
        )
        engine.reload()
    return engine


def _one_at_a_time(snap: Any, ids: list[str]) -> dict[str, twin_links.Link]:
    """`TwinFinder.find` on the snapshot itself, article by article (a finder of its own)."""
    finder = TwinFinder(shared_encoder())
    out = {}
    for aid in ids:
        views = article_views(snap, snap.article_uid(aid))
        found = finder.find(snap, views)
        if found is not None:
            twin = found[0][0].article
            out[aid] = twin_links.Link(views[0].article.text_hash, twin.id, twin.text_hash, dict(found[1]))
    return out


def _batched(snap: Any, ids: list[str]) -> tuple[dict[str, twin_links.Link], batch.CheckReader]:
    """The commit's check of `ids`, asked ahead a few articles at a time (several runs)."""
    finder = TwinFinder(shared_encoder(), check=TwinCheck(batch_from=1, batch=16))
    state = twin_links.LinkState(stamp_of(finder.encoder), {}, set(ids))
    reader = batch.CheckReader(snap)
    twin_links._check_pending(state, reader, finder)
    return state.records, reader


def test_the_store_under_test_has_graphs_tombstones_and_several_segments(engine: Engine) -> None:
    snap = engine.store.snapshot()
    assert len(snap.segs) >= 2 or not _news_rows()
    assert all(ann.index_of(s.seg) is not None for s in snap.segs if s.seg.n_passages >= 8)
    assert any(ann.index_of(s.seg) is None for s in snap.segs) or not _news_rows()  # and one searched exactly
    assert any(s.deleted is not None for s in snap.segs) or not _news_rows()


@pytest.mark.parametrize("hold", [ann.HOLD_BYTES, 0])
def test_searches_together_give_each_query_its_own_hits(
    engine: Engine, hold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hold` 0: every segment's codes read a query's rows at a time, as a merged segment's are."""
    monkeypatch.setattr(ann, "HOLD_BYTES", hold)
    snap = engine.store.snapshot()
    rng = np.random.default_rng(3)
    means = []
    for aid in sorted(snap.article_hashes()):
        views = article_views(snap, snap.article_uid(aid))
        means.append(_mean(snap.vectors([v.uid for v in views])))
    q = np.stack(means)
    noisy = q + 0.3 * rng.standard_normal(q.shape).astype(np.float32)
    q = np.concatenate([q, noisy / np.linalg.norm(noisy, axis=1, keepdims=True)]).astype(np.float32)
    for k in (1, 40, 400):
        assert snap.dense_many(q, k) == [snap.dense(row, k) for row in q]


def test_the_bound_is_above_every_cross_language_cosine(engine: Engine) -> None:
    snap = engine.store.snapshot()
    arts = {}
    for aid in sorted(snap.article_hashes()):
        views = article_views(snap, snap.article_uid(aid))
        arts[aid] = (views, _mean(snap.vectors([v.uid for v in views])), article_language(views))
    cross = batch.CrossBound(snap)
    ids = [a for a, (_, m, lang) in arts.items() if lang in ("ko", "en") and m is not None]
    others = ["en" if arts[a][2] == "ko" else "ko" for a in ids]
    keys = snap.stories_of(np.array([arts[a][0][0].uid for a in ids])).tolist()
    bounds = cross.bounds(np.stack([arts[a][1] for a in ids]), others, keys)
    gaps = []
    for aid, other, bound in zip(ids, others, bounds.tolist(), strict=True):
        exact = [
            float(arts[aid][1] @ m)
            for b, (views, m, _) in arts.items()
            if b != aid and m is not None and any(v.language == other for v in views)
        ]
        if exact:
            assert bound >= max(exact), aid
            gaps.append(bound - max(exact))
    assert gaps and max(gaps) < 0.05  # an upper bound, and a close one (int8 rounding, not a guess)


def test_the_check_together_links_what_one_at_a_time_links(engine: Engine) -> None:
    snap = engine.store.snapshot()
    ids = sorted(snap.article_hashes())
    alone = _one_at_a_time(snap, ids)
    together, reader = _batched(snap, ids)
    assert together == alone
    assert snap.twin_links is not None and dict(snap.twin_links.links) == alone  # what the build found
    assert alone["club"].twin == "club" and alone["club-ko"].twin == "club-en" and "typhoon-ko" not in alone
    if _news_rows():
        assert sum(a.startswith("s") for a in alone) >= STORIES  # most stories' pairs, both ways
        assert 0 < reader.ruled_out < len(ids)  # the bound spared some searches, not every one


def test_a_bound_set_too_low_would_be_caught(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above can fail: a bound 0.3 below the true cosines rules out twins."""
    snap = engine.store.snapshot()
    ids = sorted(snap.article_hashes())
    monkeypatch.setattr(batch, "SLACK", -0.3)
    together, reader = _batched(snap, ids)
    assert together != _one_at_a_time(snap, ids)
    assert reader.ruled_out > 0


def test_the_measurement_compares_both_ways(engine: Engine, tmp_path: Path) -> None:
    """`measure.twin_cost --check` on this index: every live article checked both ways, the
    same links, and the figures it prints."""
    from measure import twin_cost

    snap = engine.store.snapshot()
    out = tmp_path / "check.json"
    code = twin_cost.check(engine.config.data_dir, out, 10_000, 10_000, ENCODER_CACHE)
    row = json.loads(out.read_text("utf-8"))
    assert code == 0 and row["identical_to_one_at_a_time"] is True
    assert row["run"] == row["serial"] == snap.n_articles
    assert row["twins_found"] == len(snap.twin_links.links) and row["batched_ms_per_article"] > 0
