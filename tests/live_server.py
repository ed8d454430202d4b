"""A real uvicorn serving `bot.serve.app` on 127.0.0.1 (a port of its own), for HTTP tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from pydantic import SecretStr

from bot.serve.app import create_app
from bot.serve.config import ServeConfig
from retrieval import Engine

TOKEN = "test-token-" + "x" * 20


@dataclass(frozen=True)
class Live:
    url: str
    engine: Engine
    config: ServeConfig


def config(**kwargs: object) -> ServeConfig:
    base: dict[str, object] = {"token": SecretStr(TOKEN), "threads": 2}
    base.update(kwargs)
    return ServeConfig(**base)  # type: ignore[arg-type]


@contextmanager
def live_server(engine: Engine, cfg: ServeConfig | None = None) -> Iterator[Live]:
    cfg = cfg or config()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, cfg), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", engine, cfg)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
