"""Growing a saved index: only new text is analysed, and only the appended part is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval import Analyzer, CorpusError
from retrieval.errors import IndexFormatError
from retrieval.index import ArticleMeta, Index, PassageInput


def _meta(directory: Path) -> dict[str, object]:
    return json.loads((directory / (directory / "CURRENT").read_text().strip() / "meta.json").read_text())


TEXTS = ["Putin met Musk.", "크렘린궁 대변인은 말했다.", "The Kremlin said the proposal was interesting.", "Clubhouse is an app."]


def test_delta_save_loads_as_full_build(tmp_path: Path, analyzer: Analyzer) -> None:
    full = Index.build([ArticleMeta("a", "t")], [PassageInput(0, i + 1, t) for i, t in enumerate(TEXTS)], analyzer)
    grown = Index.build([ArticleMeta("a", "t")], [PassageInput(0, i + 1, t) for i, t in enumerate(TEXTS[:2])], analyzer)
    grown.save(tmp_path / "idx")
    grown.add([ArticleMeta("b", "t2")], [PassageInput(0, i + 1, t) for i, t in enumerate(TEXTS[2:])], analyzer)
    grown.save(tmp_path / "idx")
    meta = _meta(tmp_path / "idx")
    assert meta["delta"] is True and meta["base"]["passages"] == 2  # type: ignore[index]
    loaded = Index.load(tmp_path / "idx")
    assert loaded.n_passages == 4 and loaded.passage_text(3) == TEXTS[3] and loaded.vocab == grown.vocab
    for q in ["Kremlin said", "크렘린궁", "Clubhouse app Musk"]:
        np.testing.assert_allclose(loaded.scores(analyzer.terms(q)), full.scores(analyzer.terms(q)), rtol=1e-6)
    # Removing an article rewrites everything (the base no longer is a prefix).
    loaded.remove_articles(lambda a: a.id != "a")
    loaded.save(tmp_path / "idx")
    assert _meta(tmp_path / "idx")["delta"] is False
    again = Index.load(tmp_path / "idx")
    assert again.n_passages == 2 and again.passage_text(0) == TEXTS[2]


def test_damaged_delta_is_refused(tmp_path: Path, analyzer: Analyzer) -> None:
    index = Index.build([ArticleMeta("a", "t")], [PassageInput(0, 1, TEXTS[0])], analyzer)
    index.save(tmp_path / "idx")
    index.add([ArticleMeta("b", "t")], [PassageInput(0, 1, TEXTS[2])], analyzer)
    version = tmp_path / "idx" / index.save(tmp_path / "idx")
    raw = bytearray((version / "delta.tokens.npy").read_bytes())
    raw[-1] ^= 0xFF
    (version / "delta.tokens.npy").write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match="checksum"):
        Index.load(tmp_path / "idx")


def test_engine_ingest_reads_and_analyses_only_the_new_file(make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    n = engine.index.n_passages
    parsed: list[str] = []
    import retrieval.corpus as corpus

    real_parse = corpus.parse_file
    monkeypatch.setattr(corpus, "parse_file", lambda path: parsed.append(path.name) or real_parse(path))
    src = tmp_path / "in" / "wire.jsonl"
    src.parent.mkdir()
    src.write_text(json.dumps({"id": "okapi-1", "title": "Okapis", "text": "Okapis live in the Ituri rainforest.\n\nThey eat leaves."}) + "\n")
    assert engine.ingest([src]).added == ["okapi-1"]
    assert "clubhouse-putin-musk.txt" not in parsed  # the existing corpus was not parsed again
    assert engine.index.n_passages == n + 2
    assert _meta(engine.index_dir)["delta"] is True
    reopened = make_engine()
    assert reopened.index.n_passages == n + 2
    assert reopened.ask("Where do okapis live?").quotes[0].text == "Okapis live in the Ituri rainforest."
    assert reopened.ask("What did the Kremlin say?").quotes == engine.ask("What did the Kremlin say?").quotes


def test_duplicate_id_across_files_is_still_an_error(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    (engine.corpus_dir / "a.jsonl").write_text(json.dumps({"id": "dup", "title": "A", "text": "One text."}) + "\n")
    engine.reload()
    (engine.corpus_dir / "b.jsonl").write_text(json.dumps({"id": "dup", "title": "B", "text": "Another text."}) + "\n")
    with pytest.raises(CorpusError, match="'dup' is in both a.jsonl and b.jsonl"):
        engine.reload()


def test_identical_article_in_two_files_survives_removal_of_one(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    row = json.dumps({"id": "twin", "title": "Twin", "text": "Twin okapis were born at the zoo."}) + "\n"
    (engine.corpus_dir / "a.jsonl").write_text(row)
    (engine.corpus_dir / "b.jsonl").write_text(row)
    engine.reload()
    n = engine.index.n_passages
    (engine.corpus_dir / "a.jsonl").unlink()
    engine.reload()
    assert engine.index.n_passages == n
    assert engine.ask("Where were the twin okapis born?").answered


def test_sparse_and_dense_top_k_agree(analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries with few postings score only their candidates; the ranking must not change."""
    import random

    import retrieval.index as index_module
    from tests.conftest import CORPUS

    paragraphs = [p for p in (CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8").split("\n\n") if p.strip()]
    index = Index.build([ArticleMeta("a", "t")], [PassageInput(0, i + 1, t) for i, t in enumerate(paragraphs * 3)], analyzer)
    rng = random.Random(3)
    for _ in range(40):
        q = [rng.choice(index.vocab) for _ in range(rng.randint(1, 5))]
        monkeypatch.setattr(index_module, "SPARSE_FACTOR", 0)
        dense = index.search(q, 10)
        monkeypatch.setattr(index_module, "SPARSE_FACTOR", 10**9)
        assert index.search(q, 10) == dense
