"""A big write in bounded pieces (`retrieval/index/segments/flush.py`): a segment committed every
N passages, merges capped, a crash between two flushes losing nothing committed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from build_support import answers, passages, postings, write_batch

from retrieval import Analyzer, Engine, EngineConfig
from retrieval.index.segments.flush import FlushPolicy
from retrieval.index.segments.store import SegmentStore
from tests.conftest import CORPUS, open_engine


def _build(tmp_path: Path, name: str, analyzer: Analyzer, flush: FlushPolicy | None = None) -> Engine:
    corpus = tmp_path / name / "corpus"
    shutil.copytree(CORPUS, corpus)
    write_batch(corpus / "zoo.jsonl", "zoo", 150)
    kw = {"flush": flush} if flush else {}
    return open_engine(EngineConfig(corpus, tmp_path / name / "data", **kw), analyzer)


def test_flushed_build_answers_as_one_piece(tmp_path: Path, analyzer: Analyzer) -> None:
    whole = _build(tmp_path, "whole", analyzer)
    cut = _build(tmp_path, "cut", analyzer, FlushPolicy(passages=40, merge_cap=120))
    segs = cut.store.snapshot().segs
    assert len(whole.store.snapshot().segs) == 1 and len(segs) > 3
    # merges ran, and none made a segment above the cap (a flush itself may round up to a batch)
    assert max(s.n_live for s in segs) <= 120 and any(s.n_live > 40 for s in segs)
    assert passages(cut.store.snapshot()) == passages(whole.store.snapshot())
    assert postings(cut.store.snapshot()) == postings(whole.store.snapshot())
    assert answers(cut) == answers(whole)
    for _, _, quotes in answers(cut):  # quotes are verbatim from their passage
        for text, _, uid in quotes:
            assert " ".join(text.split()) in " ".join(cut.store.snapshot().passage(uid).text.split())
    cut.store.force_merge()
    assert postings(cut.store.snapshot()) == postings(whole.store.snapshot())


def test_flushed_reindex_keeps_every_article_visible(tmp_path: Path, analyzer: Analyzer) -> None:
    """A reindex in flushes tombstones each article in the commit that adds it again, so a
    reader sees every article at every commit, and the result answers as before."""
    cut = _build(tmp_path, "cut", analyzer, FlushPolicy(passages=40, merge_cap=120))
    before, n = answers(cut), cut.store.snapshot().n_articles
    seen: list[int] = []
    cut.corpus.progress = lambda label, total: lambda k: seen.append(cut.store.snapshot().n_articles)
    cut.rebuild()
    assert seen and set(seen) == {n} and cut.store.snapshot().n_articles == n

    def texts(found: list) -> list:  # type: ignore[type-arg]
        return [(q, [(t, a) for t, a, _ in quotes]) for q, _, quotes in found]  # uids are new after a reindex

    assert texts(answers(cut)) == texts(before)


def _quoteqa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_crash_between_flushes_keeps_commits_and_rerun_finishes(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    env.update(
        QUOTEQA_CORPUS_DIR=str(tmp_path / "corpus"), QUOTEQA_DATA_DIR=str(tmp_path / "data"),
        QUOTEQA_WORKERS="1", QUOTEQA_ENCODER="none", QUOTEQA_FLUSH_PASSAGES="60",
    )  # fmt: skip
    assert _quoteqa(env, "sources").returncode == 0  # the shipped corpus, built before the crash
    index = tmp_path / "data" / "index"
    before = set(SegmentStore(index).snapshot().article_hashes())
    batch = write_batch(tmp_path / "wire.jsonl", "kilo", 150)  # 300 passages: 5 flushes
    r = _quoteqa({**env, "QUOTEQA_CRASH_AT": "flush"}, "ingest", str(tmp_path / "wire.jsonl"))
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    store = SegmentStore(index)
    committed = set(store.snapshot().article_hashes()) - before
    assert not store.damaged and store.verify() == []
    assert committed and committed < set(batch)  # one flush committed, whole articles only
    assert set(store.snapshot().article_hashes()) >= before  # nothing that was there is lost
    # The rerun (any command opening the index) analyses only what was not committed.
    r = _quoteqa(env, "-v", "sources", "--json")
    assert r.returncode == 0, r.stderr
    added = [int(m) for m in re.findall(r"index updated: (\d+) added", r.stderr)]
    assert added == [len(batch) - len(committed)]
    final = SegmentStore(index).snapshot()
    assert set(final.article_hashes()) == before | set(batch)
    assert final.n_articles == len(before | set(batch))  # no article twice
    assert sorted(final.uids().tolist()) == sorted(set(final.uids().tolist()))


@pytest.mark.parametrize("sizes", [[30, 40, 50], [100, 200]])
def test_capped_merge_choice(sizes: list[int]) -> None:
    from retrieval.index.segments.merge_policy import capped

    chosen = capped(sizes, 100)
    assert sum(sizes[i] for i in chosen) <= 100 and (len(chosen) >= 2 or not chosen)


def test_a_synced_build_indexes_what_a_write_of_the_articles_held_in_memory_does(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    """The sync hands its write an `ArticleSource`: each article is read again from its file
    when its batch is analysed, so a build holds the texts of the batches in flight, not of
    every article of the folder. What it indexes is what a write of the same articles, held in
    memory, indexes: the same passages under the same uids, the same postings."""
    from retrieval.corpus.files import load_corpus
    from retrieval.index.store import Change

    policy = FlushPolicy(passages=40, merge_cap=120)
    synced = _build(tmp_path, "synced", analyzer, policy)
    held = SegmentStore(tmp_path / "held" / "index", analyzer, flush_policy=policy)
    held.apply(Change(add=tuple(a for a in load_corpus(tmp_path / "synced" / "corpus") if a.paragraphs)))
    assert len(held.snapshot().segs) > 1
    assert passages(synced.store.snapshot()) == passages(held.snapshot())
    assert postings(synced.store.snapshot()) == postings(held.snapshot())
