"""Names of people, places and organisations as skeleton keys (`name:kmsnkl`), both scripts.

English (and Latin words inside Korean text): runs of capitalised words. A run is broken by a
stop word, a glossary word (titles, countries: the glossary gives those their own keys) and
punctuation; an initial (George W. Bush) neither breaks it nor adds a key. All-capital words of
up to five letters are acronyms (`acr:cnn`, matched as written); longer ones are datelines
(BRUSSELS) and read as a capitalised word. Korean: the proper nouns Kiwi tagged (NNP) when the
passage was analysed, and optionally nouns that look transliterated (카스파로프 is an NNG to
Kiwi): no second Kiwi pass.

Each name word gives its skeleton; a run of two or more also gives the skeleton of the whole run
(John Gordon ↔ 존 고든 as one key, Roh Moo-hyun ↔ 노무현). A Korean personal name (three
syllables, a common surname first) also gives its given name (무현 ↔ Moo-hyun). Skeletons shorter
than `min_length` are no keys at all: "n" or "s" would tie half the corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from retrieval.text.anchors.glossary import Glossary
from retrieval.text.anchors.numbers import MONTHS
from retrieval.text.anchors.skeleton import hangul_skeleton, latin_skeleton
from retrieval.text.english import STOP_WORDS


@dataclass(frozen=True, slots=True)
class NameSettings:
    min_length: int = 2  # shortest skeleton that is a key
    loanword_nouns: bool = True  # also Hangul common nouns that look transliterated (카스파로프)
    min_loanword_syllables: int = 3
    acronym_max: int = 5  # all-capital words up to this long are acronyms, longer ones datelines
    surnames: str = (
        "김이박최정강조윤장임한오서신권황안송류유홍전고문양손배백허남심노하곽성차주우구민나진지엄채원천방공"
        "현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용"
    )


# A capitalised token: a dotted acronym (U.S.), or letters (any Latin script) with inner
# apostrophes and hyphens and a trailing dot.
# The capital comes first in the pattern so that the scan skips to it in C.
CAP_TOKEN = re.compile(
    r"[A-Z\u00C0-\u00DE](?<!\w.)(?:\.(?:[A-Z]\.)+|[A-Za-z\u00C0-\u024F]*(?:['’\-][A-Za-z\u00C0-\u024F]+)*\.?)"
)
# Months and weekdays are dates, not names (Sept., Monday).
_NOT_NAMES = (
    STOP_WORDS
    | frozenset(MONTHS)
    | frozenset(
        "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun".split()
    )
)
_POSSESSIVE = re.compile(r"['’]s$")
# Name particles that do not break a run (Osama bin Laden, Ludwig van Beethoven).
_PARTICLES = frozenset({"bin", "van", "von", "de", "da", "del", "der", "al", "el", "la", "le", "di", "du", "ibn"})
# Hangul syllables with the epenthetic vowel ㅡ and no final: the mark of a transliteration (스, 프, 트).
_EPENTHETIC = frozenset(chr(0xAC00 + i * 588 + 18 * 28) for i in (0, 2, 3, 5, 6, 7, 9, 12, 14, 15, 16, 17))


_TERM, _INITIAL, _ACRONYM, _BREAK, _GLOSS, _NAME = range(6)
# Lower-case words after a hyphen that describe, not name (Dallas-based, Melbourne-bound).
_HYPHEN_SUFFIXES = frozenset(
    "based born led bound backed owned run made style era type like controlled sponsored related speaking "
    "language american korean brokered funded linked dominated friendly wide".split()
)
# Lower-case words that may stand inside a glossary name (Department of Energy).
_JOINERS = frozenset({"of", "for", "and"})


class LatinTokens:
    """What each capitalised token is, remembered (a corpus repeats its names and titles)."""

    def __init__(self, glossary: Glossary, settings: NameSettings, size: int = 200_000) -> None:
        self.glossary = glossary
        self.settings = settings
        self._seen: dict[str, tuple[int, str, tuple[str, ...]]] = {}
        self._size = size

    def get(self, token: str) -> tuple[int, str, tuple[str, ...]]:
        got = self._seen.get(token)
        if got is None:
            if len(self._seen) >= self._size:
                self._seen.clear()
            got = self._seen[token] = _token(token, self.glossary, self.settings)
        return got


def _token(token: str, glossary: Glossary, settings: NameSettings) -> tuple[int, str, tuple[str, ...]]:
    """(kind, lower-case word or key, skeletons) of a capitalised token: a glossary form as
    written, an initial, an acronym, a word that ends a name (stop word, month), a glossary
    word (inside a name it may belong to a glossary phrase), or a name word. A name word's
    skeletons: the whole word's first, then each capitalised part of a hyphenated word."""
    word = _POSSESSIVE.sub("", token.rstrip("."))
    key = glossary.surface.get(token) or glossary.surface.get(word)
    if key is not None:
        return _TERM, f"term:{key}", ()
    if len(word) == 1:
        return _INITIAL, word, ()
    parts = word.split("-")
    while len(parts) > 1 and parts[-1] in _HYPHEN_SUFFIXES:
        parts.pop()
    word = "-".join(parts)
    letters = word.replace(".", "")
    lower = letters.lower()
    if letters.isupper() and len(letters) <= settings.acronym_max:
        return _ACRONYM, ("" if lower in glossary.english_words else f"acr:{lower}"), ()
    if lower in _NOT_NAMES:
        return _BREAK, lower, ()
    if lower in glossary.english_single or lower.removesuffix("s") in glossary.english_single:
        return _GLOSS, lower, ()
    if len(parts) == 1:
        return _NAME, lower, (latin_skeleton(letters),)
    skeletons = [latin_skeleton(parts[0])] + [latin_skeleton(p, surname=False) for p in parts[1:]]
    extra = tuple(s for p, s in zip(parts, skeletons, strict=True) if p[:1].isupper()) if parts[1][:1].isupper() else ()
    return _NAME, lower, (_join(skeletons), *extra)


