"""The merge policy on made-up segment sizes (retrieval/index/segments/merge_policy.py): no Kiwi, no disk."""

from __future__ import annotations

import pytest

from retrieval.index.segments.merge_policy import MergePolicy, SegmentSize, capped, plan

POLICY = MergePolicy(factor=4, floor=100, expunge_share=0.5, cap=10_000)


def sizes(*live: int) -> list[SegmentSize]:
    return [SegmentSize(n) for n in live]


def test_a_tier_short_of_the_factor_is_left_alone() -> None:
    assert plan(sizes(10, 20, 30), POLICY) == []
    assert plan([], POLICY) == []


def test_a_full_tier_merges_its_smallest_segments() -> None:
    segs = sizes(50, 5, 90, 20, 60)  # five in the smallest tier (all below the floor): four are merged
    assert plan(segs, POLICY) == [1, 3, 0, 4]  # smallest first, the biggest (90) waits


def test_tiers_are_powers_of_the_factor_above_the_floor() -> None:
    # 100-399 is tier 0 with the floor; 400-1599 tier 1: three and three, neither full
    assert plan(sizes(100, 150, 399, 400, 800, 1500), POLICY) == []
    # a fourth in tier 1 fills it; tier 0 is looked at first but is not full
    assert plan(sizes(100, 150, 399, 400, 800, 1500, 1000), POLICY) == [3, 4, 6, 5]


def test_the_cap_bounds_a_merge_and_big_segments_are_final() -> None:
    policy = MergePolicy(factor=4, floor=1_000, cap=1_000)  # everything below the floor: one tier
    assert plan(sizes(1_000, 2_000, 5_000, 9_000), policy) == []  # all at or above the cap: final
    # a full tier whose sum would pass the cap merges only the smallest that fit
    assert plan(sizes(400, 300, 500, 450), policy) == [1, 0]
    # ...and none when not even the two smallest fit
    assert plan(sizes(600, 700, 800, 900), policy) == []


def test_deleted_passages_count_out_and_a_mostly_deleted_segment_is_expunged() -> None:
    segs = [SegmentSize(5_000, 2_499), SegmentSize(5_000, 2_500), SegmentSize(300)]
    assert [s.live for s in segs] == [2_501, 2_500, 300]
    assert plan(segs, POLICY) == [1]  # half deleted: rewritten on its own
    assert plan([SegmentSize(5_000, 2_499)], POLICY) == []


def test_a_tier_merge_comes_before_an_expunge() -> None:
    segs = [SegmentSize(1_000, 900), *sizes(10, 20, 30, 40)]
    assert plan(segs, POLICY) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("group", "cap", "chosen"),
    [([5, 3, 9], 100, [1, 0, 2]), ([60, 50, 40], 100, [2, 1]), ([60, 70], 100, []), ([], 100, [])],
)
def test_capped_takes_the_smallest_within_the_cap(group: list[int], cap: int, chosen: list[int]) -> None:
    assert capped(group, cap) == chosen


def test_a_policy_is_checked() -> None:
    with pytest.raises(ValueError):
        MergePolicy(factor=1)
    with pytest.raises(ValueError):
        MergePolicy(expunge_share=0)
