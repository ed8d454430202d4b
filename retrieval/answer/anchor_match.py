"""A question's anchors matched against an index's: which passages hold which of its keys.

The question's keys (`retrieval/text/anchors/`: names in either script as consonant skeletons,
numbers with units, dates, glossary terms) are read once per question; a name key is widened to
the index keys near it (`KeyVocabulary.expand`, built once per snapshot), every other key is
matched exactly. The candidate source (`retrieve/anchors.py`), the fusion's `anc` feature, the
verdict's anchor signals and the off-topic gate (`offtopic.py`) all read this one object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from retrieval.index.segments.columns.anchors import sorted_unique
from retrieval.text.anchors import WORD, Anchors, KeyVocabulary, kind_of

I64 = npt.NDArray[np.int64]

# How much each kind of key counts in a share (a name or a number pins a story; a glossary term
# or a year is shared by many): chosen by hand, checked on the news FIT half (docs/quality.md).
KIND_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"name": 1.0, "number": 1.0, "date": 0.5, "term": 0.5, "word": 0.0}  # word: never in `keys` (see `words`)
)

LONG_NAME = 4  # letters of a name skeleton that make it a "long" name (the off-topic gate's reading)

# the kinds of keys that pin a story: they propose candidates and make the fusion's anchor features
# (a glossary term or a year is shared by too many stories: Belebele's English questions against
# Korean passages lost 11 points of src@1 when every glossary term counted)
STRONG_KINDS = frozenset({"name", "number"})


def vocabulary(anchors: Anchors, searcher: object) -> KeyVocabulary | None:
    """The fuzzy lookup over a snapshot's anchor keys, once per snapshot (None: a store without anchors)."""
    keys = getattr(searcher, "anchor_keys", None)
    if keys is None:
        return None
    vocab = getattr(searcher, "_anchor_vocabulary", None)
    if vocab is None:  # kept on the snapshot itself: it lives exactly as long (threads share it)
        vocab = anchors.vocabulary(keys())
        try:
            searcher._anchor_vocabulary = vocab  # type: ignore[attr-defined]
        except AttributeError:
            pass
    return vocab


@dataclass(frozen=True, slots=True)
class QuestionAnchors:
    """The question's keys, the index keys each one matches, and the live passages holding them."""

    keys: tuple[str, ...]
    matches: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # question key -> index keys
    passages: Mapping[str, I64] = field(default_factory=dict)  # question key -> uids (any of its matches)
    # question key -> uids holding the key itself, not a name near it: a short skeleton finds a
    # near name in any news corpus ("Tony Blair"'s `tnpl` finds `tnkpl`), an exact one rarely
    exact: Mapping[str, I64] = field(default_factory=dict)
    # the question's countries, regions and cities (glossary terms) that no live passage names
    absent_places: tuple[str, ...] = ()
    # The question's everyday words as word-list keys ("word:", lexicon.tsv) and its glossary
    # terms, with their idf in the index: translations of its plain words (word keys are not
    # anchors: no postings read, no part in the shares above)
    words: Mapping[str, float] = field(default_factory=dict)

    def word_share_in(self, keys: Iterable[str]) -> float:
        """The idf-weighted share of the question's word-list keys among `keys` (a passage's or a
        story's index keys): how much of the question's plain wording it holds, in either script."""
        total = sum(self.words.values())
        if not total:
            return 0.0
        have = keys if isinstance(keys, (set, frozenset)) else set(keys)
        return sum(w for k, w in self.words.items() if k in have) / total

    @property
    def weight(self) -> float:
        return sum(KIND_WEIGHTS[kind_of(k)] for k in self.keys)

    def names(self, min_length: int = 0) -> tuple[str, ...]:
        """The question's name keys whose skeleton has at least `min_length` letters (a short
        skeleton, "tn" of "Ardern", matches too many names to say a name is known)."""
        return tuple(k for k in self.keys if kind_of(k) == "name" and len(k) - len("name:") >= min_length)

    def found(self, key: str) -> bool:
        """Some live passage of the corpus holds the key (or a name near it)."""
        return key in self.passages

    def found_exactly(self, key: str) -> bool:
        """Some live passage holds the key itself (a name spelled to the same skeleton)."""
        return key in self.exact

    def share_in(self, keys: Iterable[str]) -> float:
        """The weighted share of the question's keys that `keys` (a passage's, a sentence's, a
        story's index keys) hold: a question key counts when any index key it matches is there."""
        total = self.weight
        if not total:
            return 0.0
        have = set(keys)
        got = sum(KIND_WEIGHTS[kind_of(k)] for k in self.keys if any(m in have for m in self.matches.get(k, ())))
        return got / total

    def best_story_share(self, searcher: object, keys: Iterable[str], exact: bool = False) -> float:
        """The largest share of `keys` (question keys) that one story of the corpus holds: an
        off-topic question's names are often each somewhere in a news corpus, rarely in one story.
        `exact`: only the keys themselves count, not the names near them. (In numpy: a key held by
        tens of thousands of passages of a large index is one array, not a Python set.)"""
        keys = list(keys)
        where = self.exact if exact else self.passages
        found = [k for k in keys if k in where]
        stories_of = getattr(searcher, "stories_of", None)
        if not found or stories_of is None:
            return 0.0
        per_key = [sorted_unique(np.asarray(stories_of(where[k]), np.int64)) for k in found]
        stories = np.concatenate(per_key)
        stories = stories[stories != -1]
        if not len(stories):
            return 0.0
        _, inverse = grouped(stories)
        return int(np.bincount(inverse).max()) / len(keys)

    def passage_shares(self, kinds: frozenset[str] | None = None) -> Mapping[int, float]:
        """Every passage holding a question key, with the weighted share of the keys it holds
        (`kinds`: of those kinds of keys only; None: all)."""
        return Shares(*self.share_arrays(kinds))

    def share_arrays(self, kinds: frozenset[str] | None = None) -> tuple[I64, npt.NDArray[np.float64]]:
        """`passage_shares` as two arrays: the uids, ascending, and their shares. Each share is
        summed key by key in the question's order, as a loop over the keys would (`np.bincount`
        adds its weights in input order), so the floats are that loop's to the last bit."""
        keys = [k for k in self.keys if kinds is None or kind_of(k) in kinds]
        total = sum(KIND_WEIGHTS[kind_of(k)] for k in keys)
        parts: list[I64] = []
        weights: list[npt.NDArray[np.float64]] = []
        for key in keys:
            uids = self.passages.get(key)
            if uids is None:
                continue
            parts.append(np.asarray(uids, np.int64))
            weights.append(np.full(len(uids), KIND_WEIGHTS[kind_of(key)] / total))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        uniq, inverse = grouped(np.concatenate(parts))
        return uniq, np.bincount(inverse, weights=np.concatenate(weights), minlength=len(uniq))


