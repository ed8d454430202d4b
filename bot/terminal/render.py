"""The coloured terminal form (rich): answers from `bot.output.lines`, the same lines `quoteqa
ask` prints as plain text; the corpus listing; the console object eval and bench print with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.output.lines import Line, Style, answer_lines, originals_lines

if TYPE_CHECKING:  # `ask --server` on a terminal prints through here: it must not load the core
    from retrieval import Answer, ArticleInfo


class Terminal(Console):
    """rich's Console, but a closed pipe is left to `bot.cli.main` (rich itself exits with 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def terminal(file: TextIO | None = None) -> Console:
    return Terminal(highlight=False, soft_wrap=True, emoji=False, file=file)


# The colour of each piece of an answer (bot.output.lines names what a piece is).
COLOURS: dict[Style, str] = {
    "dim": "dim", "warn": "yellow", "number": "bold", "hit": "bold yellow", "source": "cyan", "label": "magenta",
}  # fmt: skip


def markup(line: Line) -> str:
    """One line as rich markup: every piece escaped, so corpus text is never read as markup."""
    return "".join(f"[{COLOURS[style]}]{escape(text)}[/]" if style else escape(text) for style, text in line)


def print_lines(console: Console, lines: Sequence[Line]) -> None:
    for line in lines:
        console.print(markup(line))


def print_answer(console: Console, answer: Answer, originals: bool = False) -> None:
    """The answer as `quoteqa ask` prints it, coloured; `originals`: each quote's original (from
    a translation twin) on a line below it."""
    lines = answer_lines(answer.to_json(), [q.highlights for q in answer.quotes], originals)
    print_lines(console, lines)


def print_originals(console: Console, answer: Answer | None) -> None:
    """`:original`: each quote's matching sentence(s) in its article's translation twin."""
    print_lines(console, originals_lines(answer.to_json() if answer is not None else None))


def print_sources(console: Console, sources: list[ArticleInfo]) -> None:
    """A table when it fits the terminal, else one block per article. The id is what `show`
    and `remove` take: it is never cut (titles and sources wrap instead)."""
    title = f"{len(sources)} article(s) in the corpus"
    longest = max((len(a.id) for a in sources), default=2)
    if console.width >= longest + SOURCES_TABLE_MIN_REST:
        table = Table(title=title)
        table.add_column("id", no_wrap=True, min_width=longest)
        table.add_column("title", overflow="fold", ratio=3)
        table.add_column("source", overflow="fold", ratio=1)
        table.add_column("passages", no_wrap=True, justify="right")
        table.add_column("languages", no_wrap=True)
        for a in sources:
            table.add_row(escape(a.id), escape(a.title), escape(a.source), str(a.passages), ", ".join(a.languages))
        console.print(table)
        return
    console.print(title)
    for a in sources:
        console.print(f"[bold]{escape(a.id)}[/]", overflow="ignore", crop=False)
        details = [a.title, a.source, f"{a.passages} passage(s)", ", ".join(a.languages)]
        console.print("   " + escape(" · ".join(d for d in details if d)))


# Columns the table needs besides the id: title and source that can still be read, the two
# counts, and the borders.
SOURCES_TABLE_MIN_REST = 24 + 12 + 10 + 11 + 16
