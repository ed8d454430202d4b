"""An article's translation twin in a snapshot, and the links between their sentences.

Where a twin comes from:
* **halves of one article** (`align.language_halves`): one text, one language and then the other
  (the shipped `corpus/clubhouse-putin-musk.txt`: Korean, then English); no index vectors needed;
* **another article** of the other language: the nearest one by mean passage vector, found with
  the index's dense search (`Searcher.dense`, `Searcher.vectors`), kept only when the two are
  mutual nearest neighbours among the candidates both searches saw, above `TwinRule.min_cosine`
  (`align.twin_pairs`; the levels fitted on the Belebele FIT half by `measure/twins.py`: on
  REPORT every twin it took was right, 118 of the 120 there were).

Either way the two sides must also align: at least `TwinCheck.min_aligned` of the shorter side's
sentences in matches (a same-story article written separately shares a topic, not sentences).
A wrong "original" is worse than none, so every doubt leaves an article without a twin.

`TwinFinder.find` is what the writer runs for each article it adds (`links.py`), and what the
answer stage runs per question when a commit holds no links. Its caches: sentence vectors per
article text (by text hash) and alignments per pair of texts (by both hashes), bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.index.store import PassageView, Searcher
from retrieval.index.twins.align import AlignRule, TwinRule, align, language_halves, twin_pairs
from retrieval.models import Language
from retrieval.text.analyze import detect_language, normalize_space
from retrieval.text.encoder import Encoder

F32 = npt.NDArray[np.float32]
Key = tuple[int, int]  # (paragraph, sentence number inside it): stable across commits for one text
Links = dict[Key, tuple[Key, ...]]  # a sentence of one side -> the sentences of the other it matches
Found = tuple[list[PassageView], Links]  # the twin's paragraphs, and the links into them


@dataclass(frozen=True, slots=True)
class TwinCheck:
    candidates: int = 40  # dense hits read when looking for an article's twin
    articles: int = 5  # ... of which the first articles of the other language are compared
    min_aligned: float = 0.5  # share of the shorter side's sentences that must be in matches
    # A match is shown only when its cosine is at least the mean of each side's `margin_k` best
    # cosines to the other side (a ratio margin, as in LASER mining): on the shipped article this
    # keeps the 4 right matches of 8 and drops the 4 wrong or half-right ones (reordered
    # paragraphs, a caption); a wrong "original" is worse than none.
    margin_k: int = 2
    min_ratio: float = 1.0
    cache_articles: int = 512  # articles whose sentence vectors are kept
    cache_pairs: int = 512  # aligned pairs kept
    # a commit checking this many articles or more asks ahead `batch` at a time (`batch.py`):
    # a bound rules most out, the rest's first dense searches go together; building the bound
    # reads every vector of the index once (~9 s at 552k passages), so a small commit goes one by one
    batch_from: int = 1_024
    batch: int = 4_096


@dataclass(frozen=True, slots=True)
class Sentences:
    """One article (or one half of it) as a list of sentences."""

    keys: tuple[Key, ...]
    texts: tuple[str, ...]
    vectors: F32 = field(repr=False)


@dataclass(frozen=True, slots=True)
class Pairing:
    """Sentence links between two sides: a key of side a → the keys of b it aligns with, and
    back (two maps: two articles' keys may be equal)."""

    forward: dict[Key, tuple[Key, ...]]
    backward: dict[Key, tuple[Key, ...]]

    def both(self) -> dict[Key, tuple[Key, ...]]:
        """One map for the halves of one article (their keys never collide)."""
        return {**self.forward, **self.backward}


class TwinFinder:
    """Finds an article's twin and aligns their sentences (thread-safe; holds the caches)."""

    def __init__(
        self,
        encoder: Encoder,
        rule: TwinRule | None = None,
        align_rule: AlignRule | None = None,
        check: TwinCheck | None = None,
    ) -> None:
        self.encoder = encoder
        self.rule, self.align_rule, self.check = rule or TwinRule(), align_rule or AlignRule(), check or TwinCheck()
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, F32] = OrderedDict()  # text hash → sentence vectors
        self._pairs: OrderedDict[tuple[str, str], Pairing | None] = OrderedDict()  # (hash, hash) → links

    def find(self, searcher: Searcher, views: list[PassageView]) -> Found | None:
        """The twin of the article whose paragraphs are `views` (itself for two halves), with the
        links from its sentences into the twin's; None when it has none."""
        return self._find_twin(searcher, views)

    def _find_twin(self, searcher: Searcher, views: list[PassageView]) -> Found | None:
        keys, texts = sentence_list(views)
        langs = [detect_language(t) for t in texts]
        cut = language_halves(langs, self.rule)
        h = views[0].article.text_hash
        if cut is not None:
            pairing = self._pairing((h, f"{h}:halves"), lambda: self._align_halves(h, keys, texts, cut))
            return (views, pairing.both()) if pairing is not None else None
        other = twin_article(searcher, views, self.rule, self.check.candidates, self.check.articles)
        if other is None:
            return None
        h2 = other[0].article.text_hash
        key = (h, h2) if h <= h2 else (h2, h)

        def make() -> Pairing | None:
            first, second = (views, other) if h <= h2 else (other, views)
            return self._align_sides(self._sentences(first), self._sentences(second))

        pairing = self._pairing(key, make)
        if pairing is None:
            return None
        return other, (pairing.forward if h <= h2 else pairing.backward)

    def _pairing(self, key: tuple[str, str], make: Callable[[], Pairing | None]) -> Pairing | None:
        with self._lock:
            if key in self._pairs:
                self._pairs.move_to_end(key)
                return self._pairs[key]
        pairing = make()
        with self._lock:
            self._pairs[key] = pairing
            while len(self._pairs) > self.check.cache_pairs:
                self._pairs.popitem(last=False)
        return pairing

    def _sentences(self, views: list[PassageView]) -> Sentences:
        keys, texts = sentence_list(views)
        h = views[0].article.text_hash
        with self._lock:
            vecs = self._vectors.get(h)
        if vecs is None or len(vecs) != len(texts):
            vecs = self.encoder.encode(list(texts))
            with self._lock:
                self._vectors[h] = vecs
                while len(self._vectors) > self.check.cache_articles:
                    self._vectors.popitem(last=False)
        return Sentences(tuple(keys), tuple(texts), vecs)

    def _align_halves(self, h: str, keys: list[Key], texts: list[str], cut: int) -> Pairing | None:
        vecs = self.encoder.encode(list(texts))
        a = Sentences(tuple(keys[:cut]), tuple(texts[:cut]), vecs[:cut])
        b = Sentences(tuple(keys[cut:]), tuple(texts[cut:]), vecs[cut:])
        if not twin_pairs([a.vectors], [b.vectors], [" ".join(a.texts)], [" ".join(b.texts)], self.rule):
            return None
        return self._align_sides(a, b)

    def _align_sides(self, a: Sentences, b: Sentences) -> Pairing | None:
        matches = align(a.vectors, b.vectors, a.texts, b.texts, self.align_rule)
        held_a = sum(len(m.a) for m in matches)
        held_b = sum(len(m.b) for m in matches)
        shorter = min(len(a.keys), len(b.keys))
        if not shorter or min(held_a, held_b) < self.check.min_aligned * shorter:
            return None
        forward: dict[Key, tuple[Key, ...]] = {}
        backward: dict[Key, tuple[Key, ...]] = {}
        for m in matches:
            if self._ratio(a.vectors, b.vectors, m.a, m.b) < self.check.min_ratio:
                continue
            ka, kb = tuple(a.keys[i] for i in m.a), tuple(b.keys[j] for j in m.b)
            for k in ka:
                forward[k] = kb
            for k in kb:
                backward[k] = ka
        return Pairing(forward, backward)

    def _ratio(self, va: F32, vb: F32, ia: tuple[int, ...], ib: tuple[int, ...]) -> float:
        """The match's cosine over the mean of both sides' `margin_k` best cosines to the other side."""
        x, y = _unit(va[list(ia)].sum(axis=0)), _unit(vb[list(ib)].sum(axis=0))
        k = self.check.margin_k
        near_x = np.sort(vb @ x)[::-1][:k].mean()
        near_y = np.sort(va @ y)[::-1][:k].mean()
        denom = 0.5 * float(near_x + near_y)
        return float(x @ y) / denom if denom > 0 else 0.0


