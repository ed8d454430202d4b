"""Example questions come from the corpus: the newest articles' titles, in the asker's language."""

from __future__ import annotations

from retrieval import Analyzer, Engine
from retrieval.answer.suggest import MAX_TITLE, suggestions
from retrieval.index.memory import MemoryStore
from retrieval.models import Article


def test_newest_titles_first_in_the_asked_language(analyzer: Analyzer) -> None:
    store = MemoryStore(analyzer)
    assert suggestions(store.snapshot(), "en") == []
    store.add([Article("old", "Ferry fares rise / 여객선 요금 인상", ("Ferry fares rose.",))])
    store.add(
        [
            Article(
                "new", "Harbour reopens after storm / 폭풍 뒤 항구 재개장", ("The harbour reopened.", "Boats returned.")
            )
        ]
    )
    assert suggestions(store.snapshot(), "en") == [
        "What does ‘Harbour reopens after storm’ report?",
        "What does ‘Ferry fares rise’ report?",
    ]
    assert suggestions(store.snapshot(), "ko", 1) == ["‘폭풍 뒤 항구 재개장’ 기사는 무엇을 전했나요?"]
    store.add([Article("long", "A " + "very " * 30 + "long title", ("Text.",))])
    [first] = suggestions(store.snapshot(), "en", 1)
    assert "…" in first and len(first) < MAX_TITLE + 30


def test_no_answer_and_empty_question_suggest_the_corpus(make_engine) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from retrieval import QuestionError

    engine: Engine = make_engine()
    assert (
        "Herons" not in engine.ask("What is the capital of France?").message
    )  # kept per commit: must follow the next one
    lede = "Grey herons have returned to the river, a wildlife report says; they nest near water."  # a lede repeats its headline
    (engine.corpus_dir / "heron.txt").write_text(f"---\ntitle: Herons return to the river\n---\n{lede}\n", "utf-8")
    engine.reload()
    message = engine.ask("What is the capital of France?").message
    assert "Herons return to the river" in message and "Kremlin say" not in message
    assert engine.ask(message.split("“", 1)[1].rsplit("”", 1)[0]).answered  # the suggestion itself is answerable
    with pytest.raises(QuestionError, match="Herons return to the river"):
        engine.ask("   ")
