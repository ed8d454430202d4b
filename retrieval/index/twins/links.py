"""The twin links of one commit: which article translates which, and their sentence links.

    index/twins-GEN-XXXXXX.json   {"format", "encoder", "links": {ID: {"hash", "twin", "twin_hash",
                                  "links": [[paragraph, sentence, [[paragraph, sentence], …]], …]}},
                                  "unchecked": [ID, …]}

sealed (a CRC-32 of its canonical form inside, `fsutil.seal`), and named by the commit with the
CRC-32 of its bytes (`commit.py`), so it is as commit-consistent as a tombstone: a crash leaves the
previous commit's file, and a reader never sees links of another commit.

What a commit naming one promises: every live article not listed as `unchecked` was checked for
a twin (`find.py`) when it was written, with the encoder the file names. An article with no entry
has no twin; a question finds an unchecked article's twin itself. Each entry
holds both sides' text hashes, so a link whose article or twin was replaced since can be told
from a sound one (`verify` checks it; the answer stage never shows an original through one).

`update` brings the links up to date for one commit of a write: the links of the articles it
removes or replaces go, and the articles it adds wait as `unchecked` with those whose twin went or
changed, until the write's last commit checks them all in the snapshot of the whole write (so a
build cut into flushes links what one built in one piece links; a write killed midway leaves
them to the next write). An older article a new one finds as its twin is checked again too (its
own finding may now be the new one). A write that starts from a commit without links (an index
written before them) writes a file only once every live article was checked: a `quoteqa
reindex` ends with one.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.index.fsutil import fsync_dir, seal, unseal, write_new
from retrieval.index.store import Searcher
from retrieval.index.twins.batch import CheckReader
from retrieval.index.twins.find import Key, Links, TwinFinder, article_views

FORMAT = 1
PREFIX = "twins-"
SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class Link:
    """An article's twin: its own text hash, the twin's id and text hash (the same article for
    two halves of one text), and which of its sentences match which of the twin's."""

    hash: str
    twin: str
    twin_hash: str
    links: Links


@dataclass(frozen=True, slots=True)
class TwinLinks:
    """One commit's links (`file`, `crc`: the file that holds them, as the commit names it)."""

    encoder: str
    links: Mapping[str, Link]
    # articles a write added and has not checked yet (the commits before its last one); a
    # question finds their twins itself
    unchecked: frozenset[str] = frozenset()
    file: str | None = None
    crc: int | None = None

    def entry(self) -> dict[str, Any]:
        """What the commit says of the file."""
        return {"file": self.file, "crc32": self.crc, "articles": len(self.links)}


def _to_json(encoder: str, links: Mapping[str, Link], unchecked: Iterable[str]) -> dict[str, Any]:
    out = {}
    for aid in sorted(links):
        k = links[aid]
        rows = [[p, s, [list(t) for t in targets]] for (p, s), targets in sorted(k.links.items())]
        out[aid] = {"hash": k.hash, "twin": k.twin, "twin_hash": k.twin_hash, "links": rows}
    return {"format": FORMAT, "encoder": encoder, "links": out, "unchecked": sorted(unchecked)}


def _from_json(obj: Mapping[str, Any]) -> tuple[str, dict[str, Link], frozenset[str]]:
    if obj.get("format") != FORMAT:
        raise ValueError(f"of format {obj.get('format')}, not {FORMAT}")
    encoder = obj.get("encoder")
    if not isinstance(encoder, str):
        raise ValueError("it names no encoder")
    out: dict[str, Link] = {}
    for aid, k in dict(obj["links"]).items():
        links: dict[Key, tuple[Key, ...]] = {}
        for p, s, targets in k["links"]:
            links[(int(p), int(s))] = tuple((int(tp), int(ts)) for tp, ts in targets)
        out[str(aid)] = Link(str(k["hash"]), str(k["twin"]), str(k["twin_hash"]), links)
    return encoder, out, frozenset(str(x) for x in obj.get("unchecked") or ())


def write(
    directory: Path, generation: int, encoder: str, links: Mapping[str, Link], unchecked: Iterable[str] = ()
) -> TwinLinks:
    """A new links file for commit `generation` (never overwriting one: a reader may hold it)."""
    name = f"{PREFIX}{generation:08d}-{secrets.token_hex(3)}{SUFFIX}"
    pending = frozenset(unchecked)
    data = seal(_to_json(encoder, links, pending))
    write_new(directory / name, data)
    fsync_dir(directory)
    return TwinLinks(encoder, dict(links), pending, name, zlib.crc32(data))


def read(directory: Path, entry: Any) -> TwinLinks:
    """The links file a commit names; ValueError saying what is wrong with it."""
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise ValueError("the commit's entry for it is malformed")
    name = entry["file"]
    try:
        data = (directory / name).read_bytes()
    except OSError as exc:
        raise ValueError(f"{name} is missing or unreadable ({exc.strerror})") from exc
    if entry.get("crc32") is not None and zlib.crc32(data) != entry["crc32"]:
        raise ValueError(f"{name} fails the checksum its commit gives")
    try:
        encoder, links, unchecked = _from_json(unseal(data))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{name} is damaged ({exc})") from exc
    return TwinLinks(encoder, links, unchecked, name, entry.get("crc32"))


