"""From a question to an `Answer`, in stages; each stage is a module of its own with its weights
at its top (gathered in `params.py`), and every stage reads the question's `QuestionContext`
(`context.py`: the snapshot, passage views, title terms, the question as read):

0. `retrieval/answer/conversation.py`: whether it leans on the conversation before it;
1. `retrieval/answer/question.py`: what the question asks (its kind, language, speaker, subject);
2. `retrieval/answer/query.py`: its words as search terms and idf weights;
3. `retrieval/answer/retrieve/` + `rerank.py`: candidate passages (BM25), the top ones re-ranked;
4. `retrieval/answer/sentences.py`: every sentence that shares a word with the question, scored;
5. `retrieval/answer/quotes.py`: the first quote and the further ones;
6. `retrieval/answer/verdict.py`: the evidence, the confidence read from it and the verdict.
7. `retrieval/answer/twins.py`: each quote's original, where its article has a translation twin.

`retrieval/answer/messages.py` holds what a person reads besides the quotes. Every weight was chosen
with `quoteqa eval` as the judge; docs/quality.md says what each one bought and what was tried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answer import confidence as confidence_model
from retrieval.answer.confidence import ConfidenceModel
from retrieval.answer.context import QuestionContext
from retrieval.answer.conversation import Context, context_of, depends
from retrieval.answer.messages import ABSTAIN_MESSAGE, CAVEAT, CROSS_MESSAGE, with_examples
from retrieval.answer.params import AnswerParams
from retrieval.answer.query import Query, build_query, term_columns, unknown_idf, with_expansion
from retrieval.answer.question import FRAME_TERMS, Question, read_question
from retrieval.answer.quotes import answer_pool, best_window, group_quotes
from retrieval.answer.rerank import LEXICAL_ONLY, retrieve
from retrieval.answer.retrieve import CandidateSource, Fuse, Hits
from retrieval.answer.sentences import score_sentences
from retrieval.answer.suggest import suggestions
from retrieval.answer.twins import Twins
from retrieval.answer.verdict import decide, passes_coverage_rule, question_signals, quote_signals
from retrieval.index.store import Searcher
from retrieval.models import Answer, Language, Turn
from retrieval.text.analyze import Analyzer, Term


@dataclass(frozen=True, slots=True)
class Shipped:
    """`judge=SHIPPED`: the confidence model shipped with the package (the default)."""


SHIPPED = Shipped()


class Answerer:
    """Answers questions from one store snapshot, read only through the `Searcher` interface.

    Cheap to make: the engine makes one per question, on the snapshot that is live when the
    question arrives, so a write that lands meanwhile cannot change the passages under it."""

    def __init__(
        self, store: Searcher, analyzer: Analyzer, params: AnswerParams | None = None,
        title_terms: dict[str, frozenset[str]] | None = None, judge: ConfidenceModel | None | Shipped = SHIPPED,
        examples: Callable[[Language], list[str]] | None = None, sources: Sequence[CandidateSource] = LEXICAL_ONLY,
        fuse: Fuse | None = None, twins: Twins | None = None,
    ) -> None:  # fmt: skip
        """`judge` is the confidence model whose thresholds give the verdict: by default the
        one shipped in `retrieval/answer/confidence.json`. With None the coverage rule decides
        instead (abstain when the best passage holds less than `min_coverage` of the question),
        and a question that is answered gets the verdict `answer` with confidence 0: that is how
        the dev splits collect every answer, with `min_coverage=0`, for the model to be fitted on.
        `sources` propose candidate passages (BM25 alone by default); several need `fuse`."""
        self.store = store.snapshot()
        self.analyzer = analyzer
        self.params = params or AnswerParams()
        self.judge = confidence_model.shipped() if isinstance(judge, Shipped) else judge
        self.oov_idf = unknown_idf(self.store.n_passages)
        self._title_terms = title_terms if title_terms is not None else {}
        # Example questions for the abstain message: the engine keeps them per commit, since
        # finding the newest articles walks the whole index.
        self._examples = examples or (lambda lang: suggestions(self.store, lang, 1))
        self.sources = tuple(sources)
        self.fuse = fuse
        self.twins = twins  # each quote's original in its translation twin (twins.py); None: no encoder

    def context(self, asked: Question | None = None, words: list[Term] | None = None) -> QuestionContext:
        return QuestionContext(self.store, self.analyzer, self._title_terms, asked, words)

    def answer(self, question: str, max_quotes: int = 3, history: Sequence[Turn] = ()) -> Answer:
        """The answer to `question`; with `history` (the conversation's earlier turns, oldest
        first) a question that leans on them is answered with their words and articles, and
        the answer names the question it followed up on. A question that does not lean on its
        context, or that the context makes no surer of, is answered exactly as without it."""
        asked = read_question(question, self.analyzer.morphemes)
        words = self.analyzer.question_words(question)  # read once: a follow-up is answered twice
        ctx = self.context(asked, words)
        alone = self._answer(ctx, max_quotes)
        if not history:
            return alone
        conv = self.params.conversation
        asked_terms = {w.term for w in words}
        if not depends(question, alone.language, len(asked_terms - FRAME_TERMS), conv):
            return alone
        context = context_of(history, asked_terms, self.analyzer.question_words, self.store, conv)
        if context is None:
            return alone
        followed = self._answer(ctx, max_quotes, context)
        own = [t for t in asked_terms - FRAME_TERMS if self.store.df(t)]
        if not self._leans_on(ctx, followed, context, own) or (self.judge is not None and not followed.confidence > alone.confidence):
            return alone  # the conversation made it no surer, or its answer owes nothing to it
        if not alone.answered and followed.verdict != "answer":
            return alone  # a question that alone matched nothing takes its context's answer only when sure of it
        return dataclasses.replace(followed, context=context.question)

    def _leans_on(self, ctx: QuestionContext, answer: Answer, context: Context, own: list[str]) -> bool:
        """The first quote still answers the question's own words (when it has any the index
        knows) and owes something to the conversation: it is from an article the conversation
        was about, or holds one of its words. An answer that got surer only through the
        context's words, or by chance after an unrelated question, is not a follow-up."""
        if not answer.quotes:
            return False
        first = answer.quotes[0]
        view = ctx.view(first.passage)

        def holds(terms: list[str]) -> bool:
            ids = view.ids(terms)
            return bool(np.isin(ids[ids >= 0], view.tokens).any())

        if own and not holds(own):
            return False
        return first.source.article in context.articles or holds([w.term for w in context.terms])

    def _answer(self, ctx: QuestionContext, max_quotes: int, context: Context | None = None) -> Answer:
        prm = self.params
        asked, words = ctx.question, ctx.words
        highlight = {w.term for w in words}
        query = self.query(words)
        if context is not None:
            added = {w.term for w in context.terms} - highlight
            expanded = self.query([*words, *(w for w in context.terms if w.term in added)])
            query = with_expansion(expanded, added, prm.conversation.expansion_weight)
        if not query.weights:
            return self._abstain(asked, words)
        prefer = context.articles if context is not None else frozenset()
        found = retrieve(
            ctx, query, prm.sentences.max_passages, prm.rerank, self.sources, self.fuse, prefer, prm.conversation.article_prior
        )
        if not found.hits:
            return self._abstain(asked, words)
        signals = question_signals(ctx, query, found)
        if self.judge is None and not passes_coverage_rule(found.coverage, prm.min_coverage):
            return self._abstain(asked, words, signals)

        speaker = self._speaker(asked, query)
        candidates = score_sentences(ctx, found, query, prm.sentences, speaker)
        pool, cross = answer_pool(candidates, asked.language, prm.quotes)
        first = best_window(ctx, pool, prm.quotes)
        quotes, more = group_quotes(ctx, query, found.coverage, pool, first, max_quotes, prm.quotes)
        signals |= quote_signals(ctx, first or pool[:1], cross)

        chance, verdict = decide(self.judge, signals)
        if verdict == "abstain":
            return self._abstain(asked, words, signals, chance)
        lang = asked.language
        notes = [CAVEAT[lang]] if verdict == "unsure" else []
        if cross:
            notes.append(CROSS_MESSAGE[lang])
        if self.twins is not None:
            quotes, more = self.twins.fill(ctx.searcher, quotes, more)
        return Answer(
            question=asked.text, language=lang, answered=True, quotes=tuple(quotes), message=" ".join(notes),
            kind=asked.kind, terms=_surfaces(words), more=tuple(more), cross_language=cross, confidence=chance,
            verdict=verdict, signals=signals,
        )  # fmt: skip

    def rank(self, question: str, k: int = 10) -> Hits:
        """The passage ranking the answer path reads sentences from (for evaluation)."""
        words = self.analyzer.question_words(question)
        query = self.query(words)
        if not query.weights:
            return []
        return retrieve(self.context(words=words), query, k, self.params.rerank, self.sources, self.fuse).hits

    def query(self, words: list[Term]) -> Query:
        return build_query(words, self.store, self.params.query, self.oov_idf)

    def _speaker(self, asked: Question, query: Query) -> list[int] | None:
        """The query columns of the speaker a "say" question names (None: no speaker rule)."""
        if self.params.sentences.speaker_weight <= 0:
            return None
        return term_columns(asked.speaker, query, self.analyzer.question_words, self.store, self.params.query)

    def _abstain(self, asked: Question, words: list[Term], signals: dict[str, float] | None = None, chance: float = 0.0) -> Answer:
        lang = asked.language
        message = with_examples(ABSTAIN_MESSAGE[lang], lang, self._examples(lang))
        return Answer(
            question=asked.text, language=lang, answered=False, message=message, kind=asked.kind,
            terms=_surfaces(words), confidence=chance, verdict="abstain", signals=signals or {},
        )  # fmt: skip


def _surfaces(words: list[Term]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for w in words:
        if w.term not in FRAME_TERMS:
            seen.setdefault(w.surface, None)
    return tuple(seen)
