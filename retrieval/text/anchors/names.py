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


_TERM, _INITIAL, _ACRONYM, _BREAK, _NAME = range(5)


class LatinTokens:
    """What each capitalised token is, remembered (a corpus repeats its names and titles)."""

    def __init__(self, glossary: Glossary, settings: NameSettings, size: int = 200_000) -> None:
        self.glossary = glossary
        self.settings = settings
        self._seen: dict[str, tuple[int, str]] = {}
        self._size = size

    def get(self, token: str) -> tuple[int, str]:
        got = self._seen.get(token)
        if got is None:
            if len(self._seen) >= self._size:
                self._seen.clear()
            got = self._seen[token] = _token(token, self.glossary, self.settings)
        return got


def _token(token: str, glossary: Glossary, settings: NameSettings) -> tuple[int, str]:
    """What a capitalised token is: a glossary form, an initial, an acronym, a word that ends a
    name (stop word, glossary word, month), or a name word with its skeleton."""
    word = _POSSESSIVE.sub("", token.rstrip("."))
    key = glossary.surface.get(token) or glossary.surface.get(word)
    if key is not None:
        return _TERM, f"term:{key}"
    if len(word) == 1:
        return _INITIAL, word
    letters = word.replace(".", "")
    lower = letters.lower()
    if letters.isupper() and len(letters) <= settings.acronym_max:
        return _ACRONYM, "" if lower in glossary.english_words else f"acr:{lower}"
    if lower in _NOT_NAMES or lower in glossary.english_words:
        return _BREAK, ""
    return _NAME, latin_skeleton(letters)


def latin_names(text: str, tokens: LatinTokens) -> list[tuple[str, int]]:
    """(key, offset) of the Latin-script names and acronyms of a sentence, and of the glossary
    forms matched as written (`term:` keys: U.S., UN, N. Korea, =House)."""
    glossary, settings, lookup = tokens.glossary, tokens.settings, tokens.get
    out: list[tuple[str, int]] = []
    run: list[str] = []
    run_start = last_end = -1
    prev = ""
    for m in CAP_TOKEN.finditer(text):
        token = m.group()
        start = m.start()
        joined = start == last_end + 1 and text[last_end] in " -"
        if run and not joined and not _particles_only(text[last_end:start]):
            _keys(run, run_start, settings, out)
            run = []
        last_end = m.end()
        kind, value = lookup(token)
        if prev and joined and kind != _TERM:  # N. Korea, S. Korea
            key = glossary.surface.get(f"{prev} {token.rstrip('.')}")
            if key is not None:
                kind, value = _TERM, f"term:{key}"
        prev = token if kind == _INITIAL else ""
        if kind == _NAME:
            if not run:
                run_start = start
            run.append(value)
        elif kind != _INITIAL:  # an initial neither adds a key nor ends the name
            if run:
                _keys(run, run_start, settings, out)
                run = []
            if value:
                out.append((value, start))
    if run:
        _keys(run, run_start, settings, out)
    return out


def _particles_only(gap: str) -> bool:
    words = gap.split()
    return bool(words) and gap.startswith(" ") and gap.endswith(" ") and all(w in _PARTICLES for w in words)


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
        yield from _korean_run(run, run_at, settings)
        run = []
    yield from _korean_run(run, run_at, settings)


def _is_hangul_name(term: str, tag: str, glossary: Glossary, settings: NameSettings) -> bool:
    if tag == "NNP":
        return "\uac00" <= term[0] <= "\ud7a3" and term not in glossary.korean_words
    if tag == "NNG" and settings.loanword_nouns and len(term) >= settings.min_loanword_syllables:
        return any(ch in _EPENTHETIC for ch in term) and term not in glossary.korean_words
    return False


def _korean_run(words: Sequence[str], at: int, settings: NameSettings) -> Iterator[tuple[str, int]]:
    if not words:
        return
    out: list[tuple[str, int]] = []
    _keys([hangul_skeleton(w) for w in words], at, settings, out)
    yield from out
    for w in words:
        if len(w) == 3 and w[0] in settings.surnames:
            given = hangul_skeleton(w[1:])
            if len(given) >= settings.min_length:
                yield f"name:{given}", at


def korean_word_keys(word: str, glossary: Glossary, settings: NameSettings) -> tuple[str, ...]:
    """The keys one Hangul proper noun gives on its own: its glossary term, else its name keys."""
    term = glossary.korean.get((word,))
    if term is not None:
        return (f"term:{term}",)
    return tuple(dict.fromkeys(k for k, _ in _korean_run([word], 0, settings)))
