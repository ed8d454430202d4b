"""The confidence model: fitting, prediction, files, and the shipped model."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from retrieval import QuoteQAError
from retrieval.answer import confidence
from retrieval.answer.confidence import ConfidenceModel, feature_value, fit


def toy(n: int = 200, seed: int = 1) -> tuple[list[dict[str, float]], list[int]]:
    """Label 1 exactly when coverage > 0.5; `noise` says nothing."""
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(n):
        cov = rng.random()
        rows.append({"coverage": cov, "noise": rng.random()})
        labels.append(int(cov > 0.5))
    return rows, labels


def test_fit_recovers_a_separable_problem() -> None:
    rows, labels = toy()
    model = fit(rows, labels, l2=0.1)
    assert model.features == ("coverage", "noise")
    predictions = [model.predict(r) for r in rows]
    right = [(p > 0.5) == bool(y) for p, y in zip(predictions, labels, strict=True)]
    assert sum(right) >= 0.97 * len(rows)  # the penalty may blur the few points right at the border
    assert all(ok for ok, r in zip(right, rows, strict=True) if abs(r["coverage"] - 0.5) > 0.05)
    w = dict(zip(model.features, model.coefficients, strict=True))
    assert w["coverage"] > 5 * abs(w["noise"])  # the informative feature carries the weight
    assert model.predict({"coverage": 0.95, "noise": 0.5}) > 0.9
    assert model.predict({"coverage": 0.05, "noise": 0.5}) < 0.1


def test_stronger_l2_shrinks_the_coefficients() -> None:
    rows, labels = toy()
    weak, strong = fit(rows, labels, l2=0.1), fit(rows, labels, l2=100.0)
    assert abs(strong.coefficients[0]) < abs(weak.coefficients[0])


def test_predict_is_a_probability_and_monotone_in_a_positive_feature() -> None:
    rows, labels = toy(seed=2)
    model = fit(rows, labels)
    i = model.features.index("coverage")
    assert model.coefficients[i] > 0
    values = [model.predict({"coverage": x / 20, "noise": 0.3}) for x in range(-40, 61)]  # far outside the data too
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert values[-1] > values[0]


def test_empty_signals_mean_zero_confidence_and_missing_ones_count_as_zero() -> None:
    rows, labels = toy()
    model = fit(rows, labels)
    assert model.predict({}) == 0.0
    assert model.predict({"coverage": 0.9}) == pytest.approx(model.predict({"coverage": 0.9, "noise": 0.0}))
    many = model.predict_many([{}, rows[0]])
    assert many[0] == 0.0 and many[1] == pytest.approx(model.predict(rows[0]))


def test_rows_without_signals_are_not_fitted_on() -> None:
    rows, labels = toy()
    with_empty = fit([*rows, {}, {}], [*labels, 1, 1])
    assert with_empty.coefficients == pytest.approx(fit(rows, labels).coefficients)


def test_derived_features() -> None:
    s = {"a": 3.0, "b": 0.25}
    assert feature_value("a", s) == 3.0
    assert feature_value("log1p(a)", s) == pytest.approx(math.log1p(3.0))
    assert feature_value("sqrt(b)", s) == pytest.approx(0.5)
    assert feature_value("sq(b)", s) == pytest.approx(0.0625)
    assert feature_value("a*b", s) == pytest.approx(0.75)
    assert feature_value("inv(a)", s) == pytest.approx(0.25)
    assert feature_value("neg(b)", s) == pytest.approx(0.75)
    assert feature_value("sqrt(b)*log1p(a)*a", s) == pytest.approx(0.5 * math.log1p(3.0) * 3.0)
    assert feature_value("missing", s) == 0.0
    rows, labels = toy()
    model = fit(rows, labels, features=["sqrt(coverage)", "coverage*noise"])
    assert model.features == ("sqrt(coverage)", "coverage*noise")
    for bad in ("cube(coverage)", "coverage*cube(noise)", "coverage+noise"):
        with pytest.raises(QuoteQAError):
            fit(rows, labels, features=[bad])


def test_verdicts_follow_the_thresholds() -> None:
    rows, labels = toy()
    model = fit(rows, labels).with_thresholds(sure=0.8, minimum=0.3)
    assert [model.verdict(c) for c in (0.9, 0.8, 0.5, 0.3, 0.29, 0.0)] == [
        "answer",
        "answer",
        "unsure",
        "unsure",
        "abstain",
        "abstain",
    ]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rows, labels = toy()
    model = (
        fit(rows, labels, features=["coverage", "noise", "log1p(coverage)"])
        .with_thresholds(0.9, 0.2)
        .with_fitted(command="test")
    )
    path = tmp_path / "model.json"
    model.save(path)
    back = confidence.load(path)
    assert back == model
    assert back.fitted == {"command": "test"}
    for r in rows[:20]:
        assert back.predict(r) == pytest.approx(model.predict(r), abs=1e-9)
    raw = json.loads(path.read_text("utf-8"))
    assert raw["format"] == "quoteqa-confidence" and raw["version"] == confidence.VERSION
    assert raw["thresholds"] == {"sure": 0.9, "min": 0.2}


def test_load_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}', "utf-8")
    with pytest.raises(QuoteQAError):
        confidence.load(bad)
    bad.write_text('{"format": "quoteqa-confidence", "version": 99}', "utf-8")
    with pytest.raises(QuoteQAError, match="version"):
        confidence.load(bad)
    bad.write_text(
        '{"format": "quoteqa-confidence", "version": 1, "features": ["a"], "means": [], "scales": [], "coefficients": [], "intercept": 0}',
        "utf-8",
    )
    with pytest.raises(QuoteQAError):
        confidence.load(bad)
    with pytest.raises(QuoteQAError):
        confidence.load(tmp_path / "missing.json")


def test_shipped_model_loads_and_is_sane() -> None:
    model = confidence.load()
    assert isinstance(model, ConfidenceModel)
    assert 0.0 <= model.minimum <= model.sure <= 1.0
    assert model.fitted.get("command", "").startswith("quoteqa eval --splits --fit")
    strong = {f: 0.0 for f in model.features} | {
        "passage_coverage": 1.0, "top_passage_coverage": 1.0, "sentence_coverage": 1.0, "window_coverage": 1.0,
        "bm25_top_share": 0.8, "bm25_gap": 0.5, "rerank_gap": 0.5, "content_terms": 5.0,
        "idf_max": 1.0, "idf_mean": 0.8, "matched_idf": 4.0, "sentence_idf": 4.0,
    }  # fmt: skip
    weak = strong | {
        "passage_coverage": 0.1, "top_passage_coverage": 0.1, "sentence_coverage": 0.1, "window_coverage": 0.1,
        "unknown_share": 0.8, "matched_idf": 0.4, "sentence_idf": 0.4,
    }  # fmt: skip
    assert model.predict(strong) > model.predict(weak)
    assert model.predict({}) == 0.0


def test_levels_override_the_fitted_thresholds_without_a_gap() -> None:
    model = confidence.load()
    assert model.with_levels(None, None) == model
    assert model.with_levels(0.9, 0.2).sure == 0.9 and model.with_levels(0.9, 0.2).minimum == 0.2
    lifted = model.with_levels(None, min(model.sure + 0.1, 1.0))
    assert lifted.sure == lifted.minimum == min(model.sure + 0.1, 1.0)  # no unsure band, never sure < min
    assert [lifted.verdict(c) for c in (0.0, lifted.minimum, 1.0)] == ["abstain", "answer", "answer"]


def test_features_far_outside_the_dev_data_are_clipped() -> None:
    """A news headline can hold every word of a question, which no dev question came near: one
    feature must not decide the verdict alone."""
    model = confidence.load()
    far = {
        name: 1e6 for name in ("bm25_top_share", "title_share", "top_passage_coverage", "matched_idf", "content_terms")
    }
    parts = model.contributions(far)
    assert all(abs(parts[f]) <= abs(w) * model.clip + 1e-9 for f, w in zip(model.features, model.coefficients))
    assert model.logit(far) == pytest.approx(model.intercept + sum(parts.values()))
