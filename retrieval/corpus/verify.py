"""`quoteqa verify [--repair]`: check a data folder, and rebuild only what is damaged.

The checks of the store folder are `retrieval/index/segments/verify.py`'s; the manifests (what
each corpus file held, by content digest) are checked here. A repair takes the writer lock and:

- rebuilds each damaged segment from the corpus folder, the source of truth, with the uids its
  passages had (its `NAME.ids`), so answers afterwards are byte-identical to before the damage;
  articles replaced or removed since (no longer in the folder as they were) are left out, as
  their tombstones did; a segment whose uid runs are lost too is dropped and its articles
  indexed again by a full sync (new passage numbers; said in the report);
- rebuilds derived files (HNSW graphs, uid runs) from their sound segments;
- finds every article's translation twin again when the twin links were damaged, or when the
  store was repaired otherwise (needs the encoder; without it the commit keeps no links and
  answers find twins per question);
- writes a new commit (COMMIT and its copy) naming the rebuilt segments in the places of the
  damaged ones; files no commit names are collected as after any commit;
- deletes damaged manifests (the next sync reads those corpus files again);
- when neither COMMIT nor its copy is sound, indexes the whole corpus afresh.

Every step writes new files and ends in one atomic commit, so a repair killed at any point
leaves the old commit in place, and running it again finishes the job.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.corpus.files import corpus_files, parse_file
from retrieval.corpus.sync import CorpusSync, read_manifest
from retrieval.errors import CorpusError
from retrieval.index.segments import components, recovery
from retrieval.index.segments import verify as store_check
from retrieval.index.segments.commit import read_deletes
from retrieval.index.segments.segment import Segment
from retrieval.index.segments.snapshot import LiveSegment
from retrieval.index.segments.store import SegmentStore
from retrieval.index.segments.verify import Problem
from retrieval.models import Article, article_hash
from retrieval.text.analyze import Analyzer
from retrieval.text.encoder import Encoder

log = logging.getLogger(__name__)

MANIFESTS = "manifests"


@dataclass(frozen=True, slots=True)
class Report:
    """What `verify` found (and, after `--repair`, what it did and what is still wrong)."""

    problems: tuple[Problem, ...]
    segments: int
    files: int
    repaired: tuple[str, ...] = ()
    remaining: tuple[Problem, ...] = ()
    reindexed: int = 0  # articles analysed again from the corpus folder

    @property
    def ok(self) -> bool:
        return not (self.remaining if self.repaired else self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "segments": self.segments, "files": self.files,
            "problems": [p.to_json() for p in self.problems], "repaired": list(self.repaired),
            "remaining": [p.to_json() for p in self.remaining], "reindexed": self.reindexed,
        }  # fmt: skip


def file_table(commit: dict[str, Any] | None) -> dict[str, str]:
    """Corpus file name -> content digest, as the commit last saw the folder."""
    files = ((commit or {}).get("extra") or {}).get("files") or {}
    return {name: str(entry[1]) for name, entry in files.items() if isinstance(entry, list) and len(entry) > 1}


def check_manifests(data_dir: Path, table: dict[str, str]) -> tuple[list[Problem], int]:
    """Every manifest sound, and one for every file the commit's table names."""
    folder = data_dir / MANIFESTS
    problems, n = [], 0
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        n += 1
        try:
            read_manifest(path, path.stem)
        except (OSError, ValueError) as exc:
            problems.append(Problem(str(path), f"manifest {path.name}: {exc}", "manifest"))
    for name, digest in sorted(table.items()):
        path = folder / f"{digest}.json"
        if not path.exists():
            problems.append(Problem(str(path), f"manifest {path.name} of corpus file {name} is missing", "manifest"))
    return problems, n


def verify(index_dir: Path, data_dir: Path) -> Report:
    """Check every file (changes nothing)."""
    checked = store_check.check(index_dir)
    manifests, n = check_manifests(data_dir, file_table(checked.commit))
    return Report(checked.problems + tuple(manifests), checked.segments, checked.files + n)


