"""Stage 6 of the answer path: per-question evidence, the confidence read from it, the verdict.

`question_signals` gives what the confidence model (`retrieval/answer/confidence.py`, fitted numbers in
`retrieval/answer/confidence.json`) reads; `decide` turns its probability into `answer` / `unsure` /
`abstain`. Without a model the coverage rule decides: abstain when the best passage holds less than
`min_coverage` of the question (the coverage rule). How the signals, the model and the thresholds were chosen is in
docs/quality.md ("Fourth round: confidence groundwork").
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from retrieval.answer.anchor_match import LONG_NAME
from retrieval.answer.confidence import ConfidenceModel
from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.question import KINDS
from retrieval.answer.rerank import Coverage, Retrieved
from retrieval.answer.sentences import ANSWER_CUES, Candidate
from retrieval.answer.topic import TopicGate


def one_passage_idf(n_passages: int) -> float:
    """The idf of a term one passage holds: the unit idfs are counted in, so that "rare" means
    nearly the same in a 20-passage and a 1M-passage index."""
    return float(np.log1p((max(n_passages, 2) - 0.5) / 1.5))


def best_passage_coverage(coverage: dict[int, Coverage]) -> float:
    return max((c.passage for c in coverage.values()), default=0.0)


def passes_coverage_rule(coverage: dict[int, Coverage], min_coverage: float) -> bool:
    """The rule that decides without a confidence model: the best passage holds at least
    `min_coverage` of the question's idf mass."""
    return best_passage_coverage(coverage) >= min_coverage


def question_signals(ctx: QuestionContext, query: Query, found: Retrieved) -> dict[str, float]:
    """Per-question evidence that means the same on any corpus: what a confidence model
    reads. Scores are relative (to the attainable maximum, to the runner-up), coverages are
    shares of the question's idf mass, and idfs are counted in units of `one_passage_idf`
    (1.0: as rare as a word can be).

    Shares alone cannot tell "What did the Kremlin say?" (one rare word, fully covered) from
    a vague question whose one common word is everywhere: `idf_max`/`idf_mean` (how rare the
    question's known words are) and `matched_idf` (how much rare evidence the top passage
    holds, in absolute terms) can. `top2_same_article` says a small gap is between two
    paragraphs of one article, which is not real ambiguity. `first_cue` and `cross_language`
    are added once the first quote is chosen (`quote_signals`)."""
    hits, coverage, bm25 = found.hits, found.coverage, found.bm25
    store, view, kind, lang = ctx.searcher, ctx.view, ctx.question.kind, ctx.question.language
    p = store.params
    bm25_top = bm25[0][1] if bm25 else 0.0
    bm25_second = bm25[1][1] if len(bm25) > 1 else 0.0
    attainable = float(np.sum(store.idf(query.terms))) * (p.k1 + 1.0) or 1.0
    top, c = hits[0], coverage[hits[0][0]]
    total = query.total
    known = set(query.known)
    unknown = sum(w for t, w in query.weights.items() if t not in known) / total
    window = c.window(query.weights_arr)
    one_off = one_passage_idf(store.n_passages)
    known_idf = store.idf(query.known) / one_off if query.known else np.zeros(0)
    same_article = view(hits[0][0]).article.id == view(hits[1][0]).article.id if len(hits) > 1 else True
    out = {
        "bm25_top_share": bm25_top / attainable,
        "bm25_gap": (bm25_top - bm25_second) / bm25_top if bm25_top else 0.0,
        "rerank_gap": (top[1] - hits[1][1]) / top[1] if len(hits) > 1 and top[1] else 1.0,
        "passage_coverage": best_passage_coverage(coverage),
        "top_passage_coverage": c.passage,
        "sentence_coverage": c.best,
        "window_coverage": window,
        "unknown_share": unknown,
        "title_share": query.share_in(ctx.title_of(top[0])),
        "content_terms": float(len(query.weights)),
        "idf_mean": float(known_idf.mean()) if len(known_idf) else 0.0,
        "idf_max": float(known_idf.max()) if len(known_idf) else 0.0,
        "matched_idf": c.passage * total / one_off,
        "sentence_idf": c.best * total / one_off,
        "question_ko": float(lang == "ko"),
        "top2_same_article": float(same_article),
    }
    out.update({f"kind_{k}": float(kind == k) for k in (*KINDS, "other")})
    return out


def quote_signals(ctx: QuestionContext, first: list[Candidate], cross: bool) -> dict[str, float]:
    """The signals only the chosen first quote can give."""
    return {"first_cue": first_cue(ctx, first), "cross_language": float(cross)} | anchor_signals(ctx, first)


