"""What each `quoteqa` subcommand does, given its parsed arguments and the settings.

Heavy modules (the engine, Kiwi, the bot, the server) are imported inside the command that
needs them, so one command never pays for another's start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings
    from retrieval import Engine

EXIT_OK, EXIT_NO_ANSWER, EXIT_ERROR = 0, 1, 2


def open_engine(settings: Settings, **kwargs: Any) -> Engine:
    from bot.wiring import open_engine

    return open_engine(settings, **kwargs)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.output.plain import ask_each, print_answer
    from retrieval import QuestionError
    from retrieval.errors import DamagedIndexError

    max_quotes = args.max_quotes or settings.max_quotes
    if args.question != "-":
        from retrieval.answer.question import clean_question

        clean_question(args.question, settings.max_question_chars)  # fail fast, before Kiwi loads
    engine = open_engine(settings, progress=not args.json)
    if args.question == "-":  # one answer per input line, so a script can pair them
        refused = (QuestionError, DamagedIndexError)  # a damaged read fails its question, not the batch
        ask_each(sys.stdin, lambda q: engine.ask(q, max_quotes=max_quotes).to_json(), refused, args.json)
        return EXIT_OK
    answer = engine.ask(args.question, max_quotes=max_quotes)
    print_answer(answer.to_json(), args.json, highlights=[q.highlights for q in answer.quotes])
    return EXIT_OK if answer.answered else EXIT_NO_ANSWER


def ask_server(args: argparse.Namespace, settings: Settings) -> int:
    """`ask` through the server named in the settings (.env); see `bot.serve.client`."""
    from bot.serve.client import Client, ServerError, check_url, run

    try:
        client = Client(check_url(settings.server), settings.server_timeout_seconds)
    except ServerError as exc:
        print(f"quoteqa: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return run(client, args.question, args.json, args.max_quotes, sys.stdin if args.question == "-" else ())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.serve.run import serve

    return serve(
        settings, host=args.host or settings.api_host, port=args.port or settings.api_port, verbose=args.verbose
    )


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.console import run_console

    return run_console(open_engine(settings), settings.data_dir / "console_history", settings.max_quotes)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from news.fetch import check_url, is_url
    from news.ingest import ACCEPTED_TYPES, ingest_sources

    for source in args.paths:
        if is_url(source):
            check_url(source)  # an ftp:// link fails here, before Kiwi loads
    address = args.cluster or settings.dask_scheduler
    if address and not has_dask():
        return EXIT_ERROR
    engine = open_engine(settings, sync=not address)
    with _on_cluster(engine, address):
        result = ingest_sources(engine, args.paths, settings.fetch_policy(), progress=_progress())
    for line in result.lines():
        print(line)
    for path in result.ignored:
        print(f"skipped {path}: not a format quoteqa reads ({ACCEPTED_TYPES})", file=sys.stderr)
    skipped = result.files.skipped if result.files else engine.last_sync.skipped
    if skipped:
        print(
            f"{len(skipped)} file(s) already in the corpus folder were skipped; see the warnings above", file=sys.stderr
        )
    for where, why in result.failed:
        print(f"failed {where}: {why.removeprefix(where + ': ')}", file=sys.stderr)
    counts = Counter(o.status for o in result.pages)
    files = result.files
    added = counts["added"] + (len(files.added) if files else 0)
    updated = counts["updated"] + counts["corrected"] + (len(files.updated) if files else 0)
    unchanged = counts["unchanged"] + (len(files.unchanged) if files else 0)
    extra = f", {updated} updated" if updated else ""
    extra += f", {counts['duplicate']} duplicate" if counts["duplicate"] else ""
    failed = len(result.failed) + counts["conflict"]
    extra += f", {failed} failed" if failed else ""
    print(f"{added} added, {unchanged} unchanged{extra}; corpus has {engine.store.snapshot().n_articles} article(s)")
    return EXIT_OK if result.ok else EXIT_NO_ANSWER


def has_dask() -> bool:
    """--cluster without the optional extra: say how to install it (nothing else changes)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        print(
            "quoteqa: --cluster needs the optional Dask extra: `uv sync --extra cluster` "
            "(or `pip install 'quoteqa[cluster]'`); without --cluster quoteqa builds on this machine",
            file=sys.stderr,
        )
        return False
    return True


@contextlib.contextmanager
def _on_cluster(engine: Engine, address: str | None) -> Iterator[None]:
    """The engine's writes analysed on the Dask cluster at `address` (none: here, as always)."""
    if not address:
        yield
        return
    from bot.cluster import DaskAnalyser
    from retrieval.text.encoder import stamp_of

    enc = engine.store.encoder  # type: ignore[attr-defined]
    analyser = DaskAnalyser.connect(address, stamp_of(enc) if enc is not None else None)
    engine.corpus.analyser = analyser
    try:
        yield
    finally:
        engine.corpus.analyser = None
        analyser.close()


