"""Telegram: admins feed the bot news (links, documents, feeds); the bot polls its feeds.

Ingesting runs on one worker thread of its own, never on the pool that answers questions, and
the store's writes are safe for concurrent readers, so a link or a feed poll never delays an
answer. Replies say what was added, or exactly what was wrong, escaped for Telegram's HTML.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from telegram import Message, MessageEntity, Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.settings import Settings
from bot.telegram.chunking import chunk_lines
from bot.telegram.markup import esc
from bot.telegram.strings import UiLang, t, ui_language
from news.feeds import FeedBook, poll
from news.ingest import ACCEPTED_SUFFIXES, IngestResult, ingest_sources
from retrieval import Engine, QuoteQAError

log = logging.getLogger("quoteqa.telegram.news")
NEWS_KEY = "quoteqa-news"
URL = re.compile(r"https?://[^\s<>\"']+", re.I)
DOCUMENT_SUFFIXES = ACCEPTED_SUFFIXES
MAX_LINKS = 10  # per message: a pasted list longer than this is more likely a mistake
LANGUAGE_NAMES = {"ko": "Korean", "en": "English", "mixed": "Korean and English"}
T = TypeVar("T")

# What anyone may see comes in both interface languages; the rest is for the admins.
STRANGER_TEXTS: dict[UiLang, dict[str, str]] = {
    "en": {
        "not_admin_link": (
            "I answer questions about the articles I have; I don't read links people send. "
            "Ask me a question instead, e.g. <code>{example}</code> — only the bot's administrators can add articles."
        ),
        "not_admin": "Only the bot's administrators can add articles or manage feeds.",
    },
    "ko": {
        "not_admin_link": (
            "저는 가진 기사에 대한 질문에 답하며, 보내 주신 링크는 읽지 않습니다. "
            "대신 질문해 보세요. 예: <code>{example}</code> — 기사 추가는 관리자만 할 수 있습니다."
        ),
        "not_admin": "기사 추가와 피드 관리는 관리자만 할 수 있습니다.",
    },
}
TEXTS = {
    "bad_document": "I can add .txt, .md, .jsonl and .html files; {name} is none of these.",
    "too_big": "{name} is larger than {limit:,} bytes; split it into smaller files.",
    "working": "Fetching {count} link(s)…",
    "nothing": "Nothing was added.",
    "feeds_none": "No feeds yet. Add one with <code>/addfeed URL</code>.",
    "feed_usage": "Give the feed's address: <code>/{command} https://example.org/rss</code>",
    "feed_added": "Subscribed to {url}{title}. New items are fetched every {minutes:g} minutes.",
    "feed_known": "Already subscribed to {url}{title}; nothing changed. /feeds lists the feeds.",
    "feed_removed": "Unsubscribed from {url}. Its articles stay in the corpus.",
    "feed_unknown": "Not subscribed to {url}; /feeds lists the feeds.",
}


@dataclass
class NewsState:
    """What the news handlers share, kept in `application.bot_data`."""

    engine: Engine
    settings: Settings
    book: FeedBook
    executor: ThreadPoolExecutor  # one thread: ingests run one after the other, off the question pool

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.admin_user_ids

    async def refuse(self, update: Update, message: Message, key: str) -> None:
        """Tell a non-admin, in their language, what they can do instead."""
        user = update.effective_user
        lang = ui_language(None, user.language_code if user else None)
        example = next(iter(self.engine.suggestions(lang, 1)), t(lang, "example"))  # a question about this corpus
        await message.reply_html(STRANGER_TEXTS[lang][key].format(example=esc(example)))


def _news(context: ContextTypes.DEFAULT_TYPE) -> NewsState:
    return context.bot_data[NEWS_KEY]


def _message(update: Update) -> Message:
    """The message of an update these handlers' filters only let through with one."""
    if update.effective_message is None:  # pragma: no cover - excluded by the filters
        raise RuntimeError("a news handler got an update without a message")
    return update.effective_message