def grouped(values: I64) -> tuple[I64, I64]:
    """The distinct values, ascending, and each value's place among them: `np.unique(values,
    return_inverse=True)` by one stable sort (numpy 2.4's `np.unique` may take a hash path that
    is slow on large integer arrays; `sorted_unique`, for the values alone, says how slow)."""
    if not len(values):
        return values[:0], np.zeros(0, np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.empty(len(ordered), bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return ordered[starts], inverse


class Shares(Mapping[int, float]):
    """uid -> share, over the two arrays of `QuestionAnchors.share_arrays` (a large index's common
    key is held by tens of thousands of passages; the fusion asks a few dozen)."""

    __slots__ = ("uids", "shares")

    def __init__(self, uids: I64, shares: npt.NDArray[np.float64]) -> None:
        self.uids, self.shares = uids, shares

    def __getitem__(self, uid: int) -> float:
        i = int(np.searchsorted(self.uids, uid))
        if i < len(self.uids) and int(self.uids[i]) == uid:
            return float(self.shares[i])
        raise KeyError(uid)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.uids.tolist())

    def __len__(self) -> int:
        return len(self.uids)


NO_ANCHORS = QuestionAnchors(())


def read_anchors(anchors: Anchors, searcher: object, analyzer: object, text: str) -> QuestionAnchors:
    """A question's anchors matched against `searcher`'s index (NO_ANCHORS for a store without them)."""
    vocab = vocabulary(anchors, searcher)
    if vocab is None or not text:
        return NO_ANCHORS
    every = anchors.text(analyzer, text).keys  # type: ignore[arg-type]
    keys = tuple(k for k in every if not k.startswith(WORD))
    words = word_idf(searcher, [k for k in every if k.startswith(WORD) or kind_of(k) == "term"])
    if not keys:
        return QuestionAnchors((), words=words) if words else NO_ANCHORS
    matches = {k: vocab.expand(k) for k in keys}
    wanted = sorted({m for ms in matches.values() for m in ms})
    found = searcher.anchor_passages(wanted) if wanted else {}  # type: ignore[attr-defined]
    passages: dict[str, I64] = {}
    for k, ms in matches.items():
        parts = [found[m] for m in ms if m in found]
        if parts:
            passages[k] = sorted_unique(np.concatenate(parts))
    exact = {k: found[k] for k in matches if k in found}
    places = anchors.glossary.places
    absent = tuple(k for k in keys if kind_of(k) == "term" and k[len("term:") :] in places and k not in passages)
    return QuestionAnchors(tuple(keys), matches, passages, words=words, exact=exact, absent_places=absent)


def word_idf(searcher: object, keys: Iterable[str]) -> dict[str, float]:
    """Each word-list key some live passage holds, with its idf (log(1 + N / df)): a word every
    story uses ("said" is not in the list, "officials" is) weighs little."""
    df_of = getattr(searcher, "anchor_df", None)
    if df_of is None:
        return {}
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    df, n = df_of(keys)
    return {k: float(np.log1p(n / df[k])) for k in keys if df.get(k, 0) > 0}
