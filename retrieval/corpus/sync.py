"""Keeping the index in line with the corpus folder: what changed since the last commit, read
and analysed only where it changed.

The corpus folder is the source of truth and the store follows it. What the store last saw of
each file (size, modification time, SHA-1) lives in its commit; a file whose size and time did
not change is not read again, and the articles of a file whose content did not change are known
from a small manifest kept by content digest (`manifests/`), so a sync reads and analyses only
what changed. A broken file never stops serving: it is skipped with a warning that names it and
says how to fix it, and what it held before stays.

The caller (`Engine`) holds the store's writer lock around `run`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.corpus.files import ArticleKey, article_key, corpus_files, file_digest, file_stamp, parse_file
from retrieval.errors import CorpusError
from retrieval.index.fsutil import atomic_write, mkdir, seal, unseal
from retrieval.index.segments.pool import AnalysisPool
from retrieval.index.store import ArticleSource, BatchAnalyser, Change, Store, WriteOptions
from retrieval.models import Article

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str, int], Callable[[int], None]]  # (label, total) -> update(n); n < 0 closes
LIVE_BATCH = 1_000  # a serving engine analyses a batch this large with a Kiwi of its own


@dataclass
class SyncReport:
    """What a sync of the store with the corpus folder did."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why and how to fix it)
    articles: int = 0
    busy: bool = False  # another writer held the store, so nothing was synced

    def warnings(self) -> list[str]:
        return [f"skipped {name}: {why}" for name, why in self.skipped]


