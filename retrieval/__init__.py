"""quoteqa's core: (corpus, question) -> Answer. Imports nothing from `bot` or `telegram`."""

from .analyze import Analyzer
from .answer import AnswerParams
from .bm25 import SearchParams
from .engine import Engine
from .errors import CorpusError, EmptyCorpusError, IndexFormatError, QuestionError, QuoteQAError
from .models import Answer, Article, ArticleInfo, Quote, Source

__all__ = [
    "Analyzer", "Answer", "AnswerParams", "Article", "ArticleInfo", "CorpusError", "EmptyCorpusError",
    "Engine", "IndexFormatError", "Quote", "QuestionError", "QuoteQAError", "SearchParams", "Source",
]  # fmt: skip