# --- reading articles ---------------------------------------------------------------------------


def article_views(searcher: Searcher, uid: int) -> list[PassageView]:
    """Every paragraph of the passage's article, in order. An article's passages have
    consecutive uids (both stores give them so, and merges keep uids), so this walks from the
    passage both ways while the article is the same."""
    first = searcher.passage(uid)
    aid = first.article.id
    before: list[PassageView] = []
    after: list[PassageView] = []
    for step, out in ((-1, before), (1, after)):
        u = uid + step
        while u >= 0:
            try:
                v = searcher.passage(u)
            except KeyError:
                break
            if v.article.id != aid:
                break
            out.append(v)
            u += step
    return [*reversed(before), first, *after]


def sentence_list(views: Sequence[PassageView]) -> tuple[list[Key], list[str]]:
    """Every sentence of the paragraphs with its (paragraph, sentence number) key."""
    keys: list[Key] = []
    texts: list[str] = []
    for v in views:
        for i in range(v.n_sentences):
            s, e = v.sentence(i)
            text = normalize_space(v.text[s:e])
            if text:
                keys.append((v.paragraph, i))
                texts.append(text)
    return keys, texts


def article_language(views: Sequence[PassageView]) -> Language:
    """The language most of the article's characters are in."""
    chars: dict[str, int] = {}
    for v in views:
        chars[v.language] = chars.get(v.language, 0) + len(v.text)
    return max(chars, key=lambda k: chars[k]) if chars else "mixed"  # type: ignore[return-value]


# --- finding another article that is the twin ----------------------------------------------------


