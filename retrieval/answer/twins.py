"""Answer stage: each quote's original, when its article has a translation twin.

After the quotes are chosen, each quote's sentences are mapped through its article's sentence
links to the twin's matching sentence(s): `Quote.aligned`. Which article is whose twin, and
which sentences match, is found when articles are written (`retrieval/index/twins/`: the writer
checks every article it adds, and again the partner of one it replaces or removes) and kept with
the commit; a question only reads those links (a dictionary lookup and the twin's paragraphs).

A commit without links (an index written before they were kept, by a writer without the
encoder, or whose links file is damaged) is answered the old way: the twin found per question
(`TwinFinder`: two dense searches per quoted article and the sentence encodes, once per commit,
cached per snapshot; a twin found before, or its absence when no article was added or removed,
is carried over to the next commit), with one warning naming `quoteqa reindex`. A link whose
article or twin is not live as it was linked is never followed: the quote is then looked up the
old way too. A store without commits (`MemoryStore`, the tests' and measurements' pools) is always
looked up the old way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.answer.quotes import source_of
from retrieval.index.store import PassageView, Searcher
from retrieval.index.twins.align import AlignRule, TwinRule
from retrieval.index.twins.find import Found, Key, TwinCheck, TwinFinder, article_views
from retrieval.index.twins.links import article_uid
from retrieval.models import Aligned, Quote
from retrieval.text.analyze import normalize_space
from retrieval.text.encoder import Encoder, stamp_of

log = logging.getLogger(__name__)

REINDEX = "`quoteqa reindex` keeps them with the index again"
_NO_STORE = object()  # a searcher that keeps no links at all (`MemoryStore`)


@dataclass(slots=True)
class _Article:
    views: list[PassageView]
    twin: tuple[list[PassageView], dict[Key, tuple[Key, ...]]] | None = None


class Twins:
    """Fills `Quote.aligned`; holds the caches, so the engine keeps one across questions."""

    def __init__(
        self,
        encoder: Encoder,
        rule: TwinRule | None = None,
        align_rule: AlignRule | None = None,
        check: TwinCheck | None = None,
    ) -> None:
        self.encoder = encoder
        self.finder = TwinFinder(encoder, rule, align_rule, check)
        self.stamp = stamp_of(encoder)
        self._lock = threading.Lock()
        self._snapshot: object = None
        self._articles: dict[str, _Article] = {}  # per snapshot: article id → its views and twin
        self._shape: tuple[int, int] = (0, 0)  # the snapshot's (articles, passages)
        self._previous: tuple[dict[str, _Article], tuple[int, int]] = ({}, (0, 0))  # the commit before
        self._stored: tuple[object, dict[str, Found | None]] = (None, {})  # per snapshot: twin id → read
        self._warned: set[str] = set()

    # --- the stage ---------------------------------------------------------------------------
    def fill(
        self, searcher: Searcher, quotes: Sequence[Quote], more: Sequence[Quote] = ()
    ) -> tuple[list[Quote], list[Quote]]:
        """The quotes with `aligned` set where their article has a twin (the others as they were)."""
        return [self.quote(searcher, q) for q in quotes], [self.quote(searcher, q) for q in more]

    def quote(self, searcher: Searcher, q: Quote) -> Quote:
        if not q.sentences:
            return q
        try:
            twin = self._stored_twin(searcher, q)
        except LookupError:  # no links to read: found per question
            try:
                art = self._article(searcher, q.passage, q.source.article)
            except KeyError:
                return q
            twin = art.twin
        if twin is None:
            return q
        views, links = twin
        targets = sorted({t for s in q.sentences for t in links.get((q.source.paragraph, s), ())})
        aligned = _items(views, targets)
        return replace(q, aligned=tuple(aligned)) if aligned else q

    # --- reading the links the writer kept -----------------------------------------------------
    def _stored_twin(self, searcher: Searcher, q: Quote) -> Found | None:
        """The quote's twin as the commit's links give it; LookupError when they cannot be read
        (none kept, another encoder's, damaged, or a link not live as it was made)."""
        kept = getattr(searcher, "twin_links", _NO_STORE)
        if kept is _NO_STORE:
            raise LookupError("no links in this store")
        if kept is None or kept.encoder != self.stamp:
            why = getattr(searcher, "twin_problem", None) or f"has twin links made with {getattr(kept, 'encoder', '?')}"
            self._warn(f"the index {why}: translation twins are found per question (slower); {REINDEX}")
            raise LookupError(why)
        aid = q.source.article
        if aid in kept.unchecked:
            raise LookupError("added by a write that has not checked it yet")
        link = kept.links.get(aid)
        if link is None:
            return None  # checked when written: no twin
        with self._lock:
            if self._stored[0] is not searcher:
                self._stored = (searcher, {})
            cache = self._stored[1]
        if aid in cache:
            return cache[aid]
        own = searcher.passage(q.passage).article
        twin_uid = article_uid(searcher, link.twin)
        meta = searcher.article(link.twin)
        if own.text_hash != link.hash or twin_uid is None or meta is None or meta.text_hash != link.twin_hash:
            self._warn(f"the index's twin link of article {aid} does not match its articles; {REINDEX}")
            raise LookupError("a stale link")
        views = article_views(searcher, twin_uid)
        found: Found = (views, link.links)
        cache[aid] = found
        return found

    def _warn(self, message: str) -> None:
        with self._lock:
            if message in self._warned:
                return
            self._warned.add(message)
        log.warning(message)

    # --- finding twins per question (a commit without links) -----------------------------------
    def _article(self, searcher: Searcher, uid: int, article_id: str) -> _Article:
        """The article's views and twin in this snapshot: found once per commit, or carried
        over from the previous commit (see `_carried`)."""
        with self._lock:
            if self._snapshot is not searcher:
                self._previous = (self._articles, self._shape)
                self._snapshot, self._articles, self._shape = searcher, {}, _shape(searcher)
            art = self._articles.get(article_id)
        if art is not None:
            return art
        views = article_views(searcher, uid)
        art = self._carried(searcher, article_id, views)
        if art is None:
            art = _Article(views, self.finder.find(searcher, views))
        with self._lock:
            if self._snapshot is searcher:
                self._articles[article_id] = art
        return art

    def _carried(self, searcher: Searcher, article_id: str, views: list[PassageView]) -> _Article | None:
        """The previous commit's finding, when it still holds: the same text, and either a twin
        whose text is still live as it was, or no twin and no article added or removed since
        (a commit that only replaced articles may hide a new twin until the next question after
        another commit: recall, never precision). None: look again."""
        before, shape = self._previous
        old = before.get(article_id)
        if old is None or old.views[0].article.text_hash != views[0].article.text_hash:
            return None
        if old.twin is None:
            return _Article(views, None) if shape == self._shape else None
        twin_views, links = old.twin
        if twin_views[0].article.id == article_id:  # halves of this very article
            return _Article(views, (views, links))
        meta = searcher.article(twin_views[0].article.id)
        if meta is None or meta.text_hash != twin_views[0].article.text_hash:
            return None
        try:
            now = article_views(searcher, twin_views[0].uid)
        except KeyError:
            return None
        if now[0].article.text_hash != meta.text_hash:
            return None
        return _Article(views, (now, links))


def _items(views: Sequence[PassageView], targets: Sequence[Key]) -> list[Aligned]:
    """Target sentences as `Aligned` items: consecutive sentences of one paragraph join."""
    by_paragraph = {v.paragraph: v for v in views}
    groups: list[list[Key]] = []
    for k in targets:
        if groups and groups[-1][-1][0] == k[0] and groups[-1][-1][1] + 1 == k[1]:
            groups[-1].append(k)
        else:
            groups.append([k])
    out = []
    for g in groups:
        v = by_paragraph.get(g[0][0])
        if v is None or g[-1][1] >= v.n_sentences:
            continue
        text = normalize_space(v.text[v.sentence(g[0][1])[0] : v.sentence(g[-1][1])[1]])
        out.append(Aligned(text, source_of(v), v.uid, tuple(i for _, i in g)))
    return out


def _shape(searcher: Searcher) -> tuple[int, int]:
    return searcher.n_articles, searcher.n_passages


__all__ = ["Twins"]
