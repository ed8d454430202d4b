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
def test_followups_leave_out_what_the_first_question_named(
    question: str, subject: str, korean: bool, followup: str | None
) -> None:
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
def chat_answerer(parts, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The shipped article plus the set's distractors (another Kremlin statement, another
    Clubhouse story…), in the product's store, asked through the product's answer path."""
    from retrieval.corpus.files import load_corpus
    from tests.conftest import CORPUS

    convs = load_conversations()
    store = conversations.hand_written_store(convs, load_corpus(CORPUS), parts, tmp_path_factory.mktemp("chat"))
    return conversations.Asker(parts, store)


def test_a_follow_up_is_answered_from_the_conversations_article(chat_answerer) -> None:  # type: ignore[no-untyped-def]
    first = chat_answerer.answer("트위터는 어떤 자체 버전을 출시했나요?")
    assert first.quotes and first.quotes[0].source.article == "clubhouse-putin-musk"
    followed = chat_answerer.answer("그럼 페이스북은?", history=(first.turn(),))
    assert followed.context == "트위터는 어떤 자체 버전을 출시했나요?"
    assert (
        followed.quotes[0].source.article == "clubhouse-putin-musk" and "페이스북은 유사 SNS" in followed.quotes[0].text
    )
    alone = chat_answerer.answer("그럼 페이스북은?")
    assert not alone.context and followed.confidence > alone.confidence


def test_a_self_contained_question_ignores_an_unrelated_conversation(chat_answerer) -> None:  # type: ignore[no-untyped-def]
    earlier = chat_answerer.answer("Facebook tests live audio rooms for groups: when did the company say so?").turn()
    for question in (
        "Who did Musk invite to Clubhouse?",
        "크렘린궁은 뭐라고 했나요?",
        "What is the capital of France?",
    ):
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
    assert (
        0.0 <= hand["accuracy_without_history"] <= 1.0
        and hand["accuracy_with_history"] > hand["accuracy_without_history"]
    )
    assert [u["file"] for u in out["self_contained"]] == ["tiny_ko.json", "tiny_en.json"]
    assert all(u["changed"] == 0 for u in out["self_contained"])


def test_eval_conversations_runs_the_hand_written_set_without_the_public_data(
    analyzer, tmp_path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
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


# --- issue 20: follow-ups that point back, names, and "what next?" ----------------------------------
def _corpus_text() -> str:
    from retrieval.corpus.files import load_corpus
    from tests.conftest import CORPUS

    return normalize_space(" ".join(p for a in load_corpus(CORPUS) for p in a.paragraphs))


def _ask(answerer, *questions: str):  # type: ignore[no-untyped-def]
    """Ask in turn, each with the turns before it; every quote must be verbatim corpus text."""
    corpus = _corpus_text()
    history, answers = [], []
    for q in questions:
        answer = answerer.answer(q, history=tuple(history))
        assert all(
            normalize_space(x.text) in corpus for x in answer.quotes if x.source.article == "clubhouse-putin-musk"
        )
        answers.append(answer)
        history.append(answer.turn())
    return answers


@pytest.mark.parametrize(("first", "followup", "gold"), [
    ("Who did Musk invite to Clubhouse?", "What did the Kremlin spokesperson say about it?", "interesting"),
    ("Who did Musk invite to Clubhouse?", "What did Peskov think of that offer?", "Peskov"),
    ("머스크는 누구를 클럽하우스에 초대했나요?", "크렘린궁 대변인은 그거에 대해 뭐라고 했나요?", "흥미로운 제안"),
    ("머스크는 누구를 클럽하우스에 초대했나요?", "그 제안에 대해 크렘린궁은 뭐라고 했나요?", "흥미로운 제안"),
    # no pointing word, but short, and the last story holds every word of it
    ("Who did Musk invite to Clubhouse?", "What did the Kremlin spokesperson say?", "interesting"),
    ("머스크는 누구를 클럽하우스에 초대했나요?", "크렘린궁 대변인은 뭐라고 했나요?", "흥미로운 제안"),
    # a name in the last answer's article
    ("Who did Musk invite to Clubhouse?", "And what about Putin?", "Putin"),
    ("머스크는 누구를 클럽하우스에 초대했나요?", "그럼 푸틴은?", "푸틴"),
])  # fmt: skip
def test_a_follow_up_is_read_with_the_story_it_points_back_to(
    chat_answerer, first: str, followup: str, gold: str
) -> None:  # type: ignore[no-untyped-def]
    """Issue 20, items 3-4: another story of the corpus shares the follow-up's words (another
    statement by the same spokesperson, another Putin story); the reply quotes the story the
    conversation is about, where it used to quote the other one or abstain."""
    asked, followed = _ask(chat_answerer, first, followup)
    assert asked.quotes[0].source.article == "clubhouse-putin-musk"
    assert followed.answered and followed.context == first
    assert followed.quotes[0].source.article == "clubhouse-putin-musk", followed.quotes[0]
    assert gold in followed.quotes[0].text


def test_what_next_continues_from_the_last_quote(chat_answerer) -> None:  # type: ignore[no-untyped-def]
    """Issue 20, item 4: "what next?" / "그 다음은?" / "more" go on with the sentences after the
    last answer's first quote, in its paragraph or the next one, until the story ends."""
    asked, going_on, further = _ask(chat_answerer, "Who did Musk invite to Clubhouse?", "what next?", "more")
    assert going_on.answered and going_on.kind == "continue" and going_on.context == "Who did Musk invite to Clubhouse?"
    start = asked.quotes[0]
    assert going_on.quotes[0].source.article == start.source.article
    assert going_on.quotes[0].text.startswith(
        "The Tesla and SpaceX CEO then said in Russian"
    )  # the paragraph after ¶14
    assert further.quotes[0].text.startswith("Clubhouse has been downloaded around five million times")
    ko = _ask(chat_answerer, "머스크는 누구를 클럽하우스에 초대했나요?", "그 다음은?")[1]
    assert ko.quotes[0].text == "그러자 푸틴 대통령 측은 “흥미로운 제안”이라는 공식 반응을 내놨다."  # the rest of ¶3
    last = _ask(chat_answerer, "How much was Clubhouse valued at last month?", "what next?", "what next?", "what next?")
    assert last[0].quotes[0].source.paragraph == 19
    assert not last[-1].answered and "end of" in last[-1].message
    alone = chat_answerer.answer("what next?")
    assert alone.kind != "continue" and not alone.context  # with nothing before it, nothing to go on from


def test_turns_keep_where_their_quote_ended_in_the_bot_state(tmp_path, chat_answerer) -> None:  # type: ignore[no-untyped-def]
    from bot.telegram.state import StateStore

    answer = chat_answerer.answer("Who did Musk invite to Clubhouse?")
    store = StateStore.in_dir(tmp_path)
    store.record_answer(update_id=1, conversation="c", answer=answer, key="k", chat_id=1, message_ids=[5], elapsed_ms=1)
    (turn,) = store.history("c")
    assert turn == answer.turn() and turn.passage == answer.quotes[0].passage and turn.sentence >= 0
