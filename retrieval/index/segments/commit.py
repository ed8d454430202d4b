"""The commit file, and the reader that follows it.

    index/COMMIT              {"generation", "next_uid", "segments": [{name, deletes, …}], "extra", "encoder"}
    index/NAME.*              one segment's files (`components.py`)
    index/NAME.GEN.del        the passages of NAME deleted as of commit GEN (a packed bitmap)
    index/twins-GEN-X.json    the commit's translation-twin links ("twins": {file, crc32}; `twins/links.py`)

A commit is replaced atomically (temporary name, fsync, rename, fsync of the folder), so a crash
at any point leaves the previous one whole. `CommitReader` holds the live `Snapshot` and opens
a newer commit when another writer made one; `write_commit` is how the writer (`writer.py`)
makes one, and `collect` then deletes every file no commit names any more.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.errors import IndexFormatError
from retrieval.index.bm25 import SearchParams
from retrieval.index.fsutil import LOCK_NAME, atomic_write, fsync_dir, mkdir, seal, unseal, write_new
from retrieval.index.segments import components
from retrieval.index.segments.format import FORMAT_VERSION
from retrieval.index.segments.segment import Segment
from retrieval.index.segments.snapshot import LiveSegment, Snapshot
from retrieval.index.twins import links as twin_links
from retrieval.index.twins.links import TwinLinks
from retrieval.text.analyze import ANALYZER_VERSION

log = logging.getLogger(__name__)

COMMIT = "COMMIT"
BACKUP = "COMMIT.bak"  # the same commit written first: a damaged COMMIT is mended from it
# why a commit has no twin links (the answer stage then finds twins per question, and says so once)
NO_LINKS = "holds no translation-twin links (written before they were kept, or by a writer without the encoder)"
OPEN_RETRIES = 5  # a writer may delete a segment between our reading COMMIT and opening it


class _Retry(Exception):
    pass


class CommitReader:
    """The read side of a store folder: the live snapshot, the segments it has open (kept
    across commits: a segment never changes), and what was wrong when the commit was opened."""

    def __init__(self, directory: Path, params: SearchParams) -> None:
        self.directory = directory
        self.params = params
        self.cache: dict[str, Segment] = {}
        self.damaged: list[str] = []  # what was wrong when the last commit was opened
        # segments a read found damaged, out of service for the rest of this process (`serving`)
        self.out_of_service: dict[str, str] = {}
        self._serving: tuple[Snapshot, Snapshot] | None = None
        self._lock = threading.Lock()  # question threads may refresh at once
        self._stat: tuple[int, int, int] | None = None
        self._snap = Snapshot(0, (), 0, {}, params)
        self.refresh(force=True)

    def snapshot(self) -> Snapshot:
        return self._snap

    def serving(self) -> Snapshot:
        """The live commit less the segments taken out of service: what questions are answered
        from (writers keep the whole commit, so nothing committed is dropped by a write)."""
        snap = self._snap
        if not self.out_of_service:
            return snap
        cached = self._serving
        if cached is not None and cached[0] is snap:
            return cached[1]
        out = tuple(s.seg.name for s in snap.segs if s.seg.name in self.out_of_service)
        served = snap
        if out:
            served = Snapshot(
                snap.generation, [s for s in snap.segs if s.seg.name not in self.out_of_service], snap.next_uid,
                snap.extra(), snap.params, snap.stamp, out, snap.twin_links, snap.twin_problem,
            )  # fmt: skip
        self._serving = (snap, served)
        return served

    def take_out(self, segment: str, reason: str) -> bool:
        """Serve no more questions from `segment` in this process (a read found it damaged);
        False when it already was out."""
        with self._lock:
            if segment in self.out_of_service:
                return False
            self.out_of_service[segment] = reason
            self._serving = None
            return True

    def set_params(self, params: SearchParams) -> None:
        self.params = params
        self._snap = self._snap.with_params(params)

    def refresh(self, force: bool = False) -> bool:
        """Open the newest commit if another writer made one (one `stat` when none did); True
        when the snapshot changed."""
        path = self.directory / COMMIT
        stamp = _stat(path)
        if not force and stamp == self._stat:
            return False
        with self._lock:
            if not force and stamp == self._stat:
                return False  # another thread opened it meanwhile
            for _ in range(OPEN_RETRIES):
                try:
                    snap, damaged = self._open()
                    break
                except _Retry:
                    continue
            else:
                snap, damaged = self._open(final=True)
            self._snap, self.damaged, self._stat = snap, damaged, stamp
        for d in damaged:
            log.warning("index in %s: %s; what it held will be rebuilt", self.directory, d)
        return True

    def install(self, generation: int, lives: Sequence[LiveSegment], next_uid: int, extra: dict[str, Any],
                stamp: str | None, twins: TwinLinks | None = None) -> None:  # fmt: skip
        """The snapshot of a commit this process just wrote (no need to read it back)."""
        with self._lock:
            for s in lives:
                self.cache[s.seg.name] = s.seg
            self._snap = Snapshot(
                generation, lives, next_uid, extra, self.params, stamp, twin_links=twins,
                twin_problem=None if twins is not None else NO_LINKS,
            )  # fmt: skip
            self._stat = _stat(self.directory / COMMIT)
            self.damaged = []
            names = {s.seg.name for s in lives}
            for name in list(self.cache):
                if name not in names:
                    self.cache.pop(name, None)

    def _open(self, final: bool = False) -> tuple[Snapshot, list[str]]:
        path = self.directory / COMMIT
        empty = Snapshot(0, (), 0, {}, self.params)
        damaged: list[str] = []
        try:
            commit = unseal(path.read_bytes(), required=False)  # an older commit has no checksum
        except FileNotFoundError as exc:
            if not (self.directory / BACKUP).exists():
                old = [p.name for p in (self.directory / "CURRENT",) if p.exists()]
                return empty, (["it was written by an older quoteqa (format 3)"] if old else [])
            try:
                commit = unseal((self.directory / BACKUP).read_bytes())
            except (OSError, ValueError):
                return empty, [f"the commit file {path} is missing and its copy {BACKUP} unreadable"]
            damaged.append(f"the commit file {path} is missing ({exc.strerror}); its copy {BACKUP} was opened")
        except (OSError, ValueError) as exc:
            try:  # the copy written just before it (`write_commit`)
                commit = unseal((self.directory / BACKUP).read_bytes())
            except (OSError, ValueError):
                return empty, [f"the commit file {path} is unreadable ({exc})"]
            damaged.append(f"the commit file {path} is unreadable ({exc}); its copy {BACKUP} was opened")
        ahead = _generation(self.directory / BACKUP)
        if isinstance(commit, dict) and ahead is not None and ahead > int(commit.get("generation") or 0) + 1:
            # a crash leaves the copy one commit ahead at most: COMMIT was replaced by an older one
            try:
                commit = unseal((self.directory / BACKUP).read_bytes())
                damaged.append(f"the commit file {path} is of an older commit than its copy {BACKUP}, which was opened")
            except (OSError, ValueError):
                pass
        if (
            not isinstance(commit, dict)
            or commit.get("format") != FORMAT_VERSION
            or commit.get("analyzer") != ANALYZER_VERSION
        ):
            fmt = commit.get("format") if isinstance(commit, dict) else "?"
            return empty, [
                f"the commit is of format {fmt}, analyser {commit.get('analyzer') if isinstance(commit, dict) else '?'}; this quoteqa writes format {FORMAT_VERSION}"
            ]
        lives: list[LiveSegment] = []
        try:
            entries = list(commit["segments"])
            generation, next_uid = int(commit["generation"]), int(commit["next_uid"])
            extra = dict(commit.get("extra") or {})
        except (KeyError, TypeError, ValueError) as exc:
            return empty, [f"the commit file is malformed ({exc})"]
        for entry in entries:
            name = entry.get("name", "?")
            try:
                seg = self.cache.get(name)
                if seg is None:
                    seg = Segment.open(self.directory, name)
                    self.cache[name] = seg
                live = LiveSegment(seg)
                if entry.get("deletes"):
                    live.deleted = read_deletes(self.directory / entry["deletes"], seg.n_passages, entry.get("crc32"))
                    live.del_file, live.del_crc = entry["deletes"], entry.get("crc32")
                    live.n_deleted = int(live.deleted.sum())
                lives.append(live)
            except IndexFormatError as exc:
                if not final and _commit_changed(path, commit):
                    raise _Retry() from exc
                damaged.append(str(exc))
                self.cache.pop(name, None)
        live_names = {e.get("name") for e in entries}
        for name in list(self.cache):
            if name not in live_names:
                self.cache.pop(name, None)
        stamp = commit.get("encoder") if isinstance(commit.get("encoder"), str) else None
        twins, problem = None, NO_LINKS
        if commit.get("twins") is not None:
            try:
                twins, problem = twin_links.read(self.directory, commit["twins"]), None
            except ValueError as exc:
                if not final and _commit_changed(path, commit):
                    raise _Retry() from exc  # a writer collected it after a newer commit
                problem = f"has damaged translation-twin links ({exc})"
        snap = Snapshot(generation, lives, next_uid, extra, self.params, stamp, twin_links=twins, twin_problem=problem)
        return snap, damaged


def write_commit(
    directory: Path, generation: int, lives: Sequence[LiveSegment], next_uid: int, extra: dict[str, Any],
    stamp: str | None = None, twins: TwinLinks | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Replace COMMIT atomically with one naming the segments that still hold a live passage."""
    entries = [
        {"name": s.seg.name, "deletes": s.del_file, "deleted": s.n_deleted, "passages": s.seg.n_passages, "crc32": s.del_crc}
        for s in lives if s.n_live > 0
    ]  # fmt: skip
    commit = {
        "format": FORMAT_VERSION, "analyzer": ANALYZER_VERSION, "generation": generation,
        "next_uid": next_uid, "segments": entries, "extra": extra, "encoder": stamp,
    }  # fmt: skip
    if twins is not None and twins.file:
        commit["twins"] = twins.entry()
    mkdir(directory)
    data = seal(commit)
    # the copy first: a crash between the two leaves COMMIT at the previous commit (whole), and
    # a copy one commit ahead whose files are all written (nothing is collected before COMMIT)
    atomic_write(directory / BACKUP, data, crash_before_rename="commit-copy")
    atomic_write(directory / COMMIT, data, crash_before_rename="commit")
    return commit


