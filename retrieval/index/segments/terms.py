"""A segment's term dictionary, looked up in its stored strings instead of in Python objects.

Why. Each open segment used to keep its terms as a list of strings, a dict from term to id, and
two sorted copies for affix searches: ~300 bytes a term, per segment (the same word again in
every segment), ~45 MiB of a serving process at 552k passages, and built at the first question.
Here a term's id is found through a sorted array of the terms' hashes (one string decoded to
confirm), and affixes through two sorted orders of ids: 8-16 bytes a term. The strings stay
in the segment's `vocab` blob (memory-mapped) and are decoded one at a time as probes need them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from retrieval.index.segments.format import decode_strings

I32 = npt.NDArray[np.int32]
LOOKUPS_KEPT = 4096  # recent term -> id answers kept (a question asks the same few terms per passage)


class _Probe(Sequence[str]):
    """The terms in `order`, decoded on access (for `bisect` over a sorted order)."""

    def __init__(self, term: Callable[[int], str], order: I32, reverse: bool) -> None:
        self._term, self._order, self._reverse = term, order, reverse

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        t = self._term(int(self._order[i]))
        return t[::-1] if self._reverse else t


class TermTable:
    """Term <-> id over a segment's stored `vocab` strings (`blob`, `ptr` as `format.strings` wrote them)."""

    def __init__(self, blob: np.ndarray, ptr: np.ndarray) -> None:
        self._blob = blob
        self._ptr = np.asarray(ptr, np.int64)
        self.n = len(self._ptr) - 1
        hashes = np.fromiter((hash(t) for t in self._decode_all()), np.int64, self.n)
        self._by_hash = np.argsort(hashes, kind="stable").astype(np.int32)
        self._hashes = hashes[self._by_hash]
        self._orders: tuple[I32, I32] | None = None
        self.id = lru_cache(maxsize=LOOKUPS_KEPT)(self._id)

    def _decode_all(self) -> list[str]:
        return decode_strings(self._blob, self._ptr)

    def term(self, i: int) -> str:
        lo, hi = int(self._ptr[i]), int(self._ptr[i + 1])
        return self._blob[lo:hi].tobytes().decode("utf-8")

    def terms(self) -> list[str]:
        """Every term by id (decoded now, not kept: for whole-vocabulary passes)."""
        return self._decode_all()

    def _id(self, term: str) -> int:
        """The term's id, or -1."""
        h = hash(term)
        i = int(np.searchsorted(self._hashes, h))
        while i < self.n and int(self._hashes[i]) == h:
            found = int(self._by_hash[i])
            if self.term(found) == term:
                return found
            i += 1
        return -1

    def affixes(self, fragment: str) -> list[str]:
        """Terms longer than `fragment` that begin or end with it: binary searches over the
        terms sorted forwards and backwards (the two orders made on first use)."""
        if self._orders is None:
            terms = self._decode_all()
            forward = np.array(sorted(range(self.n), key=terms.__getitem__), np.int32)
            backward = np.array(sorted(range(self.n), key=lambda i: terms[i][::-1]), np.int32)
            self._orders = (forward, backward)
        out = []
        for order, key, flip in ((self._orders[0], fragment, False), (self._orders[1], fragment[::-1], True)):
            words = _Probe(self.term, order, flip)
            i = bisect.bisect_right(words, key)
            while i < len(words) and (w := words[i]).startswith(key):
                out.append(w[::-1] if flip else w)
                i += 1
        return out
