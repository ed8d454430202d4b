"""The Telegram front end: python-telegram-bot v22 wiring around the retrieval engine.

Handlers only pick the question out of an update, call the engine (in a worker thread, so
other chats keep flowing) and hand the `Answer` to `bot.telegram.render`. Everything that decides
*what* to answer lives in the core; everything that decides *how it looks* lives in render.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import logging
import os
import re
import signal
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
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
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    MessageReactionHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.settings import Settings
from bot.telegram import delivery, render
from bot.telegram import news as telegram_news
from bot.telegram.render import UiLang
from bot.telegram.state import StateStore, Usage, conversation_key, new_key
from bot.wiring import open_engine
from retrieval import Answer, Engine, QuoteQAError, Turn
from retrieval.text.analyze import HANGUL

log = logging.getLogger("quoteqa.telegram")

STATE_KEY = "quoteqa"
# Reactions reach a bot only where it is an administrator, and only when asked for here.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.INLINE_QUERY,
    Update.CALLBACK_QUERY,
    Update.MESSAGE_REACTION,
]
VOTES = {"👍": True, "👎": False}
TOKEN_FORMAT = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
T = TypeVar("T")
DEFAULT_API_URL: str = Settings.model_fields["telegram_api_url"].default


class ConfigError(Exception):
    """A setting that makes starting pointless; the message is printed as one line."""


class UnreadableReply(TelegramError):
    """Telegram accepted a send or an edit (it answered `ok`), but its reply could not be read
    into a `Message` (a Bot API server that echoes fields in the wrong type, as the npm
    telegram-test-api does with `link_preview_options`). The message is out there: treat it as
    sent. `message_id` is taken from the raw reply when it has one."""

    def __init__(self, endpoint: str, message_id: int | None, cause: BaseException) -> None:
        super().__init__(f"{endpoint} was accepted but its reply could not be read ({type(cause).__name__}: {cause})")
        self.endpoint = endpoint
        self.message_id = message_id


# The raw `result` of the last Bot API call of the running task (set by QuoteQABot._post), so
# `_send_message` can tell "Telegram refused" from "Telegram accepted, we could not parse".
_LAST_RESULT: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("quoteqa_last_result", default=None)


# --------------------------------------------------------------------------- secrets & logging


def bot_token(settings: Settings) -> str:
    """The token, checked for shape so a typo fails here and not deep inside a request."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value().strip():
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set; create a bot with @BotFather and export its token")
    token = settings.telegram_bot_token.get_secret_value().strip()
    if not TOKEN_FORMAT.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is malformed; it looks like 123456789:AAH... (digits, a colon, 35 characters)"
        )
    return token


def check_api_url(settings: Settings) -> None:
    """QUOTEQA_TELEGRAM_API_URL must at least be a web address (else every try fails alike)."""
    url = urllib.parse.urlsplit(settings.telegram_api_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            f"QUOTEQA_TELEGRAM_API_URL must be an http:// or https:// address like {DEFAULT_API_URL}, not {settings.telegram_api_url!r}"
        )


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """What `--webhook` needs; checked up front so a bad setting is a one-line error."""

    listen: str
    port: int
    url_path: str
    url: str
    secret: str


def webhook_config(settings: Settings) -> WebhookConfig:
    if not settings.webhook_url:
        raise ConfigError("--webhook needs QUOTEQA_WEBHOOK_URL (the public https URL Telegram posts updates to)")
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not SECRET_FORMAT.match(secret):
        raise ConfigError("--webhook needs QUOTEQA_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -")
    return WebhookConfig(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=settings.webhook_path.strip("/"),
        url=settings.webhook_url,
        secret=secret,
    )


_SECRETS: set[str] = set()
_ORIGINAL_FACTORY: Callable[..., logging.LogRecord] | None = None


