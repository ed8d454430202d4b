"""The anchors column (retrieval/index/segments/columns/anchors.py): each passage's names, numbers
and terms stored beside its segment with postings, written, merged, verified and, when missing,
the index rebuilt from the corpus. Real Kiwi, real file-backed stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, open_engine

from retrieval import Analyzer, Article, EngineConfig, SegmentStore
from retrieval.index.segments.columns import anchors as column

PESKOV = "드미트리 페스코프 크렘린궁 대변인은 5200만달러 규모의 계약을 발표했다."
PUTIN = "Vladimir Putin met Donald Trump in Helsinki on Monday."
BIDEN = "Joe Biden said three people died in the 1966 flood."


def _uid_of(store: SegmentStore, text: str) -> int:
    snap = store.snapshot()
    return next(int(u) for u in snap.uids() if snap.passage(int(u)).text == text)


def test_keys_are_stored_per_passage_with_postings_and_read_back_from_disk(tmp_path: Path, analyzer: Analyzer) -> None:
    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("ko", "K", (PESKOV,)), Article("en", "E", (PUTIN,))])
    [seg] = [s.seg.name for s in store.snapshot().segs]
    assert (index / f"{seg}{column.SUFFIX}").is_file()
    snap = SegmentStore(index, analyzer).snapshot()  # opened again: read from NAME.anc
    ko, en = _uid_of(store, PESKOV), _uid_of(store, PUTIN)
    ko_keys = {k for k, _ in snap.passage_anchors(ko)}
    # the Hangul name, the dollar amount with its unit, the glossary's Kremlin and spokesman
    assert {"name:pskp", "num:52000000:usd", "term:kremlin", "term:spokesman"} <= ko_keys
    assert "name:pskp" not in {k for k, _ in snap.passage_anchors(en)}
    found = snap.anchor_passages(["name:pskp", "term:monday", "name:nothere"])
    assert found["name:pskp"].tolist() == [ko] and found["term:monday"].tolist() == [en]
    assert "name:nothere" not in found
    assert snap.anchor_keys() >= ko_keys


def test_a_merge_carries_the_keys_of_live_passages_only(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add([Article("ko", "K", (PESKOV,))])
    store.add([Article("en", "E", (PUTIN,))])
    store.add([Article("bd", "B", (BIDEN,))])
    store.remove(["en"])
    store.force_merge()
    snap = store.snapshot()
    assert len(snap.segs) == 1
    assert "term:monday" not in snap.anchor_keys()  # the removed passage's keys are gone
    bd = _uid_of(store, BIDEN)
    assert {"year:1966", "num:3:ppl"} <= {k for k, _ in snap.passage_anchors(bd)}
    assert snap.anchor_passages(["name:pskp"])["name:pskp"].tolist() == [_uid_of(store, PESKOV)]
    assert store.verify() == []


def test_a_damaged_anchors_file_is_reported_by_verify(tmp_path: Path, analyzer: Analyzer) -> None:
    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("ko", "K", (PESKOV,))])
    [seg] = [s.seg.name for s in store.snapshot().segs]
    path = index / f"{seg}{column.SUFFIX}"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    problems = store.verify()
    assert len(problems) == 1 and seg in problems[0] and path.name in problems[0]


def test_an_index_built_before_anchors_is_rebuilt_from_the_corpus(tmp_path: Path, analyzer: Analyzer) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    config = EngineConfig(corpus, tmp_path / "data", encoder="none")
    engine = open_engine(config, analyzer)
    n = engine.store.snapshot().n_passages
    index = tmp_path / "data" / "index"
    for f in index.glob(f"*{column.SUFFIX}"):
        f.unlink()  # what an index written by the previous quoteqa looks like
    reopened = open_engine(config, analyzer)
    snap = reopened.store.snapshot()
    assert snap.n_passages == n
    assert "term:kremlin" in snap.anchor_keys()  # rebuilt, with its anchors
    assert list(index.glob(f"*{column.SUFFIX}"))


@pytest.mark.parametrize(
    "text",
    ["Berlin¡¯s", "&#8212; &amp;", "A. B. C.", "BRUSSELS, Belgium (CNN) --", "1.2.3,,4", "", "ㅋㅋㅋ", "..."],
)
def test_odd_passages_are_stored_without_matching_everything(tmp_path: Path, analyzer: Analyzer, text: str) -> None:
    store = SegmentStore(tmp_path / "index", analyzer)
    store.add([Article("odd", "O", (text or "-",)), Article("ko", "K", (PESKOV,))])
    snap = store.snapshot()
    odd = next(int(u) for u in snap.uids() if snap.passage(int(u)).text == (text or "-"))
    keys = {k for k, _ in snap.passage_anchors(odd)}
    assert "name:pskp" not in keys and "num:52000000:usd" not in keys


def test_postings_are_built_without_numpy_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    """A segment's anchor postings at open: (key, passage) pairs deduplicated by a sort, not by
    `np.unique`, whose hash path in numpy 2.4 made opening the real 552k-passage index take 21 s
    (docs/performance.md, issue 28 item 4). Same postings as a set would give."""
    import numpy as np

    rng = np.random.default_rng(7)
    counts = rng.integers(0, 6, 400)
    pass_ptr = np.concatenate(([0], np.cumsum(counts)))
    pass_key = rng.integers(0, 30, int(pass_ptr[-1])).astype(np.int32)  # repeats within a passage too

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("np.unique called while opening a segment's anchors")

    monkeypatch.setattr(column.np, "unique", refused)
    anc = column.SegmentAnchors([f"k{i}" for i in range(30)], pass_ptr, pass_key, np.zeros(len(pass_key), np.int32))
    monkeypatch.undo()
    for key in range(30):
        want = sorted({p for p in range(400) if key in pass_key[pass_ptr[p] : pass_ptr[p + 1]].tolist()})
        assert anc.rows_of(f"k{key}").tolist() == want
    assert column.sorted_unique(np.array([], np.int64)).tolist() == []
    assert column.sorted_unique(np.array([5, 1, 5, 1, 3], np.int64)).tolist() == [1, 3, 5]


def _rewrite_anchors(path: Path, zipped: bool = False, **change: object) -> None:
    """The segment's .anc file again, its arrays as read with `change` applied (None: left out),
    in the mapped layout or (`zipped`) the older .npz one."""
    import numpy as np

    arrays = {k: np.array(v) for k, v in column.file_arrays(path, path.stem)[0].items() if k != "format"}
    for k, v in change.items():
        if v is None:
            arrays.pop(k, None)
        else:
            arrays[k] = v
    path.unlink()
    if zipped:  # the layout written before anchors were mapped
        with path.open("wb") as f:
            np.savez(f, format=np.array([column.ANCHORS_FORMAT], np.int64), **arrays)
    else:
        column.write_arrays(path, arrays)


def test_postings_are_read_as_written_and_a_file_without_them_still_opens(tmp_path: Path, analyzer: Analyzer) -> None:
    """The postings are stored with the segment, so opening reads them instead of sorting every
    (key, passage) pair again; a file written before they were stored makes them at open, the
    same ones."""
    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("ko", "K", (PESKOV,)), Article("en", "E", (PUTIN,)), Article("bd", "B", (BIDEN,))])
    [seg] = [s.seg.name for s in store.snapshot().segs]
    path = index / f"{seg}{column.SUFFIX}"
    assert {"post_ptr", "post_doc"} <= set(column.file_arrays(path, seg)[0])
    stored = column.read(index, seg, 3)
    made = column.SegmentAnchors(stored.keys, stored.pass_ptr, stored.pass_key, stored.pass_sent)
    assert stored.post_ptr.tolist() == made.post_ptr.tolist() and stored.post_doc.tolist() == made.post_doc.tolist()
    _rewrite_anchors(path, zipped=True, post_ptr=None, post_doc=None)  # as an index written before
    old = column.read(index, seg, 3)
    assert old.post_doc.tolist() == made.post_doc.tolist()
    snap = SegmentStore(index, analyzer).snapshot()
    assert snap.anchor_passages(["name:pskp"])["name:pskp"].tolist() == [_uid_of(store, PESKOV)]
    assert SegmentStore(index, analyzer).verify() == []


def test_stored_postings_that_do_not_fit_or_do_not_match_are_caught(tmp_path: Path, analyzer: Analyzer) -> None:
    """Out of range at open (the segment is dropped as damaged); in range but not what the keys
    say, by `verify`, which makes them again."""
    import numpy as np

    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("ko", "K", (PESKOV,)), Article("en", "E", (PUTIN,))])
    [seg] = [s.seg.name for s in store.snapshot().segs]
    path = index / f"{seg}{column.SUFFIX}"
    good = column.read(index, seg, 2)
    _rewrite_anchors(path, post_doc=np.full(len(good.post_doc), 7, np.int32))  # no passage 7
    with pytest.raises(column.IndexFormatError, match="do not fit"):
        column.read(index, seg, 2)
    swapped = 1 - good.post_doc  # two passages: each posting names the other one
    _rewrite_anchors(path, post_doc=swapped.astype(np.int32))
    column.read(index, seg, 2)  # fits
    problems = SegmentStore(index, analyzer).verify()
    assert len(problems) == 1 and "postings" in problems[0] and seg in problems[0]


def test_anchors_are_mapped_not_copied_and_the_older_zip_layout_still_opens(tmp_path: Path, analyzer: Analyzer) -> None:
    """A serving process keeps resident only the anchor pages its questions touch (issue 28: the
    arrays were ~105 MiB of a 552k index's own memory); an index written before reads the same."""
    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("ko", "K", (PESKOV,)), Article("en", "E", (PUTIN,)), Article("bd", "B", (BIDEN,))])
    [seg] = [s.seg.name for s in store.snapshot().segs]
    path = index / f"{seg}{column.SUFFIX}"
    mapped = column.read(index, seg, 3)
    for arr in (mapped.pass_ptr, mapped.pass_key, mapped.pass_sent, mapped.post_ptr, mapped.post_doc):
        assert not arr.flags.owndata and not arr.flags.writeable
    _rewrite_anchors(path, zipped=True)
    assert path.read_bytes()[:4] == column.ZIP_MAGIC
    zipped = column.read(index, seg, 3)
    assert zipped.keys == mapped.keys
    for name in ("pass_ptr", "pass_key", "pass_sent", "post_ptr", "post_doc"):
        assert getattr(zipped, name).tolist() == getattr(mapped, name).tolist()
    snap = SegmentStore(index, analyzer).snapshot()
    assert snap.anchor_passages(["name:pskp"])["name:pskp"].tolist() == [_uid_of(store, PESKOV)]


@pytest.mark.parametrize("where", ["arrays", "footer", "length"])
def test_a_damaged_mapped_anchors_file_is_caught_at_open(tmp_path: Path, analyzer: Analyzer, where: str) -> None:
    index = tmp_path / "index"
    store = SegmentStore(index, analyzer)
    store.add([Article("ko", "K", (PESKOV,)), Article("en", "E", (PUTIN,))])
    [seg] = [s.seg.name for s in store.snapshot().segs]
    path = index / f"{seg}{column.SUFFIX}"
    raw = bytearray(path.read_bytes())
    footer = int.from_bytes(raw[-8:], "little")
    at = {"arrays": 70, "footer": len(raw) - 8 - footer // 2, "length": len(raw) - 3}[where]
    raw[at] ^= 0x5A
    path.write_bytes(bytes(raw))
    with pytest.raises(column.IndexFormatError, match=path.name):
        column.read(index, seg, 2)
