"""Web pages into the real store through the real engine (real Kiwi): what is indexed, and the
identity rules (canonical URL; same text elsewhere is a duplicate)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pytest_httpserver import HTTPServer

from news.feeds import FeedBook, poll
from news.fetch import FetchPolicy
from news.ingest import ingest_sources
from retrieval import Engine
from tests.conftest import normalize
from tests.news_pages import BOILERPLATE, EN_PARAGRAPHS, KO_PARAGRAPHS, article_page, atom, en_page, ko_page, rss

OPEN = FetchPolicy(allow_private=True, connect_timeout=2, read_timeout=3)
CANON = "https://example.org/world/kremlin-clubhouse"


def _passages(engine: Engine, article_id: str) -> list[str]:
    snap = engine.store.snapshot()
    return [snap.passage(int(u)).text for u in snap.uids() if snap.passage(int(u)).article.id == article_id]


def test_page_indexed_without_boilerplate_and_answerable(web: HTTPServer, make_engine: Callable[..., Engine]) -> None:
    web.expect_request("/en").respond_with_data(en_page(canonical=CANON), content_type="text/html; charset=utf-8")
    engine = make_engine()
    result = ingest_sources(engine, [web.url_for("/en")], OPEN)
    [outcome] = result.pages
    assert result.ok and outcome.status == "added" and outcome.paragraphs == 4
    assert _passages(engine, outcome.article_id) == list(EN_PARAGRAPHS)
    everything = " ".join(engine.store.snapshot().passage(int(u)).text for u in engine.store.snapshot().uids())
    assert not [b for b in BOILERPLATE if b in everything]
    stored = engine.article(outcome.article_id)
    assert (stored.url, stored.author, stored.date, stored.source) == (
        CANON,
        "Jane Doe",
        "2021-02-15T09:30:00+09:00",
        "Example Daily News",
    )
    raw = engine.corpus_dir / f"{outcome.article_id}.raw.html"
    assert raw.read_bytes() == en_page(canonical=CANON).encode("utf-8")  # kept to extract again later
    answer = engine.ask("What did Peskov tell reporters?")
    assert answer.answered and "Peskov told reporters" in answer.quotes[0].text
    assert answer.quotes[0].text in normalize(" ".join(EN_PARAGRAPHS)) and answer.quotes[0].source.url == CANON


def test_euc_kr_twin_gives_the_same_passages_and_is_a_duplicate(
    web: HTTPServer, make_engine: Callable[..., Engine]
) -> None:
    web.expect_request("/utf8").respond_with_data(ko_page().encode("utf-8"), content_type="text/html; charset=utf-8")
    web.expect_request("/euckr").respond_with_data(ko_page(charset="euc-kr").encode("cp949"), content_type="text/html")
    engine = make_engine()
    first = ingest_sources(engine, [web.url_for("/utf8")], OPEN).pages[0]
    second = ingest_sources(engine, [web.url_for("/euckr")], OPEN).pages[0]
    assert _passages(engine, first.article_id) == list(KO_PARAGRAPHS)
    assert second.status == "duplicate" and second.duplicate_of.startswith(first.article_id)
    assert engine.store.snapshot().n_articles == 2  # the shipped article and the Korean page, once
    assert "홍길동" == engine.article(first.article_id).author
    answer = engine.ask("페스코프 대변인은 뭐라고 말했어?")
    assert answer.answered and answer.quotes[0].text == KO_PARAGRAPHS[1]


def test_same_url_same_text_changed_text_and_corrected_title(
    web: HTTPServer, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    web.expect_request("/story").respond_with_data(en_page(canonical=CANON), content_type="text/html")
    added = ingest_sources(engine, [web.url_for("/story")], OPEN).pages[0]
    again = ingest_sources(engine, [web.url_for("/story")], OPEN).pages[0]
    assert (added.status, again.status) == ("added", "unchanged")
    web.clear()
    changed = (*EN_PARAGRAPHS[:3], "Peskov later said the Kremlin would consider a visit to the app in the spring.")
    web.expect_request("/story").respond_with_data(
        article_page("Kremlin says Putin has no plans to join Clubhouse", changed, canonical=CANON),
        content_type="text/html",
    )
    updated = ingest_sources(engine, [web.url_for("/story")], OPEN).pages[0]
    assert updated.status == "updated" and updated.article_id == added.article_id
    assert engine.store.snapshot().n_articles == 2 and _passages(engine, added.article_id) == list(changed)
    assert engine.article(added.article_id).updated.endswith("+00:00")
    web.clear()
    web.expect_request("/story").respond_with_data(
        article_page("Kremlin: no Clubhouse for Putin", changed, canonical=CANON), content_type="text/html"
    )
    corrected = ingest_sources(engine, [web.url_for("/story")], OPEN).pages[0]
    assert (
        corrected.status == "corrected"
        and engine.store.snapshot().article(added.article_id).title == "Kremlin: no Clubhouse for Putin"
    )
    # the same text under another URL (no canonical link): reported, not added
    web.expect_request("/copy").respond_with_data(article_page("Syndicated copy", changed), content_type="text/html")
    dup = ingest_sources(engine, [web.url_for("/copy")], OPEN).pages[0]
    assert dup.status == "duplicate" and engine.store.snapshot().n_articles == 2


def test_many_links_failures_listed_rest_added(web: HTTPServer, make_engine: Callable[..., Engine]) -> None:
    web.expect_request("/en").respond_with_data(en_page(), content_type="text/html")
    web.expect_request("/ko").respond_with_data(ko_page(), content_type="text/html")
    web.expect_request("/front").respond_with_data(
        "<html><body><nav><a href='/a'>A</a></nav></body></html>", content_type="text/html"
    )
    engine = make_engine()
    result = ingest_sources(
        engine, [web.url_for("/en"), web.url_for("/missing"), web.url_for("/ko"), web.url_for("/front")], OPEN
    )
    assert sorted(o.status for o in result.pages) == ["added", "added"]
    assert [u for u, _ in result.failed] == [web.url_for("/missing"), web.url_for("/front")]
    assert "HTTP 404" in result.failed[0][1] and "no article text" in result.failed[1][1]
    assert engine.store.snapshot().n_articles == 3


def test_html_file_ingested_by_its_canonical_url(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    page = tmp_path / "saved.html"
    page.write_bytes(ko_page(charset="euc-kr", canonical="https://news.example.kr/article/77").encode("cp949"))
    engine = make_engine()
    [outcome] = ingest_sources(engine, [str(page)], OPEN).pages
    stored = engine.article(outcome.article_id)
    assert stored.paragraphs == KO_PARAGRAPHS and stored.url == "https://news.example.kr/article/77"
    assert outcome.article_id.startswith("news-example-kr-article-77-")


def test_folder_with_html_and_a_name_clash(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    """A folder's .html pages go in with its text files; a saved page without a canonical link
    whose name is another article's id is refused, not written over it."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "kremlin.htm").write_text(en_page(), "utf-8")
    (folder / "okapi.txt").write_text("The okapi lives in the Congo.\n", "utf-8")
    engine = make_engine()
    result = ingest_sources(engine, [str(folder)], OPEN)
    assert (
        result.ok and [o.status for o in result.pages] == ["added"] and result.files and result.files.added == ["okapi"]
    )
    assert engine.article("kremlin").paragraphs == EN_PARAGRAPHS
    clash = tmp_path / "okapi.html"
    clash.write_text(ko_page(), "utf-8")
    result = ingest_sources(engine, [str(clash)], OPEN)
    assert not result.ok and [o.status for o in result.pages] == ["conflict"]
    assert engine.article("okapi").paragraphs == ("The okapi lives in the Congo.",)


