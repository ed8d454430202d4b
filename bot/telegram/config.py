"""Settings the bot cannot start without, checked up front so a mistake is one line, not a
traceback from deep inside a request: the token's shape, the Bot API address, the webhook.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from bot.settings import Settings

TOKEN_FORMAT = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

DEFAULT_API_URL: str = Settings.model_fields["telegram_api_url"].default


class ConfigError(Exception):
    """A setting that makes starting pointless; the message is printed as one line."""


def bot_token(settings: Settings) -> str:
    """The token, checked for shape so a typo fails here and not deep inside a request."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value().strip():
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set; create a bot with @BotFather and export its token")
    token = settings.telegram_bot_token.get_secret_value().strip()
    if not TOKEN_FORMAT.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is malformed; it looks like 123456789:AAH... (digits, a colon, 35 characters)"
        )
    return token


def check_api_url(settings: Settings) -> None:
    """QUOTEQA_TELEGRAM_API_URL must at least be a web address (else every try fails alike)."""
    url = urllib.parse.urlsplit(settings.telegram_api_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            f"QUOTEQA_TELEGRAM_API_URL must be an http:// or https:// address like {DEFAULT_API_URL}, not {settings.telegram_api_url!r}"
        )


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """What `--webhook` needs; checked up front so a bad setting is a one-line error."""

    listen: str
    port: int
    url_path: str
    url: str
    secret: str


def webhook_config(settings: Settings) -> WebhookConfig:
    if not settings.webhook_url:
        raise ConfigError("--webhook needs QUOTEQA_WEBHOOK_URL (the public https URL Telegram posts updates to)")
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not SECRET_FORMAT.match(secret):
        raise ConfigError("--webhook needs QUOTEQA_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -")
    return WebhookConfig(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=settings.webhook_path.strip("/"),
        url=settings.webhook_url,
        secret=secret,
    )
