"""The HTTP API over one `Engine`, assembled: the routers, the error handlers, the middleware
and the OpenAPI document's extras. Each part lives in its own module:

- `models`: the wire models (what the OpenAPI document shows);
- `errors`: `ApiError` and the handlers that turn every failure into `{"code", "message"}`;
- `middleware`: the body-size limit and HEAD answered as GET;
- `services`: the engine, settings, metrics and thread pools the routes share;
- `routers/`: questions, corpus, operations, the page.

The engine is used only through its public methods and the store's counters; answers leave as
`Answer.to_json()`, exactly what `quoteqa ask --json` prints.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from .config import API_VERSION, ServeConfig
from .errors import install_error_handlers
from .middleware import BodyLimit, HeadAsGet
from .models import QUESTION_PATTERN, IngestIn
from .routers import corpus, operations, page, questions
from .services import Services

if TYPE_CHECKING:
    from retrieval import Engine

__all__ = ["ServeConfig", "create_app"]


def create_app(engine: Engine, config: ServeConfig) -> FastAPI:
    """The ASGI app. The caller opens the engine (serving mode) and owns it."""
    svc = Services(engine, config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

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
    app.state.services = svc
    install_error_handlers(app, svc.metrics)
    for router in (questions.router, corpus.router, operations.router, page.router):
        app.include_router(router)
    _document(app.openapi(), config)

    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )  # fmt: skip
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)  # outermost: before CORS and routing
    return app


def _document(schema: dict[str, Any], config: ServeConfig) -> None:
    """What the routes' signatures cannot say, added to the cached OpenAPI document: the bearer
    scheme, the JSON body of /v1/ingest (read by hand, as it takes three media types), and what
    the engine accepts as a question (some text that is not all white space, no control
    characters but tab and line breaks, at most the configured length)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
    }
    schema["components"]["schemas"]["IngestIn"] = IngestIn.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    asked = schema["components"]["schemas"]["AskIn"]["properties"]
    asked["question"].update(minLength=1, maxLength=config.max_question_chars, pattern=QUESTION_PATTERN)
    asked["history"]["maxItems"] = config.max_history
