"""Settings → a ready `Engine`: the one place the front ends (cli, console, Telegram) open the core.

Kept apart from `bot.cli` so `bot.telegram_app` can use it without importing the command line.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .settings import Settings

if TYPE_CHECKING:
    from retrieval import Engine


def open_engine(settings: Settings, progress: bool = True, serving: bool = False, sync: bool = True) -> Engine:
    """Open (building or refreshing the index if needed) with the configured BM25 and limits.

    Indexing that opening needs (files the index does not hold yet) is always reported on
    stderr; `progress` shows a bar for later writes (ingest), and only when stderr is a terminal. `serving` is for the bot:
    questions keep arriving while it ingests, so a big batch gets a Kiwi of its own. `retrieval` is imported
    here, not at module level, so `quoteqa --help` and settings errors stay fast.
    """
    from retrieval import Engine, SearchParams

    from .progress import catch_up_report, progress_bar

    first_build = not (settings.data_dir / "index").exists()
    engine = Engine.open(
        settings.corpus_dir,
        settings.data_dir,
        params=SearchParams(settings.bm25_variant, settings.bm25_k1, settings.bm25_b),
        workers=settings.workers,
        max_question_chars=settings.max_question_chars,
        progress=catch_up_report(first_build),  # always said, on stderr: the command would otherwise sit silent
        lock_timeout=settings.write_lock_seconds,
        serving=serving,
        sync=sync,
        sure_confidence=settings.sure_confidence,
        min_confidence=settings.min_confidence,
    )
    engine.progress = (lambda label, total: progress_bar(label, total, unit="passage")) if progress and sys.stderr.isatty() else None
    return engine