class CorpusSync:
    """Brings one store in line with one corpus folder (`run`); keeps the manifests under
    `data_dir/manifests`. `child_workers` > 0 (a serving bot) analyses a batch of `LIVE_BATCH`
    passages or more in a child process with that many Kiwi threads."""

    def __init__(
        self,
        corpus_dir: Path,
        data_dir: Path,
        store: Store,
        progress: ProgressFactory | None = None,
        child_workers: int = 0,
    ) -> None:
        self.corpus_dir = corpus_dir
        self.data_dir = data_dir
        self.store = store
        self.progress = progress
        self.child_workers = child_workers
        self._manifests: dict[str, list[ArticleKey]] = {}  # by content digest: never stale
        # Analyses every write's batches elsewhere when set (a Dask cluster: `bot/cluster.py`);
        # the store still writes and commits here, the one writer.
        self.analyser: BatchAnalyser | None = None

    def run(self, full: bool = False, fresh: bool = False) -> SyncReport:
        """Make the store hold what the folder holds. `full` compares every article (after a
        damaged segment was dropped); `fresh` analyses everything again into new segments."""
        store = self.store
        full = full or fresh or bool(store.damaged)
        files = corpus_files(self.corpus_dir)
        old_table = {} if fresh else _file_table(store.snapshot().extra().get("files"))
        table: dict[str, list[Any]] = {}
        changed: list[Path] = []
        for path in files:
            try:
                stamp = file_stamp(path)
            except OSError:
                continue  # removed while we looked
            prior = old_table.get(path.name)
            if prior is not None and prior[0] == stamp:
                table[path.name] = prior
            else:
                changed.append(path)
        gone = [name for name in old_table if name not in {p.name for p in files}]
        report = SyncReport()
        parsed: dict[str, list[_Known]] = {}  # what was read of each file: keys, not texts
        for path in changed:
            prior = old_table.get(path.name)
            try:
                stamp, digest = file_stamp(path), file_digest(path)
                if prior is not None and prior[1] == digest:
                    table[path.name] = [stamp, digest]  # touched, not changed
                    continue
                articles = _known(path)
            except (CorpusError, OSError) as exc:
                report.skipped.append((path.name, _skip_reason(path, exc)))
                if prior is not None:
                    table[path.name] = prior  # what the file held before stays until it is fixed
                continue
            parsed[path.name] = articles
            table[path.name] = [stamp, digest]
        if not parsed and not gone and not full:
            if table != old_table:
                store.apply(Change(extra={**store.snapshot().extra(), "files": table}))
            report.articles = store.snapshot().n_articles
            self._warn(report)
            return report
        if not full and not gone and all(self._keeps_ids(name, arts, old_table) for name, arts in parsed.items()):
            return self._sync_additions(parsed, table, report)

        # What the folder asks for, in file order. An id named twice with different text: the
        # version in the store wins (a new file cannot push an indexed article out), else the
        # first file by name.
        live = store.snapshot().article_hashes()
        wanted: dict[str, ArticleKey] = {}
        seen_hash: set[str] = set()
        for name in sorted(table):
            keys = [k.key for k in parsed[name]] if name in parsed else self._manifest(table[name][1], name)
            if keys is None:  # no manifest (first run after an upgrade, or lost): read the file
                try:
                    parsed[name] = _known(self.corpus_dir / name)
                except (CorpusError, OSError) as exc:
                    report.skipped.append((name, _skip_reason(self.corpus_dir / name, exc)))
                    continue
                keys = [k.key for k in parsed[name]]
            for key in keys:
                prior = wanted.get(key.id)
                if prior is not None:
                    if prior.hash != key.hash:
                        newer_is_live = live.get(key.id) == key.hash
                        loser, winner = (prior, key) if newer_is_live else (key, prior)
                        report.skipped.append((loser.file, _conflict(key.id, winner.file)))
                        if newer_is_live:
                            wanted[key.id] = key
                            seen_hash.add(key.hash)
                    continue
                if key.hash in seen_hash:
                    continue  # the same article under another id: indexed once
                seen_hash.add(key.hash)
                wanted[key.id] = key
        remove = [aid for aid, h in live.items() if fresh or aid not in wanted or wanted[aid].hash != h]
        needed = [k for k in wanted.values() if fresh or live.get(k.id) != k.hash]
        for name in sorted({k.file for k in needed} - parsed.keys()):  # known, but not in the store
            try:
                parsed[name] = _known(self.corpus_dir / name)
            except (CorpusError, OSError) as exc:
                report.skipped.append((name, _skip_reason(self.corpus_dir / name, exc)))
                needed = [k for k in needed if k.file != name]
        by_file = {name: {k.key.id: (name, row, k) for row, k in enumerate(known)} for name, known in parsed.items()}
        adds = [by_file[k.file][k.id] for k in needed]
        added = [k.key.id for _, _, k in adds]
        for name, known in parsed.items():
            self._write_manifest(table[name][1], [k.key for k in known])
        self._apply(
            Change(add=self._source(adds), remove=tuple(remove), extra={**store.snapshot().extra(), "files": table})
        )
        self._collect_manifests(table)
        report.replaced = [] if fresh else sorted(set(added) & set(live))
        report.added = [aid for aid in added if fresh or aid not in live]
        report.removed = [] if fresh else sorted(set(remove) - set(added))
        report.articles = len(wanted)
        self._warn(report)
        if report.added or report.removed or report.replaced:
            log.info(
                "index updated: %d added, %d replaced, %d removed",
                len(report.added),
                len(report.replaced),
                len(report.removed),
            )
        return report

    def _keeps_ids(self, name: str, articles: list[_Known], old_table: dict[str, list[Any]]) -> bool:
        """A changed file still names every article it named before (so nothing leaves)."""
        if name not in old_table:
            return True
        before = self._manifest(old_table[name][1], name)
        return before is not None and {k.id for k in before} <= {a.key.id for a in articles}

    def _sync_additions(
        self, parsed: dict[str, list[_Known]], table: dict[str, list[Any]], report: SyncReport
    ) -> SyncReport:
        """The common case (new files, or files whose articles only grew or changed): look each
        article up in the store instead of comparing the whole corpus, so an ingest costs what
        the new files cost at any corpus size."""
        store = self.store
        snap = store.snapshot()  # the writer lock is held: nothing commits meanwhile
        adds: dict[str, tuple[str, int, _Known]] = {}  # id -> (file, row, what was read of it)
        replaced: list[str] = []
        new_hashes: set[str] = set()
        for name in sorted(parsed):
            for row, known in enumerate(parsed[name]):
                key = known.key
                if key.id in adds:
                    if adds[key.id][2].key.hash != key.hash:
                        report.skipped.append((name, _conflict(key.id, adds[key.id][0])))
                    continue
                live = snap.article(key.id)
                if live is not None:
                    if live.hash == key.hash:
                        continue
                    if live.file != name:  # another file holds this id: the indexed article wins
                        report.skipped.append((name, _conflict(key.id, live.file)))
                        continue
                    replaced.append(key.id)  # its own file was edited
                elif key.hash in new_hashes or snap.article_by("hash", key.hash) is not None:
                    continue  # the same article under another id: indexed once
                adds[key.id] = (name, row, known)
                new_hashes.add(key.hash)
        for name, known_ in parsed.items():
            self._write_manifest(table[name][1], [k.key for k in known_])
        self._apply(Change(add=self._source(list(adds.values())), extra={**snap.extra(), "files": table}))
        self._collect_manifests(table)
        report.replaced = sorted(replaced)
        report.added = [aid for aid in adds if aid not in set(replaced)]
        report.articles = store.snapshot().n_articles
        self._warn(report)
        if adds:
            log.info("index updated: %d added, %d replaced", len(report.added), len(report.replaced))
        return report

    def _apply(self, change: Change) -> None:
        """Write one change; analysis shows a progress bar when asked for, and in a serving
        process a big batch is analysed in a child process so questions never wait for it."""
        passages = sum(ArticleSource.held(change.add).sizes)
        update = self.progress("indexing", passages) if self.progress and passages else None
        pool = own = None
        if self.analyser is not None:
            pool = self.analyser
        elif self.child_workers and passages >= LIVE_BATCH:
            pool = own = AnalysisPool(self.child_workers)
        try:
            self.store.apply(change, WriteOptions(progress=update, pool=pool))
        finally:
            if own is not None:
                own.close()
            if update:
                update(-1)

    def _source(self, adds: list[tuple[str, int, _Known]]) -> ArticleSource:
        """The articles to add, read again from their files when the write takes them."""
        return _FileArticles(self.corpus_dir, adds).source()

    # --- manifests: the article keys of a corpus file, by content digest ------------------------
    @property
    def _manifest_dir(self) -> Path:
        return self.data_dir / "manifests"

    def _manifest(self, digest: str, name: str) -> list[ArticleKey] | None:
        """The article keys of file `name`, whose content has this digest (two files with the
        same bytes share one manifest, so the file name comes from the caller)."""
        keys = self._manifests.get(digest)
        if keys is None:
            try:
                # sealed (fsutil.seal): a damaged or older manifest is as good as none (the file is read)
                rows = read_manifest(self._manifest_dir / f"{digest}.json", digest)
                keys = self._manifests[digest] = [ArticleKey(*row) for row in rows]  # type: ignore[union-attr]
            except (OSError, ValueError, TypeError, KeyError):
                return None
        return [k if k.file == name else dataclasses.replace(k, file=name) for k in keys]

    def rewrite_manifest(self, name: str, digest: str) -> bool:
        """Write the manifest of corpus file `name` again (a repair: it was missing or damaged),
        if the file still has this digest; False when it does not or cannot be read."""
        path = self.corpus_dir / name
        try:
            if file_digest(path) != digest:
                return False
            articles = [a for a in parse_file(path) if a.paragraphs]
        except (CorpusError, OSError):
            return False
        self._manifests.pop(digest, None)
        (self._manifest_dir / f"{digest}.json").unlink(missing_ok=True)
        self._write_manifest(digest, [article_key(a) for a in articles])
        return True

    def _write_manifest(self, digest: str, keys: list[ArticleKey]) -> None:
        path = self._manifest_dir / f"{digest}.json"
        if path.exists():
            return
        mkdir(self._manifest_dir)
        atomic_write(path, seal({"digest": digest, "keys": [[k.id, k.hash, k.text, k.file] for k in keys]}))
        self._manifests[digest] = keys

    def _collect_manifests(self, table: dict[str, list[Any]]) -> None:
        keep = {f"{entry[1]}.json" for entry in table.values()}
        self._manifests = {d: k for d, k in self._manifests.items() if f"{d}.json" in keep}
        if not self._manifest_dir.is_dir():
            return
        for path in self._manifest_dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)

    @staticmethod
    def _warn(report: SyncReport) -> None:
        for line in report.warnings():
            log.warning("%s", line)


