"""Numbers and dates as language-neutral keys: 5200만달러 ≡ $52 million ≡ 52 million dollars.

Read from the raw sentence text (digits are digits in both languages, and Kiwi's tokens of
"1억1천만" are no easier to read than the characters). Keys:

* `num:V` and `num:V:UNIT`: the value (integer, or a decimal with at most 6 significant digits)
  and its unit or counter (usd, krw, pct, ppl, veh, ship, yr, km, ...). A value under
  `NumberSettings.min_bare` is only a key with its unit: a bare "3" would tie every passage.
* `year:Y` (1966년, a lone 1966), `decade:Y` (1990년대, the 1990s), `month:M`, `date:MM-DD`
  (9월 11일, September 11, Sept. 11th, 11 September), `ord:N` (2nd, 제2, 두번째).

Odd separators never raise: "1.234.567" is a thousands-dotted integer, "12,34" two numbers,
"3-4" and "3~4명" a range (both ends, each with the unit), "3.4.5" nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True, slots=True)
class NumberSettings:
    min_bare: int = 10  # values below this are keys only together with a unit
    max_value: float = 1e16  # larger values are typos or serial numbers, not amounts
    year_range: tuple[int, int] = (1800, 2100)  # a lone 4-digit integer in here is a year


KO_BIG = {"만": 10**4, "억": 10**8, "조": 10**12}
KO_SMALL = {"십": 10, "백": 100, "천": 1000}
EN_MULT = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
           "bn": 10**9, "mn": 10**6, "m": 10**6, "b": 10**9, "k": 10**3, "tn": 10**12}  # fmt: skip

EN_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
            "fifty": 50, "hundred": 100, "dozen": 12, "dozens": 12}  # fmt: skip
KO_WORDS = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
            "스무": 20, "서른": 30, "마흔": 40, "쉰": 50}  # fmt: skip

# Units and counters. Korean: the word right after the number; English: after it (or a sign before).
KO_UNITS = {
    "달러": "usd", "불": "usd", "원": "krw", "유로": "eur", "엔": "jpy", "파운드": "gbp", "위안": "cny",
    "%": "pct", "％": "pct", "퍼센트": "pct", "프로": "pct", "%포인트": "pctpt", "포인트": "pt",
    "명": "ppl", "여명": "ppl", "대": "veh", "척": "ship", "개월": "mo", "년": "yr", "주": "wk",
    "일": "day", "시간": "hr", "분": "min", "초": "sec", "세": "age", "살": "age",
    "킬로미터": "km", "km": "km", "㎞": "km", "미터": "m", "m": "m", "마일": "mi", "톤": "t", "t": "t",
    "킬로그램": "kg", "kg": "kg", "㎏": "kg", "배럴": "bbl", "가구": "household", "차례": "times",
    "번": "times", "회": "times", "배": "fold", "발": "rounds", "기": "units", "곳": "places", "개국": "countries",
    "개": "", "건": "cases", "층": "floor", "도": "deg", "에이커": "acre", "헥타르": "ha", "마리": "animals",
}  # fmt: skip
EN_UNITS = {
    "dollar": "usd", "dollars": "usd", "won": "krw", "euro": "eur", "euros": "eur", "yen": "jpy",
    "pound": "gbp", "pounds": "gbp", "yuan": "cny", "percent": "pct", "per cent": "pct", "%": "pct",
    "percentage point": "pctpt", "percentage points": "pctpt", "points": "pt", "point": "pt",
    "people": "ppl", "persons": "ppl", "person": "ppl", "residents": "ppl", "civilians": "ppl",
    "soldiers": "ppl", "troops": "ppl", "workers": "ppl", "students": "ppl", "victims": "ppl",
    "children": "ppl", "passengers": "ppl", "employees": "ppl", "members": "ppl", "refugees": "ppl",
    "men": "ppl", "women": "ppl", "protesters": "ppl", "police": "ppl", "officers": "ppl",
    "militants": "ppl", "prisoners": "ppl", "hostages": "ppl", "visitors": "ppl", "scientists": "ppl",
    "vehicles": "veh", "cars": "veh", "trucks": "veh", "tanks": "veh", "aircraft": "veh", "planes": "veh",
    "jets": "veh", "helicopters": "veh", "computers": "veh", "ships": "ship", "vessels": "ship",
    "boats": "ship", "warships": "ship", "submarines": "ship", "years": "yr", "year": "yr",
    "months": "mo", "month": "mo", "weeks": "wk", "week": "wk", "days": "day", "day": "day",
    "hours": "hr", "hour": "hr", "minutes": "min", "minute": "min", "seconds": "sec", "second": "sec",
    "kilometers": "km", "kilometres": "km", "kilometer": "km", "kilometre": "km", "km": "km",
    "meters": "m", "metres": "m", "meter": "m", "metre": "m", "miles": "mi", "mile": "mi",
    "tons": "t", "tonnes": "t", "ton": "t", "tonne": "t", "kilograms": "kg", "kilogram": "kg", "kg": "kg",
    "barrels": "bbl", "barrel": "bbl", "households": "household", "homes": "household", "families": "household",
    "times": "times", "missiles": "rounds", "shells": "rounds", "rounds": "rounds", "reactors": "units",
    "countries": "countries", "nations": "countries", "cases": "cases", "degrees": "deg", "acres": "acre",
    "hectares": "ha", "animals": "animals", "cattle": "animals", "years old": "age", "year old": "age",
    "year-old": "age", "years-old": "age",
}  # fmt: skip
SIGNS = {"$": "usd", "US$": "usd", "€": "eur", "£": "gbp", "¥": "jpy", "₩": "krw"}

MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip

_DIGITS = r"\d[\d.,]*\d|\d"
# A Korean amount: digits and the multipliers 십백천만억조, "1억 1천만" with a space after a big unit.
_KO_AMOUNT = rf"(?:{_DIGITS})(?:\s?(?:[십백천][만억조]?|[만억조])(?:\s?(?:{_DIGITS})(?=\s?[십백천만억조]))?)*여?"
_EN_MULT_RE = r"(?:\s?(?:hundred|thousand|million|billion|trillion|bn|mn|tn)\b|(?:m|b|k)\b)?"
_RANGE = r"(?:\s?(?:-|–|~|∼|to)\s?(?P<hi>\d[\d.,]*\d|\d)(?P<himult>[십백천]?[만억조]?))?"
# Starts with a digit, so that the scan skips ahead in C; a sign or 제 before it is read apart.
NUMBER = re.compile(rf"(?P<num>{_KO_AMOUNT})(?P<mult>{_EN_MULT_RE}){_RANGE}", re.IGNORECASE)
_BEFORE = re.compile(r"(?:(?P<sign>US\s?\$|[$€£¥₩])|(?P<ord>제))\s?$")
_KO_UNIT_RE = re.compile(
    r"\s?(?P<u>%포인트|개월|개국|여명|킬로미터|킬로그램|퍼센트|에이커|헥타르|달러|유로|파운드|위안|시간|차례|가구|배럴|마리|마일|미터|"
    r"년대|년|월|일|번째|명|대|척|주|분|초|세|살|톤|원|엔|불|프로|포인트|번|회|배|발|기|곳|개|건|층|도|위|차|%|％|㎞|㎏|km|kg|m|t)"
)
_EN_UNIT_RE = re.compile(
    r"[\s-]?(?P<u>(?:st|nd|rd|th)\b|s\b|%|percentage points?|per cent|years?[ -]old|"
    + "|".join(sorted((re.escape(u) for u in EN_UNITS if u[0].isalpha()), key=len, reverse=True))
    + r")(?![A-Za-z])",
    re.IGNORECASE,
)
_EN_ADJ = re.compile(r"\s(?:[a-z]+\s){0,2}?", re.IGNORECASE)  # "52 million U.S. dollars", "300 American soldiers"
_WORD_NUMBER = re.compile(
    r"\b(?=[otfsendhOTFSENDH])(?P<w>"
    + "|".join(EN_WORDS)
    + r")\s(?P<rest>(?:hundred|thousand|million|billion|trillion)\s)?(?P<unit>[a-z]+)",
    re.IGNORECASE,
)
# 다섯 명, 두 척: a native numeral, a space, a counter (without the space 세대 is a generation).
_KO_WORD_NUMBER = re.compile(
    r"(?<![가-힣])(?P<w>" + "|".join(KO_WORDS) + r")\s(?P<unit>명|개|대|척|차례|곳|마리|가구|개국)"
)
_EN_MONTH = re.compile(
    r"(?P<m>[JFMASOND](?<![A-Za-z].)[a-z]{2,8})\b\.?(?:\s(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?![.,]\d))?"
)
_EN_DAY_MONTH = re.compile(
    r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s(?:of\s)?(?P<m>January|February|March|April|May|June|July|August|September|"
    r"October|November|December)\b"
)
_DIGIT = re.compile(r"\d")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KO_DATE = re.compile(r"(?P<m>\d{1,2})\s?월(?:\s?(?P<d>\d{1,2})\s?일)?")
_NINE_ELEVEN = re.compile(r"(?<![\d/])9/11(?![\d/])|(?<![\d-])9-11(?!\s?(?:명|개|percent|%|[\d-]))")
_KO_ORDINAL = re.compile(r"(?P<n>\d{1,3})\s?번째|(?P<w>첫|두|세|네|다섯)\s?번째")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
_KO_ORD_WORDS = {"첫": 1, "두": 2, "세": 3, "네": 4, "다섯": 5}


def parse_plain(digits: str) -> Decimal | None:
    """A written number with its separators read: None when they make no sense."""
    if "," in digits and "." in digits:
        if digits.rfind(",") < digits.rfind("."):  # 1,234.5
            head, _, frac = digits.rpartition(".")
            groups = head.split(",")
            if all(len(g) == 3 for g in groups[1:]) and frac.isdigit():
                return _decimal("".join(groups) + "." + frac)
        return None
    for sep in ",.":
        if sep in digits:
            groups = digits.split(sep)
            if len(groups) > 2 or sep == ",":
                # 1,234 / 1.234.567: thousands, only when every later group has three digits.
                if all(len(g) == 3 for g in groups[1:]) and 0 < len(groups[0]) <= 3:
                    return _decimal("".join(groups))
                return None
            return _decimal(digits)  # 1.5
    return _decimal(digits)


def _decimal(s: str) -> Decimal | None:
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def parse_korean(amount: str) -> Decimal | None:
    """1억1천만 → 110000000, 12조3천억 → 12300000000000, 5,200만 → 52000000."""
    total = Decimal(0)
    section = Decimal(0)
    current: Decimal | None = None
    for m in re.finditer(rf"{_DIGITS}|[십백천만억조]", amount):
        tok = m.group()
        if tok[0].isdigit():
            if current is not None:  # two numbers in a row with no unit between: not one amount
                return None
            current = parse_plain(tok)
            if current is None:
                return None
        elif tok in KO_SMALL:
            section += (current if current is not None else Decimal(1)) * KO_SMALL[tok]
            current = None
        else:
            section += current if current is not None else Decimal(0)
            total += (section or Decimal(1)) * KO_BIG[tok]
            section, current = Decimal(0), None
    return total + section + (current or Decimal(0))


def value_text(value: Decimal) -> str:
    """Canonical text of a value: integers as such, decimals to 6 significant digits."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(Decimal(f"{value:.6g}").normalize(), "f")


