"""Which segments to merge next: a pure function of the segments' sizes (tantivy's
`log_merge_policy.rs`), so it is tested on made-up sizes, without Kiwi or a disk.

Tiered: a tier holds segments within a factor `factor` of each other in live passages (all
below `floor` count as the smallest tier); a full tier (`factor` segments) is merged into one
segment of the next tier, choosing its smallest segments whose sum stays within `cap` live
passages (Lucene's max merged segment size: bigger segments only come from `force_merge`).
Segments of `cap` or more are final. Failing that, a segment with `expunge_share` of its
passages deleted is rewritten on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.index.segments.flush import DEFAULT_FLUSH


@dataclass(frozen=True, slots=True)
class SegmentSize:
    """What the policy sees of a segment."""

    passages: int  # written
    deleted: int = 0  # of those, tombstoned

    @property
    def live(self) -> int:
        return self.passages - self.deleted


@dataclass(frozen=True, slots=True)
class MergePolicy:
    factor: int = 10  # a tier of this many segments of similar size is merged into one
    floor: int = 1_000  # segments below this many live passages all count as the smallest tier
    expunge_share: float = 0.5  # a segment with this share of passages deleted is rewritten without them
    cap: int = DEFAULT_FLUSH.merge_cap  # no merge makes a segment of more live passages (`FlushPolicy.merge_cap`)

    def __post_init__(self) -> None:
        if self.factor < 2 or self.floor < 1 or self.cap < 1 or not 0 < self.expunge_share <= 1:
            raise ValueError("a merge policy needs factor >= 2, floor >= 1, cap >= 1 and 0 < expunge_share <= 1")


def plan(segments: Sequence[SegmentSize], policy: MergePolicy) -> list[int]:
    """The positions in `segments` of the next merge (smallest first), or [] when none is due."""
    tiers: dict[int, list[int]] = {}
    for i, s in enumerate(segments):
        if s.live >= policy.cap:
            continue
        tier = int(math.log(max(s.live, policy.floor) / policy.floor, policy.factor))
        tiers.setdefault(tier, []).append(i)
    for tier in sorted(tiers):
        if len(tiers[tier]) < policy.factor:
            continue
        group = sorted(tiers[tier], key=lambda i: segments[i].live)[: policy.factor]
        chosen = capped([segments[i].live for i in group], policy.cap)
        if chosen:
            return [group[i] for i in chosen]
    for i, s in enumerate(segments):
        if s.deleted and s.deleted >= policy.expunge_share * s.passages:
            return [i]
    return []


def capped(sizes: Sequence[int], cap: int) -> list[int]:
    """Positions of the smallest of `sizes` whose sum stays within `cap` (sizes ascending); a
    merge needs two at least, else none."""
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    chosen: list[int] = []
    total = 0
    for i in order:
        if total + sizes[i] > cap:
            break
        chosen.append(i)
        total += sizes[i]
    return chosen if len(chosen) >= 2 else []
