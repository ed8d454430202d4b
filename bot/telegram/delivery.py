"""Every update handled once, across restarts and `kill -9` (see `bot.telegram.state` for the why).

Three small pieces around python-telegram-bot's own machinery:
- `JournalingQueue` is the Application's update queue: the Updater (polling and webhook
  alike) puts each update into it before it asks Telegram for more, so journalling in `put`
  puts every update on disk before Telegram forgets it;
- `once` wraps the processing of one update: skipped when already done, marked done after;
- `replay` puts the journalled, unfinished updates back into the queue at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Bot, Update

from bot.telegram.state import StateStore

log = logging.getLogger("quoteqa.telegram.delivery")


class JournalingQueue(asyncio.Queue):  # type: ignore[type-arg]
    """The update queue, writing each update to the state file as it arrives."""

    def __init__(self, store: StateStore) -> None:
        super().__init__()
        self.store = store

    async def put(self, item: Any) -> None:
        if isinstance(item, Update):
            self.store.journal(item.update_id, item.to_dict())
        await super().put(item)


async def once(store: StateStore, update: object, coroutine: Awaitable[Any]) -> None:
    """Handle `update` unless it was handled before; mark it done afterwards, failed or not
    (a failure got its apology from the error handler, and retrying forever helps no one)."""
    if not isinstance(update, Update):
        await coroutine
        return
    if store.is_done(update.update_id):
        log.info("update %s was handled before the restart; skipped", update.update_id)
        if asyncio.iscoroutine(coroutine):
            coroutine.close()
        return
    try:
        await coroutine
    finally:
        store.mark_done(update.update_id)


async def replay(store: StateStore, queue: asyncio.Queue, bot: Bot) -> int:  # type: ignore[type-arg]
    """Queue the updates that were received but not handled when the bot last stopped."""
    pending = store.pending()
    for payload in pending:
        await queue.put(Update.de_json(payload, bot))
    if pending:
        log.warning("replaying %d update(s) received before the last stop", len(pending))
    return len(pending)
