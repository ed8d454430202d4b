"""Calibration on news (issue 26, item 5): the shown confidence, the weighted fit, the feature
blocks chosen on FIT, the levels, the reliability table, all on hand-made rows whose right answer
is known; and the shipped models read through the product's verdict."""

from __future__ import annotations

import random

import numpy as np
import pytest

from measure import splits
from measure.news.judge import Row as NewsRow
from measure.splits import FeatureBlock, Refit, Row
from retrieval.answer.confidence import ConfidenceModel, fit, quote_chance, shown
from retrieval.answer.verdict import decide


# --- the confidence shown ------------------------------------------------------------------------
def test_shown_confidence_is_the_chance_the_verdict_is_right() -> None:
    assert shown(0.73, "abstain") == pytest.approx(0.27)  # the abstention at 0.73
    assert shown(0.73, "unsure") == 0.73 and shown(0.73, "answer") == 0.73
    for v in ("answer", "unsure", "abstain"):
        assert quote_chance(shown(0.2, v), v) == pytest.approx(0.2)


def one_feature_model(sure: float, minimum: float, sure_cross: float | None = None) -> ConfidenceModel:
    return ConfidenceModel(("x",), (0.0,), (1.0,), (4.0,), 0.0, sure=sure, minimum=minimum, sure_cross=sure_cross)


def test_an_answer_across_languages_needs_sure_cross() -> None:
    model = one_feature_model(0.6, 0.1, sure_cross=0.9)
    assert model.verdict(0.7) == "answer"
    assert model.verdict(0.7, cross=True) == "unsure"
    assert model.verdict(0.95, cross=True) == "answer"
    assert model.verdict(0.05, cross=True) == "abstain"
    # decide reads the cross flag from the signals; sure_cross never lowers sure
    chance, verdict = decide(model, {"x": 0.3, "cross_language": 1.0})  # sigmoid(1.2) = 0.77
    assert verdict == "unsure" and chance == pytest.approx(1 / (1 + np.exp(-1.2)))
    assert one_feature_model(0.6, 0.1, sure_cross=0.3).verdict(0.5, cross=True) == "unsure"
    again = ConfidenceModel.from_json(model.to_json())
    assert again.sure_cross == 0.9 and ConfidenceModel.from_json(one_feature_model(0.6, 0.1).to_json()).sure_cross is None


def test_a_weight_counts_like_a_repeated_row() -> None:
    rng = random.Random(3)
    rows = [{"x": rng.gauss(0, 1)} for _ in range(60)]
    labels = [int(r["x"] + rng.gauss(0, 1) > 0) for r in rows]
    doubled = fit(rows + rows[:20], labels + labels[:20])
    weighted = fit(rows, labels, weights=[2.0] * 20 + [1.0] * 40)
    assert weighted.coefficients[0] == pytest.approx(doubled.coefficients[0], rel=1e-4)
    assert weighted.intercept == pytest.approx(doubled.intercept, rel=1e-4, abs=1e-6)
    plain = fit(rows, labels)
    assert plain.coefficients != weighted.coefficients
    with pytest.raises(ValueError):
        fit(rows, labels, weights=[1.0])


# --- ECE and the reliability table ----------------------------------------------------------------
def test_reliability_table_by_hand() -> None:
    c = [0.05, 0.05, 0.15, 0.95, 0.95, 0.95, 0.95, 1.0]
    y = [False, False, True, True, True, True, False, True]
    bins = splits.reliability(c, y)
    assert [(b["lo"], b["n"]) for b in bins] == [(0.0, 2), (0.1, 1), (0.9, 5)]  # empty bins left out, 1.0 in the last
    assert bins[0]["right"] == 0.0 and bins[1]["right"] == 1.0
    assert bins[2]["confidence"] == pytest.approx(0.96) and bins[2]["right"] == pytest.approx(0.8)
    # ECE is the bins' gaps weighted by their rows
    expected = (2 * 0.05 + 1 * 0.85 + 5 * 0.16) / 8
    assert splits.ece(c, [int(v) for v in y]) == pytest.approx(expected)


