"""Typed errors for fetching and extraction; each message names the URL and what to do."""

from retrieval.errors import QuoteQAError


class FetchError(QuoteQAError):
    """A page or feed could not be fetched (network, status, type or size)."""


class TemporaryFetchError(FetchError):
    """A failure worth retrying later: a timeout, a dropped connection, a server error."""


class BlockedAddressError(FetchError):
    """The host resolves to an address the bot must not reach (loopback, private, ...)."""


class ExtractError(QuoteQAError):
    """The page was fetched but holds no article body to index."""
