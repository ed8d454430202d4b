"""quoteqa's core: (corpus, question) -> Answer. Imports nothing from `bot` or `telegram`."""

from .analyze import Analyzer
from .answer import AnswerParams
from .bm25 import SearchParams
from .engine import Engine
from .errors import CorpusError, EmptyCorpusError, IndexFormatError, QuestionError, QuoteQAError
from .memstore import MemoryStore
from .models import Answer, Article, ArticleInfo, Quote, Source, Turn
from .segstore import SegmentStore
from .store import Change, Store

__all__ = [
    "Analyzer", "Answer", "AnswerParams", "Article", "ArticleInfo", "Change", "CorpusError", "EmptyCorpusError",
    "Engine", "IndexFormatError", "MemoryStore", "Quote", "QuestionError", "QuoteQAError", "SearchParams",
    "SegmentStore", "Source", "Store", "Turn",
]  # fmt: skip