def news_like(half: str, group: str, correct: bool, x: float, cross: bool = False, lang: str = "en", qid: str = "q") -> Row:
    origin = "news off" if group == "offtopic" else "news cross" if cross else "news same"
    signals = {"x": x, "cross_language": float(cross)}
    return Row(f"news-{lang}", lang, f"news:A:{lang}:{qid}", group, origin, half, signals, correct)


def test_shown_figures_judge_the_verdict_shown() -> None:
    """An abstention is right when its quote would not have answered; its shown confidence is
    1 - chance, so a calibrated chance gives a calibrated abstention."""
    model = one_feature_model(sure=0.9, minimum=0.2)
    rows = [
        news_like("report", "answerable", True, 1.0),  # 0.98: answer, right
        news_like("report", "answerable", False, 0.0),  # 0.5: unsure, wrong
        news_like("report", "answerable", False, -1.0),  # 0.018: abstain, right to
        news_like("report", "offtopic", False, -1.0),  # abstain, right to
        news_like("report", "offtopic", False, 1.0),  # answer, wrong
    ]
    shown_c, verdicts = splits.shown_verdicts(rows, model, None)
    assert verdicts == ["answer", "unsure", "abstain", "abstain", "answer"]
    assert shown_c[2] == pytest.approx(1 - 1 / (1 + np.exp(4.0)))
    assert splits.verdict_right(rows, verdicts).tolist() == [True, False, True, True, False]
    f = splits.shown_figures(rows, model, None)
    assert f["sure_wrong"] == 0.0 and f["refused"] == pytest.approx(1 / 3) and f["offtopic_refused"] == 0.5
    assert f["hit@1"] == pytest.approx(1 / 3)


# --- the news rows ---------------------------------------------------------------------------------
def news_row(verdict: str, hit1: bool, would_hit: bool | None, story: int | None = 3, lang: str = "ko") -> NewsRow:
    return NewsRow(
        id="n1", question="?", lang=lang, pool="B", story=story, kind="say", half="fit", indexed="en" if story else None,
        gold=(1,), verdict=verdict, confidence=0.5, cross_language=True, first_quote="", first_article="",
        first_line=None, hit1=hit1, hit3=hit1, would_hit=would_hit, signals={"x": 1.0},
    )  # fmt: skip


def test_news_rows_are_labelled_by_the_shown_sentence() -> None:
    rows = splits.news_rows([
        news_row("unsure", True, None), news_row("answer", False, None), news_row("abstain", False, True),
        news_row("abstain", False, False), news_row("abstain", False, None, story=None),
    ])  # fmt: skip
    assert [r.correct for r in rows] == [True, False, True, False, False]
    assert [r.group for r in rows] == ["answerable"] * 4 + ["offtopic"]
    assert rows[0].origin == "news cross" and rows[0].file == "news-ko" and all(splits.is_news(r) for r in rows)
    assert splits.question_key(rows[0]) == "n1" and splits.question_key(rows[-1]) == "n1"
    assert Row.from_json(rows[0].to_json()) == rows[0]


