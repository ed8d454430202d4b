"""From a question to an `Answer`, in stages; each stage is a module of its own with its weights
at its top (gathered in `params.py`), and every stage reads the question's `QuestionContext`
(`context.py`: the snapshot, passage views, title terms, the question as read):

0. `retrieval/answer/conversation.py`: whether it leans on the conversation before it;
1. `retrieval/answer/question.py`: what the question asks (its kind, language, speaker, subject);
2. `retrieval/answer/query.py`: its words as search terms and idf weights;
3. `retrieval/answer/retrieve/` + `rerank.py`: candidate passages (BM25, and the passage vectors
   for a question with a vector), the words list's top ones re-ranked, the lists joined;
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
import numpy.typing as npt

from retrieval.answer import confidence as confidence_model
from retrieval.answer.confidence import ConfidenceModel, quote_chance, shown
from retrieval.answer.context import QuestionContext, SentenceVectors
from retrieval.answer.conversation import Context, context_of, continues, depends
from retrieval.answer.messages import ABSTAIN_MESSAGE, CAVEAT, CROSS_MESSAGE, STORY_END, with_examples
from retrieval.answer.neighbours import with_neighbours
from retrieval.answer.params import AnswerParams
from retrieval.answer.query import Query, build_query, term_columns, unknown_idf, with_expansion
from retrieval.answer.question import FRAME_TERMS, Question, read_question
from retrieval.answer.quotes import answer_pool, best_window, group_quotes, source_of
from retrieval.answer.rerank import Retrieved, retrieve
from retrieval.answer.retrieve import CandidateSource, Hits, Join
from retrieval.answer.retrieve.dense import DENSE
from retrieval.answer.retrieve.fusion import LearnedFusion
from retrieval.answer.retrieve.lexical import LexicalWithin
from retrieval.answer.retrieve.sources import candidate_sources
from retrieval.answer.sentences import Candidate, score_sentences
from retrieval.answer.similar import similar_sentences
from retrieval.answer.suggest import suggestions
from retrieval.answer.topic import CORPUS_OTHER, TopicGate, shipped_topic
from retrieval.answer.twins import Twins
from retrieval.answer.verdict import (
    decide,
    passes_coverage_rule,
    question_signals,
    quote_signals,
    semantic_signals,
    shown_signals,
)  # fmt: skip
from retrieval.index.segments.columns.anchors import anchors_for
from retrieval.index.store import PassageView, Searcher, Store
from retrieval.models import Answer, Language, Quote, Turn
from retrieval.text.analyze import Analyzer, Term, normalize_space
from retrieval.text.anchors import Anchors
from retrieval.text.encoder import Encoder


@dataclass(frozen=True, slots=True)
class Shipped:
    """`judge=SHIPPED`: the confidence model shipped with the package (the default)."""


SHIPPED = Shipped()


class Answerer:
    """Answers questions from one store snapshot, read only through the `Searcher` interface.

    Cheap to make: the engine makes one per question, on the snapshot that is live when the
    question arrives, so a write that lands meanwhile cannot change the passages under it."""

    def __init__(
        self, store: Searcher | Store, analyzer: Analyzer, params: AnswerParams | None = None,
        title_terms: dict[str, frozenset[str]] | None = None, judge: ConfidenceModel | None | Shipped = SHIPPED,
        examples: Callable[[Language], list[str]] | None = None, sources: Sequence[CandidateSource] | None = None,
        join: Join | None = None, encoder: Encoder | None = None, semantic_judge: ConfidenceModel | None | Shipped = SHIPPED,
        sentence_vectors: SentenceVectors | None = None,
        twins: Twins | None = None, topic_gate: TopicGate | None | Shipped = SHIPPED,
        corpus_languages: frozenset[str] | None = None, anchors: Anchors | None | Shipped = SHIPPED,
    ) -> None:  # fmt: skip
        """`judge` is the confidence model whose thresholds give the verdict: by default the
        one shipped in `retrieval/answer/confidence.json`. With None the coverage rule decides
        instead (abstain when the best passage holds less than `min_coverage` of the question),
        and a question that is answered gets the verdict `answer` with confidence 0: that is how
        the dev splits collect every answer, with `min_coverage=0`, for the model to be fitted on.
        `sources` propose candidate passages (by default `retrieve/sources.py`'s: BM25 and the
        passage vectors) and `join` merges their lists (by default the learned fusion of
        `params.fusion`).

        `encoder` (the engine's; None: lexical only) makes a question semantic when the index
        holds vectors of that encoder: the dense source takes part and is fused with the re-ranked lexical one,
        sentences of passages found by meaning are chosen by similarity, and `semantic_judge`
        (by default the shipped semantic model; None when `judge` is None) gives the verdict,
        with `topic_gate` (by default the shipped one, `topic.py`; None when `semantic_judge` is
        None) refusing questions the corpus does not cover.
        Without an encoder, or with an index of other vectors, the path is exactly the lexical one."""
        self.store = store.snapshot()
        self.analyzer = analyzer
        self.params = params or AnswerParams()
        self.judge = confidence_model.shipped() if isinstance(judge, Shipped) else judge
        self.oov_idf = unknown_idf(self.store.n_passages)
        self._title_terms = title_terms if title_terms is not None else {}
        # Example questions for the abstain message: the engine keeps them per commit, since
        # finding the newest articles walks the whole index.
        self._examples = examples or (lambda lang: suggestions(self.store, lang, 1))
        self.sources = tuple(sources) if sources is not None else candidate_sources(self.params.fusion)
        self.join: Join = join if join is not None else LearnedFusion(self.params.fusion)
        self.encoder = encoder
        if isinstance(semantic_judge, Shipped):
            semantic_judge = None if self.judge is None else confidence_model.shipped_semantic()
        self.semantic_judge = semantic_judge
        if isinstance(topic_gate, Shipped):
            topic_gate = None if semantic_judge is None else shipped_topic()
        self.topic_gate = topic_gate
        self._sentence_vectors = sentence_vectors if sentence_vectors is not None else SentenceVectors()
        self.twins = twins  # each quote's original in its translation twin (twins.py); None: no encoder
        self._corpus_languages = corpus_languages  # None: read from the snapshot when first needed
        # the question's names, numbers and terms (`anchor_match.py`); by default this analyser's
        self.anchors = anchors_for(analyzer) if isinstance(anchors, Shipped) else anchors

    def context(self, asked: Question | None = None, words: list[Term] | None = None) -> QuestionContext:
        return QuestionContext(
            self.store, self.analyzer, self._title_terms, asked, words, self.encoder, self._sentence_vectors,
            self.anchors,
        )

    def corpus_languages(self) -> frozenset[str]:
        """The languages the snapshot's passages are in (the topic gate's level depends on whether
        the question's language is among them; `topic.py`). The engine passes its per-snapshot copy."""
        if self._corpus_languages is None:
            self._corpus_languages = frozenset(self.store.languages())
        return self._corpus_languages

    def answer(self, question: str, max_quotes: int = 3, history: Sequence[Turn] = ()) -> Answer:
        """The answer to `question`; with `history` (the conversation's earlier turns, oldest
        first) a question that leans on them is answered with their words and articles, and
        the answer names the question it followed up on. A question that does not lean on its
        context, or that the context makes no surer of, is answered exactly as without it."""
        asked = read_question(question, self.analyzer.morphemes)
        last = history[-1] if history else None
        if last is not None and continues(asked.text):
            going_on = self._continue(self.context(asked), last)
            if going_on is not None:
                return going_on
        words = self.analyzer.question_words(question)  # read once: a follow-up is answered twice
        ctx = self.context(asked, words)
        alone = self._answer(ctx, max_quotes)
        if last is None:
            return alone
        conv = self.params.conversation
        asked_terms = {w.term for w in words}
        reason = depends(question, alone.language, len(asked_terms - FRAME_TERMS), conv)
        own = [t for t in asked_terms - FRAME_TERMS if self.store.df(t)]
        story = self._story(ctx, last, own, pointing=reason in ("cue", "pronoun"))
        if story is not None:
            # It points back to the last answer's story (or is short, and that story holds all
            # its words): read it there, even when another story shares its words. Its own words
            # pick the passage: the earlier question's words would pull it back to the last one.
            there = self._answer(ctx, max_quotes, within=story)
            if there.answered:
                return dataclasses.replace(there, context=last.question)
        if not reason:
            return alone
        context = context_of(history, asked_terms, self.analyzer.question_words, self.store, conv)
        if context is None:
            return alone
        followed = self._answer(ctx, max_quotes, context)
        if not self._leans_on(ctx, followed, context, own) or (
            self.judge is not None
            and not quote_chance(followed.confidence, followed.verdict) > quote_chance(alone.confidence, alone.verdict)
        ):
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
        if own and not _holds(view, own):
            return False
        return first.source.article in context.articles or _holds(view, [w.term for w in context.terms])

    def _story(self, ctx: QuestionContext, last: Turn, own: list[str], pointing: bool) -> npt.NDArray[np.int64] | None:
        """The passages of the story the last answer quoted, when a short question (at most
        `short_terms` content words) is read with it: it points back (a pronoun, "that offer",
        "그 제안", "and what about …") and the story holds one of its words, or one passage of
        the story holds them all. None when the story cannot answer it at all."""
        if (
            not last.answered
            or last.passage < 0
            or not last.articles
            or len(own) > self.params.conversation.short_terms
        ):
            return None  # a longer question names what it asks about: it stands on its own words
        passages = self._article_passages(ctx, last.passage, last.articles[0])
        if passages.size == 0:
            return None
        if not own:
            return passages if pointing else None
        views = [ctx.view(int(u)) for u in passages]
        if pointing:
            found = any(_holds(v, own) for v in views)
        else:
            found = any(all(_holds(v, [t]) for t in own) for v in views)
        return passages if found else None

    def _article_passages(self, ctx: QuestionContext, uid: int, article: str) -> npt.NDArray[np.int64]:
        """The uids of `article`'s passages, found from one of them (an article's passages have
        neighbouring uids); empty when `uid` is gone or now holds another article."""
        uids = self.store.uids()
        at = int(np.searchsorted(uids, uid))
        if at >= len(uids) or uids[at] != uid or ctx.view(uid).article.id != article:
            return np.zeros(0, np.int64)
        lo, hi = at, at + 1
        while lo > 0 and ctx.view(int(uids[lo - 1])).article.id == article:
            lo -= 1
        while hi < len(uids) and ctx.view(int(uids[hi])).article.id == article:
            hi += 1
        return uids[lo:hi]

    def _continue(self, ctx: QuestionContext, last: Turn) -> Answer | None:
        """ "What next?": the sentences after the last answer's first quote, in its paragraph or
        the article's next one; None when that quote cannot be found any more."""
        if not last.answered or last.passage < 0 or not last.articles:
            return None
        passages = self._article_passages(ctx, last.passage, last.articles[0])
        if passages.size == 0:
            return None
        asked = ctx.question
        view, first = ctx.view(last.passage), last.sentence + 1
        if first >= view.n_sentences:
            later = passages[passages > last.passage]
            if later.size == 0:  # the story ends there
                lang = asked.language
                return Answer(
                    question=asked.text, language=lang, answered=False, message=STORY_END[lang].format(title=view.article.title),
                    kind="continue", verdict="abstain", context=last.question,
                )  # fmt: skip
            view, first = ctx.view(int(later[0])), 0
        end = min(view.n_sentences, first + self.params.conversation.continue_sentences) - 1
        text = normalize_space(view.text[view.sentence(first)[0] : view.sentence(end)[1]])
        quote = Quote(text, source_of(view), 1.0, view.uid, tuple(range(first, end + 1)))
        return Answer(
            question=asked.text, language=asked.language, answered=True, quotes=(quote,), kind="continue",
            confidence=1.0, verdict="answer", context=last.question,
        )  # fmt: skip

    def _answer(
        self,
        ctx: QuestionContext,
        max_quotes: int,
        context: Context | None = None,
        within: npt.NDArray[np.int64] | None = None,
    ) -> Answer:
        """The answer from the whole index, or from the passages `within` (a story the
        conversation points back to: there the closest passage is quoted as `unsure` rather
        than refused, since the reader asked about that story)."""
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
        sources = (LexicalWithin(within),) if within is not None else self.sources
        found = retrieve(
            ctx,
            query,
            prm.sentences.max_passages,
            prm.rerank,
            sources,
            self.join,
            prefer,
            prm.conversation.article_prior,
        )
        semantic = DENSE in found.by_source  # the question has a vector: the dense source took part
        if not found.hits:
            return self._abstain(asked, words)
        signals = question_signals(ctx, query, found)
        judge = self.semantic_judge if semantic else self.judge
        if (
            judge is None
            and not passes_coverage_rule(found.coverage, prm.min_coverage)
            and not _found_by_meaning(found)
        ):
            return self._abstain(asked, words, signals)

        speaker = self._speaker(asked, query)
        read = found
        if semantic and found.fusion is not None:
            read = dataclasses.replace(found, hits=found.fusion.passage_shares(found.hits, prm.fusion.runner_up_share))
        read = with_neighbours(ctx, read, query, prm.neighbours)
        candidates = score_sentences(ctx, read, query, prm.sentences, speaker, prm.kinds)
        if semantic:
            candidates = similar_sentences(ctx, read, candidates, prm.similar, prm.kinds)
        pool, cross = answer_pool(candidates, asked.language, prm.quotes, _related(ctx) if semantic else None)
        first = best_window(ctx, pool, prm.quotes)
        quotes, more = group_quotes(ctx, query, found.coverage, pool, first, max_quotes, prm.quotes)
        signals |= quote_signals(ctx, first or pool[:1], cross)
        signals |= shown_signals(ctx, query, found, pool, first or pool[:1])
        if semantic:
            signals |= semantic_signals(ctx, found, first or pool[:1])
            signals[CORPUS_OTHER] = float(ctx.question.language not in self.corpus_languages() | {"mixed"})

        chance, verdict = decide(judge, signals, self.topic_gate if semantic else None)
        if judge is not None and within is None and prm.offtopic.refuses(signals, chance):
            verdict = "abstain"  # it names people the corpus never names (`offtopic.py`)
        if verdict == "abstain" and within is not None and quotes:
            verdict = "unsure"
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
            kind=asked.kind, terms=_surfaces(words), more=tuple(more), cross_language=cross,
            confidence=shown(chance, verdict), verdict=verdict, signals=signals,
        )  # fmt: skip

    def rank(self, question: str, k: int = 10) -> Hits:
        """The passage ranking the answer path reads sentences from (for evaluation)."""
        words = self.analyzer.question_words(question)
        query = self.query(words)
        if not query.weights:
            return []
        ctx = self.context(read_question(question, self.analyzer.morphemes), words)
        found = retrieve(ctx, query, k, self.params.rerank, self.sources, self.join)
        if found.fusion is not None:
            return [(f.uid, f.score) for f in found.fusion.ranked[:k]]
        return found.hits

    def query(self, words: list[Term]) -> Query:
        return build_query(words, self.store, self.params.query, self.oov_idf)

    def _speaker(self, asked: Question, query: Query) -> list[int] | None:
        """The query columns of the speaker a "say" question names (None: no speaker rule)."""
        if self.params.sentences.speaker_weight <= 0:
            return None
        return term_columns(asked.speaker, query, self.analyzer.question_words, self.store, self.params.query)

    def _abstain(
        self, asked: Question, words: list[Term], signals: dict[str, float] | None = None, chance: float = 0.0
    ) -> Answer:
        """No quote; its confidence is the chance that refusing is right (1 - `chance`, the chance
        the first quote would have answered; 1.0 when nothing was found), 0 without a model."""
        lang = asked.language
        message = with_examples(ABSTAIN_MESSAGE[lang], lang, self._examples(lang))
        return Answer(
            question=asked.text, language=lang, answered=False, message=message, kind=asked.kind,
            terms=_surfaces(words), confidence=shown(chance, "abstain") if self.judge is not None else 0.0,
            verdict="abstain", signals=signals or {},
        )  # fmt: skip


def _holds(view: PassageView, terms: list[str]) -> bool:
    """The passage holds at least one of `terms`."""
    ids = view.ids(terms)
    return bool(np.isin(ids[ids >= 0], view.tokens).any())


def _related(ctx: QuestionContext) -> Callable[[Candidate, Candidate], float]:
    """The cosine of two candidate sentences' vectors (`answer_pool`: is the question's language
    saying what the other language's best says?)."""

    def cosine(a: Candidate, b: Candidate) -> float:
        vecs = ctx.sentences_of((a.passage, b.passage))
        return float(vecs[a.passage][a.sent] @ vecs[b.passage][b.sent])

    return cosine


def _found_by_meaning(found: Retrieved) -> bool:
    """The no-model coverage rule counts words; a passage the fusion put first in the other
    language holds none of the question's, so the rule does not refuse it."""
    return found.fusion is not None and bool(found.fusion.ranked) and found.fusion.ranked[0].other


def _surfaces(words: list[Term]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for w in words:
        if w.term not in FRAME_TERMS:
            seen.setdefault(w.surface, None)
    return tuple(seen)
