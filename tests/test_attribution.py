""" "What did X say?" quotes X's speech, also when "X said" is in the sentence before or after
(retrieval/answer/attribution.py, kind_features.py), and a quotation cut in two by the sentence
splitter comes back whole (whole_quote.py). Real Kiwi, the real encoder, a real store; quotes are
checked verbatim against the corpus text."""

from __future__ import annotations

import json

import pytest
from conftest import normalize, open_engine

from retrieval import Analyzer, Engine, EngineConfig
from retrieval.answer.attribution import speech
from retrieval.answer.whole_quote import unbalanced

EN_PORT = [
    "Fishermen in Mokpo counted dozens of wrecked boats in the harbour on Monday after the storm.",
    "Port chief Kim Min-su visited the harbour on Tuesday morning with two ministers.",
    '"We will rebuild the harbour before winter, and the state will pay for every boat," he told reporters.',
    "Kim Min-su was appointed port chief of the harbour in 2019.",
]
KO_PORT = [
    "목포 어민들은 월요일 태풍이 지나간 뒤 항구에서 부서진 어선 수십 척을 셌다.",
    "김민수 항만청장은 화요일 오전 장관 두 명과 함께 항구를 찾았다.",
    "그는 “겨울이 오기 전에 항구를 다시 짓고 국가가 모든 배를 보상하겠다”고 기자들에게 말했다.",
    "김민수 청장은 2019년 항만청장에 임명됐다.",
]
EN_BOMB = [
    "Thousands of mourners attended the funerals of victims killed in Sunday's double bombing in Izmir.",
    "Seventeen people were killed and 154 injured when the two bombs went off minutes apart in Izmir.",
    "The governor of Izmir said the city would hold a day of mourning on Tuesday.",
]
KO_BOMB = [
    "이즈미르 연쇄 폭탄 테러 희생자들의 장례식에 일요일 수천 명의 애도자가 참석했다.",
    "폭탄 두 개가 몇 분 간격으로 터져 17명이 숨지고 154명이 다쳤다.",
    "이즈미르 주지사는 화요일을 애도의 날로 정했다고 밝혔다.",
]
# one paragraph, a quotation the splitter cuts at its inner full stop
EN_SPLIT = (
    '"The cranes are gone. We will need six weeks and 40 million dollars to replace them," engineer '
    "Park Ji-hoon said on Wednesday. The ferry to Jeju will run again on Friday."
)


@pytest.fixture(scope="module")
def news_engine(tmp_path_factory: pytest.TempPathFactory, analyzer: Analyzer) -> Engine:
    base = tmp_path_factory.mktemp("attribution")
    corpus = base / "corpus"
    corpus.mkdir()
    rows = [
        {"id": "port-en", "title": "Storm hits Mokpo", "text": "\n\n".join(EN_PORT)},
        {"id": "port-ko", "title": "태풍 피해 목포항", "text": "\n\n".join(KO_PORT)},
        {"id": "bomb-en", "title": "Izmir mourns", "text": "\n\n".join(EN_BOMB)},
        {"id": "bomb-ko", "title": "이즈미르 장례식", "text": "\n\n".join(KO_BOMB)},
        {"id": "cranes-en", "title": "Cranes lost", "text": EN_SPLIT},
    ]
    (corpus / "news.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return open_engine(EngineConfig(corpus, base / "data"), analyzer)


def _first(engine: Engine, question: str) -> str:
    answer = engine.ask(question)
    assert answer.quotes, question
    return normalize(answer.quotes[0].text)


@pytest.mark.parametrize(
    ("question", "paragraphs", "line"),
    [
        ("What did port chief Kim Min-su say about the harbour?", EN_PORT, 2),
        ("김민수 항만청장은 항구에 대해 뭐라고 말했나?", KO_PORT, 2),
    ],
)
def test_the_speakers_quote_is_chosen_when_the_name_is_in_the_sentence_before(
    news_engine: Engine, question: str, paragraphs: list[str], line: int
) -> None:
    first = _first(news_engine, question)
    assert first == normalize(paragraphs[line])


@pytest.mark.parametrize(
    ("question", "paragraphs", "line"),
    [
        ("How many people were killed in the Izmir bombing?", EN_BOMB, 1),
        ("이즈미르 폭탄 테러로 몇 명이 숨졌나?", KO_BOMB, 1),
    ],
)
def test_how_many_picks_the_number_that_counts_what_is_asked(
    news_engine: Engine, question: str, paragraphs: list[str], line: int
) -> None:
    assert _first(news_engine, question) == normalize(paragraphs[line])


def test_a_quotation_cut_by_the_splitter_comes_back_whole(news_engine: Engine, analyzer: Analyzer) -> None:
    spans = analyzer.sentences(EN_SPLIT)
    pieces = [EN_SPLIT[s.start : s.end] for s in spans]
    assert pieces[0] == '"The cranes are gone.'  # the splitter does cut it: the test means something
    first = _first(news_engine, "What did the cranes cost to replace, according to Park Ji-hoon?")
    assert first.startswith('"The cranes are gone. We will need six weeks')
    assert "said on Wednesday." in first and unbalanced(first) == 0
    assert first in normalize(EN_SPLIT)


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ('"The cranes are gone.', 1),
        ('We will rebuild," he said.', -1),
        ("“다시 짓겠다”고 말했다.", 0),
        ("“겨울 전에.", 1),
        ("No quote.", 0),
    ],
)
def test_unbalanced_tells_which_way_a_quotation_goes_on(text: str, side: int) -> None:
    assert unbalanced(text) == side


def test_speech_in_both_languages() -> None:
    assert speech("Kim Min-su said the state will pay.") and speech("그는 보상하겠다고 말했다.")
    assert speech("정부가 모두 보상할 것이라며 자리를 떠났다.") and not speech("The ferry will run on Friday.")