def latin_names(text: str, tokens: LatinTokens) -> list[tuple[str, int]]:
    """(key, offset) of the Latin-script names and acronyms of a sentence, and of the glossary
    forms matched as written (`term:` keys: U.S., UN, N. Korea, =House)."""
    glossary, lookup = tokens.glossary, tokens.get
    out: list[tuple[str, int]] = []
    run: list[tuple[str, tuple[str, ...]]] = []
    run_start = last_end = -1
    prev = ""
    for m in CAP_TOKEN.finditer(text):
        token = m.group()
        start = m.start()
        joined = start == last_end + 1 and text[last_end] in " -"
        if run and not joined:
            gap = text[last_end:start]
            joiner = _joiner(gap)
            if joiner:
                run.append((joiner, ()))
            else:
                _flush(run, run_start, tokens, out)
                run = []
        last_end = m.end()
        kind, value, skeletons = lookup(token)
        if prev and joined and kind != _TERM:  # N. Korea, S. Korea
            key = glossary.surface.get(f"{prev} {_POSSESSIVE.sub('', token.rstrip('.'))}")
            if key is not None:
                kind, value = _TERM, f"term:{key}"
        prev = token if kind == _INITIAL else ""
        if kind == _NAME or kind == _GLOSS:
            if not run:
                run_start = start
            run.append((value, skeletons))
        elif kind != _INITIAL:  # an initial neither adds a key nor ends the name
            if run:
                _flush(run, run_start, tokens, out)
                run = []
            if kind != _BREAK and value:
                out.append((value, start))
    if run:
        _flush(run, run_start, tokens, out)
    return out


def _joiner(gap: str) -> str:
    """The one lower-case word between two capitalised ones when it may join them, else ""."""
    if len(gap) < 3 or gap[0] != " " or gap[-1] != " ":
        return ""
    words = gap.split()
    if len(words) != 1:
        return ""
    w = words[0]
    return w if w in _JOINERS or w in _PARTICLES else ""


