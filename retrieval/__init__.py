"""quoteqa's core: (corpus, question) -> Answer. Imports nothing from `bot` or `telegram`.

The names below load on first use (PEP 562), so that a light module such as
`retrieval.defaults` (read by the bot's settings for `quoteqa --help`) does not pull in Kiwi,
numpy and the whole answer path.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.answer.params import AnswerParams
    from retrieval.config import EngineConfig
    from retrieval.engine import Engine
    from retrieval.errors import CorpusError, EmptyCorpusError, IndexFormatError, QuestionError, QuoteQAError
    from retrieval.index.bm25 import SearchParams
    from retrieval.index.memory import MemoryStore
    from retrieval.index.segments.store import SegmentStore
    from retrieval.index.store import Change, Store
    from retrieval.models import Answer, Article, ArticleInfo, Quote, Source, Turn
    from retrieval.path import AnswerPath
    from retrieval.text.analyze import Analyzer

_WHERE = {
    "AnswerParams": "retrieval.answer.params", "EngineConfig": "retrieval.config", "Engine": "retrieval.engine",
    "AnswerPath": "retrieval.path", "CorpusError": "retrieval.errors", "EmptyCorpusError": "retrieval.errors",
    "IndexFormatError": "retrieval.errors", "QuestionError": "retrieval.errors", "QuoteQAError": "retrieval.errors",
    "SearchParams": "retrieval.index.bm25", "MemoryStore": "retrieval.index.memory",
    "SegmentStore": "retrieval.index.segments.store", "Change": "retrieval.index.store", "Store": "retrieval.index.store",
    "Answer": "retrieval.models", "Article": "retrieval.models", "ArticleInfo": "retrieval.models",
    "Quote": "retrieval.models", "Source": "retrieval.models", "Turn": "retrieval.models",
    "Analyzer": "retrieval.text.analyze",
}  # fmt: skip

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value
