"""Stage 4b of the answer path (semantic only): sentences chosen by meaning in passages found by
meaning.

`score_sentences` (stage 4) scores the sentences that share a word with the question. A passage
the fusion found by its vector may share none: it is in the other language (a Korean question
about an English wire story), or it says the same thing in other words. For each of the top
`similar_passages` fused passages that is in the other language or has no sentence sharing a
word, every sentence is encoded (kept per passage, see `QuestionContext.sentences_of`) and
scored by

    passage share (its fused chance relative to the first's) + similar_weight × cosine(question, sentence)
    + anchor_weight × (numbers and Latin names it shares with the question, at most anchor_cap)

plus the kind features of `kind_features.py` (the count, date or place the question asks for,
with this stage's own date and place weights; not the speaker) — the scale of the lexical scores
(passage share + 0.67 × local coverage plus the same kind features), so the two kinds of
candidate compete in one pool and `answer_pool` still puts the question's language first when it
answers nearly as well. A passage scored here is scored only here: its lexical sentences give way.
The weights come from the colleague's Belebele measurements (docs/quality.md, "Semantic round").
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from retrieval.answer.context import QuestionContext
from retrieval.answer.kind_features import KindFeatures, KindWeights
from retrieval.answer.rerank import Retrieved
from retrieval.answer.sentences import SPEECH, Candidate
from retrieval.text.analyze import detect_language

ANCHOR = re.compile(r"\d[\d,.]*\d|\d|\b[A-Z][A-Za-z]+")  # a number or a Latin (capitalised) name


@dataclass(frozen=True, slots=True)
class SimilarWeights:
    similar_passages: int = 6  # top fused passages whose sentences may be chosen by similarity (3 → 6: news FIT cross +0.9 points, with the story neighbours of neighbours.py)
    similar_weight: float = 0.67  # weight of a sentence's cosine with the question
    anchor_weight: float = 0.2  # per number or Latin name the sentence shares with the question
    anchor_cap: int = 2  # shared anchors counted at most
    # "When" and "where" read closely here (`when_where.py`: a date; a place the question does
    # not name), though the lexical scorer leaves them off (`KindWeights`: they cost KorQuAD and
    # XQuAD answers). A sentence chosen by meaning shares no word to go on, and a question across
    # languages had its worst hit@1 on these two kinds. News FIT cross-language hit@1 0.440 →
    # 0.447 at 0.4 (0.445 at 0.2), same-language unchanged (docs/quality.md, round eighteen).
    meaning_dated_weight: float = 0.4
    meaning_placed_weight: float = 0.4


def anchors(text: str) -> set[str]:
    return {a.replace(",", "") for a in ANCHOR.findall(text)}


def similar_sentences(
    ctx: QuestionContext,
    found: Retrieved,
    candidates: list[Candidate],
    weights: SimilarWeights,
    kinds: KindWeights | None = None,
) -> list[Candidate]:
    """`candidates` with the sentences of the top fused passages that need the semantic path
    scored by similarity (see the module docstring). Without a question vector: unchanged."""
    qv = ctx.question_vector
    if qv is None or found.fusion is None or not found.hits:
        return candidates
    w = weights
    lang = ctx.question.language
    top = found.hits[0][1] or 1.0
    lexical = {p for p, _ in found.hits if found.coverage[p].best > 0}  # passages with a sentence sharing a word
    asked = anchors(ctx.question.text)
    if kinds is not None:
        kinds = dataclasses.replace(kinds, dated_weight=w.meaning_dated_weight, placed_weight=w.meaning_placed_weight)
    features = KindFeatures(ctx, ctx.question, [], [], kinds) if kinds is not None else None
    extra: list[Candidate] = []
    scored = [
        (p, share) for p, share in found.hits[: w.similar_passages] if p not in lexical or ctx.view(p).language != lang
    ]
    vectors = ctx.sentences_of(p for p, _ in scored)  # the missing ones in one encode
    for p, share in scored:
        view = ctx.view(p)
        cos = vectors[p] @ qv
        for i, c in enumerate(np.asarray(cos).tolist()):
            s, e = view.sentence(i)
            sentence = view.text[s:e]
            shared = min(len(asked & anchors(sentence)), w.anchor_cap)
            score = share / top + w.similar_weight * c + w.anchor_weight * shared
            if features is not None:
                score += features.score(view, i, sentence)
            extra.append(Candidate(p, i, s, e, score, detect_language(sentence), bool(SPEECH.search(sentence))))
    if not extra:
        return candidates
    done = {c.passage for c in extra}
    return [c for c in candidates if c.passage not in done] + extra
