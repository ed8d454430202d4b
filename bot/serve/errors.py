"""Every error leaves as JSON, `{"code", "message"}`, with a stable code: the client's own
(`ApiError`), a damaged index (503 `index_damaged`), a body that failed validation, a path or method the router does not know, and
anything unexpected (500, details only in the log)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval.errors import DamagedIndexError

from .metrics import Metrics

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}
DAMAGED_MESSAGE = (
    "part of the index is damaged and was taken out of service; ask again "
    "(the operator mends it with `quoteqa verify --repair`)"
)
KO_MESSAGES = {"empty_corpus": "아직 기사가 없습니다. 관리자가 기사를 추가하면 질문할 수 있습니다."}


class ApiError(Exception):
    """An error the client caused or can act on; leaves as `ErrorOut` with this status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> tuple[str, str]:
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


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Every way a request can fail, answered as `ErrorOut` and counted by code."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        metrics.error(exc.code)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(DamagedIndexError)
    async def _damaged(request: Request, exc: DamagedIndexError) -> JSONResponse:
        # the engine logged the file and took its segment out of service: a retry is answered
        # from the rest of the index; the client is not told server paths
        metrics.error(exc.code)
        return error_response(503, exc.code, DAMAGED_MESSAGE)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = validation_message(exc)
        metrics.error(code)
        return error_response(400 if code == "invalid_json" else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = {
            404: f"no such path {request.url.path}; /openapi.json lists the API",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        metrics.error(code)
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        metrics.error("internal")
        return error_response(500, "internal", "the server failed on this request; its log has the details")
