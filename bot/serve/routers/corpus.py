"""The corpus: list it, read one article, add articles (links, JSONL, Markdown), remove one.
Writes need the bearer token and run one at a time under the store's writer lock."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from news.fetch import check_url
from news.ingest import ingest_sources
from retrieval import CorpusError, QuoteQAError
from retrieval.index.fsutil import LockBusyError

from ..errors import ApiError
from ..models import ARTICLE_ID, ArticleOut, IngestIn, IngestOut, RemovedOut, SourceOut, error_responses
from ..services import Services, services

router = APIRouter(tags=["corpus"])
Svc = Annotated[Services, Depends(services)]
TEXT_KINDS = ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/markdown", "text/plain")


@router.get("/v1/sources", response_model=list[SourceOut])
async def sources(svc: Svc) -> Response:
    """The articles in the corpus, newest first (as `quoteqa sources --json`)."""
    rows = await svc.ask_thread(svc.engine.sources)
    newest_first = sorted(rows, key=lambda s: s.date, reverse=True)
    return Response(
        json.dumps([dataclasses.asdict(s) for s in newest_first], ensure_ascii=False), media_type="application/json"
    )


@router.get("/v1/articles/{article_id}", response_model=ArticleOut, responses=error_responses(404, 409, 422))
async def article(article_id: str, svc: Svc) -> Response:
    """One stored article with its paragraphs (as `quoteqa show --json`)."""
    svc.require_article(article_id)
    try:
        a = await svc.ask_thread(svc.engine.article, article_id)
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


@router.post(
    "/v1/ingest",
    response_model=IngestOut,
    responses=error_responses(400, 401, 403, 409, 413, 415, 422),
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
async def ingest(request: Request, svc: Svc, id: str | None = None) -> Response:  # noqa: A002 - the query parameter's name
    """Add articles: `{"urls": [...]}` fetches web pages; a JSONL body (application/x-ndjson)
    or one Markdown article (text/markdown, its id from `?id=` or its text) is stored as a
    corpus file. Indexed at once: the next question can quote it. Needs the bearer token."""
    svc.require_writer(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if kind in ("application/json", ""):
        try:
            payload = json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid_json", 'the body is not valid JSON; send {"urls": ["https://..."]}') from None
        try:
            urls = IngestIn.model_validate(payload).urls
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        return await _ingest(svc, [u.strip() for u in urls], None)
    if kind in TEXT_KINDS:
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
        return await _ingest(svc, None, (name, raw))
    raise ApiError(
        415,
        "unsupported_media_type",
        'send application/json ({"urls": [...]}), application/x-ndjson or text/markdown',
    )


async def _ingest(svc: Services, urls: list[str] | None, body: tuple[str, bytes] | None) -> Response:
    from ...settings import Settings

    if urls:
        for url in urls:
            try:
                check_url(url)
            except QuoteQAError as exc:
                raise ApiError(422, "bad_url", str(exc)) from None
    policy = svc.config.fetch_policy or Settings().fetch_policy()
    engine = svc.engine

    def work() -> Any:
        if body is None:
            return ingest_sources(engine, urls or [], policy)
        with tempfile.TemporaryDirectory(prefix="quoteqa-api-") as tmp:
            path = Path(tmp) / body[0]
            path.write_bytes(body[1])
            return ingest_sources(engine, [str(path)], policy)

    try:
        result = await svc.write_thread(work)
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
    svc.metrics.ingested(len(added), len(updated), bool(failed))
    n_articles, n_passages, commit = svc.counters()
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


@router.delete(
    "/v1/articles/{article_id}", response_model=RemovedOut, responses=error_responses(401, 403, 404, 409, 422),
    openapi_extra={"security": [{"bearer": []}]},
)  # fmt: skip
async def remove(request: Request, article_id: str, svc: Svc) -> Response:
    """Take an article out of the corpus folder and the index. Needs the bearer token."""
    svc.require_writer(request)
    svc.require_article(article_id)
    try:
        await svc.write_thread(svc.engine.remove, article_id)
    except LockBusyError as exc:
        raise ApiError(409, "busy", str(exc)) from None
    except CorpusError as exc:  # removed by someone else meanwhile
        raise ApiError(404, "no_such_article", str(exc)) from None
    svc.metrics.removed()
    n_articles, n_passages, commit = svc.counters()
    return JSONResponse({"removed": article_id, "articles": n_articles, "passages": n_passages, "commit": commit})
