"""Shared fixtures: one real Kiwi analyser per session, engines over temp copies of the corpus."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from retrieval import Analyzer, Engine, EngineConfig

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED_DATA = ROOT.parent / "shared" / "data"


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer(workers=2)


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """The whole shipped corpus, whitespace folded, to check quotes against verbatim."""
    return normalize("\n".join(p.read_text("utf-8") for p in sorted(CORPUS.glob("*.txt"))))


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer) -> Engine:
    """The shipped corpus, indexed once for the session (read-only use)."""
    base = tmp_path_factory.mktemp("shipped")
    shutil.copytree(CORPUS, base / "corpus")
    return Engine.open(EngineConfig(base / "corpus", base / "data"), analyzer=analyzer)


@pytest.fixture
def make_engine(tmp_path: Path, analyzer: Analyzer) -> Callable[..., Engine]:
    """A fresh engine over a writable copy of the corpus, for tests that change things."""

    def make(**kwargs: object) -> Engine:
        corpus = tmp_path / "corpus"
        if not corpus.exists():
            shutil.copytree(CORPUS, corpus)
        return Engine.open(EngineConfig(corpus, tmp_path / "data", **kwargs), analyzer=analyzer)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def web_server() -> Iterator[HTTPServer]:
    """A real HTTP server on 127.0.0.1 (threaded, so a slow page does not hold up the others)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def web(web_server: HTTPServer) -> Iterator[HTTPServer]:
    """The server with no pages yet; whatever a test serves is gone after it."""
    web_server.clear()
    web_server.no_handler_status_code = 404  # a path no test serves is missing, as on a real site
    yield web_server
    web_server.clear()


@pytest.fixture(scope="session")
def encoder():  # type: ignore[no-untyped-def]
    """The real USE-m3 encoder, loaded once per session (its start-up cache in the temp folder)."""
    from encoder_support import shared_encoder

    return shared_encoder()
