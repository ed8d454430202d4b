"""Fetching a page or a feed over HTTP, with the guards a bot that fetches strangers' links needs.

- Only `http` and `https`, at most `max_redirects` hops, each hop's host checked.
- The host must resolve to public addresses only (unless `allow_private`), and the address the
  connection actually reached is checked again before any byte of the body is read, so a DNS
  answer that changes between the check and the connect (rebinding) gains nothing.
- Connect and read timeouts, plus an overall deadline (a server dripping one byte a second
  never trips a read timeout).
- The body is counted *after* decompression and cut off at `max_bytes` (gzip bombs).
- Only the content types the caller accepts (HTML/XHTML for pages, XML for feeds).

Fetching is blocking; the bot runs it in a worker thread, the CLI in a thread pool.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

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


def _connected_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    addr = stream.get_extra_info("server_addr")
    return str(addr[0]) if addr else None


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
    return httpx.Client(
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        follow_redirects=False,  # followed by hand, to check every hop
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,  # a proxy would hide the address actually connected to
    )


def _fetch(url: str, policy: FetchPolicy, accept: tuple[str, ...], headers: dict[str, str], client: httpx.Client) -> Fetched:
    start = time.monotonic()
    original = url
    for hop in range(policy.max_redirects + 1):
        host, port = check_url(url)
        if not policy.allow_private:
            guard_host(url, host, port)
        try:
            with client.stream("GET", url, headers=headers) as response:
                if not policy.allow_private:
                    connected = _connected_address(response)
                    if connected is not None:
                        _guard_addresses(url, host, [connected])
                if response.status_code in REDIRECTS and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                return _read(url, response, policy, accept, start)
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
        wanted = "a web page (HTML)" if accept == HTML_TYPES else "a feed (RSS or Atom)"
        raise FetchError(f"{url}: this is {media}, not {wanted}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes and "content-encoding" not in response.headers:
        raise FetchError(f"{url}: larger than {policy.max_bytes:,} bytes; not fetched")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():  # decompressed: the cap counts what we would hold
            size += len(chunk)
            if size > policy.max_bytes:
                raise FetchError(f"{url}: larger than {policy.max_bytes:,} bytes once decompressed; not fetched")
            if time.monotonic() - start > policy.deadline:
                raise TemporaryFetchError(f"{url}: the site is sending too slowly (over {policy.deadline:.0f} s); try again later")
            chunks.append(chunk)
    except httpx.DecodingError:
        raise FetchError(f"{url}: the compressed body is broken; try again later") from None
    body = b"".join(chunks)
    if not body.strip():
        raise FetchError(f"{url}: the page is empty")
    return Fetched(url, body, media, charset, status, keep)
