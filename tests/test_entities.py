"""HTML entities in a corpus file are shown decoded, and quotes are cut from the decoded text
(retrieval/corpus/entities.py, retrieval/corpus/files.py, news/extract.py)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from conftest import normalize

from retrieval import Analyzer, EngineConfig
from retrieval.corpus.entities import decode_entities
from retrieval.corpus.files import parse_file


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("war &#8212; and peace", "war — and peace"),
        ("war &#x2014; peace", "war — peace"),
        ("AT&amp;T said &quot;no&quot;", 'AT&T said "no"'),
        ("&lsquo;Bye&rsquo; &hellip;", "‘Bye’ …"),
        ("&amp;#8212;", "&#8212;"),  # escaped twice: one layer off, as a browser shows it
    ],
)
def test_entities_are_decoded(raw: str, shown: str) -> None:
    assert decode_entities(raw) == shown


@pytest.mark.parametrize(
    "plain", ["R&D and M&A", "&copy 2020", "Q&A; more", "&foo; stays", "&notit; stays", "5 & 6", "&#;", "&"]
)
def test_ampersands_that_are_no_complete_entity_stay(plain: str) -> None:
    assert decode_entities(plain) == plain


def test_odd_references_never_raise() -> None:
    for raw in ("&#0;", "&#1114112;", "&#55296;", "&#9999999;", "&#x110000;", "&#1;"):
        out = decode_entities(f"a{raw}b")
        assert out.startswith("a") and out.endswith("b") and "&" not in out


def test_text_file_paragraphs_and_title_are_decoded(tmp_path: Path) -> None:
    f = tmp_path / "story.md"
    f.write_text(
        "---\ntitle: Tom &amp; Jerry &#8212; the sequel\n---\n"
        "He said &quot;never&quot; &#8212; twice.&#10;&#10;A second paragraph.\n\nR&D stays.\n",
        encoding="utf-8",
    )
    (art,) = parse_file(f)
    assert art.title == "Tom & Jerry — the sequel"
    assert art.paragraphs == ('He said "never" — twice.', "A second paragraph.", "R&D stays.")


def test_jsonl_text_and_title_are_decoded(tmp_path: Path) -> None:
    f = tmp_path / "wire.jsonl"
    row = {"id": "w1", "title": "Seoul &amp; Tokyo", "text": "Talks &#8212; again.\n\nIt&#8217;s over."}
    f.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (art,) = parse_file(f)
    assert (art.title, art.paragraphs) == ("Seoul & Tokyo", ("Talks — again.", "It’s over."))


def test_quote_is_the_decoded_text(tmp_path: Path, analyzer: Analyzer) -> None:
    """The answer quotes what the reader sees: no entity left, and verbatim a piece of the
    decoded file (not of the raw one, which holds `&#8212;`)."""
    from conftest import open_engine

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    raw = (
        "The harbour of Busan reopened on Monday after the storm.\n\n"
        "&quot;We lost three cranes &#8212; and two ships,&quot; said port chief Kim Min-su. "
        "Repairs will take six weeks, the port said.\n\n"
        "Fishing boats stayed in the harbour of Mokpo &amp; Yeosu.\n"
    )
    (corpus / "busan-port.txt").write_text(raw, encoding="utf-8")
    engine = open_engine(EngineConfig(corpus, tmp_path / "data", encoder="none"), analyzer)
    answer = engine.ask("What did port chief Kim Min-su say about the cranes?")
    assert answer.quotes
    first = answer.quotes[0].text
    assert "&#8212;" not in first and "&quot;" not in first
    assert "three cranes — and two ships" in first
    assert normalize(first) in normalize(html.unescape(raw))
    assert normalize(first) not in normalize(raw)
