"""The `quoteqa` command as a script would use it: a real subprocess, real stdout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from encoder_support import CACHE as ENCODER_CACHE

from tests.conftest import CORPUS, normalize

QUOTE_KEYS = {"text", "article", "title", "paragraph", "language", "score"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("cli")
    shutil.copytree(CORPUS, base / "corpus")
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    e.update(
        QUOTEQA_CORPUS_DIR=str(base / "corpus"),
        QUOTEQA_DATA_DIR=str(base / "data"),
        QUOTEQA_WORKERS="2",
        QUOTEQA_ENCODER_CACHE_DIR=str(ENCODER_CACHE),
    )
    return e


def quoteqa(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def test_ask_json_shape(env: dict[str, str]) -> None:
    r = quoteqa(env, "ask", "What did the Kremlin say?", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"answered", "language", "quotes", "message", "elapsed_ms"} <= out.keys()
    assert out["answered"] is True and out["language"] == "en"
    assert out["quotes"] and all(QUOTE_KEYS <= q.keys() for q in out["quotes"])
    corpus = normalize((CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8"))
    assert all(q["text"] in corpus for q in out["quotes"])
    assert "Peskov" in out["quotes"][0]["text"]


def test_ask_json_carries_confidence_and_verdict_and_the_levels_are_settings(env: dict[str, str]) -> None:
    out = json.loads(quoteqa(env, "ask", "Did Musk invite Putin to Clubhouse?", "--json").stdout)
    assert 0.0 <= out["confidence"] <= 1.0 and out["verdict"] in ("answer", "unsure") and out["answered"]
    r = quoteqa(env | {"QUOTEQA_SURE_CONFIDENCE": "1"}, "ask", "Did Musk invite Putin to Clubhouse?", "--json")
    unsure = json.loads(r.stdout)
    assert r.returncode == 0 and unsure["verdict"] == "unsure" and unsure["answered"] and unsure["quotes"]
    assert unsure["message"].startswith("Closest passage") and unsure["confidence"] == out["confidence"]
    r = quoteqa(env | {"QUOTEQA_MIN_CONFIDENCE": "1"}, "ask", "Did Musk invite Putin to Clubhouse?", "--json")
    refused = json.loads(r.stdout)
    assert r.returncode == 1 and refused["verdict"] == "abstain" and not refused["answered"] and refused["quotes"] == []
    r = quoteqa(env | {"QUOTEQA_MIN_CONFIDENCE": "1.5"}, "ask", "Did Musk invite Putin to Clubhouse?")
    assert r.returncode == 2 and "QUOTEQA_MIN_CONFIDENCE" in r.stderr and "Traceback" not in r.stderr


def test_ask_readable(env: dict[str, str]) -> None:
    r = quoteqa(env, "ask", "크렘린궁은 뭐라고 했나요?")
    assert r.returncode == 0, r.stderr
    assert "러시아 크렘린궁 대변인은" in r.stdout and "paragraph 5" in r.stdout


def test_ask_many_from_stdin_one_json_line_each(env: dict[str, str]) -> None:
    questions = ["What did the Kremlin say?", "", "오늘 서울 날씨 어때?", "x" * 3000, "크렘린궁은 뭐라고 했나요?"]
    r = quoteqa(env, "ask", "--json", "-", stdin="\n".join(questions) + "\n")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == len(questions), "one output line per input line, blank ones too"
    assert [row["answered"] for row in rows] == [True, False, False, False, True]
    assert "empty" in rows[1]["error"] and rows[1]["question"] == ""
    assert "limit" in rows[3]["error"]
    assert [row["question"] for row in rows[::2]] == questions[::2]


@pytest.mark.parametrize(
    ("question", "code", "fragment"), [("", 2, "empty"), ("x" * 2001, 2, "limit"), ("bad\x01", 2, "control")]
)
def test_bad_question_exit_codes(env: dict[str, str], question: str, code: int, fragment: str) -> None:
    r = quoteqa(env, "ask", question)
    assert r.returncode == code and fragment in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1


def test_unanswerable_exits_one(env: dict[str, str]) -> None:
    r = quoteqa(env, "ask", "What is the capital of France?", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["answered"] is False


def test_unknown_command(env: dict[str, str]) -> None:
    r = quoteqa(env, "frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_sources_json(env: dict[str, str]) -> None:
    r = quoteqa(env, "sources", "--json")
    [row] = json.loads(r.stdout)
    assert row["id"] == "clubhouse-putin-musk" and row["passages"] == 19 and row["languages"] == ["en", "ko"]


def test_empty_corpus_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    e = {**env, "QUOTEQA_CORPUS_DIR": str(tmp_path / "empty"), "QUOTEQA_DATA_DIR": str(tmp_path / "d")}
    (tmp_path / "empty").mkdir()
    r = quoteqa(e, "ask", "What did the Kremlin say?")
    assert r.returncode == 2 and "no articles" in r.stderr and "quoteqa ingest" in r.stderr


def test_broken_corpus_file_is_named_and_skipped(env: dict[str, str], tmp_path: Path) -> None:
    """A broken file never stops serving: every command still works, and says what to fix."""
    corpus = tmp_path / "c"
    shutil.copytree(CORPUS, corpus)
    (corpus / "feed.jsonl").write_text('{"id": "a", "title": "T", "text": "x"}\n{oops\n', "utf-8")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me.\n".encode("latin-1"))
    e = {**env, "QUOTEQA_CORPUS_DIR": str(corpus), "QUOTEQA_DATA_DIR": str(tmp_path / "d")}
    r = quoteqa(e, "ask", "What did the Kremlin say?", "--json")
    assert r.returncode == 0 and "Peskov" in json.loads(r.stdout)["quotes"][0]["text"]
    assert "skipped feed.jsonl: line 2: not valid JSON" in r.stderr and "skipped latin1.txt: not UTF-8" in r.stderr
    assert "Traceback" not in r.stderr
    r = quoteqa(e, "sources", "--json")
    assert r.returncode == 0 and [row["id"] for row in json.loads(r.stdout)] == ["clubhouse-putin-musk"]
    feed = tmp_path / "okapi.jsonl"
    feed.write_text(
        json.dumps({"id": "okapi", "title": "Okapis", "text": "The okapi lives in the Congo."}) + "\n", "utf-8"
    )
    r = quoteqa(e, "ingest", str(feed))
    assert r.returncode == 0 and "1 added" in r.stdout and "latin1.txt" in r.stderr


def test_ingest_command(env: dict[str, str], tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    shutil.copytree(CORPUS, corpus)
    e = {**env, "QUOTEQA_CORPUS_DIR": str(corpus), "QUOTEQA_DATA_DIR": str(tmp_path / "d")}
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"id": "okapi", "title": "Okapis", "text": "The okapi lives in the Congo."}) + "\n", "utf-8"
    )
    r = quoteqa(e, "ingest", str(feed))
    assert r.returncode == 0 and "1 added" in r.stdout, r.stderr
    r = quoteqa(e, "ask", "Where does the okapi live?", "--json")
    assert json.loads(r.stdout)["quotes"][0]["text"] == "The okapi lives in the Congo."
    r = quoteqa(e, "ingest", str(feed))
    assert "0 added, 1 unchanged" in r.stdout

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    before = sorted(p.name for p in corpus.iterdir())
    r = quoteqa(e, "ingest", str(feed), str(pdf))
    assert r.returncode == 2 and "unsupported file type .pdf" in r.stderr and "Traceback" not in r.stderr
    accepted = r.stderr.split("use ", 1)[1]
    assert all(s in accepted for s in (".txt", ".md", ".markdown", ".jsonl", ".html", ".htm")), r.stderr
    assert sorted(p.name for p in corpus.iterdir()) == before  # all or nothing: the good file waits too


def test_bad_setting_is_one_line(env: dict[str, str]) -> None:
    r = quoteqa({**env, "QUOTEQA_BM25_K1": "-3"}, "ask", "Kremlin?")
    assert (
        r.returncode == 2 and "QUOTEQA_BM25_K1" in r.stderr and "Traceback" not in r.stderr
    )  # the variable, not the field
    r = quoteqa({**env, "QUOTEQA_ALLOWED_CHAT_IDS": "12,abc"}, "ask", "Kremlin?")
    assert r.returncode == 2 and "QUOTEQA_ALLOWED_CHAT_IDS" in r.stderr and "Traceback" not in r.stderr


def test_console_session_over_a_pipe(env: dict[str, str]) -> None:
    r = quoteqa(env, "console", stdin=":help\nWhat did the Kremlin say?\n:bogus\n:sources\n:quit\nnever asked\n")
    assert r.returncode == 0, r.stderr
    assert "Peskov" in r.stdout and "unknown command :bogus" in r.stdout and "clubhouse-putin-musk" in r.stdout
    assert r.stdout.rstrip().endswith("bye")


# --- web pages, show / remove / sources, and corpus management (issue 13) -----------------------


def _web_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    corpus = tmp_path / "c"
    shutil.copytree(CORPUS, corpus)
    return {
        **env,
        "QUOTEQA_CORPUS_DIR": str(corpus),
        "QUOTEQA_DATA_DIR": str(tmp_path / "d"),
        "QUOTEQA_FETCH_ALLOW_PRIVATE": "true",
    }


def test_ingest_urls_show_sources_remove(env: dict[str, str], tmp_path: Path, web: object) -> None:
    from tests.news_pages import EN_PARAGRAPHS, en_page, ko_page

    web.expect_request("/en").respond_with_data(
        en_page(canonical="https://example.org/world/k1"), content_type="text/html"
    )  # type: ignore[attr-defined]
    web.expect_request("/ko").respond_with_data(
        ko_page(charset="euc-kr", published="2021-02-16T10:00:00+09:00").encode("cp949"), content_type="text/html"
    )  # type: ignore[attr-defined]
    e = _web_env(env, tmp_path)
    urls = [web.url_for("/en"), web.url_for("/missing"), web.url_for("/ko")]  # type: ignore[attr-defined]
    r = quoteqa(e, "ingest", *urls)
    assert r.returncode == 1, r.stderr  # one link failed: the exit code says so, the others went in
    assert f"failed {urls[1]}: HTTP 404" in r.stderr and "2 added" in r.stdout and "1 failed" in r.stdout
    rows = json.loads(quoteqa(e, "sources", "--json").stdout)
    assert [row["date"] for row in rows][:2] == [
        "2021-02-16T10:00:00+09:00",
        "2021-02-15T09:30:00+09:00",
    ]  # newest first
    assert {"id", "title", "url", "date"} <= rows[0].keys() and len(rows) == 3
    en_id = rows[1]["id"]
    shown = json.loads(quoteqa(e, "show", en_id, "--json").stdout)
    assert shown["paragraphs"] == list(EN_PARAGRAPHS) and shown["url"] == "https://example.org/world/k1"
    assert (shown["author"], shown["date"], shown["source"]) == (
        "Jane Doe",
        "2021-02-15T09:30:00+09:00",
        "Example Daily News",
    )
    r = quoteqa(e, "ask", "What did Peskov tell reporters?", "--json")
    assert json.loads(r.stdout)["quotes"][0]["url"] == "https://example.org/world/k1"
    r = quoteqa(e, "remove", en_id)
    assert r.returncode == 0 and "removed" in r.stdout
    assert en_id not in quoteqa(e, "sources", "--json").stdout
    assert not list(Path(e["QUOTEQA_CORPUS_DIR"]).glob(f"{en_id}*"))  # the article and its raw page
    r = quoteqa(e, "show", en_id)
    assert r.returncode == 2 and "no article" in r.stderr


def test_ingest_refuses_private_hosts_by_default(env: dict[str, str], tmp_path: Path, web: object) -> None:
    e = {**_web_env(env, tmp_path), "QUOTEQA_FETCH_ALLOW_PRIVATE": "false"}
    r = quoteqa(e, "ingest", web.url_for("/en"))  # type: ignore[attr-defined]
    assert r.returncode == 1 and "loopback address" in r.stderr and "0 added" in r.stdout


def test_corpus_management_fixes(env: dict[str, str], tmp_path: Path) -> None:
    """CRLF front matter, a BOM, a folder with stray and broken files, a missing corpus folder,
    global options after the subcommand, a corrected title."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "okapi.md").write_bytes(
        b"\xef\xbb\xbf---\r\ntitle: Okapis of the Congo\r\nsource: Zoo News\r\n---\r\n\r\nThe okapi lives in the Congo.\r\n"
    )
    (inbox / "notes.json").write_text("{}", "utf-8")
    (inbox / "readme.markdown").write_text("Giraffes are the okapi's only living relatives.\n", "utf-8")
    e = {k: v for k, v in env.items() if k not in ("QUOTEQA_CORPUS_DIR", "QUOTEQA_DATA_DIR")}
    corpus = tmp_path / "new" / "corpus"
    r = quoteqa(e, "ingest", str(inbox), "--corpus-dir", str(corpus), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    assert "2 added" in r.stdout and "skipped" in r.stderr and "notes.json" in r.stderr
    shown = json.loads(
        quoteqa(e, "show", "okapi", "--json", "--corpus-dir", str(corpus), "--data-dir", str(tmp_path / "d")).stdout
    )
    # the CRLF front matter was read as such, and neither the BOM nor "title:" is in the passages
    assert shown["title"] == "Okapis of the Congo" and shown["paragraphs"] == ["The okapi lives in the Congo."]
    (inbox / "okapi.md").write_text(
        "---\ntitle: Okapis, the forest giraffes\nsource: Zoo News\n---\n\nThe okapi lives in the Congo.\n", "utf-8"
    )
    (inbox / "bad1.jsonl").write_text("{oops\n", "utf-8")
    (inbox / "bad2.txt").write_bytes(b"caf\xe9\n")
    r = quoteqa(e, "--corpus-dir", str(corpus), "--data-dir", str(tmp_path / "d"), "ingest", str(inbox))
    assert r.returncode == 2 and "bad1.jsonl" in r.stderr and "bad2.txt" in r.stderr  # every broken file named
    (inbox / "bad1.jsonl").unlink()
    (inbox / "bad2.txt").unlink()
    r = quoteqa(e, "--corpus-dir", str(corpus), "--data-dir", str(tmp_path / "d"), "ingest", str(inbox / "okapi.md"))
    assert "1 updated" in r.stdout, r.stdout + r.stderr
    rows = json.loads(
        quoteqa(e, "sources", "--json", "--corpus-dir", str(corpus), "--data-dir", str(tmp_path / "d")).stdout
    )
    assert {row["id"]: row["title"] for row in rows}["okapi"] == "Okapis, the forest giraffes"


def test_feeds_commands(env: dict[str, str], tmp_path: Path, web: object) -> None:
    from tests.news_pages import en_page, rss

    web.expect_request("/rss").respond_with_data(
        rss([("Kremlin", web.url_for("/en"))]), content_type="application/rss+xml"
    )  # type: ignore[attr-defined]
    web.expect_request("/en").respond_with_data(en_page(), content_type="text/html")  # type: ignore[attr-defined]
    web.expect_request("/page").respond_with_data(en_page(), content_type="text/html")  # type: ignore[attr-defined]
    e = _web_env(env, tmp_path)
    feed = web.url_for("/rss")  # type: ignore[attr-defined]
    r = quoteqa(e, "feeds", "add", web.url_for("/page"))  # type: ignore[attr-defined]
    assert r.returncode == 2 and "not a feed" in r.stderr
    assert quoteqa(e, "feeds", "add", feed).returncode == 0
    assert feed in quoteqa(e, "feeds", "list").stdout
    r = quoteqa(e, "feeds", "poll")
    assert r.returncode == 0 and "added" in r.stdout and "1 article(s) added" in r.stdout, r.stderr
    assert quoteqa(e, "feeds", "remove", feed).returncode == 0
    assert feed not in quoteqa(e, "feeds", "list").stdout


def test_feeds_say_what_is_already_there_and_what_to_do(env: dict[str, str], tmp_path: Path, web: object) -> None:
    """Issue 20, item 10: adding a feed twice, listing none, ingesting a feed's address."""
    from tests.news_pages import rss

    web.expect_request("/rss").respond_with_data(
        rss([("Kremlin", "http://example.org/a")]), content_type="application/xml"
    )  # type: ignore[attr-defined]
    e = _web_env(env, tmp_path)
    feed = web.url_for("/rss")  # type: ignore[attr-defined]
    r = quoteqa(e, "feeds", "list")
    assert r.returncode == 0 and "no feeds yet" in r.stdout and "quoteqa feeds add URL" in r.stdout
    assert quoteqa(e, "feeds", "add", feed).stdout.startswith("subscribed to")
    r = quoteqa(e, "feeds", "add", feed)
    assert r.returncode == 0 and r.stdout.startswith(f"already subscribed to {feed}") and "nothing changed" in r.stdout
    assert quoteqa(e, "feeds", "list").stdout.count(feed) == 1
    r = quoteqa(e, "ingest", feed)
    assert r.returncode == 1 and f"quoteqa feeds add {feed}" in r.stderr and "not a web page" in r.stderr


def test_sources_never_cut_an_id_and_show_json_errors_are_json(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 20, item 9: at 80 columns the id `show` and `remove` need is printed whole; with
    --json an error is a JSON object on stdout as well as exit code 2."""
    corpus = tmp_path / "c"
    shutil.copytree(CORPUS, corpus)
    long_id = "127-0-0-1-a-htm-world-news-kremlin-clubhouse-story-1a2b3c4d"
    (corpus / f"{long_id}.md").write_text(
        "---\ntitle: A very long title about the Kremlin, Clubhouse and Elon Musk inviting Vladimir Putin to talk\n"
        "source: Example Daily News Service\n---\n\nPeskov said the invitation was interesting.\n",
        "utf-8",
    )
    e = {**env, "QUOTEQA_CORPUS_DIR": str(corpus), "QUOTEQA_DATA_DIR": str(tmp_path / "d"), "COLUMNS": "80"}
    r = quoteqa(e, "sources")
    assert r.returncode == 0 and long_id in r.stdout.split(), r.stdout
    assert "clubhouse-putin-musk" in r.stdout.split() and "…" not in r.stdout
    e["COLUMNS"] = "200"
    assert long_id in quoteqa(e, "sources").stdout
    r = quoteqa(e, "show", "no-such-article", "--json")
    assert r.returncode == 2
    error = json.loads(r.stdout)
    assert "no article" in error["error"] and "no-such-article" in error["error"]
    r = quoteqa(e, "ask", "bad\x01", "--json")
    assert r.returncode == 2 and "control" in json.loads(r.stdout)["error"]


def test_ask_after_an_interrupted_ingest_says_it_is_catching_up(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 20, item 11: files in the corpus folder that the index does not hold (an ingest
    killed after writing them) are indexed by the next command; it says so on stderr, with
    progress, and stdout stays the answer."""
    corpus = tmp_path / "c"
    shutil.copytree(CORPUS, corpus)
    e = {**env, "QUOTEQA_CORPUS_DIR": str(corpus), "QUOTEQA_DATA_DIR": str(tmp_path / "d")}
    first = quoteqa(e, "ask", "What did the Kremlin say?", "--json")
    assert first.returncode == 0 and "for the first time" in first.stderr, first.stderr
    paragraphs = [f"Wombat survey {n} counted {n * 3} wombats near burrow {n}." for n in range(1, 301)]
    (corpus / "wombat-survey.md").write_text(
        "---\ntitle: Wombat survey\n---\n\n" + "\n\n".join(paragraphs) + "\n", "utf-8"
    )
    r = quoteqa(e, "ask", "How many wombats near burrow 17?", "--json")
    assert r.returncode == 0, r.stderr
    assert "indexing 300 passage(s) that are in the corpus folder but not in the index yet" in r.stderr, r.stderr
    assert "quoteqa: indexed 300 passage(s) in" in r.stderr
    assert json.loads(r.stdout)["quotes"][0]["text"] == paragraphs[16]
    again = quoteqa(e, "ask", "How many wombats near burrow 17?", "--json")
    assert again.stderr == "", "caught up once"


# --- issue 14: small things a new user found, and the console's conversation ----------------------


@pytest.mark.parametrize("n", ["0", "-2", "two"])
def test_ask_refuses_a_quote_count_below_one(env: dict[str, str], n: str) -> None:
    r = quoteqa(env, "ask", "What did the Kremlin say?", "-n", n)
    assert r.returncode == 2 and "--max-quotes" in r.stderr and r.stdout == ""
    assert ("must be 1 or more" in r.stderr) if n != "two" else ("not a whole number" in r.stderr)


@pytest.mark.parametrize("args", [("sources", "--json"), ("ask", "What did the Kremlin say?")])
def test_a_closed_pipe_ends_the_command_quietly(env: dict[str, str], args: tuple[str, ...]) -> None:
    """`quoteqa … | head` where head has gone before anything is written: exit 0, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before Kiwi has loaded
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", err


def test_console_keeps_a_conversation_and_new_resets_it(
    engine: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console passes its last turns (at most three) to `Engine.ask`, prints the earlier
    question an answer followed up on, and `:new` starts afresh."""
    import dataclasses
    import io

    from bot.terminal.console import run_console

    seen: list[list[str]] = []

    class Recording:
        def __getattr__(self, name: str) -> object:
            return getattr(engine, name)

        def ask(self, question: str, max_quotes: int = 3, history: tuple = ()) -> object:
            seen.append([t.question for t in history])
            answer = engine.ask(question, max_quotes, history)  # type: ignore[attr-defined]
            return dataclasses.replace(answer, context=history[-1].question) if history else answer

    lines = [
        "Who invited Putin to Clubhouse?",
        "What did the Kremlin say?",
        ":new",
        "What did [bold]Peskov[/] say?",
        "a",
        "b",
        "c",
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert run_console(Recording(), Path("/nonexistent/history")) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert seen[:3] == [[], ["Who invited Putin to Clubhouse?"], []]
    assert seen[-1] == ["What did [bold]Peskov[/] say?", "a", "b"]
    assert "following up on: Who invited Putin to Clubhouse?" in out and "new conversation" in out
    assert "following up on: What did [bold]Peskov[/] say?" in out  # markup in a question is text