def redact(text: str) -> str:
    """Replace every registered secret in `text`."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _ORIGINAL_FACTORY is not None
    record = _ORIGINAL_FACTORY(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the logging module's business
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:
            record.exc_text = redact(text)  # formatters reuse exc_text instead of re-formatting
    return record


def redact_secrets(*secrets_: str) -> None:
    """Make sure a secret never reaches any log handler (PTB logs the API URL at DEBUG, httpx
    logs request URLs at INFO, and tracebacks can carry URLs). Done at record creation, so
    handlers added later (pytest's, the CLI's) are covered too."""
    global _ORIGINAL_FACTORY
    _SECRETS.update(s for s in secrets_ if s and len(s) >= 8)
    if _ORIGINAL_FACTORY is None:
        _ORIGINAL_FACTORY = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


# --------------------------------------------------------------------------- runtime state


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


def _state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.bot_data[STATE_KEY]


# --------------------------------------------------------------------------- ordering & flood control


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; those of one chat strictly in order.

    PTB starts one task per update in arrival order and its semaphore is FIFO, so tasks
    reach `do_process_update` in arrival order; each one chains behind the previous task of
    its chat before running, so a burst is answered in order per chat.
    """

    def __init__(self, store: StateStore, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._tails: dict[int, asyncio.Future[None]] = {}
        self._store = store

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # After a restart one update can arrive twice (replayed from the journal and re-sent by
        # Telegram); both copies share a chat, so the second runs after the first is done.
        coroutine = delivery.once(self._store, update, coroutine)
        key = _order_key(update)
        if key is None:
            await coroutine
            return
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done
        try:
            if previous is not None:
                try:
                    await asyncio.shield(previous)
                except BaseException:
                    if asyncio.iscoroutine(coroutine):
                        coroutine.close()
                    raise
            await coroutine
        finally:
            if not done.done():
                done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _order_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class RetryingRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (flood limits, honours RetryAfter) plus retries with exponential
    back-off on network errors and 5xx answers. Not retried: BadRequest (our fault) and
    timeouts (the request may have gone through; retrying could send an answer twice)."""

    def __init__(self, *, network_retries: int = 3, backoff: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._network_retries = network_retries
        self._backoff = backoff

    async def process_request(
        self,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        delay = self._backoff
        for attempt in range(self._network_retries + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except (BadRequest, TimedOut):
                raise
            except NetworkError as exc:
                if attempt == self._network_retries or _maybe_delivered(endpoint, exc):
                    raise
                log.log(_retry_level.get(), "%s failed (%s); retrying in %.2fs", endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


# Start-up retries are logged at DEBUG: a wrong URL or an unreachable server ends in one line.
_retry_level: contextvars.ContextVar[int] = contextvars.ContextVar("quoteqa_retry_level", default=logging.WARNING)


def _maybe_delivered(endpoint: str, exc: NetworkError) -> bool:
    """A send whose connection broke after the request went out (the reply was never read) may
    have reached the chat; sending it again could show the answer twice."""
    sent = isinstance(exc.__cause__, (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError))
    return sent and endpoint.lower().startswith(("send", "edit"))


class QuoteQABot(ExtBot):
    """PTB's bot, minus the token in its repr (PTB prints `Bot[token=...]`, which would end up
    in tracebacks, test reports and any log line that formats the application), and with a
    send whose reply cannot be parsed reported as `UnreadableReply` (it was delivered)."""

    __slots__ = ()

    def __repr__(self) -> str:
        name = self._bot_user.username if self._bot_user is not None else "?"
        return f"{type(self).__name__}[username={name}]"

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, *args, **kwargs)
        holder = _LAST_RESULT.get()
        if holder is not None:
            holder.append(result)
        return result

    async def _send_message(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        holder: list[Any] = []
        token = _LAST_RESULT.set(holder)
        try:
            return await super()._send_message(endpoint, *args, **kwargs)
        except TelegramError:
            raise
        except Exception as exc:
            if not holder:  # nothing came back: the request itself failed
                raise
            raw = holder[-1]
            message_id = raw.get("message_id") if isinstance(raw, dict) else None
            raise UnreadableReply(endpoint, message_id if isinstance(message_id, int) else None, exc) from exc
        finally:
            _LAST_RESULT.reset(token)


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
    return render.ui_language(None, user.language_code if user else None)


def _text_lang(text: str, update: Update) -> UiLang:
    """For replies without an Answer: Hangul in the question means Korean."""
    return "ko" if HANGUL.search(text) else _user_lang(update)


def _markup(rows: Sequence[Sequence[render.Button]]) -> InlineKeyboardMarkup | None:
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
    rows: Sequence[Sequence[render.Button]] = (),
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
    await _send(update.effective_message, [render.welcome(_user_lang(update), _state(context).examples())])


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _send(update.effective_message, [render.help_text(_user_lang(update), context.bot.username)])


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    articles = await _state(context).run(_state(context).engine.sources)
    await _send(update.effective_message, render.sources_messages(articles, _user_lang(update)))


async def on_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask, private text, group mentions and replies, channel posts: all one path."""
    await answer_question(update, context, _question(update.effective_message))


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    message, state = update.effective_message, _state(context)
    if not question:
        await _send(message, [render.how_to_ask(_text_lang(question, update), state.examples())])
        return
    conversation = _conversation(update)
    try:
        answer, elapsed_ms = await state.ask(question, state.history_for(message, conversation))
    except QuoteQAError as exc:  # QuestionError, or an empty corpus: the message says what to do
        reason = str(exc)
        await _send(message, render.message_text(reason[:1].upper() + reason[1:]))
        return
    lang = render.ui_language(answer.language, update.effective_user.language_code if update.effective_user else None)
    key = new_key() if answer.answered else None
    rows = render.answer_buttons(answer.quotes, lang, key if answer.more else None, key, key) if key else []
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
    _state(context).store.clear_history(_conversation(update))
    await _send(update.effective_message, [render.t(_user_lang(update), "new_conversation")])


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """More / Full paragraph / 👍 👎; a button past QUOTEQA_BUTTON_DAYS, or one that no longer
    matches its paragraph after a reload, gets a polite 'expired'."""
    query, state = update.callback_query, _state(context)
    press = render.parse_data(query.data)
    if press is None:
        await query.answer(render.t(_user_lang(update), "expired"), show_alert=True)
    elif press.action == "more":
        await _show_more(update, state, press)
    elif press.action == "feedback":
        await _record_feedback(update, state, press)
    elif press.action == "original":
        await _show_original(update, state, press)
    else:
        await _show_paragraph(update, state, press)


