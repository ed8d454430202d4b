"""The handlers: each picks the question (or button, reaction, command) out of an update, asks
the engine in a worker thread and hands the result to `bot.telegram.render`. What to answer
lives in the core; how it looks lives in render; the assembly is `bot.telegram.app`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    ContextTypes,
    filters,
)

from bot.settings import Settings
from bot.telegram import callbacks, chunking, inline, render, strings
from bot.telegram.redact import redact
from bot.telegram.state import StateStore, Usage, conversation_key, new_key
from bot.telegram.strings import UiLang
from bot.telegram.transport import UnreadableReply
from retrieval import Answer, Engine, QuoteQAError, Turn
from retrieval.errors import DamagedIndexError
from retrieval.text.analyze import HANGUL

log = logging.getLogger("quoteqa.telegram")


STATE_KEY = "quoteqa"

VOTES = {"👍": True, "👎": False}

T = TypeVar("T")


@dataclass
class BotState:
    """Everything the handlers share, kept in `application.bot_data`; what must outlive the
    process (histories, buttons, stats, feedback, handled updates) is in `store`."""

    engine: Engine
    settings: Settings
    executor: ThreadPoolExecutor
    store: StateStore
    refused: set[int] = field(default_factory=set)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking engine work off the event loop (own pool: a slow question must not
        starve the default executor, which asyncio also uses for DNS look-ups)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def ask(self, question: str, history: Sequence[Turn] = ()) -> tuple[Answer, float]:
        """The answer and how long it took (ms), for the stats row stored with it."""
        started = time.perf_counter()
        answer: Answer = await self.run(self.engine.ask, question, self.settings.max_quotes, tuple(history))
        return answer, (time.perf_counter() - started) * 1000

    def history_for(self, message: Message, conversation: str) -> tuple[Turn, ...]:
        """A reply to one of the bot's answers follows up on *that* answer; anything else on
        the conversation's recent turns (none after QUOTEQA_HISTORY_MINUTES or /new)."""
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == message.get_bot().id:
            turn = self.store.turn_of_message(message.chat.id, reply.message_id)
            if turn is not None:
                return (turn,)
        return self.store.history(conversation)

    def examples(self) -> dict[UiLang, str]:
        """A question per language about the newest articles, for help texts."""
        out: dict[UiLang, str] = {}
        for lang in ("en", "ko"):
            found = self.engine.suggestions(lang, 1)
            if found:
                out[lang] = found[0]
        return out

    def allowed(self, update: Update) -> bool:
        """Chats on QUOTEQA_ALLOWED_CHAT_IDS. Inline queries carry no chat id (Telegram sends
        only the chat's type), so they are allowed for *user* ids on the list: allowlisting a
        group lets its members use /ask there, not inline mode (see the README)."""
        ids = self.settings.allowed_chat_ids
        if not ids:
            return True
        if update.effective_chat is not None:
            return update.effective_chat.id in ids
        return update.effective_user is not None and update.effective_user.id in ids

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.admin_user_ids


def bot_state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.bot_data[STATE_KEY]


# --------------------------------------------------------------------------- message helpers


def _bot_mentioned(message: Message) -> bool:
    bot = message.get_bot()
    for entity, text in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if entity.type == MessageEntity.MENTION and bot.username and text.lower() == f"@{bot.username.lower()}":
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            return True
    return False


def _ask_command(message: Message) -> bool:
    """`/ask` or `/ask@ThisBot` at the start (channel posts get no CommandHandler in PTB)."""
    entities = message.entities
    if not entities or entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset != 0:
        return False
    command, _, target = message.parse_entity(entities[0])[1:].partition("@")
    username = message.get_bot().username or ""
    return command.lower() == "ask" and (not target or target.lower() == username.lower())


