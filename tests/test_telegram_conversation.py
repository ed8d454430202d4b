"""Telegram end to end for conversations (issue 14): history per conversation, replies as
context, /new, forum topics, 👍 / 👎 and /stats, inline without an answer, and a real bot
process killed with SIGKILL in the middle of a burst.

The real python-telegram-bot stack over real HTTP against the fake Bot API, the real engine
(real Kiwi) and a real SQLite state file. `FollowUpEngine` only records the history each
question reached the real engine with; the core decides whether it follows up.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT
from bot.telegram.app import build_application, running
from bot.telegram.feedback import squad_export
from bot.telegram.state import StateStore
from retrieval import Answer, Engine, Turn
from tests.fake_bot_api import Call, FakeBotApi
from tests.test_telegram import ADMIN, TOKEN, check_html, make_settings, new_api  # noqa: F401 (new_api is a fixture)

pytestmark = pytest.mark.asyncio(loop_scope="session")

EN_Q = "Who invited Putin to Clubhouse?"
FOLLOW = "And what did the Kremlin say?"


class FollowUpEngine:
    """The real engine, recording the history each question was asked with."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.asked: list[tuple[str, tuple[Turn, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def ask(self, question: str, max_quotes: int = 3, history: Sequence[Turn] = ()) -> Answer:
        self.asked.append((question, tuple(history)))
        return self._engine.ask(question, max_quotes, history)

    def history_of(self, question: str) -> list[str]:
        """The questions of the history the last asking of `question` came with."""
        return [t.question for t in next(h for q, h in reversed(self.asked) if q == question)]


def text(call: Call) -> str:
    return call.params["text"]


def buttons(call: Call) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row}


async def sent_after(api: FakeBotApi, chat: int, push: Any, count: int = 1, timeout: float = 10.0) -> list[Call]:
    before = len(api.calls_of("sendMessage", chat))
    push()
    return (await api.wait_sent(chat, before + count, timeout))[before:]


async def test_follow_ups_in_private_chat_and_new(new_api: Any, engine: Engine, tmp_path: Path) -> None:
    api, fake = await new_api(), FollowUpEngine(engine)
    async with running(build_application(make_settings(api, tmp_path), fake), poll_timeout=1, bootstrap_retries=0):
        chat = 901
        await sent_after(api, chat, lambda: api.private_text(chat, EN_Q))
        (follow,) = await sent_after(api, chat, lambda: api.private_text(chat, FOLLOW))
        assert fake.history_of(FOLLOW) == [EN_Q]
        assert "Kremlin" in text(follow) and "<blockquote>" in text(follow)
        # the core follows up (the context makes it surer), and the chat says on what
        join = 904
        await sent_after(api, join, lambda: api.private_text(join, "What is Clubhouse?"))
        (joined,) = await sent_after(api, join, lambda: api.private_text(join, "Who can join it?"))
        assert text(joined).startswith("<i>following up on: What is Clubhouse?</i>\n") and "<blockquote>" in text(
            joined
        )
        (new,) = await sent_after(api, chat, lambda: api.private_text(chat, "/new"))
        assert "new conversation" in text(new)
        (again,) = await sent_after(api, chat, lambda: api.private_text(chat, FOLLOW))
        assert fake.history_of(FOLLOW) == [] and "following up" not in text(again)
        # Korean interface, and markup in the earlier question is escaped in the line
        ko_chat = 902
        await sent_after(
            api, ko_chat, lambda: api.private_text(ko_chat, "<b>트위터는</b> & 어떤 자체 버전을 출시했나요?", "ko")
        )
        (ko,) = await sent_after(api, ko_chat, lambda: api.private_text(ko_chat, "그럼 페이스북은?", "ko"))
        assert text(ko).startswith(
            "<i>이전 질문에 이어서: &lt;b&gt;트위터는&lt;/b&gt; &amp; 어떤 자체 버전을 출시했나요?</i>"
        )
        assert "은 유사 SNS를 개발하고" in text(ko)  # (페이스북 is in bold)
        check_html(text(ko))
        # at most three turns are kept
        for n in range(4):
            await sent_after(api, chat, lambda n=n: api.private_text(chat, f"What did Peskov say {n}?"))
        await sent_after(api, chat, lambda: api.private_text(chat, FOLLOW))
        assert fake.history_of(FOLLOW) == ["What did Peskov say 1?", "What did Peskov say 2?", "What did Peskov say 3?"]
        (menu,) = [
            c
            for c in api.calls_of("setMyCommands")
            if c.params["scope"]["type"] == "all_private_chats" and c.params.get("language_code") == "ko"
        ]
        assert ("new", "새 대화 시작") in [(x["command"], x["description"]) for x in menu.params["commands"]]


