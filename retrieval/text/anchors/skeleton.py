"""Consonant skeletons: one spelling-neutral key for a name written in Hangul or in Latin letters.

A name crosses scripts by sound, and Korean renders a foreign name's consonants far more
faithfully than its vowels (John Gordon → 존 고든, Kasparov → 카스파로프), so a name is reduced
to its consonant classes: p (b p f v ㅂ ㅃ ㅍ), k (g k c q ㄱ ㄲ ㅋ), t (d t ㄷ ㄸ ㅌ), s (s z j ch sh
ㅅ ㅆ ㅈ ㅉ ㅊ), l (l r ㄹ), m, n; vowels, h, w and y are dropped and a repeated class counts once.

`revised_skeleton` is the starting point (Revised Romanization letters, reduced the same way);
`hangul_skeleton` and `latin_skeleton` add what Korean loanword spelling does: an English r
before a consonant or at the end is not written (Gordon 고든, Carter 카터), a final ㅅ is a t
(로봇 robot), a final th is an s (Smith 스미스), a soft c is an s (Cecil), x is ks. Romanised
Korean surnames whose Latin spelling hides the Hangul initial (Lee 이, Roh 노, Lim 임) are read
through a small table.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

CLASSES = "pktslmn"

_CLASS = {ch: c for chars, c in (("bpfv", "p"), ("gkcq", "k"), ("dt", "t"), ("sjz", "s"), ("lr", "l")) for ch in chars}
_CLASS.update({"m": "m", "n": "n"})

# Hangul jamo indices (initial 19, medial 21, final 28) to classes.
_INITIAL = ("k", "k", "n", "t", "t", "l", "m", "p", "p", "s", "s", "", "s", "s", "s", "k", "t", "p", "")
_FINAL = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
          "t", "t", "nk", "t", "t", "k", "t", "p", "t")  # fmt: skip
# Revised Romanization (2000) letters, for the starting-point skeleton.
_RR_INITIAL = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
_RR_MEDIAL = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
              "yu", "eu", "ui", "i")  # fmt: skip
_RR_FINAL = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
             "t", "t", "ng", "t", "t", "k", "t", "p", "t")  # fmt: skip

# Romanised Korean surnames whose letters do not give the Hangul initial: the skeleton of the
# Hangul surname (이 Lee/Rhee/Yi, 노 Roh/Rho, 임 Lim/Rim, 류 Ryu/Yoo: Korean writes 유 as often).
SURNAMES = {
    "lee": "", "rhee": "", "rhie": "", "yi": "", "yee": "", "rhi": "", "roh": "n", "rho": "n", "noh": "n",
    "lim": "m", "rim": "m", "yim": "m", "im": "m", "ryu": "", "rhyu": "", "ryoo": "", "yoo": "", "yu": "",
}  # fmt: skip

_LATIN_RULES = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"[^a-z]", ""),
        (r"(.)\1", r"\1"),  # double letters
        (r"^x", "s"),  # Xinhua 신화
        (r"x", "ks"),
        (r"ph", "f"),
        (r"^gh", "g"),
        (r"gh(?=[aeiou])", "g"),  # Afghan
        (r"gh", ""),  # Hugh, Knight, Leigh
        (r"^kn", "n"),
        (r"^wr", "r"),
        (r"ck", "k"),
        (r"sch", "s"),
        (r"chr", "kr"),
        (r"th$", "s"),  # Smith 스미스, Keith 키스
        (r"th", "t"),
        (r"[ct][sz]", "s"),  # Schultz 슐츠
        (r"dg", "j"),
        (r"ge$|^ge", "je"),  # George 조지, Geneva 제네바 (Gibson keeps its g)
        (r"[cs]h", "s"),
        (r"c(?=[eiy])", "s"),
        (r"r(?![aeiouy])|re$", ""),  # Gordon 고든, Carter 카터, Clark 클라크, Moore 무어
    )
)


def _classes(letters: str) -> str:
    out: list[str] = []
    for ch in letters:
        c = _CLASS.get(ch)
        if c and (not out or out[-1] != c):
            out.append(c)
    return "".join(out)


def _fold(word: str) -> str:
    """Lower case, accents off (José → jose), letters only."""
    if word.isascii():
        return word.lower()
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().lower()


@lru_cache(maxsize=100_000)
def latin_skeleton(word: str, surname: bool = True) -> str:
    """Skeleton of a Latin-script word (hyphens and apostrophes inside are ignored)."""
    w = _fold(word)
    if surname and w in SURNAMES:
        return SURNAMES[w]
    for pattern, repl in _LATIN_RULES:
        w = pattern.sub(repl, w)
    return _classes(w)


def _jamo(word: str) -> list[tuple[int, int, int]]:
    out = []
    for ch in word:
        c = ord(ch) - 0xAC00
        if 0 <= c < 11172:
            out.append((c // 588, (c % 588) // 28, c % 28))
    return out


@lru_cache(maxsize=100_000)
def hangul_skeleton(word: str) -> str:
    """Skeleton of a Hangul word (other characters are ignored)."""
    parts = []
    for i, _m, f in _jamo(word):
        parts.append(_INITIAL[i])
        parts.append(_FINAL[f])
    out: list[str] = []
    for c in "".join(parts):
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def revised_romanization(word: str) -> str:
    """Revised Romanization letter by letter (no sound changes across syllables)."""
    return "".join(_RR_INITIAL[i] + _RR_MEDIAL[m] + _RR_FINAL[f] for i, m, f in _jamo(word))


def revised_skeleton(word: str) -> str:
    """The starting point: RR letters (or a Latin word as written), ch/sh as s, x as ks, then the classes."""
    letters = revised_romanization(word) if _jamo(word) else _fold(word)
    letters = letters.replace("ch", "s").replace("sh", "s").replace("x", "ks")
    return _classes(letters)


def skeleton(word: str) -> str:
    """Hangul or Latin, whichever the word is written in."""
    return hangul_skeleton(word) if _jamo(word) else latin_skeleton(word)
