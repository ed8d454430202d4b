"""The Dockerfile's image, built and run with podman (slow: minutes): `quoteqa ask` answers from
the shipped corpus inside it, and `quoteqa serve` in it answers `/healthz` and `/v1/ask`.

Skipped, saying why, where podman is missing or the Dockerfile's base image is neither present
nor pullable. A sandbox may need more options: QUOTEQA_TEST_PODMAN_OPTS for podman itself (here:
`--storage-driver vfs --runtime runc`) and QUOTEQA_TEST_PODMAN_RUN_OPTS for its build and run
steps (here: `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024`); see docs/http-api.md."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ROOT, normalize

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]  # a build takes minutes, more on vfs
PODMAN = shutil.which("podman")
OPTS = shlex.split(os.environ.get("QUOTEQA_TEST_PODMAN_OPTS", ""))
RUN_OPTS = shlex.split(os.environ.get("QUOTEQA_TEST_PODMAN_RUN_OPTS", ""))


def _podman(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    assert PODMAN is not None
    return subprocess.run([PODMAN, *OPTS, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if PODMAN is None:
        pytest.skip("podman is not installed (apt-get install podman)")
    base = re.search(r"^FROM\s+(\S+)", (ROOT / "Dockerfile").read_text("utf-8"), re.MULTILINE)
    assert base, "the Dockerfile names its base image"
    if _podman("image", "exists", base[1]).returncode != 0:
        pulled = _podman("pull", base[1], timeout=300)
        if pulled.returncode != 0:
            pytest.skip(f"the base image {base[1]} is not here and cannot be pulled: {pulled.stderr.strip()[-300:]}")
    tag = f"localhost/quoteqa-test:{uuid.uuid4().hex[:8]}"
    built = _podman("build", "--pull=never", "--network", "host", *RUN_OPTS, "-t", tag, str(ROOT), timeout=3600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        yield tag
    finally:
        _podman("rmi", "-f", tag)


def test_ask_in_the_image(image: str, corpus_text: str) -> None:
    r = _podman("run", "--rm", *RUN_OPTS, image, "ask", "What did the Kremlin say?", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    answer = json.loads(r.stdout.strip().splitlines()[-1])
    assert answer["answered"] and "Peskov" in answer["quotes"][0]["text"]
    assert all(normalize(q["text"]) in corpus_text for q in answer["quotes"])  # quoted verbatim


def test_serve_in_the_image_answers_healthz(image: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = f"quoteqa-test-{uuid.uuid4().hex[:8]}"
    started = _podman(
        "run", "-d", "--name", name, *RUN_OPTS, "--network", "host",
        "-e", "QUOTEQA_API_HOST=127.0.0.1", "-e", f"QUOTEQA_API_PORT={port}", image, "serve",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, _podman("logs", name).stderr[-2000:]
                time.sleep(1)
        assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["passages"] == 19
        asked = httpx.post(f"http://127.0.0.1:{port}/v1/ask", json={"question": "크렘린궁은 뭐라고 했나요?"}, timeout=30)
        assert asked.json()["answered"] and asked.json()["language"] == "ko"
    finally:
        _podman("rm", "-f", "-t", "5", name)