async def test_what_next_goes_on_from_the_quote_the_chat_last_saw(new_api: Any, engine: Engine, tmp_path: Path) -> None:
    """Issue 20, item 4 through the bot: the turn stored in the SQLite state keeps where its quote
    ended, so "그 다음은?" quotes the sentence after it, verbatim, after a restart too."""
    api = await new_api()
    chat = 905
    async with running(build_application(make_settings(api, tmp_path), engine), poll_timeout=1, bootstrap_retries=0):
        (first,) = await sent_after(
            api, chat, lambda: api.private_text(chat, "머스크는 누구를 클럽하우스에 초대했나요?", "ko")
        )
        assert "블라디미르 푸틴 러시아 대통령을" in text(first)
    other = await new_api()  # a restart: only the state file remembers the conversation
    async with running(build_application(make_settings(other, tmp_path), engine), poll_timeout=1, bootstrap_retries=0):
        (next_,) = await sent_after(other, chat, lambda: other.private_text(chat, "그 다음은?", "ko"))
    reply = text(next_)
    check_html(reply)
    assert "<blockquote>그러자 푸틴 대통령 측은 “흥미로운 제안”이라는 공식 반응을 내놨다.</blockquote>" in reply
    assert reply.startswith("<i>이전 질문에 이어서: 머스크는 누구를 클럽하우스에 초대했나요?</i>")


async def test_forum_topics_and_replies_as_context(new_api: Any, engine: Engine, tmp_path: Path) -> None:
    api, fake = await new_api(), FollowUpEngine(engine)
    async with running(build_application(make_settings(api, tmp_path), fake), poll_timeout=1, bootstrap_retries=0):
        chat, alice, bob = -100900, 5, 6
        (first,) = await sent_after(api, chat, lambda: api.group_text(chat, alice, f"/ask {EN_Q}", thread=7))
        assert first.params["message_thread_id"] == 7
        (second,) = await sent_after(
            api, chat, lambda: api.group_text(chat, alice, "/ask What did Peskov tell reporters?", thread=7)
        )
        # per (chat, topic, user): Bob in the same topic and Alice in another topic start afresh
        await sent_after(api, chat, lambda: api.group_text(chat, bob, f"/ask {FOLLOW}", thread=7))
        assert fake.history_of(FOLLOW) == []
        (other,) = await sent_after(api, chat, lambda: api.group_text(chat, alice, f"/ask {FOLLOW}", thread=8))
        assert fake.history_of(FOLLOW) == [] and other.params["message_thread_id"] == 8
        (follow,) = await sent_after(api, chat, lambda: api.group_text(chat, alice, f"/ask {FOLLOW}", thread=7))
        assert fake.history_of(FOLLOW) == [EN_Q, "What did Peskov tell reporters?"]
        assert follow.params["message_thread_id"] == 7 and "following up on: What did Peskov" in text(follow)
        # a reply to the first answer follows up on that answer, not on the rolling history
        reply = "And who else was invited?"
        (answer,) = await sent_after(
            api, chat, lambda: api.group_text(chat, alice, reply, reply_to=api.bot_message(first), thread=7)
        )
        assert fake.history_of(reply) == [EN_Q] and "following up on: Who invited Putin" in text(answer)
        assert answer.params["message_thread_id"] == 7
        # buttons answer in the topic too
        pressed = api.bot_message(second)
        paragraph = next(v for k, v in buttons(second).items() if k.startswith("Full paragraph"))
        (shown,) = await sent_after(api, chat, lambda: api.callback_query(alice, pressed, paragraph))
        assert shown.params["message_thread_id"] == 7 and "<blockquote expandable>" in text(shown)
        # a reply to what "More" sent follows up on that answer too
        asked = "머스크와 푸틴은 클럽하우스에서 무엇을 했나요?"
        (ko,) = await sent_after(
            api, chat, lambda: api.group_text(chat, bob, f"/ask {asked}", thread=7, language_code="ko")
        )
        (more,) = await sent_after(
            api, chat, lambda: api.callback_query(bob, api.bot_message(ko), buttons(ko)["더 보기 ▸"])
        )
        assert more.params["message_thread_id"] == 7
        await sent_after(
            api, chat, lambda: api.group_text(chat, bob, "And 크렘린궁은?", reply_to=api.bot_message(more), thread=7)
        )
        assert fake.history_of("And 크렘린궁은?") == [asked]


