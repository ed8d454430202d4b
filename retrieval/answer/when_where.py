""" "When" is answered by a sentence with a date or a time, "where" by one with a place the
question does not already name.

* a date: what `numbers.py` keys as a date (1995년, March 29, 9월 11일, the 1990s), a Korean day
  of the month (27일, "27일(현지시간)": too vague for an anchor, but it is the answer to "언제"), a
  clock time, a weekday or a relative day (yesterday, 지난해);
* a place: a country, region or city of the glossary (`glossary.tsv`, both scripts), an English
  capitalised name after in/at/near/from/to, a wire dateline ("SINGAPORE (CNN)"), or a Korean
  word before 에서 / 에 있는; each only when the question does not hold it already ("Where is the
  second round of Korea-EU talks held?" is not answered by "Korea").
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from retrieval.errors import AnchorDataError
from retrieval.text.anchors.glossary import GLOSSARY_FILE
from retrieval.text.anchors.numbers import number_keys

_DATE_KINDS = ("year:", "decade:", "month:", "date:")
_TIME = re.compile(
    r"\b\d{1,2}(?::\d\d)?\s?(?:a\.m\.|p\.m\.|am|pm|GMT)\b|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"yesterday|today|tomorrow|tonight|overnight|(?:last|next|this)\s+(?:week|month|year|spring|summer|fall|autumn|winter)|"
    r"\d+\s+(?:years?|months?|weeks?|days?)\s+ago|ago|since\s+\d{4}|in\s+\d{4})\b|"
    r"(?<!\d)\d{1,2}\s?일(?!\s?(?:간|동안|째))|\d{1,2}\s?시(?:\s?\d{1,2}\s?분)?|[월화수목금토일]요일|어제|오늘|내일|그제|지난해|작년|올해|"
    r"내년|지난달|다음달|이번\s?주|지난주|다음주|현지시간|당시|오전|오후|새벽|밤",
    re.I,
)
_EN_PLACE = re.compile(r"\b(?:in|at|near|from|to|outside|inside)\s+(?:the\s+)?(?P<n>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)")
_DATELINE = re.compile(r"^\W{0,3}(?P<n>[A-Z]{3,}(?:\s+[A-Z]{3,})?),?\s+(?:[A-Z][a-z]+\s+)?\(")
_KO_PLACE = re.compile(r"(?P<n>[가-힣]{2,})(?:에서|에\s*있는|으로\s*향|에\s*상륙|에서는)")
_NOT_PLACES = frozenset(
    "January February March April May June July August September October November December Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday The This That He She They It".split()
)  # fmt: skip
_PLACE_SECTIONS = ("countries", "regions", "capitals")


def dated(sentence: str) -> bool:
    """The sentence holds a date or a time."""
    if _TIME.search(sentence):
        return True
    return any(key.startswith(_DATE_KINDS) for key, _ in number_keys(sentence))


def placed(sentence: str, question: str) -> bool:
    """The sentence names a place that the question does not."""
    for m in _EN_PLACE.finditer(sentence):
        n = m.group("n")
        if n.split()[0] not in _NOT_PLACES and n not in question:
            return True
    m = _DATELINE.search(sentence)
    if m and m.group("n").title() not in question.title():
        return True
    for m in _KO_PLACE.finditer(sentence):
        if m.group("n") not in question and m.group("n")[:2] not in question:
            return True
    return any(p in sentence and p not in question for p in _places_in(sentence))


def _places_in(sentence: str) -> list[str]:
    korean, english = place_forms()
    out = [w for w in re.findall(r"[가-힣]{2,}", sentence) for f in (w, w[:-1], w[:-2]) if f in korean]
    out += [w for w in re.findall(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?", sentence) if w in english]
    return out


@cache
def place_forms(path: Path = GLOSSARY_FILE) -> tuple[frozenset[str], frozenset[str]]:
    """The glossary's countries, regions and cities, as written (Korean, English)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorDataError(f"{path}: cannot read the glossary ({exc}); reinstall quoteqa") from exc
    korean: set[str] = set()
    english: set[str] = set()
    section = ""
    for line in lines:
        if line.startswith("# ---"):
            section = line
            continue
        if line.startswith("#") or not line.strip():
            continue
        if not any(s in section for s in _PLACE_SECTIONS):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        korean.update(f for f in parts[1].split("|") if len(f) >= 2)
        english.update(f.lstrip("=") for f in parts[2].split("|") if f[:1].isupper() and not f.isupper())
    if not korean:
        raise AnchorDataError(f"{path}: no places in the glossary (a damaged file?); reinstall quoteqa")
    return frozenset(korean), frozenset(english)
