"""Passage vectors as int8 codes: size, fidelity, exact search, checksum (retrieval/index/vectors.py)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.index.vectors import checksum, dequantise, quantise, row_norms, top_k, top_k_float


def unit(n: int, d: int = 512, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_passage_costs_dim_bytes_and_keeps_its_direction() -> None:
    v = unit(500)
    codes = quantise(v)
    assert codes.dtype == np.int8 and codes.nbytes == 500 * 512  # 512 B a passage at d=512
    back = dequantise(codes)
    cos = np.einsum("ij,ij->i", v, back)
    assert cos.min() > 0.995
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)


def test_exact_search_over_codes_matches_float_search() -> None:
    v = unit(5000, seed=1)
    q = unit(20, seed=2)
    codes = quantise(v)
    norms = row_norms(codes)
    recall = []
    for x in q:
        rows, sims = top_k(codes, norms, x, 10)
        ref, _ = top_k_float(v, x, 10)
        recall.append(len(set(rows.tolist()) & set(ref.tolist())) / 10)
        assert np.all(np.diff(sims) <= 0)
    assert np.mean(recall) >= 0.98


def test_search_finds_a_planted_neighbour_and_respects_tombstones() -> None:
    v = unit(3000, seed=3)
    q = v[1234] + 0.05 * unit(1, seed=4)[0]
    q /= np.linalg.norm(q)
    codes = quantise(v)
    norms = row_norms(codes)
    rows, _ = top_k(codes, norms, q, 5)
    assert rows[0] == 1234
    live = np.ones(len(v), bool)
    live[1234] = False
    rows, _ = top_k(codes, norms, q, 5, live)
    assert 1234 not in rows.tolist() and len(rows) == 5


def test_checksum_sees_one_changed_byte_and_a_reshape() -> None:
    codes = quantise(unit(100))
    c = checksum(codes)
    other = codes.copy()
    other[50, 7] ^= 1
    assert checksum(other) != c
    assert checksum(codes.reshape(200, 256)) != c
    assert checksum(codes.copy()) == c


def test_bad_vectors_are_a_clear_error() -> None:
    with pytest.raises(ValueError):
        quantise(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError):
        quantise(np.ones(4))
    assert top_k(quantise(unit(3)), row_norms(quantise(unit(3))), unit(1)[0], 0)[0].size == 0
