"""Language-neutral anchors (retrieval/text/anchors): keys that a Korean sentence and its English
translation share, read from the real analyser's output (real Kiwi)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import Analyzer
from retrieval.errors import AnchorDataError
from retrieval.text.anchors import Anchors, FuzzySettings, KeyVocabulary, kind_of, skeletons_match
from retrieval.text.anchors.glossary import GLOSSARY_FILE
from retrieval.text.anchors.numbers import number_keys
from retrieval.text.anchors.skeleton import hangul_skeleton, latin_skeleton


@pytest.fixture(scope="module")
def anchors(analyzer: Analyzer) -> Anchors:
    return Anchors.load(analyzer)


def keys(anchors: Anchors, analyzer: Analyzer, text: str) -> set[str]:
    return set(anchors.text(analyzer, text).keys)


def shared(anchors: Anchors, analyzer: Analyzer, ko: str, en: str) -> set[str]:
    """Keys of the Korean text that match a key of the English one (names near, others equal)."""
    k, e = keys(anchors, analyzer, ko), keys(anchors, analyzer, en)
    return {a for a in k if any(anchors.match(a, b) for b in e)}


@pytest.mark.parametrize(
    ("ko", "en", "kind"),
    [
        ("존 고든은 그것이 위험하다고 말했다.", "John Gordon said it was dangerous.", "name"),
        ("부시 대통령이 연설했다.", "Bush gave a speech.", "name"),
        ("노무현 대통령이 도착했다.", "Roh Moo-hyun arrived.", "name"),
        ("이명박 후보가 승리했다.", "Lee Myung-bak won.", "name"),
        ("김정일 위원장이 말했다.", "Kim Jong-il said.", "name"),
        ("카스파로프가 기계를 이겼다.", "Kasparov beat the machine.", "name"),
        ("로렌스 리버모아 연구소", "the Lawrence Livermore laboratory", "name"),
        ("국방부가 발표했다.", "The Defense Ministry announced it.", "term"),
        ("에너지省은 밝혔다.", "The Department of Energy said.", "term"),
        ("미국과 북한이 만났다.", "The U.S. and N. Korea met.", "term"),
        ("유엔 안보리가 모였다.", "The U.N. Security Council met.", "term"),
    ],
)
def test_names_and_terms_match_across_scripts(
    anchors: Anchors, analyzer: Analyzer, ko: str, en: str, kind: str
) -> None:
    found = shared(anchors, analyzer, ko, en)
    assert any(kind_of(k) == kind for k in found), (ko, en, keys(anchors, analyzer, ko), keys(anchors, analyzer, en))


@pytest.mark.parametrize(
    ("ko", "en", "key"),
    [
        ("5200만달러를 지원했다.", "It gave $52 million.", "num:52000000:usd"),
        ("5200만달러를 지원했다.", "It gave 52 million dollars.", "num:52000000:usd"),
        ("1억1천만 달러 짜리 설비", "the $110 million wonder", "num:110000000:usd"),
        ("초당 12조3천억 번의 계산", "12.3 trillion calculations a second", "num:12300000000000"),
        ("8,192개의 프로세서", "8,192 processors", "num:8192"),
        ("1966년에 태어났다.", "He was born in 1966.", "year:1966"),
        ("9월 11일 테러", "the September 11 attacks", "date:09-11"),
        ("9월 11일 테러", "the 9/11 attacks", "date:09-11"),
        ("30%가 찬성했다.", "30 percent agreed.", "num:30:pct"),
        ("30퍼센트가 찬성했다.", "30 per cent agreed.", "num:30:pct"),
        ("300명이 숨졌다.", "300 people died.", "num:300:ppl"),
        ("다섯 명이 다쳤다.", "Five people were hurt.", "num:5:ppl"),
        ("1990년대에", "in the 1990s", "decade:1990"),
    ],
)
def test_numbers_match_across_scripts(anchors: Anchors, analyzer: Analyzer, ko: str, en: str, key: str) -> None:
    assert key in keys(anchors, analyzer, ko)
    assert key in keys(anchors, analyzer, en)


@pytest.mark.parametrize(
    ("ko", "en"),
    [
        ("부시 대통령이 연설했다.", "Obama gave a speech."),
        ("고든이 말했다.", "Smith said."),
        ("카스파로프가 이겼다.", "Karpov won."),
        ("5200만달러", "$52 billion"),
        ("1966년", "1967"),
        ("9월 11일", "November 9"),
    ],
)
def test_unrelated_names_and_numbers_do_not_match(anchors: Anchors, analyzer: Analyzer, ko: str, en: str) -> None:
    found = {k for k in shared(anchors, analyzer, ko, en) if kind_of(k) in ("name", "number", "date")}
    assert not found - {"month:9"}, found


def test_anchors_are_placed_in_their_sentence(anchors: Anchors, analyzer: Analyzer) -> None:
    text = "The weather was fine. Kasparov played in 1966 in Moscow."
    got = anchors.text(analyzer, text)
    assert got.sentences == 2
    first, second = got.by_sentence()
    assert first == ("word:weather",)  # an everyday word of the word list; "fine" is left out (fine weather, a fine)
    assert {"name:ksplp", "year:1966", "term:moscow"} <= set(second)
    assert all(a.sentence == 1 for a in got.anchors if not a.key.startswith("word:"))


@pytest.mark.parametrize(
    ("ko", "en", "words"),
    [
        ("광산 노동자들이 곰이 무서워 복귀를 거부하고 있다.", "Mine workers refuse to go back for fear of the bears.",
         {"word:mine", "word:worker", "word:fear", "word:return", "word:refuse"}),
        ("야당은 수도의 유권자 수천 명이 투표용지를 받지 못했다고 주장했다.",
         "The opposition claimed thousands of voters in the capital got no ballots.",
         {"word:opposition", "word:capital_city", "word:voter", "term:vote", "word:claim"}),
    ],
)
def test_everyday_words_share_keys_across_scripts(
    anchors: Anchors, analyzer: Analyzer, ko: str, en: str, words: set[str]
) -> None:
    # the word list (lexicon.tsv) gives a Korean sentence and its English translation the same
    # "word:" keys; they are never names, numbers or terms
    both = shared(anchors, analyzer, ko, en)
    assert words <= both, words - both
    assert all(kind_of(k) == "word" for k in both if k.startswith("word:"))


def test_the_word_list_leaves_out_what_the_glossary_has(anchors: Anchors, analyzer: Analyzer) -> None:
    keys = anchors.text(analyzer, "Police arrested the bear.").keys
    assert "term:bear" in keys and not any(k.startswith("word:bear") or k == "word:birth" for k in keys)


def test_korean_sentences_carry_kiwi_tags(analyzer: Analyzer) -> None:
    (sentence,) = analyzer.sentences("노무현 대통령이 서울에 도착했다.")
    assert len(sentence.tags) == len(sentence.terms)
    assert dict(zip(sentence.terms, sentence.tags, strict=True))["노무현"] == "NNP"
    (english,) = analyzer.sentences("Roh arrived in Seoul.")
    assert english.tags == ()


def test_skeletons_of_romanised_korean_names() -> None:
    for hangul, latin in (
        ("박", "Park"),
        ("최", "Choi"),
        ("정", "Jung"),
        ("정", "Chung"),
        ("이", "Lee"),
        ("노", "Roh"),
    ):
        assert hangul_skeleton(hangul) == latin_skeleton(latin), (hangul, latin)
    assert latin_skeleton("Gordon") == hangul_skeleton("고든")  # the r Korean does not write
    assert latin_skeleton("Smith") == hangul_skeleton("스미스")  # a final th is an s


def test_short_skeletons_match_only_exactly() -> None:
    assert skeletons_match("ktn", "ktn")
    assert not skeletons_match("sn", "sm")
    assert not skeletons_match("ktn", "kt")
    assert skeletons_match("ksplp", "kspl")  # five letters: one edit
    assert not skeletons_match("ksplp", "ksp")


def test_vocabulary_expands_names_near_and_other_keys_exactly() -> None:
    vocab = KeyVocabulary(["name:ksplp", "name:kspl", "name:sn", "name:sm", "num:30:pct"], FuzzySettings())
    assert vocab.expand("name:ksplp") == ("name:ksplp", "name:kspl")
    assert vocab.expand("name:kplp") == ("name:ksplp",)
    assert vocab.expand("name:sn") == ("name:sn",)
    assert vocab.expand("name:st") == ()
    assert vocab.expand("num:30:pct") == ("num:30:pct",)
    assert vocab.expand("num:30") == ()


@pytest.mark.parametrize("seed", [0, 1])
def test_vocabulary_expands_to_exactly_the_names_a_scan_would_match(seed: int) -> None:
    """The deletion neighbourhood is kept as hashes: whatever it hands back is checked, and
    nothing within reach is missed, so `expand` equals a scan of every name with the same test."""
    import random

    rng = random.Random(seed)
    names = {"".join(rng.choices("pktslmn", k=rng.randint(2, 10))) for _ in range(600)}
    vocab = KeyVocabulary([f"name:{n}" for n in names] + ["num:1:pct"], FuzzySettings())
    for q in list(names)[:150] + ["".join(rng.choices("pktslmn", k=rng.randint(2, 10))) for _ in range(150)]:
        scan = sorted((n for n in names if skeletons_match(q, n)), key=lambda n: (n != q, n))
        assert vocab.expand(f"name:{q}") == tuple(f"name:{n}" for n in scan)


BAD_INPUT = [
    "",
    "   \n  ",
    "rep orted. and the",  # a fragment with a clipped first word
    "orted by the Ministry",
    "Berlin¡¯s mayor said ¡°no¡± to it.",  # mojibake quotes
    "He said &#8212; and &amp; then &quot;no&quot; &#x2014; 5",
    "A. B. C. D. E.",  # initials only
    "BRUSSELS, Belgium (CNN) --",  # a wire dateline
    "1.234.567 12,34 3-4 3.4.5 1,2,3 ,,, ... -- 0.0.0 9999999999999999999999",
    "１２３ ٣ ¾ ² 1e10 0x1F 1/0 -5 +7",
    "제 조 억 만 천 년 월 일 % 달러",
    "5월 32일 13월 0월 99월 99일",
    "ÉMILE ZOLA é ß Ω Ж 中国 日本語 🙂",
    "$ $$ US$ € £ ¥ ₩",
    "The the THE A An And of Of",
    "지난 달 그는 말했다",
]


@pytest.mark.parametrize("text", BAD_INPUT)
def test_bad_input_never_raises_nor_matches_everything(anchors: Anchors, analyzer: Analyzer, text: str) -> None:
    got = anchors.text(analyzer, text)
    for key in got.keys:
        kind = kind_of(key)  # every key has a known kind
        if kind == "name" and key.startswith("name:"):
            assert len(key) - len("name:") >= anchors.settings.names.min_length, key
        if key.startswith("num:"):
            value, _, unit = key[4:].partition(":")
            assert unit or float(value) >= anchors.settings.numbers.min_bare, key
    assert "num:8212" not in got.keys and "num:2014" not in got.keys  # entities are no numbers


def test_bad_input_specific_readings(anchors: Anchors, analyzer: Analyzer) -> None:
    assert keys(anchors, analyzer, "") == set()
    assert keys(anchors, analyzer, "A. B. C.") == set()
    dateline = keys(anchors, analyzer, "BRUSSELS, Belgium (CNN) -- Officials met.")
    assert {"term:brussels", "term:belgium", "acr:cnn"} <= dateline
    assert not any(k.startswith("name:") for k in dateline)
    assert "term:berlin" in keys(anchors, analyzer, "Berlin¡¯s mayor said no.")
    odd = [k for k, _ in number_keys("1.234.567 and 12,34 and 3-4 and 3.4.5")]
    assert "num:1234567" in odd and "num:1234" not in odd and "num:345" not in odd
    assert not [k for k in odd if k in ("num:3", "num:4", "num:5")]


def test_missing_or_damaged_glossary_is_a_typed_error(analyzer: Analyzer, tmp_path: Path) -> None:
    with pytest.raises(AnchorDataError, match="nowhere.tsv"):
        Anchors.load(analyzer, glossary=tmp_path / "nowhere.tsv")
    good = GLOSSARY_FILE.read_text("utf-8").splitlines()
    damaged = {
        "header.tsv": ["# some other file"] + good[1:],
        "columns.tsv": good + ["broken line without tabs"],
        "duplicate.tsv": good + ["us_again\t미국\tAmerica"],
        "truncated.tsv": good[:20],
    }
    for name, lines in damaged.items():
        path = tmp_path / name
        path.write_text("\n".join(lines), "utf-8")
        with pytest.raises(AnchorDataError, match=name):
            Anchors.load(analyzer, glossary=path)
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(AnchorDataError, match="binary.tsv"):
        Anchors.load(analyzer, glossary=binary)


def test_missing_or_damaged_name_model_is_a_typed_error(analyzer: Analyzer, tmp_path: Path) -> None:
    with pytest.raises(AnchorDataError, match="none.json"):
        Anchors.load(analyzer, names=tmp_path / "none.json")
    for name, content in {
        "junk.json": "{not json",
        "format.json": json.dumps({"format": 99, "costs": {}}),
        "op.json": json.dumps({"format": 1, "costs": {"del:q": 0.5}}),
        "cost.json": json.dumps({"format": 1, "costs": {"del:l": 0}}),
    }.items():
        path = tmp_path / name
        path.write_text(content, "utf-8")
        with pytest.raises(AnchorDataError, match=name):
            Anchors.load(analyzer, names=path)