def number_keys(
    text: str, settings: NumberSettings = NumberSettings(), months: bool = True, words: bool = True
) -> Iterator[tuple[str, int]]:
    """(key, offset) of every number, date and ordinal in a sentence (either language).

    `months` / `words`: False when the caller knows the sentence names no month / no number
    word (from its analysed terms), which spares two scans of English text."""
    if "&" in text:  # HTML entities left in plain text (&#8212;, &amp;) are no numbers
        text = _ENTITY.sub(lambda m: " " * len(m.group()), text)
    digits = _DIGIT.search(text) is not None
    korean = _HANGUL.search(text) is not None
    dated: set[int] = set()
    for key, offset, end in _dates(text, digits, korean, months):
        dated.update(range(offset, end))
        yield key, offset
    if digits:
        for m in NUMBER.finditer(text):
            if m.start("num") not in dated:
                yield from _number(text, m, settings)
    if korean:
        for m in _KO_WORD_NUMBER.finditer(text):
            yield from _value_keys(Decimal(KO_WORDS[m.group("w")]), KO_UNITS[m.group("unit")], m.start(), settings)
    elif words:
        for m in _WORD_NUMBER.finditer(text):
            unit = EN_UNITS.get(m.group("unit").lower())
            rest = m.group("rest")
            value = EN_WORDS[m.group("w").lower()] * (EN_MULT[rest.strip().lower()] if rest else 1)
            if unit is not None:
                yield from _value_keys(Decimal(value), unit, m.start(), settings)