class _AddressedToBot(filters.MessageFilter):
    """Group messages meant for the bot: they mention it or reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == message.get_bot().id:
            return True
        return _bot_mentioned(message)


class _ChannelQuestion(filters.MessageFilter):
    """Channel posts that start with /ask or mention the bot."""

    def filter(self, message: Message) -> bool:
        return _ask_command(message) or _bot_mentioned(message)


ADDRESSED = _AddressedToBot(name="addressed_to_bot")
CHANNEL_QUESTION = _ChannelQuestion(name="channel_question")


def _question(message: Message) -> str:
    """The question in a message: text after a leading command, minus mentions of the bot."""
    text = message.text or ""
    entities = message.entities
    if entities and entities[0].type == MessageEntity.BOT_COMMAND and entities[0].offset == 0:
        text = text[len(message.parse_entity(entities[0])) :]
    username = message.get_bot().username
    if username:
        text = re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    return text.strip().lstrip(",:;").strip()


def _user_lang(update: Update) -> UiLang:
    user = update.effective_user
    return strings.ui_language(None, user.language_code if user else None)


def _text_lang(text: str, update: Update) -> UiLang:
    """For replies without an Answer: Hangul in the question means Korean."""
    return "ko" if HANGUL.search(text) else _user_lang(update)


def _markup(rows: Sequence[Sequence[callbacks.Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows])


SentHook = Callable[[int], None]


async def _delivered(send: Awaitable[Message], on_sent: SentHook | None) -> int | None:
    """One send: its message id (None when Telegram accepted it but the id could not be read),
    handed to `on_sent` at once, so what is out there is linked even if a later part fails."""
    try:
        message_id: int | None = (await send).message_id
    except UnreadableReply as exc:
        log.warning("%s; carrying on as sent", exc)
        message_id = exc.message_id
    if message_id is not None and on_sent is not None:
        on_sent(message_id)
    return message_id


async def _send(
    message: Message,
    texts: Sequence[str],
    rows: Sequence[Sequence[callbacks.Button]] = (),
    on_sent: SentHook | None = None,
) -> list[int]:
    """Send HTML messages in order; in groups and channels the first one replies to `message`;
    buttons go under the last one. PTB's reply_* keep a forum topic's `message_thread_id`.
    Returns the ids read back (see `_delivered`)."""
    quote = message.chat.type != "private"
    sent = []
    for i, text in enumerate(texts):
        last = i == len(texts) - 1
        found = await _delivered(
            message.reply_html(text, reply_markup=_markup(rows) if last else None, do_quote=quote and i == 0), on_sent
        )
        sent.extend([found] if found is not None else [])
    return sent


# --------------------------------------------------------------------------- handlers


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Bilingual welcome; a deep-link payload (`/start xyz`) is accepted and ignored."""
    await _send(update.effective_message, [render.welcome(_user_lang(update), bot_state(context).examples())])


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _send(update.effective_message, [render.help_text(_user_lang(update), context.bot.username)])


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    articles = await bot_state(context).run(bot_state(context).engine.sources)
    await _send(update.effective_message, render.sources_messages(articles, _user_lang(update)))


async def on_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask, private text, group mentions and replies, channel posts: all one path."""
    await answer_question(update, context, _question(update.effective_message))


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    message, state = update.effective_message, bot_state(context)
    if not question:
        await _send(message, [render.how_to_ask(_text_lang(question, update), state.examples())])
        return
    conversation = _conversation(update)
    try:
        answer, elapsed_ms = await state.ask(question, state.history_for(message, conversation))
    except DamagedIndexError:  # the engine logged the file and the repair command; the chat gets a short line
        await _send(message, chunking.message_text(strings.t(_text_lang(question, update), "index_damaged")))
        return
    except QuoteQAError as exc:  # QuestionError, or an empty corpus: the message says what to do
        reason = str(exc)
        await _send(message, chunking.message_text(reason[:1].upper() + reason[1:]))
        return
    lang = strings.ui_language(answer.language, update.effective_user.language_code if update.effective_user else None)
    key = new_key() if answer.answered else None
    rows = callbacks.answer_buttons(answer.quotes, lang, key if answer.more else None, key, key) if key else []
    # Recorded before sending: a send that fails after Telegram accepted it still leaves an
    # answer on the reader's screen, whose follow-ups and buttons must work (after a restart too).
    state.store.record_answer(
        update_id=update.update_id, conversation=conversation, answer=answer, key=key,
        chat_id=message.chat.id, message_ids=(), elapsed_ms=elapsed_ms, mark_done=False,
    )  # fmt: skip
    on_sent = (lambda message_id: state.store.link_messages(key, message.chat.id, [message_id])) if key else None
    await _send(message, render.answer_messages(answer, lang), rows, on_sent)


def _conversation(update: Update) -> str:
    message = update.effective_message
    user = update.effective_user
    thread = message.message_thread_id if message.is_topic_message else None
    return conversation_key(message.chat.type, message.chat.id, thread, user.id if user else None)


async def on_new(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/new: the next question stands on its own."""
    bot_state(context).store.clear_history(_conversation(update))
    await _send(update.effective_message, [strings.t(_user_lang(update), "new_conversation")])


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """More / Full paragraph / 👍 👎; a button past QUOTEQA_BUTTON_DAYS, or one that no longer
    matches its paragraph after a reload, gets a polite 'expired'."""
    query, state = update.callback_query, bot_state(context)
    press = callbacks.parse_data(query.data)
    if press is None:
        await query.answer(strings.t(_user_lang(update), "expired"), show_alert=True)
    elif press.action == "more":
        await _show_more(update, state, press)
    elif press.action == "feedback":
        await _record_feedback(update, state, press)
    elif press.action == "original":
        await _show_original(update, state, press)
    else:
        await _show_paragraph(update, state, press)


