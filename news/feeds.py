"""Feed subscriptions: RSS 2.0 and Atom, polled with conditional requests, each item once.

feedparser's own fetcher has no timeout (kurtmckee/feedparser#76) and has hung bots' jobs, so
feeds are fetched by `news.fetch` (the same guards as pages) and feedparser only parses bytes.
The subscriptions live in one JSON file under the data folder (`feeds.json`), replaced
atomically and changed under a lock, so the bot polling and `quoteqa feeds add` at once lose
nothing. A feed that fails waits longer each time (back-off), and never stops the others.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urljoin

from retrieval import Engine, QuoteQAError
from retrieval.index.fsutil import atomic_write, mkdir

from .errors import FetchError
from .fetch import FEED_TYPES, FetchPolicy, check_url, fetch
from .ingest import ProgressFactory, ingest_links
from .pages import Outcome

log = logging.getLogger(__name__)
STATE_FILE = "feeds.json"
SEEN_LIMIT = 2000  # item keys remembered per feed; a feed lists far fewer at a time
ITEMS_PER_POLL = 50  # newest items taken from one feed in one poll
MAX_BACKOFF_SECONDS = 24 * 3600


@dataclass
class Feed:
    """One subscription and what polling it has learnt."""

    url: str
    title: str = ""
    etag: str = ""
    last_modified: str = ""
    seen: list[str] = field(default_factory=list)
    failures: int = 0
    next_try: float = 0.0  # epoch seconds; a failing feed is not polled before
    last_error: str = ""
    last_polled: str = ""


@dataclass
class PollReport:
    """What one poll of all due feeds did."""

    polled: list[str] = field(default_factory=list)
    not_modified: list[str] = field(default_factory=list)
    pages: list[Outcome] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # feed or item URL, why

    def lines(self) -> list[str]:
        out = [o.line() for o in self.pages]
        out += [f"failed {where}: {why}" for where, why in self.failed]
        return out


class Subscription(NamedTuple):
    """What `FeedBook.add` did: the feed, and whether it was added now."""

    feed: Feed
    new: bool


class FeedBook:
    """The subscriptions file, read and changed under a lock."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / STATE_FILE
        self._lock = data_dir / "feeds.lock"

    def feeds(self) -> list[Feed]:
        return list(self._load().values())

    @contextmanager
    def changing(self) -> Iterator[dict[str, Feed]]:
        """The feeds by URL, to change in place; saved (atomically) when the block ends."""
        mkdir(self.path.parent)
        with open(self._lock, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            feeds = self._load()
            yield feeds
            data = {"version": 1, "feeds": [dataclasses.asdict(f) for f in feeds.values()]}
            atomic_write(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))

    def _load(self) -> dict[str, Feed]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise FetchError(f"{self.path}: unreadable ({exc}); fix or delete it and add the feeds again") from None
        names = {f.name for f in dataclasses.fields(Feed)}
        return {row["url"]: Feed(**{k: v for k, v in row.items() if k in names}) for row in data.get("feeds", [])}

    def add(self, url: str, policy: FetchPolicy) -> Subscription:
        """Subscribe after checking that the URL is a feed (its items come in on the next poll).
        A feed already subscribed is returned as it is, with `new` false, and not fetched."""
        check_url(url)
        known = self._load().get(url)
        if known is not None:
            return Subscription(known, new=False)
        got = fetch(url, policy, accept=FEED_TYPES)
        title, items = parse_feed(got.body, got.url, got.content_type)
        with self.changing() as feeds:
            if url in feeds:  # added meanwhile by another process
                return Subscription(feeds[url], new=False)
            feeds[url] = Feed(url, title=title)
        log.info("subscribed to %s (%d items listed)", url, len(items))
        return Subscription(feeds[url], new=True)

    def remove(self, url: str) -> bool:
        with self.changing() as feeds:
            return feeds.pop(url, None) is not None


def parse_feed(body: bytes, url: str, content_type: str = "") -> tuple[str, list[tuple[str, str]]]:
    """(feed title, [(item key, item link)]) newest first as the feed lists them; FetchError
    when the bytes are no RSS or Atom feed."""
    import feedparser

    parsed = feedparser.parse(
        body, response_headers={"content-location": url, "content-type": content_type or "application/xml"}
    )
    if not parsed.get("version") and not parsed.entries:
        raise FetchError(f"{url}: not an RSS or Atom feed; give the feed's address (often ending in /rss or /feed)")
    items = []
    for entry in parsed.entries:
        link = entry.get("link") or ""
        if not link:
            continue
        link = urljoin(url, link)
        items.append((entry.get("id") or link, link))
    return str(parsed.feed.get("title") or ""), items


def poll(
    engine: Engine,
    book: FeedBook,
    policy: FetchPolicy,
    interval_seconds: float,
    force: bool = False,
    progress: ProgressFactory | None = None,
) -> PollReport:
    """Poll every due feed (all of them with `force`), ingest the items not seen before, and
    remember what was done. Network work happens outside the subscriptions lock."""
    report = PollReport()
    now = time.time()
    due = [f for f in book.feeds() if force or f.next_try <= now]
    updates: dict[str, Feed] = {}
    for feed in due:
        new = dataclasses.replace(feed, seen=list(feed.seen), last_polled=_stamp())
        try:
            items = _poll_one(new, policy, report)
            if items:
                result = ingest_links(engine, [link for _, link in items], policy, progress)
                report.pages += result.pages
                report.failed += result.failed
                keys = [key for key, link in items if link not in result.retry]  # a timeout is tried again next poll
                new.seen = (new.seen + keys)[-SEEN_LIMIT:]
        except Exception as exc:  # whatever one feed does, the others are still polled
            new.etag, new.last_modified = feed.etag, feed.last_modified  # so the items are fetched again
            new.failures += 1
            new.last_error = str(exc) if isinstance(exc, QuoteQAError) else f"unexpected error ({type(exc).__name__})"
            wait = min(MAX_BACKOFF_SECONDS, interval_seconds * 2 ** min(new.failures, 10))
            new.next_try = now + wait
            report.failed.append((feed.url, new.last_error))
            log.warning("feed %s failed (%d in a row; next try in %.0f min): %s", feed.url, new.failures, wait / 60, new.last_error,
                        exc_info=not isinstance(exc, QuoteQAError))  # fmt: skip
        else:
            new.failures, new.last_error, new.next_try = 0, "", 0.0
        updates[feed.url] = new
    with book.changing() as feeds:
        for url, feed in updates.items():
            if url in feeds:  # removed meanwhile: stays removed
                feeds[url] = feed
    return report


def _poll_one(feed: Feed, policy: FetchPolicy, report: PollReport) -> list[tuple[str, str]]:
    """Fetch one feed conditionally; the items not seen before, oldest first."""
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    got = fetch(feed.url, policy, accept=FEED_TYPES, headers=headers)
    report.polled.append(feed.url)
    if got.not_modified:
        report.not_modified.append(feed.url)
        return []
    feed.etag = got.headers.get("etag", "")
    feed.last_modified = got.headers.get("last-modified", "")
    title, items = parse_feed(got.body, got.url, got.content_type)
    feed.title = title or feed.title
    seen = set(feed.seen)
    fresh = [(k, link) for k, link in items[:ITEMS_PER_POLL] if k not in seen]
    return fresh[::-1]


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
