"""The two output forms of `quoteqa ask`, for a local engine and for `ask --server` alike:
plain text (`lines.plain`) and the JSON form, one object per answer. Both sides call
`print_answer` / `ask_each`, so they print byte for byte the same (a test compares them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from .lines import Row, Span, answer_lines, plain

DAMAGED = "index_damaged"  # `DamagedIndexError.code`, and the API's code for it


def json_text(row: Row) -> str:
    """The JSON form: the answer's `to_json()` object on one line, non-ASCII kept as is."""
    return json.dumps(row, ensure_ascii=False)


def error_json(message: str, kind: str) -> str:
    """What `--json` prints on stdout for an error (its line also goes to stderr)."""
    return json_text({"error": message, "type": kind})


def error_row(question: str, message: str) -> dict[str, Any]:
    """A batch line that could not be asked (blank, too long, control characters)."""
    return {"answered": False, "question": question, "quotes": [], "error": message, "message": message}


def print_answer(
    row: Row, as_json: bool, out: TextIO | None = None, batch: bool = False,
    highlights: Sequence[Sequence[Span]] | None = None,
) -> None:  # fmt: skip
    """One answer in the chosen form; in a batch, plain text starts each with `Q: question`
    and ends it with a blank line, so answers stay apart. On a terminal the same lines are
    coloured (`highlights`: each quote's matched words, when the answer is local)."""
    out = out or sys.stdout
    if as_json:
        print(json_text(row), file=out, flush=batch)
        return
    lines = answer_lines(row, highlights, question=batch)
    if out.isatty():
        from bot.terminal.render import print_lines, terminal

        print_lines(terminal(file=out), lines)
    else:
        out.write(plain(lines))
    if batch:
        out.write("\n")
        out.flush()


def ask_each(
    lines: Iterable[str], ask: Callable[[str], Row], refused: type[Exception] | tuple[type[Exception], ...],
    as_json: bool,
) -> None:  # fmt: skip
    """`ask -`: one answer per input line, in order (a blank or bad line gets an error row,
    so a script can pair input and output lines); `refused` is what a bad question raises."""
    for line in lines:
        question = line.rstrip("\r\n")
        try:
            row = ask(question)
        except refused as exc:
            row = error_row(question.strip(), _message(exc))
            if getattr(exc, "code", None) == DAMAGED:  # a stable code a script can test (local and --server alike)
                row["code"] = DAMAGED
        print_answer(row, as_json, batch=True)


def _message(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)
