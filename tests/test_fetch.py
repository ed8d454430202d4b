"""Fetching and decoding over real HTTP from a local server: limits, redirects, the address
guard, and the charset traps of Korean pages."""

from __future__ import annotations

import gzip
import threading
import time
import zlib

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import news.fetch as fetch_mod
from news.decode import decode_html, meta_charset
from news.errors import BlockedAddressError, FetchError, TemporaryFetchError
from news.extract import clean_author, extract
from news.fetch import FetchPolicy, blocked_reason, fetch
from tests.news_pages import EN_PARAGRAPHS, KO_PARAGRAPHS, en_page, ko_page

OPEN = FetchPolicy(allow_private=True, connect_timeout=2, read_timeout=2)


def test_utf8_page_fetched_and_extracted(web: HTTPServer) -> None:
    web.expect_request("/en").respond_with_data(
        en_page(canonical="https://example.org/world/kremlin?utm_source=tw"), content_type="text/html; charset=utf-8"
    )
    got = fetch(web.url_for("/en"), OPEN)
    text, encoding = decode_html(got.body, got.charset)
    page = extract(text, got.url)
    assert encoding == "utf-8" and page.paragraphs == EN_PARAGRAPHS
    assert page.url == "https://example.org/world/kremlin"  # canonical, tracking parameter gone
    assert page.date == "2021-02-15T09:30:00+09:00" and page.author == "Jane Doe" and page.site == "Example Daily News"
    assert web.log[0][0].headers["User-Agent"].startswith("quoteqa/")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (ko_page(charset="euc-kr").encode("cp949"), "text/html"),  # meta charset only
        (ko_page(charset="utf-8").encode("cp949"), "text/html; charset=EUC-KR"),  # HTTP wins over a wrong meta
        (ko_page(charset="euc-kr", head_padding=16_000).encode("cp949"), "text/html"),  # meta past 15,000 bytes
        (ko_page(charset=None).encode("cp949"), "text/html"),  # nothing declared: detected
        (b"\xef\xbb\xbf" + ko_page(charset=None).encode("utf-8"), "text/html"),  # a BOM
    ],
    ids=["meta", "http-header", "meta-past-15000", "detected", "bom"],
)
def test_korean_pages_decode_to_the_same_passages(web: HTTPServer, body: bytes, content_type: str) -> None:
    web.expect_request("/ko").respond_with_data(body, content_type=content_type)
    got = fetch(web.url_for("/ko"), OPEN)
    text, _ = decode_html(got.body, got.charset)
    page = extract(text, got.url)
    assert page.paragraphs == KO_PARAGRAPHS and page.author == "홍길동"
    assert page.title == '크렘린궁 "푸틴, 클럽하우스 참여 계획 없어"'


def test_meta_charset_far_in_and_euc_kr_is_cp949() -> None:
    body = ko_page(charset="euc-kr", head_padding=16_000).encode("cp949")
    assert body.index(b'charset="euc-kr"') > 15_000 and meta_charset(body) == "cp949"
    assert decode_html("똠방각하".encode("cp949"), "euc-kr") == ("똠방각하", "cp949")  # 똠 is cp949-only


def test_canonical_link_to_the_front_page_is_ignored() -> None:
    page = extract(en_page(canonical="https://example.org/"), "https://example.org/world/2021/kremlin?utm_medium=x")
    assert page.url == "https://example.org/world/2021/kremlin"


def test_byline_cleaning() -> None:
    assert clean_author("홍길동 기자 hong@example.co.kr; 김철수 특파원") == "홍길동; 김철수"
    assert clean_author("이영희기자") == "이영희" and clean_author(None) == ""


def _redirect(to: str) -> Response:
    return Response(status=302, headers={"Location": to})


def test_redirects_followed_up_to_five(web: HTTPServer) -> None:
    for i in range(5):
        web.expect_request(f"/r{i}").respond_with_response(_redirect(f"/r{i + 1}"))
    web.expect_request("/r5").respond_with_data(en_page(), content_type="text/html")
    got = fetch(web.url_for("/r0"), OPEN)
    assert got.url.endswith("/r5") and b"Peskov" in got.body
    web.expect_request("/s0").respond_with_response(_redirect("/r0"))  # six hops
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(web.url_for("/s0"), OPEN)


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        (lambda: Response("gone", status=404), "HTTP 404"),
        (lambda: Response(b"\x89PNG....", content_type="image/png"), "image/png, not a web page"),
        (lambda: Response(b"", content_type="text/html"), "empty"),
        (lambda: Response(b"  \n", content_type="text/html"), "empty"),
    ],
    ids=["404", "png", "empty", "blank"],
)
def test_refusals(web: HTTPServer, respond: object, message: str) -> None:
    web.expect_request("/x").respond_with_response(respond())  # type: ignore[operator]
    with pytest.raises(FetchError, match=message):
        fetch(web.url_for("/x"), OPEN)


