"""Stage 1 of the answer path: what a question asks, read from its words before any search.

Its kind (what would answer it: reported speech, a date, a name, a number...), its language,
and two parts the answer path treats specially (docs/quality.md, "Fifth round"):

* the speaker of a "say" question ("What did **the Kremlin** say about…", "**크렘린궁**은 뭐라고
  했나요?"): the sentence that quotes someone else answers a different question;
* the subject of a definition question ("What is **Clubhouse**?", "**클럽하우스**는 무엇인가요?"):
  it wants the sentence that says what the subject is, not any sentence that names it.

Patterns only, no parser: each is small, and `quoteqa eval` checks that it does not cost
answers elsewhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.answer.messages import EMPTY_QUESTION
from retrieval.errors import QuestionError
from retrieval.models import Language
from retrieval.text.analyze import HANGUL, normalize_space

KINDS: dict[str, re.Pattern[str]] = {
    "say": re.compile(
        r"\b(say|says|said|tell|told|state[sd]?|comment(ed)?|respon[sd]|react(ed|ion)?|announce[sd]?|"
        r"claim(ed)?|reply|replied|quote[sd]?|statement|position)\b|뭐라|무엇이라|무어라|뭐라고|라고\s*(했|말|밝)|"
        r"말했|말하|밝혔|밝힌|입장|반응|발언|언급|전했|답했|주장",
        re.I,
    ),
    "who": re.compile(r"\b(who|whom|whose)\b|누가|누구|어떤\s*사람|어느\s*사람", re.I),
    # "몇 년" is a date ("몇 년에"), but "몇 년째 / 몇 년 만에 / 몇 년간" and "몇 시간" count
    "when": re.compile(
        r"\b(when|what\s+(day|date|time|year|month))\b|언제|몇\s*(?:년|월|일|시)(?!\s*(?:째|만|간|동안|남|이나|치|차|전|후|가))|"
        r"무슨\s*요일|며칠",
        re.I,
    ),
    "where": re.compile(r"\bwhere\b|어디|어느\s*(나라|곳|도시|지역)", re.I),
    "number": re.compile(r"\bhow\s+(many|much|long|old|big|large|often)\b|몇|얼마|규모|가치", re.I),
}
# Words that only frame the question ("how many", "what did X say"); they are cues, not content.
FRAME_TERMS = frozenset({"mani", "much", "say", "tell", "말", "얼마", "무엇", "누구", "언제", "어디", "몇"})

# A question about money or value ("How much is Clubhouse worth?", "매출은 얼마인가?") is
# answered by an amount ("$1 billion", "10억 달러"), not by any number such as a date. "How
# much" / "얼마" alone asks for lengths, counts and durations too, so it is not enough.
AMOUNT_QUESTION = re.compile(
    r"\b(?:worth|value[ds]?|valuation|cost[s]?|price[sd]?|paid|pay|spend|spent|revenue|sales|salary|budget|fund(?:ing|s)?|raised?|"
    r"fine[sd]?|profit|loss|debt)\b|가치|금액|가격|비용|매출|손실|이익|벌금|투자|지급|연봉|예산|자금|부채|몸값",
    re.I,
)
_SPEECH_VERB = r"(?-i:say|says|said|tell|told|respond|react|reply|comment|announce|claim|state|think|make\s+of)"  # lowercase: "Islamic State" is no verb
_SPEAKER_EN = (
    # What did the Kremlin say (about…)? / How did Peskov respond? / What does Musk think of…?
    re.compile(rf"\b(?:what|how)\s+(?:did|does|do|has|have|had|will|would)\s+(?P<s>.+?)\s+{_SPEECH_VERB}\b", re.I),
    # What was the Kremlin's reaction / response / position?
    re.compile(r"\bwhat\s+(?:was|is|were|are)\s+(?P<s>.+?)(?:'s|’s|s'|s’)\s+(?:response|reaction|position|statement|comment|view|answer|reply)\b", re.I),
)  # fmt: skip
# Speech, not naming: "뭐라고 했나요" asks what was said, "무엇이라고 하는가" what a thing is called.
_KO_SPEECH = re.compile(
    r"(?:뭐라|무엇이라|무어라|어떻게)\s*(?:고\s*)?(?:했|말했|말하|밝혔|답했|전했|주장했|발표했|언급했|반응했|설명했|평가했)|"
    # the reaction asked about ("X의 반응은?", "어떤 입장을"), not one that describes ("…라고 발언한 인물은?")
    r"(?:반응|입장|발언|답변|논평)(?:은|는|이|가)?\s*(?:무엇|뭐|어땠|어떠|\?|$)|어떤\s*(?:반응|입장|발언|답변|논평)"
)
_KO_NOUN_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "SL", "SH", "SN", "XR", "XSN"})
Morphemes = Sequence[tuple[str, str, int, int]]  # (form, tag, start, end), as `Analyzer.morphemes` gives them

_DEFINITION_EN = re.compile(r"^(?:who|what)\s+(?:is|was|are|were)\s+(?P<s>.+?)\s*\??$", re.I)
_DEFINITION_KO = re.compile(
    r"^(?P<s>.+?)(?:은|는|이란|란|이|가)?\s*(?:무엇|뭐|누구|어떤\s*(?:곳|회사|사람|앱|것))(?:인가요|인가|이에요|예요|야|입니까|이죠|죠|일까)?\s*\??$"
)
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    language: Language
    kind: str  # say, who, when, where, number, other
    speaker: str = ""  # who is asked about in a "say" question, as written
    subject: str = ""  # what a "What is X?" / "Who is X?" question asks to be defined
    amount: bool = False  # a "how much" question: an amount answers it, not any number


def clean_question(question: object, max_chars: int) -> str:
    """The question as we will search it, or a QuestionError that says how to fix it (in Korean
    when the question is Korean, since that is who will read it)."""
    if not isinstance(question, str):
        raise QuestionError("a question must be text")
    ko = bool(HANGUL.search(question))
    bad = sorted({f"U+{ord(c):04X}" for c in question if unicodedata.category(c) == "Cc" and c not in "\t\n\r"})
    if bad:
        codes = ", ".join(bad[:5])
        raise QuestionError(
            f"질문에 제어 문자({codes})가 들어 있습니다. 일반 텍스트로 입력해 주세요." if ko
            else f"the question contains control characters ({codes}); type it as plain text"
        )  # fmt: skip
    text = normalize_space(question)
    if not text:
        raise QuestionError(EMPTY_QUESTION)
    if len(text) > max_chars:
        raise QuestionError(
            f"질문이 {len(text):,}자로 너무 깁니다. 최대 {max_chars:,}자까지 받습니다. 더 짧게 물어 주세요." if ko
            else f"the question is {len(text):,} characters long; the limit is {max_chars:,}. Ask it in fewer words."
        )  # fmt: skip
    return text


# What an English question opens with says its kind before anything later in it can: "How old
# are the two women who ran amok?" asks for a number, "Which group claimed the bombings?" for a
# name, "In which city…" for a place (a "who", "said" or "when" in a relative clause is not the
# question's).
# up to two words between "which" and its noun ("which northern Taiwanese port"), never a verb
# ("What did port chief Kim say?" asks what he said)
_MODIFIERS = r"(?:(?!(?:did|does|do|is|was|were|are|has|have|had|will|would|can|could|should)\b)[\w-]+\s+){0,2}"
_EN_OPENING: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("number", re.compile(
        r"^(?:and\s+|so\s+|but\s+)?(?:how\s+(?:many|much|long|old|big|large|often|far|deep|high|tall|heavy|fast|strong)\b|"
        r"(?:what|which)\s+(?:percentage|percent|proportion|number|amount|magnitude|share)\b|"
        r"what\s+(?:was|is|were|are)\s+the\s+(?:magnitude|percentage|number|amount|size|death\s+toll|toll|price|cost|value)\b)",
        re.I,
    )),  # fmt: skip
    ("when", re.compile(
        r"^(?:when\b|(?:(?:on|in|during|at|by|until|since)\s+)?what\s+(?:dates?|day|days|year|month|hours?|time)\b)", re.I
    )),  # fmt: skip
    ("where", re.compile(r"^where\b", re.I)),
    ("where", re.compile(
        rf"^(?:(?:in|at|to|from|on|into|near)\s+)?(?:which|what)\s+{_MODIFIERS}(?:city|cities|country|countries|town|village|"
        r"court|port|province|state|region|place|area|district|island|airport|hospital|prison|capital|street|venue|stadium)\b",
        re.I,
    )),  # fmt: skip
    ("who", re.compile(r"^who(?:m|se)?\b(?!\s+(?:said|says|told|tells|announced|claimed|stated)\b)", re.I)),
    ("who", re.compile(
        rf"^(?:which|what)\s+{_MODIFIERS}(?:company|companies|firm|group|groups|organi[sz]ation|agency|team|party|"
        r"official|officials|minister|leader|person|people|man|woman|player|doctor|producer|providers?|singer|actor|artist|scientist|body|bank|newspaper|network)\b",
        re.I,
    )),  # fmt: skip
)


# Korean asks with a counter or a noun after 몇/어느/어떤, wherever it stands: "몇 퍼센트가 …
# 답했나" counts, though it ends on a speech verb; "어느 기관이 개발했나" asks for a name.
_KO_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("number", re.compile(
        r"몇\s*(?:퍼센트|%|명|개|번|회|배|살|세|차례|건|곳|대|척|마리|시간|년\s*(?:째|만|간|동안|남)|달|개월|주|위|등)"
    )),  # fmt: skip
    ("who", re.compile(r"(?:어느|어떤)\s*(?:기관|회사|단체|그룹|팀|정당|업체|기업|인물|선수|언론|방송사|신문)")),
    ("where", re.compile(r"어느\s*(?:법원|항구|도시|나라|국가|지역|곳|동네|섬|공항|병원|주|도)")),
)


def question_kind(question: str) -> str:
    text = question.strip()
    for kind, opening in _KO_ASKS if HANGUL.search(text) else _EN_OPENING:
        if opening.search(text):
            return kind
    for kind, pattern in KINDS.items():
        if pattern.search(question):
            return kind
    return "other"


def question_language(question: str) -> Language:
    return "ko" if HANGUL.search(question) else "en"


def read_question(text: str, morphemes: Callable[[str], Morphemes] | None = None) -> Question:
    """The question's parts; `morphemes` (e.g. `Analyzer.morphemes`) lets a Korean speaker be found."""
    lang = question_language(text)
    kind = question_kind(text)
    speaker = speaker_of(text, lang, morphemes(text) if morphemes and lang == "ko" else None) if kind == "say" else ""
    subject = definition_subject(text, lang) if kind in ("who", "other") else ""
    amount = kind == "number" and bool(AMOUNT_QUESTION.search(text))
    return Question(text, lang, kind, speaker, subject, amount)


