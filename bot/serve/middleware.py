"""ASGI middleware around the routes: the body-size limit, and HEAD answered as GET.

Both work on the raw ASGI messages, before routing, so they hold for every path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import error_response

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse a body over `limit` bytes with 413 before the route reads it (by Content-Length)
    or as soon as a streamed one goes past it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        message = (
            f"the request body is over the limit of {limit:,} bytes (QUOTEQA_API_MAX_BODY_BYTES); send less at a time"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await error_response(413, "too_large", message)(scope, receive, send)
                    return
        seen = 0
        over = replaced = False

        async def counted() -> Any:
            nonlocal seen, over
            event = await receive()
            if event.get("type") == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge
            return event

        async def guarded(event: Any) -> None:
            # The route may catch _TooLarge as a body it could not parse: whatever it answers,
            # the client gets the 413 instead.
            nonlocal replaced
            if not over:
                await send(event)
            elif not replaced:
                replaced = True
                await error_response(413, "too_large", message)(scope, receive, send)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if not replaced:
                await error_response(413, "too_large", message)(scope, receive, send)


class HeadAsGet:
    """HEAD is answered as GET without the body (RFC 9110 §9.3.2): same status and headers,
    Content-Length included. FastAPI routes a GET route to GET only, so `HEAD /` was a 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headless(event: Any) -> None:
            if event.get("type") == "http.response.body":
                if event.get("more_body", False):
                    return  # the rest of the body is dropped with the last part
                event = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(event)

        await self.app({**scope, "method": "GET"}, receive, headless)
