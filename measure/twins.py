"""Translation-twin detection on Belebele dev: the same FLORES passages in Korean and English,
each indexed as an article of its own (half of the passages in both languages, a quarter in
Korean only, a quarter in English only, by an md5 of the link: an article without a twin must get
none, and its nearest other-language article is often a paragraph of the same story), and for
every article the twin the answer stage would use (`retrieval/answer/twins.py`): dense search by mean passage vector, mutual nearest
neighbours, anchors, then the sentence alignment's coverage check.

The article rule's two levels (`TwinRule.min_cosine`, `TwinRule.min_anchor_share`) are fitted
here on the FIT half (passages by the same md5 of their link as `measure/belebele.py`): every
article's candidate is found once with the levels at zero, and the fitted pair is the one with
the highest FIT recall among those with no wrong twin on FIT even `MARGIN` below the
cosine level (precision first: a wrong
"Original" is worse than none; a tie goes to the higher levels). Precision and recall are
claimed on the REPORT half, for the article check and for the whole stage (with the alignment
check), beside the levels shipped in `TwinRule`.

    uv run python -m measure.twins [--data DIR] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from retrieval.answer.quotes import source_of
from retrieval.answer.twins import Twins
from retrieval.index.memory import MemoryStore
from retrieval.index.store import PassageView, Searcher
from retrieval.index.twins.align import TwinRule, anchors
from retrieval.index.twins.find import TwinCheck, article_views, twin_article
from retrieval.models import Article, Quote
from retrieval.text.analyze import Analyzer
from retrieval.text.encoder import UseM3

from .belebele import fit_half, load

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "belebele-dev"
ENCODER_CACHE = Path("/tmp/quoteqa-test-encoder")
COSINES = tuple(round(0.5 + 0.01 * i, 2) for i in range(46))  # 0.50 … 0.95
ANCHOR_SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
MARGIN = 0.05  # the fitted cosine level stays this far above every wrong pair of the FIT half
OPEN = TwinRule(min_cosine=0.0, min_anchor_share=0.0)  # every mutual nearest neighbour


@dataclass(frozen=True, slots=True)
class Candidate:
    """One article's twin candidate under the open rule, with what the rule's levels read."""

    article: str  # "ko12": language and link number
    link: str
    twin: str | None
    cosine: float  # of the two articles' mean passage vectors
    anchor_share: float  # shared anchors / the smaller side's (1.0 when either side has none)

    has_twin: bool = True  # its translation is indexed too

    @property
    def right(self) -> bool:
        return self.twin is not None and self.twin[2:] == self.article[2:] and self.twin[:2] != self.article[:2]

    def taken(self, rule: TwinRule) -> bool:
        return self.twin is not None and self.cosine >= rule.min_cosine and self.anchor_share >= rule.min_anchor_share


def _mean(searcher: Searcher, views: Sequence[PassageView]) -> np.ndarray:
    m = np.asarray(searcher.vectors([v.uid for v in views]), np.float32).mean(axis=0)  # type: ignore[attr-defined]
    return m / (np.linalg.norm(m) or 1.0)


def sides(link: str) -> tuple[str, ...]:
    """The languages a link's passage is indexed in: both for half of them, one for the rest."""
    k = int(hashlib.md5(("twins" + link).encode()).hexdigest(), 16) % 4
    return ("ko", "en") if k < 2 else ("ko",) if k == 2 else ("en",)


def candidates(snap: Searcher, first: dict[str, int], links: Sequence[str]) -> list[Candidate]:
    check = TwinCheck()
    out = []
    for aid, uid in first.items():
        views = article_views(snap, uid)
        other = twin_article(snap, views, OPEN, check.candidates, check.articles)
        link = links[int(aid[2:])]
        paired = len(sides(link)) == 2
        if not other:
            out.append(Candidate(aid, link, None, 0.0, 0.0, paired))
            continue
        xa, xb = anchors(" ".join(v.text for v in views)), anchors(" ".join(v.text for v in other))
        share = len(xa & xb) / min(len(xa), len(xb)) if xa and xb else 1.0
        cos = float(_mean(snap, views) @ _mean(snap, other))
        out.append(Candidate(aid, link, other[0].article.id, cos, share, paired))
    return out


def score(found: Sequence[Candidate], rule: TwinRule) -> dict[str, float]:
    """Precision over the twins taken; recall over the articles whose twin is indexed."""
    taken = [c for c in found if c.taken(rule)]
    right = sum(c.right for c in taken)
    return _figures(len(found), sum(c.has_twin for c in found), len(taken), right) | {
        "lowest_right_cosine": round(min((c.cosine for c in found if c.right), default=0.0), 4),
        "highest_wrong_cosine": round(
            max((c.cosine for c in found if c.twin is not None and not c.right), default=0.0), 4
        ),
    }


