"""`quoteqa console`: an interactive session with line editing, history and coloured quotes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from rich.markup import escape

from bot.terminal.render import print_answer, print_originals, print_sources, terminal
from retrieval import Answer, Engine, QuoteQAError, Turn

HELP = """Ask a question in Korean or English{examples}
Follow-ups are read with your last questions ("And what did they say?", "그럼 …은?").
  :new  start a new conversation    :sources  list the articles
  :original  the last answer's quotes in their original (the article's translation, when the
             corpus holds one); :original on / off shows them under every answer
  :help  this text                  :quit  leave (Ctrl-D and Ctrl-C too)"""


def help_text(engine: Engine) -> str:
    """The help, with example questions about the newest articles in the corpus."""
    examples = [escape(q) for lang in ("en", "ko") for q in engine.suggestions(lang, 1)]  # type: ignore[arg-type]
    return HELP.format(examples=", e.g. " + " or ".join(f"[bold]{q}[/]" for q in examples) if examples else "")


def _lines(history: Path) -> Iterator[str]:
    """Prompted lines with editing and history on a terminal; plain lines from a pipe."""
    if not sys.stdin.isatty():
        yield from (line.rstrip("\n") for line in sys.stdin)
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    while True:
        try:
            yield session.prompt("quoteqa> ")
        except (EOFError, KeyboardInterrupt):
            return


MAX_TURNS = 3  # as the bot: follow-ups look back a little, not at the whole session


def run_console(engine: Engine, history: Path, max_quotes: int = 3) -> int:
    """`history` is the prompt's line history file; the conversation's turns (what a
    follow-up is read with) live in memory and `:new` clears them."""
    console = terminal()
    turns: list[Turn] = []
    last: Answer | None = None
    originals = False  # `:original on`: each quote's original under it
    console.print(help_text(engine))
    for line in _lines(history):
        text = line.strip()
        if not text:
            continue
        if text in (":quit", ":q", ":exit"):
            break
        if text == ":help":
            console.print(help_text(engine))
        elif text == ":new":
            turns.clear()
            console.print("[dim]new conversation: the next question stands on its own[/]")
        elif text == ":sources":
            print_sources(console, engine.sources())
        elif text == ":original":
            print_originals(console, last)
        elif text in (":original on", ":original off"):
            originals = text.endswith("on")
            console.print(f"[dim]originals {'shown under each quote' if originals else 'on request (:original)'}[/]")
        elif text.startswith(":"):
            console.print(f"[red]unknown command {escape(text.split()[0])}[/]; try :help")
        else:
            try:
                answer = engine.ask(text, max_quotes=max_quotes, history=tuple(turns))
            except QuoteQAError as exc:
                console.print(f"[red]{escape(str(exc))}[/]")
                continue
            print_answer(console, answer, originals)
            last = answer
            turns[:] = [*turns, answer.turn()][-MAX_TURNS:]
    console.print("bye")
    return 0