def collect(directory: Path, commit: dict[str, Any]) -> None:
    """Delete files no commit names any more (a reader elsewhere keeps its mapped copy): what
    the commit's segments have (`components.py`) and their tombstones stay."""
    keep = {COMMIT, BACKUP, LOCK_NAME} | components.file_names(e["name"] for e in commit["segments"])
    keep.update(e["deletes"] for e in commit["segments"] if e["deletes"])
    if isinstance(commit.get("twins"), dict):
        keep.add(str(commit["twins"].get("file")))
    for path in directory.iterdir():
        if path.is_dir():
            if path.name.startswith(("v3-", "build-")):  # what the format-3 index left
                shutil.rmtree(path, ignore_errors=True)
            continue
        if path.name in keep:
            continue
        try:
            path.unlink()
        except OSError:
            pass


# --- tombstones -------------------------------------------------------------------------------
def deletes_name(segment: str, generation: int) -> str:
    return f"{segment}.{generation}.del"


def write_deletes(path: Path, deleted: npt.NDArray[np.bool_]) -> int:
    data = np.packbits(deleted).tobytes()
    path.unlink(missing_ok=True)
    write_new(path, data)
    fsync_dir(path.parent)
    return zlib.crc32(data)


def read_deletes(path: Path, n: int, crc: int | None) -> npt.NDArray[np.bool_]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IndexFormatError(f"tombstones {path.name} are missing") from exc
    if len(data) != (n + 7) // 8 or (crc is not None and zlib.crc32(data) != crc):
        raise IndexFormatError(f"tombstones {path.name} are damaged")
    return np.unpackbits(np.frombuffer(data, np.uint8), count=n).astype(bool)


def _generation(path: Path) -> int | None:
    try:
        return int(unseal(path.read_bytes()).get("generation"))  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError):
        return None


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def _commit_changed(path: Path, commit: dict[str, Any]) -> bool:
    try:
        return json.loads(path.read_text("utf-8")).get("generation") != commit.get("generation")
    except (OSError, ValueError, AttributeError):
        return True
