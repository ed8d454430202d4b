"""What the server needs from the settings, as plain values (tests build it directly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    from news.fetch import FetchPolicy

    from ..settings import Settings

API_VERSION = "1"


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