async def _show_more(update: Update, state: BotState, press: callbacks.ButtonPress) -> None:
    query = update.callback_query
    answer = state.store.answer(press.key)
    if answer is None or query.message is None:
        await query.answer(strings.t(press.lang, "expired"), show_alert=True)
        return
    chat_id = query.message.chat.id
    state.store.link_messages(press.key, chat_id, [query.message.message_id])  # its id may not have been read when sent
    await query.answer()
    texts = render.answer_messages(answer, press.lang, answer.more)
    link = lambda message_id: state.store.link_messages(press.key, chat_id, [message_id])  # noqa: E731 (replies to them follow up too)
    await _send_to_chat(
        update, texts, callbacks.answer_buttons(answer.more, press.lang, None, None, press.key, more=True), link
    )
    # Taking More off the first message is cosmetic: what was sent stays usable if it fails.
    try:
        await query.edit_message_reply_markup(
            _markup(callbacks.answer_buttons(answer.quotes, press.lang, None, press.key, press.key))
        )
    except BadRequest:  # "message is not modified" on a double tap
        pass
    except TelegramError as exc:
        log.warning(
            "could not take More off message %s (%s); the More messages were sent",
            query.message.message_id,
            redact(str(exc)),
        )


async def _show_original(update: Update, state: BotState, press: callbacks.ButtonPress) -> None:
    """ "Original / 원문": each quote's matching sentence(s) in its article's translation twin,
    read from the stored answer (so the button works after a restart, like More)."""
    query = update.callback_query
    answer = state.store.answer(press.key)
    if answer is None or query.message is None:
        await query.answer(strings.t(press.lang, "expired"), show_alert=True)
        return
    await query.answer()
    await _send_to_chat(update, render.original_messages(answer.more if press.more else answer.quotes, press.lang))


async def _record_feedback(update: Update, state: BotState, press: callbacks.ButtonPress) -> None:
    """👍 / 👎: stored with the question, the quotes and each quote's whole paragraph (read
    now, while the index still has it, so `quoteqa feedback export` needs no index)."""
    query = update.callback_query
    answer = state.store.answer(press.key)
    if answer is None:
        await query.answer(strings.t(press.lang, "expired"), show_alert=True)
        return
    if query.message is not None:  # its id may not have been read when it was sent
        state.store.link_messages(press.key, query.message.chat.id, [query.message.message_id])
    await _vote(state, press.key, answer, query.from_user.id, press.helpful)
    await query.answer(strings.t(press.lang, "thanks"))