def _flush(
    run: Sequence[tuple[str, tuple[str, ...]]], start: int, tokens: LatinTokens, out: list[tuple[str, int]]
) -> None:
    """A run's glossary phrases (Energy Department) are left to the glossary; the rest, split
    at glossary words and joiners, are names."""
    phrases = tokens.glossary.english_phrases
    longest = tokens.glossary.longest_phrase
    names: list[str] = []
    i, n = 0, len(run)
    while i < n:
        for length in range(min(longest, n - i), 1, -1):
            if tuple(w for w, _ in run[i : i + length]) in phrases:
                i += length
                break
        else:
            word, skeletons = run[i]
            i += 1
            if not skeletons and word in _PARTICLES:
                continue  # bin, van: inside the name
            if skeletons:
                names.append(skeletons[0])
                for extra in skeletons[1:]:
                    if len(extra) >= tokens.settings.min_length:
                        out.append((f"name:{extra}", start))
                continue
            # a glossary word or a joiner ends the name
        if names:
            _keys(names, start, tokens.settings, out)
            names = []
    if names:
        _keys(names, start, tokens.settings, out)


def _keys(skeletons: Sequence[str], start: int, settings: NameSettings, out: list[tuple[str, int]]) -> None:
    for s in skeletons:
        if len(s) >= settings.min_length:
            out.append((f"name:{s}", start))
    if len(skeletons) > 1:
        whole = _join(skeletons)
        if len(whole) >= settings.min_length:
            out.append((f"name:{whole}", start))


def _join(skeletons: Sequence[str]) -> str:
    out: list[str] = []
    for c in "".join(skeletons):
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


# Generic heads written onto a proper noun (콴타스항공, 베이징시, 로도스섬, 신화통신): the name
# before them is also a key, or a glossary term (베이징).
KOREAN_HEADS = (
    "항공", "통신", "대학교", "대학", "그룹", "공항", "은행", "신문", "방송", "전자", "증권", "재단", "연구소",
    "섬", "시", "만", "해", "강", "산", "주", "도", "사", "당", "호", "궁", "역", "항", "족", "어", "인", "군",
)  # fmt: skip


def korean_names(
    terms: Sequence[str], tags: Sequence[str], glossary: Glossary, settings: NameSettings
) -> Iterator[tuple[str, int]]:
    """(key, term index) of the Hangul names among a Korean sentence's analysed terms."""
    run: list[str] = []
    run_at = -1
    for i, (term, tag) in enumerate(zip(terms, tags, strict=False)):
        if _is_hangul_name(term, tag, glossary, settings):
            if not run:
                run_at = i
            run.append(term)
            continue
        if tag == "NNC":
            continue  # a compound term follows its parts: it neither ends nor joins a run
        yield from _korean_run(run, run_at, glossary, settings)
        run = []
    yield from _korean_run(run, run_at, glossary, settings)


def _is_hangul_name(term: str, tag: str, glossary: Glossary, settings: NameSettings) -> bool:
    if tag == "NNP":
        return "\uac00" <= term[0] <= "\ud7a3" and term not in glossary.korean_words
    if tag == "NNG" and settings.loanword_nouns and len(term) >= settings.min_loanword_syllables:
        return any(ch in _EPENTHETIC for ch in term) and term not in glossary.korean_words
    return False


def _korean_run(words: Sequence[str], at: int, glossary: Glossary, settings: NameSettings) -> Iterator[tuple[str, int]]:
    if not words:
        return
    out: list[tuple[str, int]] = []
    _keys([hangul_skeleton(w) for w in words], at, settings, out)
    for w in words:
        if len(w) == 3 and w[0] in settings.surnames:
            given = hangul_skeleton(w[1:])
            if len(given) >= settings.min_length:
                out.append((f"name:{given}", at))
        for head in KOREAN_HEADS:
            if w.endswith(head) and len(w) - len(head) >= 2:
                stem = w[: -len(head)]
                term = glossary.korean.get((stem,))
                if term is not None:
                    out.append((f"term:{term}", at))
                elif len(s := hangul_skeleton(stem)) >= settings.min_length:
                    out.append((f"name:{s}", at))
                break
    yield from out


def korean_word_keys(word: str, glossary: Glossary, settings: NameSettings) -> tuple[str, ...]:
    """The keys one Hangul proper noun gives on its own: its glossary term, else its name keys."""
    term = glossary.korean.get((word,))
    if term is not None:
        return (f"term:{term}",)
    return tuple(dict.fromkeys(k for k, _ in _korean_run([word], 0, glossary, settings)))
