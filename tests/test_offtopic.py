"""The off-topic names gate (retrieval/answer/offtopic.py) and the anchors' data files at engine
start: a question naming people the corpus never names is refused; the shipped article's own
questions are not; a missing or damaged glossary or name model stops the engine with its name."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, open_engine, store_question

from retrieval import Analyzer, Article, Engine, EngineConfig
from retrieval.answer.offtopic import (
    AbsentPlaceClause,
    ExactNamesClause,
    OffTopicGate,
    QuoteStoryClause,
    UnknownWordsClause,
)
from retrieval.answer.verdict import anchor_signals
from retrieval.errors import AnchorDataError
from retrieval.index.segments.columns import anchors as column
from retrieval.text.anchors import fuzzy, glossary


@pytest.mark.parametrize(
    "question",
    [
        "What did Angela Merkel say about the Bundesbank?",
        "What did Jacinda Ardern tell reporters in Wellington?",
        "How many votes did Luiz Inacio Lula da Silva win?",
    ],
)
def test_a_question_naming_absent_people_is_refused(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.signals["anchor_names"] >= 1 and answer.signals["anchor_names_story"] <= 0.34
    assert answer.verdict == "abstain" and not answer.quotes


@pytest.mark.parametrize(
    "question", ["What did the Kremlin say?", "크렘린궁은 뭐라고 했나요?", "What did Putin say to Musk?"]
)
def test_questions_about_the_shipped_article_are_not_refused_by_the_gate(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.verdict != "abstain" and answer.quotes
    assert not OffTopicGate().refuses(answer.signals)


def test_the_gate_reads_names_found_and_lets_words_or_meaning_overrule() -> None:
    gate = OffTopicGate(min_names=1, max_found=0.34, together=True, words_override=0.8, meaning_override=0.6)
    absent = {"anchor_names": 2.0, "anchor_names_story": 0.0, "passage_coverage": 0.3, "sem_quote_cos": 0.2}
    assert gate.refuses(absent)
    assert gate.refuses(absent | {"anchor_names_story": 0.34})  # a third of its names in one story
    assert not gate.refuses(absent | {"anchor_names_story": 0.5})  # half its names told of together
    assert not gate.refuses(absent | {"anchor_names": 0.0})  # no names: other models decide
    assert not gate.refuses(absent | {"passage_coverage": 0.9})  # the words say otherwise
    assert not gate.refuses(absent | {"sem_quote_cos": 0.7})  # the meaning says otherwise
    assert not gate.refuses({})  # no signals: no say


@pytest.mark.parametrize("which", ["glossary", "lexicon", "names"])
@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_missing_or_damaged_anchor_data_stops_the_engine_naming_the_file(
    tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch, which: str, damage: str
) -> None:
    module, attr = {
        "glossary": (glossary, "GLOSSARY_FILE"), "lexicon": (glossary, "LEXICON_FILE"), "names": (fuzzy, "NAMES_FILE"),
    }[which]  # fmt: skip
    real: Path = getattr(module, attr)
    bad = tmp_path / real.name
    if damage == "damaged":
        bad.write_bytes(real.read_bytes()[: len(real.read_bytes()) // 2] + b"\x00\xff{{")
    monkeypatch.setattr(module, attr, bad)
    monkeypatch.setattr(column, "_loaded", {})  # as in a new process
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    with pytest.raises(AnchorDataError, match=bad.name):
        open_engine(EngineConfig(corpus, tmp_path / "data", encoder="none"), analyzer)
    assert not (tmp_path / "data" / "index").exists() or not list((tmp_path / "data" / "index").glob("seg-*"))


def test_the_quote_story_reading_refuses_names_the_quoted_story_never_tells_of() -> None:
    clause = QuoteStoryClause(min_names=2, max_share=0.2, words_override=0.5, meaning_override=0.5)
    # two long names, each found somewhere in the corpus (the first reading lets it through), yet
    # the story the answer would quote from holds none of the question's anchors
    found = {"anchor_names": 2.0, "anchor_names_story": 1.0, "anchor_long_names": 2.0, "anchor_story_share": 0.0,
             "passage_coverage": 0.3, "sem_quote_cos": 0.2}  # fmt: skip
    gate = OffTopicGate(quote_story=clause)
    assert gate.refuses(found) and not OffTopicGate(quote_story=None).refuses(found)
    assert not gate.refuses(found | {"anchor_story_share": 0.5})  # the quoted story tells of them
    assert not gate.refuses(found | {"anchor_long_names": 1.0})  # one name: too little to go on
    assert not gate.refuses(found | {"passage_coverage": 0.6})  # the words say otherwise
    assert not gate.refuses(found | {"sem_quote_cos": 0.55})  # the meaning says otherwise
    assert not clause.refuses({})


@pytest.mark.parametrize(
    "question",
    ["What did Hugo Chavez say about oil exports to Cuba?", "Why did Raila Odinga reject the election result?"],
)
def test_names_found_only_by_chance_are_refused(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.verdict == "abstain" and not answer.quotes, (answer.verdict, answer.signals.get("anchor_story_share"))


def test_the_low_chance_reading_refuses_what_the_confidence_model_all_but_rules_out() -> None:
    gate = OffTopicGate(min_names=10**6, quote_story=None, min_chance=0.02)
    seen = {"anchor_names": 0.0, "passage_coverage": 0.3, "sem_quote_cos": 0.2}
    assert gate.refuses(seen, chance=0.019)
    assert not gate.refuses(seen, chance=0.02)
    assert not gate.refuses(seen)  # no chance given (a replay of stored signals): no say
    assert not gate.refuses({}, chance=0.0)  # no signals: no say
    assert not OffTopicGate(min_names=10**6, quote_story=None, min_chance=0.0).refuses(seen, chance=0.0)


@pytest.mark.parametrize("question", ["What did the Kremlin say?", "크렘린궁은 뭐라고 했나요?"])
def test_the_shipped_articles_questions_are_far_above_the_low_chance_level(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.verdict in ("answer", "unsure")
    assert answer.confidence >= 5 * OffTopicGate().min_chance  # shown confidence = the chance, for these verdicts


def test_the_exact_names_reading_refuses_names_found_only_near_their_spelling() -> None:
    clause = ExactNamesClause(min_names=1, max_exact=0.0, words_override=0.8, meaning_override=0.5, max_chance=0.2)
    gate = OffTopicGate(min_names=10**6, quote_story=None, min_chance=0.0, exact_names=clause)
    near = {"anchor_long_names": 1.0, "anchor_long_names_exact_story": 0.0, "passage_coverage": 0.3,
            "sem_quote_cos": 0.3}  # fmt: skip
    assert gate.refuses(near, chance=0.1)
    assert not OffTopicGate(min_names=10**6, quote_story=None, min_chance=0.0, exact_names=None).refuses(near, 0.1)
    assert not gate.refuses(near | {"anchor_long_names_exact_story": 0.5}, chance=0.1)  # a story spells one
    assert not gate.refuses(near, chance=0.2)  # the confidence model is not doubtful enough
    assert not gate.refuses(near | {"anchor_long_names": 0.0}, chance=0.1)  # no long name to go on
    assert not gate.refuses(near | {"passage_coverage": 0.8}, chance=0.1)  # the words say otherwise
    assert not gate.refuses(near | {"sem_quote_cos": 0.5}, chance=0.1)  # the meaning says otherwise
    assert not gate.refuses({}, chance=0.0)


def test_a_name_matched_only_fuzzily_is_found_but_not_exactly(tmp_path: Path, analyzer: Analyzer) -> None:
    """ "Tony Blair" (skeleton tnpl) is near "Tony Blaine" (tnpln) in the index, and is not it: the
    fuzzy reading finds it, the exact one does not; the story's own name is found both ways."""
    articles = [Article("talks", "-", ("Tony Blaine said the talks in Belfast would resume on Monday.",))]
    signals = {}
    for name in ("Blair", "Blaine"):
        question = f"When did Tony {name} step down?"
        ctx = store_question(tmp_path / name, analyzer, None, articles, question, encoder="none").ctx
        signals[name] = anchor_signals(ctx, [])
    blair, blaine = signals["Blair"], signals["Blaine"]
    assert blair["anchor_long_names"] >= 1 and blair["anchor_long_names_found"] > 0  # near enough to be found
    assert blair["anchor_long_names_exact"] == 0.0 and blair["anchor_long_names_exact_story"] == 0.0
    assert blaine["anchor_long_names_exact"] == 1.0 and blaine["anchor_long_names_exact_story"] == 1.0


