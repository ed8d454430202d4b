from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval import Analyzer, SearchParams
from retrieval.bm25 import idf
from retrieval.errors import IndexFormatError
from retrieval.index import ArticleMeta, Index, PassageInput
from tests.conftest import CORPUS, SHARED_DATA


def _build(texts: list[str], analyzer: Analyzer, params: SearchParams | None = None) -> Index:
    arts = [ArticleMeta(id="a", title="t")]
    return Index.build(arts, [PassageInput(0, i + 1, t) for i, t in enumerate(texts)], analyzer, params)


def _passage_tokens(index: Index) -> list[list[str]]:
    out = []
    for p in range(index.n_passages):
        out.append([index.vocab[t] for r in index.sentence_rows(p) for t in index.sentence_terms(r).tolist()])
    return out


def _assert_okapi_parity(texts: list[str], questions: list[str], analyzer: Analyzer) -> None:
    index = _build(texts, analyzer, SearchParams("okapi", 1.5, 0.75))
    docs = _passage_tokens(index)
    oracle = BM25Okapi(docs, k1=1.5, b=0.75)
    checked = 0
    for q in questions:
        terms = analyzer.terms(q)
        if not terms:
            continue
        ours = index.scores(terms)
        ref = oracle.get_scores(terms)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
        top = [p for p, _ in index.search(terms, 10)]
        assert set(top) == set(int(i) for i in np.argsort(-ref, kind="stable")[:10] if ref[i] > 0)
        checked += 1
    assert checked >= len(questions) // 2


