"""Settings → a ready `Engine`: the one place the front ends (cli, console, Telegram) open the core.

Kept apart from `bot.cli` so `bot.telegram.app` can use it without importing the command line.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, TypeVar

from bot.settings import Settings

if TYPE_CHECKING:
    from retrieval import Engine, EngineConfig

T = TypeVar("T")


def engine_config(settings: Settings, serving: bool = False) -> EngineConfig:
    """The one translation of `Settings` into the core's `EngineConfig` (the bot, the command
    line and `quoteqa eval`/`bench` all go through it)."""
    from retrieval import EngineConfig, SearchParams
    from retrieval.index.segments.flush import FlushPolicy

    return EngineConfig(
        corpus_dir=settings.corpus_dir,
        data_dir=settings.data_dir,
        search=_given(SearchParams(), variant=settings.bm25_variant, k1=settings.bm25_k1, b=settings.bm25_b),
        workers=settings.workers,
        max_question_chars=settings.max_question_chars,
        lock_timeout=settings.write_lock_seconds,
        serving=serving,
        sure_confidence=settings.sure_confidence,
        min_confidence=settings.min_confidence,
        encoder=settings.encoder,
        encoder_cache=settings.encoder_cache_dir,
        flush=_given(FlushPolicy(), passages=settings.flush_passages, merge_cap=settings.merge_cap_passages),
    )


def _given(default: T, **values: object) -> T:
    """`default` with the values a setting gives (None: the core's own default, defined once there)."""
    return dataclasses.replace(default, **{k: v for k, v in values.items() if v is not None})  # type: ignore[type-var]


def open_engine(settings: Settings, progress: bool = True, serving: bool = False, sync: bool = True) -> Engine:
    """Open (building or refreshing the index if needed) with the configured BM25 and limits.

    Indexing that opening needs (files the index does not hold yet) is always reported on
    stderr; `progress` shows a bar for later writes (ingest), and only when stderr is a terminal. `serving` is for the bot:
    questions keep arriving while it ingests, so a big batch gets a Kiwi of its own. `retrieval` is imported
    here, not at module level, so `quoteqa --help` and settings errors stay fast.
    """
    from bot.cli.progress import catch_up_report, progress_bar
    from retrieval import Engine

    first_build = not (settings.data_dir / "index").exists()
    engine = Engine.open(
        engine_config(settings, serving),
        progress=catch_up_report(first_build),  # always said, on stderr: the command would otherwise sit silent
        sync=sync,
    )
    engine.corpus.progress = (
        (lambda label, total: progress_bar(label, total, unit="passage")) if progress and sys.stderr.isatty() else None
    )
    return engine
