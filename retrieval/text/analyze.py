"""Text analysis for Korean, English and mixed text: sentences and index terms.

Korean goes through Kiwi (content morphemes, so particles and endings never reach the index);
Latin-script text goes through case folding, stop words, irregular-verb lemmas and Snowball.
Each line of a passage is routed by script, and Latin runs inside Korean lines are handed back
to the English pipeline, because Kiwi cuts English words at odd places ("rep" + "orted.").
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import Stemmer

from retrieval.models import Language
from retrieval.text.english import IRREGULAR, STOP_WORDS

# Bumped whenever the terms produced for the same text change: stored indexes then rebuild.
ANALYZER_VERSION = 5

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
LATIN = re.compile(r"[A-Za-z]")
WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\d+")
WHITESPACE = re.compile(r"\s+")

# Kiwi tags worth indexing: nouns, numbers, roots, verb and adjective stems, hanja.
# Bound nouns (NNB: 것, 수, 년, 월) and pronouns are too common to tell passages apart.
KOREAN_CONTENT_TAGS = ("NNG", "NNP", "SN", "XR", "VV", "VA", "SH")
# Nouns that, written together without a space, also form one compound term.
COMPOUND_TAGS = frozenset({"NNG", "NNP", "XR"})
KOREAN_STOP = frozenset({"하", "되", "있", "않", "이", "그렇", "이렇", "어떻", "같", "보", "주", "말"})
LATIN_TAGS = ("SL", "SW", "SN")

# Abbreviations after which a period does not end an English sentence.
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt gen col lt sgt capt cmdr adm gov sen rep rev hon pres
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    inc corp co ltd llc plc bros dept univ assn est approx vs etc al fig no nos vol vols pp ed eds
    e.g i.e u.s u.k u.n u.s.a a.m p.m d.c ph.d b.a m.a""".split()
)
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+[\"'“‘«(\[]?[A-Z0-9\u0400-\u04ff])")


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence as character offsets into its passage, with the terms it contributes.

    `tags`: for a sentence of a Korean line, the Kiwi tag of each term (parallel to `terms`:
    NNP, NNG, SN, SL, ..., and NNC for a compound), so that later stages (anchors: proper nouns)
    read what Kiwi already said instead of running it again; empty for a sentence read the
    English way, whose terms are stems."""

    start: int
    end: int
    terms: tuple[str, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Term:
    """One analysed word of a question: the index term and where it stood in the text."""

    term: str
    surface: str
    tag: str


def normalize_space(text: str) -> str:
    """Quotes are shown with whitespace folded (non-breaking spaces, line breaks) and nothing else."""
    return WHITESPACE.sub(" ", text).strip()


def detect_language(text: str) -> Language:
    hangul = len(HANGUL.findall(text))
    latin = len(LATIN.findall(text))
    if hangul == 0 and latin == 0:
        return "en"
    share = hangul / (hangul + latin / 3)  # a Latin word has ~3x the letters of a Hangul word
    if share >= 0.8:
        return "ko"
    if share <= 0.1:
        return "en"
    return "mixed"


LANG_CODES: tuple[Language, ...] = ("ko", "en", "mixed")  # how a passage's language is stored


def passage_languages(texts: Sequence[str]) -> npt.NDArray[np.int8]:
    """`detect_language` of many texts, as LANG_CODES positions (int8): one rule for both."""
    code = {lang: i for i, lang in enumerate(LANG_CODES)}
    return np.fromiter((code[detect_language(t)] for t in texts), np.int8, len(texts))


def split_english(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of Latin-script text; abbreviations and initials do not end a sentence."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in SENTENCE_END.finditer(text):
        if m.group().startswith(".") and _is_abbreviation(text, m.start()):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        seg = text[s:e]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg.rstrip())
        if trail > lead:
            out.append((offset + s + lead, offset + s + trail))
    return out


def _is_abbreviation(text: str, dot: int) -> bool:
    i = dot
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    word = text[i:dot].strip("\"'“‘(").lower()
    if not word:
        return False
    if word in ABBREVIATIONS:
        return True
    # Initials such as "J." or "F.D.R." (but not a sentence ending in a one-letter word "I").
    return bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", word)) and word != "i"


class Analyzer:
    """Built once per process: it holds the Kiwi model, which takes a second or two to load."""

    def __init__(self, workers: int = 0) -> None:
        from kiwipiepy import Kiwi

        self.workers = workers or os.cpu_count() or 1
        # The multi-word dictionary doubles load time (2.3 s -> 4.8 s here) and we split its
        # multi-word nouns into words anyway.
        self._kiwi = Kiwi(num_workers=self.workers, load_multi_dict=False)
        self._kiwi.tokenize("모델을 불러옵니다.")  # Kiwi loads its model lazily; pay for it here, not in a question
        self._stemmers = threading.local()  # a PyStemmer object must not be shared by threads
        self._lock = threading.Lock()  # one Kiwi must not be entered from two threads at once

    # --- English ---------------------------------------------------------------------------
    @lru_cache(maxsize=200_000)  # noqa: B019 - the analyzer lives as long as the process
    def english_term(self, word: str) -> str | None:
        w = word.lower()
        if w[0].isdigit():
            return w.replace(",", "")
        if w in STOP_WORDS or len(w) == 1:
            return None
        w = IRREGULAR.get(w, w)
        stemmer = getattr(self._stemmers, "stemmer", None)
        if stemmer is None:
            stemmer = self._stemmers.stemmer = Stemmer.Stemmer("english")
        return stemmer.stemWord(w)

    def english_terms(self, text: str) -> list[str]:
        out = []
        for m in WORD.finditer(text):
            t = self.english_term(m.group())
            if t:
                out.append(t)
        return out

    def english_words(self, text: str) -> list[Term]:
        out = []
        for m in WORD.finditer(text):
            t = self.english_term(m.group())
            if t:
                out.append(Term(t, m.group(), "SN" if t[0].isdigit() else "SL"))
        return out

    # --- Korean ----------------------------------------------------------------------------
    def _korean_words(self, line: str, tokens: Sequence[object]) -> list[tuple[int, Term]]:
        """Content morphemes of a Korean line, with Latin runs re-read as English."""
        out: list[tuple[int, Term]] = []
        run_start = run_end = -1
        # Nouns written together ("민법통칙", "한남대교") are one word to a reader, but Kiwi cuts
        # the same compound differently in different contexts (one NNP here, 민법+통+칙 there).
        # So a run of two or more touching nouns is also indexed whole, as a compound term.
        nouns_start = nouns_end = -1
        nouns = 0
        for tok in tokens:
            tag: str = tok.tag  # type: ignore[attr-defined]
            start: int = tok.start  # type: ignore[attr-defined]
            end = start + tok.len  # type: ignore[attr-defined]
            base = tag.split("-")[0]
            if base in COMPOUND_TAGS and nouns and start == nouns_end:
                nouns_end, nouns = end, nouns + 1
            else:
                if nouns > 1:
                    out.append(self._compound(line, nouns_start, nouns_end))
                nouns_start, nouns_end, nouns = (start, end, 1) if base in COMPOUND_TAGS else (-1, -1, 0)
            if tag in LATIN_TAGS:
                if run_start >= 0 and start <= run_end + 1 and not line[run_end:start].strip():
                    run_end = end
                    continue
                out.extend(self._latin_run(line, run_start, run_end))
                run_start, run_end = start, end
                continue
            out.extend(self._latin_run(line, run_start, run_end))
            run_start = run_end = -1
            if base not in KOREAN_CONTENT_TAGS:
                continue
            form: str = tok.form  # type: ignore[attr-defined]
            if base in ("VV", "VA") and form in KOREAN_STOP:
                continue
            for part in form.split():
                out.append((start, Term(part, line[start:end], base)))
        if nouns > 1:
            out.append(self._compound(line, nouns_start, nouns_end))
        out.extend(self._latin_run(line, run_start, run_end))
        return out

    @staticmethod
    def _compound(line: str, start: int, end: int) -> tuple[int, Term]:
        surface = line[start:end]
        return start, Term("".join(surface.split()), surface, "NNC")

    def _latin_run(self, line: str, start: int, end: int) -> list[tuple[int, Term]]:
        if start < 0:
            return []
        out = []
        for m in WORD.finditer(line, start, end):
            t = self.english_term(m.group())
            if t:
                out.append((m.start(), Term(t, m.group(), "SN" if t[0].isdigit() else "SL")))
        return out

    # --- Passages --------------------------------------------------------------------------
    def analyze_passages(self, texts: Iterable[str], chunk: int = 64) -> Iterator[list[Sentence]]:
        """Sentences with terms for many passages; Kiwi spreads Korean lines over all workers.

        Kiwi is held for `chunk` passages at a time, so a question that shares this analyser
        waits for one chunk at most, never for a whole ingest."""
        texts = list(texts)
        for lo in range(0, len(texts), chunk):
            yield from self._analyze_chunk(texts[lo : lo + chunk])

    def _analyze_chunk(self, texts: list[str]) -> Iterator[list[Sentence]]:
        lines_of: list[list[tuple[int, str, bool]]] = []
        korean_lines: list[str] = []
        for text in texts:
            lines = []
            pos = 0
            for line in text.split("\n"):
                if line.strip():
                    is_ko = bool(HANGUL.search(line))
                    lines.append((pos, line, is_ko))
                    if is_ko:
                        korean_lines.append(line)
                pos += len(line) + 1
            lines_of.append(lines)
        with self._lock:  # only Kiwi itself needs it; turning tokens into terms happens outside
            parsed = iter(
                list(self._kiwi.split_into_sents(iter(korean_lines), return_tokens=True)) if korean_lines else ()
            )
        for lines in lines_of:
            sentences: list[Sentence] = []
            for pos, line, is_ko in lines:
                if is_ko:
                    sentences.extend(self._korean_sentences(line, pos, next(parsed)))
                else:
                    for s, e in split_english(line):
                        terms = tuple(self.english_terms(line[s:e]))
                        sentences.append(Sentence(pos + s, pos + e, terms))
            yield sentences

    def _korean_sentences(self, line: str, pos: int, kiwi_sents: Sequence[object]) -> list[Sentence]:
        out: list[Sentence] = []
        for ks in kiwi_sents:
            words = self._korean_words(line, ks.tokens)  # type: ignore[attr-defined]
            start, end = ks.start, ks.end  # type: ignore[attr-defined]
            segment = line[start:end]
            # Kiwi keeps whole English paragraphs as one sentence; split those the English way.
            spans = [(start, end)] if HANGUL.search(segment) else split_english(segment, start)
            for s, e in spans:
                kept = [t for off, t in words if s <= off < e]
                out.append(Sentence(pos + s, pos + e, tuple(t.term for t in kept), tuple(t.tag for t in kept)))
        return out

    def sentences(self, text: str) -> list[Sentence]:
        return next(self.analyze_passages([text]))

    def terms(self, text: str) -> list[str]:
        return [t for s in self.sentences(text) for t in s.terms]

    # --- Questions -------------------------------------------------------------------------
    def question_words(self, text: str) -> list[Term]:
        """Terms of a question with their surface form and tag (for typing and highlighting)."""
        if not HANGUL.search(text):
            return self.english_words(text)
        with self._lock:
            tokens = self._kiwi.tokenize(text)
        return [t for _, t in self._korean_words(text, tokens)]

    def morphemes(self, text: str) -> list[tuple[str, str, int, int]]:
        """(form, tag, start, end) of each Kiwi morpheme: for reading a Korean question's
        grammar (which noun a topic particle marks), not for search."""
        with self._lock:
            tokens = self._kiwi.tokenize(text)
        return [(t.form, t.tag, t.start, t.start + t.len) for t in tokens]  # type: ignore[attr-defined]

    def raw_korean_tokens(self, texts: Iterable[str]) -> Iterator[list[object]]:
        """Plain Kiwi tokenization on all workers: the yardstick for index-build overhead."""
        with self._lock:
            yield from self._kiwi.tokenize(iter(list(texts)))
