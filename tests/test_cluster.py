"""Building on a Dask cluster (`bot/cluster.py`): a `distributed.LocalCluster` with 2 worker
processes on loopback analyses, this process writes. The index equals a local build's, a worker
killed mid-build loses nothing and duplicates nothing, a client killed mid-build leaves only whole
commits and the rerun analyses only the rest, a worker of another version is refused."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from build_support import answers, passages, postings, write_batch
from encoder_support import shared_encoder

from retrieval import Analyzer, Engine, EngineConfig
from retrieval.index.segments.flush import FlushPolicy
from retrieval.index.segments.store import SegmentStore
from retrieval.text.encoder import stamp_of
from tests.conftest import CORPUS, open_engine

distributed = pytest.importorskip("distributed")  # in the dev group: CI has it

from bot.cluster import PLUGIN, DaskAnalyser, QuoteqaWorker, WorkerVersionError, run_batch, versions  # noqa: E402

FLUSH = FlushPolicy(passages=40, merge_cap=160)  # many batches, flushes and merges from a small corpus


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as c:
        yield c


@pytest.fixture
def client(cluster: distributed.LocalCluster) -> Iterator[distributed.Client]:
    with distributed.Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def _engine(tmp_path: Path, name: str, analyzer: Analyzer) -> Engine:
    corpus = tmp_path / name / "corpus"
    shutil.copytree(CORPUS, corpus)
    write_batch(corpus / "zoo.jsonl", "zoo", 150)
    return open_engine(EngineConfig(corpus, tmp_path / name / "data", flush=FLUSH), analyzer, sync=False)


def _same_index(a: Engine, b: Engine) -> None:
    sa, sb = a.store.snapshot(), b.store.snapshot()
    assert passages(sa) == passages(sb)  # same uids, articles, texts: nothing lost, nothing twice
    assert postings(sa) == postings(sb)
    assert answers(a) == answers(b)


def _on_cluster(engine: Engine, client: distributed.Client, progress: Callable | None = None) -> DaskAnalyser:
    analyser = DaskAnalyser(client, engine.store.snapshot().encoder_stamp or stamp_of(shared_encoder()))
    engine.corpus.analyser = analyser
    engine.corpus.progress = progress
    engine.reload()
    return analyser


def test_cluster_build_equals_local_build(tmp_path: Path, analyzer: Analyzer, client: distributed.Client) -> None:
    local = _engine(tmp_path, "local", analyzer)
    local.reload()
    remote = _engine(tmp_path, "remote", analyzer)
    analyser = _on_cluster(remote, client)
    assert analyser.stats.batches > 4 and analyser.stats.bytes_back > 0
    assert len(remote.store.snapshot().segs) > 1
    _same_index(remote, local)
    for _, _, quotes in answers(remote):  # quotes verbatim from their passage
        for text, _, uid in quotes:
            assert " ".join(text.split()) in " ".join(remote.store.snapshot().passage(uid).text.split())
    remote.store.force_merge()
    local.store.force_merge()
    assert postings(remote.store.snapshot()) == postings(local.store.snapshot())


def test_worker_killed_mid_build_loses_nothing(tmp_path: Path, analyzer: Analyzer, client: distributed.Client) -> None:
    pids = client.run(os.getpid)
    killed: list[int] = []

    def progress(label: str, total: int) -> Callable[[int], None]:
        def update(n: int) -> None:
            if n > 0 and not killed:  # after the first batch is in: others are running or done
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        return update

    remote = _engine(tmp_path, "remote", analyzer)
    _on_cluster(remote, client, progress)
    assert killed
    local = _engine(tmp_path, "local", analyzer)
    local.reload()
    _same_index(remote, local)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the next test


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    env.update(
        QUOTEQA_CORPUS_DIR=str(tmp_path / "corpus"), QUOTEQA_DATA_DIR=str(tmp_path / "data"),
        QUOTEQA_WORKERS="1", QUOTEQA_ENCODER="none", QUOTEQA_FLUSH_PASSAGES="60",
    )  # fmt: skip
    return env


def _quoteqa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_client_killed_mid_build_then_rerun(tmp_path: Path, cluster: distributed.LocalCluster) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    env = _env(tmp_path)
    address = cluster.scheduler_address
    assert _quoteqa(env, "sources").returncode == 0
    index = tmp_path / "data" / "index"
    before = set(SegmentStore(index).snapshot().article_hashes())
    batch = write_batch(tmp_path / "wire.jsonl", "kilo", 150)
    r = _quoteqa({**env, "QUOTEQA_CRASH_AT": "flush"}, "ingest", "--cluster", address, str(tmp_path / "wire.jsonl"))
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    store = SegmentStore(index)
    committed = set(store.snapshot().article_hashes()) - before
    assert not store.damaged and store.verify() == []
    assert committed and committed < set(batch)
    r = _quoteqa(env, "-v", "ingest", "--cluster", address, str(tmp_path / "wire.jsonl"))
    assert r.returncode == 0, r.stderr
    assert f"analysing on the Dask cluster at {address}: 2 worker(s), 2 thread(s)" in r.stderr  # -v says so
    assert re.search(r"the Dask cluster analysed \d+ batch\(es\)", r.stderr), r.stderr
    assert [int(m) for m in re.findall(r"index updated: (\d+) added", r.stderr)] == [len(batch) - len(committed)]
    final = SegmentStore(index).snapshot()
    assert set(final.article_hashes()) == before | set(batch) and final.n_articles == len(before | set(batch))


def test_worker_of_another_version_is_refused(client: distributed.Client) -> None:
    other = {**versions(), "quoteqa": "0.0.0-other"}
    try:
        with pytest.raises(WorkerVersionError, match="refused: quoteqa .* here, 0.0.0-other on the client"):
            client.register_plugin(QuoteqaWorker(other), name=PLUGIN)
    finally:
        client.register_plugin(QuoteqaWorker(versions()), name=PLUGIN)
    # a worker that joined without the check is still refused by its first batch
    fut = client.submit(run_batch, ["The walrus was seen."], None, other, pure=False)
    with pytest.raises(WorkerVersionError, match="0.0.0-other"):
        fut.result(timeout=60)


def test_a_closed_scheduler_port_fails_in_seconds_naming_the_address() -> None:
    """Dask's client retries a refused connection until its 30 s timeout (36 s in all, and the
    message only said "timed out"); a probe says at once that nothing listens there."""
    import socket
    import time

    from bot.cluster import ClusterError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"  # closed again when the block ends
    started = time.monotonic()
    with pytest.raises(ClusterError, match=re.escape(f"cannot reach the Dask scheduler at {address}")) as info:
        DaskAnalyser.connect(address, None)
    assert time.monotonic() - started < 5, "a closed port must be reported in seconds"
    assert "dask scheduler" in str(info.value) and "QUOTEQA_DASK_SCHEDULER" in str(info.value)


def test_without_the_extra_cluster_says_how_to_install(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import commands

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    assert commands.has_dask() is False
    assert "uv sync --extra cluster" in capsys.readouterr().err
