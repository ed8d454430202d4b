"""The seam between answering and storage: what a question needs from an index, and nothing more.

Two sides, composed rather than inherited: a `Store` is written (atomic changes under a writer
lock) and hands out snapshots; a `Searcher`, the snapshot, is everything answering, `Engine`,
`sources` and the Telegram "Paragraph" button read, and it never changes. Two implementations
pass the same test suite: `SegmentStore` (immutable segments on disk,
`retrieval/index/segments/store.py`) and `MemoryStore` (plain dicts, `retrieval/index/memory.py`).
A third one — a search server holding pre-tokenized fields — would slot in the same way.

Passages are addressed by a *uid*: a number given when a passage is added and never reused or
changed by merges, so a button made before a merge or a restart still finds its paragraph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from retrieval.index.bm25 import SearchParams
from retrieval.models import Article, Language, article_hash, text_hash

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """An article as stored: enough to cite it, and to tell whether a new copy differs."""

    id: str
    title: str
    source: str = ""
    url: str = ""
    date: str = ""
    file: str = ""  # the corpus file it was read from
    hash: str = ""  # article_hash: text and citation data
    text_hash: str = ""  # the text alone

    @classmethod
    def of(cls, article: Article) -> ArticleMeta:
        a = article
        return cls(a.id, a.title, a.source, a.url, a.date, a.file, article_hash(a), text_hash(a))


ARTICLE_FIELDS: tuple[str, ...] = ArticleMeta.__slots__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """A listing row: the article and what the index holds of it."""

    meta: ArticleMeta
    passages: int
    languages: tuple[Language, ...]


@dataclass(frozen=True, slots=True, eq=False)
class PassageView:
    """One stored paragraph with its sentences and their terms.

    `tokens` are term ids in text order, in an id space private to the store (one segment's
    dictionary, say); `ids` maps question terms into that space, so coverage can be counted
    with integer arrays instead of strings.
    """

    uid: int
    text: str
    paragraph: int  # 1-based, as a person counts
    language: Language
    article: ArticleMeta
    starts: tuple[int, ...]  # sentence spans, character offsets into `text`
    ends: tuple[int, ...]
    tok_ptr: I64  # sentence i's tokens are tokens[tok_ptr[i]:tok_ptr[i + 1]]
    tokens: npt.NDArray[np.int32]
    lookup: Callable[[str], int] = field(repr=False)  # term -> id in `tokens`' space, -1 if absent
    columns: Mapping[str, Any] = field(
        default_factory=dict, repr=False
    )  # per-passage columns (index/segments/columns/)

    @property
    def n_sentences(self) -> int:
        return len(self.starts)

    def sentence(self, i: int) -> tuple[int, int]:
        return self.starts[i], self.ends[i]

    def sentence_tokens(self, i: int) -> npt.NDArray[np.int32]:
        return self.tokens[int(self.tok_ptr[i]) : int(self.tok_ptr[i + 1])]

    def ids(self, terms: Iterable[str]) -> I64:
        return np.array([self.lookup(t) for t in terms], np.int64)


class ArticleSource(Sequence[Article]):
    """Articles a write adds, known up front by id and paragraph count and read when taken.

    A build's parent held the text of every article of its write from the sync's first read to
    the write's end (~1.1 GiB at 1M passages). A writer that plans its batches and flushes from
    `ids` and `sizes` and `take`s a batch's articles only when it analyses them holds a batch
    at a time; any other reader sees an ordinary sequence of articles."""

    def __init__(
        self, ids: Sequence[str], sizes: Sequence[int], read: Callable[[Sequence[int]], list[Article]]
    ) -> None:
        """`read(rows)`: the articles at those positions (ascending within a batch), each with `sizes[row]` paragraphs."""
        if len(ids) != len(sizes):
            raise ValueError("an article source needs one paragraph count per id")
        self.ids, self.sizes, self._read = list(ids), list(sizes), read

    @classmethod
    def held(cls, articles: Sequence[Article]) -> ArticleSource:
        """Articles already in memory, as a source."""
        if isinstance(articles, ArticleSource):
            return articles
        return cls(
            [a.id for a in articles], [len(a.paragraphs) for a in articles], lambda rows: [articles[r] for r in rows]
        )

    def take(self, rows: Sequence[int]) -> list[Article]:
        return self._read(rows)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return self.take(range(len(self))[i])
        return self.take([range(len(self))[i]])[0]

    def __iter__(self) -> Iterator[Article]:
        step = 256  # read in runs: a source reading files parses a file once per run, not per article
        for lo in range(0, len(self), step):
            yield from self.take(range(lo, min(lo + step, len(self))))


@dataclass(frozen=True, slots=True)
class Change:
    """One atomic write: everything in it is committed together, or nothing is."""

    add: Sequence[Article] = ()  # a tuple, or an `ArticleSource` (read a batch at a time by the segment writer)
    remove: tuple[str, ...] = ()  # article ids; an id both removed and added is a replacement
    extra: dict[str, object] | None = None  # replaces the store's extra data when given


@dataclass(frozen=True, slots=True)
class ChangeReport:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    passages_added: int = 0


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How one write runs, apart from what it writes: the caller (the engine) decides, the
    store obeys. A store that has no use for an option ignores it (the memory store ignores both)."""

    progress: Callable[[int], None] | None = None  # told how many passages were analysed, batch by batch
    pool: BatchAnalyser | None = None  # analyses the batches in a process of its own (a serving bot's big ingest)


