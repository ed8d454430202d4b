"""The HTTP API over one `Engine`: questions, sources, articles, ingest and removal, health, metrics.

Questions run on a pool of worker threads and read the commit that is live when they arrive;
writes (ingest, removal) run one at a time on a thread of their own, under the store's writer
lock, so a question never waits for a write. Every error leaves as JSON with a stable `code`
(`ErrorOut`), and every route documents the errors it can give, so the OpenAPI document at
`/openapi.json` describes every response the server sends.

The engine is used only through its public methods (`ask`, `sources`, `article`, `remove`,
`write_corpus` by way of `news.ingest`) and the store's counters; answers leave as
`Answer.to_json()`, exactly what `quoteqa ask --json` prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .metrics import Metrics

if TYPE_CHECKING:
    from news.fetch import FetchPolicy
    from retrieval import Engine

    from ..settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
PAGE_DIR = Path(__file__).resolve().parent / "page"
ARTICLE_ID = r"^[\w.\-]{1,200}$"  # the corpus's own rule for ids (retrieval.corpus.ID_OK)
MAX_URLS = 100
_OK = "[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]"
QUESTION_PATTERN = f"^{_OK}*[^\\s\\u0000-\\u001f\\u007f-\\u009f]{_OK}*$"
API_VERSION = "1"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ServeConfig:
    """What the server needs from the settings, as plain values."""

    token: SecretStr | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 2_000_000
    max_question_chars: int = 2000
    max_quotes: int = 3
    max_history: int = 10
    threads: int = 4
    fetch_policy: FetchPolicy | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ServeConfig:
        token = settings.api_token if settings.api_token and settings.api_token.get_secret_value().strip() else None
        return cls(
            token=token,
            cors_origins=tuple(settings.api_cors_origins),
            max_body_bytes=settings.api_max_body_bytes,
            max_question_chars=settings.max_question_chars,
            max_quotes=settings.max_quotes,
            max_history=settings.api_max_history,
            threads=settings.api_threads,
            fetch_policy=settings.fetch_policy(),
        )


# --------------------------------------------------------------------------- wire models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnIn(_Strict):
    """One earlier exchange of the conversation: its question and the article(s) its answer
    quoted first (`quotes[0].article` of that answer), oldest turn first."""

    question: str = Field(max_length=4000)
    articles: list[str] = Field(default_factory=list, max_length=10)
    answered: bool = True


class AskIn(_Strict):
    question: str = Field(description="the question (Korean or English); control characters are refused")
    history: list[TurnIn] = Field(
        default_factory=list, max_length=100, description="the conversation's earlier turns, oldest first"
    )
    max_quotes: int | None = Field(default=None, ge=1, le=10, description="quotes at most (default QUOTEQA_MAX_QUOTES)")
    language: Literal["ko", "en"] | None = Field(
        default=None, description="the asker's interface language: the server's own error messages use it"
    )


class _Open(BaseModel):
    """Fields may be added (issue 19's `aligned`, say): a client must ignore what it does not know."""

    model_config = ConfigDict(extra="allow")


class AlignedOut(_Open):
    text: str = ""
    language: str = ""
    article: str = ""
    paragraph: int = 0


class QuoteOut(_Open):
    text: str
    article: str
    title: str
    paragraph: int
    language: str
    source: str
    url: str
    date: str
    score: float
    passage: int
    aligned: list[AlignedOut] | AlignedOut | str | None = Field(
        default=None, description="the translation twin's matching sentence(s), when the article has one"
    )


class AnswerOut(_Open):
    """Exactly what `quoteqa ask --json` prints."""

    answered: bool
    verdict: Literal["answer", "unsure", "abstain"]
    confidence: float
    question: str
    language: str
    kind: str
    quotes: list[QuoteOut]
    message: str
    cross_language: bool
    context: str
    elapsed_ms: float


class SourceOut(BaseModel):
    """One row of `quoteqa sources --json`."""

    id: str
    title: str
    source: str
    passages: int
    languages: list[str]
    url: str
    date: str


class ArticleOut(BaseModel):
    """What `quoteqa show --json` prints."""

    id: str
    title: str
    url: str
    date: str
    author: str
    source: str
    updated: str
    file: str
    paragraphs: list[str]


class IngestIn(_Strict):
    urls: list[str] = Field(min_length=1, max_length=MAX_URLS, description="web pages to fetch and index")


class FailedOut(BaseModel):
    source: str
    reason: str


class IngestOut(BaseModel):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    failed: list[FailedOut]
    articles: int
    passages: int
    commit: int


class RemovedOut(BaseModel):
    removed: str
    articles: int
    passages: int
    commit: int


class HealthOut(BaseModel):
    status: Literal["ok"]
    index_open: bool
    commit: int
    passages: int
    articles: int


class ErrorOut(BaseModel):
    code: str = Field(description="stable, machine-readable: what went wrong")
    message: str = Field(description="for a person: what went wrong and what to do")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error the client caused or can act on; leaves as `ErrorOut` with this status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}