def test_the_absent_places_reading_refuses_a_country_or_city_no_passage_names() -> None:
    clause = AbsentPlaceClause(min_places=1, words_override=0.8, meaning_override=0.5)
    gate = OffTopicGate(min_names=10**6, quote_story=None, min_chance=0.0, exact_names=None, absent_places=clause)
    absent = {"anchor_places_absent": 1.0, "passage_coverage": 0.3, "sem_quote_cos": 0.3}
    assert gate.refuses(absent)
    assert not dataclasses.replace(gate, absent_places=None).refuses(absent)
    assert not gate.refuses(absent | {"anchor_places_absent": 0.0})  # every place it names is in the corpus
    assert not gate.refuses(absent | {"passage_coverage": 0.8})  # the words say otherwise
    assert not gate.refuses(absent | {"sem_quote_cos": 0.5})  # the meaning says otherwise
    assert not gate.refuses({})


def test_the_glossary_knows_which_terms_are_places(analyzer: Analyzer) -> None:
    places = column.anchors_for(analyzer).glossary.places
    assert {"mumbai", "japan", "south_korea", "seoul"} <= places
    assert not {"minister", "president", "un", "fed"} & places  # titles, bodies and agencies are not


@pytest.mark.parametrize(
    "question", ["How many people died in the Mumbai train bombings?", "뭄바이 열차 폭탄 테러로 몇 명이 숨졌나?"]
)
def test_a_question_about_a_place_the_corpus_never_names_is_refused(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.signals["anchor_places_absent"] >= 1
    assert answer.verdict == "abstain" and not answer.quotes


@pytest.mark.parametrize(
    "question", ["What is the airspeed velocity of an unladen swallow?", "김치찌개 맛있게 끓이는 법 알려줘"]
)
def test_everyday_questions_of_the_shipped_article_are_refused(engine: Engine, question: str) -> None:
    """The words-unknown reading refuses them on its own evidence: the low-chance reading's level
    is now 0.01, at which both came back `unsure` (chance 0.011 and 0.014)."""
    answer = engine.ask(question)
    assert answer.verdict == "abstain" and not answer.quotes, (answer.confidence, answer.signals.get("sem_quote_cos"))
    assert UnknownWordsClause().refuses(answer.signals), answer.signals.get("unknown_share")


def test_the_unknown_words_reading_refuses_a_question_the_corpus_has_no_words_for() -> None:
    clause = UnknownWordsClause(min_unknown=0.8, meaning_override=0.2)
    gate = OffTopicGate(
        min_names=10**6, quote_story=None, min_chance=0.0, exact_names=None, absent_places=None, unknown_words=clause
    )
    unknown = {"semantic": 1.0, "sem_corpus_other": 0.0, "unknown_share": 0.85, "sem_quote_cos": 0.1}
    assert gate.refuses(unknown)
    assert not dataclasses.replace(gate, unknown_words=None).refuses(unknown)
    assert not gate.refuses(unknown | {"unknown_share": 0.7})  # the corpus uses enough of its words
    assert not gate.refuses(unknown | {"sem_quote_cos": 0.2})  # the meaning says otherwise
    # a corpus with no passage in the question's language shares no words with it by nature
    assert not gate.refuses(unknown | {"sem_corpus_other": 1.0})
    assert not gate.refuses({k: v for k, v in unknown.items() if k != "semantic"})  # words-only: no cosine speaks
    assert not gate.refuses({})
