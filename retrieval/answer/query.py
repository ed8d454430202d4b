"""Stage 2 of the answer path: the question's words as a query the index can answer.

Every analysed word goes to BM25; the content words (not the frame words of
`retrieval/answer/question.py`) carry idf weights for the stages after it. A word the index lacks is
looked up as the index term it most likely means: a Korean noun as the compound that holds it
(크렘린 → 크렘린궁, docs/quality.md, "Fourth round"), an English word as the stem it extends or,
when long, the term one typo away (docs/quality.md, "Second round").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retrieval.answer.question import FRAME_TERMS
from retrieval.index.store import Searcher
from retrieval.text.analyze import HANGUL, Term

KOREAN_NOUNS = frozenset({"NNG", "NNP", "NNC", "XR"})  # question words that may be part of an index compound
KOREAN_AFFIX_MIN = 2  # syllables a Korean noun needs before it is looked for inside compounds
STEM_MIN = 6  # letters an index term must keep when an unknown English word is cut to it
STEM_CUTS = (1, 2)  # letters cut: "Californian" → "california"; three took "watershed" → "water"
TYPO_MIN = 8  # letters an unknown English word needs before a one-edit neighbour stands in


@dataclass(frozen=True, slots=True)
class QueryWeights:
    affix_discount: float = (
        0.7  # weight of an index compound found for an unknown Korean noun (크렘린 → 크렘린궁); 0 turns it off
    )


@dataclass(frozen=True, slots=True)
class Query:
    terms: list[str]  # every analysed word, for BM25
    weights: dict[str, float]  # content term -> idf (unknown terms get the idf of a one-off term)
    known: list[str]  # the content terms the store knows
    weights_arr: npt.NDArray[np.float64]  # their idf as a share of all content idf

    @property
    def total(self) -> float:
        """The question's idf mass (1.0 when it has none, so that shares stay defined)."""
        return sum(self.weights.values()) or 1.0

    def share_in(self, terms: frozenset[str] | set[str]) -> float:
        """The share of the question's idf mass that `terms` hold (e.g. an article title's)."""
        return sum(w for t, w in self.weights.items() if t in terms) / self.total


def unknown_idf(n_passages: int) -> float:
    """The idf a term no passage holds gets: as rare as can be."""
    n = max(n_passages, 1)
    return float(np.log1p((n + 0.5) / 0.5))


def build_query(words: list[Term], store: Searcher, weights: QueryWeights, oov_idf: float) -> Query:
    """Search terms (every word, as BM25 sees the question) and idf weights of content words."""
    found = [known_form(w, store, weights) for w in words]
    words = [w for w, _ in found]
    discounted = {w.term for w, affix in found if affix}
    content = [w for w in words if w.term not in FRAME_TERMS] or words
    uniq = list(dict.fromkeys(w.term for w in content))
    df = [store.df(t) for t in uniq]
    idf = store.idf(uniq).tolist()
    weight = {
        t: (w * (weights.affix_discount if t in discounted else 1.0) if d else oov_idf)
        for t, d, w in zip(uniq, df, idf)
    }
    known = [t for t, d in zip(uniq, df) if d]
    total = sum(weight.values()) or 1.0
    return Query([w.term for w in words], weight, known, np.array([weight[t] for t in known], np.float64) / total)


def known_form(word: Term, store: Searcher, weights: QueryWeights) -> tuple[Term, bool]:
    """A question word the index lacks, searched as an index term it most likely means
    (the flag says the stand-in is discounted).

    A Korean noun: the commonest index noun that begins or ends with it (Kiwi keeps
    "크렘린궁" whole, so "크렘린" alone matches nothing). An English word:

    First the term of six letters or more that it extends by one or two letters: the stemmer
    leaves "septicemia" whole but cuts "septicemic" to "septicem", and "Californian" should
    find "California" (short stems, like "water" in "watershed", are too likely another word).
    Then, for a word of eight letters or more, the commonest index term one typo away
    ("ctenophhores", "Maastrich"): long words have few real neighbours at one edit, while
    shorter ones do ("pertain" is one letter from "certain")."""
    term = word.term
    if store.df(term):
        return word, False
    if (
        word.tag in KOREAN_NOUNS
        and len(term) >= KOREAN_AFFIX_MIN
        and HANGUL.search(term)
        and weights.affix_discount > 0
    ):
        near = [(df, t) for t, df in store.affix_terms(term).items() if HANGUL.search(t)]
        return (Term(max(near)[1], word.surface, word.tag), True) if near else (word, False)
    if len(term) <= STEM_MIN or not term.isascii() or not term.isalpha():
        return word, False
    for cut in STEM_CUTS:
        if len(term) - cut >= STEM_MIN and store.df(term[:-cut]):
            return Term(term[:-cut], word.surface, word.tag), False
    if len(term) >= TYPO_MIN:
        near = [(df, e) for e, df in store.near_terms(term).items()]
        if near:
            return Term(max(near)[1], word.surface, word.tag), False
    return word, False


def term_columns(
    phrase: str, query: Query, question_words: Callable[[str], list[Term]], store: Searcher, weights: QueryWeights
) -> list[int] | None:  # fmt: skip
    """Which of the query's known terms (columns of `Coverage.present`) a phrase of the
    question holds, e.g. the speaker of "What did the Kremlin say…"; None when none."""
    if not phrase:
        return None
    terms = {known_form(w, store, weights)[0].term for w in question_words(phrase)}
    cols = [i for i, t in enumerate(query.known) if t in terms]
    return cols or None


def with_expansion(query: Query, added: set[str], factor: float) -> Query:
    """The query with the weights of `added` terms (a conversation's words, not the question's)
    scaled by `factor`: they steer retrieval but count for less than what was asked."""
    weight = {t: w * factor if t in added else w for t, w in query.weights.items()}
    total = sum(weight.values()) or 1.0
    return Query(query.terms, weight, query.known, np.array([weight[t] for t in query.known], np.float64) / total)
