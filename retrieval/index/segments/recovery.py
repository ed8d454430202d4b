"""What a segment needs to be rebuilt exactly from the corpus folder: `NAME.ids`.

The corpus folder is the source of truth, but a segment rebuilt from it must give every passage
the uid it had (an answer names its passage by uid, and ties are broken by it), so that answers
after `quoteqa verify --repair` are byte-identical to those before the damage. A segment's
articles each own a run of consecutive uids (a build numbers passages in article order and a
merge keeps them), so one small row per article is enough: its id, its content hash, its
first uid and how many passages it has, in the segment's article order.

Derived from the segment itself (`components.py` rebuilds a missing one from a sound segment),
and sealed (`fsutil.seal`) like every small index file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.index.fsutil import atomic_write, seal, unseal

if TYPE_CHECKING:
    from retrieval.index.segments.segment import Segment

SUFFIX = ".ids"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class ArticleRun:
    id: str
    hash: str  # `article_hash`: the article's text and citation data
    first_uid: int
    passages: int


def path(directory: Path, name: str) -> Path:
    return directory / f"{name}{SUFFIX}"


def runs_of(seg: Segment) -> list[ArticleRun]:
    """The segment's articles as uid runs, in its article order."""
    ptr = np.asarray(seg.a["art_pass_ptr"], np.int64)
    uid = np.asarray(seg.a["uid"], np.int64)
    ids, hashes = seg.strings("art_id"), seg.strings("art_hash")
    return [
        ArticleRun(ids[r], hashes[r], int(uid[ptr[r]]), int(ptr[r + 1] - ptr[r]))
        for r in range(seg.n_articles)
        if ptr[r + 1] > ptr[r]
    ]


def write(directory: Path, seg: Segment) -> None:
    rows = [[r.id, r.hash, r.first_uid, r.passages] for r in runs_of(seg)]
    body = {"format": FORMAT, "segment": seg.name, "passages": seg.n_passages, "articles": rows}
    atomic_write(path(directory, seg.name), seal(body))


def read(directory: Path, name: str) -> list[ArticleRun]:
    """The runs of segment `name`; ValueError saying what is wrong when the file is missing or damaged."""
    p = path(directory, name)
    try:
        body = unseal(p.read_bytes())
    except OSError as exc:
        raise ValueError(f"{p} is missing or unreadable ({exc.strerror})") from exc
    except ValueError as exc:
        raise ValueError(f"{p} is damaged: {exc}") from exc
    if body.get("format") != FORMAT or body.get("segment") != name:
        raise ValueError(f"{p} belongs to segment {body.get('segment')!r}, not {name}")
    try:
        return [ArticleRun(str(i), str(h), int(u), int(n)) for i, h, u, n in body["articles"]]  # type: ignore[union-attr]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{p} is damaged: {exc}") from exc


def verify(directory: Path, seg: Segment) -> str | None:
    """The file matches the (sound) segment, else a problem naming it."""
    try:
        runs = read(directory, seg.name)
    except ValueError as exc:
        return str(exc)
    if runs != runs_of(seg):
        return f"{path(directory, seg.name)} does not match segment {seg.name}"
    return None
