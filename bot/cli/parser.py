"""The `quoteqa` command line: every subcommand and option, apart from what they do
(`bot.cli.commands`). Imports nothing but argparse, so `--help` and `ask --server` stay light."""

from __future__ import annotations

import argparse
from pathlib import Path

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
        "ingest",
        help="add web pages (URLs, .html, .htm) and .txt/.md/.markdown/.jsonl articles to the corpus and index them",
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

    verify = sub.add_parser(
        "verify", help="check every index file and the bot state against their checksums (exit 1 when damaged)"
    )
    verify.add_argument(
        "--repair", action="store_true", help="rebuild only what is damaged, from the corpus folder (docs/damage.md)"
    )
    verify.add_argument("--json", action="store_true", help="one JSON object: problems, each with its file")

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
        help="our news questions (measure/news_questions.jsonl) in both languages against split-language pools of DIR (default ../shared/data/ko-en-news-dev), and twin-sentence R@1; with --splits (and the encoder) their answers join the confidence fit, labelled by the shown sentence (docs/quality.md, calibration on news)",
    )  # fmt: skip
    ev.add_argument(
        "--from-rows", type=Path, metavar="FILE",
        help="with --splits: fit and report on the rows a run with --rows FILE wrote, without asking the questions again",
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