def test_feeds_rss_and_atom_conditional_and_seen(
    web: HTTPServer, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    etag = '"v1"'
    web.expect_request("/rss.xml", headers={"If-None-Match": etag}).respond_with_data("", status=304)
    web.expect_request("/rss.xml").respond_with_data(
        rss([("Kremlin", web.url_for("/en")), ("Gone", web.url_for("/gone"))]),
        content_type="application/rss+xml",
        headers={"ETag": etag},
    )
    web.expect_request("/atom.xml").respond_with_data(atom([("크렘린", "/ko")]), content_type="application/atom+xml")
    web.expect_request("/en").respond_with_data(en_page(canonical=CANON), content_type="text/html")
    web.expect_request("/ko").respond_with_data(ko_page(), content_type="text/html")
    engine = make_engine()
    book = FeedBook(tmp_path / "state")
    assert (
        book.add(web.url_for("/rss.xml"), OPEN) == (book.feeds()[0], True)
        and book.feeds()[0].title == "Example Daily News"
    )
    assert book.add(web.url_for("/rss.xml"), OPEN).new is False  # already there: not added, not fetched again
    book.add(web.url_for("/atom.xml"), OPEN)
    report = poll(engine, book, OPEN, 900)
    assert sorted(o.title for o in report.pages) == sorted(
        ["Kremlin says Putin has no plans to join Clubhouse", '크렘린궁 "푸틴, 클럽하우스 참여 계획 없어"']
    )
    assert [u for u, _ in report.failed] == [web.url_for("/gone")]
    fetched = [req.path for req, _ in web.log]
    report = poll(engine, book, OPEN, 900)
    assert report.not_modified == [web.url_for("/rss.xml")] and not report.pages  # 304, and the atom items were seen
    again = [req.path for req, _ in web.log][len(fetched) :]
    assert sorted(again) == ["/atom.xml", "/rss.xml"]  # no item fetched twice
    state = json.loads((tmp_path / "state" / "feeds.json").read_text("utf-8"))
    assert {f["url"]: f["etag"] for f in state["feeds"]}[web.url_for("/rss.xml")] == etag


def test_failing_feed_backs_off(web: HTTPServer, make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    web.expect_request("/feed").respond_with_data(rss([]), content_type="application/rss+xml")
    book = FeedBook(tmp_path / "state")
    book.add(web.url_for("/feed"), OPEN)
    web.clear()
    web.expect_request("/feed").respond_with_data("down", status=503)
    engine = make_engine()
    report = poll(engine, book, OPEN, 900)
    [feed] = book.feeds()
    assert report.failed and feed.failures == 1 and "HTTP 503" in feed.last_error and feed.next_try > 0
    assert not poll(engine, book, OPEN, 900).polled  # not due yet: skipped, not hammered


def test_hundred_pages_ingest_in_parallel(web: HTTPServer, make_engine: Callable[..., Engine]) -> None:
    """Target: 100 pages from the local server in ≤ 30 s (fetched in parallel, indexed as one batch)."""
    import time

    for i in range(100):
        paragraphs = tuple(
            f"{p} (report {i}, item {j})" for j, p in enumerate(EN_PARAGRAPHS if i % 2 else KO_PARAGRAPHS)
        )
        web.expect_request(f"/p{i}").respond_with_data(
            article_page(f"Story {i}", paragraphs, canonical=f"https://example.org/p/{i}"), content_type="text/html"
        )
    engine = make_engine()
    t0 = time.perf_counter()
    result = ingest_sources(engine, [web.url_for(f"/p{i}") for i in range(100)], OPEN)
    elapsed = time.perf_counter() - t0
    assert (
        result.ok
        and sum(o.status == "added" for o in result.pages) == 100
        and engine.store.snapshot().n_articles == 101
    )
    assert elapsed < 30, f"100 pages took {elapsed:.1f} s"
    print(f"100 pages ingested in {elapsed:.2f} s")
