"""Near matches of name skeletons with exact-match postings.

The index stores exact keys (`name:kmsnkl`); a question's name key is expanded against the
index's key vocabulary before the postings are read. `KeyVocabulary` keeps a SymSpell-style
deletion neighbourhood (every key with up to `max_edits` letters deleted, pointing back at the
key), so a lookup costs a few dictionary reads instead of a scan; candidates are then checked
with a real edit distance. How far a key may stray grows with its length: a short skeleton
("sn", "kdn") matches exactly or not at all, else every John would match every Jan and Sun.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations

NAME_PREFIX = "name:"


@dataclass(frozen=True, slots=True)
class FuzzySettings:
    exact_below: int = 4  # skeletons shorter than this match exactly only
    two_edits_from: int = 7  # skeletons at least this long may differ by two edits, others by one

    @property
    def max_edits(self) -> int:
        return 2 if self.two_edits_from < 10**6 else 1

    def allowed(self, skeleton: str) -> int:
        n = len(skeleton)
        return 0 if n < self.exact_below else 2 if n >= self.two_edits_from else 1


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Levenshtein distance, or limit + 1 as soon as it must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        best = i
        for j, cb in enumerate(b, 1):
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            cur.append(d)
            best = min(best, d)
        if best > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def skeletons_match(a: str, b: str, settings: FuzzySettings = FuzzySettings()) -> bool:
    """Both sides must allow the distance: a short key never matches a long one loosely."""
    allowed = min(settings.allowed(a), settings.allowed(b))
    return a == b if allowed == 0 else edit_distance(a, b, allowed) <= allowed


def keys_match(a: str, b: str, settings: FuzzySettings = FuzzySettings()) -> bool:
    """Any two anchor keys: names near each other, everything else equal."""
    if a.startswith(NAME_PREFIX) and b.startswith(NAME_PREFIX):
        return skeletons_match(a[len(NAME_PREFIX) :], b[len(NAME_PREFIX) :], settings)
    return a == b


def _deletions(word: str, edits: int) -> Iterator[str]:
    for k in range(edits + 1):
        for drop in combinations(range(len(word)), k):
            yield "".join(c for i, c in enumerate(word) if i not in drop)


class KeyVocabulary:
    """The anchor keys of an index, with the deletion neighbourhood of its name keys."""

    def __init__(self, keys: Iterable[str], settings: FuzzySettings = FuzzySettings()) -> None:
        self.settings = settings
        self.keys = frozenset(keys)
        near: dict[str, set[str]] = {}
        for key in self.keys:
            if key.startswith(NAME_PREFIX):
                s = key[len(NAME_PREFIX) :]
                for d in set(_deletions(s, settings.allowed(s))):
                    near.setdefault(d, set()).add(s)
        self._near = {d: tuple(sorted(ss)) for d, ss in near.items()}

    def expand(self, key: str) -> tuple[str, ...]:
        """The keys of the vocabulary that `key` matches (itself first when present)."""
        if not key.startswith(NAME_PREFIX):
            return (key,) if key in self.keys else ()
        s = key[len(NAME_PREFIX) :]
        allowed = self.settings.allowed(s)
        found: set[str] = set()
        for d in set(_deletions(s, allowed)):
            for cand in self._near.get(d, ()):
                if skeletons_match(s, cand, self.settings):
                    found.add(cand)
        out = sorted(found, key=lambda c: (c != s, c))
        return tuple(NAME_PREFIX + c for c in out)
