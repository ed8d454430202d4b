"""Shared fixtures: one real Kiwi analyser and one real encoder per session, engines over temp
copies of the corpus.

Engines are opened with a bare `EngineConfig(corpus, data)`: its defaults are the product's
(retrieval/defaults.py), encoder included, so the tests run what users run. The session's
encoder is passed in only so that it loads once.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pytest_httpserver import HTTPServer

from retrieval import Analyzer, Article, Engine, EngineConfig

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED_DATA = ROOT.parent / "shared" / "data"


# Test groups (tests/README.md): every test is marked `unit`, `integration` or `e2e` by its file,
# so `uv run pytest -m unit` runs the quick ones. A file not named here is `integration`.
UNIT = {
    "test_align", "test_analyze", "test_anchors", "test_belebele", "test_confidence", "test_docs",
    "test_encoder", "test_extract", "test_fetch", "test_fusion_rows", "test_import_graph", "test_measure",
    "test_merge_policy", "test_question", "test_quotes", "test_sentences", "test_vectors",
}  # fmt: skip
E2E = {
    "test_ask_forms", "test_cli", "test_container", "test_serve", "test_serve_page", "test_serve_schema",
    "test_telegram", "test_telegram_conversation", "test_telegram_news",
}  # fmt: skip


def group_of(module: str) -> str:
    return "unit" if module in UNIT else "e2e" if module in E2E else "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(group_of(item.path.stem))


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer(workers=2)


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """The whole shipped corpus, whitespace folded, to check quotes against verbatim."""
    return normalize("\n".join(p.read_text("utf-8") for p in sorted(CORPUS.glob("*.txt"))))


def open_engine(config: EngineConfig, analyzer: Analyzer, encoder: object = None, **kw: object) -> Engine:
    """`Engine.open` as the product does it, with the session's Kiwi and (unless the config says
    `none`, or a test passes its own) the session's real encoder."""
    if encoder is None and config.encoder != "none":
        from encoder_support import shared_encoder

        encoder = shared_encoder()
    return Engine.open(config, analyzer=analyzer, encoder=encoder, **kw)  # type: ignore[arg-type]


class StoreQuestion(NamedTuple):
    """A small real store and one question's answer-path context over it."""

    snap: Any  # the store's snapshot
    ctx: Any  # the question's `QuestionContext`
    query: Any  # its `Query`
    by_article: dict[str, list[int]]  # each article's uids, in text order
    path: Any  # the answer path it came from (`path.ask(snap, question)`: the whole answer)


def store_question(
    base: Path, analyzer: Analyzer, with_encoder: object, articles: Sequence[Article], question: str, **config: object
) -> StoreQuestion:
    """`articles` in a fresh store under `base` (the product's defaults, but for `config`; the
    encoder object is `with_encoder`, None when `config` says `encoder="none"`), and
    the context and query the answer path makes for `question` over its snapshot: for tests of
    one stage of the path (story evidence, translated coverage, neighbours)."""
    from retrieval.answer.question import read_question
    from retrieval.path import Parts

    parts = Parts(EngineConfig(base / "corpus", base / "data", **config), analyzer, with_encoder)  # type: ignore[arg-type]
    store = parts.store(base / "index")
    store.add(list(articles))
    snap = store.snapshot()
    path = parts.path()
    answerer = path.answerer(snap)
    ctx = answerer.context(read_question(question, analyzer.morphemes), analyzer.question_words(question))
    by_article: dict[str, list[int]] = {}
    for u in snap.uids().tolist():
        by_article.setdefault(snap.passage(u).article.id, []).append(u)
    return StoreQuestion(snap, ctx, answerer.query(ctx.words), by_article, path)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer) -> Engine:
    """The shipped corpus, indexed once for the session with the product's defaults (read-only use)."""
    base = tmp_path_factory.mktemp("shipped")
    shutil.copytree(CORPUS, base / "corpus")
    return open_engine(EngineConfig(base / "corpus", base / "data"), analyzer)


@pytest.fixture
def make_engine(tmp_path: Path, analyzer: Analyzer) -> Callable[..., Engine]:
    """A fresh engine over a writable copy of the corpus, for tests that change things. Keywords
    are `EngineConfig` fields (the product's defaults otherwise: `encoder="none"` for words only);
    `with_encoder=` passes an encoder object instead of the session's real one (the hash
    encoder, for plumbing)."""

    def make(with_encoder: object = None, **kwargs: object) -> Engine:
        corpus = tmp_path / "corpus"
        if not corpus.exists():
            shutil.copytree(CORPUS, corpus)
        return open_engine(EngineConfig(corpus, tmp_path / "data", **kwargs), analyzer, with_encoder)  # type: ignore[arg-type]

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


@pytest.fixture(scope="session")
def parts(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer):  # type: ignore[no-untyped-def]
    """The product's parts for `measure` tests: the default config (its folders unused: a
    measurement builds its own stores), the session's Kiwi and its real encoder."""
    from encoder_support import shared_encoder

    from retrieval.path import Parts

    base = tmp_path_factory.mktemp("parts")
    return Parts(EngineConfig(base / "corpus", base / "data"), analyzer, shared_encoder())


@pytest.fixture(scope="session")
def hash_encoder():  # type: ignore[no-untyped-def]
    """A deterministic stand-in for plumbing tests that do not judge answers (Haystack's mock
    embedder): vectors from hashed words, no model to load."""
    from encoder_support import HashEncoder

    return HashEncoder()
