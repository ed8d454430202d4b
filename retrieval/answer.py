"""From a question to an `Answer`: passage retrieval, sentence choice, abstention.

Plain BM25 over sentences answers "What did the Kremlin say?" with "The Kremlin did not
immediately respond…", a sentence that merely shares the word. So sentences are scored on
(a) how much of the question's idf mass they cover, (b) the BM25 score of their passage, and
(c) whether they carry what the question type asks for: reported speech for "say" questions,
dates for "when", numbers for "how many", names for "who".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from .analyze import HANGUL, Analyzer, Term, detect_language, normalize_space
from .errors import QuestionError
from .index import Index
from .models import Answer, Language, Quote, Source

# --- question types --------------------------------------------------------------------------
KINDS: dict[str, re.Pattern[str]] = {
    "say": re.compile(
        r"\b(say|says|said|tell|told|state[sd]?|comment(ed)?|respon[sd]|react(ed|ion)?|announce[sd]?|"
        r"claim(ed)?|reply|replied|quote[sd]?|statement|position)\b|뭐라|무엇이라|무어라|뭐라고|라고\s*(했|말|밝)|"
        r"말했|말하|밝혔|밝힌|입장|반응|발언|언급|전했|답했|주장",
        re.I,
    ),
    "who": re.compile(r"\b(who|whom|whose)\b|누가|누구|어떤\s*사람|어느\s*사람", re.I),
    "when": re.compile(r"\b(when|what\s+(day|date|time|year|month))\b|언제|몇\s*(년|월|일|시)|무슨\s*요일|며칠", re.I),
    "where": re.compile(r"\bwhere\b|어디|어느\s*(나라|곳|도시|지역)", re.I),
    "number": re.compile(r"\bhow\s+(many|much|long|old|big|large|often)\b|몇|얼마|규모|가치", re.I),
}
# Words that only frame the question ("how many", "what did X say"); they are cues, not content.
FRAME_TERMS = frozenset({"mani", "much", "say", "tell", "말", "얼마", "무엇", "누구", "언제", "어디", "몇"})

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
    "number": re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|dozen)\b|[만억천조]|퍼센트|%", re.I),
}

MAX_PASSAGES = 12  # sentences are looked for in this many top passages
MORE_QUOTES = 6  # extra quotes kept for "More"


@dataclass(frozen=True, slots=True)
class AnswerParams:
    """Scoring weights and the abstention threshold, chosen with `quoteqa eval` as the judge."""

    coverage_weight: float = 1.0
    passage_weight: float = 0.35
    cue_weight: float = 0.25
    min_coverage: float = 0.5  # share of the question's idf mass the best passage must contain
    keep_ratio: float = 0.45  # a further quote must score at least this share of the best


def question_kind(question: str) -> str:
    for kind, pattern in KINDS.items():
        if pattern.search(question):
            return kind
    return "other"


def question_language(question: str) -> Language:
    return "ko" if HANGUL.search(question) else "en"


def clean_question(question: object, max_chars: int) -> str:
    """The question as we will search it, or a QuestionError that says how to fix it."""
    if not isinstance(question, str):
        raise QuestionError("a question must be text")
    bad = sorted({f"U+{ord(c):04X}" for c in question if unicodedata.category(c) == "Cc" and c not in "\t\n\r"})
    if bad:
        raise QuestionError(f"the question contains control characters ({', '.join(bad[:5])}); type it as plain text")
    text = normalize_space(question)
    if not text:
        raise QuestionError('the question is empty; ask something like "What did the Kremlin say?"')
    if len(text) > max_chars:
        raise QuestionError(f"the question is {len(text):,} characters long; the limit is {max_chars:,}. Ask it in fewer words.")
    return text


class Answerer:
    """Holds what answering needs from one index; cheap to rebuild when the index changes."""

    def __init__(self, index: Index, analyzer: Analyzer, params: AnswerParams | None = None) -> None:
        self.index = index
        self.analyzer = analyzer
        self.params = params or AnswerParams()
        self.idf = index.idf()
        n = max(index.n_passages, 1)
        self.oov_idf = float(np.log1p((n + 0.5) / 0.5))

    def answer(self, question: str, max_quotes: int = 3) -> Answer:
        lang = question_language(question)
        kind = question_kind(question)
        words = self.analyzer.question_words(question)
        content = [w for w in words if w.term not in FRAME_TERMS] or words
        if not content:
            return self._abstain(question, lang, kind, words, "no_terms")
        ids = self.index.term_ids
        weights = {w.term: (float(self.idf[ids[w.term]]) if w.term in ids else self.oov_idf) for w in content}
        total = sum(weights.values())
        hits = self.index.search([w.term for w in words], k=MAX_PASSAGES)
        if not hits:
            return self._abstain(question, lang, kind, words, "no_match")

        candidates = self._candidates(hits, weights, total, kind)
        best_passage_cov = max(c.passage_coverage for c in candidates)
        if best_passage_cov < self.params.min_coverage:
            return self._abstain(question, lang, kind, words, "weak_match")

        # Prefer the question's language when it answers nearly as well as the best overall.
        same = [c for c in candidates if c.sentence_lang == lang]
        best = max(c.score for c in candidates)
        pool = same if same and max(c.score for c in same) >= 0.6 * best else candidates
        pool.sort(key=lambda c: -c.score)
        cross = pool[0].sentence_lang != lang
        quotes, more = self._group(pool, max_quotes, set(weights))
        message = ""
        if cross:
            message = CROSS_MESSAGE[lang]
        return Answer(
            question=question, language=lang, answered=True, quotes=tuple(quotes), message=message,
            kind=kind, terms=_surfaces(words), more=tuple(more), cross_language=cross,
        )  # fmt: skip

    def _candidates(self, hits: list[tuple[int, float]], weights: dict[str, float], total: float, kind: str) -> list[_Cand]:
        ids = self.index.term_ids
        qid = {ids[t]: w for t, w in weights.items() if t in ids}
        top = hits[0][1]
        cue = ANSWER_CUES.get(kind)
        out: list[_Cand] = []
        for p, pscore in hits:
            text = self.index.passage_text(p)
            plang = self.index.passage_language(p)
            rows = self.index.sentence_rows(p)
            passage_terms: set[int] = set()
            sent_data = []
            for row in rows:
                terms = set(self.index.sentence_terms(row).tolist())
                passage_terms |= terms
                sent_data.append((row, terms))
            pcov = sum(w for t, w in qid.items() if t in passage_terms) / total
            for row, terms in sent_data:
                cov = sum(w for t, w in qid.items() if t in terms) / total
                if cov <= 0:
                    continue
                s, e = self.index.sentence_span(row)
                sentence = text[s:e]
                has_cue = bool(cue and cue.search(sentence))
                score = (
                    self.params.coverage_weight * cov
                    + self.params.passage_weight * (pscore / top)
                    + self.params.cue_weight * has_cue
                )
                out.append(_Cand(p, row - rows.start, row, s, e, score, cov, pcov, plang, detect_language(sentence)))
        if not out:  # the passages matched only through frame words: keep their best sentences
            for p, pscore in hits[:1]:
                rows = self.index.sentence_rows(p)
                s, e = self.index.sentence_span(rows.start)
                out.append(_Cand(p, 0, rows.start, s, e, pscore / top, 0.0, 0.0, self.index.passage_language(p), "en"))
        return out

    def _group(self, pool: list[_Cand], max_quotes: int, terms: set[str]) -> tuple[list[Quote], list[Quote]]:
        """Best sentences first; neighbours within a paragraph become one quote, in text order."""
        best = pool[0].score
        chosen: list[_Cand] = []
        for c in pool:
            if c.score < self.params.keep_ratio * best and len(chosen) >= 1:
                break
            chosen.append(c)
            if len(chosen) >= max_quotes + MORE_QUOTES:
                break
        groups: list[list[_Cand]] = []
        for c in chosen:
            for g in groups:
                if g[0].passage == c.passage and any(abs(x.sent - c.sent) == 1 for x in g):
                    g.append(c)
                    break
            else:
                groups.append([c])
        quotes = [self._quote(g, terms) for g in groups]
        return quotes[:max_quotes], quotes[max_quotes : max_quotes + MORE_QUOTES]

    def _quote(self, group: list[_Cand], terms: set[str]) -> Quote:
        group = sorted(group, key=lambda c: c.sent)
        p = group[0].passage
        text = normalize_space(self.index.passage_text(p)[group[0].start : group[-1].end])
        art = self.index.passage_article(p)
        para = int(self.index.arrays["passage_paragraph"][p])
        source = Source(art.id, art.title, para, self.index.passage_language(p), art.source, art.url, art.date)
        spans = tuple((s, e) for s, e, t in self.analyzer.term_spans(text) if t in terms)
        return Quote(text, source, max(c.score for c in group), p, tuple(c.sent for c in group), spans)

    def _abstain(self, question: str, lang: Language, kind: str, words: list[Term], why: str) -> Answer:
        return Answer(question=question, language=lang, answered=False, message=ABSTAIN_MESSAGE[lang], kind=kind, terms=_surfaces(words))


@dataclass(slots=True)
class _Cand:
    passage: int
    sent: int  # sentence number inside the passage
    row: int
    start: int
    end: int
    score: float
    coverage: float
    passage_coverage: float
    lang: Language
    sentence_lang: Language


def _surfaces(words: list[Term]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for w in words:
        if w.term not in FRAME_TERMS:
            seen.setdefault(w.surface, None)
    return tuple(seen)


ABSTAIN_MESSAGE: dict[Language, str] = {
    "en": "The articles I have do not answer that. Ask about what they cover (see the list of sources), "
    "e.g. \"What did the Kremlin say?\"",
    "ko": "가지고 있는 기사에서는 그 질문의 답을 찾을 수 없습니다. 기사 목록에 있는 내용에 대해 물어 보세요. "
    "예: \"크렘린궁은 뭐라고 했나요?\"",
    "mixed": "The articles I have do not answer that. / 가지고 있는 기사에서는 답을 찾을 수 없습니다.",
}
CROSS_MESSAGE: dict[Language, str] = {
    "en": "No English passage answers this; quoting the Korean text.",
    "ko": "한국어 기사에는 답이 없어 영어 원문을 인용합니다.",
    "mixed": "Quoting the other language.",
}
