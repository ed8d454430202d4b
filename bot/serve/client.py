"""`quoteqa ask --server URL`: ask a running `quoteqa serve` instead of loading the index here.

Standard library only (urllib, json): the point is to answer in milliseconds, so this path must
not import the analyser, the encoder, numpy or even an HTTP library (a test checks the imports).
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


class ServerError(Exception):
    """The server could not be reached or refused the call; the message says what to check."""


@dataclass(frozen=True)
class Client:
    base_url: str
    timeout: float = 30.0

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
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read())
                message, code = detail.get("message") or exc.reason, detail.get("code", "")
            except ValueError:
                message, code = exc.reason, ""
            raise ServerError(f"{message}" + (f" ({code})" if code else "")) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(
                f"cannot reach the quoteqa server at {self.base_url} ({reason}); is `quoteqa serve` running? (QUOTEQA_SERVER / --server)"
            ) from None
        except ValueError:
            raise ServerError(f"{url} did not answer with JSON; is it a quoteqa server?") from None


def check_url(url: str) -> str:
    """The server's base URL, or ServerError for something that is not an http(s) URL."""
    if not url.startswith(("http://", "https://")):
        raise ServerError(f"--server / QUOTEQA_SERVER must be an http:// or https:// URL, not {url!r}")
    return url.rstrip("/")


def print_plain(row: dict[str, Any]) -> None:
    """The answer as lines of text (what `ask` prints without --json, minus the colours)."""
    verdict = row.get("verdict", "")
    confidence = row.get("confidence")
    head = f"Q: {row.get('question', '')}"
    if verdict:
        head += f"  [{verdict}" + (f" {confidence:.2f}" if isinstance(confidence, int | float) else "") + "]"
    print(head)
    if row.get("message"):
        print(f"   {row['message']}")
    for q in row.get("quotes") or []:
        where = ", ".join(str(x) for x in (q.get("title"), q.get("source"), q.get("date")) if x)
        print(f"   “{q.get('text', '')}” — {where}, paragraph {q.get('paragraph')}")
        if q.get("url"):
            print(f"     {q['url']}")


def run(client: Client, question: str, as_json: bool, max_quotes: int | None, lines: Iterable[str] = ()) -> int:
    """`ask` through the server: one question, or one per line of `lines` for '-'. Exit codes
    as the local `ask`: 0 answered, 1 not answered, 2 error."""
    if question != "-":
        try:
            row = client.ask(question, max_quotes)
        except ServerError as exc:
            print(f"quoteqa: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(row, ensure_ascii=False)) if as_json else print_plain(row)
        return 0 if row.get("answered") else 1
    for line in lines:
        if not line.strip():
            continue
        try:
            row = client.ask(line.rstrip("\n"), max_quotes)
        except ServerError as exc:
            if "cannot reach" in str(exc):
                print(f"quoteqa: {exc}", file=sys.stderr)
                return 2
            row = {"answered": False, "question": line.strip(), "quotes": [], "error": str(exc), "message": str(exc)}
        if as_json:
            print(json.dumps(row, ensure_ascii=False), flush=True)
        else:
            print_plain(row)
    return 0


def run_from_env(url: str, question: str, as_json: bool, max_quotes: int | None) -> int:
    """`run` with the server's URL given and its timeout from QUOTEQA_SERVER_TIMEOUT_SECONDS
    (read here, not through the settings, so that pydantic never loads on this path)."""
    raw = os.environ.get("QUOTEQA_SERVER_TIMEOUT_SECONDS", "").strip() or "30"
    try:
        timeout = float(raw)
        if timeout <= 0:
            raise ValueError
        client = Client(check_url(url), timeout)
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