class BatchAnalyser(Protocol):
    """Analyses batches of paragraphs elsewhere (`index/segments/pool.py`: child processes);
    `encoder` (name, cache folder) asks for the passages' vectors too."""

    def encode(self, batches: Iterable[list[str]], encoder: tuple[str, Any] | None = None) -> Iterator[object]: ...


@runtime_checkable
class Searcher(Protocol):
    """Everything answering and the front ends read from an index: statistics, search, passages
    and articles, as of one commit. Its reads never change, whatever is written after: a
    question is answered from the commit that was live when it started."""

    @property
    def params(self) -> SearchParams: ...

    @property
    def generation(self) -> int:
        """The commit this snapshot reads (grows with every write)."""

    def snapshot(self) -> Searcher:
        """Itself (a snapshot of a snapshot is the same commit)."""

    # --- statistics and terms -----------------------------------------------------------------
    @property
    def n_passages(self) -> int:
        """Live passages (BM25's N)."""

    def df(self, term: str) -> int:
        """How many live passages hold the term."""

    def idf(self, terms: Sequence[str]) -> npt.NDArray[np.float64]:
        """Each term's idf under the configured variant (0 for a term no passage holds)."""

    def affix_terms(self, fragment: str) -> dict[str, int]:
        """Index terms that begin or end with `fragment` (longer than it), with their df: how a
        Korean question noun finds the compound the articles use (크렘린 → 크렘린궁)."""

    def near_terms(self, term: str) -> dict[str, int]:
        """Index terms one edit (deletion, swap, change, insertion) away, with their df. (The
        other unknown-word lookup, "the stem this word extends", is `df` of its prefixes.)"""

    # --- search -----------------------------------------------------------------------------
    def search(self, terms: Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        """The k best (uid, BM25 score), best first; ties go to the lower uid. A repeated term
        counts again, as in rank-bm25."""

    def scores(self, terms: Sequence[str]) -> tuple[I64, npt.NDArray[np.float64]]:
        """Every live passage's uid (ascending) and BM25 score: for checks against rank-bm25."""

    # --- dense vectors (one per passage, made by the encoder named in `encoder_stamp`) ---------
    @property
    def encoder_stamp(self) -> str | None:
        """`name/version` of the encoder every live passage's vector was made with; None when
        the index holds no vectors (built without an encoder, before vectors existed, or mixed)."""

    def dense(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The k live passages nearest the unit vector `query`: (uid, cosine), best first (ties
        to the lower uid); [] when the index holds no vectors."""

    def vectors(self, uids: Sequence[int]) -> npt.NDArray[np.float32]:
        """Unit vectors (dequantised) of these live passages, one row each, in their order.
        KeyError for a uid that is not live; LookupError when the index holds no vectors."""

    # --- passages and articles ----------------------------------------------------------------
    def passage(self, uid: int) -> PassageView:
        """The live passage with this uid; KeyError when it is gone."""

    def passage_languages(self, uids: Sequence[int]) -> list[Language]:
        """Each live passage's language, in their order, without reading the passages (KeyError
        for a uid that is not live)."""

    def uids(self) -> I64:
        """Every live passage's uid, ascending."""

    def passage_terms(self, uid: int) -> list[str]:
        """A passage's terms as strings in text order (to check scores against other BM25 code)."""

    def articles(self) -> list[StoredArticle]: ...

    def languages(self) -> tuple[Language, ...]:
        """The languages of the live passages ("mixed" counts as both), without listing articles."""

    def article(self, article_id: str) -> ArticleMeta | None: ...

    def article_hashes(self) -> dict[str, str]:
        """Every live article id -> its `article_hash`: the cheap listing a corpus sync compares."""

    def article_by(self, field: str, value: str) -> ArticleMeta | None:
        """A live article whose `id`, `hash` or `text_hash` is `value` (no full listing)."""

    @property
    def n_articles(self) -> int:
        """Live articles."""

    def extra(self) -> dict[str, object]:
        """Small data the owner keeps with each commit (the engine keeps its corpus file table)."""


@runtime_checkable
class Store(Protocol):
    """The index writer's side and the source of snapshots: atomic changes under a writer lock,
    and `snapshot()`, the `Searcher` of the live commit. It reads nothing itself: readers take
    a snapshot and hold only that."""

    def snapshot(self) -> Searcher:
        """The live commit (unchanged by later writes)."""

    @property
    def params(self) -> SearchParams: ...

    def set_params(self, params: SearchParams) -> None:
        """BM25 variant, k1 and b: derived at query time, so changing them re-reads nothing
        (snapshots taken afterwards use them)."""

    def serving(self) -> Searcher:
        """The live commit as questions read it: less any part taken out of service (`take_out`)."""

    def take_out(self, segment: str, reason: str) -> bool:
        """A read found this part of the index damaged: serve no more questions from it in this
        process (until `quoteqa verify --repair`); False when it already was out."""

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def damaged(self) -> list[str]:
        """What could not be read when the store was last opened (it gets rebuilt)."""

    def refresh(self) -> bool:
        """Pick up a commit another writer made; True when the snapshot changed."""

    def writing(self, blocking: bool = True) -> AbstractContextManager[bool]:
        """Exclusive right to write (across processes where the store is shared); yields False
        when `blocking` is off and someone else writes."""

    # --- writes -----------------------------------------------------------------------------
    def apply(self, change: Change, options: WriteOptions = ...) -> ChangeReport:
        """Commit one change atomically; later snapshots see it, earlier ones never do."""

    def add(self, articles: Sequence[Article], options: WriteOptions = ...) -> ChangeReport: ...

    def replace(self, articles: Sequence[Article]) -> ChangeReport: ...

    def remove(self, article_ids: Sequence[str]) -> ChangeReport: ...


NO_OPTIONS = WriteOptions()


def listed_languages(langs: Iterable[Language]) -> tuple[Language, ...]:
    """An article's languages for a listing: a mixed paragraph counts as both."""
    found = set(langs)
    if "mixed" in found:
        found = (found - {"mixed"}) | {"ko", "en"}
    return tuple(sorted(found))  # type: ignore[arg-type]


class StoreWrites:
    """`add`, `replace` and `remove` in terms of `apply`, shared by both stores."""

    def apply(
        self, change: Change, options: WriteOptions = NO_OPTIONS
    ) -> ChangeReport:  # pragma: no cover - overridden
        raise NotImplementedError

    def add(self, articles: Sequence[Article], options: WriteOptions = NO_OPTIONS) -> ChangeReport:
        return self.apply(Change(add=tuple(articles)), options)

    def replace(self, articles: Sequence[Article]) -> ChangeReport:
        arts = tuple(articles)
        return self.apply(Change(add=arts, remove=tuple(a.id for a in arts)))

    def remove(self, article_ids: Sequence[str]) -> ChangeReport:
        return self.apply(Change(remove=tuple(article_ids)))


def edits1(word: str) -> Iterator[str]:
    """Every lower-case Latin string one deletion, swap of neighbours, change or insertion away."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(len(word) + 1):
        left, right = word[:i], word[i:]
        if right:
            yield left + right[1:]
            if len(right) > 1:
                yield left + right[1] + right[0] + right[2:]
            yield from (left + c + right[1:] for c in letters if c != right[0])
        yield from (left + c + right for c in letters)
