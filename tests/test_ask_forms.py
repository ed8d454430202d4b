"""`quoteqa ask` and `quoteqa ask --server` print the same thing (the README says "same output"):
a real `quoteqa serve` and local `ask` runs over one corpus, data folder and settings, their
stdout compared byte for byte, in text and in `--json` (minus `elapsed_ms`), one question and a
batch from stdin; and the shared pieces of that output (`bot.output.lines`) on their own."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from encoder_support import CACHE as ENCODER_CACHE

from bot.output.lines import answer_lines, plain, quoted
from tests.conftest import CORPUS, ROOT

EN_Q = "What did the Kremlin say?"  # answered with the unsure caveat
KO_Q = "크렘린궁은 뭐라고 했나요?"
OFF_TOPIC = "What is the capital of France?"  # refused: exit code 1
BATCH = [EN_Q, "", KO_Q, "bad\x01question", OFF_TOPIC, "Who did Musk invite to Clubhouse?"]
ELAPSED = re.compile(r'"elapsed_ms": [0-9.]+')


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A `quoteqa serve` subprocess, and the environment a local `ask` over the same index uses."""
    base = tmp_path_factory.mktemp("forms")
    shutil.copytree(CORPUS, base / "corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    env.update(
        QUOTEQA_CORPUS_DIR=str(base / "corpus"),
        QUOTEQA_DATA_DIR=str(base / "data"),
        QUOTEQA_WORKERS="2",
        QUOTEQA_ENCODER_CACHE_DIR=str(ENCODER_CACHE),
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        yield url, env
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def _ask(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", *args], input=stdin, capture_output=True, text=True, env=env,
        timeout=120, cwd=ROOT,
    )  # fmt: skip


def _both(served: tuple[str, dict[str, str]], *args: str, stdin: str | None = None) -> tuple[str, str]:
    url, env = served
    local = _ask(env, *args, stdin=stdin)
    remote = _ask(env, "--server", url, *args, stdin=stdin)
    assert local.returncode == remote.returncode, (local.stderr, remote.stderr)
    return local.stdout, remote.stdout


def test_one_question_prints_the_same_locally_and_through_the_server(served: tuple[str, dict[str, str]]) -> None:
    local, remote = _both(served, EN_Q)
    assert local == remote
    assert local.startswith("Closest passage") and "\n1. “" in local and "   — " in local  # the README's form
    local, remote = _both(served, EN_Q, "--json")
    assert ELAPSED.sub("", local) == ELAPSED.sub("", remote) and ELAPSED.search(remote)
    local, remote = _both(served, OFF_TOPIC)
    assert local == remote and local.strip()


def test_a_batch_prints_the_same_locally_and_through_the_server(served: tuple[str, dict[str, str]]) -> None:
    stdin = "\n".join(BATCH) + "\n"
    local, remote = _both(served, "-", stdin=stdin)
    assert local == remote
    assert local.count("Q: ") == len(BATCH)  # a blank or bad line still gets its answer block
    local, remote = _both(served, "-", "--json", stdin=stdin)
    assert ELAPSED.sub("", local) == ELAPSED.sub("", remote)
    assert len(local.splitlines()) == len(BATCH)  # one JSON line per input line, blank ones too


def test_a_refused_question_is_the_same_error_both_ways(served: tuple[str, dict[str, str]]) -> None:
    url, env = served
    local = _ask(env, "bad\x01question", "--json")
    remote = _ask(env, "--server", url, "bad\x01question", "--json")
    assert (local.returncode, local.stdout, local.stderr) == (remote.returncode, remote.stdout, remote.stderr)
    assert local.returncode == 2 and '"type": "QuestionError"' in local.stdout


def test_a_quote_that_opens_with_a_quotation_mark_is_not_quoted_twice() -> None:
    assert "".join(t for _, t in quoted("“Interesting,” Peskov said.")) == "“Interesting,” Peskov said."
    assert "".join(t for _, t in quoted("Peskov said it was interesting.")) == "“Peskov said it was interesting.”"
    assert quoted("Musk invited Putin", [(0, 4), (2, 6), (13, 30)]) == [
        ("", "“"), ("hit", "Musk"), ("", " invited "), ("hit", "Putin"), ("", "”"),
    ]  # fmt: skip


def test_the_lines_of_an_answer() -> None:
    row = {
        "answered": True, "verdict": "unsure", "message": "Closest passage — it may not answer exactly.",
        "context": "Who invited   Putin?", "question": "And the Kremlin?",
        "quotes": [{"text": "The Kremlin said no.", "title": "T", "paragraph": 3, "language": "en", "source": "CNBC",
                    "aligned": [{"text": "크렘린은 거절했다.", "title": "", "article": "a-ko", "paragraph": 2, "language": "ko"}]}],
    }  # fmt: skip
    assert plain(answer_lines(row, originals=True)) == (
        "following up on: Who invited Putin?\n"
        "Closest passage — it may not answer exactly.\n"
        "1. “The Kremlin said no.”\n"
        "   — T · paragraph 3 · English · CNBC\n"
        "   original: “크렘린은 거절했다.” — a-ko · paragraph 2 · Korean\n"
    )
    refused = {"answered": False, "message": "No answer.", "question": "Q?", "quotes": []}
    assert plain(answer_lines(refused, question=True)) == "Q: Q?\nNo answer.\n"


def test_on_a_terminal_ask_server_colours_the_same_lines_without_loading_the_core(
    served: tuple[str, dict[str, str]],
) -> None:
    """On a terminal the same lines come coloured (rich); `ask --server` still loads no analyser,
    numpy or core for it."""
    import pty

    url, env = served
    master, slave = pty.openpty()
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot.cli", "ask", "--server", url, EN_Q],
        stdout=slave, stderr=subprocess.PIPE, text=True, env={**env, "TERM": "xterm-256color"}, timeout=60, cwd=ROOT,
    )  # fmt: skip
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    text = out.decode("utf-8", "replace")
    assert r.returncode == 0 and "\x1b[" in text, text  # coloured
    plain_text = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r\n", "\n")
    assert plain_text == _ask(env, "--server", url, EN_Q).stdout  # the same words as in a pipe
    modules = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "import time:" in line}
    assert "rich" in modules and not modules & {"numpy", "kiwipiepy", "retrieval", "pydantic"}, sorted(modules)
