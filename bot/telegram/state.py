"""The bot's state that must survive a restart or a `kill -9`, in one SQLite file (WAL).

Why not python-telegram-bot's persistence: `BasePersistence` writes its dicts on a timer
(`update_interval`, 60 s by default), detached from the update that changed them, so a hard
kill loses up to a minute of state and nothing ties the state to the update that made it;
`PicklePersistence` can also corrupt its file on a hard kill (python-telegram-bot#3196). Here
every answer commits its history, its button cache and its stats row in one transaction *before*
it is sent (a send can fail after Telegram accepted the message — a dropped connection, a timeout,
a reply that cannot be parsed — and the reader then holds an answer whose follow-ups and buttons
must work), and each message id is linked to its answer as soon as Telegram returns it.

Delivery (long polling acknowledges a batch with the *next* getUpdates, before it is handled):
- every update is journalled here the moment it leaves the update queue's `put` — before the
  Updater asks for the next batch — so an update Telegram will not send again is on disk;
- at start the journalled updates not marked done are replayed, and an update already marked
  done is skipped (Telegram re-sends what was never acknowledged);
- so nothing is lost, and an update is answered twice only if the process dies between
  Telegram accepting the reply and the commit that marks the update done (a few milliseconds);
  the answer recorded before such a kill is not added to the history a second time.

WAL with `synchronous=NORMAL`: a commit survives the process being killed (not a power cut);
readers never block the writer.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import QuoteQAError
from retrieval.models import Answer, Quote, Turn

FILE_NAME = "bot.sqlite3"
SCHEMA_VERSION = 1
MAX_TURNS = 3  # recent turns kept per conversation: follow-ups look back a little, not a whole chat
DONE_KEPT_SECONDS = 2 * 86400  # answered update ids remembered this long (Telegram keeps updates 24 h)
STATS_WINDOW = 10_000  # latencies the median is taken over

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS updates(
    update_id INTEGER PRIMARY KEY, payload TEXT, received REAL NOT NULL, done REAL);
CREATE INDEX IF NOT EXISTS updates_pending ON updates(done) WHERE done IS NULL;
CREATE TABLE IF NOT EXISTS answers(key TEXT PRIMARY KEY, created REAL NOT NULL, answer TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages(
    chat_id INTEGER NOT NULL, message_id INTEGER NOT NULL, answer_key TEXT NOT NULL,
    PRIMARY KEY(chat_id, message_id));
CREATE TABLE IF NOT EXISTS history(conversation TEXT PRIMARY KEY, updated REAL NOT NULL, turns TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS served(id INTEGER PRIMARY KEY, at REAL NOT NULL, elapsed_ms REAL NOT NULL, answered INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS feedback(
    answer_key TEXT NOT NULL, user_id INTEGER NOT NULL, at REAL NOT NULL, vote TEXT NOT NULL,
    question TEXT NOT NULL, language TEXT NOT NULL, confidence REAL NOT NULL, verdict TEXT NOT NULL,
    quotes TEXT NOT NULL, paragraphs TEXT NOT NULL,
    PRIMARY KEY(answer_key, user_id));
"""


