"""The `quoteqa` command: one entry point, one subcommand per job.

Settings are read here once and passed down as values. Errors from the core arrive typed and
leave as one line on stderr with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic and the settings load in `_main`: `ask --server URL` needs neither
    from bot.settings import Settings
    from retrieval import Engine

EXIT_OK, EXIT_NO_ANSWER, EXIT_ERROR = 0, 1, 2


CLUSTER_HELP = "analyse and encode on this Dask scheduler's workers (tcp://HOST:8786; default QUOTEQA_DASK_SCHEDULER)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quoteqa",
        description="Answer questions about Korean and English news articles with quoted sentences.",
    )
    _global_options(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    ask = sub.add_parser("ask", help="answer one question (or one per line from stdin with '-')")
    ask.add_argument("question", help="the question, or '-' to read one question per line from stdin")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("-n", "--max-quotes", type=positive_int, help="how many quotes at most (default 3)")
    ask.add_argument(
        "--server",
        metavar="URL",
        help="ask a running `quoteqa serve` at URL instead of loading the index here (default: QUOTEQA_SERVER)",
    )

    serve = sub.add_parser(
        "serve", help="serve the JSON HTTP API (OpenAPI at /openapi.json) and the question page at /"
    )
    serve.add_argument("--host", help="address to listen on (default QUOTEQA_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=port_number, help="port (default QUOTEQA_API_PORT, 8080)")

    sub.add_parser("console", help="interactive question session")

    ingest = sub.add_parser(
        "ingest", help="add web pages (URLs, .html) and .txt/.md/.jsonl articles to the corpus and index them"
    )
    ingest.add_argument("paths", nargs="+", metavar="URL_OR_PATH")
    ingest.add_argument("--cluster", metavar="SCHEDULER", help=CLUSTER_HELP)

    sources = sub.add_parser("sources", help="list the articles in the corpus")
    sources.add_argument(
        "--json", action="store_true", help="id, title, url, date (and counts) of each article, newest first"
    )

    show = sub.add_parser("show", help="print one stored article")
    show.add_argument("article_id", metavar="ARTICLE_ID")
    show.add_argument("--json", action="store_true", help="id, title, url, date, author, source, paragraphs")

    remove = sub.add_parser("remove", help="remove an article from the corpus and the index")
    remove.add_argument("article_id", metavar="ARTICLE_ID")

    feeds = sub.add_parser("feeds", help="RSS / Atom subscriptions: add URL | list | remove URL | poll")
    feeds.add_argument("action", choices=["add", "list", "remove", "poll"])
    feeds.add_argument("url", nargs="?", help="the feed's URL (for add and remove)")

    reindex = sub.add_parser("reindex", help="rebuild the index from scratch")
    reindex.add_argument("--cluster", metavar="SCHEDULER", help=CLUSTER_HELP)

    fb = sub.add_parser("feedback", help="readers' 👍 / 👎 on the bot's answers: export them as evaluation data")
    fb.add_argument("action", choices=["export"])
    fb.add_argument("--format", choices=["squad"], default="squad", help="SQuAD 1.1 JSON (👍 answers; see the README)")
    fb.add_argument("-o", "--output", type=Path, help="write here instead of stdout")

    telegram = sub.add_parser("telegram", help="run the Telegram bot (long polling, or --webhook)")
    telegram.add_argument(
        "--webhook", action="store_true",
        help="serve a webhook (QUOTEQA_WEBHOOK_URL, _SECRET, _LISTEN, _PORT, _PATH) instead of long polling",
    )  # fmt: skip
    telegram.add_argument(
        "--drop-pending-updates", action="store_true", help="skip questions that arrived while the bot was down"
    )

    ev = sub.add_parser(
        "eval", help="measure retrieval and answer quality on SQuAD-format files",
        description="Answer quality per file; with --splits, the confidence model on half-indexed dev splits.",
    )  # fmt: skip
    ev.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILE",
        help="SQuAD-format files (with --splits: default the two shared dev files)",
    )
    ev.add_argument("--json", action="store_true", help="one JSON object per file (with --splits: one in all)")
    ev.add_argument("--limit", type=int, help="sample this many questions per file")
    ev.add_argument("--seed", type=int, default=13)
    ev.add_argument(
        "--splits",
        action="store_true",
        help="index half of each file's articles, ask every question plus off-topic ones, fit and report the confidence model",
    )
    ev.add_argument(
        "--fit", action="store_true", help="with --splits: write the fitted model to retrieval/answer/confidence.json"
    )
    ev.add_argument(
        "--model", type=Path, help="with --splits: report this model file (its thresholds too) instead of fitting one"
    )
    ev.add_argument("--l2", type=float, default=1.0, help="with --splits: L2 penalty of the fit (default 1)")
    ev.add_argument(
        "--offtopic-sample", type=int, default=300, help="with --splits: questions taken from the other language's file"
    )
    ev.add_argument(
        "--rows", type=Path, help="with --splits: also write every question's signals and label here (JSON lines)"
    )
    ev.add_argument(
        "--encoder", choices=("use-m3", "none"),
        help="sentence encoder for the measured index and questions (default: QUOTEQA_ENCODER); with --splits --fit and use-m3 the model is written to retrieval/answer/confidence_semantic.json",
    )  # fmt: skip
    ev.add_argument(
        "--belebele", type=Path, metavar="DIR",
        help="Belebele dev folder (kor_Hang.jsonl, eng_Latn.jsonl): same-language, cross-language, mixed, split and half-indexed pools, with and without the encoder; with --splits its half-indexed questions join the confidence fit",
    )  # fmt: skip
    ev.add_argument(
        "--news", type=Path, nargs="?", const=Path("-"), metavar="DIR",
        help="our news questions (measure/news_questions.jsonl) in both languages against split-language pools of DIR (default ../shared/data/ko-en-news-dev), and twin-sentence R@1",
    )  # fmt: skip
    ev.add_argument("--out", type=Path, help="with --news: write every answered row here (JSON lines)")
    ev.add_argument(
        "--half", choices=("fit", "report", "both"), default="both", help="with --news: ask only this half's questions"
    )
    ev.add_argument(
        "--conversations", type=Path, nargs="?", const=Path("-"), metavar="FILE",
        help="follow-up questions with and without history: FILE (default measure/conversations.jsonl) on the shipped corpus, plus follow-ups generated from each SQuAD FILE (default the two shared dev files)",
    )  # fmt: skip

    bench = sub.add_parser("bench", help="measure index build, load, query and answer speed")
    bench.add_argument("--source", type=Path, action="append", help="SQuAD JSON or JSONL corpus to draw text from")
    bench.add_argument("--passages", type=int, default=100_000)
    bench.add_argument("--questions", type=int, default=1000)
    bench.add_argument(
        "--baseline-questions", type=int, help="questions timed with rank-bm25 (default: all, capped at large N)"
    )
    bench.add_argument("--seed", type=int, default=13)
    bench.add_argument(
        "--live-passages", type=int, default=10_000, help="passages ingested while answer latency is measured"
    )
    bench.add_argument("--json", action="store_true")
    bench.add_argument(
        "--semantic",
        action="store_true",
        help="measure the passage vectors instead: encode rate, build with vectors, dense search, answer and start-up cost",
    )
    bench.add_argument(
        "--build-only", action="store_true",
        help="only build the index, in a fresh child process: wall time, passages/s, peak RSS, segments",
    )  # fmt: skip
    bench.add_argument(
        "--flush",
        type=int,
        metavar="PASSAGES",
        help="with --build-only: commit a segment every PASSAGES (default 50000)",
    )
    bench.add_argument(
        "--cluster", action="store_true",
        help="build on a local Dask cluster of 1, then 2 workers: passages/s, scheduler overhead, bytes shipped (needs quoteqa[cluster])",
    )  # fmt: skip
    for command in sub.choices.values():
        # The same options after the subcommand (`quoteqa ingest x --data-dir d`); SUPPRESS
        # keeps a subcommand that was not given them from resetting what came before it.
        _global_options(command, argparse.SUPPRESS)
    return parser


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=default,
        help="corpus folder (default: QUOTEQA_CORPUS_DIR or ./corpus); created if missing",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=default, help="where the index lives (default: QUOTEQA_DATA_DIR)"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default if default is not None else False,
        help="log progress to stderr",
    )


def positive_int(text: str) -> int:
    """`-n 0` used to mean the default and `-n -2` "all but the last": refuse both (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def port_number(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {value}")
    return value


def env_name(loc: Sequence[object]) -> str:
    """The environment variable a setting error is about (what the user sets), not the field."""
    field = str(loc[0]) if loc else ""
    return "TELEGRAM_BOT_TOKEN" if field == "telegram_bot_token" else f"QUOTEQA_{field.upper()}"


def main(argv: Sequence[str] | None = None) -> int:
    """The command; a reader that closes the pipe early (`| head`) ends it quietly with 0."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here at the latest
        return code
    except BrokenPipeError:
        # Python would print a traceback, then "Exception ignored" when it flushes stdout at
        # exit: point stdout at /dev/null so that last flush has nowhere to fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def open_engine(settings: Settings, **kwargs: Any) -> Engine:
    from bot.wiring import open_engine

    return open_engine(settings, **kwargs)


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ask" and (args.server or os.environ.get("QUOTEQA_SERVER")):
        # A server named on the command line or in the environment: answer through it without
        # loading pydantic or the settings (a server named only in .env takes the longer path).
        from bot.serve.client import run_from_env

        return run_from_env(args.server or os.environ["QUOTEQA_SERVER"], args.question, args.json, args.max_quotes)

    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        print(
            f"quoteqa: setting {env_name(first['loc'])}: {first['msg']} (check the environment and .env)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if args.corpus_dir:
        settings.corpus_dir = args.corpus_dir
    try:  # a corpus folder that does not exist yet is an empty corpus (ingest fills it), not an error
        settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"quoteqa: cannot create the corpus folder {settings.corpus_dir} ({exc.strerror}); check QUOTEQA_CORPUS_DIR or --corpus-dir",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if args.data_dir:
        settings.data_dir = args.data_dir
    level = logging.INFO if args.verbose else getattr(logging, settings.log_level.upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    if args.command == "ask" and settings.server:
        return _ask_server(args, settings)  # before `retrieval` is imported: the client path stays light

    from retrieval import QuoteQAError

    try:
        return COMMANDS[args.command](args, settings)
    except QuoteQAError as exc:
        if getattr(args, "json", False):  # a script reading stdout gets JSON either way
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}, ensure_ascii=False))
        print(f"quoteqa: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval import QuestionError

    max_quotes = args.max_quotes or settings.max_quotes
    if args.question != "-":
        from retrieval.answer.question import clean_question

        clean_question(args.question, settings.max_question_chars)  # fail fast, before Kiwi loads
    engine = open_engine(settings, progress=not args.json)
    if args.question == "-":
        for line in sys.stdin:  # one output line per input line, so a script can pair them
            try:
                row = engine.ask(line.rstrip("\r\n"), max_quotes=max_quotes).to_json()
            except QuestionError as exc:
                row = {
                    "answered": False,
                    "question": line.strip(),
                    "quotes": [],
                    "error": str(exc),
                    "message": str(exc),
                }
            if args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                _print_plain(row)
        return EXIT_OK
    answer = engine.ask(args.question, max_quotes=max_quotes)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        from bot.terminal.render import print_answer, terminal

        print_answer(terminal(), answer)
    return EXIT_OK if answer.answered else EXIT_NO_ANSWER


def _ask_server(args: argparse.Namespace, settings: Settings) -> int:
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


def _print_plain(row: dict[str, object]) -> None:
    print(f"Q: {row['question']}")
    quotes = row.get("quotes") or []
    if not quotes or row.get("message"):
        print(f"   {row.get('message', '')}")
    for q in quotes:  # type: ignore[union-attr]
        print(f"   “{q['text']}” — {q['title']}, paragraph {q['paragraph']}")


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.console import run_console

    return run_console(open_engine(settings), settings.data_dir / "console_history", settings.max_quotes)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from news.fetch import check_url, is_url
    from news.ingest import ingest_sources

    for source in args.paths:
        if is_url(source):
            check_url(source)  # an ftp:// link fails here, before Kiwi loads
    address = args.cluster or settings.dask_scheduler
    if address and not _has_dask():
        return EXIT_ERROR
    engine = open_engine(settings, sync=not address)
    with _on_cluster(engine, address):
        result = ingest_sources(engine, args.paths, settings.fetch_policy(), progress=_progress())
    for line in result.lines():
        print(line)
    for path in result.ignored:
        print(
            f"skipped {path}: not a format quoteqa reads (.txt, .md, .markdown, .jsonl, .html, .htm)", file=sys.stderr
        )
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


def _has_dask() -> bool:
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
    if address and not _has_dask():
        return EXIT_ERROR
    engine = open_engine(settings, sync=False)
    with _on_cluster(engine, address):
        report = engine.rebuild()
    print(f"indexed {report.articles} article(s), {engine.store.snapshot().n_passages} passage(s)")
    return EXIT_OK


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
    "feedback": cmd_feedback,
    "telegram": cmd_telegram,
    "serve": cmd_serve,
    "eval": cmd_eval,
    "bench": cmd_bench,
}

if __name__ == "__main__":
    sys.exit(main())
