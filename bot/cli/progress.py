"""The one progress-bar adapter of the front ends: the core and the measuring tools report
progress through plain `update(n)` callbacks, and only here do those become tqdm bars."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def progress_bar(label: str, total: int, enabled: bool = True, unit: str = "it") -> Callable[[int], None]:
    """A tqdm bar on stderr as an `update(n)` callback: n > 0 advances it, a negative n closes it.

    The bar also closes itself once it reaches `total`, so callers that only count need not close
    it. Disabled (or with nothing to count) it is a no-op and tqdm is not imported.
    """
    if not enabled or total <= 0:
        return _nothing
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit=unit, leave=False, file=sys.stderr)

    def update(n: int) -> None:
        if n < 0:
            bar.close()
            return
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return update


def _nothing(n: int) -> None:
    pass


CATCH_UP_NOTES = {
    False: (
        "quoteqa: indexing {total:,} passage(s) that are in the corpus folder but not in the index yet "
        "(an interrupted ingest, or files added by hand); this runs once"
    ),
    True: "quoteqa: indexing the corpus ({total:,} passages) for the first time; later runs load the saved index",
}


def catch_up_report(first_build: bool = False) -> Callable[[str, int], Callable[[int], None]]:
    """Progress of the indexing an engine does as it opens, on stderr whatever stdout is: a
    line that says why, then a bar on a terminal, or a line every few seconds in a pipe or
    log (a command otherwise sits silent while it catches up)."""
    return lambda label, total: _catch_up(label, total, CATCH_UP_NOTES[first_build])


def _catch_up(label: str, total: int, note: str) -> Callable[[int], None]:
    if total <= 0:
        return _nothing
    print(note.format(total=total), file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        return progress_bar(label, total, unit="passage")
    started = last = time.monotonic()
    done = 0

    def update(n: int) -> None:
        nonlocal done, last
        if n < 0 or done >= total:
            return
        done = min(total, done + n)
        now = time.monotonic()
        if done >= total:
            print(f"quoteqa: indexed {total:,} passage(s) in {now - started:.1f} s", file=sys.stderr, flush=True)
        elif now - last >= PROGRESS_EVERY_SECONDS:
            last = now
            print(
                f"quoteqa: indexed {done:,} of {total:,} passage(s) ({100 * done // total}%)",
                file=sys.stderr,
                flush=True,
            )

    return update


PROGRESS_EVERY_SECONDS = 2.0
