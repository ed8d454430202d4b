"""The Telegram front end's assembly: python-telegram-bot v22 wired around the retrieval engine.

`build_application` is the one place the bot is put together (request set-up, the handlers of
`bot.telegram.handlers`, the error handler); `running`/`serve` start and stop it the same way for
the CLI and the tests; `run` is `quoteqa telegram`. Settings checks live in `config`, log
redaction in `redact`, ordering and retries in `transport`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    MessageReactionHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.settings import Settings
from bot.telegram import delivery, strings
from bot.telegram import news as telegram_news
from bot.telegram.config import DEFAULT_API_URL, ConfigError, WebhookConfig, bot_token, check_api_url, webhook_config
from bot.telegram.handlers import (
    ADDRESSED,
    CHANNEL_QUESTION,
    STATE_KEY,
    BotState,
    bot_state,
    on_button,
    on_error,
    on_gate,
    on_help,
    on_inline,
    on_new,
    on_question,
    on_reaction,
    on_reload,
    on_sources,
    on_start,
    on_stats,
)
from bot.telegram.redact import redact, redact_secrets
from bot.telegram.state import StateStore
from bot.telegram.transport import PerChatUpdateProcessor, QuoteQABot, RetryingRateLimiter, retry_level
from bot.wiring import open_engine
from retrieval import Engine, QuoteQAError

log = logging.getLogger("quoteqa.telegram")


# Reactions reach a bot only where it is an administrator, and only when asked for here.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.INLINE_QUERY,
    Update.CALLBACK_QUERY,
    Update.MESSAGE_REACTION,
]

# --------------------------------------------------------------------------- assembly


async def _register_commands(application: Application) -> None:
    """Command menus for private chats and groups, in English and Korean. Non-essential:
    a failure is a warning and the bot starts anyway."""
    bot = application.bot
    calls = []
    for lang, code in (("en", None), ("ko", "ko")):
        private = [BotCommand(c, d) for c, d in strings.PRIVATE_COMMANDS[lang]]
        group = [BotCommand(c, d) for c, d in strings.GROUP_COMMANDS[lang]]
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
    bot_state(context).store.prune()


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
    level, token = ptb.level, retry_level.set(logging.DEBUG)
    ptb.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        ptb.setLevel(level)
        retry_level.reset(token)


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