def anchor_signals(ctx: QuestionContext, first: list[Candidate]) -> dict[str, float]:
    """How much of the question's anchors (names, numbers, dates, terms in either script;
    `anchor_match.py`) the first quote and its story hold, and how many names the corpus knows:
    a quote that names none of the question's people is rarely the answer, whatever its words.
    Shares are weighted by kind (`KIND_WEIGHTS`); 0 when the question has no anchors."""
    qa = ctx.question_anchors
    names, long_names = qa.names(), qa.names(LONG_NAME)
    out = {
        "anchors_in_question": float(len(qa.keys)),
        "anchor_names": float(len(names)),
        "anchor_names_found": sum(qa.found(k) for k in names) / len(names) if names else 0.0,
        "anchor_long_names": float(len(long_names)),
        "anchor_long_names_found": sum(qa.found(k) for k in long_names) / len(long_names) if long_names else 0.0,
        # the largest share of the question's names one story holds together
        "anchor_names_story": qa.best_story_share(ctx.searcher, names),
        "anchor_long_names_story": qa.best_story_share(ctx.searcher, long_names),
        # the same, counting only names spelled to the question's own skeleton (`offtopic.py`)
        "anchor_long_names_exact": sum(map(qa.found_exactly, long_names)) / len(long_names) if long_names else 0.0,
        "anchor_long_names_exact_story": qa.best_story_share(ctx.searcher, long_names, exact=True),
        "anchor_places_absent": float(len(qa.absent_places)),  # countries and cities no passage names
        "anchor_quote_share": 0.0,
        "anchor_story_share": 0.0,
    }
    reader = getattr(ctx.searcher, "passage_anchors", None)
    if first and qa.keys and reader is not None:
        uid = first[0].passage
        sents = {c.sent for c in first if c.passage == uid}
        out["anchor_quote_share"] = qa.share_in(k for k, s in reader(uid) if s in sents)
        out["anchor_story_share"] = qa.share_in(ctx.searcher.story_anchors(uid))  # type: ignore[attr-defined]
    return out


def semantic_signals(ctx: QuestionContext, found: Retrieved, first: list[Candidate]) -> dict[str, float]:
    """The signals of the semantic layer (only when dense candidates were fused in): how close
    in meaning the question is to the first quote and to the top passage, whether the dense and
    lexical rankings agree on it, the fusion's own chance and margins, and whether the first
    quote came from the other language. The semantic confidence model reads these beside the
    lexical ones (`confidence_semantic.json`)."""
    fz = found.fusion
    qv = ctx.question_vector
    if fz is None or qv is None or not fz.ranked:
        return {}
    ranked = fz.ranked
    top = ranked[0]
    cos = sorted(fz.cosine.values(), reverse=True)
    dense_rank = next((i for i, (u, _) in enumerate(fz.dense) if u == top.uid), max(len(fz.dense), 1))
    lex_rank = next((i for i, (u, _) in enumerate(fz.lexical) if u == top.uid), max(len(fz.lexical), 1))
    quote_cos = quote_cosine(ctx, first, qv)
    lang = ctx.question.language
    quote_other = float(bool(first) and first[0].sentence_lang not in (lang, "mixed"))
    return {
        "semantic": 1.0,
        "sem_quote_cos": quote_cos,
        "sem_top_cos": fz.cosine.get(top.uid, 0.0),
        "sem_best_cos": cos[0] if cos else 0.0,
        "sem_cos_gap": cos[0] - cos[1] if len(cos) > 1 else cos[0] if cos else 0.0,
        "sem_chance": top.chance,
        "sem_score_gap": top.score - ranked[1].score if len(ranked) > 1 else 1.0,
        "sem_agree": float(dense_rank == 0 and lex_rank == 0),
        "sem_dense_first": float(dense_rank == 0),
        "sem_lex_first": float(lex_rank == 0),
        "sem_dense_rank": 1.0 / (1.0 + dense_rank),
        "sem_lex_rank": 1.0 / (1.0 + lex_rank),
        "sem_top_other": float(top.other),
        "sem_quote_other": quote_other,
    }