def problems(links: TwinLinks, hashes: Mapping[str, str]) -> list[str]:
    """What is wrong with sound-looking links against the live articles (id → text hash)."""
    out = []
    for aid, k in sorted(links.links.items()):
        if hashes.get(aid) != k.hash:
            out.append(f"the twin link of article {aid} is of a text the index no longer holds")
        elif hashes.get(k.twin) != k.twin_hash:
            out.append(f"the twin link of article {aid} points to {k.twin}, which the index no longer holds as linked")
    return out


@dataclass(slots=True)
class LinkState:
    """The links a write brings up to date, across the commits of one write (its flushes).
    `pending`: articles added (or left without their twin) and not checked yet: a write checks
    them at its last commit, in the snapshot of the whole write, so a build cut into flushes
    finds what one built in one piece finds; commits before it name them as `unchecked` (a
    write killed midway leaves them to the next). `unknown`: live articles never checked (a
    write that began on a commit without links); while there are any, no links are written."""

    encoder: str
    records: dict[str, Link]
    pending: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    written: TwinLinks | None = None  # the file the last commit named, while nothing changed

    @classmethod
    def start(cls, encoder: str, before: TwinLinks | None, live: Iterable[str]) -> LinkState:
        if before is not None and before.encoder == encoder:
            return cls(encoder, dict(before.links), set(before.unchecked), set(), before if before.file else None)
        return cls(encoder, {}, set(), set(live))

    @property
    def complete(self) -> bool:
        return not self.unknown


def update(
    state: LinkState, snap: Searcher, added: set[str], gone: set[str], finder: TwinFinder, final: bool = True
) -> None:
    """Bring `state` up to the snapshot `snap` of a commit that adds `added` (new articles and
    new versions) and takes out `gone` (removed or replaced ids; see the module docstring).
    Articles are checked only at the `final` commit of a write; before it they wait in
    `pending`."""
    before = (dict(state.records), set(state.pending))
    state.unknown -= added | gone
    state.pending -= gone
    state.pending |= added
    for owner, k in list(state.records.items()):
        if owner in gone or owner in added:
            del state.records[owner]
        elif k.twin in gone or k.twin in added:
            del state.records[owner]
            state.pending.add(owner)
    if final and state.pending:
        _check_pending(state, CheckReader(snap), finder)  # type: ignore[arg-type]
    if (state.records, state.pending) != before:
        state.written = None


def _check_pending(state: LinkState, snap: CheckReader, finder: TwinFinder) -> None:
    """Check every pending article, then the partners of those that found a new twin, one at a
    time in id order; a run of `TwinCheck.batch_from` or more is asked ahead `TwinCheck.batch`
    at a time (`batch.py`: the same findings, less work)."""
    recheck = set(state.pending)
    partners: set[str] = set()
    for aid, twin in _check_all(state, snap, sorted(recheck), finder):
        if twin is not None and twin != aid and twin not in recheck:
            partners.add(twin)
    for _ in _check_all(state, snap, sorted(partners), finder):
        pass
    state.unknown -= recheck | partners
    state.pending.clear()


def _check_all(
    state: LinkState, snap: CheckReader, ids: list[str], finder: TwinFinder
) -> Iterator[tuple[str, str | None]]:
    """(id, its twin) for each of `ids`, checked in this order."""
    check = finder.check
    step = check.batch if len(ids) >= check.batch_from else len(ids)
    for lo in range(0, len(ids), max(step, 1)):
        run = ids[lo : lo + step]
        if len(ids) >= check.batch_from:
            snap.prefetch(run, finder)
        uids = {aid: article_uid(snap, aid) for aid in run}
        for aid in run:
            yield aid, _check(state, snap, aid, finder, uids[aid])


def _check(state: LinkState, snap: Searcher, aid: str, finder: TwinFinder, uid: int | None = -1) -> str | None:
    """Find `aid`'s twin in `snap` and record it; returns the twin's id (None: none, or gone).
    `uid`: its first passage, when already looked up."""
    if uid == -1:
        uid = article_uid(snap, aid)
    if uid is None:
        state.records.pop(aid, None)
        return None
    views = article_views(snap, uid)
    found = finder.find(snap, views)
    if found is None:
        state.records.pop(aid, None)
        return None
    twin_views, links = found
    twin = twin_views[0].article
    state.records[aid] = Link(views[0].article.text_hash, twin.id, twin.text_hash, dict(links))
    return twin.id


def article_uid(snap: Searcher, article_id: str) -> int | None:
    """The first passage uid of a live article (None: not live). A segment snapshot finds it
    in the article table (`Snapshot.article_uid`); another store by walking its passages."""
    find = getattr(snap, "article_uid", None)
    if find is not None:
        return find(article_id)  # type: ignore[no-any-return]
    for uid in snap.uids().tolist():
        if snap.passage(int(uid)).article.id == article_id:
            return int(uid)
    return None