def speaker_of(text: str, lang: Language, morphemes: Morphemes | None = None) -> str:
    """Who a "say" question asks about, or "" when the question does not name one. Korean
    needs the question's morphemes (`Analyzer.morphemes`): "는" ends a topic after a noun
    ("크렘린궁은") and a verb form after a verb ("없는")."""
    if lang != "ko":
        for pattern in _SPEAKER_EN:
            m = pattern.search(text)
            if m:
                return _LEADING_ARTICLE.sub("", m.group("s").strip())
        return ""
    cue = _KO_SPEECH.search(text)
    if not cue or morphemes is None:
        return ""
    before = [m for m in morphemes if m[3] <= cue.start()]
    # "크렘린 대변인의 반응은?": a genitive right before the cue marks the speaker;
    # "크렘린궁은 머스크의 초대에 대해 뭐라고 했나요?": else the first topic or subject (a
    # Korean sentence names its speaker first: "미네르바가 글을 쓰게된 동기는 무엇이라고 밝혔는가?").
    at = len(before) - 1 if before and before[-1][1] == "JKG" else -1
    if at < 0:
        at = next((i for i in range(1, len(before)) if before[i][1] in ("JX", "JKS") and before[i][0] != "도"), -1)
    if at <= 0 or before[at - 1][1] not in _KO_NOUN_TAGS:
        return ""
    first = at - 1
    while first > 0 and before[first - 1][1] in _KO_NOUN_TAGS:
        first -= 1
    return text[before[first][2] : before[at - 1][3]]


