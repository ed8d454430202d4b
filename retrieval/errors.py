"""Typed errors whose messages tell a user what to do next."""


class QuoteQAError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""


class CorpusError(QuoteQAError):
    """A corpus file is missing, unreadable or malformed (the message names the file)."""


class IndexFormatError(QuoteQAError):
    """A persisted index is corrupt, truncated or of another format; it gets rebuilt."""


class QuestionError(QuoteQAError):
    """The question cannot be asked as given (empty, too long, not text)."""


class EmptyCorpusError(CorpusError):
    """There is nothing to search."""


class AnchorDataError(QuoteQAError):
    """A data file of the anchors (glossary, name model) is missing or damaged (the message names it)."""


class DamagedIndexError(IndexFormatError):
    """A read found an index file damaged (a block failing its checksum, say). The question
    fails, the segment is taken out of service, and `quoteqa verify --repair` mends it."""

    code = "index_damaged"  # the stable code the HTTP API answers with (503)

    def __init__(self, path: str, detail: str, segment: str | None = None) -> None:
        self.path = path
        self.segment = segment
        self.detail = detail
        super().__init__(f"the index file {path} is damaged ({detail}); run `quoteqa verify --repair`")


class DiskFullError(QuoteQAError):
    """A write found no room (ENOSPC, EFBIG, EDQUOT): nothing after the last commit is kept."""