def test_okapi_matches_rank_bm25_on_seed(analyzer: Analyzer) -> None:
    text = (CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    questions = ["What did the Kremlin say?", "크렘린궁은 뭐라고 했나요?", "Putin Clubhouse Musk", "푸틴 대통령 클럽하우스 머스크", "social media app"]
    _assert_okapi_parity(paragraphs, questions, analyzer)


def test_okapi_matches_rank_bm25_on_korquad(analyzer: Analyzer) -> None:
    path = SHARED_DATA / "KorQuAD_v1.0_dev.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    data = json.loads(path.read_text("utf-8"))["data"]
    paras = [p for art in data for p in art["paragraphs"]][:300]
    texts = [p["context"] for p in paras]
    questions = [qa["question"] for p in paras[::10] for qa in p["qas"][:1]]
    _assert_okapi_parity(texts, questions, analyzer)


def test_lucene_idf_formula() -> None:
    df = np.array([1, 5, 10, 0])
    got = idf(df, 10, "lucene")
    want = np.log(1 + (10 - df + 0.5) / (df + 0.5))
    np.testing.assert_allclose(got[:3], want[:3])
    assert got[3] == 0 and (got[:3] > 0).all()


def test_incremental_add_equals_full_build(analyzer: Analyzer) -> None:
    texts = ["Putin met Musk.", "크렘린궁 대변인은 말했다.", "The Kremlin said the proposal was interesting.", "Clubhouse is an app."]
    full = _build(texts, analyzer)
    grown = _build(texts[:2], analyzer)
    grown.add([ArticleMeta(id="b", title="t2")], [PassageInput(0, i + 1, t) for i, t in enumerate(texts[2:])], analyzer)
    for q in ["Kremlin said", "크렘린궁", "Clubhouse app Musk"]:
        np.testing.assert_allclose(full.scores(analyzer.terms(q)), grown.scores(analyzer.terms(q)), rtol=1e-6)


def test_remove_articles_equals_build_without_them(analyzer: Analyzer) -> None:
    index = _build(["Putin met Musk.", "The Kremlin spoke."], analyzer)
    index.add([ArticleMeta(id="b", title="t2")], [PassageInput(0, 1, "Musk likes Clubhouse a lot.")], analyzer)
    assert index.remove_articles(lambda a: a.id != "a") == 1
    alone = Index.build([ArticleMeta(id="b", title="t2")], [PassageInput(0, 1, "Musk likes Clubhouse a lot.")], analyzer)
    assert index.n_passages == 1 and index.passage_text(0) == "Musk likes Clubhouse a lot."
    np.testing.assert_allclose(index.scores(["musk", "clubhous"]), alone.scores(["musk", "clubhous"]))


def test_save_load_round_trip(tmp_path: Path, analyzer: Analyzer) -> None:
    index = _build(["Putin met Musk.", "크렘린궁 대변인은 “흥미로운 제안”이라고 말했다."], analyzer)
    index.save(tmp_path / "idx")
    loaded = Index.load(tmp_path / "idx")
    assert loaded.vocab == index.vocab and loaded.n_passages == 2
    assert loaded.passage_text(1) == index.passage_text(1)
    for q in ["Musk", "크렘린궁 제안"]:
        np.testing.assert_allclose(loaded.scores(analyzer.terms(q)), index.scores(analyzer.terms(q)))


def _current_dir(data: Path) -> Path:
    idx = data / "index"
    return idx / (idx / "CURRENT").read_text().strip()


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta", "format", "missing"])
def test_corrupt_index_is_rebuilt(make_engine, damage: str, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    good = engine.ask("What did the Kremlin say?")
    version = _current_dir(engine.data_dir)
    target = version / "post_doc.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:-7])
    elif damage == "flip":
        raw = bytearray(target.read_bytes())
        raw[-3] ^= 0xFF
        target.write_bytes(bytes(raw))
    elif damage == "meta":
        (version / "meta.json").write_text("{not json")
    elif damage == "format":
        meta = json.loads((version / "meta.json").read_text())
        meta["format"] = 1
        (version / "meta.json").write_text(json.dumps(meta))
    else:
        target.unlink()
    with pytest.raises(IndexFormatError):
        Index.load(engine.index_dir)
    again = make_engine()
    assert "rebuilding the index" in caplog.text
    assert again.ask("What did the Kremlin say?").quotes == good.quotes
    Index.load(again.index_dir)  # the rebuilt index is sound


def test_index_follows_corpus_changes(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    assert not engine.ask("What does the aardvark eat?").answered
    (engine.corpus_dir / "aardvark.txt").write_text("The aardvark eats ants and termites at night.\n", "utf-8")
    engine = make_engine()
    answer = engine.ask("What does the aardvark eat?")
    assert answer.answered and answer.quotes[0].text == "The aardvark eats ants and termites at night."
    (engine.corpus_dir / "aardvark.txt").unlink()
    engine = make_engine()
    assert not engine.ask("What does the aardvark eat?").answered
    assert [a.id for a in engine.sources()] == ["clubhouse-putin-musk"]


def test_stale_index_never_served_after_edit(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    (engine.corpus_dir / "zebra.txt").write_text("Zebras have stripes.\n", "utf-8")
    engine = make_engine()
    (engine.corpus_dir / "zebra.txt").write_text("Zebras are striped horses of Africa.\n", "utf-8")
    engine = make_engine()
    quote = engine.ask("What are zebras?").quotes[0]
    assert quote.text == "Zebras are striped horses of Africa."
    assert engine.index.n_passages == 20


def test_seed_parity_with_random_queries(analyzer: Analyzer) -> None:
    """Random bags of corpus words, repeated words included, score exactly as rank-bm25 does."""
    text = (CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    index = _build(paragraphs, analyzer, SearchParams("okapi", 1.2, 0.75))
    oracle = BM25Okapi(_passage_tokens(index), k1=1.2, b=0.75)
    rng = random.Random(7)
    for _ in range(50):
        q = [rng.choice(index.vocab) for _ in range(rng.randint(1, 6))]
        np.testing.assert_allclose(index.scores(q), oracle.get_scores(q), rtol=1e-5, atol=1e-5)


def test_copy_of_index_dir_loads_elsewhere(tmp_path: Path, analyzer: Analyzer) -> None:
    index = _build(["Putin met Musk."], analyzer)
    index.save(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert Index.load(tmp_path / "b").passage_text(0) == "Putin met Musk."


def test_engine_uses_saved_index_without_reanalysis(make_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    calls = []
    monkeypatch.setattr(Analyzer, "analyze_passages", lambda self, texts: calls.append(1) or iter(()))
    again = make_engine()
    assert calls == [] and again.index.n_passages == engine.index.n_passages