def _progress() -> Callable[[str, int], Callable[[int], None]] | None:
    from bot.cli.progress import progress_bar

    return (lambda label, total: progress_bar(label, total, unit="page")) if sys.stderr.isatty() else None


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    article = open_engine(settings, progress=False).article(args.article_id)
    row = {
        "id": article.id, "title": article.title, "url": article.url, "date": article.date, "author": article.author,
        "source": article.source, "updated": article.updated, "file": article.file, "paragraphs": list(article.paragraphs),
    }  # fmt: skip
    if args.json:
        print(json.dumps(row, ensure_ascii=False))
        return EXIT_OK
    print(article.title)
    for key in ("url", "date", "author", "source", "updated", "file"):
        if row[key]:
            print(f"{key}: {row[key]}")
    for n, paragraph in enumerate(article.paragraphs, start=1):
        print(f"\n[{n}] {paragraph}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings, progress=False)
    engine.remove(args.article_id)
    print(f"removed {args.article_id}; corpus has {engine.store.snapshot().n_articles} article(s)")
    return EXIT_OK


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from news.feeds import FeedBook, poll

    book = FeedBook(settings.data_dir)
    if args.action in ("add", "remove") and not args.url:
        print(f"quoteqa: feeds {args.action} needs the feed's URL", file=sys.stderr)
        return EXIT_ERROR
    if args.action == "add":
        feed, new = book.add(args.url, settings.fetch_policy())
        title = f" ({feed.title})" if feed.title else ""
        if new:
            print(f"subscribed to {feed.url}{title}; `quoteqa feeds poll` fetches its items")
        else:
            print(f"already subscribed to {feed.url}{title}; nothing changed (`quoteqa feeds list` shows the feeds)")
    elif args.action == "remove":
        if not book.remove(args.url):
            print(f"quoteqa: not subscribed to {args.url}; `quoteqa feeds list` shows the feeds", file=sys.stderr)
            return EXIT_ERROR
        print(f"unsubscribed from {args.url} (its articles stay; `quoteqa remove ID` takes one out)")
    elif args.action == "list":
        if not book.feeds():
            print("no feeds yet; `quoteqa feeds add URL` subscribes to one (an RSS or Atom address)")
        for feed in book.feeds():
            state = (
                f"failing ({feed.failures}×): {feed.last_error}" if feed.failures else f"{len(feed.seen)} item(s) seen"
            )
            print(f"{feed.url}\t{feed.title}\t{state}")
    else:
        engine = open_engine(settings)
        report = poll(
            engine, book, settings.fetch_policy(), settings.feed_interval_minutes * 60, force=True, progress=_progress()
        )
        for line in report.lines():
            print(line, file=sys.stderr if line.startswith("failed") else sys.stdout)
        added = sum(o.status in ("added", "updated") for o in report.pages)
        print(
            f"polled {len(report.polled)} feed(s), {len(report.not_modified)} unchanged; {added} article(s) added or updated"
        )
        return EXIT_OK if not report.failed else EXIT_NO_ANSWER
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings)
    sources = engine.sources()
    if args.json:
        newest_first = sorted(sources, key=lambda s: s.date, reverse=True)  # ISO dates sort as text; undated last
        print(json.dumps([dataclasses.asdict(s) for s in newest_first], ensure_ascii=False))
    else:
        from bot.terminal.render import print_sources, terminal

        print_sources(terminal(), sources)
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    address = args.cluster or settings.dask_scheduler
    if address and not has_dask():
        return EXIT_ERROR
    engine = open_engine(settings, sync=False)
    with _on_cluster(engine, address):
        report = engine.rebuild()
    print(f"indexed {report.articles} article(s), {engine.store.snapshot().n_passages} passage(s)")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.verify import cmd_verify as verify

    return verify(args, settings)


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram.feedback import squad_export
    from bot.telegram.state import FILE_NAME, StateStore

    path = settings.data_dir / FILE_NAME
    if not path.exists():
        print(
            f"quoteqa: no bot state at {path}; feedback is collected by `quoteqa telegram` (check QUOTEQA_DATA_DIR or --data-dir)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    export = squad_export(
        StateStore(path, history_minutes=settings.history_minutes, button_days=settings.button_days).feedback()
    )
    text = json.dumps(export.squad, ensure_ascii=False, indent=1)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    print(
        f"{export.questions} helpful answer(s) from {len(export.articles)} article(s) exported; "
        f"left out: {export.unhelpful} 👎, {export.unplaced} whose paragraph is gone",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_telegram(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram import app as telegram_app

    return telegram_app.run(args, settings)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli import eval as eval_cli

    return eval_cli.run(args, settings)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli import bench as bench_cli

    return bench_cli.run(args, settings)


COMMANDS = {
    "ask": cmd_ask,
    "console": cmd_console,
    "ingest": cmd_ingest,
    "sources": cmd_sources,
    "show": cmd_show,
    "remove": cmd_remove,
    "feeds": cmd_feeds,
    "reindex": cmd_reindex,
    "verify": cmd_verify,
    "feedback": cmd_feedback,
    "telegram": cmd_telegram,
    "serve": cmd_serve,
    "eval": cmd_eval,
    "bench": cmd_bench,
}
