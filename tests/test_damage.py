"""Fault injection: every kind of index file damaged every way, a commit killed at each step, a
full disk. Each case: no traceback, one output per question, every quote verbatim in the
corpus, `verify` names the file, `verify --repair` restores the answers byte for byte, and
nothing committed is lost. Real file-backed store and real Kiwi; no encoder (plumbing: the
answers are compared with themselves before the damage, not judged).

One index is built (in a subprocess, as `quoteqa` builds it) with three segments' worth of
history: a first ingest, a second one, two removals (tombstones, and an older commit's copy of
each file kept to swap in). Each case works on a copy of that data folder, in process with the
session's Kiwi; the command-line cases run `quoteqa` itself.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from encoder_support import CACHE as ENCODER_CACHE

from retrieval import Engine, EngineConfig
from retrieval.corpus.verify import repair, verify
from retrieval.errors import DamagedIndexError, QuestionError
from retrieval.text.analyze import Analyzer
from tests.conftest import CORPUS, normalize

QUESTIONS = (
    "What did the Kremlin say?", "Who invited Putin to Clubhouse?", "크렘린궁은 뭐라고 말했어?",
    "What did the council of town 120 discuss?", "How much would plan number 130 cost?",
    "Where did the heron of district 7 nest?", "What did the council of town 45 discuss?",
    "How long did the walrus of harbour 12 stay?",
)  # fmt: skip
FIRST, SECOND = 600, 120  # filler articles in the first and the second ingest


def _filler(path: Path, prefix: str, n: int, kind: str) -> None:
    rows = []
    for i in range(n):
        if kind == "town":
            text = (
                f"The council of town {i} met on Monday to discuss the budget for roads and schools in district {i % 37}.\n\n"
                f"Officials said the plan number {i} would cost {i * 7} million won over three years, according to the minutes."
            )
        else:
            text = (
                f"The heron of district {i} nested by the old mill for the {i % 9 + 2}nd spring running.\n\n"
                f"The walrus of harbour {i} stayed for {i + 2} hours before it swam north, watchers said."
            )
        if prefix not in ("town", "bird"):  # later articles of the same kind are not duplicates
            text = text.replace("The ", f"The {prefix} ", 1)
        rows.append({"id": f"{prefix}-{i}", "title": f"{prefix} {i}", "text": text})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def _env(base: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    e.update(
        QUOTEQA_CORPUS_DIR=str(base / "corpus"), QUOTEQA_DATA_DIR=str(base / "data"), QUOTEQA_WORKERS="2",
        QUOTEQA_ENCODER="none", QUOTEQA_ENCODER_CACHE_DIR=str(ENCODER_CACHE),
        QUOTEQA_VERIFY_BELOW="1",  # every segment checked block by block as read, as a large one is
    )  # fmt: skip
    return e


def quoteqa(env: dict[str, str], *args: str, stdin: str | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        **kw,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pristine folders, the files of older commits, and the answers before any damage."""
    base = tmp_path_factory.mktemp("damage")
    shutil.copytree(CORPUS, base / "corpus")
    _filler(base / "corpus" / "towns.jsonl", "town", FIRST, "town")
    env = _env(base)
    assert quoteqa(env, "sources").returncode == 0  # the first build: one segment
    index = base / "data" / "index"
    old = base / "old"
    old.mkdir()
    shutil.copy(index / "COMMIT", old / "COMMIT")
    extra = base / "extra.jsonl"
    _filler(extra, "bird", SECOND, "bird")
    r = quoteqa(env, "ingest", str(extra))
    assert r.returncode == 0, r.stderr
    assert quoteqa(env, "remove", "town-3").returncode == 0
    [tomb] = index.glob("*.del")
    shutil.copy(tomb, old / "older.del")
    assert quoteqa(env, "remove", "town-5").returncode == 0
    segs = sorted(p.stem for p in index.glob("*.seg"))
    assert len(segs) == 2 and len(list(index.glob("*.del"))) == 1
    manifests = sorted((base / "data" / "manifests").glob("*.json"))
    assert len(manifests) >= 2
    return {"base": base, "env": env, "segs": segs, "old": old, "answers": _answers_cli(env)}


def _answers_cli(env: dict[str, str]) -> list[dict[str, Any]]:
    r = quoteqa(env, "ask", "--json", "-", stdin="\n".join(QUESTIONS) + "\n")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == len(QUESTIONS)
    return [_stable(row) for row in rows]


def _stable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "elapsed_ms"}


