"""Fusion of lexical (BM25 + re-rank) and dense candidates, and the language switch, as one
learned scoring rule.

Why not one weight. With `lexical + w × cosine`, a question whose story exists only in the other
language loses to BM25 on wrong same-language passages (their words match, the right passage
shares none), while a larger w costs the same-language questions BM25 already answers (and
KorQuAD, where the encoder alone is far weaker than BM25). So the weight of the cosine depends on
the question: on how much of it the best lexical passage covers, on whether the two rankings
agree, on the margins of each, and on the candidate's language.

The rule. Every candidate passage (the union of the lexical and the dense top lists) gets the
features of `candidate_features`; its score is `FusionWeights.weights · features`; candidates are
ranked by it. The weights are a conditional logit (softmax over one question's candidates, the
gold passage as the label) fitted on the FIT half of the dev questions (Belebele in all its modes,
KorQuAD, XQuAD; halves by a hash of the passage link / question id) and checked on the other half
(`measure/belebele.py`). The interactions are what make the weight depend on the question:
`cos*lexcov` (cosine counts less when the lexical top passage already holds the question),
`cos*other` (an other-language passage can only be found by its cosine), `other*lexcov`
(a well-covered question rarely needs the other language), `agree` (both rankings' first).

The softmax probability of the first candidate (`FusedHit.chance`) and the margins are signals
for the confidence model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from retrieval.answer.anchor_match import STRONG_KINDS
from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.rerank import Coverage
from retrieval.answer.retrieve import Hits, Joined
from retrieval.answer.retrieve.dense import DENSE
from retrieval.answer.retrieve.lexical import LEXICAL
from retrieval.answer.retrieve.story import NO_STORIES, StoryEvidence, story_evidence
from retrieval.answer.retrieve.words import NO_COVERAGE, WordCoverage, word_coverage

FEATURES: tuple[str, ...] = (
    "lex",  # re-ranked lexical score / the best lexical score (0: not a lexical candidate)
    "cov",  # share of the question's idf mass the passage holds (0: not a lexical candidate)
    "cos",  # cosine of question and passage vectors
    "dcos",  # cosine − the best candidate's cosine (≤ 0)
    "other",  # 1: passage in the other language than the question
    "cos*other",
    "cos*lexcov",  # lexcov: the best lexical passage's coverage of the question (a question-level feature)
    "lex*lexcov",
    "other*lexcov",
    "dcos*other",
    "agree",  # 1: first in both the lexical and the dense ranking
    "lex_first",  # 1: the lexical ranking's first
    "dense_first",  # 1: the dense ranking's first
    "anc*other",  # anc: weighted share of the question's names and numbers the passage holds (`anchor_match.py`)
    "anc_lead*other",  # how much more of them it holds than any same-language candidate (≥ 0)
    "s_held",  # its story's share of the question: anchors of every kind, or (own language) words (`story.py`)
    "s_lead*other",  # how much more of the question's anchors its story holds than any same-language story (≥ 0)
    "s_gap",  # its story's best candidate cosine − the best candidate cosine (≤ 0)
    "s_gap*other",
    # w: the idf-weighted share of the question's everyday words (word list, either script) it
    # holds (`words.py`); the feature is how much more than the best same-language candidate's
    # words hold (its coverage): a question its own language answers keeps its own language
    "w_lead*other",
    "s_w_lead*other",  # ...the same for what its story holds
)


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """One weight per `FEATURES` entry (fitted; see the module docstring and docs/quality.md)."""

    weights: tuple[float, ...] = field(default_factory=lambda: FITTED)
    lexical_depth: int = 20  # lexical candidates considered (at most the re-ranked list the sentences read)
    dense_depth: int = 20  # dense candidates considered
    anchor_depth: int = 20  # anchor candidates considered (`retrieve/anchors.py`)
    keep_share: float = 0.25  # fused candidates whose sentences are read: chance ≥ this share of the first's
    keep_max: int = 12  # ...and at most this many
    # The lexical runner-ups' share of today's (lexical) sentence weight when the fusion agrees
    # with the words on the first passage (`Fused.passage_shares`). Belebele FIT same-ko / same-en
    # src@1: 1.0 → 0.886 / 0.930; 0.9, 0.8, 0.7 → 0.904 / 0.939 (a plateau; 0.5 the same on FIT);
    # 0.95 → 0.890 / 0.934. "What did the Kremlin say?" keeps Peskov at every one of them.
    runner_up_share: float = 0.8

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ValueError(
                f"FusionWeights needs {len(FEATURES)} weights ({', '.join(FEATURES)}), got {len(self.weights)}"
            )

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURES, self.weights))


# Fitted with `measure/fusion_fit.py::fit_conditional_logit` (L2 0.001) on the FIT half (Belebele
# same/cross/mixed/split modes, 600 KorQuAD and 600 XQuAD questions) by `measure/belebele_fit.py`
# of commit 0dc26f5 (`git show 0dc26f5:measure/belebele_fit.py`; it read feature rows written by
# that commit's `measure/belebele.py`, and was removed in 83406d6 when belebele.py became the
# `quoteqa eval --belebele` report). `cos` and `dcos` differ by a constant per question, so only
# their sum (7.51) means anything; the split is the penalty's.
# The last two (the anchors, issue 26) were fitted on top of the others, held, on the news dev set's
# FIT half (`uv run python -m measure.news.fusion_rows --half fit`, 832 questions × pools, shares of
# the question's names and numbers only): the conditional logit (L2 0.001) gives 3.11 / 0.76, fused
# first-passage hit on FIT same 0.714 → 0.714, cross 0.317 → 0.394. Tried first and not kept: every
# anchor kind in the share (glossary terms, years) with 1.0 / 10.0 chosen by FIT hit (cross 0.428,
# same 0.704): Belebele's English questions against Korean passages fell 0.717 → 0.608 on REPORT.
# The story features (`story.py`) were fitted the same way on top of all the others, held, on the
# FIT half of three pools: A and B (each story in one language) and a twins pool (a third of the
# stories in both languages, answered from the question's own): `uv run python -m
# measure.news.fusion_rows --half fit --fit story`, L2 0.001. Fused first passage gold / in the
# right story, REPORT (`--half report`): same 0.705 / 0.873 → 0.705 / 0.876, cross 0.402 / 0.585 →
# 0.435 / 0.632, twins 0.583 / 0.751 → 0.593 / 0.762. Not kept (docs/quality.md, round twelve):
# the plain `s_anc*other`, whose first fit (2.39, without the twins pool) lifted the other-language
# twin of a story, or the other half of a bilingual article, over the question's own language.
# The translated-coverage features (`words.py`) were fitted the same way, on top of all the
# others, held: `uv run python -m measure.news.fusion_rows --half fit --fit words` (L2 0.001).
# Fused first passage gold / in the right story, REPORT: same 0.705 / 0.876 → 0.699 / 0.868,
# cross 0.435 / 0.632 → 0.472 / 0.694, twins 0.593 / 0.762 → 0.593 / 0.772. Not kept (round
# thirteen): the plain shares (w*other, s_w*other; REPORT cross 0.479, same 0.697), which lifted
# other-language passages where the question's own language answered, and cost Belebele's split
# modes up to 3.8 points of src@1 even as leads; one-passage articles get none for that reason.
FITTED: tuple[float, ...] = (
    1.9767,
    2.4889,
    3.7538,
    3.7538,
    2.6132,
    2.7479,
    0.5102,
    2.6664,
    -0.7935,
    2.0842,
    -0.3450,
    1.4492,
    1.7997,
    3.1086,  # anc*other and anc_lead*other: measure/news/fusion_rows.py on the news FIT half (see below)
    0.7604,
    0.8945,  # s_held, s_lead*other, s_gap, s_gap*other: measure/news/fusion_rows.py --fit story (see above)
    1.6596,
    0.8483,
    -0.7873,
    1.478,  # w_lead*other, s_w_lead*other: measure/news/fusion_rows.py --fit words (see above)
    2.1972,
)


@dataclass(frozen=True, slots=True)
class FusedHit:
    uid: int
    score: float
    chance: float  # softmax share among the candidates
    other: bool  # in the other language than the question


def candidate_features(
    lexical: Sequence[tuple[int, float]], coverage: Mapping[int, float], dense: Sequence[tuple[int, float]],
    cosine: Mapping[int, float], other: Mapping[int, bool], further: Sequence[tuple[int, float]] = (),
    anchor: Mapping[int, float] | None = None, stories: StoryEvidence = NO_STORIES,
    words: WordCoverage = NO_COVERAGE,
) -> tuple[list[int], npt.NDArray[np.float64]]:  # fmt: skip
    """The candidates (lexical first, then dense-only ones, then those only further sources
    proposed) and their feature rows.

    `lexical`: (uid, re-ranked score), best first; `coverage`: uid → share of the question's idf
    mass (lexical candidates); `dense`: (uid, cosine), best first; `cosine`: uid → cosine for
    every candidate (a lexical candidate outside the dense list still has one); `other`: uid →
    passage language differs from the question's; `further`: other sources' hits, scored here by
    the same features (a source with a feature of its own adds it to `FEATURES`); `anchor`: uid →
    share of the question's anchors the passage holds (absent: 0); `stories`: each candidate's
    story evidence (`story.py`; absent: 0); `words`: the other-language candidates' translated
    coverage (`words.py`; absent: 0)."""
    uids = list(dict.fromkeys([u for u, _ in lexical] + [u for u, _ in dense] + [u for u, _ in further]))
    if not uids:
        return [], np.zeros((0, len(FEATURES)))
    lex_top = lexical[0][1] if lexical and lexical[0][1] > 0 else 1.0
    lex = {u: s / lex_top for u, s in lexical}
    lexcov = coverage.get(lexical[0][0], 0.0) if lexical else 0.0
    cos = np.array([cosine.get(u, 0.0) for u in uids])
    best_cos = cos.max()
    lex_first = lexical[0][0] if lexical else None
    dense_first = dense[0][0] if dense else None
    anchor = anchor or {}
    # an other-language passage leads on anchors when it holds more of the question's names and
    # numbers than every same-language candidate: then the words could not have seen its story
    same = [u for u in uids if not other.get(u, False)]
    same_best = max((anchor.get(u, 0.0) for u in same), default=0.0)
    # ...and the same for whole stories: a story told in both languages (twin articles, or one
    # bilingual article) leads nothing, so the question's own language keeps its quote
    # (held by its anchors or, in the question's own language, its words: anchor extraction misses names)
    held = {
        u: stories.anchors.get(u, 0.0)
        if other.get(u, False)
        else max(stories.anchors.get(u, 0.0), stories.words.get(u, 0.0))
        for u in uids
    }
    story_best = max((held[u] for u in same), default=0.0)
    same_cov = max((coverage.get(u, 0.0) for u in same), default=0.0)
    rows = []
    for u, c in zip(uids, cos):
        o = float(other.get(u, False))
        lx = lex.get(u, 0.0)
        d = c - best_cos
        sa, sg = held[u], stories.gap.get(u, 0.0)
        rows.append((
            lx, coverage.get(u, 0.0), c, d, o, c * o, c * lexcov, lx * lexcov, o * lexcov, d * o,
            float(u == lex_first and u == dense_first), float(u == lex_first), float(u == dense_first),
            anchor.get(u, 0.0) * o, max(anchor.get(u, 0.0) - same_best, 0.0) * o,
            sa, max(sa - story_best, 0.0) * o, sg, sg * o,
            max(words.passage.get(u, 0.0) - same_cov, 0.0) * o, max(words.story.get(u, 0.0) - same_cov, 0.0) * o,
        ))  # fmt: skip
    return uids, np.asarray(rows, dtype=np.float64)


def fuse(
    uids: Sequence[int],
    features: npt.NDArray[np.float64],
    weights: FusionWeights,
    other: Mapping[int, bool] | None = None,
) -> list[FusedHit]:
    """Candidates ranked by the learned score, best first."""
    if not len(uids):
        return []
    s = features @ np.asarray(weights.weights)
    p = np.exp(s - s.max())
    p /= p.sum()
    order = np.argsort(-s, kind="stable")
    return [FusedHit(int(uids[i]), float(s[i]), float(p[i]), bool((other or {}).get(uids[i], False))) for i in order]


@dataclass(frozen=True, slots=True)
class Fused:
    """What the fusion saw and decided, for the sentence choice and the confidence signals."""

    ranked: list[FusedHit]  # every candidate, best first
    lexical: list[tuple[int, float]]  # the re-ranked lexical list it read
    dense: list[tuple[int, float]]  # the dense list, (uid, cosine)
    cosine: dict[int, float]  # every candidate's cosine with the question

    def passage_shares(self, hits: Sequence[tuple[int, float]], runner_up: float = 1.0) -> list[tuple[int, float]]:
        """The passages the sentence scorer reads, with their shares. When the fusion put the
        lexical first passage first too: the kept fused ones and
        every passage of the lexical list (the lexical path reads those), in fused order, each
        with the larger of `runner_up` × its re-ranked lexical score relative to the lexical
        first (today's share; the first keeps 1.0) and its fused chance relative to the fused
        first. The softmax alone is too peaked for sentences: "What did the Kremlin say?" kept
        only the passage whose sentence merely names the Kremlin and lost the Peskov quote of
        the runner-up; today's share in full lets a runner-up the fusion ranks far lower outquote
        the first passage (`FusionWeights.runner_up_share`)."""
        if not self.lexical or not self.ranked or self.ranked[0].uid != self.lexical[0][0]:
            return list(hits)  # the fusion overruled the words (another language, a paraphrase): its own shares
        lex_top = self.lexical[0][1] if self.lexical[0][1] > 0 else 1.0
        first = self.lexical[0][0]
        lex = {u: s / lex_top * (1.0 if u == first else runner_up) for u, s in self.lexical}
        chance = {f.uid: f.chance for f in self.ranked}
        top = hits[0][1] if hits and hits[0][1] > 0 else 1.0
        read = {u for u, _ in hits} | set(lex)
        return [(f.uid, max(lex.get(f.uid, 0.0), chance[f.uid] / top)) for f in self.ranked if f.uid in read]


@dataclass(frozen=True, slots=True)
class LearnedFusion:
    """The answer path's `Join`: the re-ranked words list, the dense list and any further
    source's list scored by the learned rule; the passages the sentences are read from become
    the kept fused ones (their chance as the score)."""

    weights: FusionWeights

    def __call__(
        self, ctx: QuestionContext, query: Query, lists: Mapping[str, Hits], coverage: Mapping[int, Coverage]
    ) -> Joined:
        seen = self.features(ctx, query, lists, coverage)
        if seen is None:
            return Joined(list(lists.get(LEXICAL, [])))
        w = self.weights
        ranked = fuse(seen.uids, seen.X, w, seen.other)
        keep = [f for f in ranked if f.chance >= w.keep_share * ranked[0].chance][: w.keep_max]
        return Joined([(f.uid, f.chance) for f in keep], Fused(ranked, seen.lexical, seen.dense, seen.cosine))

    def features(
        self, ctx: QuestionContext, query: Query, lists: Mapping[str, Hits], coverage: Mapping[int, Coverage]
    ) -> Candidates | None:
        """The candidates and their feature rows (None: no source proposed any)."""
        w = self.weights
        lang = ctx.question.language if ctx.asked is not None else None
        lexical = list(lists.get(LEXICAL, [])[: w.lexical_depth])
        dense = list(lists.get(DENSE, []))
        further = [h for name, hits in lists.items() if name not in (LEXICAL, DENSE) for h in hits]
        uids = list(dict.fromkeys([u for u, _ in lexical] + [u for u, _ in dense] + [u for u, _ in further]))
        if not uids:
            return None
        cosine = ctx.passage_cosines(uids)
        langs = ctx.languages_of(uids) if lang is not None else {}
        other = {u: lang is not None and langs[u] not in (lang, "mixed") for u in uids}
        cov = {u: c.passage for u, c in coverage.items()}
        shares = ctx.question_anchors.passage_shares(STRONG_KINDS) if ctx.asked is not None else {}
        stories = story_evidence(ctx, query, uids, cosine, coverage)
        words = word_coverage(ctx, uids, other, stories)
        cand, X = candidate_features(lexical, cov, dense, cosine, other, further, shares, stories, words)
        return Candidates(cand, X, other, lexical, dense, cosine)


@dataclass(frozen=True, slots=True)
class Candidates:
    """What the fusion scores: the candidates, their `FEATURES` rows and what they were made from."""

    uids: list[int]
    X: npt.NDArray[np.float64]
    other: dict[int, bool]
    lexical: list[tuple[int, float]]
    dense: list[tuple[int, float]]
    cosine: dict[int, float]