def test_oversized_page_and_gzip_bomb(web: HTTPServer) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=100_000)
    web.expect_request("/big").respond_with_data("<html><body>" + "<p>news</p>" * 20_000, content_type="text/html")
    with pytest.raises(FetchError, match="larger than 100,000 bytes"):
        fetch(web.url_for("/big"), policy)
    bomb = gzip.compress(b"<html><body>" + b"\0" * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    web.expect_request("/bomb").respond_with_data(bomb, content_type="text/html", headers={"Content-Encoding": "gzip"})
    t0 = time.perf_counter()
    with pytest.raises(FetchError, match="once decompressed"):
        fetch(web.url_for("/bomb"), FetchPolicy(allow_private=True))  # the default 5 MB cap
    assert time.perf_counter() - t0 < 5
    page = en_page().encode()
    for encoding, packed in (
        ("gzip", gzip.compress(page)),
        ("deflate", zlib.compress(page)),
        ("deflate", zlib.compress(page)[2:-4]),
    ):
        web.expect_oneshot_request("/z").respond_with_data(
            packed, content_type="text/html", headers={"Content-Encoding": encoding}
        )
        assert fetch(web.url_for("/z"), OPEN).body == page  # gzip, zlib deflate and raw deflate


def test_slow_server_times_out(web: HTTPServer) -> None:
    answered = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(1.0)
        answered.set()
        return Response("<html></html>", content_type="text/html")

    web.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(TemporaryFetchError, match="did not answer in time"):
        fetch(web.url_for("/slow"), FetchPolicy(allow_private=True, read_timeout=0.3))
    # The handler goes on after the client gave up; let it finish here, or its log entry lands
    # in the next test's server log (which asserts on the requests it saw).
    assert answered.wait(5)
    time.sleep(0.05)


def test_only_http_and_https() -> None:
    for url in ("ftp://example.org/a", "file:///etc/passwd", "javascript:alert(1)"):
        with pytest.raises(FetchError, match="only http"):
            fetch(url, OPEN)


@pytest.mark.parametrize(
    ("address", "reason"),
    [("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.5", "private"),
     ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("224.0.0.1", "multicast"),
     ("0.0.0.0", "unspecified"), ("::ffff:127.0.0.1", "loopback"), ("100.64.0.1", "not public"),
     ("93.184.216.34", None), ("2606:4700::1111", None)],
)  # fmt: skip
def test_blocked_addresses(address: str, reason: str | None) -> None:
    assert blocked_reason(address) == reason


def test_private_hosts_refused_by_default(web: HTTPServer) -> None:
    web.expect_request("/en").respond_with_data(en_page(), content_type="text/html")
    with pytest.raises(BlockedAddressError, match="loopback address.*QUOTEQA_FETCH_ALLOW_PRIVATE"):
        fetch(web.url_for("/en"), FetchPolicy())
    assert not web.log  # refused before connecting


def _public_dns(monkeypatch: pytest.MonkeyPatch, names: set[str]) -> None:
    """Make the guard's resolver say `names` are public (a public host cannot be reached from
    here); the connection itself still goes to the local server."""
    real = fetch_mod._resolve

    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"] if host in names else real(host, port)

    monkeypatch.setattr(fetch_mod, "_resolve", resolve)


def test_connected_address_checked_dns_rebinding(web: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The name looked public when checked, but resolves to 127.0.0.1 when connecting: the
    connection checks what it connects to, so the request never leaves."""
    _public_dns(monkeypatch, {"localhost"})
    port = web.port
    web.expect_request("/en").respond_with_data(en_page(), content_type="text/html")
    with pytest.raises(
        BlockedAddressError, match=r"localhost:\d+/en: localhost is a loopback address \(127\.0\.0\.1\)"
    ):
        fetch(f"http://localhost:{port}/en", FetchPolicy())
    assert not web.log


def test_redirect_to_private_address_refused(web: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every hop is checked: a public page that redirects to 127.0.0.1 is refused at the hop,
    and the private address is never asked for anything."""
    _public_dns(monkeypatch, {"localhost"})
    # as if the first hop's server were public: its connection is not checked
    monkeypatch.setattr(fetch_mod._GuardedBackend, "connect_tcp", fetch_mod.httpcore.SyncBackend.connect_tcp)
    port = web.port
    web.expect_request("/start").respond_with_response(_redirect(f"http://127.0.0.1:{port}/admin"))
    web.expect_request("/admin").respond_with_data("secret", content_type="text/html")
    with pytest.raises(BlockedAddressError, match="127.0.0.1 is a loopback address"):
        fetch(f"http://localhost:{port}/start", FetchPolicy())
    assert [req.path for req, _ in web.log] == ["/start"]