def _dates(text: str, digits: bool, korean: bool, months: bool) -> Iterator[tuple[str, int, int]]:
    """(key, start, end) of dates and ordinals written as such."""
    if digits and korean and "월" in text:
        for m in _KO_DATE.finditer(text):
            month = int(m.group("m"))
            if 1 <= month <= 12:
                yield f"month:{month}", m.start(), m.end()
                if m.group("d") and 1 <= int(m.group("d")) <= 31:
                    yield f"date:{month:02d}-{int(m.group('d')):02d}", m.start(), m.end()
    for m in _EN_MONTH.finditer(text) if months else ():
        name = m.group("m")
        month = MONTHS.get(name.lower(), 0)
        if not month or (name == "May" and m.start() == 0 and not m.group("d")):
            continue  # not a month ("Jay"), or "May I ..." at the start of a sentence
        yield f"month:{month}", m.start(), m.end()
        if m.group("d") and 1 <= int(m.group("d")) <= 31:
            yield f"date:{month:02d}-{int(m.group('d')):02d}", m.start(), m.end()
    if not digits:
        return
    for m in _EN_DAY_MONTH.finditer(text):
        day = int(m.group("d"))
        if 1 <= day <= 31:
            yield f"date:{MONTHS[m.group('m').lower()]:02d}-{day:02d}", m.start(), m.end()
    if "11" in text:
        for m in _NINE_ELEVEN.finditer(text):
            yield "date:09-11", m.start(), m.end()
    if korean and "번째" in text:
        for m in _KO_ORDINAL.finditer(text):
            n = int(m.group("n")) if m.group("n") else _KO_ORD_WORDS[m.group("w")]
            yield f"ord:{n}", m.start(), m.end()


