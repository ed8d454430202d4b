"""One question's reading of one index snapshot: what every stage of the answer path reads.

A stage used to take the store, a `view` callback, a `title_of` callback and the analyser as
separate arguments (eight of them for the re-rank); now it takes this one object. It caches
each passage it reads and each article title it analyses, so a passage read by the re-rank is
not read again by the sentence scorer or the quote builder.
"""

from __future__ import annotations

from retrieval.answer.question import Question
from retrieval.index.store import PassageView, Searcher
from retrieval.text.analyze import Analyzer, Term


class QuestionContext:
    """The snapshot a question is answered from, its passage views and title terms, and the
    question as read (`asked`, `words`; absent when only a ranking is wanted)."""

    def __init__(
        self, searcher: Searcher, analyzer: Analyzer, titles: dict[str, frozenset[str]] | None = None,
        asked: Question | None = None, words: list[Term] | None = None,
    ) -> None:  # fmt: skip
        """`titles` is a cache of analysed article titles that outlives the question (the engine
        shares one across questions: titles are not in the index)."""
        self.searcher = searcher
        self.analyzer = analyzer
        self.asked = asked
        self.words = words or []
        self._titles = titles if titles is not None else {}
        self._views: dict[int, PassageView] = {}

    @property
    def question(self) -> Question:
        if self.asked is None:
            raise ValueError("this context was made for a ranking only; it holds no question")
        return self.asked

    def view(self, uid: int) -> PassageView:
        """A passage, read from the snapshot once per question."""
        v = self._views.get(uid)
        if v is None:
            v = self._views[uid] = self.searcher.passage(uid)
        return v

    def title_of(self, passage: int) -> frozenset[str]:
        """Terms of the passage's article title, analysed once per title: a question that names
        an article's subject should favour that article."""
        title = self.view(passage).article.title
        terms = self._titles.get(title)
        if terms is None:
            terms = self._titles[title] = frozenset(self.analyzer.terms(title))
        return terms

    def english_term(self, word: str) -> str:
        return self.analyzer.english_term(word)
