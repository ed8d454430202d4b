"""Fetching a page or a feed over HTTP, with the guards a bot that fetches strangers' links needs.

- Only `http` and `https`, at most `max_redirects` hops, each hop's host checked.
- The host must resolve to public addresses only (unless `allow_private`): checked before each
  hop, and again by the connection itself, which resolves the name once and connects only to
  an address it has checked, so a DNS answer that changes between the check and the connect
  (rebinding) reaches nothing.
- Connect and read timeouts, plus an overall deadline (a server dripping one byte a second
  never trips a read timeout).
- The body is decompressed here, never more than `max_bytes` at a time, and cut off there
  (a gzip bomb costs at most the cap in memory).
- Only the content types the caller accepts (HTML/XHTML for pages, XML for feeds).

Fetching is blocking; the bot runs it in a worker thread, the CLI in a thread pool.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from .errors import BlockedAddressError, FetchError, TemporaryFetchError

USER_AGENT = "quoteqa/0.1 (news quote bot; fetches one page per link it is given)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
    "application/rdf+xml", "application/feed+json", "text/plain",
)  # fmt: skip
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How far a fetch may go; built once from the settings and passed down."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = USER_AGENT

    @property
    def deadline(self) -> float:
        """The whole fetch, redirects and body included."""
        return self.connect_timeout + 3 * self.read_timeout


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful response: the final URL (after redirects), its body and what to decode it by."""

    url: str
    body: bytes
    content_type: str = ""
    charset: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # etag, last-modified: for the next request

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_url(text: str) -> bool:
    """Whether a command-line argument is meant as a URL rather than a path."""
    return "://" in text[:16] and text.split("://", 1)[0].isalpha()


def check_url(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL; FetchError for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"{url}: only http:// and https:// links can be fetched")
    if not parts.hostname:
        raise FetchError(f"{url}: the link has no host name")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise FetchError(f"{url}: the port is not a number") from None
    return parts.hostname, port


def blocked_reason(address: str) -> str | None:
    """Why an IP address must not be fetched from, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:
        return "not public"
    return None


def guard_host(url: str, host: str, port: int) -> None:
    """Refuse a host any of whose addresses is not public (every one is checked: a client may
    connect to any of them)."""
    try:
        addresses = _resolve(host, port)
    except socket.gaierror as exc:
        raise FetchError(f"{url}: cannot resolve {host} ({exc.strerror}); check the link") from None
    _guard_addresses(url, host, addresses)


def _resolve(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _guard_addresses(url: str, host: str, addresses: Iterable[str]) -> None:
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            raise BlockedAddressError(
                f"{url}: {host} is a {reason} address ({address}); only public sites are fetched "
                "(set QUOTEQA_FETCH_ALLOW_PRIVATE=true to allow intranet hosts)"
            )


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to an address it resolved and checked itself: the gap between a check and
    the connect (DNS rebinding) closes because there is one resolution, not two."""

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:  # fmt: skip
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host} ({exc.strerror})") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        _guard_addresses(host, host, addresses)
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error


def _media_type(value: str) -> tuple[str, str | None]:
    """`text/html; charset=EUC-KR` -> ("text/html", "EUC-KR")."""
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'")
    return media.strip().lower(), charset


def fetch(
    url: str,
    policy: FetchPolicy,
    accept: tuple[str, ...] = HTML_TYPES,
    headers: dict[str, str] | None = None,
    client: httpx.Client | None = None,
) -> Fetched:
    """GET `url` within the policy; FetchError (or BlockedAddressError) says what went wrong.

    `headers` may carry If-None-Match / If-Modified-Since; a 304 comes back as `not_modified`.
    """
    own = client is None
    if client is None:
        client = new_client(policy)
    try:
        return _fetch(url, policy, accept, headers or {}, client)
    finally:
        if own:
            client.close()


def new_client(policy: FetchPolicy) -> httpx.Client:
    """One client per batch, so connections to the same site are reused."""
    transport = httpx.HTTPTransport(trust_env=False)
    if not policy.allow_private:
        # httpx has no public hook for how its pool connects; the pool is swapped for the same
        # one with a checking backend (httpx is pinned below 1.0 for this).
        limits = httpx.Limits()  # httpx's defaults, as HTTPTransport would use them
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )  # fmt: skip
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        follow_redirects=False,  # followed by hand, to check every hop
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,  # a proxy would hide the address actually connected to
    )


