"""How updates come in and replies go out: one chat's updates in order, flood limits and
network retries that never send an answer twice, and a bot whose repr hides the token.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable
from typing import Any

import httpx
from telegram import (
    Update,
)
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    BaseUpdateProcessor,
    ExtBot,
)

from bot.telegram import delivery
from bot.telegram.state import StateStore

log = logging.getLogger("quoteqa.telegram")


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
                log.log(retry_level.get(), "%s failed (%s); retrying in %.2fs", endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


# Start-up retries are logged at DEBUG: a wrong URL or an unreachable server ends in one line.
retry_level: contextvars.ContextVar[int] = contextvars.ContextVar("quoteqa_retry_level", default=logging.WARNING)


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
