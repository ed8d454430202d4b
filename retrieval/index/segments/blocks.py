"""Checksums a read can afford: a segment's arrays file in 64 KiB blocks, each with a CRC-32.

Why. A bad disk block or a torn copy used to be noticed by nothing until a passage's bytes
failed to decode (a traceback in the middle of a batch) or, worse, decoded into other text.
Checking the whole file at every open costs a read of every byte (a cold start growing with
the corpus); PostgreSQL's answer is a checksum per page, checked when the page is read. Here a
block is checked the first time this process reads any byte of it and remembered (a segment
never changes), so a question pays for the few blocks it touches once, and a damaged block
is never decoded: the read raises `DamagedIndexError` naming the file.

CRC-32C (Castagnoli, as ext4, iSCSI and tantivy's footers use) through `google-crc32c`, which
runs the CPU's CRC instruction: 32 µs per 64 KiB block on this shared machine against 260-300 µs
for the standard library's `zlib.crc32` (measured under load; the ratio is what counts). A
question's first reads touch ~70 blocks, so zlib would have cost it ~20 ms the first time.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path

import google_crc32c
import numpy as np

from retrieval.errors import DamagedIndexError

BLOCK = 64 << 10  # bytes a checksum covers
ALGORITHM = "crc32c"  # named in a segment's table: another one there means an older quoteqa wrote it
READ_RUN = 64  # blocks read with one pread when checking a run of them (4 MiB)


class BlockSums:
    """Running CRC-32 of each BLOCK of a file being written piece by piece."""

    def __init__(self) -> None:
        self.sums: list[int] = []
        self._crc = 0
        self._filled = 0

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            take = min(BLOCK - self._filled, len(view))
            self._crc = google_crc32c.extend(self._crc, bytes(view[:take]))  # it takes bytes only
            self._filled += take
            view = view[take:]
            if self._filled == BLOCK:
                self.sums.append(self._crc)
                self._crc, self._filled = 0, 0

    def finish(self) -> list[int]:
        if self._filled:
            self.sums.append(self._crc)
            self._crc, self._filled = 0, 0
        return self.sums


class Blocks:
    """The blocks of one open arrays file: which were checked in this process, and `check`."""

    def __init__(self, path: Path, segment: str, sums: list[int], size: int) -> None:
        self.path = path
        self.segment = segment
        self.sums = sums
        self.size = size
        self._ok = bytearray(len(sums))
        self._lock = threading.Lock()
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)
        if len(sums) != (size + BLOCK - 1) // BLOCK:
            raise DamagedIndexError(str(path), f"{len(sums)} block checksums for {size} bytes", segment)

    def check(self, lo: int, hi: int) -> None:
        """Bytes [lo, hi) are sound (their blocks checked now or earlier), else DamagedIndexError."""
        if hi <= lo:
            return
        b0, b1 = lo // BLOCK, (hi - 1) // BLOCK + 1
        ok = self._ok
        if ok.find(0, b0, b1) < 0:
            return
        with self._lock:
            b = b0
            while b < b1:
                if ok[b]:
                    b += 1
                    continue
                end = b + 1  # a run of unchecked blocks, read at once
                while end < b1 and end - b < READ_RUN and not ok[end]:
                    end += 1
                stop = min(end * BLOCK, self.size)  # a file may go on past `size` (an anchors file's footer)
                data = os.pread(self.fd, stop - b * BLOCK, b * BLOCK)
                for i in range(b, end):
                    piece = data[(i - b) * BLOCK : (i - b + 1) * BLOCK]
                    if google_crc32c.value(piece) != self.sums[i]:
                        raise DamagedIndexError(
                            str(self.path), f"block {i} (bytes {i * BLOCK}–{i * BLOCK + len(piece)}) fails its checksum",
                            self.segment,
                        )  # fmt: skip
                    ok[i] = 1
                b = end

    def check_all(self) -> None:
        self.check(0, self.size)

    @property
    def checked(self) -> int:
        """Blocks checked so far in this process."""
        return sum(self._ok)


class CheckedArrays(Mapping[str, np.ndarray]):
    """A segment's memory-mapped arrays, each checked whole the first time it is taken (`a[k]`).
    Arrays read in pieces (texts, sentences, tokens, postings, vectors) are read through
    `Blocks.check` on the range instead (`segment.py`); taking one whole checks all of it."""

    def __init__(self, arrays: dict[str, np.ndarray], spans: dict[str, tuple[int, int]], blocks: Blocks) -> None:
        self._raw = arrays
        self._spans = spans
        self.blocks = blocks
        self._whole: set[str] = set()

    def __getitem__(self, key: str) -> np.ndarray:
        arr = self._raw[key]
        if key not in self._whole:
            self.blocks.check(*self._spans[key])
            self._whole.add(key)
        return arr

    def unchecked(self, key: str) -> np.ndarray:
        """The array's map, not checked: for its shape, or a range the caller checks itself."""
        return self._raw[key]

    def span(self, key: str) -> tuple[int, int]:
        return self._spans[key]

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)