async def on_reaction(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A 👍 or 👎 reaction to one of the bot's answers counts as that button (other emoji and
    anonymous admins' reactions are not votes)."""
    reaction, state = update.message_reaction, bot_state(context)
    votes = [VOTES[r.emoji] for r in reaction.new_reaction if getattr(r, "emoji", None) in VOTES]
    found = state.store.answer_of_message(reaction.chat.id, reaction.message_id)
    if votes and found is not None and reaction.user is not None:
        await _vote(state, found[0], found[1], reaction.user.id, votes[-1])


async def _vote(state: BotState, key: str, answer: Answer, user_id: int, helpful: bool) -> None:
    paragraphs = await state.run(_paragraphs, state.engine, answer)
    state.store.record_feedback(key, user_id, "up" if helpful else "down", answer, paragraphs)


def _paragraphs(engine: Engine, answer: Answer) -> list[str]:
    """Each quote's paragraph text, "" where the index no longer holds that paragraph."""
    out = []
    for quote in answer.quotes:
        try:
            text, source = engine.passage(quote.passage)
        except QuoteQAError:
            text, source = "", None
        same = source is not None and (source.article, source.paragraph) == (
            quote.source.article,
            quote.source.paragraph,
        )
        out.append(text if same else "")
    return out


async def _show_paragraph(update: Update, state: BotState, press: callbacks.ButtonPress) -> None:
    query = update.callback_query
    try:
        text, source = await state.run(state.engine.passage, press.passage)
    except QuoteQAError:
        text, source = "", None
    if source is None or not press.matches(source) or query.message is None:
        await query.answer(strings.t(press.lang, "expired"), show_alert=True)
        return
    await query.answer()
    await _send_to_chat(update, render.paragraph_messages(text, source, press.lang))


async def _send_to_chat(
    update: Update,
    texts: Sequence[str],
    rows: Sequence[Sequence[callbacks.Button]] = (),
    on_sent: SentHook | None = None,
) -> list[int]:
    """Send below the message whose button was pressed (it may be too old to reply to), in
    its forum topic."""
    original = update.callback_query.message
    assert original is not None
    bot = update.get_bot()
    thread = original.message_thread_id if isinstance(original, Message) and original.is_topic_message else None
    sent = []
    for i, text in enumerate(texts):
        last = i == len(texts) - 1
        send = bot.send_message(
            original.chat.id, text, reply_markup=_markup(rows) if last else None, message_thread_id=thread
        )
        found = await _delivered(send, on_sent)
        sent.extend([found] if found is not None else [])
    return sent


async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`@Bot question` anywhere: top quotes as article results; empty query → help."""
    query, state, username = update.inline_query, bot_state(context), context.bot.username
    lang = _text_lang(query.query, update)
    if not query.query.strip():
        results = [inline.inline_help(lang, username, state.examples())]
    else:
        try:
            answer, elapsed_ms = await state.ask(query.query)
            state.store.record_served(answer, elapsed_ms)
            results = inline.inline_results(answer, strings.ui_language(answer.language, query.from_user.language_code))
        except QuoteQAError:
            results = []
    # Nothing to quote: no result (choosing one would post a non-answer into the chat), and a
    # button above the list that opens a private chat with the help instead.
    button = None if results else InlineQueryResultsButton(strings.t(lang, "inline_how_to_ask"), start_parameter="help")
    await query.answer([_article(r) for r in results], cache_time=30, is_personal=False, button=button)


def _article(result: inline.InlineResult) -> InlineQueryResultArticle:
    content = InputTextMessageContent(
        result.html, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    return InlineQueryResultArticle(result.id, result.title, content, description=result.description)


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: re-read the corpus without a restart."""
    state = bot_state(context)
    if not state.is_admin(update):
        await _send(update.effective_message, [strings.t(_user_lang(update), "admins_only")])
        return
    report = await state.run(state.engine.reload, False)  # never queue behind another writer
    await _send(update.effective_message, render.reload_messages(report, _user_lang(update)))


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: questions served, abstention rate, median latency and helpfulness (👍 share)."""
    state, lang = bot_state(context), _user_lang(update)
    if not state.is_admin(update):
        await _send(update.effective_message, [strings.t(lang, "admins_only")])
        return
    u: Usage = state.store.usage()
    await _send(
        update.effective_message, [render.stats_text(lang, u.served, u.abstained, u.median_ms, u.helpful, u.unhelpful)]
    )


async def on_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: chats outside QUOTEQA_ALLOWED_CHAT_IDS get one refusal."""
    state = bot_state(context)
    if state.allowed(update):
        return
    await _refuse_once(update, state)
    raise ApplicationHandlerStop


async def _refuse_once(update: Update, state: BotState) -> None:
    lang = _user_lang(update)
    if update.inline_query is not None:  # say why, instead of a silently empty list
        button = InlineQueryResultsButton(strings.t(lang, "inline_refused"), start_parameter="help")
        await update.inline_query.answer([], cache_time=300, is_personal=True, button=button)
    elif update.callback_query is not None:
        await update.callback_query.answer(strings.t(lang, "refusal"), show_alert=True)
    elif update.effective_message is not None and update.effective_chat is not None:
        message, chat_id = update.effective_message, update.effective_chat.id
        addressed = message.chat.type == "private" or _ask_command(message) or ADDRESSED.check_update(update)
        if addressed and chat_id not in state.refused:
            state.refused.add(chat_id)
            await _send(message, [strings.t(lang, "refusal")])


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: log (the token is redacted by the log record factory) and
    tell the user a short apology. Never raises, so one bad update cannot stop the bot."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed: %s", update_id, redact(repr(context.error)), exc_info=context.error)
    if not isinstance(update, Update):
        return
    lang = _user_lang(update)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(strings.t(lang, "apology"), show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_html(strings.t(lang, "apology"))
    except TelegramError as exc:
        log.warning("could not send the apology for update %s: %s", update_id, redact(str(exc)))
