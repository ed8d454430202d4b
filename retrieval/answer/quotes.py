"""Stage 5 of the answer path: from scored sentences to verbatim quotes.

The first quote is a trade (docs/quality.md, "Third round: how much to quote"): sentence scores
become chances of holding the answer through a softmax, and the first quote is the run of at most
`window_sentences` neighbouring sentences, always holding the best one, that maximises chance −
cost × characters. Later quotes are the next best sentences, each joined by a neighbour only when
that neighbour adds question words, and a short quote takes in its best-covered neighbour for
context (the join and context lengths are in docs/quality.md, "First round" and "Second round").
No quote repeats another's sentences or another's text (two copies of one article). A quote
whose quotation the sentence splitter cut in two is widened until it is whole (whole_quote.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.rerank import Coverage
from retrieval.answer.sentences import Candidate
from retrieval.answer.whole_quote import whole
from retrieval.index.store import PassageView
from retrieval.models import Language, Quote, Source
from retrieval.text.analyze import HANGUL, LATIN, WORD, normalize_space


@dataclass(frozen=True, slots=True)
class QuoteShape:
    keep_ratio: float = 0.45  # a further quote must score at least this share of the best
    join_gain: float = 0.2  # share of idf mass a neighbouring sentence must add to join a quote
    join_chars: int = 220  # ...and only while the joined quote stays within this length
    context_chars: int = 190  # a shorter quote takes in a neighbouring sentence up to this length
    context_min: float = 0.0  # ...if that sentence holds at least this share of the question
    window_temperature: float = (
        7.0  # sentence scores -> probabilities of holding the answer (softmax); 0 turns windows off
    )
    window_char_cost: float = 0.002  # chance of holding the answer each character of the first quote must buy...
    window_char_cost_ko: float = (
        0.0005  # ...and each Korean one (a Hangul syllable says about as much as three Latin letters)
    )
    window_sentences: int = 3  # the first quote is a run of at most this many neighbouring sentences
    more_quotes: int = 6  # extra quotes kept for "More"
    # The question's language is preferred while its best sentence scores this share of the best.
    # 0.6 before round twelve; on the news dev set (docs/quality.md, round
    # twelve) 0.8 gives cross-language hit@1 FIT 0.368 → 0.380, REPORT 0.383 → 0.399, same-language
    # 0.748 → 0.750 / 0.751 → 0.749; 1.0 (no preference) gave more across languages (FIT 0.394,
    # REPORT 0.412) but REPORT same-language 0.741, and the preference is what keeps a bilingual
    # corpus's answers in the question's language, which that set does not measure.
    same_language_share: float = 0.8
    # ...and, on the semantic path, only while that sentence says much the same as the best one:
    # their vectors' cosine reaches this. A translation twin's sentence does; a sentence of another
    # story that merely shares the question's words does not, and the preference had been taking
    # cross-language questions to it (news FIT cross-language hit@1 0.447 → 0.459; with every story
    # in both languages the first quote stays in the question's language 0.868 of the time, 0.880
    # without this rule; docs/quality.md, round eighteen).
    same_language_min_cosine: float = 0.5
    whole_quote_sentences: int = 2  # a quote cut inside a quotation is widened by at most this many sentences


def answer_pool(
    candidates: list[Candidate], lang: Language, shape: QuoteShape,
    related: Callable[[Candidate, Candidate], float] | None = None,
) -> tuple[list[Candidate], bool]:  # fmt: skip
    """The candidates to quote from, best first, and whether the best is in another language
    than the question: the question's language is preferred when it answers nearly as well as
    the best overall (and, given `related`, says much the same)."""
    same = [c for c in candidates if c.sentence_lang == lang]
    top = max(candidates, key=lambda c: c.score)
    top_same = max(same, key=lambda c: c.score, default=None)
    prefer = False
    if top_same is not None and top_same.score >= shape.same_language_share * top.score:
        prefer = (
            related is None or top.sentence_lang == lang or related(top_same, top) >= shape.same_language_min_cosine
        )
    pool = same if prefer else candidates
    pool.sort(key=lambda c: -c.score)
    return pool, pool[0].sentence_lang != lang


def best_window(ctx: QuestionContext, pool: list[Candidate], shape: QuoteShape) -> list[Candidate] | None:
    """The first quote: the best sentence, in a run of at most three neighbouring sentences
    when the others add enough chance of holding the answer for their length. Scores become chances
    through a softmax over every candidate; a neighbour that shares no word with the
    question adds none but still costs its length. The best sentence itself is always
    kept: a shorter, less likely sentence is never preferred to it."""
    if shape.window_temperature <= 0 or not pool:
        return None
    head = pool[0]
    cost = shape.window_char_cost_ko if head.sentence_lang == "ko" else shape.window_char_cost
    scores = np.array([c.score for c in pool])
    chance = np.exp(shape.window_temperature * (scores - scores.max()))
    chance /= chance.sum()
    mine = {c.sent: (float(pr), c) for c, pr in zip(pool, chance, strict=True) if c.passage == head.passage}
    v = ctx.view(head.passage)
    n = v.n_sentences
    window = shape.window_sentences
    reach = window - 1
    spans = {i: v.sentence(i) for i in range(max(head.sent - reach, 0), min(head.sent + window, n))}
    best = (float("-inf"), head.sent, head.sent)
    for lo in range(max(head.sent - reach, 0), head.sent + 1):
        for hi in range(head.sent, min(lo + window, n)):
            mass = sum(mine[i][0] for i in range(lo, hi + 1) if i in mine)
            value = mass - cost * (spans[hi][1] - spans[lo][0])
            if value > best[0]:
                best = (value, lo, hi)
    _, lo, hi = best
    return [
        mine[i][1] if i in mine else Candidate(head.passage, i, *spans[i], 0.0, head.sentence_lang)
        for i in range(lo, hi + 1)
    ]


def group_quotes(
    ctx: QuestionContext, query: Query, coverage: dict[int, Coverage], pool: list[Candidate], first: list[Candidate] | None,
    max_quotes: int, shape: QuoteShape,
) -> tuple[list[Quote], list[Quote]]:  # fmt: skip
    """Best sentences first; `first`, when given, is the first quote as `best_window` chose
    it. Words of the question (not a conversation's) are highlighted. A neighbour within the paragraph joins a later quote (in text order) only when it adds
    question words the quote lacks: a neighbour that repeats the same words would only make
    the quote longer."""
    qw = query.weights_arr
    terms = set(query.weights) & {w.term for w in ctx.words} or set(query.weights)
    best = pool[0].score
    chosen: list[Candidate] = []
    for c in pool:
        if c.score < shape.keep_ratio * best and len(chosen) >= 1:
            break
        chosen.append(c)
        if len(chosen) >= max_quotes + shape.more_quotes:
            break
    groups: list[list[Candidate]] = []
    if first:
        first = whole(ctx, first, set(), shape.whole_quote_sentences)
    taken = {(c.passage, c.sent) for c in first or ()}
    for c in chosen:
        if (c.passage, c.sent) in taken:
            continue
        for g in groups:
            if g[0].passage == c.passage and any(abs(x.sent - c.sent) == 1 for x in g):
                present = coverage[c.passage].present
                held = present[[x.sent for x in g]].any(axis=0)
                span = max(c.end, *(x.end for x in g)) - min(c.start, *(x.start for x in g))
                if span <= shape.join_chars and float((present[c.sent] & ~held) @ qw) >= shape.join_gain:
                    g.append(c)
                    break
        else:
            groups.append([c])
    quotes = []
    used: set[tuple[int, int]] = set()  # (passage, sentence) already quoted: no quote repeats another
    if first:
        used.update(taken)
        quotes.append(make_quote(ctx, first, terms))
    for g in groups:
        if any((c.passage, c.sent) in used for c in g):
            if (g[0].passage, g[0].sent) in used:  # g[0] is the group's best sentence
                continue
            free = {c.sent: c for c in g if (c.passage, c.sent) not in used}
            lo = hi = g[0].sent
            while lo - 1 in free:
                lo -= 1
            while hi + 1 in free:
                hi += 1
            g = [free[i] for i in range(lo, hi + 1)]
        g = whole(ctx, extend(ctx, g, coverage, used, shape), used, shape.whole_quote_sentences)
        used.update((c.passage, c.sent) for c in g)
        quote = make_quote(ctx, g, terms)
        if any(same_text(quote.text, q.text) for q in quotes):
            continue  # the same sentences in another article (an updated copy, a wire story reprinted)
        quotes.append(quote)
    return quotes[:max_quotes], quotes[max_quotes : max_quotes + shape.more_quotes]


def extend(
    ctx: QuestionContext, group: list[Candidate], coverage: dict[int, Coverage], used: set[tuple[int, int]], shape: QuoteShape
) -> list[Candidate]:  # fmt: skip
    """A short quote takes in the neighbouring sentence that shares most of the question
    (context a reader needs, e.g. who "he" is), as long as the quote stays within
    `context_chars`; a sentence that is long already is quoted alone."""
    limit = shape.context_chars
    group = sorted(group, key=lambda c: c.sent)
    first, last = group[0], group[-1]
    if limit <= 0 or last.end - first.start >= limit:
        return group
    p = first.passage
    v = ctx.view(p)
    cov = coverage[p].sentences
    options = []
    for i in (first.sent - 1, last.sent + 1):
        if 0 <= i < v.n_sentences and (p, i) not in used:
            s, e = v.sentence(i)
            if max(e, last.end) - min(s, first.start) <= limit and cov[i] >= shape.context_min:
                options.append((float(cov[i]), i, s, e))
    if not options:
        return group
    _, i, s, e = max(options, key=lambda o: (o[0], o[1] > first.sent))
    extra = Candidate(p, i, s, e, 0.0, first.sentence_lang)
    return sorted([*group, extra], key=lambda x: x.sent)


def make_quote(ctx: QuestionContext, group: list[Candidate], terms: set[str]) -> Quote:
    group = sorted(group, key=lambda c: c.sent)
    p = group[0].passage
    v = ctx.view(p)
    text = normalize_space(v.text[group[0].start : group[-1].end])
    spans = highlights(text, terms, ctx.english_term)
    return Quote(text, source_of(v), max(c.score for c in group), p, tuple(c.sent for c in group), spans)


def highlights(text: str, terms: set[str], english_term: Callable[[str], str]) -> tuple[tuple[int, int], ...]:
    """Spans of question words in a quote, found without running Kiwi again (it would cost
    more than the whole search): Latin words through the English pipeline, Korean terms by
    string search (a one-syllable term only where a word starts)."""
    spans: list[tuple[int, int]] = []
    for m in WORD.finditer(text):
        w = m.group()
        if (w[0].isdigit() or LATIN.match(w)) and english_term(w) in terms:
            spans.append(m.span())
    for t in terms:
        if not HANGUL.search(t):
            continue
        i = text.find(t)
        while i >= 0:
            if len(t) > 1 or i == 0 or not text[i - 1].isalnum():
                spans.append((i, i + len(t)))
            i = text.find(t, i + len(t))
    return tuple(sorted(set(spans)))


def same_text(a: str, b: str) -> bool:
    """One quote repeats another: the same words, or one inside the other."""
    a, b = a.casefold(), b.casefold()
    return a in b or b in a


def source_of(view: PassageView) -> Source:
    art = view.article
    return Source(art.id, art.title, view.paragraph, view.language, art.source, art.url, art.date)