async def _show_more(update: Update, state: BotState, press: render.ButtonPress) -> None:
    query = update.callback_query
    answer = state.store.answer(press.key)
    if answer is None or query.message is None:
        await query.answer(render.t(press.lang, "expired"), show_alert=True)
        return
    chat_id = query.message.chat.id
    state.store.link_messages(press.key, chat_id, [query.message.message_id])  # its id may not have been read when sent
    await query.answer()
    texts = render.answer_messages(answer, press.lang, answer.more)
    link = lambda message_id: state.store.link_messages(press.key, chat_id, [message_id])  # noqa: E731 (replies to them follow up too)
    await _send_to_chat(
        update, texts, render.answer_buttons(answer.more, press.lang, None, None, press.key, more=True), link
    )
    # Taking More off the first message is cosmetic: what was sent stays usable if it fails.
    try:
        await query.edit_message_reply_markup(
            _markup(render.answer_buttons(answer.quotes, press.lang, None, press.key, press.key))
        )
    except BadRequest:  # "message is not modified" on a double tap
        pass
    except TelegramError as exc:
        log.warning(
            "could not take More off message %s (%s); the More messages were sent",
            query.message.message_id,
            redact(str(exc)),
        )


async def _show_original(update: Update, state: BotState, press: render.ButtonPress) -> None:
    """ "Original / 원문": each quote's matching sentence(s) in its article's translation twin,
    read from the stored answer (so the button works after a restart, like More)."""
    query = update.callback_query
    answer = state.store.answer(press.key)
    if answer is None or query.message is None:
        await query.answer(render.t(press.lang, "expired"), show_alert=True)
        return
    await query.answer()
    await _send_to_chat(update, render.original_messages(answer.more if press.more else answer.quotes, press.lang))


async def _record_feedback(update: Update, state: BotState, press: render.ButtonPress) -> None:
    """👍 / 👎: stored with the question, the quotes and each quote's whole paragraph (read
    now, while the index still has it, so `quoteqa feedback export` needs no index)."""
    query = update.callback_query
    answer = state.store.answer(press.key)
    if answer is None:
        await query.answer(render.t(press.lang, "expired"), show_alert=True)
        return
    if query.message is not None:  # its id may not have been read when it was sent
        state.store.link_messages(press.key, query.message.chat.id, [query.message.message_id])
    await _vote(state, press.key, answer, query.from_user.id, press.helpful)
    await query.answer(render.t(press.lang, "thanks"))