KO_MESSAGES = {"empty_corpus": "아직 기사가 없습니다. 관리자가 기사를 추가하면 질문할 수 있습니다."}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """(code, message) for a body or parameter that failed validation: the first problem, named."""
    errors = exc.errors()
    unknown = [
        e for e in errors if e.get("type") == "extra_forbidden"
    ]  # a misspelt field says more than the missing one
    first = (unknown or errors or [{}])[0]
    if first.get("type") == "json_invalid":
        return "invalid_json", 'the body is not valid JSON; send a JSON object such as {"question": "..."}'
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the request"
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return "unknown_field", f"unknown field {where!r}; /openapi.json lists the fields this call takes"
    if kind == "missing":
        return "invalid_request", f"{where} is required"
    return "invalid_request", f"{where}: {first.get('msg', 'invalid')}" + (
        f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    )


# --------------------------------------------------------------------------- body size limit


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse a body over `limit` bytes with 413 before the route reads it (by Content-Length)
    or as soon as a streamed one goes past it."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
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
                    await _error(413, "too_large", message)(scope, receive, send)
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
                await _error(413, "too_large", message)(scope, receive, send)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if not replaced:
                await _error(413, "too_large", message)(scope, receive, send)


# --------------------------------------------------------------------------- the app


def create_app(engine: Engine, config: ServeConfig) -> FastAPI:
    """The ASGI app. The caller opens the engine (serving mode) and owns it."""
    from news.ingest import ingest_sources
    from retrieval import CorpusError, EmptyCorpusError, QuestionError, QuoteQAError, Turn
    from retrieval.index.fsutil import LockBusyError

    metrics = Metrics()
    ask_pool = ThreadPoolExecutor(config.threads, thread_name_prefix="quoteqa-ask")
    write_pool = ThreadPoolExecutor(1, thread_name_prefix="quoteqa-write")  # writes one after the other

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ask_pool.shutdown(wait=False, cancel_futures=True)
        write_pool.shutdown(wait=True)  # a started ingest finishes its commit

    app = FastAPI(
        lifespan=lifespan,
        title="quoteqa",
        version=API_VERSION,
        description=(
            "Answers questions about Korean and English news articles with verbatim quotes. "
            "Every error is JSON with a stable `code`. Writes need `Authorization: Bearer <QUOTEQA_API_TOKEN>`."
        ),
        docs_url=None,  # the Swagger UI loads scripts from a CDN: the page must work offline
        redoc_url=None,
    )
    app.state.metrics = metrics

    async def run(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def counters() -> tuple[int, int, int]:
        snap = engine.store.snapshot()
        return snap.n_articles, snap.n_passages, snap.generation

    def require_writer(request: Request) -> None:
        if config.token is None:
            raise ApiError(
                403,
                "writes_disabled",
                "writes are off on this server: set QUOTEQA_API_TOKEN and restart it to allow them",
            )
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        expected = config.token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected):
            raise ApiError(
                401, "unauthorized", "this call needs the header `Authorization: Bearer <QUOTEQA_API_TOKEN>`",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip

    # --- errors ---------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        metrics.error(exc.code)
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(exc)
        metrics.error(code)
        return _error(400 if code == "invalid_json" else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = {
            404: f"no such path {request.url.path}; /openapi.json lists the API",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        metrics.error(code)
        return _error(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        metrics.error("internal")
        return _error(500, "internal", "the server failed on this request; its log has the details")

    # --- questions ------------------------------------------------------------------------
    @app.post("/v1/ask", response_model=AnswerOut, responses=_errors(400, 413, 415, 422, 503), tags=["questions"])
    async def ask(body: AskIn) -> Response:
        """Answer one question, reading it in the light of `history` (a follow-up). The reply is
        exactly the JSON of `quoteqa ask --json`; `answered` false with a `message` is a refusal,
        not an error."""
        if len(body.question) > config.max_question_chars:  # as documented: the limit is on the text sent
            n, limit = len(body.question), config.max_question_chars
            korean = any("\uac00" <= c <= "\ud7a3" for c in body.question[:200])
            raise ApiError(
                422,
                "bad_question",
                f"질문이 {n:,}자로 너무 깁니다. 최대 {limit:,}자까지 받습니다."
                if korean
                else f"the question is {n:,} characters long; the limit is {limit:,}",
            )
        if len(body.history) > config.max_history:
            raise ApiError(
                422,
                "history_too_long",
                f"history has {len(body.history)} turns; send the last {config.max_history} at most (QUOTEQA_API_MAX_HISTORY)",
            )
        history = tuple(Turn(t.question, tuple(t.articles), t.answered) for t in body.history)
        max_quotes = body.max_quotes or config.max_quotes
        started = time.perf_counter()
        try:
            answer = await run(ask_pool, engine.ask, body.question, max_quotes, history)
        except EmptyCorpusError as exc:
            raise ApiError(
                503, "empty_corpus", KO_MESSAGES["empty_corpus"] if body.language == "ko" else str(exc)
            ) from None
        except QuestionError as exc:
            raise ApiError(422, "bad_question", str(exc)) from None
        metrics.answered(answer.verdict, time.perf_counter() - started)
        return Response(json.dumps(answer.to_json(), ensure_ascii=False), media_type="application/json")

    # --- the corpus -----------------------------------------------------------------------
    @app.get("/v1/sources", response_model=list[SourceOut], tags=["corpus"])
    async def sources() -> Response:
        """The articles in the corpus, newest first (as `quoteqa sources --json`)."""
        rows = await run(ask_pool, engine.sources)
        newest_first = sorted(rows, key=lambda s: s.date, reverse=True)
        return Response(
            json.dumps([dataclasses.asdict(s) for s in newest_first], ensure_ascii=False), media_type="application/json"
        )

    def _known(article_id: str) -> None:
        if not re.match(ARTICLE_ID, article_id) or engine.store.snapshot().article(article_id) is None:
            raise ApiError(
                404, "no_such_article", f"no article {article_id!r} in the corpus; GET /v1/sources lists the ids"
            )

    @app.get("/v1/articles/{article_id}", response_model=ArticleOut, responses=_errors(404, 409, 422), tags=["corpus"])
    async def article(article_id: str) -> Response:
        """One stored article with its paragraphs (as `quoteqa show --json`)."""
        _known(article_id)
        try:
            a = await run(ask_pool, engine.article, article_id)
        except CorpusError as exc:  # its file changed since it was indexed
            raise ApiError(409, "article_changed", str(exc)) from None
        row = {
            "id": a.id,
            "title": a.title,
            "url": a.url,
            "date": a.date,
            "author": a.author,
            "source": a.source,
            "updated": a.updated,
            "file": a.file,
            "paragraphs": list(a.paragraphs),
        }
        return Response(json.dumps(row, ensure_ascii=False), media_type="application/json")

    @app.post(
        "/v1/ingest",
        response_model=IngestOut,
        responses=_errors(400, 401, 403, 409, 413, 415, 422),
        tags=["corpus"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/IngestIn"}},
                    "application/x-ndjson": {
                        "schema": {
                            "type": "string",
                            "description": "JSONL: one article a line, {id, title, text, url?, date?, source?}",
                        }
                    },
                    "text/markdown": {
                        "schema": {
                            "type": "string",
                            "description": "one article: optional `---` front matter (title, url, date, source), paragraphs split on blank lines",
                        }
                    },
                },
            },
            "security": [{"bearer": []}],
        },
    )
    async def ingest(request: Request, id: str | None = None) -> Response:  # noqa: A002 - the query parameter's name
        """Add articles: `{"urls": [...]}` fetches web pages; a JSONL body (application/x-ndjson)
        or one Markdown article (text/markdown, its id from `?id=` or its text) is stored as a
        corpus file. Indexed at once: the next question can quote it. Needs the bearer token."""
        require_writer(request)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        raw = await request.body()
        if kind in ("application/json", ""):
            try:
                payload = json.loads(raw)
            except ValueError:
                raise ApiError(
                    400, "invalid_json", 'the body is not valid JSON; send {"urls": ["https://..."]}'
                ) from None
            try:
                urls = IngestIn.model_validate(payload).urls
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from None
            sources = [u.strip() for u in urls]
            return await _ingest(sources, None)
        if kind in (
            "application/x-ndjson",
            "application/jsonl",
            "application/json-lines",
            "text/markdown",
            "text/plain",
        ):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "not_utf8", "the body must be UTF-8 text") from None
            if not text.strip():
                raise ApiError(
                    422, "empty_body", "the body is empty; send a JSONL line per article or one Markdown article"
                )
            digest = hashlib.sha1(raw).hexdigest()[:12]
            if kind.startswith("text/"):
                if id is not None and not re.match(ARTICLE_ID, id):
                    raise ApiError(422, "bad_id", "?id= takes letters, digits, '.', '_' and '-' (at most 200)")
                name = f"{id or 'api-' + digest}.md"
            else:
                name = f"api-{time.strftime('%Y%m%d')}-{digest}.jsonl"  # one corpus file per body: never appended to
            return await _ingest(None, (name, raw))
        raise ApiError(
            415,
            "unsupported_media_type",
            'send application/json ({"urls": [...]}), application/x-ndjson or text/markdown',
        )

    async def _ingest(urls: list[str] | None, body: tuple[str, bytes] | None) -> Response:
        from news.fetch import check_url

        from ..settings import Settings

        if urls:
            for url in urls:
                try:
                    check_url(url)
                except QuoteQAError as exc:
                    raise ApiError(422, "bad_url", str(exc)) from None
        policy = config.fetch_policy or Settings().fetch_policy()

        def work() -> Any:
            if body is None:
                return ingest_sources(engine, urls or [], policy)
            with tempfile.TemporaryDirectory(prefix="quoteqa-api-") as tmp:
                path = Path(tmp) / body[0]
                path.write_bytes(body[1])
                return ingest_sources(engine, [str(path)], policy)

        try:
            result = await run(write_pool, work)
        except LockBusyError as exc:
            raise ApiError(409, "busy", str(exc)) from None
        except CorpusError as exc:
            raise ApiError(422, "bad_article", str(exc).replace(tempfile.gettempdir(), "<body>")) from None
        files = result.files
        added = [o.article_id for o in result.pages if o.status == "added"] + (list(files.added) if files else [])
        updated = [o.article_id for o in result.pages if o.status in ("updated", "corrected")] + (
            list(files.updated) if files else []
        )
        unchanged = [o.article_id for o in result.pages if o.status in ("unchanged", "duplicate")] + (
            list(files.unchanged) if files else []
        )
        failed = [{"source": where, "reason": why} for where, why in result.failed]
        failed += [{"source": o.origin, "reason": o.line()} for o in result.pages if o.status == "conflict"]
        metrics.ingested(len(added), len(updated), bool(failed))
        n_articles, n_passages, commit = counters()
        out = {
            "added": added,
            "updated": updated,
            "unchanged": unchanged,
            "failed": failed,
            "articles": n_articles,
            "passages": n_passages,
            "commit": commit,
        }
        return JSONResponse(out)

    @app.delete(
        "/v1/articles/{article_id}", response_model=RemovedOut, responses=_errors(401, 403, 404, 409, 422), tags=["corpus"],
        openapi_extra={"security": [{"bearer": []}]},
    )  # fmt: skip
    async def remove(request: Request, article_id: str) -> Response:
        """Take an article out of the corpus folder and the index. Needs the bearer token."""
        require_writer(request)
        _known(article_id)
        try:
            await run(write_pool, engine.remove, article_id)
        except LockBusyError as exc:
            raise ApiError(409, "busy", str(exc)) from None
        except CorpusError as exc:  # removed by someone else meanwhile
            raise ApiError(404, "no_such_article", str(exc)) from None
        metrics.removed()
        n_articles, n_passages, commit = counters()
        return JSONResponse({"removed": article_id, "articles": n_articles, "passages": n_passages, "commit": commit})

    # --- operations -----------------------------------------------------------------------
    @app.get("/healthz", response_model=HealthOut, tags=["operations"])
    async def healthz() -> Response:
        """The index is open; its commit number and size."""
        n_articles, n_passages, commit = counters()
        return JSONResponse(
            {"status": "ok", "index_open": True, "commit": commit, "passages": n_passages, "articles": n_articles}
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def prometheus() -> Response:
        """Prometheus text: questions by verdict, answer latency, ingests, errors by code, index size."""
        n_articles, n_passages, commit = counters()
        return Response(metrics.render(n_articles, n_passages, commit), media_type=metrics.content_type)

    # --- the page -------------------------------------------------------------------------
    page = {name: (PAGE_DIR / name).read_bytes() for name in ("index.html", "app.js", "app.css")}
    kinds = {
        "index.html": "text/html; charset=utf-8",
        "app.js": "text/javascript; charset=utf-8",
        "app.css": "text/css; charset=utf-8",
    }
    headers = {
        # Everything comes from this server: no CDN, no font service; the page works offline.
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(page["index.html"], media_type=kinds["index.html"], headers=headers)

    @app.get("/page/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ("app.js", "app.css"):
            raise ApiError(404, "not_found", f"no such file {name!r}")
        return Response(page[name], media_type=kinds[name], headers=headers)

    # --- the rest -------------------------------------------------------------------------
    schema = app.openapi()
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
    }
    schema["components"]["schemas"]["IngestIn"] = IngestIn.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    # What the engine accepts as a question, in the document too: some text that is not all
    # white space, no control characters but tab and line breaks, at most the configured length.
    asked = schema["components"]["schemas"]["AskIn"]["properties"]
    asked["question"].update(minLength=1, maxLength=config.max_question_chars, pattern=QUESTION_PATTERN)
    asked["history"]["maxItems"] = config.max_history

    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )  # fmt: skip
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)  # outermost: before CORS and routing
    return app