def article_query(searcher: Searcher, views: list[PassageView]) -> tuple[Language, F32] | None:
    """The language a twin of this article must be in, and the article's mean passage vector
    (what the dense search starts from); None when it can have no twin by another article (not
    Korean or English, or no vectors). A commit's twin check asks it of many articles ahead
    (`batch.py`), so both go through this one function."""
    vectors: Any = getattr(searcher, "vectors", None)
    lang = article_language(views)
    if getattr(searcher, "dense", None) is None or vectors is None or lang not in ("ko", "en"):
        return None
    try:
        mean = _mean(vectors([v.uid for v in views]))
    except (LookupError, ValueError):  # no vectors in this index
        return None
    return ("en" if lang == "ko" else "ko", mean) if mean is not None else None


def twin_article(
    searcher: Searcher, views: list[PassageView], rule: TwinRule, depth: int, limit: int = 5
) -> list[PassageView] | None:
    """The other-language article that translates this one, or None (see the module docstring).
    Needs the index's vectors (`Searcher.vectors`, `Searcher.dense`); without them, None.

    A searcher may also say how near any article of the other language can be
    (`twin_bound(article id)`: an upper bound on the cosine of this article's mean to theirs,
    `batch.py`): below `TwinRule.min_cosine` no article can pass `twin_pairs`, so none is
    searched for, and the answer is the one the search would give."""
    query = article_query(searcher, views)
    if query is None:
        return None
    other, mean = query
    lang: Language = "en" if other == "ko" else "ko"
    dense: Any = searcher.dense  # type: ignore[attr-defined]
    vectors: Any = searcher.vectors  # type: ignore[attr-defined]
    bound: Any = getattr(searcher, "twin_bound", None)
    if bound is not None and bound(views[0].article.id) < rule.min_cosine:
        return None
    near = _candidates(searcher, dense(mean, depth), other, limit)  # articles of the other language near this one
    if not near:
        return None
    means_b = {aid: _mean(vectors([v.uid for v in vs])) for aid, vs in near.items()}
    means_b = {aid: m for aid, m in means_b.items() if m is not None}
    if not means_b:
        return None
    best = max(means_b, key=lambda aid: float(means_b[aid] @ mean))
    back = _candidates(
        searcher, dense(means_b[best], depth), lang, limit
    )  # articles of this language near the best one
    aid = views[0].article.id
    back[aid] = views
    ids_a = list(back)
    means_a = [_mean(vectors([v.uid for v in back[x]])) for x in ids_a]
    keep = [i for i, m in enumerate(means_a) if m is not None]
    ids_a = [ids_a[i] for i in keep]
    ids_b = list(means_b)
    texts_a = [" ".join(v.text for v in back[x]) for x in ids_a]
    texts_b = [" ".join(v.text for v in near[x]) for x in ids_b]
    pairs = twin_pairs(
        [means_a[i][None, :] for i in keep], [means_b[x][None, :] for x in ids_b], texts_a, texts_b, rule
    )
    for i, j, _ in pairs:
        if ids_a[i] == aid:
            return near[ids_b[j]]
    return None


def _candidates(
    searcher: Searcher, hits: Sequence[tuple[int, float]], lang: Language, limit: int
) -> dict[str, list[PassageView]]:
    """The first `limit` articles of `lang` among dense hits, each read whole (a hit in another
    language is passed over before its article is read; an article that is itself two halves
    is no candidate)."""
    out: dict[str, list[PassageView]] = {}
    seen: set[str] = set()
    langs = _languages(searcher, [int(u) for u, _ in hits])
    for (uid, _), hit_lang in zip(hits, langs, strict=True):
        if len(out) >= limit:
            break
        if hit_lang is not None and hit_lang != lang:  # passed over unread, as below
            continue
        try:
            v = searcher.passage(int(uid))
        except KeyError:
            continue
        aid = v.article.id
        if aid in seen or v.language != lang:
            continue
        seen.add(aid)
        views = article_views(searcher, int(uid))
        if article_language(views) != lang:
            continue
        if any(x.language != lang for x in views):  # only then can it be two halves
            _, texts = sentence_list(views)
            if language_halves([detect_language(t) for t in texts]) is not None:
                continue
        out[aid] = views
    return out


def _languages(searcher: Searcher, uids: list[int]) -> list[Language | None]:
    """Each hit's language from the index's language column, without reading the passage
    (None: not known that way; the passage is read)."""
    find: Any = getattr(searcher, "passage_languages", None)
    if find is not None:
        try:
            return list(find(uids))
        except KeyError:  # a hit no longer live: read one by one, as before
            pass
    return [None] * len(uids)


def _unit(x: F32) -> F32:
    n = float(np.linalg.norm(x))
    return x / n if n > 0 else x


def _mean(vecs: npt.ArrayLike) -> F32 | None:
    x = np.asarray(vecs, np.float32)
    if x.ndim != 2 or not len(x):
        return None
    m = x.mean(axis=0)
    n = float(np.linalg.norm(m))
    return (m / n).astype(np.float32) if n > 0 else None


__all__ = [
    "Found",
    "Key",
    "Links",
    "Pairing",
    "TwinCheck",
    "TwinFinder",
    "article_language",
    "article_query",
    "article_views",
    "sentence_list",
    "twin_article",
]
