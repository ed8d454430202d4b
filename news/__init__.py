"""News from the web: fetching pages and feeds safely, decoding them, extracting the article.

Kept apart from `retrieval` because it does network I/O; `retrieval` stays a pure core that
turns articles into answers. `news` hands it corpus files it reads like any other.

Modules: `fetch` (HTTP with the address guard and limits), `decode` (bytes -> text),
`extract` (trafilatura -> paragraphs and citation data), `pages` (pages as corpus files, and
their identity), `ingest` (links, pages and files in one call), `feeds` (subscriptions).
"""

from .errors import BlockedAddressError, ExtractError, FetchError, TemporaryFetchError

__all__ = ["BlockedAddressError", "ExtractError", "FetchError", "TemporaryFetchError"]
