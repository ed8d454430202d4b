"""Operations: health and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from ..models import HealthOut
from ..services import Services, services

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
async def healthz(svc: Annotated[Services, Depends(services)]) -> Response:
    """The index is open; its commit number and size."""
    n_articles, n_passages, commit = svc.counters()
    return JSONResponse(
        {"status": "ok", "index_open": True, "commit": commit, "passages": n_passages, "articles": n_articles}
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def prometheus(svc: Annotated[Services, Depends(services)]) -> Response:
    """Prometheus text: questions by verdict, answer latency, ingests, errors by code, index size."""
    n_articles, n_passages, commit = svc.counters()
    return Response(svc.metrics.render(n_articles, n_passages, commit), media_type=svc.metrics.content_type)
