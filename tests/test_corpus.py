from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import CorpusError
from retrieval.corpus.files import ingest, load_corpus, parse_file, split_paragraphs
from tests.conftest import CORPUS


def test_shipped_article_is_the_seed_byte_for_byte() -> None:
    seed = CORPUS.parent.parent / "shared" / "seed" / "clubhouse-putin-musk.txt"
    if not seed.exists():
        pytest.skip("shared/seed not beside the project")
    assert (CORPUS / "clubhouse-putin-musk.txt").read_bytes() == seed.read_bytes()


def test_shipped_corpus_metadata() -> None:
    [article] = load_corpus(CORPUS)
    assert article.source == "CNBC" and article.title
    assert len(article.paragraphs) == 19
    assert "\u00a0" in article.text  # non-breaking spaces are kept as published


def test_paragraphs_split_on_blank_lines() -> None:
    assert split_paragraphs("a\nb\n\n\n c \n \t\nd") == ("a\nb", "c", "d")


def test_front_matter(tmp_path: Path) -> None:
    f = tmp_path / "news.md"
    f.write_text(
        "---\ntitle: A Title\nsource: Yonhap\nurl: https://example.org/x\ndate: 2024-01-02\n---\nFirst.\n\nSecond.\n",
        "utf-8",
    )
    [a] = parse_file(f)
    assert (a.id, a.title, a.source, a.url, a.date, a.paragraphs) == (
        "news", "A Title", "Yonhap", "https://example.org/x", "2024-01-02", ("First.", "Second."),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"id": "a", "title": "T", "text": "x"}\n{"id": "b", "title": "T"\n', ":2: not valid JSON"),
        ('{"id": "a", "title": "T"}\n', ":1: missing or empty text"),
        ('["a"]\n', ":1: each line must be a JSON object"),
        ('{"id": "a/b", "title": "T", "text": "x"}\n', ":1: id"),
    ],
)
def test_broken_jsonl_names_file_and_line(tmp_path: Path, content: str, fragment: str) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(content, "utf-8")
    with pytest.raises(CorpusError, match=f"bad.jsonl{fragment}"):
        parse_file(f)


def test_non_utf8_and_unknown_types(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(CorpusError, match="latin.txt: not UTF-8"):
        parse_file(tmp_path / "latin.txt")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match="unsupported file type .pdf"):
        parse_file(tmp_path / "doc.pdf")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_ingest_is_all_or_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = tmp_path / "good.txt"
    good.write_text("A fine article.\n", "utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "title": "T", "text": "ok"}\nnot json\n', "utf-8")
    with pytest.raises(CorpusError, match="bad.jsonl:2"):
        ingest([good, bad], corpus)
    assert _snapshot(corpus) == {}


def test_reingest_does_not_duplicate(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    src = tmp_path / "feed.jsonl"
    rows = [
        {"id": "n1", "title": "One", "text": "First story.\n\nMore."},
        {"id": "n2", "title": "Two", "text": "Second story."},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    first = ingest([src], corpus)
    assert first.added == ["n1", "n2"]
    before = _snapshot(corpus)
    second = ingest([src], corpus)
    assert second.added == [] and sorted(second.unchanged) == ["n1", "n2"]
    assert _snapshot(corpus) == before
    assert [a.id for a in load_corpus(corpus)] == ["n1", "n2"]


def test_conflicting_id_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    src = tmp_path / "feed.jsonl"
    src.write_text(json.dumps({"id": "n1", "title": "One", "text": "First."}) + "\n", "utf-8")
    ingest([src], corpus)
    before = _snapshot(corpus)
    src.write_text(json.dumps({"id": "n1", "title": "One", "text": "Different."}) + "\n", "utf-8")
    with pytest.raises(CorpusError, match="already in the corpus"):
        ingest([src], corpus)
    assert _snapshot(corpus) == before


def test_engine_ingest_indexes_only_new_text(make_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    n = engine.store.snapshot().n_passages
    art = tmp_path / "in" / "pangolin.md"
    art.parent.mkdir()
    art.write_text("---\ntitle: Pangolins\nsource: Test Wire\n---\nPangolins are covered in scales.\n", "utf-8")
    report = engine.ingest([art.parent])
    assert report.added == ["pangolin"]
    assert engine.store.snapshot().n_passages == n + 1
    quote = engine.ask("What are pangolins covered in?").quotes[0]
    assert quote.text == "Pangolins are covered in scales." and quote.source.source == "Test Wire"
    assert engine.ingest([art]).added == []
    assert engine.store.snapshot().n_passages == n + 1


def test_an_article_taken_after_its_file_changed_stops_the_write(tmp_path: Path) -> None:
    """A sync keeps each article's key, not its text, and the write reads the text again when
    it takes the article (`sync._FileArticles`): an article whose file changed in between is a
    CorpusError naming the file, never indexed under the key the sync read."""
    from build_support import write_batch

    from retrieval.corpus.sync import _FileArticles, _known

    path = tmp_path / "a.jsonl"
    write_batch(path, "a", 5)
    known = _known(path)
    refs = [(path.name, row, k) for row, k in enumerate(known)]
    source = _FileArticles(tmp_path, refs).source()
    assert source.ids == [k.key.id for k in known] and source.sizes == [2] * 5
    assert [a.id for a in source.take([1, 3])] == ["a-1", "a-3"] and [a.id for a in source] == source.ids
    path.write_text(path.read_text("utf-8").replace("day 3.", "day 33."), "utf-8")
    again = _FileArticles(tmp_path, refs).source()
    assert [a.id for a in again.take([0, 1, 2])] == ["a-0", "a-1", "a-2"]  # unchanged articles read as they were
    with pytest.raises(CorpusError, match="changed while it was being indexed"):
        again.take([3])