async def on_reaction(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A 👍 or 👎 reaction to one of the bot's answers counts as that button (other emoji and
    anonymous admins' reactions are not votes)."""
    reaction, state = update.message_reaction, _state(context)
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


async def _show_paragraph(update: Update, state: BotState, press: render.ButtonPress) -> None:
    query = update.callback_query
    try:
        text, source = await state.run(state.engine.passage, press.passage)
    except QuoteQAError:
        text, source = "", None
    if source is None or not press.matches(source) or query.message is None:
        await query.answer(render.t(press.lang, "expired"), show_alert=True)
        return
    await query.answer()
    await _send_to_chat(update, render.paragraph_messages(text, source, press.lang))


async def _send_to_chat(
    update: Update, texts: Sequence[str], rows: Sequence[Sequence[render.Button]] = (), on_sent: SentHook | None = None
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
    query, state, username = update.inline_query, _state(context), context.bot.username
    lang = _text_lang(query.query, update)
    if not query.query.strip():
        results = [render.inline_help(lang, username, state.examples())]
    else:
        try:
            answer, elapsed_ms = await state.ask(query.query)
            state.store.record_served(answer, elapsed_ms)
            results = render.inline_results(answer, render.ui_language(answer.language, query.from_user.language_code))
        except QuoteQAError:
            results = []
    # Nothing to quote: no result (choosing one would post a non-answer into the chat), and a
    # button above the list that opens a private chat with the help instead.
    button = None if results else InlineQueryResultsButton(render.t(lang, "inline_how_to_ask"), start_parameter="help")
    await query.answer([_article(r) for r in results], cache_time=30, is_personal=False, button=button)


def _article(result: render.InlineResult) -> InlineQueryResultArticle:
    content = InputTextMessageContent(
        result.html, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    return InlineQueryResultArticle(result.id, result.title, content, description=result.description)


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: re-read the corpus without a restart."""
    state = _state(context)
    if not state.is_admin(update):
        await _send(update.effective_message, [render.t(_user_lang(update), "admins_only")])
        return
    report = await state.run(state.engine.reload, False)  # never queue behind another writer
    await _send(update.effective_message, render.reload_messages(report, _user_lang(update)))


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: questions served, abstention rate, median latency and helpfulness (👍 share)."""
    state, lang = _state(context), _user_lang(update)
    if not state.is_admin(update):
        await _send(update.effective_message, [render.t(lang, "admins_only")])
        return
    u: Usage = state.store.usage()
    await _send(
        update.effective_message, [render.stats_text(lang, u.served, u.abstained, u.median_ms, u.helpful, u.unhelpful)]
    )


async def on_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: chats outside QUOTEQA_ALLOWED_CHAT_IDS get one refusal."""
    state = _state(context)
    if state.allowed(update):
        return
    await _refuse_once(update, state)
    raise ApplicationHandlerStop


async def _refuse_once(update: Update, state: BotState) -> None:
    lang = _user_lang(update)
    if update.inline_query is not None:  # say why, instead of a silently empty list
        button = InlineQueryResultsButton(render.t(lang, "inline_refused"), start_parameter="help")
        await update.inline_query.answer([], cache_time=300, is_personal=True, button=button)
    elif update.callback_query is not None:
        await update.callback_query.answer(render.t(lang, "refusal"), show_alert=True)
    elif update.effective_message is not None and update.effective_chat is not None:
        message, chat_id = update.effective_message, update.effective_chat.id
        addressed = message.chat.type == "private" or _ask_command(message) or ADDRESSED.check_update(update)
        if addressed and chat_id not in state.refused:
            state.refused.add(chat_id)
            await _send(message, [render.t(lang, "refusal")])


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
            await update.callback_query.answer(render.t(lang, "apology"), show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_html(render.t(lang, "apology"))
    except TelegramError as exc:
        log.warning("could not send the apology for update %s: %s", update_id, redact(str(exc)))


# --------------------------------------------------------------------------- assembly


async def _register_commands(application: Application) -> None:
    """Command menus for private chats and groups, in English and Korean. Non-essential:
    a failure is a warning and the bot starts anyway."""
    bot = application.bot
    calls = []
    for lang, code in (("en", None), ("ko", "ko")):
        private = [BotCommand(c, d) for c, d in render.PRIVATE_COMMANDS[lang]]
        group = [BotCommand(c, d) for c, d in render.GROUP_COMMANDS[lang]]
        calls.append(bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats(), language_code=code))
        calls.append(bot.set_my_commands(group, scope=BotCommandScopeAllGroupChats(), language_code=code))
    for result in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(result, TelegramError):
            log.warning("could not register the command menu (%s); the bot runs without it", redact(str(result)))
        elif isinstance(result, BaseException):
            raise result


async def _post_init(application: Application) -> None:
    """Command menus, then the updates received but not handled before the last stop (they
    are queued ahead of anything the Updater fetches now)."""
    await _register_commands(application)
    await delivery.replay(_app_state(application).store, application.update_queue, application.bot)


async def _post_shutdown(application: Application) -> None:
    state: BotState | None = application.bot_data.get(STATE_KEY)
    if state is not None:
        state.executor.shutdown(wait=False, cancel_futures=True)
        state.store.close()
    telegram_news.shutdown(application)


async def _prune(context: ContextTypes.DEFAULT_TYPE) -> None:
    _state(context).store.prune()


def _app_state(application: Application) -> BotState:
    return application.bot_data[STATE_KEY]


def build_application(settings: Settings, engine: Engine) -> Application:
    """The one place the bot is assembled: request setup, handlers, the error handler."""
    token = bot_token(settings)
    redact_secrets(token, settings.webhook_secret.get_secret_value() if settings.webhook_secret else "")
    bot = QuoteQABot(
        token=token,
        base_url=settings.telegram_api_url,
        base_file_url=settings.telegram_file_api_url,
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            allow_sending_without_reply=True,
        ),
        request=HTTPXRequest(connection_pool_size=256),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
        rate_limiter=RetryingRateLimiter(max_retries=3),
    )
    store = StateStore.in_dir(
        settings.data_dir, history_minutes=settings.history_minutes, button_days=settings.button_days
    )
    application = (
        Application.builder()
        .bot(bot)
        .update_queue(delivery.JournalingQueue(store))
        .concurrent_updates(PerChatUpdateProcessor(store))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    if application.job_queue is not None:  # expiry is checked on read; this only keeps the file small
        application.job_queue.run_repeating(_prune, interval=3600, first=3600, name="prune-state")
    workers = max(1, min(4, os.cpu_count() or 1))
    application.bot_data[STATE_KEY] = BotState(
        engine=engine,
        settings=settings,
        executor=ThreadPoolExecutor(workers, thread_name_prefix="quoteqa-ask"),
        store=store,
    )
    new = filters.UpdateType.MESSAGE  # edited messages are not asked again
    text = filters.TEXT & ~filters.COMMAND & new
    application.add_handler(TypeHandler(Update, on_gate), group=-1)
    telegram_news.install(application, settings, engine)  # first: a pasted link is not a question
    application.add_handlers(
        [
            CommandHandler("start", on_start, filters=new),
            CommandHandler("help", on_help, filters=new),
            CommandHandler("sources", on_sources, filters=new),
            CommandHandler("new", on_new, filters=new),
            CommandHandler("ask", on_question, filters=new),
            CommandHandler("reload", on_reload, filters=new),
            CommandHandler("stats", on_stats, filters=new),
            MessageHandler(text & filters.ChatType.PRIVATE, on_question),
            MessageHandler(text & filters.ChatType.GROUPS & ADDRESSED, on_question),
            MessageHandler(filters.UpdateType.CHANNEL_POST & filters.TEXT & CHANNEL_QUESTION, on_question),
            MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE & new, on_help),
            InlineQueryHandler(on_inline),
            MessageReactionHandler(on_reaction),
            CallbackQueryHandler(on_button),
        ]
    )
    application.add_error_handler(on_error)
    return application


@asynccontextmanager
async def running(
    application: Application,
    *,
    webhook: WebhookConfig | None = None,
    poll_timeout: float = 10.0,
    poll_interval: float = 0.0,
    bootstrap_retries: int = 3,
    drop_pending_updates: bool = False,
    quiet_start: bool = False,
) -> AsyncIterator[Application]:
    """Start the bot (polling or webhook) for the duration of the block.

    The same sequence as PTB's run_polling/run_webhook (initialize, post_init, updater,
    start; then the reverse), but without owning the event loop, so the CLI and the tests
    run exactly the same code. With `quiet_start`, failed tries while starting are not logged
    (the caller reports the failure once).
    """
    with _startup_logs(quiet_start):
        await application.initialize()
    try:
        with _startup_logs(quiet_start):
            await _start(application, webhook, poll_timeout, poll_interval, bootstrap_retries, drop_pending_updates)
        try:
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


@contextmanager
def _startup_logs(quiet: bool) -> Iterator[None]:
    """Retries at DEBUG and python-telegram-bot's own request errors (a traceback for every try
    when the reply is not JSON) off, while starting."""
    if not quiet:
        yield
        return
    ptb = logging.getLogger("telegram")
    level, token = ptb.level, _retry_level.set(logging.DEBUG)
    ptb.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        ptb.setLevel(level)
        _retry_level.reset(token)


async def _start(
    application: Application,
    webhook: WebhookConfig | None,
    poll_timeout: float,
    poll_interval: float,
    bootstrap_retries: int,
    drop_pending_updates: bool,
) -> None:
    if drop_pending_updates:
        _app_state(application).store.drop_pending()
    if application.post_init is not None:
        await application.post_init(application)
    if webhook is not None:
        await application.updater.start_webhook(
            listen=webhook.listen,
            port=webhook.port,
            url_path=webhook.url_path,
            webhook_url=webhook.url,
            secret_token=webhook.secret,
            allowed_updates=ALLOWED_UPDATES,
            bootstrap_retries=bootstrap_retries,
            drop_pending_updates=drop_pending_updates,
        )
    else:
        await application.updater.start_polling(
            timeout=poll_timeout,
            poll_interval=poll_interval,  # for servers that answer getUpdates without waiting
            allowed_updates=ALLOWED_UPDATES,
            bootstrap_retries=bootstrap_retries,
            drop_pending_updates=drop_pending_updates,
        )
    await application.start()


async def serve(
    application: Application,
    *,
    webhook: WebhookConfig | None = None,
    drop_pending_updates: bool = False,
    started: asyncio.Event | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; `started` is set once the bot is up."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with running(application, webhook=webhook, drop_pending_updates=drop_pending_updates, quiet_start=True):
        if started is not None:
            started.set()
        mode = f"webhook on {webhook.listen}:{webhook.port}/{webhook.url_path}" if webhook else "long polling"
        log.warning("@%s is running (%s); Ctrl+C stops it", application.bot.username, mode)
        await stop.wait()


def start_failure(exc: BaseException, api_url: str) -> str:
    """The one line for a start that failed on the way to the Bot API, whatever broke: no
    connection, no such host, TLS, a reply that is not the Bot API's, a server error."""
    reason = " ".join(redact(str(exc)).split()) or type(exc).__name__
    if ". Parsing the server response" in reason:  # PTB quotes the whole HTML page
        reason = reason.split(". Parsing the server response")[0] + ", and the reply is not JSON"
    elif not isinstance(exc, TelegramError):  # the reply was JSON, but not shaped like the Bot API's
        reason = f"the reply is not a Bot API reply ({type(exc).__name__})"
    if len(reason) > 160:
        reason = reason[:159] + "…"
    return f"quoteqa: cannot reach the Telegram Bot API at {api_url} ({reason}); check QUOTEQA_TELEGRAM_API_URL and the network"


# --------------------------------------------------------------------------- CLI hook


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`quoteqa telegram`: check settings, open the engine, serve until interrupted."""
    try:
        token = bot_token(settings)
        check_api_url(settings)
        webhook = webhook_config(settings) if getattr(args, "webhook", False) else None
    except ConfigError as exc:
        print(f"quoteqa: {exc}", file=sys.stderr)
        return 2
    level = logging.getLevelName(settings.log_level.upper())
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    redact_secrets(token, webhook.secret if webhook else "")
    try:  # before opening the engine, which can take minutes when the index is built
        asyncio.run(_reach(settings, token))
    except Exception as exc:
        return _start_failed(exc, settings)
    try:
        engine = open_engine(settings, serving=True)
    except QuoteQAError as exc:
        print(f"quoteqa: {exc}", file=sys.stderr)
        return 1
    application = build_application(settings, engine)
    started = asyncio.Event()
    try:
        asyncio.run(
            serve(
                application,
                webhook=webhook,
                drop_pending_updates=getattr(args, "drop_pending_updates", False),
                started=started,
            )
        )
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        if started.is_set() and not isinstance(exc, TelegramError):
            raise
        return _start_failed(exc, settings)
    return 0


async def _reach(settings: Settings, token: str) -> None:
    """getMe, with the bot's own retries: is the Bot API there, and does it take the token?"""
    bot = QuoteQABot(token=token, base_url=settings.telegram_api_url, rate_limiter=RetryingRateLimiter(max_retries=3))
    with _startup_logs(True):
        async with bot:
            pass


def _start_failed(exc: BaseException, settings: Settings) -> int:
    log.debug("start-up failed", exc_info=exc)  # the traceback, with QUOTEQA_LOG_LEVEL=DEBUG
    if isinstance(exc, InvalidToken):
        where = (
            ""
            if settings.telegram_api_url == DEFAULT_API_URL
            else f", or QUOTEQA_TELEGRAM_API_URL ({settings.telegram_api_url}) is not a Bot API"
        )
        print(
            f"quoteqa: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped? check it with @BotFather){where}",
            file=sys.stderr,
        )
        return 2
    print(start_failure(exc, settings.telegram_api_url), file=sys.stderr)
    return 1
