"""The passage vectors column: one row of int8 codes per passage (`dim` bytes: 512 B for USE-m3).

An optional column: present only in segments written while an encoder is configured (`bound`); the
segment's metadata names the encoder (`name/version`) and holds a CRC-32 of the codes, and the
commit is stamped with the same name: vectors made by another encoder, or by none, are never
compared with a question's. Codes are the vector's direction scaled so its largest component is
±127 (`retrieval/index/vectors.py::quantise`); norms are recomputed from the codes on first use.
The rows are taken by passage like every other column, so merges and tombstones need nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.index import vectors
from retrieval.text.encoder import Encoder, stamp_of

NAME = "vectors"


@dataclass(frozen=True, slots=True, eq=False)
class PassageVectors:
    encoder: Encoder | None = None  # None: the column as listed, before a write binds its encoder
    name: str = NAME
    dtype: type = np.int8
    required: bool = False
    shown: bool = False  # read by `Searcher.vectors`/`dense` (with pread), never with a passage

    def bound(self, encoder: Encoder | None) -> PassageVectors | None:
        return PassageVectors(encoder) if encoder is not None else None

    @property
    def stamp(self) -> str:
        assert self.encoder is not None
        return stamp_of(self.encoder)

    def compute(self, texts: Sequence[str]) -> np.ndarray:
        assert self.encoder is not None
        if not len(texts):
            return np.zeros((0, self.encoder.dim), np.int8)
        return vectors.quantise(self.encoder.encode(list(texts)))

    def value(self, row: Any) -> Any:
        return np.asarray(row)