@dataclass(frozen=True, slots=True)
class _Known:
    """What a sync keeps of an article it read: its key and paragraph count. Its text is read
    again from its file when the write takes it (`_FileArticles`): holding the text of every
    article read took a 1M build's parent to ~1.1 GiB before its first batch."""

    key: ArticleKey
    paragraphs: int


def _known(path: Path) -> list[_Known]:
    """The articles of a corpus file that have text, as a sync keeps them."""
    return [_Known(article_key(a), len(a.paragraphs)) for a in parse_file(path) if a.paragraphs]


class _FileArticles:
    """Articles of corpus files by (file, row among its articles with text), read a file at a
    time when a write takes them, each checked against the key the sync read: a file changed
    since is a CorpusError (the write stops, committed flushes stay, and the next sync, which
    sees the file changed, indexes it as it is then)."""

    def __init__(self, corpus_dir: Path, refs: list[tuple[str, int, _Known]]) -> None:
        self.corpus_dir = corpus_dir
        self.refs = refs
        self._file: tuple[str, list[Article]] | None = None  # the file read last

    def source(self) -> ArticleSource:
        return ArticleSource([k.key.id for _, _, k in self.refs], [k.paragraphs for _, _, k in self.refs], self.take)

    def take(self, rows: Sequence[int]) -> list[Article]:
        out = []
        for r in rows:
            name, row, known = self.refs[r]
            if self._file is None or self._file[0] != name:
                self._file = None  # one file's articles held at a time
                path = self.corpus_dir / name
                self._file = (name, [a for a in parse_file(path) if a.paragraphs])
            articles = self._file[1]
            art = articles[row] if row < len(articles) else None
            if art is None or article_key(art) != known.key:
                raise CorpusError(
                    f"{self.corpus_dir / name} changed while it was being indexed; the next sync indexes it as it is then"
                )
            out.append(art)
        return out