def _number(text: str, m: re.Match[str], settings: NumberSettings) -> Iterator[tuple[str, int]]:
    raw = m.group("num")
    before = _BEFORE.search(text, max(0, m.start() - 5), m.start())
    sign = before.group("sign") if before else None
    ordinal = before is not None and before.group("ord") is not None
    korean = any(c in KO_SMALL or c in KO_BIG for c in raw)
    if raw.endswith("여"):
        raw = raw[:-1]
    if not korean and ("," in raw and not re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw.strip())):
        # "12,34": not thousands; read the pieces as numbers of their own.
        for piece in re.finditer(r"\d+(?:\.\d+)?", raw):
            value = _decimal(piece.group())
            if value is not None:
                yield from _value_keys(value, None, m.start() + piece.start(), settings)
        return
    value = parse_korean(raw) if korean else parse_plain(raw.strip())
    if value is None:
        return
    mult = m.group("mult").strip().lower()
    if mult:
        value *= EN_MULT[mult]
    end = m.end()
    values = [value]
    if m.group("hi"):
        hi = parse_korean(m.group("hi") + m.group("himult")) if m.group("himult") else parse_plain(m.group("hi"))
        if hi is not None:
            values.append(hi * (EN_MULT[mult] if mult else 1))
    unit = SIGNS.get(re.sub(r"\s", "", sign)) if sign else None
    if ordinal:  # 제3조 is article 3, not three trillion
        lead = parse_plain(re.match(_DIGITS, raw).group())  # type: ignore[union-attr]
        if lead is not None:
            yield f"ord:{value_text(lead)}", m.start()
        return
    after = text[end : end + 24]
    if korean or _hangul_next(after):
        u = _KO_UNIT_RE.match(after)
        if u:
            word = u.group("u")
            if word == "년대":
                yield f"decade:{value_text(value)}", m.start()
                return
            if word == "년" and not mult and not korean and len(raw) == 4 and raw.isdigit():
                yield f"year:{raw}", m.start()
                return
            if word in ("월", "일") and not korean:
                return  # dates are read by _dates; a day count alone ("11일") is too vague
            if word == "번째":
                return
            if word in ("위", "차"):
                yield f"ord:{value_text(value)}", m.start()
                return
            unit = unit or KO_UNITS.get(word)
    else:
        u = _EN_UNIT_RE.match(after) or _en_unit_after_adjectives(after)
        if u:
            word = u.group("u").lower()
            if word in ("st", "nd", "rd", "th"):
                yield f"ord:{value_text(value)}", m.start()
                return
            if word == "s" and len(raw) == 4 and raw.isdigit():
                yield f"decade:{raw}", m.start()
                return
            word = re.sub(r"[\s-]+", " ", word)
            if word.startswith("year") and word.endswith("old"):
                word = "years old"
            unit = unit or EN_UNITS.get(word)
    if unit is None and not mult and len(values) == 1 and raw.isdigit() and len(raw) == 4:
        lo, hi = settings.year_range
        if lo <= int(raw) <= hi:
            yield f"year:{raw}", m.start()
            return
    for v in values:
        yield from _value_keys(v, unit, m.start(), settings)


def _hangul_next(after: str) -> bool:
    s = after.lstrip()
    return bool(s) and ("\uac00" <= s[0] <= "\ud7a3" or s[0] in "%％㎞㎏")


def _en_unit_after_adjectives(after: str) -> re.Match[str] | None:
    """ "52 million U.S. dollars", "300 American soldiers": a unit one or two words on."""
    words = re.match(r"\s((?:[A-Za-z.]+\s){1,2})", after)
    if not words:
        return None
    return _EN_UNIT_RE.match(after, words.end() - 1)


def _value_keys(value: Decimal, unit: str | None, offset: int, settings: NumberSettings) -> Iterator[tuple[str, int]]:
    if value < 0 or value > Decimal(settings.max_value):
        return
    v = value_text(value)
    if value >= settings.min_bare or value != value.to_integral_value():
        yield f"num:{v}", offset
    if unit:
        yield f"num:{v}:{unit}", offset
