"""The engine keeps the store in line with the corpus folder: only what changed is read and
analysed, damage is rebuilt, and a broken file never stops serving."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from retrieval import Analyzer, CorpusError
from retrieval.index.segments.store import COMMIT, SegmentStore


def _cited(quotes) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    """What a reader sees of quotes (passage uids are new after a rebuild)."""
    return [(q.text, q.source, q.sentences) for q in quotes]


def _segments(engine) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.seg.name for s in engine.store.snapshot().segs]


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta", "format", "missing", "commit"])
def test_damaged_index_is_rebuilt(make_engine, damage: str, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    good = engine.ask("What did the Kremlin say?")
    index = engine.data_dir / "index"
    [name] = _segments(engine)
    target = index / f"{name}.seg"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:-7])
    elif damage == "flip":
        raw = bytearray(target.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        target.write_bytes(bytes(raw))
    elif damage == "meta":
        (index / f"{name}.json").write_text("{not json")
    elif damage == "format":
        commit = json.loads((index / COMMIT).read_text())
        commit["format"] = 3
        (index / COMMIT).write_text(json.dumps(commit))
    elif damage == "missing":
        target.unlink()
    else:
        (index / COMMIT).write_bytes(b"\x00" * 10)
    assert SegmentStore(index).damaged  # what a reader sees: the damage, never half data
    again = make_engine()
    assert "rebuilt" in caplog.text
    assert _cited(again.ask("What did the Kremlin say?").quotes) == _cited(good.quotes)
    assert not SegmentStore(index).damaged  # the rebuilt index is sound


def test_an_index_written_by_the_previous_format_is_rebuilt(make_engine, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    index = engine.data_dir / "index"
    shutil.rmtree(index)
    (index / "v3-1700000000").mkdir(parents=True)  # what the monolithic index of format 3 left
    (index / "v3-1700000000" / "meta.json").write_text('{"format": 3}')
    (index / "CURRENT").write_text("v3-1700000000")
    again = make_engine()
    assert "older quoteqa" in caplog.text and "rebuilt" in caplog.text
    assert again.ask("What did the Kremlin say?").answered
    assert not (index / "CURRENT").exists() and not (index / "v3-1700000000").exists()


def test_index_follows_corpus_changes(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    assert not engine.ask("What does the aardvark eat?").answered
    (engine.corpus_dir / "aardvark.txt").write_text("The aardvark eats ants and termites at night.\n", "utf-8")
    engine = make_engine()
    answer = engine.ask("What does the aardvark eat?")
    assert answer.answered and answer.quotes[0].text == "The aardvark eats ants and termites at night."
    assert engine.last_sync.added == ["aardvark"]
    (engine.corpus_dir / "aardvark.txt").unlink()
    engine = make_engine()
    assert not engine.ask("What does the aardvark eat?").answered
    assert [a.id for a in engine.sources()] == ["clubhouse-putin-musk"] and engine.last_sync.removed == ["aardvark"]


def test_stale_index_never_served_after_edit(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    (engine.corpus_dir / "zebra.txt").write_text("Zebras have stripes.\n", "utf-8")
    engine = make_engine()
    (engine.corpus_dir / "zebra.txt").write_text("Zebras are striped horses of Africa.\n", "utf-8")
    os.utime(engine.corpus_dir / "zebra.txt", ns=(1, 1))  # even with an old time: the size differs
    engine = make_engine()
    assert engine.last_sync.replaced == ["zebra"]
    assert engine.ask("What are zebras?").quotes[0].text == "Zebras are striped horses of Africa."
    assert engine.store.snapshot().n_passages == 20


def test_opening_a_current_index_reads_and_analyses_nothing(make_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    calls: list[str] = []
    monkeypatch.setattr(Analyzer, "analyze_passages", lambda self, texts: calls.append("analyse") or iter(()))
    import retrieval.corpus.sync as sync_module

    monkeypatch.setattr(sync_module, "file_digest", lambda path: calls.append(f"hash {path.name}") or "")
    again = make_engine()
    assert calls == [] and again.store.snapshot().n_passages == engine.store.snapshot().n_passages


def test_ingest_reads_and_analyses_only_the_new_file(
    make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    n, segments = engine.store.snapshot().n_passages, _segments(engine)
    import retrieval.corpus.sync as sync_module

    parsed: list[str] = []
    real_parse = sync_module.parse_file
    monkeypatch.setattr(sync_module, "parse_file", lambda path: parsed.append(path.name) or real_parse(path))
    src = tmp_path / "in" / "wire.jsonl"
    src.parent.mkdir()
    src.write_text(
        json.dumps(
            {"id": "okapi-1", "title": "Okapis", "text": "Okapis live in the Ituri rainforest.\n\nThey eat leaves."}
        )
        + "\n"
    )
    assert engine.ingest([src]).added == ["okapi-1"]
    # the rest of the corpus was not parsed again; the new file twice: its articles' keys at the
    # sync, their texts when the write takes them (a build holds no text before its batch)
    assert parsed == ["wire.jsonl", "wire.jsonl"]
    assert engine.store.snapshot().n_passages == n + 2 and _segments(engine)[:-1] == segments  # one new segment
    reopened = make_engine()
    assert reopened.store.snapshot().n_passages == n + 2
    assert reopened.ask("Where do okapis live?").quotes[0].text == "Okapis live in the Ituri rainforest."
    assert _cited(reopened.ask("What did the Kremlin say?").quotes) == _cited(
        engine.ask("What did the Kremlin say?").quotes
    )


def test_a_broken_file_is_skipped_and_never_stops_serving(make_engine, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    good = engine.ask("What did the Kremlin say?").quotes
    (engine.corpus_dir / "latin1.txt").write_bytes("Caf\xe9 au lait, s'il vous pla\xeet.\n".encode("latin-1"))
    again = make_engine()  # a fresh open, as `ask` and the bot do
    assert _cited(again.ask("What did the Kremlin say?").quotes) == _cited(good)
    assert "latin1.txt" in caplog.text and "UTF-8" in caplog.text
    [(name, why)] = again.last_sync.skipped
    assert name == "latin1.txt" and "save it as UTF-8" in why and "until it is fixed or removed" in why
    assert again.reload().skipped == again.last_sync.skipped  # reported every time until fixed
    (engine.corpus_dir / "latin1.txt").write_text("Café au lait is coffee with hot milk.\n", "utf-8")
    assert again.reload().added == ["latin1"] and again.reload().skipped == []


def test_a_file_that_breaks_keeps_what_it_held(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    (engine.corpus_dir / "feed.jsonl").write_text(
        json.dumps({"id": "okapi", "title": "Okapi", "text": "The okapi lives in the Congo."}) + "\n"
    )
    engine.reload()
    (engine.corpus_dir / "feed.jsonl").write_text("{oops\n")
    report = engine.reload()
    assert [n for n, _ in report.skipped] == ["feed.jsonl"] and report.skipped[0][1].startswith(
        "line 1: not valid JSON"
    )
    assert engine.ask("Where does the okapi live?").quotes[0].text == "The okapi lives in the Congo."


def test_duplicate_id_across_files_is_skipped_with_a_warning(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    (engine.corpus_dir / "a.jsonl").write_text(
        json.dumps({"id": "dup", "title": "A", "text": "One text about walruses."}) + "\n"
    )
    engine.reload()
    (engine.corpus_dir / "b.jsonl").write_text(
        json.dumps({"id": "dup", "title": "B", "text": "Another text about narwhals."}) + "\n"
    )
    report = engine.reload()
    assert report.skipped == [("b.jsonl", "article id 'dup' is also in a.jsonl with different text; rename one")]
    assert engine.ask("What about walruses?").quotes[0].text == "One text about walruses."
    assert not any("narwhals" in q.text for q in engine.ask("What about narwhals?").quotes)  # b.jsonl's was not indexed


def test_identical_article_in_two_files_survives_removal_of_one(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    row = json.dumps({"id": "twin", "title": "Twin", "text": "Twin okapis were born at the zoo."}) + "\n"
    (engine.corpus_dir / "a.jsonl").write_text(row)
    (engine.corpus_dir / "b.jsonl").write_text(row)
    engine.reload()
    n = engine.store.snapshot().n_passages
    (engine.corpus_dir / "a.jsonl").unlink()
    engine.reload()
    assert engine.store.snapshot().n_passages == n
    assert engine.ask("Where were the twin okapis born?").answered


def test_rebuild_analyses_everything_into_new_segments(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    before, good = _segments(engine), engine.ask("What did the Kremlin say?").quotes
    report = engine.rebuild()
    assert report.articles == 1 and set(_segments(engine)).isdisjoint(before)
    assert _cited(engine.ask("What did the Kremlin say?").quotes) == _cited(good)


def test_a_question_is_answered_from_the_commit_live_when_it_started(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    snapshot = engine.store.snapshot()
    (engine.corpus_dir / "clubhouse-putin-musk.txt").unlink()
    (engine.corpus_dir / "clubhouse-putin-musk.meta.json").unlink()
    (engine.corpus_dir / "x.txt").write_text("Something else entirely.\n")
    engine.reload()
    old = engine.path.ask(snapshot, "What did the Kremlin say?")
    assert old.answered and "Peskov" in old.quotes[0].text
    assert not any("Peskov" in q.text for q in engine.ask("What did the Kremlin say?").quotes)


def test_another_process_commit_is_picked_up_by_a_running_engine(
    make_engine, tmp_path: Path, analyzer: Analyzer
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    other = make_engine()  # stands for a second process: its own store object on the same folder
    (other.corpus_dir / "heron.txt").write_text("Grey herons nest in tall trees near water.\n", "utf-8")
    other.reload()
    assert engine.ask("Where do grey herons nest?").quotes[0].text == "Grey herons nest in tall trees near water."


def test_a_paragraph_button_survives_merges_and_restarts(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine()
    for i in range(3):
        (engine.corpus_dir / f"note-{i}.txt").write_text(
            f"Note {i}: the ferry to the island runs twice a day.\n", "utf-8"
        )
        engine.reload()
    quote = engine.ask("What did the Kremlin say?").quotes[0]
    text, source = engine.passage(quote.passage)
    assert len(engine.store.snapshot().segs) > 1
    engine.store.force_merge()
    assert len(engine.store.snapshot().segs) == 1
    assert make_engine().passage(quote.passage) == (text, source) and quote.text in " ".join(text.split())


def test_corpus_and_index_files_follow_the_umask(make_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o027)
    try:
        engine = make_engine()
        src = tmp_path / "in" / "heron.md"
        src.parent.mkdir()
        src.write_text("Herons wade in shallow water.\n", "utf-8")
        engine.ingest([src])
    finally:
        os.umask(old)
    written = [
        engine.corpus_dir / "heron.md",
        *(engine.data_dir / "index").iterdir(),
        *(engine.data_dir / "manifests").iterdir(),
    ]
    assert {p.stat().st_mode & 0o777 for p in written if p.is_file()} == {0o640}


def test_questions_from_many_threads_while_commits_land(make_engine) -> None:  # type: ignore[no-untyped-def]
    """The bot asks from a pool of threads; a commit by another process must reach each of them
    without a half-opened snapshot or a shared-cache race."""
    import threading

    engine = make_engine()
    other = make_engine()
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                assert engine.ask("What did the Kremlin say?").answered
            except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(6):
        (other.corpus_dir / f"tick-{i}.txt").write_text(f"Tick {i}: the tide came in at dawn.\n", "utf-8")
        other.reload()
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    engine.ask("When did the tide come in?")  # refreshes: the asking engine sees every commit
    assert engine.store.snapshot().df("tide") == 6


def test_the_engine_runs_on_the_in_memory_store_too(tmp_path: Path, analyzer: Analyzer) -> None:
    """The engine needs a Store, not the segment store: sync, ask, sources and paragraphs."""
    from retrieval import Engine, EngineConfig, MemoryStore
    from tests.conftest import CORPUS

    shutil.copytree(CORPUS, tmp_path / "corpus")
    engine = Engine(EngineConfig(tmp_path / "corpus", tmp_path / "data"), analyzer, MemoryStore(analyzer))
    assert engine.reload().added == ["clubhouse-putin-musk"]
    quote = engine.ask("What did the Kremlin say?").quotes[0]
    assert "Peskov" in quote.text and engine.passage(quote.passage)[1] == quote.source
    (tmp_path / "corpus" / "heron.txt").write_text("Grey herons nest in tall trees near water.\n", "utf-8")
    assert engine.reload().added == ["heron"] and [a.id for a in engine.sources()] == ["clubhouse-putin-musk", "heron"]


def test_twin_files_survive_damage_and_the_removal_of_the_first(make_engine) -> None:  # type: ignore[no-untyped-def]
    """Two files with the same bytes share a manifest; the survivor must be read by its own name."""
    engine = make_engine()
    row = json.dumps({"id": "twin", "title": "Twin", "text": "Twin okapis were born at the zoo."}) + "\n"
    (engine.corpus_dir / "a.jsonl").write_text(row)
    (engine.corpus_dir / "b.jsonl").write_text(row)
    engine.reload()
    (engine.corpus_dir / "a.jsonl").unlink()
    engine.reload()
    [name] = _segments(engine)[-1:]
    (engine.data_dir / "index" / f"{name}.seg").write_bytes(b"damaged")
    again = make_engine()
    assert again.ask("Where were the twin okapis born?").quotes[0].source.article == "twin"
    assert again.store.snapshot().article("twin").file == "b.jsonl"  # type: ignore[union-attr]


def test_ingesting_a_new_file_never_lists_the_corpus(
    make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """An ingest must cost what the new file costs: no step may walk every article."""
    from retrieval.index.segments.store import Snapshot

    engine = make_engine()

    def listing(self: object) -> None:
        raise AssertionError("the whole corpus was listed")

    monkeypatch.setattr(Snapshot, "article_hashes", listing)
    monkeypatch.setattr(Snapshot, "articles", listing)
    src = tmp_path / "in" / "heron.md"
    src.parent.mkdir()
    src.write_text("---\ntitle: Herons\n---\nHerons wade in shallow water.\n", "utf-8")
    assert engine.ingest([src]).added == ["heron"]
    assert engine.ingest([src]).unchanged == ["heron"]


def test_jsonl_correction_and_removal_touch_only_their_row(make_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A corrected title in a .jsonl re-ingest rewrites that row; `remove` drops one row of a
    file that holds others, and a whole single-article file (with its sidecar)."""
    rows = [
        {"id": "okapi", "title": "Okapis", "text": "The okapi lives in the Congo."},
        {"id": "quokka", "title": "Quokkas", "text": "The quokka lives on Rottnest Island."},
    ]
    feed = tmp_path / "animals.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    engine = make_engine()
    assert engine.ingest([feed]).added == ["okapi", "quokka"]
    rows[0]["title"] = "Okapis, the forest giraffes"
    fix = tmp_path / "fix.jsonl"
    fix.write_text(json.dumps(rows[0]) + "\n", "utf-8")
    report = engine.ingest([fix])
    assert report.updated == ["okapi"] and not report.added
    assert engine.store.snapshot().article("okapi").title == "Okapis, the forest giraffes"
    assert not (engine.corpus_dir / "fix.jsonl").exists()  # corrected in place, in animals.jsonl
    engine.remove("okapi")
    assert engine.store.snapshot().article("okapi") is None and engine.store.snapshot().article("quokka") is not None
    assert [
        json.loads(line)["id"] for line in (engine.corpus_dir / "animals.jsonl").read_text("utf-8").splitlines()
    ] == ["quokka"]
    engine.remove("clubhouse-putin-musk")
    assert not list(engine.corpus_dir.glob("clubhouse-putin-musk*")) and engine.store.snapshot().n_articles == 1
    with pytest.raises(CorpusError, match="no article .clubhouse-putin-musk."):
        engine.remove("clubhouse-putin-musk")