async def test_feedback_stats_and_squad_export(new_api: Any, engine: Engine, tmp_path: Path) -> None:
    api = await new_api()
    async with running(build_application(make_settings(api, tmp_path), engine), poll_timeout=1, bootstrap_retries=0):
        chat = 903
        (answer,) = await sent_after(api, chat, lambda: api.private_text(chat, "What did the Kremlin say?"))
        (ko,) = await sent_after(api, chat, lambda: api.private_text(chat, "크렘린궁은 뭐라고 했나요?", "ko"))
        up, down = buttons(answer)["👍"], buttons(ko)["👎"]
        api.callback_query(chat, api.bot_message(answer), up)
        api.callback_query(chat, api.bot_message(ko), down)
        api.callback_query(chat + 1, api.bot_message(answer), up)  # another reader agrees
        api.callback_query(chat + 1, api.bot_message(answer), buttons(answer)["👎"])  # ... and changes their mind
        await api.wait_for(lambda _: len(api.calls_of("answerCallbackQuery")) >= 4)
        api.reaction(chat + 2, api.bot_message(ko), ["🔥"])  # not a vote
        api.reaction(chat + 2, api.bot_message(ko), ["👍"], old=["🔥"])  # a reaction where the bot is admin
        last = api.reaction(chat + 2, {"chat": api.chat(chat + 2), "message_id": 1}, ["👍"])[
            "update_id"
        ]  # not an answer
        store = StateStore.in_dir(tmp_path / "data")
        for _ in range(100):  # reactions get no reply to wait for: wait until the update is handled
            if store.is_done(last):
                break
            await asyncio.sleep(0.05)
        assert all(c.params["text"].startswith(("Thanks", "감사합니다")) for c in api.calls_of("answerCallbackQuery"))
        (stats,) = await sent_after(api, ADMIN, lambda: api.private_text(ADMIN, "/stats"))
        assert "Helpful: 50% (4 rated: 2 👍, 2 👎)" in text(stats)
        assert "Questions served: 2" in text(stats)

    rows = StateStore.in_dir(tmp_path / "data").feedback()
    assert sorted(r.vote for r in rows) == ["down", "down", "up", "up"]
    (liked,) = [r for r in rows if r.vote == "up" and r.language == "en"]
    assert (
        liked.question == "What did the Kremlin say?"
        and liked.verdict in ("answer", "unsure")
        and 0 < liked.confidence <= 1
    )
    assert "Peskov" in liked.quotes[0].text and liked.quotes[0].text.split()[0] in liked.paragraphs[0]
    # the command, as a script would run it
    out = tmp_path / "feedback.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "feedback", "export", "--format", "squad", "-o", str(out),
        "--data-dir", str(tmp_path / "data"), "--corpus-dir", str(tmp_path / "corpus"), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "2 helpful answer(s) from 1 article(s) exported; left out: 2 👎" in err.decode()
    squad = json.loads(out.read_text("utf-8"))
    (article,) = squad["data"]  # the English and the Korean text are one article in the shipped corpus
    qas = [qa for p in article["paragraphs"] for qa in p["qas"]]
    assert sorted(qa["question"] for qa in qas) == ["What did the Kremlin say?", "크렘린궁은 뭐라고 했나요?"]
    (paragraph,) = [p for p in article["paragraphs"] if p["qas"][0]["question"] == "What did the Kremlin say?"]
    (qa,) = paragraph["qas"]
    (gold,) = qa["answers"]
    context, start = paragraph["context"], gold["answer_start"]
    assert qa["question"] == "What did the Kremlin say?" and article["id"] == liked.quotes[0].source.article
    assert context[start : start + len(gold["text"])] == gold["text"]
    assert " ".join(gold["text"].split()) == liked.quotes[0].text and context == liked.paragraphs[0]