def repair(store: SegmentStore, corpus: CorpusSync, analyzer: Analyzer, encoder: Encoder | None) -> Report:
    """Check, then rebuild what is damaged (see the module docstring); the report lists both."""
    index_dir, data_dir = store.directory, corpus.data_dir
    with store.writing():
        before = verify(index_dir, data_dir)
        done: list[str] = []
        counted = [0]
        checked = store_check.check(index_dir)
        bad_manifests = {Path(p.file).stem for p in before.problems if p.part == "manifest"}
        for name, digest in file_table(checked.commit).items():
            if digest in bad_manifests:
                bad_manifests.discard(digest)
                if corpus.rewrite_manifest(name, digest):
                    done.append(f"wrote the manifest of corpus file {name} again")
        for digest in bad_manifests:  # no file the commit knows has it: not needed
            (data_dir / MANIFESTS / f"{digest}.json").unlink(missing_ok=True)
            done.append(f"deleted the damaged manifest {digest}.json (no corpus file needs it)")
        if checked.commit is None and checked.problems:
            counted[0] += len(corpus.run(fresh=True).added)
            done.append(
                "indexed the whole corpus afresh (neither COMMIT nor its copy could be used: damaged, or written by an older quoteqa; passage numbers change)"
            )
        elif checked.problems:
            done += _repair_store(store, corpus, checked, analyzer, encoder, counted)
            if store.writer.finder is not None and store.snapshot().n_passages:
                n = store.writer.relink()
                done.append(f"found the translation twins of every article again ({n} linked)")
        after = verify(index_dir, data_dir)
    for line in done:
        log.warning("repair: %s", line)
    return Report(before.problems, before.segments, before.files, tuple(done), after.problems, counted[0])


def _repair_store(
    store: SegmentStore, corpus: CorpusSync, checked: store_check.Checked, analyzer: Analyzer, encoder: Encoder | None,
    counted: list[int],
) -> list[str]:  # fmt: skip
    index_dir = store.directory
    commit = checked.commit
    assert commit is not None
    bad = set(checked.bad_segments())
    done: list[str] = []
    entries = list(commit["segments"])
    opened: dict[str, LiveSegment] = {}
    for entry in entries:  # the sound segments as the commit sees them
        name = entry["name"]
        if name in bad:
            continue
        seg = store.reader.cache.get(name) or Segment.open(index_dir, name)
        live = LiveSegment(seg)
        if entry.get("deletes"):
            live.deleted = read_deletes(index_dir / entry["deletes"], seg.n_passages, entry.get("crc32"))
            live.del_file, live.del_crc, live.n_deleted = entry["deletes"], entry.get("crc32"), int(live.deleted.sum())
        opened[name] = live
    for p in checked.problems:  # derived files of sound segments
        if p.segment in opened and p.part not in ("segment", "tombstones"):
            for c in components.COMPONENTS:
                if c.name == p.part:
                    c.rebuild(index_dir, opened[p.segment].seg)
                    done.append(f"rebuilt {p.file} from segment {p.segment}")
    live_ids = {
        i for live in opened.values() for r, i in enumerate(live.seg.strings("art_id")) if live.is_live_row(r)
    }  # fmt: skip
    generation = int(commit["generation"]) + 1
    stamp = commit.get("encoder") if isinstance(commit.get("encoder"), str) else None
    lives: list[LiveSegment] = []
    dropped = 0
    in_corpus: dict[str, list[Article]] | None = None
    for entry in entries:
        name = entry["name"]
        if name not in bad:
            lives.append(opened[name])
            continue
        try:
            runs = recovery.read(index_dir, name)
        except ValueError as exc:
            dropped += 1
            done.append(f"dropped segment {name} ({exc}); its articles are indexed again with new passage numbers")
            continue
        if in_corpus is None:
            in_corpus = _corpus_articles(corpus.corpus_dir)
        articles = [
            a for r in runs if r.id not in live_ids
            for a in in_corpus.get(r.id, ()) if article_hash(a) == r.hash
        ]  # fmt: skip
        new_name = f"seg-{generation:08d}-{secrets.token_hex(3)}"
        seg = store_check.rebuild(
            index_dir, new_name, runs, _first_per_id(articles), analyzer, encoder if stamp else None
        )
        done.append(
            f"rebuilt segment {name} as {new_name} from the corpus folder ({seg.n_articles} articles, {seg.n_passages} passages, the same passage numbers)"
        )
        counted[0] += seg.n_articles
        if seg.n_passages:
            lives.append(LiveSegment(seg))
    next_uid = int(commit["next_uid"])
    store.writer.commit(generation, lives, next_uid, dict(commit.get("extra") or {}), stamp)
    done.append(f"wrote commit {generation} (COMMIT and its copy)")
    if dropped:
        counted[0] += len(corpus.run(full=True).added)
        done.append("synced the corpus folder (the dropped segments' articles are back)")
    return done


def _corpus_articles(corpus_dir: Path) -> dict[str, list[Article]]:
    out: dict[str, list[Article]] = {}
    for path in corpus_files(corpus_dir):
        try:
            for a in parse_file(path):
                if a.paragraphs:
                    out.setdefault(a.id, []).append(a)
        except (CorpusError, OSError):
            continue  # a broken file: its articles stay out, as a sync would leave them
    return out


def _first_per_id(articles: list[Article]) -> list[Article]:
    seen: set[str] = set()
    out = []
    for a in articles:
        if a.id not in seen:
            seen.add(a.id)
            out.append(a)
    return out
