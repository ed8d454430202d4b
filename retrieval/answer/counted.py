"""What a "how many / how much" question counts, and whether a sentence holds that count.

"How many people were killed in Istanbul?" is answered by "Seventeen people were killed", not by
"Thousands of mourners … at the funerals of victims killed in Sunday's bombing", though the second
shares more words and holds a number ("Sunday" is a date, "thousands" counts mourners). So the
question's counted unit is read (people, years, dollars, countries… as `numbers.py` keys them:
ppl, yr, usd, countries), or, when no unit says it, its counted noun ("how many microprocessors",
"홈런을 몇 개"), and a sentence counts it when it holds a number with that unit, or a number
right before (English) or after (Korean) that noun.

The units are the anchors layer's (`retrieval/text/anchors/numbers.py`: 5200만달러 ≡ $52 million),
so "몇 명" finds "17명이", "20여명" and "more than 1,200 people" alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.models import Language
from retrieval.text.anchors.numbers import EN_UNITS, KO_UNITS, number_keys

MONEY = frozenset({"usd", "krw", "eur", "jpy", "gbp", "cny"})
DURATION = frozenset({"yr", "mo", "wk", "day", "hr", "min", "sec"})
DISTANCE = frozenset({"km", "m", "mi"})

_EN_HOW = re.compile(
    r"\bhow\s+(?P<how>many|much|old|long|far|often|big|large|tall|high)\b(?P<rest>(?:\s+[\w'-]+){0,3})", re.I
)
_EN_PERCENT = re.compile(r"\bwhat\s+(?:percentage|percent|share|proportion)\b", re.I)
# "how many were killed": no counted noun, but people are what dies, is hurt or arrested
_PEOPLE_VERBS = re.compile(
    r"\b(?:killed|died|dead|deaths?|injured|hurt|wounded|arrested|detained|missing|sickened|infected|evacuated|"
    r"rescued|fired|hired|employed|attended|voted|protest(?:ed|ers)?)\b|숨지|숨졌|사망|죽|다쳤|다친|부상|체포|구금|실종|감염|"
    r"대피|구조|참여|참가|참석|투표|시위",
    re.I,
)
_EN_MONEY_WORDS = re.compile(
    r"\b(?:cost|costs|worth|value[ds]?|price[sd]?|paid|pay|pays|spend|spent|raise[sd]?|earn(?:ed|s)?|take|took|"
    r"make|made|sell|sold|ransom|fine[sd]?|budget|fund(?:s|ing)?|money|salary|revenue|profit|loss|debt|fortune)\b",
    re.I,
)
_KO_MONEY = re.compile(
    r"얼마짜리|얼마에|몸값|재산|가치|금액|가격|비용|매출|손실|이익|벌금|투자|지급|연봉|예산|자금|부채|수익|들었|벌었|냈"
)
_KO_COUNTER = re.compile(
    r"몇\s*(?P<u>개국|개월|가구|차례|시간|퍼센트|%|연승|연패|경기|골|표|석|명|개|건|년|살|세|배|번|회|대|척|곳|마리|일|주|달|층|톤|"
    r"킬로미터|km|권|채|발|기)"
)
# Counters that are themselves what is counted (몇 연승: "29연승"), not a unit of something named before
_KO_COUNTED_COUNTERS = frozenset({"연승", "연패", "경기", "골", "표", "석"})
# Ages as news writes them beside a name: "aged 26", "Kaka, 26,", "카카(26)"
_AGE = re.compile(r"\b[Aa]ged\s+\d{1,3}\b|\b[A-Z][a-z]+,\s\d{1,2},\s|[가-힣A-Za-z]\s?\(\d{1,2}\)")
_KO_NOUN_BEFORE = re.compile(r"(?P<n>[가-힣A-Za-z]{2,}?)(?:을|를|이|가|은|는|도|에는)?\s*몇")
_EN_SKIP = frozenset(
    "of the a an in on at to for did do does is was were are has have had will would can could times more "
    "people persons".split()
)  # fmt: skip
_NUMBER_WORD = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|dozens?|several)"
_EN_TEEN_PEOPLE = re.compile(
    rf"\b{_NUMBER_WORD}(?:\s+(?:hundred|thousand|million))?\s+(?:\w+\s+)?(?:people|persons|men|women|children|"
    r"were\s+(?:killed|injured|hurt|wounded|arrested|dead)|dead|killed|injured|wounded|deaths?)\b",
    re.I,
)
_BUCKS = re.compile(r"\d\s*(?:bucks|grand)\b", re.I)


@dataclass(frozen=True, slots=True)
class AskedCount:
    """What a count question asks for: units as `numbers.py` keys them, and/or a counted noun."""

    units: frozenset[str]
    noun: str = ""  # as written in the question ("microprocessors", "홈런"); "" when a unit says it


def asked_count(text: str, lang: Language) -> AskedCount | None:
    """The unit or noun a "how many/much" question counts; None when it names neither."""
    units: set[str] = set()
    noun = ""
    if lang == "ko":
        m = _KO_COUNTER.search(text)
        if m:
            u = m.group("u")
            units |= {"mo"} if u == "달" else {KO_UNITS.get(u, "pct" if u in ("퍼센트", "%") else "")} - {""}
            if u in _KO_COUNTED_COUNTERS:
                noun = u
            elif u in ("개", "건", "번", "회", "권", "채", "발", "기", "대") or not units:
                n = _KO_NOUN_BEFORE.search(text, 0, m.start() + 1)
                noun = n.group("n") if n else ""
        if "얼마" in text and _KO_MONEY.search(text):
            units |= MONEY
        if "몇" in text and not units and _PEOPLE_VERBS.search(text):
            units.add("ppl")
    else:
        if _EN_PERCENT.search(text):
            units.add("pct")
        m = _EN_HOW.search(text)
        if m:
            how, rest = m.group("how").lower(), m.group("rest").split()
            if how == "many":
                words = [w.lower().strip("'") for w in rest]
                first = next((w for w in words if w not in ("more", "other", "of", "the")), "")
                if first == "times":
                    units.add("times")
                elif first in EN_UNITS:
                    units.add(EN_UNITS[first])
                elif first and first not in _EN_SKIP and first.isalpha():
                    noun = first
                if not units and _PEOPLE_VERBS.search(text):
                    units.add("ppl")
            elif how == "much":
                if _EN_MONEY_WORDS.search(text) or "$" in text:
                    units |= MONEY
            elif how == "old":
                units.add("age")
            elif how == "long":
                units |= DURATION | DISTANCE
            elif how == "far":
                units |= DISTANCE
            elif how == "often":
                units.add("times")
    if not units and not noun:
        return None
    return AskedCount(frozenset(units), noun)


def counts(sentence: str, asked: AskedCount | None) -> bool:
    """The sentence holds a number of the unit asked about, or right by the noun asked about."""
    if asked is None:
        return False
    if asked.units:
        for key, _ in number_keys(sentence):
            parts = key.split(":")
            if parts[0] == "num" and len(parts) == 3 and parts[2] in asked.units:
                return True
        if "ppl" in asked.units and _EN_TEEN_PEOPLE.search(sentence):
            return True  # "Seventeen people were killed": number words numbers.py leaves bare
        if "usd" in asked.units and _BUCKS.search(sentence):
            return True
        if "age" in asked.units and _AGE.search(sentence):
            return True
    if asked.noun:
        return bool(_noun_pattern(asked.noun).search(sentence))
    return False


def _noun_pattern(noun: str) -> re.Pattern[str]:
    if re.match(r"[A-Za-z]", noun):
        stem = re.escape(noun[: max(4, len(noun) - 2)])
        return re.compile(rf"\b{_NUMBER_WORD}(?:\s+(?:million|billion|thousand))?\s+(?:[\w-]+\s+)?{stem}", re.I)
    n = re.escape(noun)
    # 홈런 3개, 3개의 홈런, 마이크로프로세서 8,192개
    return re.compile(rf"{n}\S*\s*\d|\d[\d,.]*\s*[가-힣]{{0,3}}(?:의)?\s*{n}")
