"""Secrets out of every log line: registered once at start, removed where a record is made, so
handlers added later (pytest's, the CLI's) never see them either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

_SECRETS: set[str] = set()
_ORIGINAL_FACTORY: Callable[..., logging.LogRecord] | None = None


def redact(text: str) -> str:
    """Replace every registered secret in `text`."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _ORIGINAL_FACTORY is not None
    record = _ORIGINAL_FACTORY(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the logging module's business
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:
            record.exc_text = redact(text)  # formatters reuse exc_text instead of re-formatting
    return record


def redact_secrets(*secrets_: str) -> None:
    """Make sure a secret never reaches any log handler (PTB logs the API URL at DEBUG, httpx
    logs request URLs at INFO, and tracebacks can carry URLs). Done at record creation, so
    handlers added later (pytest's, the CLI's) are covered too."""
    global _ORIGINAL_FACTORY
    _SECRETS.update(s for s in secrets_ if s and len(s) >= 8)
    if _ORIGINAL_FACTORY is None:
        _ORIGINAL_FACTORY = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
