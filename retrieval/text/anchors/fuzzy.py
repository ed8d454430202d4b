"""Near matches of name skeletons with exact-match postings, and the learned edit costs.

The index stores exact keys (`name:kmsnkl`); a question's name key is expanded against the
index's key vocabulary before the postings are read. `KeyVocabulary` keeps a SymSpell-style
deletion neighbourhood (every name key with up to `max_edits` letters deleted, pointing back at
the key), so a lookup costs a few dictionary reads instead of a scan; candidates are then
checked with a weighted edit distance.

The weights are learned (names.json, written by `measure.anchors --fit-names` from the FIT half
of the news dev set): an edit that turns a Korean name's skeleton into its English twin's far
more often than into a random line's would cost 0.5 instead of 1. On the 492 FIT lines no
edit passed (each near miss was about as common against random lines), so the shipped table is
empty and the match is a plain edit distance; the mechanism stays, with its evidence in the
file, for a larger FIT set. How far a pair may stray grows with the longer key: a short pair
("sn", "kdn") must match exactly (or by one cheap edit, `short_allowance`), else every John
would match every Jan and Sun.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from types import MappingProxyType

import numpy as np

from retrieval.errors import AnchorDataError
from retrieval.text.anchors.skeleton import CLASSES

NAME_PREFIX = "name:"
NAMES_FILE = Path(__file__).with_name("names.json")
NAMES_FORMAT = 1


@dataclass(frozen=True, slots=True)
class FuzzySettings:
    exact_below: int = 5  # pairs whose longer key is shorter than this allow `short_allowance`
    short_allowance: float = 0.0  # none, or one cheap edit (0.5): chosen on FIT (no edit is cheap yet)
    two_edits_from: int = 8  # pairs whose longer key is at least this long allow 2, others 1
    max_edits: int = 2  # never more edits than this, however cheap

    def allowed(self, a: str, b: str) -> float:
        n = max(len(a), len(b))
        return self.short_allowance if n < self.exact_below else 2.0 if n >= self.two_edits_from else 1.0


def _op_key(op: str, x: str, y: str = "") -> str:
    """Edits are symmetric: a deletion on one side is an insertion on the other."""
    return f"sub:{min(x, y)}{max(x, y)}" if op == "sub" else f"del:{x}"


@dataclass(frozen=True, slots=True)
class EditCosts:
    """Cost of each skeleton edit (`del:l`, `sub:st`); those not listed cost 1."""

    costs: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def sub(self, x: str, y: str) -> float:
        return 0.0 if x == y else self.costs.get(_op_key("sub", x, y), 1.0)

    def indel(self, x: str) -> float:
        return self.costs.get(_op_key("del", x), 1.0)


PLAIN_COSTS = EditCosts()  # every edit costs 1


def load_edit_costs(path: Path = NAMES_FILE) -> EditCosts:
    """The learned costs; a missing or damaged file is an AnchorDataError naming it."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnchorDataError(f"cannot read the anchor name model {path}: {exc}") from exc
    costs = data.get("costs") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != NAMES_FORMAT or not isinstance(costs, dict):
        raise AnchorDataError(f"the anchor name model {path} is damaged: expected format {NAMES_FORMAT} with costs")
    for op, cost in costs.items():
        ok_op = (op.startswith("del:") and len(op) == 5 and op[4] in CLASSES) or (
            op.startswith("sub:") and len(op) == 6 and op[4] in CLASSES and op[5] in CLASSES
        )
        if not ok_op or not isinstance(cost, (int, float)) or not 0.0 < cost <= 1.0:
            raise AnchorDataError(f"the anchor name model {path} is damaged: bad edit {op!r}: {cost!r}")
    return EditCosts(MappingProxyType(dict(costs)))


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


def weighted_distance(a: str, b: str, costs: EditCosts) -> float:
    prev = [0.0]
    for cb in b:
        prev.append(prev[-1] + costs.indel(cb))
    for ca in a:
        cur = [prev[0] + costs.indel(ca)]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + costs.indel(ca), cur[j - 1] + costs.indel(cb), prev[j - 1] + costs.sub(ca, cb)))
        prev = cur
    return prev[-1]


