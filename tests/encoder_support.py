"""One real USE-m3 encoder per test session (loading it costs a second or two)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from retrieval.text.encoder import UseM3

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "quoteqa-test-encoder"


@functools.cache
def shared_encoder() -> UseM3:
    return UseM3(CACHE, threads=1)
