"""Web pages as corpus files: one `ID.md` (front matter + paragraphs) and the raw `ID.raw.html`.

The corpus folder stays the source of truth: a page becomes a Markdown file the engine reads
like any other, and the bytes it came from are kept beside it so a better extractor can be run
again later without fetching. A web article is identified by its canonical URL (the id is made
from it), so:

- the same URL with the same text changes nothing (corrected citation data is written over);
- the same URL with changed text replaces the article, with an `updated` timestamp;
- the same text under another URL is a duplicate, reported and not added.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from retrieval.corpus.files import parse_text_file, text_hash
from retrieval.errors import CorpusError
from retrieval.index.fsutil import atomic_write
from retrieval.index.store import Store
from retrieval.models import Article
from retrieval.text.analyze import detect_language

from .decode import decode_html
from .extract import Extracted, extract
from .fetch import Fetched

RAW_SUFFIX = ".raw.html"
HTML_SUFFIXES = (".html", ".htm")
Status = Literal["added", "updated", "corrected", "unchanged", "duplicate", "conflict"]


@dataclass(frozen=True, slots=True)
class WebPage:
    """A page ready to store: what was extracted, and the bytes it came from."""

    extracted: Extracted
    raw: bytes
    encoding: str
    origin: str  # the URL fetched (after redirects), or the file read
    fallback_id: str = ""  # for a file without a canonical URL: its name


@dataclass(frozen=True, slots=True)
class Outcome:
    """What storing one page did, for a report line."""

    status: Status
    article_id: str
    title: str
    paragraphs: int
    origin: str
    duplicate_of: str = ""
    language: str = ""  # ko, en or mixed, by script

    def line(self) -> str:
        what = f"{self.article_id} “{self.title}” ({self.paragraphs} paragraph{'s' * (self.paragraphs != 1)})"
        return {
            "added": f"added {what}",
            "updated": f"updated {what}: the page's text changed",
            "corrected": f"updated the citation data of {what}",
            "unchanged": f"already in the corpus: {what}",
            "duplicate": f"not added: {self.origin} has the same text as {self.duplicate_of}",
            "conflict": f"not added: {self.origin}: a different article with the id {self.article_id} is already in the corpus; rename the file",
        }[self.status]


def page_from_fetch(fetched: Fetched) -> WebPage:
    text, encoding = decode_html(fetched.body, fetched.charset)
    return WebPage(extract(text, fetched.url), fetched.body, encoding, fetched.url)


def page_from_file(path: Path) -> WebPage:
    """A saved `.html` page: decoded by its BOM or meta charset, identified by its canonical
    link when it has one, else by its file name."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read it ({exc.strerror})") from exc
    if not raw.strip():
        raise CorpusError(f"{path}: the file is empty")
    text, encoding = decode_html(raw)
    return WebPage(extract(text, ""), raw, encoding, str(path), fallback_id=path.stem)


def article_id(url: str) -> str:
    """A readable, stable id for a canonical URL: its host and path, plus a short hash so two
    URLs that slug alike stay apart."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or ''}-{parts.path}").strip("-").lower()[:60].strip("-")
    return f"{slug or 'page'}-{hashlib.sha1(url.encode('utf-8')).hexdigest()[:8]}"


def to_article(page: WebPage) -> Article:
    e = page.extracted
    if e.url:
        aid = article_id(e.url)
    else:
        aid = re.sub(r"[^\w.\-]+", "-", page.fallback_id).strip("-")[:120] or article_id(page.origin)
    return Article(aid, e.title, e.paragraphs, source=e.site, url=e.url, date=e.date, file=f"{aid}.md", author=e.author)


def markdown(article: Article, encoding: str, origin: str) -> bytes:
    """The corpus file: citation data in front matter (values quoted, so a title that starts
    with a quotation mark keeps it), then one paragraph per blank-line-separated block."""
    meta = {
        "title": article.title, "source": article.source, "url": article.url, "date": article.date,
        "author": article.author, "updated": article.updated, "encoding": encoding, "fetched_from": origin,
    }  # fmt: skip
    head = "".join(f'{k}: "{" ".join(v.split())}"\n' for k, v in meta.items() if v)
    body = "\n\n".join(article.paragraphs)
    return f"---\n{head}---\n\n{body}\n".encode()


def _same_citation(a: Article, b: Article) -> bool:
    return (a.title, a.source, a.url, a.date, a.author) == (b.title, b.source, b.url, b.date, b.author)


def store_pages(pages: Sequence[WebPage], corpus_dir: Path, store: Store) -> list[Outcome]:
    """Write each page into the corpus folder as its identity asks; the caller holds the
    writer lock and indexes what was written. Each page is written whole (raw first, then the
    article) or not at all."""
    outcomes: list[Outcome] = []
    batch_texts: dict[str, str] = {}
    for page in pages:
        art = to_article(page)
        path = corpus_dir / art.file
        th = text_hash(art)
        prior = _existing(path)
        live = store.snapshot().article(art.id)
        status: Status
        if live is not None and live.file != art.file:  # the id is another file's article
            outcomes.append(Outcome("conflict", art.id, art.title, len(art.paragraphs), page.origin))
            continue
        if prior is not None and text_hash(prior) == th:
            if _same_citation(prior, art):
                outcomes.append(Outcome("unchanged", art.id, prior.title, len(art.paragraphs), page.origin))
                continue
            art, status = replace(art, updated=prior.updated), "corrected"
        elif prior is not None and (not art.url or prior.url != art.url):
            # Only a page's own URL may replace it: a saved file without a canonical link whose
            # name matches another article's id is a different article.
            outcomes.append(Outcome("conflict", art.id, art.title, len(art.paragraphs), page.origin))
            continue
        elif prior is not None:
            art, status = replace(art, updated=_now()), "updated"
        else:
            dup = batch_texts.get(th) or _stored_with_text(store, th, art.id)
            if dup:
                outcomes.append(Outcome("duplicate", art.id, art.title, len(art.paragraphs), page.origin, dup))
                continue
            status = "added"
        atomic_write(corpus_dir / f"{art.id}{RAW_SUFFIX}", page.raw)
        atomic_write(path, markdown(art, page.encoding, page.origin))
        batch_texts[th] = art.id
        outcomes.append(
            Outcome(status, art.id, art.title, len(art.paragraphs), page.origin, language=detect_language(art.text))
        )
    return outcomes


def _existing(path: Path) -> Article | None:
    try:
        return parse_text_file(path) if path.exists() else None
    except CorpusError:
        return None  # a broken file is written over by the fresh copy


def _stored_with_text(store: Store, th: str, own_id: str) -> str:
    meta = store.snapshot().article_by("text_hash", th)
    if meta is None or meta.id == own_id:
        return ""
    return f"{meta.id} ({meta.url})" if meta.url else meta.id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
