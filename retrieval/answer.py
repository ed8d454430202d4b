"""From a question to an `Answer`, in stages; each stage is a module of its own with its weights
and constants at its top:

1. `retrieval/question.py`: what the question asks (its kind, language, speaker, subject);
2. `retrieval/query.py`: its words as search terms and idf weights;
3. `retrieval/rerank.py`: BM25 over passages, the top ones re-ranked;
4. `retrieval/sentences.py`: every sentence that shares a word with the question, scored;
5. `retrieval/quotes.py`: the first quote and the further ones;
6. `retrieval/verdict.py`: the evidence, the confidence read from it and the verdict.

`retrieval/messages.py` holds what a person reads besides the quotes. Every weight was chosen
with `quoteqa eval` as the judge; docs/quality.md says what each one bought and what was tried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import confidence as confidence_model
from .analyze import Analyzer, Term, normalize_space
from .confidence import ConfidenceModel
from .messages import ABSTAIN_MESSAGE, CAVEAT, CROSS_MESSAGE, EMPTY_QUESTION, STORY_END, with_examples
from .models import Answer, Language, Quote, Turn
from .conversation import ARTICLE_PRIOR, CONTINUE_SENTENCES, EXPANSION_WEIGHT, SHORT_TERMS, Context, context_of, continues, depends
from .query import Query, QueryWeights, build_query, term_columns, unknown_idf, with_expansion
from .question import FRAME_TERMS, Question, clean_question, question_kind, question_language, read_question
from .quotes import QuoteShape, answer_pool, best_window, group_quotes, source_of
from .rerank import Hits, RerankWeights, retrieve
from .sentences import SentenceWeights, score_sentences
from .store import PassageView, Store
from .suggest import suggestions
from .verdict import decide, passes_coverage_rule, question_signals, quote_signals

__all__ = [
    "CAVEAT", "CROSS_MESSAGE", "EMPTY_QUESTION", "AnswerParams", "Answerer", "clean_question", "question_kind",
    "question_language", "source_of", "with_examples",
]  # fmt: skip

MAX_PASSAGES = 12  # sentences are looked for in this many top passages


@dataclass(frozen=True, slots=True)
class AnswerParams:
    """Every weight of the answer path, grouped by the stage that reads it, and the abstention
    threshold used without a confidence model. `AnswerParams.of(name=value, ...)` sets weights
    by their own (flat) names, which are unique across the stages."""

    query: QueryWeights = field(default_factory=QueryWeights)
    rerank: RerankWeights = field(default_factory=RerankWeights)
    sentences: SentenceWeights = field(default_factory=SentenceWeights)
    quotes: QuoteShape = field(default_factory=QuoteShape)
    min_coverage: float = 0.34  # without a confidence model only: share of the question's idf mass the best passage must contain

    @classmethod
    def of(cls, **weights: Any) -> AnswerParams:
        """The defaults with some weights changed, each named by its own (flat) name:
        `AnswerParams.of(window_temperature=0.0, speaker_weight=0.0)`. An unknown name is a TypeError."""
        unknown = [name for name in weights if name not in _STAGE_OF]
        if unknown:
            raise TypeError(f"AnswerParams has no weight {', '.join(map(repr, unknown))}; it has: {', '.join(_STAGE_OF)}")
        base = cls()
        stages = {s: {n: v for n, v in weights.items() if _STAGE_OF[n] == s} for s in _STAGES}
        return cls(
            **{s: dataclasses.replace(getattr(base, s), **kw) for s, kw in stages.items() if kw},
            **{n: v for n, v in weights.items() if _STAGE_OF[n] is None},
        )

    def flat(self) -> dict[str, object]:
        """Every weight by its flat name, as `of` takes them (for reports: feed them back to `of`)."""
        return {n: getattr(self if s is None else getattr(self, s), n) for n, s in _STAGE_OF.items()}


_STAGES = ("query", "rerank", "sentences", "quotes")
# flat weight name -> the stage group holding it (None: a field of AnswerParams itself)
_STAGE_OF: dict[str, str | None] = {
    f.name: s for s in _STAGES for f in dataclasses.fields(getattr(AnswerParams(), s))
} | {f.name: None for f in dataclasses.fields(AnswerParams) if f.name not in _STAGES}


class Answerer:
    """Answers questions from one store snapshot, read only through the `Store` interface.

    Cheap to make: the engine makes one per question, on the snapshot that is live when the
    question arrives, so a write that lands meanwhile cannot change the passages under it."""

    def __init__(
        self, store: Store, analyzer: Analyzer, params: AnswerParams | None = None,
        title_terms: dict[str, frozenset[str]] | None = None, judge: ConfidenceModel | None | str = "shipped",
        examples: Callable[[Language], list[str]] | None = None,
    ) -> None:  # fmt: skip
        """`judge` is the confidence model whose thresholds give the verdict: by default the
        one shipped in `retrieval/confidence.json`. With None the old rule decides instead
        (abstain when the best passage holds less than `min_coverage` of the question), and a
        question that is answered gets the verdict `answer` with confidence 0: that is how the
        dev splits collect every answer, with `min_coverage=0`, for the model to be fitted on."""
        self.store = store.snapshot()
        self.analyzer = analyzer
        self.params = params or AnswerParams()
        self.judge = confidence_model.shipped() if judge == "shipped" else judge
        if isinstance(self.judge, str):
            raise ValueError(f"judge must be a ConfidenceModel, None or 'shipped', not {judge!r}")
        self.oov_idf = unknown_idf(self.store.n_passages)
        self._title_terms = title_terms if title_terms is not None else {}
        # Example questions for the abstain message: the engine keeps them per commit, since
        # finding the newest articles walks the whole index (55 ms a refusal at 1M passages).
        self._examples = examples or (lambda lang: suggestions(self.store, lang, 1))
        self._views: dict[int, PassageView] = {}

    def answer(self, question: str, max_quotes: int = 3, history: Sequence[Turn] = ()) -> Answer:
        """The answer to `question`; with `history` (the conversation's earlier turns, oldest
        first) a question that leans on them is answered with their words and articles, and
        the answer names the question it followed up on. A question that does not lean on its
        context, or that the context makes no surer of, is answered exactly as without it."""
        asked = read_question(question, self.analyzer.morphemes)
        last = history[-1] if history else None
        if last is not None and continues(asked.text):
            going_on = self._continue(asked, last)
            if going_on is not None:
                return going_on
        words = self.analyzer.question_words(question)  # read once: a follow-up is answered twice
        alone = self._answer(asked, words, max_quotes)
        if not history:
            return alone
        asked_terms = {w.term for w in words}
        reason = depends(question, alone.language, len(asked_terms - FRAME_TERMS))
        own = [t for t in asked_terms - FRAME_TERMS if self.store.df(t)]
        story = self._story(last, own, pointing=reason in ("cue", "pronoun")) if last is not None else None
        if story is not None:
            # It points back to the last answer's story (or is short, and that story holds all
            # its words): read it there, even when another story shares its words. Its own words
            # pick the passage: the earlier question's words would pull it back to the last one.
            there = self._answer(asked, words, max_quotes, within=story)
            if there.answered and last is not None:
                return dataclasses.replace(there, context=last.question)
        if not reason:
            return alone
        context = context_of(history, asked_terms, self.analyzer.question_words, self.store)
        if context is None:
            return alone
        followed = self._answer(asked, words, max_quotes, context)
        if not self._leans_on(followed, context, own) or (self.judge is not None and not followed.confidence > alone.confidence):
            return alone  # the conversation made it no surer, or its answer owes nothing to it
        if not alone.answered and followed.verdict != "answer":
            return alone  # a question that alone matched nothing takes its context's answer only when sure of it
        return dataclasses.replace(followed, context=context.question)

    def _story(self, last: Turn, own: list[str], pointing: bool) -> npt.NDArray[np.int64] | None:
        """The passages of the story the last answer quoted, when a short question (at most
        SHORT_TERMS content words) is read with it: it points back (a pronoun, "that offer",
        "그 제안", "and what about …") and the story holds one of its words, or one passage of
        the story holds them all. None when the story cannot answer it at all."""
        if not last.answered or last.passage < 0 or not last.articles or len(own) > SHORT_TERMS:
            return None  # a longer question names what it asks about: it stands on its own words
        passages = self._article_passages(last.passage, last.articles[0])
        if passages.size == 0:
            return None
        if not own:
            return passages if pointing else None
        views = [self.view(int(u)) for u in passages]
        if pointing:
            found = any(_holds(v, own) for v in views)
        else:
            found = any(all(_holds(v, [t]) for t in own) for v in views)
        return passages if found else None

    def _article_passages(self, uid: int, article: str) -> npt.NDArray[np.int64]:
        """The uids of `article`'s passages, found from one of them (an article's passages have
        neighbouring uids); empty when `uid` is gone or now holds another article."""
        uids = self.store.uids()
        at = int(np.searchsorted(uids, uid))
        if at >= len(uids) or uids[at] != uid or self.view(uid).article.id != article:
            return np.zeros(0, np.int64)
        lo, hi = at, at + 1
        while lo > 0 and self.view(int(uids[lo - 1])).article.id == article:
            lo -= 1
        while hi < len(uids) and self.view(int(uids[hi])).article.id == article:
            hi += 1
        return uids[lo:hi]

    def _continue(self, asked: Question, last: Turn) -> Answer | None:
        """"What next?": the sentences after the last answer's first quote, in its paragraph or
        the article's next one; None when that quote cannot be found any more."""
        if not last.answered or last.passage < 0 or not last.articles:
            return None
        passages = self._article_passages(last.passage, last.articles[0])
        if passages.size == 0:
            return None
        view, first = self.view(last.passage), last.sentence + 1
        if first >= view.n_sentences:
            later = passages[passages > last.passage]
            if later.size == 0:  # the story ends there
                lang = asked.language
                return Answer(
                    question=asked.text, language=lang, answered=False, message=STORY_END[lang].format(title=view.article.title),
                    kind="continue", verdict="abstain", context=last.question,
                )  # fmt: skip
            view, first = self.view(int(later[0])), 0
        end = min(view.n_sentences, first + CONTINUE_SENTENCES) - 1
        text = normalize_space(view.text[view.sentence(first)[0] : view.sentence(end)[1]])
        quote = Quote(text, source_of(view), 1.0, view.uid, tuple(range(first, end + 1)))
        return Answer(
            question=asked.text, language=asked.language, answered=True, quotes=(quote,), kind="continue",
            confidence=1.0, verdict="answer", context=last.question,
        )  # fmt: skip

    def _leans_on(self, answer: Answer, context: Context, own: list[str]) -> bool:
        """The first quote still answers the question's own words (when it has any the index
        knows) and owes something to the conversation: it is from an article the conversation
        was about, or holds one of its words. An answer that got surer only through the
        context's words, or by chance after an unrelated question, is not a follow-up."""
        if not answer.quotes:
            return False
        first = answer.quotes[0]
        view = self.view(first.passage)
        if own and not _holds(view, own):
            return False
        return first.source.article in context.articles or _holds(view, [w.term for w in context.terms])

    def _answer(
        self, asked: Question, words: list[Term], max_quotes: int, context: Context | None = None, within: npt.NDArray[np.int64] | None = None
    ) -> Answer:
        """The answer from the whole store, or from the passages `within` (a story the
        conversation points back to: there the closest passage is quoted as `unsure` rather
        than refused, since the reader asked about that story)."""
        prm = self.params
        highlight = {w.term for w in words}
        query = self.query(words)
        if context is not None:
            added = {w.term for w in context.terms} - highlight
            query = with_expansion(self.query([*words, *(w for w in context.terms if w.term in added)]), added, EXPANSION_WEIGHT)
        if not query.weights:
            return self._abstain(asked, words)
        prefer = context.articles if context is not None else frozenset()
        found = retrieve(self.store, query, MAX_PASSAGES, prm.rerank, self.view, self.title_of, prefer, ARTICLE_PRIOR, within)
        if not found.hits:
            return self._abstain(asked, words)
        signals = question_signals(self.store, query, found, asked.kind, asked.language, self.view, self.title_of)
        if self.judge is None and not passes_coverage_rule(found.coverage, prm.min_coverage):
            return self._abstain(asked, words, signals)

        speaker = self._speaker(asked, query)
        candidates = score_sentences(found.hits, found.coverage, asked, query, self.view, prm.sentences, speaker)
        pool, cross = answer_pool(candidates, asked.language)
        first = best_window(pool, prm.quotes, self.view)
        quotes, more = group_quotes(
            pool, max_quotes, set(query.weights) & highlight or set(query.weights), found.coverage, query.weights_arr, first, prm.quotes, self.view,
            self.analyzer.english_term,
        )  # fmt: skip
        signals |= quote_signals(first or pool[:1], asked.kind, cross, self.view)

        chance, verdict = decide(self.judge, signals)
        if verdict == "abstain" and within is not None and quotes:
            verdict = "unsure"
        if verdict == "abstain":
            return self._abstain(asked, words, signals, chance)
        lang = asked.language
        notes = [CAVEAT[lang]] if verdict == "unsure" else []
        if cross:
            notes.append(CROSS_MESSAGE[lang])
        return Answer(
            question=asked.text, language=lang, answered=True, quotes=tuple(quotes), message=" ".join(notes),
            kind=asked.kind, terms=_surfaces(words), more=tuple(more), cross_language=cross, confidence=chance,
            verdict=verdict, signals=signals,
        )  # fmt: skip

    def rank(self, question: str, k: int = 10) -> Hits:
        """The passage ranking the answer path reads sentences from (for evaluation)."""
        query = self.query(self.analyzer.question_words(question))
        return retrieve(self.store, query, k, self.params.rerank, self.view, self.title_of).hits if query.weights else []

    def query(self, words: list[Term]) -> Query:
        return build_query(words, self.store, self.params.query, self.oov_idf)

    def view(self, uid: int) -> PassageView:
        """A passage, read from the store once per question."""
        v = self._views.get(uid)
        if v is None:
            v = self._views[uid] = self.store.passage(uid)
        return v

    def title_of(self, passage: int) -> frozenset[str]:
        """Terms of the passage's article title, analysed once per title: titles are not in the
        index, and a question that names an article's subject should favour that article."""
        title = self.view(passage).article.title
        terms = self._title_terms.get(title)
        if terms is None:
            terms = self._title_terms[title] = frozenset(self.analyzer.terms(title))
        return terms

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


def _holds(view: PassageView, terms: list[str]) -> bool:
    """The passage holds at least one of `terms`."""
    ids = view.ids(terms)
    return bool(np.isin(ids[ids >= 0], view.tokens).any())


def _surfaces(words: list[Term]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for w in words:
        if w.term not in FRAME_TERMS:
            seen.setdefault(w.surface, None)
    return tuple(seen)