def _fetch(
    url: str, policy: FetchPolicy, accept: tuple[str, ...], headers: dict[str, str], client: httpx.Client
) -> Fetched:
    start = time.monotonic()
    original = url
    for _hop in range(policy.max_redirects + 1):
        host, port = check_url(url)
        if not policy.allow_private:
            guard_host(url, host, port)
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                return _read(url, response, policy, accept, start)
        except BlockedAddressError as exc:  # from the connection: name the page, not the host
            raise BlockedAddressError(f"{url}: {str(exc).split(': ', 1)[-1]}") from None
        except httpx.TimeoutException:
            raise TemporaryFetchError(f"{url}: the site did not answer in time; try again later") from None
        except httpx.HTTPError as exc:
            raise TemporaryFetchError(f"{url}: cannot fetch it ({type(exc).__name__}: {exc}); check the link") from None
    raise FetchError(f"{original}: more than {policy.max_redirects} redirects; give the final address of the page")


def _read(url: str, response: httpx.Response, policy: FetchPolicy, accept: tuple[str, ...], start: float) -> Fetched:
    status = response.status_code
    keep = {k: response.headers[k] for k in ("etag", "last-modified") if k in response.headers}
    if status == 304:
        return Fetched(url, b"", status=304, headers=keep)
    if status >= 500 or status == 429:
        raise TemporaryFetchError(f"{url}: HTTP {status} (the site is failing or busy); try again later")
    if status >= 400:
        hint = "the page does not exist" if status in (404, 410) else "the site refused it"
        raise FetchError(f"{url}: HTTP {status} ({hint})")
    if status != 200:
        raise FetchError(f"{url}: HTTP {status}; expected a page (200)")
    media, charset = _media_type(response.headers.get("content-type", ""))
    if media and media not in accept:
        if accept == HTML_TYPES and media in FEED_TYPES and media != "text/plain":
            raise FetchError(
                f"{url}: this is a feed ({media}), not a web page; subscribe to it with `quoteqa feeds add {url}` (in Telegram: /addfeed)"
            )
        wanted = "a web page (HTML)" if accept == HTML_TYPES else "a feed (RSS or Atom)"
        raise FetchError(f"{url}: this is {media}, not {wanted}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes and "content-encoding" not in response.headers:
        raise FetchError(f"{url}: larger than {policy.max_bytes:,} bytes; not fetched")
    decoder = _Decoder(url, response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        chunk = decoder.decode(raw, policy.max_bytes - size + 1)
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchError(f"{url}: larger than {policy.max_bytes:,} bytes once decompressed; not fetched")
        if time.monotonic() - start > policy.deadline:
            raise TemporaryFetchError(
                f"{url}: the site is sending too slowly (over {policy.deadline:.0f} s); try again later"
            )
        chunks.append(chunk)
    chunks.append(decoder.flush())
    body = b"".join(chunks)
    if not body.strip():
        raise FetchError(f"{url}: the page is empty")
    return Fetched(url, body, media, charset, status, keep)


class _Decoder:
    """gzip / deflate decompression that never produces more than it is allowed at once
    (httpx's own decoders inflate a whole network chunk: up to ~1,000× its size)."""

    def __init__(self, url: str, encoding: str) -> None:
        self.url = url
        enc = encoding.strip().lower()
        if enc in ("", "identity"):
            self._z = None
        elif enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise FetchError(f"{url}: the page is compressed as {enc!r}, which quoteqa does not read")
        self._raw_deflate = enc == "deflate"

    def decode(self, data: bytes, limit: int) -> bytes:
        """At most `limit` bytes out; more than `limit - 1` means the cap is passed anyway."""
        if self._z is None:
            return data
        try:
            return self._z.decompress(data, limit)
        except zlib.error:
            if self._raw_deflate and not self._z.eof:  # some servers send deflate without its zlib header
                self._z, self._raw_deflate = zlib.decompressobj(-zlib.MAX_WBITS), False
                return self.decode(data, limit)
            raise FetchError(f"{self.url}: the compressed body is broken; try again later") from None

    def flush(self) -> bytes:
        return self._z.flush() if self._z is not None else b""
