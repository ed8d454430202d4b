"""`quoteqa serve`: open the engine once (serving mode) and run the app under uvicorn."""

from __future__ import annotations

import logging
import sys
import time

from ..settings import Settings
from ..wiring import open_engine

log = logging.getLogger(__name__)


def serve(settings: Settings, host: str, port: int, verbose: bool = False) -> int:
    import uvicorn

    from .app import create_app
    from .config import ServeConfig

    started = time.perf_counter()
    engine = open_engine(settings, serving=True)
    config = ServeConfig.from_settings(settings)
    app = create_app(engine, config)
    writes = "on (bearer token)" if config.token else "off (QUOTEQA_API_TOKEN is not set)"
    print(
        f"quoteqa: serving {engine.store.snapshot().n_articles} article(s), {engine.store.snapshot().n_passages} passage(s) "
        f"on http://{host}:{port}/ (API: /v1, OpenAPI: /openapi.json; writes {writes}); "
        f"ready after {time.perf_counter() - started:.1f} s",
        file=sys.stderr, flush=True,
    )  # fmt: skip
    uvicorn.run(
        app, host=host, port=port, log_level="info" if verbose else "warning", access_log=verbose,
        server_header=False, timeout_graceful_shutdown=10,
    )  # fmt: skip
    return 0
