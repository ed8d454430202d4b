"""`quoteqa ask --server URL`: ask a running `quoteqa serve` instead of loading the index here.

Standard library only (urllib, json): the point is to answer in milliseconds, so this path must
not import the analyser, the encoder, numpy or even an HTTP library (a test checks the imports).
The answer is printed by `bot.output.plain`, as a local `ask` prints it.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..output.plain import ask_each, error_json, print_answer

DEFAULT_TIMEOUT_SECONDS = 30.0  # QUOTEQA_SERVER_TIMEOUT_SECONDS (bot.settings takes its default from here)
# The engine's error types, by the API's code: `--json` prints the same `type` as a local ask.
ERROR_TYPES = {"bad_question": "QuestionError", "empty_corpus": "EmptyCorpusError"}


class ServerError(Exception):
    """The server refused the call; `code` is its stable error code, the message says why."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message, self.code = message, code

    @property
    def kind(self) -> str:
        return ERROR_TYPES.get(self.code, type(self).__name__)


class QuestionRefused(ServerError):
    """The question itself was refused (empty, too long, control characters): in a batch, that
    line gets an error row and the others go on, as in a local `ask -`."""


class Unreachable(Exception):
    """No answer from the server at all (not running, wrong address, not a quoteqa server):
    a batch stops here, where a refused question only gets its error row."""


@dataclass(frozen=True)
class Client:
    base_url: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def ask(self, question: str, max_quotes: int | None = None) -> dict[str, Any]:
        """The answer JSON (as `ask --json` prints it). A question the server refuses as
        malformed raises `ServerError` with its message."""
        body: dict[str, Any] = {"question": question}
        if max_quotes:
            body["max_quotes"] = max_quotes
        return self._post("/v1/ask", body)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url.rstrip("/") + path
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read())
                message, code = detail.get("message") or exc.reason, detail.get("code", "")
            except ValueError:
                message, code = exc.reason, ""
            raise (QuestionRefused if code == "bad_question" else ServerError)(str(message), str(code)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(
                f"cannot reach the quoteqa server at {self.base_url} ({reason}); is `quoteqa serve` running? (QUOTEQA_SERVER / --server)"
            ) from None
        except ValueError:
            raise Unreachable(f"{url} did not answer with JSON; is it a quoteqa server?") from None


def check_url(url: str) -> str:
    """The server's base URL, or ServerError for something that is not an http(s) URL."""
    if not url.startswith(("http://", "https://")):
        raise ServerError(f"--server / QUOTEQA_SERVER must be an http:// or https:// URL, not {url!r}")
    return url.rstrip("/")


def timeout_seconds(raw: str) -> float:
    """QUOTEQA_SERVER_TIMEOUT_SECONDS as given in the environment (empty: the default)."""
    timeout = float(raw.strip() or DEFAULT_TIMEOUT_SECONDS)
    if not timeout > 0:
        raise ValueError(raw)
    return timeout


def run(client: Client, question: str, as_json: bool, max_quotes: int | None, lines: Iterable[str] = ()) -> int:
    """`ask` through the server: one question, or one per line of `lines` for '-'. Output and
    exit codes as the local `ask`: 0 answered, 1 not answered, 2 error."""
    try:
        if question == "-":
            ask_each(lines, lambda q: client.ask(q, max_quotes), QuestionRefused, as_json)
            return 0
        row = client.ask(question, max_quotes)
    except Unreachable as exc:
        print(f"quoteqa: {exc}", file=sys.stderr)
        return 2
    except ServerError as exc:
        if as_json:
            print(error_json(exc.message, exc.kind))
        print(f"quoteqa: {exc.message}", file=sys.stderr)
        return 2
    print_answer(row, as_json)
    return 0 if row.get("answered") else 1


def run_from_env(url: str, question: str, as_json: bool, max_quotes: int | None) -> int:
    """`run` with the server's URL given and its timeout from QUOTEQA_SERVER_TIMEOUT_SECONDS
    (read here, not through the settings, so that pydantic never loads on this path)."""
    raw = os.environ.get("QUOTEQA_SERVER_TIMEOUT_SECONDS", "")
    try:
        client = Client(check_url(url), timeout_seconds(raw))
    except ValueError:
        print(
            f"quoteqa: setting QUOTEQA_SERVER_TIMEOUT_SECONDS: must be a number of seconds above 0, not {raw!r}",
            file=sys.stderr,
        )
        return 2
    except ServerError as exc:
        print(f"quoteqa: {exc}", file=sys.stderr)
        return 2
    return run(client, question, as_json, max_quotes, sys.stdin if question == "-" else ())