async def test_squad_export_places_quotes_across_whitespace() -> None:
    """The core normalizes whitespace in quotes; the exported answer is the paragraph's own text."""
    from bot.telegram.state import FeedbackRow
    from retrieval.models import Quote, Source

    src = Source("a1", "Title", 2, "en")
    paragraph = "First sentence.\n  The  Kremlin said\tno. Last one."
    rows = [
        FeedbackRow(
            "up",
            "What did the Kremlin say?",
            "en",
            0.9,
            "answer",
            (Quote("The Kremlin said no.", src, 1.0, 4),),
            (paragraph,),
        ),
        FeedbackRow("up", "gone?", "en", 0.9, "answer", (Quote("Not there.", src, 1.0, 4),), ("",)),
        FeedbackRow("down", "no?", "en", 0.2, "unsure", (Quote("The Kremlin said no.", src, 1.0, 4),), (paragraph,)),
    ]
    export = squad_export(rows)
    (qa,) = export.squad["data"][0]["paragraphs"][0]["qas"]
    gold = qa["answers"][0]
    assert gold["text"] == "The  Kremlin said\tno." and paragraph[gold["answer_start"] :].startswith(gold["text"])
    assert (export.questions, export.unplaced, export.unhelpful) == (1, 1, 1)


async def test_inline_without_an_answer_posts_nothing_and_refusal_says_why(
    new_api: Any, engine: Engine, tmp_path: Path
) -> None:
    api = await new_api()
    settings = make_settings(api, tmp_path, allowed_chat_ids=[-100777, 904])
    async with running(build_application(settings, engine), poll_timeout=1, bootstrap_retries=0):
        api.inline_query(904, "What is the airspeed velocity of an unladen swallow?")
        api.inline_query(905, EN_Q)  # a member of the allowlisted group, not listed by user id
        await api.wait_for(lambda _: len(api.calls_of("answerInlineQuery")) >= 2)
    by_user = {
        c.params["results"] == [] and c.params.get("button", {}).get("text"): c
        for c in api.calls_of("answerInlineQuery")
    }
    assert set(by_user) == {"No quote found · how to ask", "Not available here · ask in your group with /ask"}
    assert all(c.params["button"]["start_parameter"] == "help" for c in by_user.values())


# --------------------------------------------------------------------------- kill -9


def _bot_env(api: FakeBotApi, corpus: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_") and k != "TELEGRAM_BOT_TOKEN"}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN, QUOTEQA_TELEGRAM_API_URL=api.base_url, QUOTEQA_CORPUS_DIR=str(corpus),
        QUOTEQA_DATA_DIR=str(data), QUOTEQA_WORKERS="1", QUOTEQA_MAX_QUOTES="2", QUOTEQA_LOG_LEVEL="INFO",
    )  # fmt: skip
    return env


async def _start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """`quoteqa telegram`, the installed command (a Python process: SIGKILL reaches the bot)."""
    script = Path(sys.executable).with_name("quoteqa")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    return await asyncio.create_subprocess_exec(
        *command, "telegram", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"), cwd=PROJECT_ROOT
    )


async def _burst(api: FakeBotApi, chats: list[int], asked: dict[tuple[int, int], str]) -> int:
    """24 questions across 6 groups; returns the last update id."""
    questions = [
        EN_Q,
        "What did the Kremlin say?",
        "머스크와 푸틴은 클럽하우스에서 무엇을 했나요?",
        "How many downloads does Clubhouse have?",
    ]
    for round_ in range(4):
        for i, chat in enumerate(chats):
            q = questions[(i + round_) % 4]
            update = api.group_text(chat, 700 + i, f"/ask {q}")
            asked[(chat, update["message"]["message_id"])] = q
    return int(update["update_id"])


