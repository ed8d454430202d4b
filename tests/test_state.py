"""The bot's SQLite state: histories expire and keep three turns, answers round-trip for their
buttons and expire after their days, the update journal, stats, and the file survives reopening."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bot.telegram.state import StateError, StateStore, answer_from_json, answer_to_json, conversation_key
from retrieval import Engine


def test_conversation_keys() -> None:
    assert conversation_key("private", 5, None, 5) == "5"
    assert conversation_key("supergroup", -100, 7, 5) != conversation_key("supergroup", -100, 7, 6)  # per user
    assert conversation_key("supergroup", -100, 7, 5) != conversation_key("supergroup", -100, 8, 5)  # per topic
    assert conversation_key("channel", -200, None, None) == "-200:0"


def test_answers_history_and_stats_survive_reopening(tmp_path: Path, engine: Engine) -> None:
    store = StateStore.in_dir(tmp_path, history_minutes=30, button_days=7)
    answer = engine.ask("머스크와 푸틴은 클럽하우스에서 무엇을 했나요?", 2)
    assert answer.more and answer_from_json(answer_to_json(answer)) == answer  # every field buttons need
    for n in range(4):
        store.record_answer(
            update_id=n,
            conversation="c",
            answer=answer,
            key=f"k{n}",
            chat_id=1,
            message_ids=[10 + n],
            elapsed_ms=5.0 + n,
        )
    store.close()

    again = StateStore.in_dir(tmp_path, history_minutes=30, button_days=7)
    assert again.answer("k0") == answer and again.answer("nope") is None
    assert len(again.history("c")) == 3 and again.history("c")[-1] == answer.turn()
    assert again.turn_of_message(1, 12) == answer.turn() and again.turn_of_message(1, 99) is None
    assert again.is_done(3) and not again.is_done(4)
    usage = again.usage()
    assert (usage.served, usage.abstained, usage.median_ms) == (4, 0, 6.5)
    assert again.history("c", now=time.time() + 31 * 60) == ()  # quiet for longer than the setting
    again.clear_history("c")
    assert again.history("c") == ()


def test_buttons_expire_after_their_days(tmp_path: Path, engine: Engine) -> None:
    store = StateStore.in_dir(tmp_path, button_days=7)
    answer = engine.ask("What did the Kremlin say?")
    store.record_answer(
        update_id=None, conversation=None, answer=answer, key="old", chat_id=1, message_ids=[1], elapsed_ms=1
    )
    store.prune(now=time.time() + 8 * 86400)
    assert store.answer("old") is None and store.turn_of_message(1, 1) is None


def test_journal_pending_and_drop(tmp_path: Path) -> None:
    store = StateStore.in_dir(tmp_path)
    for n in (3, 1, 2):
        store.journal(n, {"update_id": n})
    store.journal(1, {"update_id": 1, "again": True})  # Telegram sent it again: the first copy stays
    store.mark_done(2)
    assert store.pending() == [{"update_id": 1}, {"update_id": 3}]
    store.drop_pending()
    assert store.pending() == [] and store.is_done(3)


def test_a_broken_state_file_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "bot.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(StateError, match="move the file away"):
        StateStore.in_dir(tmp_path)


def test_wal_mode(tmp_path: Path) -> None:
    StateStore.in_dir(tmp_path).close()
    assert sqlite3.connect(tmp_path / "bot.sqlite3").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_answer_recorded_before_sending_is_one_turn_when_replayed(tmp_path: Path, engine: Engine) -> None:
    """The bot records an answer before sending it; killed mid-send, it answers the replayed
    update again: the conversation gets the turn once, and the update is not done until sent."""
    store = StateStore.in_dir(tmp_path)
    answer = engine.ask("What did the Kremlin say?")
    for key in ("first", "replayed"):
        store.record_answer(
            update_id=7,
            conversation="c",
            answer=answer,
            key=key,
            chat_id=1,
            message_ids=(),
            elapsed_ms=1,
            mark_done=False,
        )
    assert store.history("c") == (answer.turn(),) and not store.is_done(7)
    store.link_messages("replayed", 1, [42])
    assert store.turn_of_message(1, 42) == answer.turn()
