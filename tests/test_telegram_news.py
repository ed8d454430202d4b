"""Telegram end to end for news: admins send links, documents and feeds; others get told how
to ask. The real python-telegram-bot stack against the fake Bot API, pages from a real local
HTTP server, the real engine and store."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer

from bot.settings import PROJECT_ROOT
from bot.telegram.app import build_application, running
from retrieval import Analyzer, Engine, EngineConfig
from tests.conftest import open_engine
from tests.fake_bot_api import FakeBotApi
from tests.news_pages import EN_PARAGRAPHS, KO_PARAGRAPHS, en_page, ko_page, rss
from tests.test_telegram import ADMIN, BOT, TOKEN, check_html, make_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")
CANON = "https://example.org/world/kremlin-clubhouse"


@pytest_asyncio.fixture(loop_scope="session")
async def news_bot(tmp_path: Path, analyzer: Analyzer) -> AsyncIterator[tuple[FakeBotApi, Engine]]:
    shutil.copytree(PROJECT_ROOT / "corpus", tmp_path / "corpus")
    engine = open_engine(EngineConfig(tmp_path / "corpus", tmp_path / "data"), analyzer)
    api = FakeBotApi(TOKEN, username=BOT)
    await api.start()
    settings = make_settings(
        api, tmp_path, telegram_file_api_url=api.file_url, fetch_allow_private=True, feed_interval_minutes=0.02,
    )  # fmt: skip
    app = build_application(settings, engine)
    try:
        async with running(app, poll_timeout=1, bootstrap_retries=0):
            yield api, engine
    finally:
        await api.stop()
        for call in api.calls_of("sendMessage"):
            check_html(call.params["text"])


async def _said(api: FakeBotApi, chat_id: int, push: Any, count: int = 1) -> list[str]:
    before = len(api.calls_of("sendMessage", chat_id))
    push()
    sent = await api.wait_sent(chat_id, before + count, timeout=20)
    return [c.params["text"] for c in sent[before:]]


async def test_admin_link_document_and_others(
    news_bot: tuple[FakeBotApi, Engine], web: HTTPServer, tmp_path: Path
) -> None:
    api, engine = news_bot
    web.expect_request("/en").respond_with_data(en_page(canonical=CANON), content_type="text/html")
    t0 = time.perf_counter()
    [reply] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, f"please add {web.url_for('/en')} thanks"))
    assert "Added “Kremlin says Putin has no plans to join Clubhouse” — 4 paragraphs, English" in reply
    [answer] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, "What did Peskov tell reporters?"))
    elapsed = time.perf_counter() - t0
    assert (
        "<b>Peskov</b> told <b>reporters</b> that the invitation from Elon Musk" in answer
        and f'<a href="{CANON}">' in answer
    )
    assert elapsed < 3.0, f"link to answer took {elapsed:.2f} s"
    print(f"link sent -> added -> question answered: {elapsed:.2f} s")

    [bad] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, web.url_for("/missing")))
    assert "❌" in bad and "HTTP 404" in bad

    doc = b"---\ntitle: Okapis <rare> & shy\n---\n\nThe okapi lives in the Ituri rainforest of the Congo.\n"
    [added] = await _said(api, ADMIN, lambda: api.private_document(ADMIN, "okapi notes.md", doc))
    assert "Added “Okapis &lt;rare&gt; &amp; shy” (okapi_notes)" in added
    assert engine.store.snapshot().article("okapi_notes") is not None
    html = ko_page(charset="euc-kr").encode("cp949")
    [ko] = await _said(api, ADMIN, lambda: api.private_document(ADMIN, "saved.html", html, "text/html"))
    assert "4 paragraphs, Korean" in ko
    [refused] = await _said(api, ADMIN, lambda: api.private_document(ADMIN, "report.pdf", b"%PDF-1.4"))
    assert "report.pdf is none of these" in refused

    stranger = 4242
    [told] = await _said(api, stranger, lambda: api.private_text(stranger, web.url_for("/en")))
    assert "Ask me a question instead, e.g. <code>" in told
    [told_ko] = await _said(api, stranger, lambda: api.private_text(stranger, web.url_for("/en"), language_code="ko"))
    assert "대신 질문해 보세요" in told_ko
    [no_doc] = await _said(api, stranger, lambda: api.private_document(stranger, "x.md", doc))
    assert "administrators" in no_doc
    api.group_text(-500, 4243, f"look at this {web.url_for('/en')}")  # group chatter: ignored
    [answer] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, "Where does the okapi live?"))
    assert "Ituri rainforest" in answer
    assert not api.calls_of("sendMessage", -500)
    assert [req.path for req, _ in web.log].count("/en") == 1  # the stranger's and the group's links were never fetched


async def test_feed_commands_and_polling_job(news_bot: tuple[FakeBotApi, Engine], web: HTTPServer) -> None:
    api, engine = news_bot
    web.expect_request("/rss").respond_with_data(
        rss([("크렘린", web.url_for("/ko"))]), content_type="application/rss+xml"
    )
    web.expect_request("/ko").respond_with_data(ko_page(), content_type="text/html")
    [usage] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, "/addfeed"))
    assert "/addfeed https://" in usage
    [added] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, f"/addfeed {web.url_for('/rss')}"))
    assert "Subscribed to" in added and "Example Daily News" in added
    [denied] = await _said(api, 4242, lambda: api.private_text(4242, "/feeds"))
    assert "administrators" in denied
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(
        KO_PARAGRAPHS[0] == a.meta.title or a.meta.title.startswith("크렘린궁")
        for a in engine.store.snapshot().articles()
    ):
        await _wait(0.2)
    assert any(a.meta.title.startswith("크렘린궁") for a in engine.store.snapshot().articles()), (
        "the job did not ingest the feed item"
    )
    [listed] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, "/feeds"))
    assert web.url_for("/rss") in listed and "1 item(s) seen" in listed
    [removed] = await _said(api, ADMIN, lambda: api.private_text(ADMIN, f"/removefeed {web.url_for('/rss')}"))
    assert "Unsubscribed" in removed
    assert EN_PARAGRAPHS  # the English page is not in this feed


async def _wait(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_a_slow_link_never_delays_answers(news_bot: tuple[FakeBotApi, Engine], web: HTTPServer) -> None:
    """An admin's link to a slow site is being fetched; someone else's question is answered
    meanwhile, well before the link's reply."""
    import asyncio

    from werkzeug import Request, Response

    api, _ = news_bot

    def slow(request: Request) -> Response:
        time.sleep(2.0)
        return Response(en_page(canonical="https://example.org/slow"), content_type="text/html")

    web.expect_request("/slow").respond_with_handler(slow)
    before = len(api.calls_of("sendMessage", ADMIN))
    api.private_text(ADMIN, web.url_for("/slow"))
    await asyncio.sleep(0.3)  # the fetch is under way
    t0 = time.perf_counter()
    [answer] = await _said(api, 5151, lambda: api.private_text(5151, "Who invited Putin to Clubhouse?"))
    waited = time.perf_counter() - t0
    assert "<blockquote>" in answer and waited < 1.0, f"the question waited {waited:.2f} s"
    assert len(api.calls_of("sendMessage", ADMIN)) == before  # the link is still being fetched
    sent = await api.wait_sent(ADMIN, before + 1, timeout=10)
    assert "Added “Kremlin says Putin" in sent[-1].params["text"]