def links_in(message: Message) -> list[str]:
    """The links of a message: its url / text_link entities, in order, without repeats."""
    found: list[str] = []
    for entity, text in message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK]).items():
        link = entity.url if entity.type == MessageEntity.TEXT_LINK else text
        if link and not link.lower().startswith(("http://", "https://")):
            link = "http://" + link  # Telegram marks "example.org/a" as a URL too
        if link and link not in found:
            found.append(link)
    if not found:
        found = list(dict.fromkeys(URL.findall(message.text or "")))
    return found


async def _reply(message: Message, lines: Sequence[str]) -> None:
    for text in chunk_lines(list(lines) or [TEXTS["nothing"]]):
        await message.reply_html(text)


def result_lines(result: IngestResult, engine: Engine) -> list[str]:
    """What an ingest did, one escaped line each: added / updated / unchanged / duplicate /
    failed, with title, paragraphs and language."""
    lines = []
    for o in result.pages:
        what = f"“{esc(o.title[:200])}” — {o.paragraphs} paragraph{'s' * (o.paragraphs != 1)}, {LANGUAGE_NAMES.get(o.language, o.language)}"
        lines.append({
            "added": f"✅ Added {what}",
            "updated": f"🔄 Updated {what} (the page's text changed)",
            "corrected": f"🔄 Updated the title/date of {what}",
            "unchanged": f"☑️ Already in the corpus: {what}",
            "duplicate": f"⚠️ Not added: {esc(o.origin[:300])} has the same text as {esc(o.duplicate_of[:300])}",
            "conflict": f"❌ Not added: {esc(o.origin[:300])}: a different article with the id {esc(o.article_id)} is already in the corpus; rename the file",
        }[o.status])  # fmt: skip
    if result.files:
        snap = engine.store.snapshot()
        for label, ids in (
            ("✅ Added", result.files.added),
            ("🔄 Updated", result.files.updated),
            ("☑️ Already in the corpus:", result.files.unchanged),
        ):
            for aid in ids:
                meta = snap.article(aid)
                lines.append(f"{label} “{esc((meta.title if meta else aid)[:200])}” ({esc(aid)})")
    lines += [f"❌ {esc(why[:1000])}" for _, why in result.failed]
    return lines


async def on_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A link in a private chat: an admin's is ingested; anyone else is told how to ask."""
    news, message = _news(context), _message(update)
    if not news.is_admin(update):
        await news.refuse(update, message, "not_admin_link")
        return
    await _ingest_and_reply(news, message, links_in(message)[:MAX_LINKS])


async def _ingest_and_reply(news: NewsState, message: Message, sources: list[str], hide: str = "") -> None:
    """Ingest on the ingest thread and say what happened; `hide` (a temporary folder) is taken
    out of error messages."""
    try:
        result = await news.run(ingest_sources, news.engine, sources, news.settings.fetch_policy())
        lines = result_lines(result, news.engine)
    except QuoteQAError as exc:
        lines = [f"❌ {esc(str(exc))}"]
    await _reply(message, [line.replace(esc(hide), "") for line in lines] if hide else lines)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin's .txt / .md / .jsonl / .html file is ingested as if given to `quoteqa ingest`."""
    news, message = _news(context), _message(update)
    if not news.is_admin(update):
        await news.refuse(update, message, "not_admin")
        return
    doc = message.document
    if doc is None:  # pragma: no cover - excluded by the filter
        return
    name = re.sub(r"[^\w.\-]+", "_", Path(doc.file_name or "document").name).lstrip(".") or "document"
    if not name.lower().endswith(DOCUMENT_SUFFIXES):
        await message.reply_html(TEXTS["bad_document"].format(name=esc(name)))
        return
    limit = news.settings.fetch_max_bytes
    if (doc.file_size or 0) > limit:
        await message.reply_html(TEXTS["too_big"].format(name=esc(name), limit=limit))
        return
    with tempfile.TemporaryDirectory(prefix="quoteqa-doc-") as tmp:
        path = Path(tmp) / name
        await (await doc.get_file()).download_to_drive(path)
        await _ingest_and_reply(news, message, [str(path)], hide=tmp + "/")


