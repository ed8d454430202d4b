"""From a question to an `Answer`: passage retrieval, sentence choice, abstention.

Plain BM25 over sentences answers "What did the Kremlin say?" with "The Kremlin did not
immediately respond…", a sentence that merely shares the word. So sentences are scored on
(a) the score of their passage after re-ranking, (b) how much of the question they hold, each
word weighed by how rare it is inside that passage, and (c) whether they carry what the
question type asks for: reported speech for "say" questions, a new date or number for "when"
and "how many", a new name for "who". The first quote is the best sentence plus any neighbour
whose chance of holding the answer is worth the characters it adds. The weights were fitted with
`quoteqa eval` as the judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import confidence as confidence_model
from .analyze import HANGUL, LATIN, WORD, Analyzer, Term, detect_language, normalize_space
from .confidence import ConfidenceModel
from .messages import ABSTAIN_MESSAGE, CAVEAT, CROSS_MESSAGE, EMPTY_QUESTION, with_examples  # noqa: F401 - EMPTY_QUESTION re-exported
from .models import Answer, Language, Quote, Source
from .question import FRAME_TERMS, KINDS, Question, clean_question, definition_pattern, read_question  # noqa: F401 - clean_question re-exported
from .question import question_kind, question_language  # noqa: F401 - re-exported: callers read kinds from here
from .store import PassageView, Store
from .suggest import suggestions

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

NUMBER = re.compile(r"\d+")
# An amount: money, a share, a count in words ("$1 billion", "10억 달러", "30%").
AMOUNT = re.compile(
    r"[$€£¥₩]\s?\d|\d[\d,.]*\s*(?:%|percent|dollars?|won|euros?|yen|pounds?|million|billion|trillion)|"
    r"\d[\d,.]*\s*(?:억|만|조|천)?\s*(?:원|달러|유로|엔|퍼센트)|\b(?:million|billion|trillion)\b",
    re.I,
)
NAME = re.compile(r"\b[A-Z][A-Za-z]+")  # a capitalised word (searched from the 2nd character: not the sentence start)

KOREAN_NOUNS = frozenset({"NNG", "NNP", "NNC", "XR"})  # question words that may be part of an index compound
MAX_PASSAGES = 12  # sentences are looked for in this many top passages
MORE_QUOTES = 6  # extra quotes kept for "More"


@dataclass(frozen=True, slots=True)
class AnswerParams:
    """Scoring weights and the abstention threshold, chosen with `quoteqa eval` as the judge."""

    passage_weight: float = 1.0  # the passage's re-ranked score relative to the best passage
    local_weight: float = 0.67  # share of the question, each word weighed by its rarity in the passage
    count_weight: float = 0.12  # plain share of the question's words
    cue_weight: float = 0.1  # holds what the question type asks for (a quote, a date, a name)
    new_number_weight: float = 0.22  # a "how many"/"when" sentence holds a number the question lacks
    new_name_weight: float = 0.1  # a "who"/"where" sentence holds a capitalised name the question lacks
    min_coverage: float = 0.34  # without a confidence model only: share of the question's idf mass the best passage must contain
    keep_ratio: float = 0.45  # a further quote must score at least this share of the best
    join_gain: float = 0.2  # share of idf mass a neighbouring sentence must add to join a quote
    join_chars: int = 220  # ...and only while the joined quote stays within this length
    context_chars: int = 190  # a shorter quote takes in a neighbouring sentence up to this length
    context_min: float = 0.0  # ...if that sentence holds at least this share of the question
    rerank_depth: int = 20  # passages re-scored by sentence coverage after BM25
    rerank_sentence: float = 0.75  # weight of the best sentence's coverage in the passage score
    rerank_passage: float = 0.0  # weight of the whole passage's coverage
    rerank_title: float = 0.5  # weight of the article title's coverage (a headline names the subject)
    rerank_phrase: float = 0.4  # weight of the share of neighbouring question words found side by side
    rerank_window: float = 0.3  # weight of the best two neighbouring sentences' coverage (a question often spans a sentence and the one that says "it")
    window_temperature: float = 7.0  # sentence scores -> probabilities of holding the answer (softmax); 0 turns windows off
    window_char_cost: float = 0.002  # chance of holding the answer each character of the first quote must buy...
    window_char_cost_ko: float = 0.0005  # ...and each Korean one (a Hangul syllable says about as much as three Latin letters)
    affix_discount: float = 0.7  # weight of an index compound found for an unknown Korean noun (크렘린 → 크렘린궁); 0 turns it off
    speaker_weight: float = 1.0  # "what did X say" and the best sentence has no speech: X speaking (in it or right before) gains this share of the best score
    definition_weight: float = 0.3  # "what is X": a sentence that says what X is ("X, which is…", "spokesperson X")


class Answerer:
    """Answers questions from one store snapshot, read only through the `Store` interface.

    Cheap to make: the engine makes one per question, on the snapshot that is live when the
    question arrives, so a write that lands meanwhile cannot change the passages under it."""

    def __init__(
        self, store: Store, analyzer: Analyzer, params: AnswerParams | None = None,
        title_terms: dict[str, frozenset[str]] | None = None, judge: ConfidenceModel | None | str = "shipped",
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
        n = max(self.store.n_passages, 1)
        self.oov_idf = float(np.log1p((n + 0.5) / 0.5))
        self._title_terms = title_terms if title_terms is not None else {}
        self._views: dict[int, PassageView] = {}
        self._bm25_hits: list[tuple[int, float]] = []

    def view(self, uid: int) -> PassageView:
        """A passage, read from the store once per question."""
        v = self._views.get(uid)
        if v is None:
            v = self._views[uid] = self.store.passage(uid)
        return v

    def answer(self, question: str, max_quotes: int = 3) -> Answer:
        asked = read_question(question, self.analyzer.morphemes)
        lang, kind = asked.language, asked.kind
        words = self.analyzer.question_words(question)
        query = self._query(words)
        if not query.weights:
            return self._abstain(question, lang, kind, words)
        hits, coverage = self._retrieve(query, MAX_PASSAGES)
        if not hits:
            return self._abstain(question, lang, kind, words)
        signals = self._signals(query, hits, coverage, kind, lang)

        best_passage_cov = max((c.passage for c in coverage.values()), default=0.0)
        if self.judge is None and best_passage_cov < self.params.min_coverage:
            return self._abstain(question, lang, kind, words, signals)
        candidates = self._candidates(hits, coverage, asked, query)  # only once we know we will answer

        # Prefer the question's language when it answers nearly as well as the best overall.
        same = [c for c in candidates if c.sentence_lang == lang]
        best = max(c.score for c in candidates)
        pool = same if same and max(c.score for c in same) >= 0.6 * best else candidates
        pool.sort(key=lambda c: -c.score)
        cross = pool[0].sentence_lang != lang
        first = self._best_window(pool)
        quotes, more = self._group(pool, max_quotes, set(query.weights), coverage, query.weights_arr, first)
        signals["first_cue"] = self._first_cue(first or pool[:1], kind)
        signals["cross_language"] = float(cross)
        chance, verdict = 0.0, "answer"
        if self.judge is not None:
            chance = self.judge.predict(signals)
            verdict = self.judge.verdict(chance)
            if verdict == "abstain":
                return self._abstain(question, lang, kind, words, signals, chance)
        notes = [CAVEAT[lang]] if verdict == "unsure" else []
        if cross:
            notes.append(CROSS_MESSAGE[lang])
        return Answer(
            question=question, language=lang, answered=True, quotes=tuple(quotes), message=" ".join(notes),
            kind=kind, terms=_surfaces(words), more=tuple(more), cross_language=cross, confidence=chance,
            verdict=verdict, signals=signals,
        )  # fmt: skip

    def _signals(
        self, query: _Query, hits: list[tuple[int, float]], coverage: dict[int, _Coverage], kind: str, lang: Language
    ) -> dict[str, float]:  # fmt: skip
        """Per-question evidence that means the same on any corpus: what a confidence model
        reads. Scores are relative (to the attainable maximum, to the runner-up), coverages are
        shares of the question's idf mass, and idfs are counted in units of the idf of a term
        one passage holds (1.0: as rare as a word can be), so "rare" means nearly the same in a
        20-passage and a 1M-passage index.

        Shares alone cannot tell "What did the Kremlin say?" (one rare word, fully covered) from
        a vague question whose one common word is everywhere: `idf_max`/`idf_mean` (how rare the
        question's known words are) and `matched_idf` (how much rare evidence the top passage
        holds, in absolute terms) can. `top2_same_article` says a small gap is between two
        paragraphs of one article, which is not real ambiguity. `first_cue` is added by
        `answer()` once the first quote is chosen."""
        p = self.store.params
        bm25_top = self._bm25_hits[0][1] if self._bm25_hits else 0.0
        bm25_second = self._bm25_hits[1][1] if len(self._bm25_hits) > 1 else 0.0
        attainable = float(np.sum(self.store.idf(query.terms))) * (p.k1 + 1.0) or 1.0
        top, c = hits[0], coverage[hits[0][0]]
        total = sum(query.weights.values()) or 1.0
        known = set(query.known)
        unknown = sum(w for t, w in query.weights.items() if t not in known) / total
        title = self._title_of(top[0])
        window = c.window(query.weights_arr)
        one_off = float(np.log1p((max(self.store.n_passages, 2) - 0.5) / 1.5))  # idf of a term one passage holds
        known_idf = self.store.idf(query.known) / one_off if query.known else np.zeros(0)
        same_article = (
            self.view(hits[0][0]).article.id == self.view(hits[1][0]).article.id if len(hits) > 1 else True
        )  # fmt: skip
        out = {
            "bm25_top_share": bm25_top / attainable,
            "bm25_gap": (bm25_top - bm25_second) / bm25_top if bm25_top else 0.0,
            "rerank_gap": (top[1] - hits[1][1]) / top[1] if len(hits) > 1 and top[1] else 1.0,
            "passage_coverage": max((x.passage for x in coverage.values()), default=0.0),
            "top_passage_coverage": c.passage,
            "sentence_coverage": c.best,
            "window_coverage": window,
            "unknown_share": unknown,
            "title_share": sum(w for t, w in query.weights.items() if t in title) / total,
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

    def _first_cue(self, first: list[_Cand], kind: str) -> float:
        """1.0 when the first quote holds what the question kind asks for (ANSWER_CUES: a quote
        or a speech verb for "say", a date for "when", a name for "who"...), else 0.0."""
        cue = ANSWER_CUES.get(kind)
        if cue is None or not first:
            return 0.0
        text = self.view(first[0].passage).text
        return float(any(cue.search(text[c.start : c.end]) for c in first))

    def rank(self, question: str, k: int = 10) -> list[tuple[int, float]]:
        """The passage ranking the answer path reads sentences from (for evaluation)."""
        query = self._query(self.analyzer.question_words(question))
        return self._retrieve(query, k)[0] if query.weights else []

    def _query(self, words: list[Term]) -> _Query:
        """Search terms (every word, as BM25 sees the question) and idf weights of content words."""
        found = [self._known_form(w) for w in words]
        words = [w for w, _ in found]
        discounted = {w.term for w, affix in found if affix}
        content = [w for w in words if w.term not in FRAME_TERMS] or words
        uniq = list(dict.fromkeys(w.term for w in content))
        df = [self.store.df(t) for t in uniq]
        idf = self.store.idf(uniq).tolist()
        weights = {t: (w * (self.params.affix_discount if t in discounted else 1.0) if d else self.oov_idf) for t, d, w in zip(uniq, df, idf)}
        known = [t for t, d in zip(uniq, df) if d]
        total = sum(weights.values()) or 1.0
        return _Query([w.term for w in words], weights, known, np.array([weights[t] for t in known], np.float64) / total)

    def _known_form(self, word: Term) -> tuple[Term, bool]:
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
        term, store = word.term, self.store
        if store.df(term):
            return word, False
        if word.tag in KOREAN_NOUNS and len(term) >= 2 and HANGUL.search(term) and self.params.affix_discount > 0:
            # Kiwi reads "크렘린궁" as one proper noun, so a question's "크렘린" matches nothing;
            # the commonest index noun that begins or ends with it stands in, at a discount.
            near = [(df, t) for t, df in store.affix_terms(term).items() if HANGUL.search(t)]
            return (Term(max(near)[1], word.surface, word.tag), True) if near else (word, False)
        if len(term) < 7 or not term.isascii() or not term.isalpha():
            return word, False
        for cut in (1, 2):
            if len(term) - cut >= 6 and store.df(term[:-cut]):
                return Term(term[:-cut], word.surface, word.tag), False
        if len(term) >= 8:
            near = [(df, e) for e, df in store.near_terms(term).items()]
            if near:
                return Term(max(near)[1], word.surface, word.tag), False
        return word, False

    def _retrieve(self, query: _Query, k: int) -> tuple[list[tuple[int, float]], dict[int, _Coverage]]:
        """BM25 over passages, then the top `rerank_depth` re-scored with what BM25 cannot see:
        whether one sentence (or two neighbouring ones) says what was asked rather than the words
        being scattered, whether the article's title names the subject, and whether the
        question's neighbouring words stand side by side in the passage too."""
        p = self.params
        depth = max(k, p.rerank_depth)
        hits = self.store.search(query.terms, k=depth)
        self._bm25_hits = hits
        if not hits:
            return [], {}
        coverage = self._coverage([h for h, _ in hits], query)
        if any(w > 0 for w in (p.rerank_sentence, p.rerank_passage, p.rerank_title, p.rerank_phrase, p.rerank_window)):
            top = hits[0][1]
            total = sum(query.weights.values()) or 1.0
            rescored = []
            for h, score in hits:
                c = coverage[h]
                title = self._title_of(h) if p.rerank_title > 0 else frozenset()
                in_title = sum(w for t, w in query.weights.items() if t in title) / total
                pairs = self._pairs(self.view(h), query.terms) if p.rerank_phrase > 0 else set()
                phrases = len(pairs & _adjacent(c.tokens)) / len(pairs) if pairs else 0.0
                window = c.window(query.weights_arr)
                rescored.append((
                    h, score / top + p.rerank_sentence * c.best + p.rerank_passage * c.passage
                    + p.rerank_title * in_title + p.rerank_phrase * phrases + p.rerank_window * window,
                ))  # fmt: skip
            rescored.sort(key=lambda x: -x[1])
            hits = rescored
        return hits[:k], coverage

    @staticmethod
    def _pairs(view: PassageView, terms: list[str]) -> set[tuple[int, int]]:
        """Neighbouring question words as term-id pairs (in the passage's id space): "national
        anthem" in a passage is more than "national" and "anthem" somewhere in it."""
        seq = view.ids(terms).tolist()
        return {(x, y) for x, y in zip(seq, seq[1:]) if x >= 0 and y >= 0 and x != y}

    def _title_of(self, passage: int) -> frozenset[str]:
        """Terms of the passage's article title, analysed once per title: titles are not in the
        index, and a question that names an article's subject should favour that article."""
        title = self.view(passage).article.title
        terms = self._title_terms.get(title)
        if terms is None:
            terms = self._title_terms[title] = frozenset(self.analyzer.terms(title))
        return terms

    def _coverage(self, passages: list[int], query: _Query) -> dict[int, _Coverage]:
        """Per passage, which question terms each sentence holds and their share of idf mass."""
        qw = query.weights_arr
        nq = len(query.known)
        out: dict[int, _Coverage] = {}
        for p in passages:
            view = self.view(p)
            ns = view.n_sentences
            qids = view.ids(query.known)  # the question's known terms in this passage's id space
            valid = np.flatnonzero(qids >= 0)
            if nq == 0 or ns == 0 or len(valid) == 0:
                out[p] = _Coverage(np.zeros((ns, nq), bool), np.zeros(ns), 0.0, 0.0, np.asarray(view.tokens))
                continue
            ptr, toks = view.tok_ptr, view.tokens
            order = valid[np.argsort(qids[valid])]
            sq = qids[order]
            where = np.searchsorted(sq, toks)
            np.minimum(where, len(sq) - 1, out=where)
            pos = np.flatnonzero(sq[where] == toks)
            present = np.zeros((ns, nq), bool)
            present[np.searchsorted(ptr, pos, side="right") - 1, order[where[pos]]] = True
            cov = present @ qw
            out[p] = _Coverage(present, cov, float(cov.max()), float(present.any(axis=0) @ qw), toks)
        return out

    def _candidates(self, hits: list[tuple[int, float]], coverage: dict[int, _Coverage], asked: Question, query: _Query) -> list[_Cand]:
        """Every sentence that shares a word with the question, scored. Inside a passage the words
        that single out a sentence are those rare *in that passage*: in an article about Tesla,
        "Tesla" is in every sentence and says nothing about which one answers. The weights were
        fitted on half of KorQuAD and half of XQuAD together and checked on the other halves;
        the speaker and definition rules are checked in docs/quality.md ("Fifth round")."""
        top = hits[0][1]
        kind, question, qw = asked.kind, asked.text, query.weights_arr
        cue = ANSWER_CUES.get(kind)
        prm = self.params
        asked_numbers = set(NUMBER.findall(question)) if kind in ("number", "when") else None
        asked_names = set(NAME.findall(question)) if kind in ("who", "where") else None
        speaker = self._columns(asked.speaker, query) if prm.speaker_weight > 0 else None
        defines = definition_pattern(asked.subject, asked.language) if prm.definition_weight > 0 else None
        say = ANSWER_CUES["say"]
        out: list[_Cand] = []
        for p, pscore in hits:
            pc = coverage[p]
            cov_by_sent = pc.sentences
            if pc.best <= 0:
                continue
            view = self.view(p)
            text = view.text
            present = pc.present
            local = qw * np.log1p(view.n_sentences / np.maximum(present.sum(axis=0), 1))
            local_cov = present @ (local / (local.sum() or 1.0))
            count_cov = present.mean(axis=1)
            named = present[:, speaker].any(axis=1) if speaker is not None else None
            for i in np.flatnonzero(cov_by_sent > 0).tolist():
                s, e = view.sentence(i)
                sentence = text[s:e]
                new_number = asked_numbers is not None and bool(set(NUMBER.findall(sentence)) - asked_numbers)
                if new_number and asked.amount:
                    new_number = bool(AMOUNT.search(sentence))  # "how much": an amount, not a date
                speech = bool(say.search(sentence))
                speaks = named is not None and bool(named[i] or (i > 0 and named[i - 1])) and speech
                defined = bool(defines and defines.search(sentence))
                score = (
                    prm.passage_weight * (pscore / top) + prm.local_weight * float(local_cov[i])
                    + prm.count_weight * float(count_cov[i]) + prm.cue_weight * bool(cue and cue.search(sentence))
                    + prm.new_number_weight * new_number
                    + prm.new_name_weight * bool(asked_names is not None and set(NAME.findall(sentence, 1)) - asked_names)
                    + prm.definition_weight * defined
                )  # fmt: skip
                out.append(_Cand(p, i, s, e, score, detect_language(sentence), speech, speaks))
        best = max(out, key=lambda c: c.score) if out else None
        if speaker is not None and best is not None and prm.speaker_weight > 0 and not best.speech:
            # A "say" question is answered by speech. When the best sentence carries none (it
            # holds the most question words: "Musk invited Putin…" for "What did the Kremlin say
            # about Musk's invitation?"), the sentences where the named speaker speaks come first.
            # Only then: "The Tesla and SpaceX CEO then said…" answers "What did Musk say?" without the name.
            # With weight 1 every such sentence outranks every other.
            lift = prm.speaker_weight * best.score
            for c in out:
                c.score += lift * c.speaks
        if not out:  # the passages matched only through frame words: keep their best sentences
            for p, pscore in hits[:1]:
                s, e = self.view(p).sentence(0)
                out.append(_Cand(p, 0, s, e, pscore / top, "en"))
        return out

    def _columns(self, phrase: str, query: _Query) -> list[int] | None:
        """Which of the query's known terms (columns of `_Coverage.present`) a phrase of the
        question holds, e.g. the speaker of "What did the Kremlin say…"; None when none."""
        if not phrase:
            return None
        terms = {self._known_form(w)[0].term for w in self.analyzer.question_words(phrase)}
        cols = [i for i, t in enumerate(query.known) if t in terms]
        return cols or None

    def _group(
        self, pool: list[_Cand], max_quotes: int, terms: set[str], coverage: dict[int, _Coverage], qw: npt.NDArray[np.float64],
        first: list[_Cand] | None = None,
    ) -> tuple[list[Quote], list[Quote]]:
        """Best sentences first; `first`, when given, is the first quote as `_best_window` chose
        it. A neighbour within the paragraph joins a later quote (in text order) only when it adds
        question words the quote lacks: a neighbour that repeats the same words would only make
        the quote longer."""
        best = pool[0].score
        chosen: list[_Cand] = []
        for c in pool:
            if c.score < self.params.keep_ratio * best and len(chosen) >= 1:
                break
            chosen.append(c)
            if len(chosen) >= max_quotes + MORE_QUOTES:
                break
        groups: list[list[_Cand]] = []
        taken = {(c.passage, c.sent) for c in first or ()}
        for c in chosen:
            if (c.passage, c.sent) in taken:
                continue
            for g in groups:
                if g[0].passage == c.passage and any(abs(x.sent - c.sent) == 1 for x in g):
                    present = coverage[c.passage].present
                    held = present[[x.sent for x in g]].any(axis=0)
                    span = max(c.end, *(x.end for x in g)) - min(c.start, *(x.start for x in g))
                    if span <= self.params.join_chars and float((present[c.sent] & ~held) @ qw) >= self.params.join_gain:
                        g.append(c)
                        break
            else:
                groups.append([c])
        quotes = []
        used: set[tuple[int, int]] = set()  # (passage, sentence) already quoted: no quote repeats another
        if first:
            used.update(taken)
            quotes.append(self._quote(first, terms))
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
            g = self._extend(g, coverage, used)
            used.update((c.passage, c.sent) for c in g)
            quote = self._quote(g, terms)
            if any(_same_text(quote.text, q.text) for q in quotes):
                continue  # the same sentences in another article (an updated copy, a wire story reprinted)
            quotes.append(quote)
        return quotes[:max_quotes], quotes[max_quotes : max_quotes + MORE_QUOTES]

    def _best_window(self, pool: list[_Cand]) -> list[_Cand] | None:
        """The first quote: the best sentence, in a run of at most three neighbouring sentences
        when the others add enough chance of holding the answer for their length. Scores become chances
        through a softmax over every candidate; a neighbour that shares no word with the
        question adds none but still costs its length. The best sentence itself is always
        kept: a shorter, less likely sentence is never preferred to it."""
        prm = self.params
        if prm.window_temperature <= 0 or not pool:
            return None
        head = pool[0]
        cost = prm.window_char_cost_ko if head.sentence_lang == "ko" else prm.window_char_cost
        scores = np.array([c.score for c in pool])
        chance = np.exp(prm.window_temperature * (scores - scores.max()))
        chance /= chance.sum()
        mine = {c.sent: (float(pr), c) for c, pr in zip(pool, chance) if c.passage == head.passage}
        view = self.view(head.passage)
        n = view.n_sentences
        spans = {i: view.sentence(i) for i in range(max(head.sent - 2, 0), min(head.sent + 3, n))}
        best = (float("-inf"), head.sent, head.sent)
        for lo in range(max(head.sent - 2, 0), head.sent + 1):
            for hi in range(head.sent, min(lo + 3, n)):
                mass = sum(mine[i][0] for i in range(lo, hi + 1) if i in mine)
                value = mass - cost * (spans[hi][1] - spans[lo][0])
                if value > best[0]:
                    best = (value, lo, hi)
        _, lo, hi = best
        return [mine[i][1] if i in mine else _Cand(head.passage, i, *spans[i], 0.0, head.sentence_lang) for i in range(lo, hi + 1)]

    def _extend(self, group: list[_Cand], coverage: dict[int, _Coverage], used: set[tuple[int, int]]) -> list[_Cand]:
        """A short quote takes in the neighbouring sentence that shares most of the question
        (context a reader needs, e.g. who "he" is), as long as the quote stays within
        `context_chars`; a sentence that is long already is quoted alone."""
        limit = self.params.context_chars
        group = sorted(group, key=lambda c: c.sent)
        first, last = group[0], group[-1]
        if limit <= 0 or last.end - first.start >= limit:
            return group
        p = first.passage
        view = self.view(p)
        cov = coverage[p].sentences
        options = []
        for i in (first.sent - 1, last.sent + 1):
            if 0 <= i < view.n_sentences and (p, i) not in used:
                s, e = view.sentence(i)
                if max(e, last.end) - min(s, first.start) <= limit and cov[i] >= self.params.context_min:
                    options.append((float(cov[i]), i, s, e))
        if not options:
            return group
        _, i, s, e = max(options, key=lambda o: (o[0], o[1] > first.sent))
        extra = _Cand(p, i, s, e, 0.0, first.sentence_lang)
        return sorted([*group, extra], key=lambda x: x.sent)

    def _quote(self, group: list[_Cand], terms: set[str]) -> Quote:
        group = sorted(group, key=lambda c: c.sent)
        p = group[0].passage
        view = self.view(p)
        text = normalize_space(view.text[group[0].start : group[-1].end])
        source = source_of(view)
        spans = self._highlights(text, terms)
        return Quote(text, source, max(c.score for c in group), p, tuple(c.sent for c in group), spans)

    def _highlights(self, text: str, terms: set[str]) -> tuple[tuple[int, int], ...]:
        """Spans of question words in a quote, found without running Kiwi again (it would cost
        more than the whole search): Latin words through the English pipeline, Korean terms by
        string search (a one-syllable term only where a word starts)."""
        spans: list[tuple[int, int]] = []
        for m in WORD.finditer(text):
            w = m.group()
            if (w[0].isdigit() or LATIN.match(w)) and self.analyzer.english_term(w) in terms:
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

    def _abstain(
        self, question: str, lang: Language, kind: str, words: list[Term], signals: dict[str, float] | None = None,
        chance: float = 0.0,
    ) -> Answer:  # fmt: skip
        message = with_examples(ABSTAIN_MESSAGE[lang], lang, suggestions(self.store, lang, 1))
        return Answer(
            question=question, language=lang, answered=False, message=message, kind=kind,
            terms=_surfaces(words), confidence=chance, verdict="abstain", signals=signals or {},
        )  # fmt: skip