class StateError(QuoteQAError):
    """The state file cannot be used; the message says which file and what to do."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What `/stats` shows, over everything the file remembers."""

    served: int
    abstained: int
    median_ms: float | None
    helpful: int
    unhelpful: int


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One 👍 / 👎 press as stored: enough to rebuild an evaluation item without the index."""

    vote: str  # "up" or "down"
    question: str
    language: str
    confidence: float
    verdict: str
    quotes: tuple[Quote, ...]
    paragraphs: tuple[str, ...]  # the full paragraph of each quote ("" when it was gone)


def conversation_key(chat_type: str, chat_id: int, thread_id: int | None, user_id: int | None) -> str:
    """Whose history a message continues: the chat in private chats and channels; in groups
    each user in each forum topic has their own, so two people asking at once do not mix."""
    if chat_type in ("group", "supergroup"):
        return f"{chat_id}:{thread_id or 0}:{user_id or 0}"
    if chat_type == "channel":
        return f"{chat_id}:{thread_id or 0}"
    return str(chat_id)


def new_key() -> str:
    """A short random id for an answer: 8 URL-safe characters fit any callback data."""
    return secrets.token_urlsafe(6)


class StateStore:
    """One SQLite connection shared by the bot's event loop (calls take well under a
    millisecond; the lock only guards against a stray call from a worker thread)."""

    def __init__(self, path: Path, *, history_minutes: float = 30.0, button_days: float = 7.0) -> None:
        self.path = path
        self.history_seconds = history_minutes * 60
        self.button_seconds = button_days * 86400
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise StateError(
                    f"{path} has state format {row[0]}, this quoteqa reads {SCHEMA_VERSION}; move the file away to start afresh"
                )
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot open the bot state {path} ({exc}); move the file away to start afresh") from exc
        self.prune()

    @classmethod
    def in_dir(cls, data_dir: Path, **kwargs: Any) -> StateStore:
        return cls(data_dir / FILE_NAME, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def prune(self, now: float | None = None) -> None:
        """Forget what has expired: old answered update ids, buttons past their days, histories."""
        now = time.time() if now is None else now
        with self._tx() as db:
            db.execute("DELETE FROM updates WHERE done IS NOT NULL AND done < ?", (now - DONE_KEPT_SECONDS,))
            db.execute("DELETE FROM answers WHERE created < ?", (now - self.button_seconds,))
            db.execute("DELETE FROM messages WHERE answer_key NOT IN (SELECT key FROM answers)")
            db.execute("DELETE FROM history WHERE updated < ?", (now - self.history_seconds,))

    # ------------------------------------------------------------------ updates
    def journal(self, update_id: int, payload: dict[str, Any]) -> None:
        """Keep an update that was just received, until it is done."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO updates(update_id, payload, received) VALUES (?, ?, ?)",
                (update_id, json.dumps(payload, ensure_ascii=False), time.time()),
            )

    def pending(self) -> list[dict[str, Any]]:
        """Journalled updates not handled yet, oldest first (replayed at start)."""
        rows = self._read("SELECT payload FROM updates WHERE done IS NULL AND payload IS NOT NULL ORDER BY update_id")
        return [json.loads(r[0]) for r in rows]

    def is_done(self, update_id: int) -> bool:
        rows = self._read("SELECT 1 FROM updates WHERE update_id = ? AND done IS NOT NULL", (update_id,))
        return bool(rows)

    def mark_done(self, update_id: int) -> None:
        with self._tx() as db:
            _done(db, update_id)

    def drop_pending(self) -> None:
        """`--drop-pending-updates`: what arrived while the bot was down is skipped, journal too."""
        with self._tx() as db:
            db.execute("UPDATE updates SET done = ?, payload = NULL WHERE done IS NULL", (time.time(),))

    # ------------------------------------------------------------------ answers and history
    def history(self, conversation: str, now: float | None = None) -> tuple[Turn, ...]:
        """The conversation's recent turns, oldest first; none once it has been quiet too long."""
        now = time.time() if now is None else now
        rows = self._read("SELECT updated, turns FROM history WHERE conversation = ?", (conversation,))
        if not rows or rows[0][0] < now - self.history_seconds:
            return ()
        return tuple(
            Turn(t["question"], tuple(t["articles"]), t["answered"], t.get("passage", -1), t.get("sentence", -1))
            for t in json.loads(rows[0][1])
        )

    def clear_history(self, conversation: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM history WHERE conversation = ?", (conversation,))

    def turn_of_message(self, chat_id: int, message_id: int) -> Turn | None:
        """The exchange a bot message belongs to, so a reply to it follows up on that answer."""
        found = self.answer_of_message(chat_id, message_id)
        return found[1].turn() if found is not None else None

    def answer_of_message(self, chat_id: int, message_id: int) -> tuple[str, Answer] | None:
        """The key and answer a bot message showed (for replies and reactions to it)."""
        rows = self._read("SELECT answer_key FROM messages WHERE chat_id = ? AND message_id = ?", (chat_id, message_id))
        answer = self.answer(rows[0][0]) if rows else None
        return (rows[0][0], answer) if answer is not None else None

    def answer(self, key: str) -> Answer | None:
        """An answer whose buttons are still live (QUOTEQA_BUTTON_DAYS)."""
        return self._answer_where("key = ?", (key,))

    def _answer_where(self, where: str, args: Sequence[object]) -> Answer | None:
        rows = self._read(f"SELECT created, answer FROM answers WHERE {where}", args)
        if not rows or rows[0][0] < time.time() - self.button_seconds:
            return None
        return answer_from_json(json.loads(rows[0][1]))

    def record_answer(
        self,
        *,
        update_id: int | None,
        conversation: str | None,
        answer: Answer,
        key: str | None,
        chat_id: int,
        message_ids: Iterable[int],
        elapsed_ms: float,
        mark_done: bool = True,
    ) -> None:
        """Everything one answered question changes, in one transaction, before it is sent
        (see the module docstring). `update_id` is the update that asked: a replay of the same
        update after a kill adds no second turn. With `mark_done` the update is also marked
        handled (for callers that record after sending; the bot marks it in `delivery.once`)."""
        now = time.time()
        with self._tx() as db:
            if key is not None:
                db.execute(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
                    (key, now, json.dumps(answer_to_json(answer), ensure_ascii=False)),
                )
                _link(db, key, chat_id, message_ids)
            if conversation is not None:
                row = db.execute(
                    "SELECT updated, turns FROM history WHERE conversation = ?", (conversation,)
                ).fetchone()
                turns = json.loads(row[1]) if row and row[0] >= now - self.history_seconds else []
                turn = answer.turn()
                if update_id is None or all(t.get("update") != update_id for t in turns):
                    entry = {
                        "question": turn.question, "articles": list(turn.articles), "answered": turn.answered,
                        "passage": turn.passage, "sentence": turn.sentence, "update": update_id,
                    }  # fmt: skip
                    turns = (turns + [entry])[-MAX_TURNS:]
                db.execute(
                    "INSERT OR REPLACE INTO history VALUES (?, ?, ?)",
                    (conversation, now, json.dumps(turns, ensure_ascii=False)),
                )
            _served(db, now, elapsed_ms, answer.answered)
            if update_id is not None and mark_done:
                _done(db, update_id)

    def link_messages(self, key: str, chat_id: int, message_ids: Iterable[int]) -> None:
        """Messages that show an answer (its parts as each is sent, its More messages, a message
        whose button was pressed) belong to it: a reply or a reaction to one follows up on it."""
        with self._tx() as db:
            _link(db, key, chat_id, message_ids)

    def record_served(self, answer: Answer, elapsed_ms: float) -> None:
        """A question answered outside a conversation (inline mode)."""
        with self._tx() as db:
            _served(db, time.time(), elapsed_ms, answer.answered)

    # ------------------------------------------------------------------ feedback and stats
    def record_feedback(self, key: str, user_id: int, vote: str, answer: Answer, paragraphs: Sequence[str]) -> None:
        """One press; pressing again (or the other button) replaces the user's earlier vote."""
        quotes = [_quote_json(q) for q in answer.quotes]
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, user_id, time.time(), vote, answer.question, answer.language, answer.confidence, answer.verdict,
                 json.dumps(quotes, ensure_ascii=False), json.dumps(list(paragraphs), ensure_ascii=False)),
            )  # fmt: skip

    def feedback(self) -> list[FeedbackRow]:
        rows = self._read(
            "SELECT vote, question, language, confidence, verdict, quotes, paragraphs FROM feedback ORDER BY at"
        )
        return [
            FeedbackRow(
                vote,
                question,
                language,
                confidence,
                verdict,
                tuple(Quote.from_dict(q) for q in json.loads(quotes)),
                tuple(json.loads(paragraphs)),
            )
            for vote, question, language, confidence, verdict, quotes, paragraphs in rows
        ]

    def usage(self) -> Usage:
        served, abstained = self._read("SELECT COUNT(*), COALESCE(SUM(answered = 0), 0) FROM served")[0]
        latencies = [
            r[0] for r in self._read("SELECT elapsed_ms FROM served ORDER BY id DESC LIMIT ?", (STATS_WINDOW,))
        ]
        votes = dict(self._read("SELECT vote, COUNT(*) FROM feedback GROUP BY vote"))
        return Usage(
            served,
            abstained,
            statistics.median(latencies) if latencies else None,
            votes.get("up", 0),
            votes.get("down", 0),
        )