@pytest.fixture
def case(built: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """A copy of the built folders to damage (and to ingest into)."""
    shutil.copytree(built["base"] / "data", tmp_path / "data")
    shutil.copytree(built["base"] / "corpus", tmp_path / "corpus")
    return built | {
        "data": tmp_path / "data", "index": tmp_path / "data" / "index", "corpus": tmp_path / "corpus", "env": _env(tmp_path),
    }  # fmt: skip


def _engine(c: dict[str, Any], analyzer: Analyzer) -> Engine:
    return Engine.open(EngineConfig(c["corpus"], c["data"], encoder="none"), analyzer=analyzer, encoder=None)


def _ask_all(engine: Engine, corpus_text: str) -> tuple[list[dict[str, Any]], int]:
    """Every question once, as `ask --json -` does: an answer or a damaged-index error each."""
    rows, failed = [], 0
    for q in QUESTIONS:
        try:
            answer = engine.ask(q)
        except (DamagedIndexError, QuestionError):
            failed += 1
            continue
        for quote in answer.quotes:
            assert normalize(quote.text) in corpus_text, quote.text
        rows.append(_stable(answer.to_json()))
    return rows, failed


@pytest.fixture(scope="module")
def all_text(built: dict[str, Any]) -> str:
    parts = [p.read_text("utf-8") for p in sorted((built["base"] / "corpus").glob("*.txt"))]
    for f in sorted((built["base"] / "corpus").glob("*.jsonl")):
        parts += [json.loads(line)["text"] for line in f.read_text("utf-8").splitlines()]
    return normalize("\n".join(parts))


# --- the damages ------------------------------------------------------------------------------
def _overwrite(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    for at in (len(raw) // 5, len(raw) // 2, len(raw) * 4 // 5):  # runs of 0xff, as a bad disk block leaves
        raw[at : at + 64] = b"\xff" * len(raw[at : at + 64])
    path.write_bytes(bytes(raw))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) * 2 // 3])


def _target(c: dict[str, Any], kind: str) -> tuple[Path, Path]:
    """The file of this kind to damage, and another commit's (or segment's) copy of its kind."""
    index, first, second = c["index"], c["segs"][0], c["segs"][1]
    if kind in ("seg", "json", "ids"):
        return index / f"{first}.{kind}", index / f"{second}.{kind}"
    if kind == "commit":
        return index / "COMMIT", c["old"] / "COMMIT"
    if kind == "copy":
        return index / "COMMIT.bak", c["old"] / "COMMIT"
    if kind == "tombstones":
        [tomb] = index.glob("*.del")
        return tomb, c["old"] / "older.del"
    manifests = sorted((c["data"] / "manifests").glob("*.json"))
    return manifests[0], manifests[1]


DAMAGES: dict[str, Callable[[Path, Path], None]] = {
    "overwritten": lambda p, other: _overwrite(p),
    "truncated": lambda p, other: _truncate(p),
    "deleted": lambda p, other: p.unlink(),
    "replaced": lambda p, other: shutil.copy(other, p),
}
KINDS = ("seg", "json", "ids", "commit", "copy", "tombstones", "manifest")


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("kind", KINDS)
def test_damaged_file_is_named_survived_and_repaired(
    case: dict[str, Any], analyzer: Analyzer, all_text: str, kind: str, damage: str
) -> None:
    path, other = _target(case, kind)
    DAMAGES[damage](path, other)
    found = verify(case["index"], case["data"])
    assert not found.ok and any(p.file == str(path) for p in found.problems), found.problems
    engine = _engine(case, analyzer)  # an open that sees the damage heals it (the same passage numbers)
    rows, failed = _ask_all(engine, all_text)
    assert len(rows) + failed == len(QUESTIONS)
    report = repair(engine.store, engine.corpus, analyzer, None)
    assert report.ok, report.remaining
    assert verify(case["index"], case["data"]).ok
    again, failed = _ask_all(_engine(case, analyzer), all_text)
    assert failed == 0 and again == case["answers"]  # byte for byte the answers before the damage
    assert {a.id for a in _engine(case, analyzer).sources()} >= {"town-0", "bird-0", f"town-{FIRST - 1}"}


def test_a_damaged_block_fails_one_question_and_the_rest_go_on(case: dict[str, Any]) -> None:
    """`ask --json -`: the question that reads the damaged block gets an error line with the
    stable code, the process goes on, later answers say part of the index is out of service,
    and the log names the file and the command."""
    index, first = case["index"], case["segs"][0]
    seg = index / f"{first}.seg"
    raw = bytearray(seg.read_bytes())
    at = raw.index(b"The council of town 300 met")  # mid-texts: a block no open reads
    raw[at : at + 64] = b"\xff" * 64
    seg.write_bytes(bytes(raw))
    questions = ["What did the council of town 300 discuss?", *QUESTIONS]
    r = quoteqa(case["env"], "ask", "--json", "-", stdin="\n".join(questions) + "\n")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == len(questions)
    assert rows[0].get("code") == "index_damaged", (rows[0], r.stderr[-1500:])
    assert rows[0]["code"] == "index_damaged" and "verify --repair" in rows[0]["error"]
    assert str(seg) in r.stderr and "quoteqa verify --repair" in r.stderr and r.stderr.count("out of service") == 1
    later = [row for row in rows[1:] if "error" not in row]
    assert later and all("out of service" in row["unavailable"] for row in later)
    v = quoteqa(case["env"], "verify", "--json")
    out = json.loads(v.stdout)
    assert v.returncode == 1 and not out["ok"] and [p["file"] for p in out["problems"]] == [str(seg)]
    fixed = quoteqa(case["env"], "verify", "--repair")
    assert fixed.returncode == 0 and "rebuilt segment" in fixed.stdout, fixed.stdout + fixed.stderr
    assert _answers_cli(case["env"]) == case["answers"]


def test_verify_is_quiet_on_a_sound_index_and_checks_the_bot_state(case: dict[str, Any]) -> None:
    ok = quoteqa(case["env"], "verify")
    assert ok.returncode == 0 and "sound" in ok.stdout
    state = case["data"] / "bot.sqlite3"
    db = sqlite3.connect(state)
    db.execute("CREATE TABLE t (x TEXT)")
    db.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    db.commit()
    db.close()
    raw = bytearray(state.read_bytes())
    for page in range(1, 11):  # the b-tree page headers after the first page
        raw[page * 4096 : page * 4096 + 8] = b"\xff" * 8
    state.write_bytes(bytes(raw))
    bad = quoteqa(case["env"], "verify", "--json")
    out = json.loads(bad.stdout)
    assert bad.returncode == 1 and [p["file"] for p in out["problems"]] == [str(state)], out
    fixed = quoteqa(case["env"], "verify", "--repair")
    assert fixed.returncode == 0 and "moved the damaged bot state" in fixed.stdout
    assert quoteqa(case["env"], "verify").returncode == 0


# --- a commit killed at each step -------------------------------------------------------------
STEPS = (
    pytest.param("analysis", marks=pytest.mark.slow), "segment-write", pytest.param("commit-copy", marks=pytest.mark.slow),
    "commit", pytest.param("merge", marks=pytest.mark.slow),
)  # fmt: skip


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_of_a_commit(case: dict[str, Any], analyzer: Analyzer, all_text: str, step: str) -> None:
    extra = case["data"].parent / "late.jsonl"
    _filler(extra, "late", 12, "bird")
    env = case["env"] | {"QUOTEQA_CRASH_AT": step}
    if step == "merge":  # a segment every 2 passages: ten of them fill a tier, which is merged
        env["QUOTEQA_FLUSH_PASSAGES"] = "2"
    r = quoteqa(env, "ingest", str(extra))
    assert r.returncode == -signal.SIGKILL, (step, r.returncode, r.stderr[-500:])
    found = verify(case["index"], case["data"])
    assert found.ok, found.problems  # the last commit is whole; leftovers are unnamed files
    rows, failed = _ask_all(_engine(case, analyzer), all_text)  # opening syncs: the ingest is finished
    assert failed == 0 and len(rows) == len(QUESTIONS)
    ids = {a.id for a in _engine(case, analyzer).sources()}
    assert {"town-0", "bird-0", "late-0", "late-11"} <= ids and "town-3" not in ids


def test_a_repair_killed_midway_can_run_again(case: dict[str, Any]) -> None:
    seg = case["index"] / f"{case['segs'][0]}.seg"
    _overwrite(seg)
    killed = quoteqa(case["env"] | {"QUOTEQA_CRASH_AT": "segment-write"}, "verify", "--repair")
    assert killed.returncode == -signal.SIGKILL
    again = quoteqa(case["env"], "verify", "--repair")
    assert again.returncode == 0, again.stdout + again.stderr
    assert quoteqa(case["env"], "verify").returncode == 0
    assert _answers_cli(case["env"]) == case["answers"]


# --- a full disk ------------------------------------------------------------------------------
def _small_files(limit: int) -> Callable[[], None]:
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return setup


def test_disk_full_during_ingest_changes_nothing(case: dict[str, Any], analyzer: Analyzer, all_text: str) -> None:
    """`ulimit -f`: every file write past 64 KiB fails as on a full disk (EFBIG for ENOSPC)."""
    extra = case["data"].parent / "big.jsonl"
    _filler(extra, "big", 400, "town")
    before = {p.name: p.read_bytes() for p in case["index"].iterdir() if p.name.startswith("COMMIT")}
    r = quoteqa(case["env"], "ingest", str(extra), preexec_fn=_small_files(64 << 10))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-800:]
    assert "disk is full" in r.stderr and "nothing" in r.stderr
    assert not (case["corpus"] / "big.jsonl").exists()  # the copy into the corpus folder failed whole
    shutil.copy(extra, case["corpus"] / "big.jsonl")  # the file is there; the index write runs out of room
    r = quoteqa(case["env"], "sources", preexec_fn=_small_files(64 << 10))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "disk is full" in r.stderr, r.stderr[-800:]
    assert {p.name: p.read_bytes() for p in case["index"].iterdir() if p.name.startswith("COMMIT")} == before
    assert verify(case["index"], case["data"]).ok
    rows, failed = _ask_all(_engine(case, analyzer), all_text)  # and with room again, the ingest is finished
    assert failed == 0
    assert "big-399" in {a.id for a in _engine(case, analyzer).sources()}


MERGE = """
import sys
from pathlib import Path
from retrieval import Analyzer, EngineConfig
from retrieval.errors import QuoteQAError
from retrieval.path import open_store
config = EngineConfig(Path(sys.argv[1]), Path(sys.argv[2]), encoder="none")
try:
    open_store(config, Analyzer(), None).force_merge()
except QuoteQAError as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
"""


def test_disk_full_during_a_merge_changes_nothing(case: dict[str, Any], analyzer: Analyzer) -> None:
    """The merge of the two segments (and the tombstone) runs out of room writing the merged
    segment: a typed error, the last commit and its answers intact, no partial file left; with
    room again the same merge goes through and answers the same."""
    index = case["index"]
    before = {p.name: p.read_bytes() for p in index.iterdir() if p.name.startswith("COMMIT")}
    segs = sorted(p.name for p in index.glob("*.seg"))
    assert len(segs) == 2
    merge = [sys.executable, "-c", MERGE, str(case["corpus"]), str(case["data"])]
    r = subprocess.run(
        merge, capture_output=True, text=True, env=case["env"], timeout=180, preexec_fn=_small_files(64 << 10)
    )
    assert r.returncode == 3 and "DiskFullError" in r.stdout and "disk is full" in r.stdout, r.stdout + r.stderr[-800:]
    assert {p.name: p.read_bytes() for p in index.iterdir() if p.name.startswith("COMMIT")} == before
    assert sorted(p.name for p in index.glob("*.seg")) == segs  # the partial merged segment was removed
    assert verify(index, case["data"]).ok
    assert _answers_cli(case["env"]) == case["answers"]
    r = subprocess.run(merge, capture_output=True, text=True, env=case["env"], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr[-800:]
    assert len(list(index.glob("*.seg"))) == 1 and verify(index, case["data"]).ok
    assert _answers_cli(case["env"]) == case["answers"]


# --- the front ends' forms of the same failure ---------------------------------------------------
def test_the_api_answers_a_damaged_read_with_a_503_and_a_stable_code() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from bot.serve.errors import install_error_handlers
    from bot.serve.metrics import Metrics

    app = FastAPI()
    install_error_handlers(app, Metrics())

    @app.get("/x")
    def damaged() -> None:
        raise DamagedIndexError("/srv/data/index/seg-1.seg", "block 3 fails its checksum", "seg-1")

    r = TestClient(app).get("/x")
    assert r.status_code == 503 and r.json()["code"] == "index_damaged"
    assert "/srv" not in r.text and "verify --repair" in r.json()["message"]  # no server paths to a client


def test_telegram_says_part_of_the_index_is_out_of_service() -> None:
    from bot.telegram import render, strings
    from retrieval.models import Answer

    whole = Answer("q", "en", True, verdict="answer")
    partial = Answer("q", "en", True, verdict="answer", unavailable="part of the index is damaged")
    assert render.caveats(whole, "en") == []
    assert render.caveats(partial, "ko") == [strings.t("ko", "index_partial")]
    assert "unavailable" not in whole.to_json() and partial.to_json()["unavailable"]
    assert Answer.from_dict(partial.to_dict()) == partial
