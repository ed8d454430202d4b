"""Writers as a user runs them, in real subprocesses: two at once, and killed at every step.

`QUOTEQA_CRASH_AT=STEP` makes `quoteqa ingest` SIGKILL itself at that step (analysis, a
segment write, a merge, the commit), as `kill -9` would; nothing gets to clean up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from encoder_support import CACHE as ENCODER_CACHE

from retrieval import Analyzer, EngineConfig
from retrieval.index.segments.merge_policy import MergePolicy
from retrieval.index.segments.store import COMMIT, SegmentStore
from tests.conftest import CORPUS, open_engine

MERGE_FACTOR = MergePolicy().factor

WORDS = "walrus narwhal okapi pangolin quokka axolotl ibis heron lynx marten".split()


def tag(prefix: str, i: int) -> str:
    """A made-up word for article i of a batch (letters only: digits would be split off)."""
    return prefix + "".join(chr(97 + int(d)) for d in str(i))


def _batch(path: Path, prefix: str, n: int) -> list[str]:
    """n small articles, each with a word no other article uses, as one JSONL file."""
    rows = [
        {"id": f"{prefix}-{i}", "title": f"{prefix} {i}",
         "text": f"The {tag(prefix, i)} {WORDS[i % len(WORDS)]} was seen near the river on day {i}.\n\nIt stayed for {i + 2} hours."}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return [r["id"] for r in rows]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    e.update(
        QUOTEQA_CORPUS_DIR=str(tmp_path / "corpus"),
        QUOTEQA_DATA_DIR=str(tmp_path / "data"),
        QUOTEQA_WORKERS="1",
        QUOTEQA_ENCODER_CACHE_DIR=str(ENCODER_CACHE),
    )
    return e


def quoteqa(env: dict[str, str], *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, timeout=180, **kw
    )  # type: ignore[call-overload]


def _ids(env: dict[str, str]) -> set[str]:
    r = quoteqa(env, "sources", "--json")
    assert r.returncode == 0, r.stderr
    return {row["id"] for row in json.loads(r.stdout)}


def _committed(env: dict[str, str]) -> set[str]:
    """What the last commit holds, read without syncing the corpus folder."""
    return set(SegmentStore(Path(env["QUOTEQA_DATA_DIR"]) / "index").snapshot().article_hashes())


def test_two_ingests_at_once_lose_nothing(env: dict[str, str], tmp_path: Path) -> None:
    a = _batch(tmp_path / "wire-a.jsonl", "alpha", 120)
    b = _batch(tmp_path / "wire-b.jsonl", "beta", 120)
    assert quoteqa(env, "sources").returncode == 0  # the first build, so both ingests find an index
    procs = [
        subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(tmp_path / f"wire-{x}.jsonl")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for x in "ab"
    ]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "120 added" in out and "Traceback" not in err
    assert set(a) | set(b) | {"clubhouse-putin-musk"} == _ids(env) == _committed(env)
    for i, word in ((7, tag("alpha", 7)), (119, tag("beta", 119))):
        # the day too: the stemmer reads "alphahe" (day 74) as "alphah", a real tie
        r = quoteqa(env, "ask", f"Was the {word} seen on day {i}?", "--json")
        assert word in json.loads(r.stdout)["quotes"][0]["text"]


def test_a_writer_that_cannot_get_the_lock_says_so(env: dict[str, str], tmp_path: Path) -> None:
    import fcntl

    assert quoteqa(env, "sources").returncode == 0
    _batch(tmp_path / "wire.jsonl", "gamma", 3)
    fd = os.open(Path(env["QUOTEQA_DATA_DIR"]) / "write.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        r = quoteqa({**env, "QUOTEQA_WRITE_LOCK_SECONDS": "1"}, "ingest", str(tmp_path / "wire.jsonl"))
        assert r.returncode == 2 and "another quoteqa writer" in r.stderr and "Traceback" not in r.stderr
        r = quoteqa(env, "ask", "What did the Kremlin say?")  # readers never wait for writers
        assert r.returncode == 0 and "Peskov" in r.stdout
    finally:
        os.close(fd)


def _segments_before_a_merge(env: dict[str, str], analyzer: Analyzer) -> None:
    """MERGE_FACTOR - 1 small segments, so the next ingest's segment fills the tier and merges."""
    corpus, data = Path(env["QUOTEQA_CORPUS_DIR"]), Path(env["QUOTEQA_DATA_DIR"])
    engine = open_engine(EngineConfig(corpus, data), analyzer)
    for i in range(MERGE_FACTOR - 2):
        (corpus / f"pre-{i}.txt").write_text(f"Early note {i}: the lighthouse keeper counted {i} ships.\n", "utf-8")
        engine.reload()
    assert len(SegmentStore(data / "index").snapshot().segs) == MERGE_FACTOR - 1


@pytest.mark.parametrize("step", ["analysis", "segment-write", "commit", "merge"])
def test_killed_ingest_leaves_the_last_commit_whole(
    env: dict[str, str], tmp_path: Path, analyzer: Analyzer, step: str
) -> None:
    if step == "merge":
        _segments_before_a_merge(env, analyzer)
    else:
        assert quoteqa(env, "sources").returncode == 0
    index = Path(env["QUOTEQA_DATA_DIR"]) / "index"
    before_commit = (index / COMMIT).read_bytes()
    before = _committed(env)
    batch = _batch(tmp_path / "wire.jsonl", "delta", 30)
    r = quoteqa({**env, "QUOTEQA_CRASH_AT": step}, "ingest", str(tmp_path / "wire.jsonl"))
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    committed = _committed(env)
    if step == "merge":  # the batch was committed before the merge began; the merge never was
        assert committed == before | set(batch)
        assert len(SegmentStore(index).snapshot().segs) == MERGE_FACTOR
    else:  # nothing of the batch, and nothing lost
        assert (index / COMMIT).read_bytes() == before_commit and committed == before
    # The files were copied into the corpus before the kill: the next command indexes all of them.
    assert _ids(env) == before | set(batch)
    assert not [p.name for p in index.iterdir() if p.name.endswith(".tmp")]  # leftovers were collected
    r = quoteqa(env, "ask", f"When was the {tag('delta', 4)} seen?", "--json")
    assert r.returncode == 0 and tag("delta", 4) in json.loads(r.stdout)["quotes"][0]["text"]
