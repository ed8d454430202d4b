"""What every route shares: the engine, the settings, the metrics and the two thread pools.

One `Services` per app, kept on `app.state` and handed to the routes by FastAPI's dependency
injection (`Depends(services)`), so the routers are plain module-level `APIRouter`s."""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request

from .config import ServeConfig
from .errors import ApiError
from .metrics import Metrics
from .models import ARTICLE_ID

if TYPE_CHECKING:
    from retrieval import Engine

T = TypeVar("T")


@dataclass
class Services:
    """Questions run on `ask_pool` and read the commit live when they arrive; writes run one
    at a time on `write_pool`, so a question never waits for a write."""

    engine: Engine
    config: ServeConfig
    metrics: Metrics = field(default_factory=Metrics)
    ask_pool: ThreadPoolExecutor = field(init=False)
    write_pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.ask_pool = ThreadPoolExecutor(self.config.threads, thread_name_prefix="quoteqa-ask")
        self.write_pool = ThreadPoolExecutor(1, thread_name_prefix="quoteqa-write")  # writes one after the other

    def close(self) -> None:
        self.ask_pool.shutdown(wait=False, cancel_futures=True)
        self.write_pool.shutdown(wait=True)  # a started ingest finishes its commit

    async def ask_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.ask_pool, fn, *args)

    async def write_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.write_pool, fn, *args)

    def counters(self) -> tuple[int, int, int]:
        store = self.engine.store
        snap = store.snapshot()
        return snap.n_articles, snap.n_passages, snap.generation

    def require_writer(self, request: Request) -> None:
        token = self.config.token
        if token is None:
            raise ApiError(
                403,
                "writes_disabled",
                "writes are off on this server: set QUOTEQA_API_TOKEN and restart it to allow them",
            )
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected):
            raise ApiError(
                401, "unauthorized", "this call needs the header `Authorization: Bearer <QUOTEQA_API_TOKEN>`",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip

    def require_article(self, article_id: str) -> None:
        if not re.match(ARTICLE_ID, article_id) or self.engine.store.snapshot().article(article_id) is None:
            raise ApiError(
                404, "no_such_article", f"no article {article_id!r} in the corpus; GET /v1/sources lists the ids"
            )


def services(request: Request) -> Services:
    """The app's `Services` (a FastAPI dependency)."""
    return request.app.state.services  # type: ignore[no-any-return]
