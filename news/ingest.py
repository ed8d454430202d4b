"""Ingesting what people have: links, saved `.html` pages and the corpus formats, in one call.

Links are fetched in parallel (fetching waits on the network, not the CPU); then every page is
written and indexed in one batch under the writer lock, so 100 links cost one segment. A link
that fails is listed with its reason and the others still go in: all or nothing per article.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from retrieval import CorpusError, Engine, QuoteQAError
from retrieval.corpus.files import SUFFIXES, IngestReport, scan_paths

from .errors import TemporaryFetchError
from .fetch import FetchPolicy, fetch, is_url, new_client
from .pages import HTML_SUFFIXES, Outcome, WebPage, page_from_fetch, page_from_file, store_pages

log = logging.getLogger(__name__)
ACCEPTED_SUFFIXES = (*SUFFIXES, *HTML_SUFFIXES)  # what `ingest` (and the bot's documents) take
ACCEPTED_TYPES = ", ".join(ACCEPTED_SUFFIXES[:-1]) + " or " + ACCEPTED_SUFFIXES[-1]
ProgressFactory = Callable[[str, int], Callable[[int], None]]
FETCH_THREADS = 8


@dataclass
class IngestResult:
    """Everything one ingest did, for the CLI's and the bot's reports."""

    pages: list[Outcome] = field(default_factory=list)
    files: IngestReport | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)  # (link or file, why)
    retry: set[str] = field(default_factory=set)  # failed links worth trying again later
    ignored: list[Path] = field(default_factory=list)  # files of no format we read

    @property
    def ok(self) -> bool:
        return not self.failed and all(o.status != "conflict" for o in self.pages)

    def lines(self) -> list[str]:
        out = [o.line() for o in self.pages]
        if self.files:
            out += [f"added {a}" for a in self.files.added]
            out += [f"updated the citation data of {a}" for a in self.files.updated]
            out += [f"already in the corpus: {a}" for a in self.files.unchanged]
        return out


def fetch_pages(
    urls: Sequence[str], policy: FetchPolicy, progress: Callable[[int], None] | None = None
) -> tuple[list[WebPage], list[tuple[str, QuoteQAError]]]:
    """Fetch and extract every link (in parallel); (pages in the order given, failures)."""
    results: list[WebPage | QuoteQAError] = [QuoteQAError()] * len(urls)
    with new_client(policy) as client:

        def one(i: int) -> None:
            try:
                results[i] = page_from_fetch(fetch(urls[i], policy, client=client))
            except QuoteQAError as exc:
                results[i] = exc
            except Exception as exc:  # one bad page must not sink the batch
                log.exception("fetching %s failed", urls[i])
                results[i] = TemporaryFetchError(f"{urls[i]}: unexpected error ({type(exc).__name__})")
            if progress:
                progress(1)

        with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, max(1, len(urls)))) as pool:
            list(pool.map(one, range(len(urls))))
    pages = [r for r in results if isinstance(r, WebPage)]
    failed = [(u, r) for u, r in zip(urls, results, strict=True) if not isinstance(r, WebPage)]
    return pages, failed


def ingest_links(
    engine: Engine, urls: Sequence[str], policy: FetchPolicy, progress: ProgressFactory | None = None
) -> IngestResult:
    """Fetch every link in parallel, then store and index all the pages in one batch."""
    result = IngestResult()
    pages, failed = fetch_pages(urls, policy, progress("fetching", len(urls)) if progress else None)
    result.failed = [(u, str(exc)) for u, exc in failed]
    result.retry = {u for u, exc in failed if isinstance(exc, TemporaryFetchError)}
    result.pages = store(engine, pages)
    return result


def store(engine: Engine, pages: Sequence[WebPage]) -> list[Outcome]:
    if not pages:
        return []
    return engine.write_corpus(lambda s: store_pages(pages, engine.corpus_dir, s))[0]


def ingest_sources(
    engine: Engine, sources: Sequence[str], policy: FetchPolicy, progress: ProgressFactory | None = None
) -> IngestResult:
    """Ingest links, `.html` files and corpus files (or folders of them).

    Corpus-format files keep their all-or-nothing rule (a broken one stops them all, and every
    broken one is named); links and pages go in one by one.
    """
    urls = [s for s in sources if is_url(s)]
    files, ignored = scan_paths([Path(s) for s in sources if not is_url(s)], ACCEPTED_SUFFIXES)
    unknown = [f"{p}: unsupported file type {p.suffix or '(none)'}; use {ACCEPTED_TYPES}" for p in files
               if p.suffix.lower() not in ACCEPTED_SUFFIXES]  # fmt: skip
    if unknown:  # named before anything is written, as the corpus formats' own errors are
        raise CorpusError("nothing was added; fix these and ingest again:\n  " + "\n  ".join(unknown))
    corpus_files = [p for p in files if p.suffix.lower() not in HTML_SUFFIXES]
    files_report = engine.ingest(corpus_files) if corpus_files else None  # first: it may refuse them all
    result = ingest_links(engine, urls, policy, progress) if urls else IngestResult()
    result.files, result.ignored = files_report, ignored
    pages: list[WebPage] = []
    for path in (p for p in files if p.suffix.lower() in HTML_SUFFIXES):
        try:
            pages.append(page_from_file(path))
        except QuoteQAError as exc:
            result.failed.append((str(path), str(exc)))
    result.pages += store(engine, pages)
    return result
