"""Translation twins found when articles are written, kept with the commit, and only read by a
question (issue 28; `retrieval/index/twins/links.py`). Real Kiwi, the real USE-m3 encoder, the
file-backed store.

Each case: the links name the right twins after a build, a replacement and a removal; a question
finds no twin itself (the finder is made to fail); a damaged, stale or missing links file is
named by `verify`, answered around with one warning naming `quoteqa reindex` and never a wrong
original, and `verify --repair` (or `reindex`) brings the links back with the same answers."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from encoder_support import CACHE as ENCODER_CACHE
from encoder_support import shared_encoder
from test_twins import CUT, PARAGRAPHS, quote_with, separate_corpus

from retrieval import Analyzer, Engine, EngineConfig
from retrieval.corpus.verify import repair, verify
from retrieval.index.fsutil import seal, unseal
from retrieval.index.segments.flush import FlushPolicy
from retrieval.index.segments.snapshot import Snapshot
from retrieval.index.twins import links as twin_links
from retrieval.index.twins.find import TwinFinder

QUESTIONS = (
    "클럽하우스의 가치는 얼마로 평가받았나?", "When did Musk invite Putin to Clubhouse?", "태풍 망온은 어디로 이동하나?",
    "What did the Kremlin say?",
)  # fmt: skip
VALUATION = "클럽하우스의 가치는 얼마로 평가받았나?"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer) -> dict[str, Any]:
    """The separate-articles corpus built once with the encoder, and its answers."""
    base = tmp_path_factory.mktemp("twin-links")
    text = separate_corpus(base / "corpus")
    engine = _open(base, analyzer)
    return {"base": base, "text": text, "answers": _answers(engine)}


@pytest.fixture
def case(pristine: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    shutil.copytree(pristine["base"] / "corpus", tmp_path / "corpus")
    shutil.copytree(pristine["base"] / "data", tmp_path / "data")
    return pristine | {"base": tmp_path, "index": tmp_path / "data" / "index"}


def _open(base: Path, analyzer: Analyzer) -> Engine:
    config = EngineConfig(base / "corpus", base / "data", encoder="use-m3", encoder_cache=ENCODER_CACHE)
    return Engine.open(config, analyzer=analyzer, encoder=shared_encoder())


def _answers(engine: Engine) -> list[dict[str, Any]]:
    out = []
    for q in QUESTIONS:
        d = engine.ask(q).to_json()
        d.pop("elapsed_ms")
        out.append(d)
    return out


def _unnumbered(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _unnumbered(v) for k, v in x.items() if k != "passage"}
    if isinstance(x, list):
        return [_unnumbered(v) for v in x]
    return x


def _twins(engine: Engine) -> dict[str, str]:
    kept = engine.store.snapshot().twin_links
    assert kept is not None, engine.store.snapshot().twin_problem
    return {aid: k.twin for aid, k in kept.links.items()}


def _rows(base: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in (base / "corpus" / "news.jsonl").read_text("utf-8").splitlines()]


def _write_rows(base: Path, rows: list[dict[str, str]]) -> None:
    (base / "corpus" / "news.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
    )


def test_twins_are_found_at_ingest_and_only_read_by_a_question(
    case: dict[str, Any], analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _open(case["base"], analyzer)  # a new process's engine: nothing cached
    found = _twins(engine)
    assert found["club-ko"] == "club-en" and found["club-en"] == "club-ko"
    assert "typhoon-ko" not in found and found.get("news-ko") in (None, "news-en")
    dense_calls: list[int] = []
    real_dense = Snapshot.dense
    monkeypatch.setattr(Snapshot, "dense", lambda self, q, k: dense_calls.append(k) or real_dense(self, q, k))

    def no_finding(*args: object) -> None:
        raise AssertionError("a twin was looked for at question time")

    real_find = TwinFinder.find
    monkeypatch.setattr(TwinFinder, "find", no_finding)
    answers = _answers(engine)
    assert answers == case["answers"]  # the same bytes as the build's own engine gave
    [item] = quote_with(engine.ask(VALUATION), "10억 달러").aligned
    assert item.source.article == "club-en" and "$1 billion" in item.text
    stored = len(dense_calls)
    # the same questions with the links taken away: the old path, more dense searches, same answers
    monkeypatch.setattr(TwinFinder, "find", real_find)
    engine.store.reader._snap.twin_links = None
    dense_calls.clear()
    assert _answers(engine) == answers
    assert len(dense_calls) > stored + len(QUESTIONS)


def test_a_replaced_or_removed_twin_takes_its_link_away(case: dict[str, Any], analyzer: Analyzer) -> None:
    base = case["base"]
    engine = _open(base, analyzer)
    rows = _rows(base)
    club_en = next(r for r in rows if r["id"] == "club-en")
    other = dict(
        club_en, text="The weather service said the storm would turn north.\n\nFerries stayed in port all day."
    )
    _write_rows(base, [other if r["id"] == "club-en" else r for r in rows])
    engine.reload()  # club-en replaced: club-ko's link goes, and club-ko is looked at again
    found = _twins(engine)
    assert "club-ko" not in found and "club-en" not in found
    assert quote_with(engine.ask(VALUATION), "10억 달러").aligned == ()
    assert verify(case["index"], base / "data").ok
    _write_rows(base, rows)  # the translation back: both sides linked again
    engine.reload()
    found = _twins(engine)
    assert found["club-ko"] == "club-en" and found["club-en"] == "club-ko"
    [item] = quote_with(engine.ask(VALUATION), "10억 달러").aligned  # new passage numbers, the same sentence
    assert item.source.article == "club-en" and "$1 billion" in item.text
    _write_rows(base, [r for r in rows if r["id"] != "club-en"])
    engine.reload()
    assert "club-ko" not in _twins(engine)
    assert quote_with(engine.ask(VALUATION), "10억 달러").aligned == ()
    assert verify(case["index"], base / "data").ok


def _links_file(index: Path) -> Path:
    [path] = index.glob(f"{twin_links.PREFIX}*")
    return path


def _rewrite_commit(index: Path, change: Any) -> None:
    for name in ("COMMIT", "COMMIT.bak"):
        commit = unseal((index / name).read_bytes())
        change(commit)
        (index / name).write_bytes(seal(commit))


def _overwritten(index: Path) -> None:
    path = _links_file(index)
    path.write_bytes(path.read_bytes().replace(b"club-en", b"club-xx"))  # still JSON, not its bytes


def _stale(index: Path) -> None:
    """A sound-looking file (sealed, named by the commit with its checksum) whose link points to
    the typhoon story: what a writer bug would leave. Never followed."""
    commit = unseal((index / "COMMIT").read_bytes())
    kept = twin_links.read(index, commit["twins"])
    wrong = dict(kept.links)
    k = wrong["club-ko"]
    wrong["club-ko"] = twin_links.Link(k.hash, "typhoon-ko", "0" * 16, k.links)
    new = twin_links.write(index, int(commit["generation"]), kept.encoder, wrong)
    _rewrite_commit(index, lambda c: c.__setitem__("twins", new.entry()))


DAMAGES = {
    "overwritten": _overwritten,
    "deleted": lambda index: _links_file(index).unlink(),
    "stale": _stale,
    "absent": lambda index: _rewrite_commit(index, lambda c: c.pop("twins")),  # an index written before links
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_links_fall_back_with_one_warning_and_are_repaired(
    case: dict[str, Any], analyzer: Analyzer, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    index, data = case["index"], case["base"] / "data"
    path = _links_file(index)
    DAMAGES[damage](index)
    found = verify(index, data)
    if damage == "absent":
        assert found.ok  # nothing damaged: the answers say what to run
    else:
        assert not found.ok and all(p.part == "twins" for p in found.problems), found.problems
        assert any(p.file.startswith(str(index / twin_links.PREFIX)) for p in found.problems)
    engine = _open(case["base"], analyzer)
    with caplog.at_level(logging.WARNING):
        answers = _answers(engine) + _answers(engine)
    said = [r.getMessage() for r in caplog.records if "twin" in r.getMessage()]
    assert len(said) == 1 and "quoteqa reindex" in said[0], said
    assert answers[: len(QUESTIONS)] == case["answers"]  # found per question: the right original, no wrong one
    if damage == "absent":
        engine.rebuild()
    else:
        report = repair(engine.store, engine.corpus, analyzer, shared_encoder())
        assert report.ok, report.remaining
        assert not (damage == "deleted" and path.exists())
    assert verify(index, data).ok
    again = _open(case["base"], analyzer)
    assert _twins(again)["club-ko"] == "club-en"
    if damage == "absent":  # a reindex numbers the passages afresh
        assert _unnumbered(_answers(again)) == _unnumbered(case["answers"])
    else:
        assert _answers(again) == case["answers"]


def test_halves_of_one_article_are_linked_to_itself(tmp_path: Path, analyzer: Analyzer) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "club.txt").write_text("\n\n".join(PARAGRAPHS) + "\n", "utf-8")
    engine = _open(tmp_path, analyzer)
    assert _twins(engine) == {"club": "club"}
    kept = engine.store.snapshot().twin_links
    assert kept is not None
    ko_keys = [key for key in kept.links["club"].links if key[0] <= CUT]
    assert ko_keys and all(t[0] > CUT for key in ko_keys for t in kept.links["club"].links[key])


def _env(base: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    e.update(QUOTEQA_CORPUS_DIR=str(base / "corpus"), QUOTEQA_DATA_DIR=str(base / "data"), QUOTEQA_WORKERS="2")
    e.update(QUOTEQA_ENCODER="use-m3", QUOTEQA_ENCODER_CACHE_DIR=str(ENCODER_CACHE))
    return e


def test_a_sync_killed_after_writing_the_links_leaves_the_last_commit(case: dict[str, Any], analyzer: Analyzer) -> None:
    """`quoteqa` killed between writing a links file and the commit naming it (club-en removed
    from the corpus, so club-ko's link goes): the last commit is whole, `verify` is quiet, the
    next open finishes the sync with its links, and `quoteqa verify` (the command) names a
    damaged links file."""
    base, index = case["base"], case["index"]
    rows = _rows(base)
    _write_rows(base, [r for r in rows if r["id"] != "club-en"])
    env = _env(base)
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "sources"], env=env | {"QUOTEQA_CRASH_AT": "twins"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == -signal.SIGKILL, r.stderr[-500:]
    assert len(list(index.glob(f"{twin_links.PREFIX}*"))) == 2  # the new file, named by no commit
    assert verify(index, base / "data").ok
    engine = _open(base, analyzer)  # opening syncs: the removal is finished
    assert "club-en" not in {a.id for a in engine.sources()}
    assert "club-ko" not in _twins(engine)
    assert len(list(index.glob(f"{twin_links.PREFIX}*"))) == 1  # the leftover collected
    path = _links_file(index)
    path.write_bytes(path.read_bytes()[:-9])  # truncated
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "verify"], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1 and str(_links_file(index)) in out.stdout, out.stdout


def test_a_build_cut_into_flushes_links_what_one_piece_links(
    pristine: dict[str, Any], tmp_path: Path, analyzer: Analyzer
) -> None:
    """A commit every 2 passages: the articles wait as `unchecked` in the commits before the
    write's last one, which checks them all in the snapshot of the whole write."""
    shutil.copytree(pristine["base"] / "corpus", tmp_path / "corpus")
    config = EngineConfig(
        tmp_path / "corpus", tmp_path / "data", encoder="use-m3", encoder_cache=ENCODER_CACHE, flush=FlushPolicy(2, 10)
    )
    engine = Engine.open(config, analyzer=analyzer, encoder=shared_encoder())
    whole = _open(pristine["base"], analyzer)
    assert engine.store.snapshot().generation > 3  # many commits
    kept, one_piece = engine.store.snapshot().twin_links, whole.store.snapshot().twin_links
    assert kept is not None and one_piece is not None and not kept.unchecked
    assert kept.links == one_piece.links
    assert _answers(engine) == _answers(whole)
