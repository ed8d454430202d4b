"""One real USE-m3 encoder per test session (loading it costs a second or two)."""

from __future__ import annotations

import functools
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from retrieval.text.encoder import UseM3

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "quoteqa-test-encoder"


@functools.cache
def shared_encoder() -> UseM3:
    return UseM3(CACHE, threads=1)


def answer_module(relative: str) -> ModuleType:
    """A module under retrieval/answer/ by its file (until retrieval/answer.py becomes a package)."""
    name = "quoteqa_test_" + relative.replace("/", "_").removesuffix(".py")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / relative)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = mod
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return sys.modules[name]