def _file_table(stored: object) -> dict[str, list[Any]]:
    """The commit's file table, name -> [stamp, digest]; empty when absent or malformed."""
    if not isinstance(stored, dict):
        return {}
    out = {}
    for name, entry in stored.items():
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list) and isinstance(entry[1], str):
            out[name] = entry
    return out


def _conflict(article_id: str, other_file: str) -> str:
    return f"article id {article_id!r} is also in {other_file} with different text; rename one"


@dataclass(frozen=True)
class StoreKeys:
    """What `corpus.ingest` asks of the corpus, answered by the store (no listing)."""

    store: Store

    def by_id(self, article_id: str) -> ArticleKey | None:
        m = self.store.snapshot().article(article_id)
        return ArticleKey(m.id, m.hash, m.text_hash, m.file) if m else None

    def by_text(self, text: str) -> str | None:
        m = self.store.snapshot().article_by("text_hash", text)
        return m.id if m else None


def _skip_reason(path: Path, exc: Exception) -> str:
    """Why a corpus file was skipped (its line, when known), and what to do about it."""
    reason = str(exc)
    if reason.startswith(str(path)):
        reason = reason[len(str(path)) :]
        line = re.match(r":(\d+): ", reason)
        reason = f"line {line.group(1)}: {reason[line.end() :]}" if line else reason.lstrip(": ")
    return f"{reason.strip()} (the file is left out, and what it held before stays, until it is fixed or removed)"


def read_manifest(path: Path, digest: str) -> list[list[str]]:
    """A manifest's rows; ValueError when it is damaged, older (unsealed) or another file's."""
    body = unseal(path.read_bytes())
    if body.get("digest") != digest or not isinstance(body.get("keys"), list):
        raise ValueError(f"{path.name} is the manifest of another file")
    return body["keys"]  # type: ignore[return-value]