def alignment(a: str, b: str) -> list[str]:
    """The edits of one cheapest plain alignment of a to b (for learning the costs)."""
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    ops: list[str] = []
    i, j = n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            if a[i - 1] != b[j - 1]:
                ops.append(_op_key("sub", a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            ops.append(_op_key("del", a[i - 1]))
            i -= 1
        else:
            ops.append(_op_key("del", b[j - 1]))
            j -= 1
    return ops


def skeletons_match(a: str, b: str, settings: FuzzySettings = FuzzySettings(), costs: EditCosts = PLAIN_COSTS) -> bool:
    if a == b:
        return True
    allowed = settings.allowed(a, b)
    if allowed <= 0:
        return False
    plain = edit_distance(a, b, settings.max_edits)
    if plain > settings.max_edits:
        return False
    if not costs.costs:  # every edit costs 1 (the shipped table): the weighted distance is this one
        return plain <= allowed + 1e-9
    return weighted_distance(a, b, costs) <= allowed + 1e-9


def keys_match(a: str, b: str, settings: FuzzySettings = FuzzySettings(), costs: EditCosts = PLAIN_COSTS) -> bool:
    """Any two anchor keys: names near each other, everything else equal."""
    if a.startswith(NAME_PREFIX) and b.startswith(NAME_PREFIX):
        return skeletons_match(a[len(NAME_PREFIX) :], b[len(NAME_PREFIX) :], settings, costs)
    return a == b


def _deletions(word: str, edits: int) -> Iterator[str]:
    for k in range(min(edits, len(word)) + 1):
        for drop in combinations(range(len(word)), k):
            yield "".join(c for i, c in enumerate(word) if i not in drop)


class KeyVocabulary:
    """The anchor keys of an index, with the deletion neighbourhood of its name keys."""

    def __init__(
        self, keys: Iterable[str], settings: FuzzySettings = FuzzySettings(), costs: EditCosts = PLAIN_COSTS
    ) -> None:
        self.settings = settings
        self.costs = costs
        self.keys = frozenset(keys)
        # the neighbourhood as two arrays (a deletion's hash -> a name's number), not a dict of
        # strings: ~12 B an entry instead of ~150 (113k entries at 552k passages). A hash that
        # collides only adds a candidate, and `skeletons_match` checks every candidate anyway.
        self._names = sorted(k[len(NAME_PREFIX) :] for k in self.keys if k.startswith(NAME_PREFIX))
        hashes, owners = array("q"), array("i")
        for i, s in enumerate(self._names):
            for d in set(_deletions(s, self._edits(s))):
                hashes.append(hash(d))
                owners.append(i)
        h = np.frombuffer(hashes, np.int64) if hashes else np.zeros(0, np.int64)
        order = np.argsort(h, kind="stable")
        self._hashes = h[order]
        self._owners = (np.frombuffer(owners, np.int32) if owners else np.zeros(0, np.int32))[order]

    def _edits(self, s: str) -> int:
        """Deletions worth indexing for s: the most edits any partner of s may be away (a
        partner's length differs by at most that many), so short keys cost no neighbourhood."""
        n, most = len(s), 0
        for length in range(max(1, n - self.settings.max_edits), n + self.settings.max_edits + 1):
            allowed = math.ceil(self.settings.allowed(s, "p" * length))
            if abs(n - length) <= allowed:
                most = max(most, min(allowed, self.settings.max_edits))
        return most

    def expand(self, key: str) -> tuple[str, ...]:
        """The keys of the vocabulary that `key` matches (itself first when present)."""
        if not key.startswith(NAME_PREFIX):
            return (key,) if key in self.keys else ()
        s = key[len(NAME_PREFIX) :]
        found: set[str] = set()
        for d in set(_deletions(s, self._edits(s))):
            h = hash(d)
            lo, hi = np.searchsorted(self._hashes, h, "left"), np.searchsorted(self._hashes, h, "right")
            for i in self._owners[lo:hi].tolist():
                cand = self._names[i]
                if cand not in found and skeletons_match(s, cand, self.settings, self.costs):
                    found.add(cand)
        return tuple(NAME_PREFIX + c for c in sorted(found, key=lambda c: (c != s, c)))
