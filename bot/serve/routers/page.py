"""The question page at `/`: one HTML file, one script, one stylesheet, all from this server
(no CDN, no font service), so it works offline and on an intranet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from ..errors import ApiError

PAGE_DIR = Path(__file__).resolve().parent.parent / "page"
KINDS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
PAGE = {name: (PAGE_DIR / name).read_bytes() for name in KINDS}  # read once, at import

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> Response:
    return Response(PAGE["index.html"], media_type=KINDS["index.html"], headers=HEADERS)


@router.get("/page/{name}")
async def asset(name: str) -> Response:
    if name not in ("app.js", "app.css"):
        raise ApiError(404, "not_found", f"no such file {name!r}")
    return Response(PAGE[name], media_type=KINDS[name], headers=HEADERS)