async def on_feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    news, message = _news(context), _message(update)
    if not news.is_admin(update):
        await news.refuse(update, message, "not_admin")
        return
    feeds = await news.run(news.book.feeds)
    lines = []
    for f in feeds:
        state = f"failing ({f.failures}×): {esc(f.last_error[:300])}" if f.failures else f"{len(f.seen)} item(s) seen"
        lines.append(f"• {esc(f.url)} — {esc(f.title[:100]) or 'untitled'} — {state}")
    await _reply(message, lines or [TEXTS["feeds_none"]])


async def on_feed_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/addfeed URL and /removefeed URL."""
    news, message = _news(context), _message(update)
    command = (message.text or "").split()[0].lstrip("/").split("@")[0].lower()
    if not news.is_admin(update):
        await news.refuse(update, message, "not_admin")
        return
    if not context.args:
        await message.reply_html(TEXTS["feed_usage"].format(command=command))
        return
    url = context.args[0]
    try:
        if command == "addfeed":
            feed, new = await news.run(news.book.add, url, news.settings.fetch_policy())
            title = f" ({esc(feed.title)})" if feed.title else ""
            text = TEXTS["feed_added" if new else "feed_known"].format(
                url=esc(url), title=title, minutes=news.settings.feed_interval_minutes
            )
        elif await news.run(news.book.remove, url):
            text = TEXTS["feed_removed"].format(url=esc(url))
        else:
            text = TEXTS["feed_unknown"].format(url=esc(url))
    except QuoteQAError as exc:
        text = f"❌ {esc(str(exc))}"
    await message.reply_html(text)


async def poll_feeds(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The JobQueue job: poll the due feeds in the ingest thread. A failure is logged and the
    feed backs off (see `news.feeds.poll`); nothing here may stop the bot."""
    news = _news(context)
    try:
        report = await news.run(
            poll, news.engine, news.book, news.settings.fetch_policy(), news.settings.feed_interval_minutes * 60
        )
    except Exception:
        log.exception("polling the feeds failed; trying again at the next interval")
        return
    for line in report.lines():
        log.info("feeds: %s", line)


def install(application: Application, settings: Settings, engine: Engine) -> None:
    """Add the news handlers (before the question handlers, so a link is not asked) and the
    feed-polling job."""
    application.bot_data[NEWS_KEY] = NewsState(
        engine, settings, FeedBook(settings.data_dir), ThreadPoolExecutor(1, thread_name_prefix="quoteqa-ingest")
    )
    new = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE & new
    has_link = filters.Entity(MessageEntity.URL) | filters.Entity(MessageEntity.TEXT_LINK) | filters.Regex(URL)
    application.add_handlers(
        [
            CommandHandler("feeds", on_feeds, filters=new),
            CommandHandler(["addfeed", "removefeed"], on_feed_change, filters=new),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND & has_link, on_link),
            MessageHandler(private & filters.Document.ALL, on_document),
        ]
    )
    if application.job_queue is not None:
        seconds = settings.feed_interval_minutes * 60
        application.job_queue.run_repeating(poll_feeds, interval=seconds, first=min(seconds, 30.0), name="poll-feeds")
    else:  # pragma: no cover - the job-queue extra is a dependency
        log.warning("python-telegram-bot has no JobQueue (install its job-queue extra); feeds are not polled")


def shutdown(application: Application) -> None:
    news: NewsState | None = application.bot_data.get(NEWS_KEY)
    if news is not None:
        news.executor.shutdown(wait=False, cancel_futures=True)