def source_of(view: PassageView) -> Source:
    art = view.article
    return Source(art.id, art.title, view.paragraph, view.language, art.source, art.url, art.date)


@dataclass(frozen=True, slots=True)
class _Query:
    terms: list[str]  # every analysed word, for BM25
    weights: dict[str, float]  # content term -> idf (unknown terms get the idf of a one-off term)
    known: list[str]  # the content terms the store knows
    weights_arr: npt.NDArray[np.float64]  # their idf as a share of all content idf


@dataclass(frozen=True, slots=True)
class _Coverage:
    present: npt.NDArray[np.bool_]  # sentence x content term: does the sentence hold the term
    sentences: npt.NDArray[np.float64]  # each sentence's share of the question's idf mass
    best: float  # the best sentence's share
    passage: float  # the whole passage's share
    tokens: npt.NDArray[np.integer]  # the passage's term ids in text order (read here once, for phrases too)

    def window(self, weights: npt.NDArray[np.float64]) -> float:
        """The best two neighbouring sentences' share of the question (a question often spans
        a sentence and the one that says "it")."""
        if len(self.present) < 2:
            return self.best
        return float(((self.present[1:] | self.present[:-1]) @ weights).max())


@dataclass(slots=True)
class _Cand:
    passage: int
    sent: int  # sentence number inside the passage
    start: int
    end: int
    score: float
    sentence_lang: Language
    speech: bool = False  # carries reported speech (a "say" cue)
    speaks: bool = False  # ...and the speaker a "say" question names is in it or in the sentence before


def _same_text(a: str, b: str) -> bool:
    """One quote repeats another: the same words, or one inside the other."""
    a, b = a.casefold(), b.casefold()
    return a in b or b in a


def _adjacent(tokens: npt.NDArray[np.integer]) -> set[tuple[int, int]]:
    ids = tokens.tolist()
    return set(zip(ids, ids[1:]))


def _surfaces(words: list[Term]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for w in words:
        if w.term not in FRAME_TERMS:
            seen.setdefault(w.surface, None)
    return tuple(seen)
