"""The `quoteqa` command: one entry point, one subcommand per job.

`parser` says what the command line takes, `commands` what each subcommand does. Settings are
read here once and passed down as values. Errors from the core arrive typed and leave as one
line on stderr with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from bot.output.plain import error_json

from . import commands
from .commands import EXIT_ERROR, EXIT_OK
from .parser import build_parser

__all__ = ["build_parser", "main"]


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
        return commands.ask_server(args, settings)  # before `retrieval` is imported: the client path stays light

    from retrieval import QuoteQAError

    try:
        return commands.COMMANDS[args.command](args, settings)
    except QuoteQAError as exc:
        if getattr(args, "json", False):  # a script reading stdout gets JSON either way
            print(error_json(str(exc), type(exc).__name__))
        print(f"quoteqa: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
