"""Stage 4 of the answer path: every sentence that shares a word with the question, scored.

Plain BM25 over sentences answers "What did the Kremlin say?" with "The Kremlin did not
immediately respond…", a sentence that merely shares the word. So a sentence's score is a
weighted sum of named features (`SentenceWeights` holds the weights, `score_sentences` the sum):

* `passage_share`: its passage's re-ranked score relative to the best passage;
* `local_idf_coverage`: how much of the question it holds, each word weighed by how rare it is
  *inside that passage* (in an article about Tesla, "Tesla" says nothing about which sentence answers);
* `plain_coverage`: the plain share of the question's words it holds;
* `kind_cue`: it carries what the question kind asks for (`ANSWER_CUES`: reported speech for
  "say", a date for "when", a name for "who");
* `new_number`: a "how many"/"when" sentence holds a number the question lacks (an amount, for
  a "how much is it worth" question);
* `new_name`: a "who"/"where" sentence holds a capitalised name the question lacks;
* `defines`: a "What is X?" sentence says what X is;

`kind_features.py` adds what the kind asks for, read closely (the sentence attributed to the
speaker, the number of the unit asked about, a date, a place; `KindWeights`),
and then `speaker_rule`: in a "say" question whose best sentence carries no speech, the
sentences where the named speaker speaks are lifted above it.

The first six weights were fitted as a conditional logit on half of KorQuAD and half of XQuAD
and checked on the other halves (docs/quality.md, "Second round"); the speaker and definition
rules are checked in docs/quality.md ("Fifth round").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retrieval.answer.context import QuestionContext
from retrieval.answer.kind_features import KindFeatures, KindWeights
from retrieval.answer.query import Query
from retrieval.answer.question import definition_pattern
from retrieval.answer.rerank import Retrieved
from retrieval.models import Language
from retrieval.text.analyze import detect_language

ANSWER_CUES: dict[str, re.Pattern[str]] = {
    "say": re.compile(
        r"[“”\"«»「」]|\b(said|says|say|told|tells|according to|stated|added|announced|noted|remarked|"
        r"commented|declared|explained|spokes(person|man|woman))\b|말했|밝혔|전했|덧붙였|강조했|설명했|주장했|"
        r"언급했|이야기했|라며|라고|이라며|이라고|대변인",
        re.I,
    ),
    "who": re.compile(
        r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\b|대통령|대변인|회장|장관|의원|대표|설립자|CEO|씨\b|교수|감독|선수|작가|왕|황제"
    ),
    "when": re.compile(
        r"\b(1[5-9]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|October|"
        r"November|December|Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.|Monday|Tuesday|Wednesday|Thursday|"
        r"Friday|Saturday|Sunday|yesterday|today|tomorrow|ago|century|decade)\b|"
        r"\d+\s*(년|월|일|세기)|[월화수목금토일]요일|지난|어제|오늘|내일|작년|올해|당시|시대",
        re.I,
    ),
    "where": re.compile(r"\b(in|at|from|near)\s+[A-Z][a-z]+|에서|지역|도시|나라|[가-힣]+(시|도|국)\b"),
    "number": re.compile(
        r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|dozen)\b|[만억천조]|퍼센트|%",
        re.I,
    ),
}
SPEECH = ANSWER_CUES["say"]  # reported speech, whatever the question kind

NUMBER = re.compile(r"\d+")
# An amount: money, a share, a count in words ("$1 billion", "10억 달러", "30%").
AMOUNT = re.compile(
    r"[$€£¥₩]\s?\d|\d[\d,.]*\s*(?:%|percent|dollars?|won|euros?|yen|pounds?|million|billion|trillion)|"
    r"\d[\d,.]*\s*(?:억|만|조|천)?\s*(?:원|달러|유로|엔|퍼센트)|\b(?:million|billion|trillion)\b",
    re.I,
)
NAME = re.compile(r"\b[A-Z][A-Za-z]+")  # a capitalised word (searched from the 2nd character: not the sentence start)
NUMBER_KINDS = ("number", "when")  # kinds a number the question lacks answers
NAME_KINDS = ("who", "where")  # kinds a name the question lacks answers


@dataclass(frozen=True, slots=True)
class SentenceWeights:
    passage_weight: float = 1.0  # the passage's re-ranked score relative to the best passage
    local_weight: float = 0.67  # share of the question, each word weighed by its rarity in the passage
    count_weight: float = 0.12  # plain share of the question's words
    cue_weight: float = 0.1  # holds what the question type asks for (a quote, a date, a name)
    new_number_weight: float = 0.22  # a "how many"/"when" sentence holds a number the question lacks
    new_name_weight: float = 0.1  # a "who"/"where" sentence holds a capitalised name the question lacks
    definition_weight: float = 0.3  # "what is X": a sentence that says what X is ("X, which is…", "spokesperson X")
    max_passages: int = 12  # sentences are looked for in this many top passages
    speaker_weight: float = 1.0  # "what did X say" and the best sentence has no speech: X speaking (in it or right before) gains this share of the best score


@dataclass(slots=True)
class Candidate:
    passage: int
    sent: int  # sentence number inside the passage
    start: int
    end: int
    score: float
    sentence_lang: Language
    speech: bool = False  # carries reported speech (a "say" cue)
    speaks: bool = False  # ...and the speaker a "say" question names is in it or in the sentence before (or it is attributed to them: kind_features.py)


# --- the features -------------------------------------------------------------------------------
def passage_share(passage_score: float, top: float) -> float:
    return passage_score / top


def local_idf_coverage(
    present: npt.NDArray[np.bool_], weights: npt.NDArray[np.float64], n_sentences: int
) -> npt.NDArray[np.float64]:
    """Each sentence's share of the question with every word's idf taken inside the passage."""
    local = weights * np.log1p(n_sentences / np.maximum(present.sum(axis=0), 1))
    return present @ (local / (local.sum() or 1.0))


def plain_coverage(present: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    return present.mean(axis=1)


def kind_cue(sentence: str, cue: re.Pattern[str] | None) -> bool:
    return bool(cue and cue.search(sentence))


def new_number(sentence: str, asked: set[str] | None, amount: bool) -> bool:
    """A number the question (`asked`: its numbers, None when its kind wants none) lacks; for
    a "how much is it worth" question an amount, not a date."""
    found = asked is not None and bool(set(NUMBER.findall(sentence)) - asked)
    if found and amount:
        found = bool(AMOUNT.search(sentence))
    return found


def new_name(sentence: str, asked: set[str] | None) -> bool:
    return bool(asked is not None and set(NAME.findall(sentence, 1)) - asked)


def defines(sentence: str, pattern: re.Pattern[str] | None) -> bool:
    return bool(pattern and pattern.search(sentence))


def speaks(named: npt.NDArray[np.bool_] | None, i: int, speech: bool) -> bool:
    """The speaker is named in sentence `i` or the one before, and sentence `i` carries speech."""
    return named is not None and bool(named[i] or (i > 0 and named[i - 1])) and speech


def speaker_rule(candidates: list[Candidate], weight: float) -> None:
    """A "say" question is answered by speech. When the best sentence carries none (it holds
    the most question words: "Musk invited Putin…" for "What did the Kremlin say about Musk's
    invitation?"), the sentences where the named speaker speaks come first. Only then: "The
    Tesla and SpaceX CEO then said…" answers "What did Musk say?" without the name. With weight
    1 every such sentence outranks every other."""
    best = max(candidates, key=lambda c: c.score) if candidates else None
    if best is None or weight <= 0 or best.speech:
        return
    lift = weight * best.score
    for c in candidates:
        c.score += lift * c.speaks


# --- the scorer ---------------------------------------------------------------------------------
def score_sentences(
    ctx: QuestionContext, found: Retrieved, query: Query, weights: SentenceWeights, speaker: list[int] | None,
    kinds: KindWeights | None = None,
) -> list[Candidate]:  # fmt: skip
    """Every sentence of the passages `found` that shares a word with the question, scored (see
    the module docstring); `speaker` is the query columns of the speaker a "say" question names;
    `kinds` the weights of the kind features (None: none)."""
    w = weights
    hits, coverage, asked, view = found.hits, found.coverage, ctx.question, ctx.view
    top = hits[0][1]
    kind, qw = asked.kind, query.weights_arr
    cue = ANSWER_CUES.get(kind)
    asked_numbers = set(NUMBER.findall(asked.text)) if kind in NUMBER_KINDS else None
    asked_names = set(NAME.findall(asked.text)) if kind in NAME_KINDS else None
    definition = definition_pattern(asked.subject, asked.language) if w.definition_weight > 0 else None
    speaker_terms = [query.known[c] for c in speaker] if speaker is not None else []
    speaker_weights = [float(qw[c]) for c in speaker] if speaker is not None else []
    features = KindFeatures(ctx, asked, speaker_terms, speaker_weights, kinds) if kinds is not None else None
    out: list[Candidate] = []
    for p, pscore in hits:
        pc = coverage[p]
        if pc.best <= 0:
            continue
        v = view(p)
        text = v.text
        local_cov = local_idf_coverage(pc.present, qw, v.n_sentences)
        count_cov = plain_coverage(pc.present)
        named = pc.present[:, speaker].any(axis=1) if speaker is not None else None
        for i in np.flatnonzero(pc.sentences > 0).tolist():
            s, e = v.sentence(i)
            sentence = text[s:e]
            speech = bool(SPEECH.search(sentence))
            said = features is not None and features.attributed(v, i)
            score = (
                w.passage_weight * passage_share(pscore, top) + w.local_weight * float(local_cov[i])
                + w.count_weight * float(count_cov[i]) + w.cue_weight * kind_cue(sentence, cue)
                + w.new_number_weight * new_number(sentence, asked_numbers, asked.amount)
                + w.new_name_weight * new_name(sentence, asked_names)
                + w.definition_weight * defines(sentence, definition)
                + (features.score(v, i, sentence, said) if features is not None else 0.0)
            )  # fmt: skip
            out.append(
                Candidate(p, i, s, e, score, detect_language(sentence), speech, speaks(named, i, speech) or said)
            )
    if speaker is not None:
        speaker_rule(out, w.speaker_weight)
    if not out:  # the passages matched only through frame words: keep their best sentences
        for p, pscore in hits[:1]:
            s, e = view(p).sentence(0)
            out.append(Candidate(p, 0, s, e, passage_share(pscore, top), "en"))
    return out
