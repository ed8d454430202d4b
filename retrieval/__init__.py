"""quoteqa's core: (corpus, question) -> Answer. Imports nothing from `bot` or `telegram`."""

from retrieval.answer.params import AnswerParams
from retrieval.config import EngineConfig
from retrieval.engine import Engine
from retrieval.errors import CorpusError, EmptyCorpusError, IndexFormatError, QuestionError, QuoteQAError
from retrieval.index.bm25 import SearchParams
from retrieval.index.memory import MemoryStore
from retrieval.index.segments.store import SegmentStore
from retrieval.index.store import Change, Store
from retrieval.models import Answer, Article, ArticleInfo, Quote, Source, Turn
from retrieval.text.analyze import Analyzer

__all__ = [
    "Analyzer", "Answer", "AnswerParams", "Article", "ArticleInfo", "Change", "CorpusError", "EmptyCorpusError",
    "Engine", "EngineConfig", "IndexFormatError", "MemoryStore", "Quote", "QuestionError", "QuoteQAError", "SearchParams",
    "SegmentStore", "Source", "Store", "Turn",
]  # fmt: skip
