"""One real USE-m3 encoder per test session (loading it costs a second or two)."""

from __future__ import annotations

import functools
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from retrieval.text.encoder import UseM3

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "quoteqa-test-encoder"


@functools.cache
def shared_encoder() -> UseM3:
    return UseM3(CACHE, threads=1)


class HashEncoder:
    """Texts to unit vectors from their hashed lower-cased words (crc32 into 512 signed slots).

    For plumbing tests only (vectors stored, read, merged, rebuilt): it is deterministic and
    instant, and texts that share words get close vectors, but it knows nothing across
    languages. It calls itself `use-m3`, the product's encoder, so an index built with it is one
    the product's config accepts; its version differs, so it never passes for the real one."""

    name = "use-m3"
    dim = 512
    version = "hash-0"

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                h = zlib.crc32(word.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if h & 0x8000_0000 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
