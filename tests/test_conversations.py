"""The follow-up set and its measurement (measure/conversations.py)."""

from __future__ import annotations

import pytest

from measure import conversations
from measure.conversations import load_conversations, subject_of, without_subject
from retrieval.text.analyze import normalize_space


@pytest.mark.parametrize(
    ("question", "subject", "korean", "followup"),
    [
        ("Where did Super Bowl 50 take place?", "Super Bowl 50", False, "Where did it take place?"),
        ("What was Warsaw's population in 1901?", "Warsaw", False, "What was its population in 1901?"),
        ("Who won the Super Bowl 50 MVP award?", "Super Bowl 50", False, "Who won it MVP award?"),
        ("반기문이 언급한 강 이름은?", "반기문", True, "그가 언급한 강 이름은?"),
        ("임종석을 검거한 장소는?", "임종석", True, "그것을 검거한 장소는?"),
        ("Who founded the company?", "Tesla", False, None),
    ],
)
def test_followups_leave_out_what_the_first_question_named(question: str, subject: str, korean: bool, followup: str | None) -> None:
    assert without_subject(question, subject, korean) == followup


def test_subjects_drop_disambiguation() -> None:
    assert subject_of("Sky (United Kingdom)") == "Sky" and subject_of("Super_Bowl_50") == "Super Bowl 50"
    assert subject_of("김정남 (조선민주주의인민공화국)") == "김정남"


def test_the_hand_written_set_is_well_formed() -> None:
    """Every follow-up's gold words are in the shipped article, and distractors share its words."""
    from retrieval.corpus.files import load_corpus
    from tests.conftest import CORPUS

    convs = load_conversations()
    [shipped] = load_corpus(CORPUS)
    text = normalize_space(shipped.text)  # quotes are shown with whitespace folded (the article has no-break spaces)
    assert len(convs.conversations) >= 10 and convs.articles
    for c in convs.conversations:
        assert c.gold_article == shipped.id and c.gold_contains in text, c.id
    distractor_text = " ".join(a.text for a in convs.articles)
    for word in ("Kremlin", "Clubhouse", "Facebook", "크렘린궁", "클럽하우스", "페이스북", "downloaded", "다운로드"):
        assert word in distractor_text


def test_a_broken_conversation_file_names_the_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from retrieval.errors import QuoteQAError

    bad = tmp_path / "c.jsonl"
    bad.write_text('{"type": "conversation", "id": "x", "turns": []}\n', "utf-8")
    with pytest.raises(QuoteQAError, match=r"c.jsonl:1"):
        conversations.load_conversations(bad)


# --- follow-ups through the real answer path -------------------------------------------------
@pytest.fixture(scope="module")
def chat_answerer(analyzer):  # type: ignore[no-untyped-def]
    """The shipped article plus the set's distractors (another Kremlin statement, another
    Clubhouse story…), on the in-memory store."""
    from retrieval.answer.pipeline import Answerer
    from retrieval.index.bm25 import SearchParams
    from retrieval.corpus.files import load_corpus
    from tests.conftest import CORPUS

    convs = load_conversations()
    return Answerer(conversations.hand_written_store(convs, load_corpus(CORPUS), analyzer, SearchParams()), analyzer)


def test_a_follow_up_is_answered_from_the_conversations_article(chat_answerer) -> None:  # type: ignore[no-untyped-def]
    first = chat_answerer.answer("트위터는 어떤 자체 버전을 출시했나요?")
    assert first.quotes and first.quotes[0].source.article == "clubhouse-putin-musk"
    followed = chat_answerer.answer("그럼 페이스북은?", history=(first.turn(),))
    assert followed.context == "트위터는 어떤 자체 버전을 출시했나요?"
    assert followed.quotes[0].source.article == "clubhouse-putin-musk" and "페이스북은 유사 SNS" in followed.quotes[0].text
    alone = chat_answerer.answer("그럼 페이스북은?")
    assert not alone.context and followed.confidence > alone.confidence


def test_a_self_contained_question_ignores_an_unrelated_conversation(chat_answerer) -> None:  # type: ignore[no-untyped-def]
    earlier = chat_answerer.answer("Facebook tests live audio rooms for groups: when did the company say so?").turn()
    for question in ("Who did Musk invite to Clubhouse?", "크렘린궁은 뭐라고 했나요?", "What is the capital of France?"):
        alone, after = chat_answerer.answer(question), chat_answerer.answer(question, history=(earlier,))
        assert after.context == "" and [q.text for q in after.quotes] == [q.text for q in alone.quotes]
        assert (after.verdict, after.confidence) == (alone.verdict, alone.confidence)


@pytest.mark.parametrize(("question", "reason"), [
    ("And what did the Kremlin say about it?", "cue"), ("그럼 페이스북은?", "cue"), ("When did he invite Putin?", "pronoun"), ("And 크렘린궁은?", "cue"),
    ("그는 푸틴 대통령에 대해 뭐라고 했나요?", "pronoun"), ("Facebook?", "few words"),
    ("Who did Musk invite to Clubhouse?", ""), ("크렘린궁은 푸틴 대통령에 대해 뭐라고 했나요?", ""),
])  # fmt: skip
def test_what_makes_a_question_lean_on_its_context(question: str, reason: str, analyzer) -> None:  # type: ignore[no-untyped-def]
    from retrieval.answer.conversation import depends
    from retrieval.answer.question import FRAME_TERMS, question_language

    content = {w.term for w in analyzer.question_words(question)} - FRAME_TERMS
    assert depends(question, question_language(question), len(content)) == reason


def test_eval_conversations_command(analyzer, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`quoteqa eval --conversations` on the hand-written set and two tiny SQuAD files: every
    set reported with and without history, and the self-contained check run per file."""
    import json

    import retrieval
    from bot.cli import main
    from tests.test_splits import EN, KO, squad_file

    monkeypatch.setattr(retrieval, "Analyzer", lambda **_: analyzer)  # the session's Kiwi, not a second one
    files = [squad_file(tmp_path / "tiny_ko.json", KO), squad_file(tmp_path / "tiny_en.json", EN)]
    assert main(["eval", "--conversations", "--json", *map(str, files)]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [s["set"] for s in out["sets"]]
    assert names[0] == "conversations.jsonl" and any(n.startswith("tiny_ko.json") for n in names)
    hand = out["sets"][0]
    assert hand["followups"] == len(load_conversations().conversations)
    assert 0.0 <= hand["accuracy_without_history"] <= 1.0 and hand["accuracy_with_history"] > hand["accuracy_without_history"]
    assert [u["file"] for u in out["self_contained"]] == ["tiny_ko.json", "tiny_en.json"]
    assert all(u["changed"] == 0 for u in out["self_contained"])


def test_eval_conversations_runs_the_hand_written_set_without_the_public_data(analyzer, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """A clone has no ../shared/data: `eval --conversations` still measures its own hand-written
    set and says which public files it left out; `eval --splits` says where to get them."""
    import json

    import retrieval
    from bot.cli import main

    monkeypatch.setattr(retrieval, "Analyzer", lambda **_: analyzer)
    monkeypatch.setenv("QUOTEQA_EVAL_DATA_DIR", str(tmp_path / "not-downloaded"))
    assert main(["eval", "--conversations", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert [s["set"] for s in out["sets"]] == ["conversations.jsonl"] and out["self_contained"] == []
    assert "KorQuAD_v1.0_dev.json is not here" in captured.err and "Evaluation data" in captured.err
    assert main(["eval", "--splits"]) == 2
    assert "QUOTEQA_EVAL_DATA_DIR" in capsys.readouterr().err
