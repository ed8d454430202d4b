"""A decoded web page -> the article in it: body paragraphs and citation data.

trafilatura does the hard part (main content, boilerplate, metadata); it is run on *text* we
decoded ourselves (see `news.decode`). What it returns is tidied for citing: headings and
comments never become passages, a Korean byline loses its "기자", the publication date keeps
the time zone the page gives, and the canonical URL loses tracking parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from .errors import ExtractError

BYLINE_TITLE = re.compile(r"\s*(?:선임|수석|객원)?\s*(?:기자|특파원)(?=$|[\s;,/·])")
EMAIL = re.compile(r"\s*\(?[\w.+-]+@[\w-]+(?:\.[\w-]+)+\)?")
TRACKING = re.compile(r"^(?:utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid)$", re.I)
# Full publication timestamps, where pages put them (OpenGraph, schema.org, <time>).
TIMESTAMP = re.compile(
    r"""(?:article:published_time|og:published_time|datePublished|pubdate|publish[-_]date|dc\.date)"""
    r"""["']?\s*(?:content|:|datetime)?\s*=?\s*["']\s*(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)""",
    re.I,
)
TIME_TAG = re.compile(r"""<time[^>]+datetime\s*=\s*["'](\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[^"']*)["']""", re.I)


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a page yields: enough to index and to cite."""

    title: str
    paragraphs: tuple[str, ...]
    url: str = ""  # canonical
    author: str = ""
    date: str = ""
    site: str = ""


def clean_author(author: str | None) -> str:
    """"홍길동 기자 hong@example.com; 김철수 특파원" -> "홍길동; 김철수"."""
    if not author:
        return ""
    names = []
    for part in re.split(r"\s*[;,/]\s*", author):
        part = BYLINE_TITLE.sub("", EMAIL.sub("", part)).strip(" ·|-")
        if part and part not in names:
            names.append(part)
    return "; ".join(names)


def canonical_url(url: str, base: str = "") -> str:
    """Absolute, without fragment or tracking parameters, host in lower case."""
    if not url:
        return ""
    url = urljoin(base, url) if base else url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k)])
    netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.hostname
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def full_date(html: str, day: str | None) -> str:
    """The page's publication timestamp with its time zone when it gives one for `day` (or
    when trafilatura found no day); else the day alone."""
    head = html[:200_000]
    for pattern in (TIMESTAMP, TIME_TAG):
        for m in pattern.finditer(head):
            stamp = m.group(1).replace(" ", "T", 1)
            if not day or stamp.startswith(day):
                return stamp
    return day or ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def body_paragraphs(body: object, title: str) -> tuple[str, ...]:
    """Paragraphs, list items and block quotes of trafilatura's body, in order; headings,
    tables and images are not sentences to quote."""
    out: list[str] = []
    for el in body:  # type: ignore[attr-defined]
        if el.tag == "p" or el.tag == "quote":
            texts = [_one_line("".join(el.itertext()))]
        elif el.tag == "list":
            texts = [_one_line("".join(item.itertext())) for item in el.iter("item")]
        else:
            continue
        out.extend(t for t in texts if t and t != title)
    return tuple(out)


def extract(html: str, url: str = "") -> Extracted:
    """The article in a decoded page; ExtractError when there is no body to index."""
    import trafilatura
    from trafilatura.settings import Document

    doc = trafilatura.bare_extraction(
        html, url=url or None, with_metadata=True, favor_precision=True,
        include_comments=False, include_tables=False, include_images=False,
    )  # fmt: skip
    where = url or "the page"
    if not isinstance(doc, Document) or doc.body is None:
        raise ExtractError(f"{where}: no article text found (is it an article page, not a front page or a login wall?)")
    title = _one_line(doc.title or "")
    paragraphs = body_paragraphs(doc.body, title)
    if not paragraphs:
        raise ExtractError(f"{where}: no article text found (is it an article page, not a front page or a login wall?)")
    canonical = canonical_url(doc.url or "", url) or canonical_url(url)
    if url and urlsplit(canonical).path == "/" and urlsplit(url).path not in ("", "/"):
        # Some sites point every page's canonical link at the front page; taken at its word
        # that would make every article of the site one article.
        canonical = canonical_url(url)
    return Extracted(
        title=title or (paragraphs[0][:80]),
        paragraphs=paragraphs,
        url=canonical,
        author=clean_author(doc.author),
        date=full_date(html, doc.date),
        site=_one_line(doc.sitename or "") or (urlsplit(canonical).hostname or ""),
    )