async def _kill_mid_burst(
    api: FakeBotApi, bot: asyncio.subprocess.Process, chats: list[int], asked: dict[tuple[int, int], str], *, ack: bool
) -> None:
    """A burst; after 9 more answers the bot's replies hang in flight, and it is killed. With
    `ack`, the bot has acknowledged the whole burst to Telegram (only its journal has the rest);
    without, the acknowledgement hangs too (Telegram sends everything again)."""
    answered = len(api.calls_of("sendMessage"))
    api.hold_after("sendMessage", answered + 9)
    offsets_before = len(api.offsets)
    last = await _burst(api, chats, asked)
    if not ack:
        api.hold("getUpdates", lambda params: int(params.get("offset") or 0) > last)
    acked = lambda: max(api.offsets[offsets_before:], default=0) > last  # noqa: E731
    await api.wait_for(lambda _: len(api.calls_of("sendMessage")) >= answered + 9 and (acked() or not ack), timeout=30)
    await asyncio.sleep(0.5)  # replies Telegram accepted are committed; the next ones wait in flight
    bot.send_signal(signal.SIGKILL)
    await bot.wait()
    done = sum(len(api.calls_of("sendMessage", c)) for c in chats)
    print(f"\nkilled after {done} of {len(asked)} answers (burst acknowledged: {acked()})")
    assert done < len(asked) and acked() == ack
    api.release("sendMessage")
    if not ack:
        api.release("getUpdates")
    await asyncio.sleep(0.2)
    assert acked() == ack, "a call of the dead bot went through after all"


async def test_kill_9_in_a_burst_loses_nothing_and_answers_nothing_twice(new_api: Any, tmp_path: Path) -> None:
    """Two kills: one before the bot acknowledged the burst to Telegram (so the burst comes
    again *and* is in the journal: duplicates must be skipped), one after (only the journal
    has the unanswered rest: nothing may be lost). Then the first answer's buttons still work."""
    api = await new_api()
    shutil.copytree(PROJECT_ROOT / "corpus", tmp_path / "corpus")
    env, log = _bot_env(api, tmp_path / "corpus", tmp_path / "data"), tmp_path / "bot.log"
    chats = [-100500 - i for i in range(6)]
    asked: dict[tuple[int, int], str] = {}
    bot = await _start_bot(env, log)
    try:
        try:
            (old,) = await sent_after(
                api,
                906,
                lambda: api.private_text(906, "머스크와 푸틴은 클럽하우스에서 무엇을 했나요?", "ko"),
                timeout=60,
            )
        except TimeoutError:
            pytest.fail(log.read_text("utf-8")[-3000:])
        await _kill_mid_burst(api, bot, chats, asked, ack=False)
        bot = await _start_bot(env, log)
        await api.wait_for(lambda _: sum(len(api.calls_of("sendMessage", c)) for c in chats) >= len(asked), timeout=60)
        await _kill_mid_burst(api, bot, chats, asked, ack=True)
        bot = await _start_bot(env, log)
        await api.wait_for(lambda _: sum(len(api.calls_of("sendMessage", c)) for c in chats) >= len(asked), timeout=60)
        await asyncio.sleep(1.0)  # a second answer to anything would show up here
        replies = Counter(
            (c.params["chat_id"], c.params["reply_parameters"]["message_id"]) for c in api.calls_of("sendMessage") if c.params.get("chat_id") in chats
        )  # fmt: skip
        assert set(replies) == set(asked), "every question answered"
        assert max(replies.values()) == 1, f"answered twice: {[k for k, v in replies.items() if v > 1]}"
        # the first answer's buttons work in the third process
        (more,) = await sent_after(
            api, 906, lambda: api.callback_query(906, api.bot_message(old), buttons(old)["더 보기 ▸"]), timeout=20
        )
        assert "<blockquote>" in text(more) and text(more) != text(old)
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(bot.wait(), 15)
            except TimeoutError:
                bot.kill()
                await bot.wait()
    written = log.read_text("utf-8")
    assert written.count("replaying") == 2 and "handled before the restart; skipped" in written
    assert TOKEN not in written
