"""All settings, read once at the edge (the CLI) and passed down as plain values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from retrieval import defaults  # the product's defaults, typed once (the core's EngineConfig reads them too)
from .serve.client import DEFAULT_TIMEOUT_SECONDS  # one default for both ways `ask --server` reads it

if TYPE_CHECKING:
    from news.fetch import FetchPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment first, then `.env`; every name is listed in `.env.example`."""

    model_config = SettingsConfigDict(
        env_prefix="QUOTEQA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # an empty line copied from .env.example means "use the default"
    )

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    data_dir: Path = PROJECT_ROOT / ".data"
    # The public dev sets `quoteqa eval` reads by default (README, "Evaluation data").
    eval_data_dir: Path = PROJECT_ROOT.parent / "shared" / "data"

    # Retrieval
    bm25_variant: Literal["okapi", "lucene"] = defaults.BM25_VARIANT  # type: ignore[assignment]
    bm25_k1: float = Field(default=defaults.BM25_K1, gt=0)
    bm25_b: float = Field(default=defaults.BM25_B, ge=0, le=1)
    max_quotes: int = Field(default=defaults.MAX_QUOTES, ge=1, le=10)
    max_question_chars: int = Field(default=defaults.MAX_QUESTION_CHARS, ge=10)
    workers: int = Field(default=defaults.WORKERS, ge=0, description="0 = all cores")
    write_lock_seconds: float = Field(
        default=defaults.LOCK_TIMEOUT_SECONDS, ge=0, description="how long a writer waits for another one"
    )
    # Sentence encoder for meaning-based retrieval across Korean and English: passage vectors in
    # the index, questions encoded at answer time. `none`: words only (BM25), as before.
    encoder: Literal["use-m3", "none"] = defaults.ENCODER  # type: ignore[assignment]
    encoder_cache_dir: Path | None = Field(
        default=None, description="the encoder's start-up cache; default DATA_DIR/encoder"
    )
    # Big builds in bounded pieces (retrieval/index/segments/flush.py): a segment is committed
    # every flush_passages passages, and merges during a build stop at merge_cap_passages.
    flush_passages: int = Field(default=defaults.FLUSH_PASSAGES, ge=1)
    merge_cap_passages: int = Field(default=defaults.MERGE_CAP_PASSAGES, ge=1)
    # A Dask scheduler (tcp://HOST:8786) for `quoteqa ingest`/`reindex` to analyse on; the
    # command's --cluster wins. Needs the optional extra: uv sync --extra cluster.
    dask_scheduler: str | None = None
    # Verdict levels on the answer's confidence (None: the levels fitted with the shipped model,
    # retrieval/answer/confidence.json): `answer` at or above sure, `unsure` (quoted with a caveat)
    # between the two, `abstain` below min.
    sure_confidence: float | None = Field(default=None, ge=0, le=1)
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    log_level: str = "WARNING"

    # Web pages and feeds
    fetch_timeout_seconds: float = Field(default=10.0, gt=0, description="read timeout; connecting gets at most 5 s")
    fetch_max_bytes: int = Field(default=5_000_000, ge=1024, description="largest page or feed, decompressed")
    fetch_allow_private: bool = False  # fetch from loopback / private / link-local hosts (intranets, tests)
    feed_interval_minutes: float = Field(default=15.0, gt=0, description="how often the bot polls its feeds")

    # Telegram
    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN"))
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_api_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "telegram"
    # Conversations: a question follows up on the recent turns of its conversation for this long;
    # answers' buttons (More, Full paragraph, 👍/👎) keep working across restarts for this many days.
    history_minutes: float = Field(
        default=30.0, gt=0, description="a conversation's history expires after this quiet time"
    )
    button_days: float = Field(default=7.0, gt=0, description="how long buttons under an answer keep working")
    allowed_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # HTTP API and page (`quoteqa serve`)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    # Bearer token for the writes (POST /v1/ingest, DELETE /v1/articles/ID); unset: writes are off.
    api_token: SecretStr | None = None
    # Origins allowed to call the API from a browser (comma-separated); empty: no CORS headers.
    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_max_body_bytes: int = Field(
        default=2_000_000, ge=1024, description="largest request body (ingest bodies included)"
    )
    api_threads: int = Field(default=4, ge=1, le=64, description="worker threads answering questions")
    api_max_history: int = Field(default=10, ge=0, le=100, description="turns of history a request may send")
    # `quoteqa ask --server`: answer through a running `quoteqa serve` at this URL.
    server: str = ""
    server_timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0)

    def fetch_policy(self) -> FetchPolicy:
        """The fetch limits as the plain value `news` takes."""
        from news.fetch import FetchPolicy

        return FetchPolicy(
            connect_timeout=min(5.0, self.fetch_timeout_seconds),
            read_timeout=self.fetch_timeout_seconds,
            max_bytes=self.fetch_max_bytes,
            allow_private=self.fetch_allow_private,
        )

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """`https://a.example,https://b.example` as well as a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_chat_ids", "admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept `1,2,3` as well as JSON lists, since that is how people write it in .env."""
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return []
            if text.startswith("["):
                return json.loads(text)
            return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        return value
