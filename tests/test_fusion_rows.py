"""The fit of fusion weights on top of the shipped ones (measure/news/fusion_rows.py): made-up
feature rows where one story feature tells the gold candidate apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from measure.news.fusion_rows import STORY_FEATURES, Group, fit_on_top, hit_rates, load_groups, save_groups
from retrieval.answer.retrieve.fusion import FEATURES, FusionWeights


def _groups(n: int, twins: bool = False) -> list[Group]:
    """Two candidates each, the same on every shipped feature; the gold one's story leads."""
    lead = FEATURES.index("s_lead*other")
    out = []
    rng = np.random.default_rng(7)
    for i in range(n):
        X = np.tile(rng.random(len(FEATURES)), (2, 1))
        X[:, lead] = 0.0
        gold = i % 2
        X[gold, lead] = 0.5 + rng.random() / 2
        out.append(Group(X, gold, True, np.array([gold == 0, gold == 1]), twins))
    return out


def test_only_the_chosen_weights_move_and_they_pick_the_leading_story() -> None:
    base = np.asarray(FusionWeights().weights, np.float64)
    base[[FEATURES.index(f) for f in STORY_FEATURES]] = 0.0
    groups = _groups(40)
    w = fit_on_top(groups, base, 0.001, STORY_FEATURES)
    story = [FEATURES.index(f) for f in STORY_FEATURES]
    rest = [i for i in range(len(FEATURES)) if i not in story]
    assert np.array_equal(w[rest], base[rest])  # the shipped weights are held
    assert w[FEATURES.index("s_lead*other")] > 0
    assert hit_rates(groups, base)["cross"] <= 0.5 < hit_rates(groups, w)["cross"] == 1.0


def test_groups_round_trip_and_twins_are_counted_apart(tmp_path: Path) -> None:
    groups = _groups(6) + _groups(4, twins=True)
    save_groups(tmp_path / "g.npz", groups)
    back = load_groups(tmp_path / "g.npz")
    assert [(g.gold, g.cross, g.twins) for g in back] == [(g.gold, g.cross, g.twins) for g in groups]
    assert all(np.array_equal(a.X, b.X) and np.array_equal(a.story, b.story) for a, b in zip(back, groups, strict=True))
    rates = hit_rates(back, FusionWeights().weights)
    assert set(rates) >= {"same", "cross", "twins", "twins_story"}