def quote_cosine(ctx: QuestionContext, first: list[Candidate], qv: npt.NDArray[np.float32]) -> float:
    """Cosine of the question with the first quote's text, encoded only when no stored or kept
    vector is of that very text (`QuestionContext.count_quote` counts which one was used):

    - the quote is its whole passage (news keeps one line a passage): the passage's stored
      vector, which was encoded from the same text at ingest (read back from its int8 codes:
      cosine within ~0.004 of the float one, `retrieval/index/vectors.py`);
    - the quote is one sentence of a passage whose sentence vectors are kept (the similarity
      stage encoded them): its row, the same text encoded the same way;
    - else the quote is encoded whole, once across questions (`QuestionContext.quote_vector`:
      the same quote of a later question reads the kept vector). The mean of its sentences'
      vectors would not do: the encoder's n-grams and length scaling span the quote, and the
      confidence model was fitted on the whole quote's cosine."""
    if not first:
        return 0.0
    head = first[0]
    view = ctx.view(head.passage)
    if head.start == 0 and first[-1].end == len(view.text) and ctx.searcher.encoder_stamp is not None:
        ctx.count_quote("passage")
        return ctx.passage_cosines([head.passage])[head.passage]
    if len(first) == 1 and view.sentence(head.sent) == (head.start, head.end):
        kept = ctx.kept_sentence_vectors(head.passage)
        if kept is not None and head.sent < len(kept):
            ctx.count_quote("sentence")
            return float(kept[head.sent] @ qv)
    if ctx.encoder is None:
        return 0.0
    return float(ctx.quote_vector(head.passage, head.start, first[-1].end) @ qv)


def first_cue(ctx: QuestionContext, first: list[Candidate]) -> float:
    """1.0 when the first quote holds what the question kind asks for (ANSWER_CUES: a quote
    or a speech verb for "say", a date for "when", a name for "who"...), else 0.0."""
    cue: re.Pattern[str] | None = ANSWER_CUES.get(ctx.question.kind)
    if cue is None or not first:
        return 0.0
    text = ctx.view(first[0].passage).text
    return float(any(cue.search(text[c.start : c.end]) for c in first))


def decide(
    judge: ConfidenceModel | None, signals: dict[str, float], gate: TopicGate | None = None
) -> tuple[float, str]:
    """The model's chance that the first quote answers, and the verdict; without a model every
    answer that got this far is `answer` with chance 0 (the dev splits collect answers that way to
    fit a model on). `gate` (the semantic path's topic gate, `topic.py`) turns any verdict into
    `abstain` when the corpus does not cover the question. A first quote in the other language
    (`cross_language`) is `answer` only at the model's `sure_cross`. The confidence a user is
    shown is `confidence.shown(chance, verdict)`."""
    if judge is None:
        return 0.0, "answer"
    chance = judge.predict(signals)
    verdict = judge.verdict(chance, signals.get("cross_language", 0.0) >= 0.5)
    return chance, verdict if gate is None else gate.verdict(verdict, signals)


def shown_signals(
    ctx: QuestionContext, query: Query, found: Retrieved, pool: list[Candidate], first: list[Candidate]
) -> dict[str, float]:
    """The signals of the sentence shown, not of its passage (calibration, issue 26): on news, most
    sure-but-wrong answers quote the right story's wrong line while every passage-level signal
    says "sure". How much of the question the shown quote itself holds, how far it leads the
    best sentence outside it (anywhere, and in its own article: a news story is one passage a
    line), and how many sentences come close to it. (The cosine of its article's best rival
    sentence was tried and not kept: it cost an encoding per question and did not lower the
    FIT log loss; docs/quality.md, round eleven.)"""
    if not first or not pool:
        return {}
    head = first[0]
    shown = {(c.passage, c.sent) for c in first}
    cov = found.coverage.get(head.passage)
    holds = 0.0
    if cov is not None and len(query.weights_arr):
        rows = [c.sent for c in first if c.sent < len(cov.present)]
        holds = float(cov.present[rows].any(axis=0) @ query.weights_arr) if rows else 0.0
    best_any = max((c.best for c in found.coverage.values()), default=0.0)
    article = ctx.view(head.passage).article.id
    rivals = [c for c in pool if (c.passage, c.sent) not in shown]
    own = [c for c in rivals if ctx.view(c.passage).article.id == article]
    top = max(c.score for c in first)
    scale = abs(top) or 1.0

    def gap(others: list[Candidate]) -> float:
        return float(np.clip((top - max(c.score for c in others)) / scale, 0.0, 1.0)) if others else 1.0

    out = {
        "shown_coverage": holds,
        "shown_coverage_short": max(best_any - holds, 0.0),
        "shown_gap": gap(rivals),
        "shown_story_gap": gap(own),
        "shown_rivals": float(sum(1 for c in rivals if c.score >= 0.9 * top)),
        "shown_story_rivals": float(sum(1 for c in own if c.score >= 0.9 * top)),
    }
    return out
