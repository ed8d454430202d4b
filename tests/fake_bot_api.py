"""A small Telegram Bot API server on 127.0.0.1 for end-to-end tests.

It speaks the real HTTP protocol python-telegram-bot uses (form-encoded requests to
`/bot<TOKEN>/<method>`, `{"ok": ..., "result": ...}` answers), serves queued updates to
long polling, records every call the bot makes, and can be told to fail a method with a
429 (`retry_after`) or a 5xx a given number of times.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

# Form fields that are plain strings even when they look like JSON numbers (e.g. text "42").
_TEXT_FIELDS = {
    "text", "query", "data", "message_text", "secret_token", "url", "description", "title",
    "callback_query_id", "inline_query_id", "inline_message_id", "language_code", "next_offset",
    "parse_mode", "ip_address",
}  # fmt: skip
_MENTION = re.compile(r"@[A-Za-z0-9_]{3,}")
# Update ids grow per bot on Telegram; each fake server starts far from the last one, so bots of
# different tests that share a state file never see each other's ids as already handled.
_INSTANCES = itertools.count(1)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entities_for(text: str) -> list[JSON]:
    """bot_command at the start and @mentions, with offsets in UTF-16 units like Telegram."""
    out: list[JSON] = []
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        out.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
    for m in _MENTION.finditer(text):
        if m.start() == 0 or not text[m.start() - 1].isalnum():
            out.append({"type": "mention", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))})
    return out


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: JSON
    status: int
    at: float
    result: Any = None


@dataclass
class Failure:
    status: int
    retry_after: int | None
    description: str
    times: int


@dataclass
class AfterAccepting:
    """Carry out the call, then fail to answer it properly (see `FakeBotApi.accept_then_fail`)."""

    how: str  # "unreadable" or "drop"
    times: int


class ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


@dataclass
class FakeBotApi:
    token: str = field(repr=False)
    bot_id: int = 777000111
    username: str = "QuoteQABot"
    max_poll: float = 1.0  # cap on getUpdates long-poll time, keeps stops fast
    calls: list[Call] = field(default_factory=list, repr=False)
    webhook: JSON = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(next(_INSTANCES) * 10_000_000 + 1)
        self._hold: dict[str, tuple[Callable[[JSON], bool], asyncio.Event]] = {}
        self.offsets: list[int] = []  # every getUpdates offset asked for (acknowledgements)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._after: dict[str, list[AfterAccepting]] = {}
        self._changed = asyncio.Condition()
        self._chats: dict[int, JSON] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self._runner: web.AppRunner | None = None
        self.files: dict[str, bytes] = {}  # file_id -> content, for getFile and the download
        self.port = 0

    # ------------------------------------------------------------------ server
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """The value for QUOTEQA_TELEGRAM_API_URL (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id, "is_bot": True, "first_name": "QuoteQA", "username": self.username,
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True,
        }  # fmt: skip

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if request.match_info["token"] != self.token:
            return self._error(method, params, 404, "Not Found")
        failures = self._failures.get(method.lower())
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            return self._error(method, params, failure.status, failure.description, failure.retry_after)
        hold = self._hold.get(method.lower())
        if hold is not None and hold[0](params):
            await hold[1].wait()  # cancelled with the request when the client dies meanwhile
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError("the client went away while the call was held")
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return self._error(method, params, 404, "Not Found: method not found")
        try:
            result = await handler(params)
        except ApiError as exc:
            return self._error(method, params, exc.status, exc.description)
        self._record(method, params, 200, result)
        after = self._after.get(method.lower())
        if after:
            spoil = after[0]
            spoil.times -= 1
            if spoil.times <= 0:
                after.pop(0)
            if spoil.how == "drop":  # the call took effect; the connection breaks before the answer
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError("dropped after accepting")
            return web.json_response({"ok": True, "result": _as_test_api_echoes(result, params)})
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> JSON:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        form = await request.post()
        params: JSON = {}
        for key, value in form.items():
            if not isinstance(value, str):
                params[key] = value  # a file upload; not used by the bot
            elif key in _TEXT_FIELDS:
                params[key] = value
            else:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        return params

    def _error(
        self, method: str, params: JSON, status: int, description: str, retry_after: int | None = None
    ) -> web.Response:
        self._record(method, params, status)
        body: JSON = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    def _record(self, method: str, params: JSON, status: int, result: Any = None) -> None:
        self.calls.append(Call(method, params, status, time.monotonic(), result))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ test controls
    def fail(
        self, method: str, status: int = 500, *, times: int = 1, retry_after: int | None = None, description: str = ""
    ) -> None:
        """Answer the next `times` calls of `method` with an error (429 → add retry_after)."""
        if not description:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                400: "Bad Request: something was wrong with the request",
            }.get(status, "Internal Server Error")
        self._failures.setdefault(method.lower(), []).append(Failure(status, retry_after, description, times))

    def accept_then_fail(self, method: str, how: str = "unreadable", *, times: int = 1) -> None:
        """Carry out the next `times` calls of `method` (the message is sent or edited and the
        call is recorded as successful), then answer badly: "unreadable" answers `ok` with a
        result python-telegram-bot cannot parse, as telegram-test-api does (a sent message
        echoes `link_preview_options` as a string; an edit answers `null`); "drop" closes the
        connection without an answer."""
        if how not in ("unreadable", "drop"):
            raise ValueError(f"how must be 'unreadable' or 'drop', not {how!r}")
        self._after.setdefault(method.lower(), []).append(AfterAccepting(how, times))

    def hold(self, method: str, when: Callable[[JSON], bool]) -> None:
        """Keep calls of `method` whose parameters satisfy `when` waiting (unanswered,
        unrecorded) until `release`: a bot killed meanwhile never got them through."""
        self._hold[method.lower()] = (when, asyncio.Event())

    def hold_after(self, method: str, count: int) -> None:
        """Let calls of `method` through until `count` have succeeded, then hold the rest."""
        self.hold(method, lambda _: len(self.calls_of(method)) >= count)

    def release(self, method: str) -> None:
        after, event = self._hold.pop(method.lower())
        event.set()

    def clear_failures(self) -> None:
        self._failures.clear()

    def bot_message(self, call: Call) -> JSON:
        """The message object a successful sendMessage call created (for replies and buttons)."""
        return self.messages[(call.params["chat_id"], call.result["message_id"])]

    def push(self, update: JSON) -> JSON:
        """Queue an update for getUpdates (assigns update_id)."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    def calls_of(self, method: str, chat_id: int | None = None, ok_only: bool = True) -> list[Call]:
        return [
            c for c in self.calls
            if c.method.lower() == method.lower()
            and (chat_id is None or c.params.get("chat_id") == chat_id)
            and (not ok_only or c.status == 200)
        ]  # fmt: skip

    async def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate(calls)` holds; raise TimeoutError with the recent calls if not."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not predicate(self.calls):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = [(c.method, c.status, str(c.params)[:160]) for c in self.calls[-8:]]
                    raise TimeoutError(f"condition not met in {timeout}s; last calls: {recent}")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    pass

    async def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """All successful sendMessage calls to `chat_id`, once there are at least `count`."""
        await self.wait_for(lambda _: len(self.calls_of("sendMessage", chat_id)) >= count, timeout)
        return self.calls_of("sendMessage", chat_id)

    # ------------------------------------------------------------------ update builders
    def user(self, user_id: int, language_code: str | None = "en") -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def chat(self, chat_id: int, kind: str = "private", title: str = "") -> JSON:
        chat: JSON = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = f"User{chat_id}"
        else:
            chat["title"] = title or f"{kind} {chat_id}"
        self._chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def message(
        self, chat: JSON, text: str, sender: JSON | None, reply_to: JSON | None = None, thread: int | None = None
    ) -> JSON:
        msg: JSON = {
            "message_id": self._next_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "text": text,
        }
        if thread is not None:  # a message in a forum topic
            msg["message_thread_id"], msg["is_topic_message"] = thread, True
        if sender is not None:
            msg["from"] = sender
        else:
            msg["sender_chat"] = chat
        entities = entities_for(text)
        if entities:
            msg["entities"] = entities
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        self.messages[(chat["id"], msg["message_id"])] = msg
        return msg

    def private_document(self, chat_id: int, file_name: str, content: bytes, mime_type: str = "text/plain") -> JSON:
        """A user sends a file in a private chat (its bytes are served by getFile + download)."""
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = content
        chat = self.chat(chat_id, "private")
        msg: JSON = {
            "message_id": self._next_message_id(chat_id), "date": int(time.time()), "chat": chat,
            "from": self.user(chat_id), "document": {
                "file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                "mime_type": mime_type, "file_size": len(content),
            },
        }  # fmt: skip
        self.messages[(chat_id, msg["message_id"])] = msg
        return self.push({"message": msg})

    async def _m_getfile(self, params: JSON) -> JSON:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"documents/{file_id}",
        }

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=404)
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    @property
    def file_url(self) -> str:
        """The value for QUOTEQA_TELEGRAM_FILE_API_URL."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    def private_text(self, chat_id: int, text: str, language_code: str | None = "en") -> JSON:
        chat = self.chat(chat_id, "private")
        return self.push({"message": self.message(chat, text, self.user(chat_id, language_code))})

    def group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        reply_to: JSON | None = None,
        kind: str = "supergroup",
        language_code: str | None = "en",
        thread: int | None = None,
    ) -> JSON:
        chat = self.chat(chat_id, kind)
        if thread is not None:
            chat["is_forum"] = True
        return self.push({"message": self.message(chat, text, self.user(user_id, language_code), reply_to, thread)})

    def channel_post(self, chat_id: int, text: str) -> JSON:
        chat = self.chat(chat_id, "channel", title="News channel")
        return self.push({"channel_post": self.message(chat, text, None)})

    def reaction(self, user_id: int, message: JSON, emoji: Sequence[str], old: Sequence[str] = ()) -> JSON:
        """A user's reactions to a message changed (sent to bots that are admins)."""
        kinds = lambda es: [{"type": "emoji", "emoji": e} for e in es]  # noqa: E731
        mr = {
            "chat": message["chat"], "message_id": message["message_id"], "date": int(time.time()),
            "user": self.user(user_id), "old_reaction": kinds(old), "new_reaction": kinds(emoji),
        }  # fmt: skip
        return self.push({"message_reaction": mr})

    def inline_query(self, user_id: int, query: str, language_code: str | None = "en") -> JSON:
        iq = {
            "id": f"iq{user_id}-{time.monotonic_ns()}",
            "from": self.user(user_id, language_code),
            "query": query,
            "offset": "",
            "chat_type": "sender",
        }
        return self.push({"inline_query": iq})

    def callback_query(self, user_id: int, message: JSON, data: str, language_code: str | None = "en") -> JSON:
        cq = {
            "id": f"cq{user_id}-{time.monotonic_ns()}",
            "from": self.user(user_id, language_code),
            "chat_instance": "ci",
            "message": message,
            "data": data,
        }
        return self.push({"callback_query": cq})

    # ------------------------------------------------------------------ Bot API methods
    async def _m_getme(self, params: JSON) -> JSON:
        return self.bot_user

    async def _m_getupdates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        self.offsets.append(offset)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), self.max_poll)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self._updates and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        return self._updates[:limit]

    def _bot_message(self, params: JSON) -> JSON:
        chat_id = params["chat_id"]
        chat = self._chats.get(chat_id) or {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        msg: JSON = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "text": params.get("text", ""),
        }
        if chat.get("type") == "channel":
            msg["sender_chat"] = chat
        else:
            msg["from"] = self.bot_user
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        if params.get("message_thread_id"):
            msg["message_thread_id"], msg["is_topic_message"] = params["message_thread_id"], True
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and (chat_id, reply.get("message_id")) in self.messages:
            msg["reply_to_message"] = self.messages[(chat_id, reply["message_id"])]
        self.messages[(chat_id, msg["message_id"])] = msg
        return msg

    async def _m_sendmessage(self, params: JSON) -> JSON:
        return self._bot_message(params)

    def _edit(self, params: JSON, **changes: Any) -> JSON | bool:
        if "inline_message_id" in params:
            return True
        msg = self.messages.get((params.get("chat_id"), params.get("message_id")))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        msg.update({k: v for k, v in changes.items() if v is not None})
        if changes.get("reply_markup") is None:
            msg.pop("reply_markup", None)
        return msg

    async def _m_editmessagetext(self, params: JSON) -> JSON | bool:
        return self._edit(params, text=params.get("text"), reply_markup=params.get("reply_markup"))

    async def _m_editmessagereplymarkup(self, params: JSON) -> JSON | bool:
        return self._edit(params, reply_markup=params.get("reply_markup"))

    async def _m_answercallbackquery(self, params: JSON) -> bool:
        return True

    async def _m_answerinlinequery(self, params: JSON) -> bool:
        return True

    async def _m_setmycommands(self, params: JSON) -> bool:
        return True

    async def _m_deletemycommands(self, params: JSON) -> bool:
        return True

    async def _m_sendchataction(self, params: JSON) -> bool:
        return True

    async def _m_deletewebhook(self, params: JSON) -> bool:
        self.webhook = {}
        return True

    async def _m_setwebhook(self, params: JSON) -> bool:
        self.webhook = dict(params)
        return True

    async def _m_getwebhookinfo(self, params: JSON) -> JSON:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    async def _m_close(self, params: JSON) -> bool:
        return True

    async def _m_logout(self, params: JSON) -> bool:
        return True


def _as_test_api_echoes(result: Any, params: JSON) -> Any:
    """What telegram-test-api answers: a new message echoes the request's fields as they came
    (so `link_preview_options` is a JSON string); an edit's result is `null`."""
    if isinstance(result, dict) and "message_id" in result and "text" in params:
        return {
            **result,
            "link_preview_options": json.dumps(params.get("link_preview_options") or {"is_disabled": True}),
        }
    return None