def definition_subject(text: str, lang: Language) -> str:
    """X of "What is X?" / "Who is X?" / "X는 무엇인가요?" / "X는 누구야?", or ""."""
    m = (_DEFINITION_KO if lang == "ko" else _DEFINITION_EN).match(text.strip())
    if not m:
        return ""
    subject = _LEADING_ARTICLE.sub("", m.group("s").strip(" \"'“”‘’"))
    return subject if 0 < len(subject.split()) <= 4 else ""


def definition_pattern(subject: str, lang: Language) -> re.Pattern[str] | None:
    """Sentences that say what `subject` is: "X is a…", "X, which is…", "X, a…", "X (…",
    a common noun right before the name ("spokesperson Dmitry Peskov", "app Clubhouse");
    in Korean "X는 …" opening the sentence, or a modifier right before X ("…하는 ‘X’")."""
    if not subject:
        return None
    names = [re.escape(subject)]
    last = subject.split()[-1]
    if last != subject and len(last) >= 3:
        names.append(re.escape(last))
    x = "(?:" + "|".join(names) + ")"
    if lang == "ko":
        return re.compile(
            rf"^\W*{x}\S*(?:은|는|이란|란)\s|(?:인|이라는|라는|하는|되는|한|\))\s*[‘'\"“]?{x}|{x}[’'\"”]?\s*\(",
        )
    return re.compile(
        rf"\b{x}\s+(?:is|was|are|were)\s+(?:a|an|the|one)\b|\b{x}[’'\"”]?,\s+(?:a|an|the|which|who)\b|\b{x}\s*\(|"
        rf"\b(?!(?:{_FUNCTION_WORDS})\b)(?![a-z-]*ed\b)[a-z][\w-]+\s+(?:[A-Z][\w.-]*\s+){{0,2}}{x}\b",
    )


# Words that stand before a name without saying what it is ("on Clubhouse", "with Kanye West").
_FUNCTION_WORDS = "|".join(
    "a an the of to in on at by for with from and or but as than that this these those into onto about over "
    "under after before since until via per do does did is was are were be been has have had said says told "
    "join met meet meets".split()
)