def _done(db: sqlite3.Connection, update_id: int) -> None:
    db.execute(
        "INSERT INTO updates(update_id, payload, received, done) VALUES (?, NULL, ?, ?) "
        "ON CONFLICT(update_id) DO UPDATE SET done = excluded.done, payload = NULL",
        (update_id, time.time(), time.time()),
    )


def _link(db: sqlite3.Connection, key: str, chat_id: int, message_ids: Iterable[int]) -> None:
    db.executemany("INSERT OR REPLACE INTO messages VALUES (?, ?, ?)", [(chat_id, m, key) for m in message_ids])


def _served(db: sqlite3.Connection, now: float, elapsed_ms: float, answered: bool) -> None:
    db.execute("INSERT INTO served(at, elapsed_ms, answered) VALUES (?, ?, ?)", (now, elapsed_ms, int(answered)))
    db.execute("DELETE FROM served WHERE id <= (SELECT MAX(id) FROM served) - ?", (10 * STATS_WINDOW,))


# --------------------------------------------------------------------------- Answer <-> JSON


def _quote_json(q: Quote) -> dict[str, Any]:
    return q.to_dict()


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """What a button needs of an answer later (the core's exact codec, `Answer.to_dict`)."""
    return answer.to_dict()


def answer_from_json(d: dict[str, Any]) -> Answer:
    return Answer.from_dict(d)


def integrity_problems(path: Path) -> list[str]:
    """What SQLite's `PRAGMA integrity_check` finds wrong with the bot state file (read-only:
    nothing is created or changed); [] when it is sound or there is none yet."""
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows
