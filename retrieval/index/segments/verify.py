"""Checking a store folder byte for byte and rebuilding what is damaged (Lucene's CheckIndex).

`check` reads every file the commit names: COMMIT and its copy, each segment's table and
arrays (every block against its checksum, then the arrays against each other: row counts,
texts that decode, sentence offsets inside their text, postings recomputed from the terms),
its tombstones, and its derived files (`components.py`: the HNSW graph, the uid runs), then the
commit's translation-twin links (`twins/links.py`: their checksums, and every link between
live articles with the text hashes it was made for). Each problem names its file. It changes
nothing.

`rebuild` makes a damaged segment again from its articles (the corpus folder's copies, found
by the caller) with the uids it had (`recovery.py`), so answers afterwards are the same bytes.
The caller (`retrieval/corpus/verify.py`) writes the commit that swaps it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import IndexFormatError
from retrieval.index import ann
from retrieval.index.fsutil import unseal
from retrieval.index.segments import columns, components, format, recovery
from retrieval.index.segments.builder import SegmentBuilder
from retrieval.index.segments.commit import BACKUP, COMMIT, read_deletes
from retrieval.index.segments.format import FORMAT_VERSION
from retrieval.index.segments.pool import analyse_batch
from retrieval.index.segments.segment import Segment
from retrieval.index.store import ArticleMeta
from retrieval.index.twins import links as twin_links
from retrieval.models import Article
from retrieval.text.analyze import ANALYZER_VERSION, Analyzer
from retrieval.text.encoder import Encoder

BATCH = 500  # passages analysed (and encoded) at a time in a rebuild


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, with the file it is in. `part`: commit, copy, segment, tombstones, a
    derived component's name (hnsw, ids), manifest or state; `segment` when it is a segment's."""

    file: str
    what: str
    part: str
    segment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "problem": self.what, "part": self.part, "segment": self.segment}


@dataclass(frozen=True, slots=True)
class Checked:
    """What `check` found: the commit it read (None when neither COMMIT nor its copy is sound),
    the problems, and how many segments and files it read."""

    commit: dict[str, Any] | None
    problems: tuple[Problem, ...]
    segments: int
    files: int

    def bad_segments(self) -> list[str]:
        """Segments whose own data (arrays, table, tombstones) is damaged: rebuilt from the corpus."""
        out: list[str] = []
        for p in self.problems:
            if p.segment is not None and p.part in ("segment", "tombstones") and p.segment not in out:
                out.append(p.segment)
        return out


def read_commit(path: Path) -> dict[str, Any]:
    """A commit file, sealed and of this format; ValueError saying what is wrong."""
    try:
        commit = unseal(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"missing or unreadable ({exc.strerror})") from exc
    if commit.get("format") != FORMAT_VERSION or commit.get("analyzer") != ANALYZER_VERSION:
        raise ValueError(f"of format {commit.get('format')}, analyser {commit.get('analyzer')}; run `quoteqa reindex`")
    if not isinstance(commit.get("segments"), list):
        raise ValueError("it names no segments")
    return commit


def check(directory: Path) -> Checked:
    problems: list[Problem] = []
    files = 0
    commit: dict[str, Any] | None = None
    copy: dict[str, Any] | None = None
    if not (directory / COMMIT).exists() and not (directory / BACKUP).exists():
        return Checked(None, (), 0, 0)  # no index yet: nothing to check
    for name in (COMMIT, BACKUP):
        files += 1
        try:
            found = read_commit(directory / name)
        except ValueError as exc:
            problems.append(
                Problem(
                    str(directory / name),
                    f"{name} is {exc}" if "missing" in str(exc) else f"{name}: {exc}",
                    "commit" if name == COMMIT else "copy",
                )
            )
            continue
        if name == COMMIT:
            commit = found
        else:
            copy = found
    if commit is not None and copy is not None:
        if copy.get("generation", 0) < commit.get("generation", 0):
            problems.append(Problem(str(directory / BACKUP), f"{BACKUP} is of an older commit than {COMMIT}", "copy"))
        elif copy.get("generation", 0) > commit.get("generation", 0) + 1:  # a crash leaves it one ahead at most
            problems.append(Problem(str(directory / COMMIT), f"{COMMIT} is of an older commit than its copy", "commit"))
            commit = None
    used = commit if commit is not None else copy
    if used is None:
        return Checked(None, tuple(problems), 0, files)
    n_segments = 0
    hashes: dict[str, str] = {}  # live article id -> text hash, for the twin links
    for entry in used["segments"]:
        name = str(entry.get("name", "?"))
        n_segments += 1
        files += 2
        try:
            seg = Segment.open(directory, name, verify=True)
            bad = _consistent(seg)
        except IndexFormatError as exc:
            seg, bad = None, str(exc)
        if bad is not None:
            problems.append(Problem(_segment_file(directory, name), bad, "segment", name))
            continue
        assert seg is not None
        deleted = None
        if entry.get("deletes"):
            files += 1
            try:
                deleted = read_deletes(directory / entry["deletes"], seg.n_passages, entry.get("crc32"))
            except IndexFormatError as exc:
                problems.append(Problem(str(directory / entry["deletes"]), str(exc), "tombstones", name))
        first = np.asarray(seg.a["art_pass_ptr"][:-1], np.int64)
        for row, (aid, h) in enumerate(zip(seg.strings("art_id"), seg.strings("art_text_hash"), strict=True)):
            if deleted is None or not deleted[first[row]]:
                hashes[aid] = h
        for c in components.COMPONENTS:
            if not c.derived:
                continue
            files += 1
            bad = c.verify(directory, seg)
            if bad:
                where = ann.damaged_file(directory, seg) if c.name == "hnsw" else directory / c.files(name)[0]
                problems.append(Problem(str(where), bad, c.name, name))
    if used.get("twins") is not None:
        files += 1
        entry = used["twins"]
        where = str(directory / str(entry.get("file") if isinstance(entry, dict) else "?"))
        try:
            found = twin_links.problems(twin_links.read(directory, entry), hashes)
        except ValueError as exc:
            found = [f"the translation-twin links: {exc}"]
        problems += [Problem(where, what, "twins") for what in found[:5]]
    return Checked(used, tuple(problems), n_segments, files)


def _segment_file(directory: Path, name: str) -> str:
    """The file of a segment a problem is in: the table when it does not load, else the arrays."""
    seg_path, meta_path = format.paths(directory, name)
    if not meta_path.exists():
        return str(meta_path)
    if not seg_path.exists():
        return str(seg_path)
    try:
        meta = unseal(meta_path.read_bytes())
        if meta.get("name") != name:
            return str(meta_path)
    except (OSError, ValueError):
        return str(meta_path)
    return str(seg_path)


def _consistent(seg: Segment) -> str | None:
    """The arrays of a segment whose blocks all passed agree with each other (a writer bug or a
    block rewritten together with its checksum would show here)."""
    a = seg.a
    n = seg.n_passages
    text_ptr = np.asarray(a["text_ptr"], np.int64)
    sent_ptr = np.asarray(a["sent_ptr"], np.int64)
    tok_ptr = np.asarray(a["sent_tok_ptr"], np.int64)
    ends = np.asarray(a["sent_end"], np.int64)
    starts = np.asarray(a["sent_start"], np.int64)
    if np.any(np.diff(np.asarray(a["uid"], np.int64)) <= 0):
        return f"segment {seg.name}: passage uids are not ascending"
    texts = bytes(a["texts"])
    for p in range(n):
        try:
            text = texts[text_ptr[p] : text_ptr[p + 1]].decode("utf-8")
        except UnicodeDecodeError:
            return f"segment {seg.name}: passage {p}'s text is not UTF-8"
        s0, s1 = int(sent_ptr[p]), int(sent_ptr[p + 1])
        if s1 > s0 and (starts[s0:s1].min() < 0 or ends[s0:s1].max() > len(text)):
            return f"segment {seg.name}: passage {p}'s sentences run outside its text"
    doc_tokens = tok_ptr[sent_ptr]
    if not np.array_equal(np.diff(doc_tokens), np.asarray(a["doc_len"], np.int64)):
        return f"segment {seg.name}: passage lengths do not match their terms"
    tokens = np.asarray(a["tokens"], np.int32)
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= seg.n_terms):
        return f"segment {seg.name}: a term id is out of range"
    docs = np.repeat(np.arange(n, dtype=np.int64), np.diff(doc_tokens))
    ptr, doc, tf = format.postings(tokens, docs, seg.n_terms)
    if not (
        np.array_equal(ptr, a["post_ptr"]) and np.array_equal(doc, a["post_doc"]) and np.array_equal(tf, a["post_tf"])
    ):
        return f"segment {seg.name}: postings do not match the passages' terms"
    if len(set(seg.vocab)) != seg.n_terms:
        return f"segment {seg.name}: the term dictionary repeats a term"
    return None


def rebuild(
    directory: Path, name: str, runs: Sequence[recovery.ArticleRun], articles: Sequence[Article],
    analyzer: Analyzer, encoder: Encoder | None,
) -> Segment:  # fmt: skip
    """Segment `name` (a new name: segments are never overwritten) holding `articles` (those of
    `runs` still live, in run order) with the uids `runs` gave them, written and verified."""
    by_id = {r.id: r for r in runs}
    builder = SegmentBuilder(schema=columns.schema(encoder))
    uids: list[np.ndarray] = []
    batch: list[Article] = []

    def flush() -> None:
        texts = [p for a in batch for p in a.paragraphs]
        # the one way a batch is analysed (terms, anchors, vectors), as a build does it
        builder.add_encoded(
            [ArticleMeta.of(a) for a in batch], [a.paragraphs for a in batch], analyse_batch(analyzer, encoder, texts)
        )
        batch.clear()

    for art in articles:
        run = by_id[art.id]
        if len(art.paragraphs) != run.passages:
            raise IndexFormatError(
                f"article {art.id} has {len(art.paragraphs)} paragraphs, its segment held {run.passages}"
            )
        uids.append(np.arange(run.first_uid, run.first_uid + run.passages, dtype=np.int64))
        batch.append(art)
        if sum(len(a.paragraphs) for a in batch) >= BATCH:
            flush()
    if batch:
        flush()
    arrays = builder.finish(0)
    arrays["uid"] = np.concatenate(uids) if uids else np.zeros(0, np.int64)
    seg = Segment(name, arrays, builder.stamp)
    seg.anchors = builder.anchors()
    return seg.write(directory)