# --- choosing features and levels on FIT ------------------------------------------------------------
def synthetic_rows(n: int = 400, seed: int = 5, with_z: bool = True) -> list[Row]:
    """Questions whose label depends on `x` and `z` (`z` only present when `with_z`), with a
    noise signal `n`; split rows (answerable SQuAD-like) and news rows, FIT and REPORT halves."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        x, z, noise = rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1)
        y = rng.random() < 1 / (1 + np.exp(-(1.5 * x + 2.5 * z)))
        sig = {"x": x, "n": noise, "cross_language": 0.0} | ({"z": z} if with_z else {})
        half = "fit" if i % 2 == 0 else "report"
        if i % 4 < 2:
            rows.append(Row("f.json", "en", f"q{i}", "answerable", "f.json", half, sig, bool(y)))
        else:
            rows.append(Row("news-en", "en", f"news:A:en:q{i}", "answerable", "news same", half, sig, bool(y)))
    return rows


def test_a_block_is_kept_only_when_it_helps_on_fit_and_only_when_present() -> None:
    refit = Refit(base=("x",), blocks=(FeatureBlock("noise", ("n", "sq(n)")), FeatureBlock("z", ("z",)),
                                       FeatureBlock("absent", ("anchor_quote_share",))))  # fmt: skip
    rows = [r for r in synthetic_rows() if r.half == "fit"]
    features, log = splits.choose_features(rows, refit, [1.0] * len(rows))
    assert features == ("x", "z")
    assert log["z"]["kept"] and not log["noise"]["kept"] and not log["absent"]["kept"]
    # the same command without the signal: the block is skipped, not an error
    rows = [r for r in synthetic_rows(with_z=False) if r.half == "fit"]
    features, log = splits.choose_features(rows, refit, [1.0] * len(rows))
    assert features == ("x",) and log["z"]["why"] == "its signals are in no row"


def test_news_rows_weigh_their_share() -> None:
    rows = synthetic_rows()[:40]
    w = splits.row_weights(rows, 0.25)
    news = sum(wi for wi, r in zip(w, rows, strict=True) if splits.is_news(r))
    assert news / sum(w) == pytest.approx(0.25)
    assert splits.row_weights([r for r in rows if not splits.is_news(r)], 0.25) == [1.0] * 20


def test_lowest_level_by_count_and_by_precision() -> None:
    c = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    ok = np.array([True, True, False, True, False])
    assert splits.lowest_level(c, ok, 0, None) == 0.8  # no wrong answer allowed: stop above 0.7
    assert splits.lowest_level(c, ok, 1, None) == 0.6
    assert splits.lowest_level(c, ok, 0, 0.75) == 0.6  # 3 of 4 right down to 0.6
    assert splits.lowest_level(c, np.zeros(5, bool), 0, 0.5) == 1.0  # nothing is precise enough


def test_refit_keeps_news_sure_but_wrong_low_and_refuses_answers_across_languages_it_cannot_trust() -> None:
    rows = synthetic_rows(800)
    rng = random.Random(1)
    for i in range(200):  # answers across languages: sure-looking, right a third of the time
        half = "fit" if i % 2 == 0 else "report"
        rows.append(Row("news-ko", "ko", f"news:B:ko:c{i}", "answerable", "news cross", half,
                        {"x": 2.0 + rng.random(), "n": 0.0, "z": 0.0, "cross_language": 1.0}, rng.random() < 0.33))  # fmt: skip
    for i in range(60):
        rows.append(Row("f.json", "en", f"off{i}", "offtopic", "offtopic.txt", "fit" if i % 2 else "report",
                        {"x": -2.0, "n": 0.0, "z": -1.0, "cross_language": 0.0}, False))  # fmt: skip
    refit = Refit(base=("x",), blocks=(FeatureBlock("z", ("z",)), FeatureBlock("cross", ("cross_language",))))
    model, gate, info = splits.fit_refit(rows, refit)
    assert "z" in model.features
    news = [r for r in rows if r.half == "fit" and splits.is_news(r) and r.group == "answerable"]
    shown_c, verdicts = splits.shown_verdicts(news, model, None)
    wrong = sum(1 for r, v in zip(news, verdicts, strict=True) if v == "answer" and not r.correct)
    assert wrong <= np.floor(refit.max_sure_wrong * len(news))
    assert model.sure >= info.sure_rule["sure_news"] and model.sure_cross is not None and model.sure_cross >= model.sure
    cross = [r for r in news if r.signals["cross_language"]]
    _, v_cross = splits.shown_verdicts(cross, model, None)
    answered = [r.correct for r, v in zip(cross, v_cross, strict=True) if v == "answer"]
    assert not answered or np.mean(answered) >= refit.cross_precision
    assert 0.0 <= gate.minimum <= 1.0


# --- the shipped models, read as the product reads them ---------------------------------------------
def test_shipped_levels_are_ordered() -> None:
    from retrieval.answer import confidence

    for model in (confidence.shipped(), confidence.shipped_semantic()):
        assert 0.0 <= model.minimum <= model.sure <= 1.0
        assert model.sure_cross is None or model.sure <= model.sure_cross <= 1.0


# --- the one command -------------------------------------------------------------------------------
def refit_rows(n: int = 600, seed: int = 11) -> list[Row]:
    """Rows with real signal names: SQuAD-like files, their off-topic questions, and news rows in
    both languages (some across languages), each label drawn from the signals."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        cov, cos, shown_cov = rng.random(), rng.random(), rng.random()
        cross = i % 5 == 0
        sig = {"passage_coverage": cov, "sem_quote_cos": cos, "shown_coverage": shown_cov, "cross_language": float(cross)}
        right = bool(rng.random() < 1 / (1 + np.exp(-(4 * cov + 3 * shown_cov - 4))))
        half = "fit" if (i // 2) % 2 == 0 else "report"
        kind = i % 4
        if kind == 0:
            out.append(Row("tiny_en.json", "en", f"q{i}", "answerable", "tiny_en.json", half, sig, right))
        elif kind == 1:
            out.append(Row("tiny_en.json", "en", f"o{i}", "offtopic", "offtopic.txt", half, sig | {"passage_coverage": cov / 4}, False))
        else:
            lang = "en" if kind == 2 else "ko"
            origin = "news cross" if cross else "news same"
            out.append(Row(f"news-{lang}", lang, f"news:A:{lang}:n{i // 4}", "answerable", origin, half, sig, right))
    return out


def test_refit_command_from_rows_writes_both_models(tmp_path, parts, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`quoteqa eval --splits --fit --news --from-rows FILE` with the encoder: fits from the rows,
    writes the semantic model (with its cross level and the refit's choices) and the gate, and
    prints the shown-confidence tables; what it wrote, reported again, gives the same figures."""
    import json

    from test_splits import EN, KO, squad_file

    from bot.cli import eval as cli_eval
    from bot.cli import main
    from retrieval.answer import confidence, topic

    files = [squad_file(tmp_path / "tiny_ko.json", KO), squad_file(tmp_path / "tiny_en.json", EN)]
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text("".join(json.dumps(r.to_json()) + "\n" for r in refit_rows()), "utf-8")
    monkeypatch.setattr(cli_eval, "_parts", lambda args, settings: parts)  # the session's Kiwi and encoder
    monkeypatch.setattr(confidence, "semantic_path", lambda: tmp_path / "semantic.json")
    monkeypatch.setattr(confidence, "default_path", lambda: tmp_path / "never.json")
    monkeypatch.setattr(topic, "topic_path", lambda: tmp_path / "topic.json")
    args = ["eval", "--splits", *map(str, files), "--encoder", "use-m3", "--news", str(tmp_path), "--from-rows", str(rows_file)]
    assert main([*args, "--fit", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    written = confidence.load(tmp_path / "semantic.json")
    assert not (tmp_path / "never.json").exists() and (tmp_path / "topic.json").is_file()
    assert written.sure == pytest.approx(out["thresholds"]["sure"], abs=1e-6)
    assert written.sure_cross is not None and written.sure_cross >= written.sure
    assert "--news" in written.fitted["command"] and "--from-rows" not in written.fitted["command"]
    assert set(written.fitted["features_chosen"]) >= {"base", "shown sentence", "anchors"}
    assert out["shown"]["report"]["news"]["n"] == sum(1 for r in refit_rows() if r.half == "report" and splits.is_news(r))
    # the table form prints the reliability table as Markdown
    assert main([*args, "--model", str(tmp_path / "semantic.json")]) == 0
    text = capsys.readouterr().out
    assert "Reliability, REPORT news:" in text and "| confidence bin |" in text
    # a rows file that is not one is a clear error, not a traceback
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", "utf-8")
    assert main(["eval", "--splits", *map(str, files), "--encoder", "use-m3", "--from-rows", str(bad)]) == 2
    assert "not a rows file" in capsys.readouterr().err
