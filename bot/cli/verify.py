"""`quoteqa verify [--repair] [--json]`: check every index file and the bot state; mend what
is damaged. The checks and the repair are the core's (`retrieval/corpus/verify.py`); the bot
state (SQLite) is checked here, the one part of the data folder the core does not own."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

EXIT_OK, EXIT_DAMAGED = 0, 1


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram.state import FILE_NAME, integrity_problems
    from retrieval.corpus.verify import Report, repair, verify
    from retrieval.index.segments.verify import Problem

    started = time.perf_counter()
    index_dir = settings.data_dir / "index"
    if args.repair:
        from bot.wiring import open_engine

        engine = open_engine(settings, progress=False, sync=False)  # no self-healing sync before the check
        report: Report = repair(engine.store, engine.corpus, engine.analyzer, engine._encoder)
    else:
        report = verify(index_dir, settings.data_dir)
    state_path = settings.data_dir / FILE_NAME
    state = [Problem(str(state_path), f"bot state: {p}", "state") for p in integrity_problems(state_path)]
    repaired = list(report.repaired)
    remaining = list(report.remaining if report.repaired else report.problems)
    if state and args.repair:  # not rebuildable: set aside so the bot starts afresh (its history and buttons go)
        aside = state_path.with_name(f"{state_path.name}.damaged-{int(time.time())}")
        state_path.rename(aside)
        for suffix in ("-wal", "-shm"):
            state_path.with_name(state_path.name + suffix).unlink(missing_ok=True)
        repaired.append(f"moved the damaged bot state to {aside} (conversations and buttons start afresh)")
    elif state:
        remaining += state
    problems = list(report.problems) + state
    if args.json:
        out = report.to_json() | {
            "problems": [p.to_json() for p in problems], "repaired": repaired,
            "remaining": [p.to_json() for p in remaining], "ok": not remaining,
            "seconds": round(time.perf_counter() - started, 2),
        }  # fmt: skip
        print(json.dumps(out, ensure_ascii=False))
    else:
        for p in problems:
            print(f"damaged: {p.file}: {p.what}")
        for line in repaired:
            print(f"repaired: {line}")
        for p in remaining if repaired else ():
            print(f"still damaged: {p.file}: {p.what}")
        verdict = (
            "sound" if not remaining else ("still damaged" if repaired else "damaged: run `quoteqa verify --repair`")
        )
        print(
            f"{report.segments} segment(s), {report.files + (1 if state_path.exists() else 0)} file(s) checked: {verdict}"
        )
    return EXIT_OK if not remaining else EXIT_DAMAGED
