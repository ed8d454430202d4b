"""Answer -> terminal text (rich markup), shared by `quoteqa ask`, the console, eval and bench."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.telegram.render import shorten
from retrieval import Answer, ArticleInfo, Quote
from retrieval.models import Aligned


class Terminal(Console):
    """rich's Console, but a closed pipe is left to `bot.cli.main` (rich itself exits with 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def terminal() -> Console:
    return Terminal(highlight=False, soft_wrap=True)


LANG_NAMES = {"ko": "Korean", "en": "English", "mixed": "Korean/English"}


def highlighted(quote: Quote) -> str:
    """Quote text as rich markup with matched question words in bold; all corpus text escaped."""
    out, pos = [], 0
    for start, end in sorted(quote.highlights):
        if start < pos:
            continue
        out.append(escape(quote.text[pos:start]))
        out.append(f"[bold yellow]{escape(quote.text[start:end])}[/]")
        pos = end
    out.append(escape(quote.text[pos:]))
    return "".join(out)


def source_line(quote: Quote) -> str:
    s = quote.source
    parts = [s.title, f"paragraph {s.paragraph}", LANG_NAMES.get(s.language, s.language)]
    if s.source:
        parts.append(s.source)
    return " · ".join(parts)


def aligned_line(item: Aligned) -> str:
    """One original sentence (run) of a quote, as rich markup: “text” — title · paragraph · language."""
    s = item.source
    where = " · ".join([s.title or s.article, f"paragraph {s.paragraph}", LANG_NAMES.get(s.language, s.language)])
    return f"   [magenta]original:[/] “{escape(item.text)}” [cyan]— {escape(where)}[/]"


def print_originals(console: Console, answer: Answer | None) -> None:
    """`:original`: each quote's matching sentence(s) in its article's translation twin."""
    quotes = [(i, q) for i, q in enumerate(answer.quotes, start=1) if q.aligned] if answer is not None else []
    if not quotes:
        console.print("[dim]no original: the last answer's quotes have no translation twin in the corpus[/]")
        return
    for i, quote in quotes:
        for n, item in enumerate(quote.aligned):
            console.print(f"[bold]{i}.[/]{aligned_line(item)[2:]}" if n == 0 else aligned_line(item))


def print_answer(console: Console, answer: Answer, originals: bool = False) -> None:
    """`originals`: each quote's original (from a translation twin) on a line below it."""
    if answer.context:
        console.print(f"[dim]following up on: {escape(shorten(answer.context, 80))}[/]")
    if not answer.answered:
        console.print(f"[yellow]{escape(answer.message)}[/]")
        return
    if answer.message:  # the unsure caveat (and the other-language note) come before the quotes
        console.print(f"[{'yellow' if answer.verdict == 'unsure' else 'dim'}]{escape(answer.message)}[/]")
    for i, quote in enumerate(answer.quotes, start=1):
        console.print(f"[bold]{i}.[/] “{highlighted(quote)}”")
        console.print(f"   [cyan]— {escape(source_line(quote))}[/]")
        if originals:
            for item in quote.aligned:
                console.print(aligned_line(item))


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