def fit_rule(found: Sequence[Candidate], base: TwinRule | None = None, margin: float = MARGIN) -> TwinRule:
    """The levels with the highest recall on `found` among those that take no wrong twin even
    `margin` below their cosine level (ties: higher levels). Precision first: a level right at
    the highest wrong pair's cosine would hold on FIT and fall on the next corpus."""
    base = base or TwinRule()
    best: tuple[float, float, float] | None = None
    for cos in COSINES:
        for share in ANCHOR_SHARES:
            safe = score(found, replace(base, min_cosine=cos - margin, min_anchor_share=share))
            if safe["precision"] < 1.0:
                continue
            s = score(found, replace(base, min_cosine=cos, min_anchor_share=share))
            key = (s["recall"], cos, share)
            if best is None or key > best:
                best = key
    if best is None:
        return base
    return replace(base, min_cosine=best[1], min_anchor_share=best[2])


def stage(snap: Searcher, enc: UseM3, first: dict[str, int], rule: TwinRule) -> tuple[dict[str, str | None], float]:
    """Each article's twin through the whole stage (alignment check included), and its time."""
    twins = Twins(enc, rule=rule)
    found: dict[str, str | None] = {}
    t = time.perf_counter()
    for aid, uid in first.items():
        art = twins._article(snap, uid, aid)  # the stage's own path: detection, encodes, alignment
        found[aid] = art.twin[0][0].article.id if art.twin else None
    return found, time.perf_counter() - t


def stage_score(found: dict[str, str | None], keep: Sequence[Candidate]) -> dict[str, float]:
    ids = {c.article for c in keep}
    taken = {a: b for a, b in found.items() if a in ids and b is not None}
    right = sum(1 for a, b in taken.items() if a[2:] == b[2:] and a[:2] != b[:2])
    return _figures(len(keep), sum(c.has_twin for c in keep), len(taken), right)


def _figures(articles: int, paired: int, taken: int, right: int) -> dict[str, float]:
    """Precision over the twins taken; recall over the articles whose twin is indexed."""
    return {
        "articles": articles,
        "with_twin": paired,
        "taken": taken,
        "right": right,
        "precision": round(right / taken, 4) if taken else 1.0,
        "recall": round(right / paired, 4) if paired else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    passages, _ = load(args.data)
    links = sorted({k for lang, k in passages if lang == "ko"} & {k for lang, k in passages if lang == "en"})
    links = links[: args.limit or None]
    enc = UseM3(ENCODER_CACHE)
    store = MemoryStore(Analyzer(workers=1), encoder=enc)
    t0 = time.perf_counter()
    for lang in ("ko", "en"):
        store.add([
            Article(f"{lang}{i}", f"{lang} {i}", (passages[(lang, k)],), file="b.jsonl")
            for i, k in enumerate(links) if lang in sides(k)
        ])  # fmt: skip
    build_s = time.perf_counter() - t0
    snap = store.snapshot()
    first: dict[str, int] = {}
    for uid in snap.uids().tolist():
        first.setdefault(snap.passage(uid).article.id, uid)
    t = time.perf_counter()
    found = candidates(snap, first, links)
    detect_ms = (time.perf_counter() - t) / max(len(first), 1) * 1000
    fit = [c for c in found if fit_half(c.link)]
    report = [c for c in found if not fit_half(c.link)]
    shipped, fitted = TwinRule(), fit_rule(fit)
    stage_found, stage_s = stage(snap, enc, first, fitted)
    quotes = [Quote("x", source_of(snap.passage(uid)), 1.0, uid, (0,)) for uid in list(first.values())[:3]]
    twins = Twins(enc, rule=fitted)
    twins.fill(snap, quotes)
    t = time.perf_counter()
    for _ in range(100):
        twins.fill(snap, quotes)
    fill_ms = (time.perf_counter() - t) / 100 * 1000
    out = {
        "articles": len(first), "pairs": len(links), "build_s": round(build_s, 1),
        "fitted": {"min_cosine": fitted.min_cosine, "min_anchor_share": fitted.min_anchor_share},
        "shipped": {"min_cosine": shipped.min_cosine, "min_anchor_share": shipped.min_anchor_share},
        "article_check": {
            "fitted": {"fit": score(fit, fitted), "report": score(report, fitted)},
            "shipped": {"fit": score(fit, shipped), "report": score(report, shipped)},
        },
        "stage_fitted": {
            "fit": stage_score(stage_found, fit), "report": stage_score(stage_found, report),
        },
        "detect_ms_per_article": round(detect_ms, 2),
        "stage_first_ms_per_article": round(stage_s / max(len(first), 1) * 1000, 2),
        "fill_cached_ms_3_quotes": round(fill_ms, 3),
    }  # fmt: skip
    print(json.dumps(out, ensure_ascii=False, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
