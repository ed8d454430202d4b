"""Arrays back to back in one file, each at a 64-byte boundary, named in a table of offsets.

The layout that a segment's `NAME.seg` (`format.py`) and its anchors' `NAME.anc`
(`columns/anchors.py`) share: written once, then memory-mapped, so a serving process keeps
resident only the pages its questions touch rather than a copy of every array.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from retrieval.errors import IndexFormatError

ALIGN = 64

Table = dict[str, dict[str, Any]]


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def lay_out(arrays: Mapping[str, np.ndarray], start: int) -> tuple[Table, list[bytes | memoryview], int]:
    """The table, the byte chunks (each array, then zeros to the next boundary) and the end
    offset of `arrays` written from `start` (itself a boundary)."""
    packer = Packer(start)
    chunks = list(packer.chunks(arrays.items()))
    return packer.table, chunks, packer.offset


class Packer:
    """Lays arrays out one at a time as they come (`chunks`), filling in the table: a writer
    that computes each array only when the file reaches it holds one array, not all of them."""

    def __init__(self, start: int) -> None:
        self.table: Table = {}
        self.offset = start  # the end of what `chunks` has laid out so far

    def chunks(self, arrays: Iterable[tuple[str, np.ndarray]]) -> Iterator[bytes | memoryview]:
        """Each array's bytes, then zeros to the next boundary. The padding always follows,
        so a consumer lets go of an array's bytes before the next array is asked for."""
        for key, arr in arrays:
            arr = np.ascontiguousarray(arr)
            raw = memoryview(arr).cast("B") if arr.size else memoryview(b"")
            t: dict[str, Any] = {"offset": self.offset, "dtype": arr.dtype.str, "length": int(arr.shape[0])}
            if arr.ndim == 2:  # fixed-width rows (the passage vectors)
                t["width"] = int(arr.shape[1])
            self.table[key] = t
            end = align(self.offset + raw.nbytes)
            pad = end - self.offset - raw.nbytes
            del arr
            yield raw
            del raw
            yield bytes(pad)
            self.offset = end


def views(raw: np.ndarray, table: Table, what: str) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, int]]]:
    """Each array of `table` as a view into `raw` (the mapped file), and its byte span;
    IndexFormatError naming `what` when one runs past the end."""
    arrays: dict[str, np.ndarray] = {}
    spans: dict[str, tuple[int, int]] = {}
    for key, t in table.items():
        dtype = np.dtype(t["dtype"])
        width = int(t.get("width", 1))
        end = t["offset"] + t["length"] * width * dtype.itemsize
        if end > len(raw):
            raise IndexFormatError(f"{what}: array {key} runs past the end of the file")
        arrays[key] = raw[t["offset"] : end].view(dtype)
        spans[key] = (int(t["offset"]), int(end))
        if "width" in t:
            arrays[key] = arrays[key].reshape(t["length"], width)
    return arrays, spans
