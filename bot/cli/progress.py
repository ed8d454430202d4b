"""The one progress-bar adapter of the front ends: the core and the measuring tools report
progress through plain `update(n)` callbacks, and only here do those become tqdm bars."""

from __future__ import annotations

import sys
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
