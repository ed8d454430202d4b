"""Fusion feature rows from the news dev set, and the fit of the anchor weights on its FIT half.

`uv run python -m measure.news.fusion_rows [--half fit]` indexes both pools the way
`quoteqa eval --news` does, asks every question of the half in both languages through the
product's answer path with a join that records what the learned fusion saw (each candidate's
`FEATURES` row), marks the gold candidate (a passage of the question's story, in its indexed
language, holding a gold line), and fits the weights of one set of features (`--fit`: the
anchor features `anc*other`, `anc_lead*other`; the story features; the translated-coverage
features `w_lead*other`, `s_w_lead*other`) with `measure/fusion_fit.py::fit_conditional_logit`, the other weights held at
their shipped values (a full refit on news alone would undo what Belebele, KorQuAD and XQuAD
taught them). It prints the fitted weights and the fused first-passage hit rate, same and
cross language, before and after.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from measure.fusion_fit import fit_conditional_logit
from measure.news.data import (
    DEFAULT_FOLDER,
    POOLS,
    load_questions,
    load_set,
    parse_article_id,
    pool_language,
    write_pool,
)
from measure.news.harness import pool_parts
from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.rerank import Coverage
from retrieval.answer.retrieve import Hits
from retrieval.answer.retrieve.fusion import FEATURES, Candidates, FusionWeights, LearnedFusion
from retrieval.engine import Engine
from retrieval.path import Parts

ANCHOR_FEATURES = ("anc*other", "anc_lead*other")
STORY_FEATURES = ("s_held", "s_lead*other", "s_gap", "s_gap*other")
WORD_FEATURES = ("w_lead*other", "s_w_lead*other")


@dataclass(frozen=True, slots=True)
class Group:
    X: npt.NDArray[np.float64]  # candidates × FEATURES
    gold: int  # row of the first gold candidate, -1: none among them
    cross: bool
    story: npt.NDArray[np.bool_]  # per candidate: a passage of the question's story (in its indexed language)
    twins: bool = False  # asked of the twins pool


class RecordingFusion(LearnedFusion):
    """The learned fusion, keeping each question's candidates and feature rows."""

    def __init__(self, weights: FusionWeights) -> None:
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "seen", [])

    def features(
        self, ctx: QuestionContext, query: Query, lists: Mapping[str, Hits], coverage: Mapping[int, Coverage]
    ) -> Candidates | None:
        seen = LearnedFusion.features(self, ctx, query, lists, coverage)  # what the join scores, read once
        if seen is not None:
            self.seen.append((seen.uids, seen.X, {u: ctx.view(u) for u in seen.uids}))  # type: ignore[attr-defined]
        return seen


TWINS = "T"  # pool A, and every third story in English and Korean both (twin articles)


def twinned(story: int) -> bool:
    return story % 3 == 0


def indexed_language(pool: str, story: int, lang: str) -> str:
    """The language of the story's article a question in `lang` should quote: in the twins
    pool a story indexed in both languages is answered from the question's own."""
    if pool == TWINS:
        return lang if twinned(story) else pool_language("A", story)
    return pool_language(pool, story)


def collect_groups(parts: Parts, folder: Path, half: str, pools: Sequence[str] = (*POOLS, TWINS)) -> list[Group]:
    """Every question of the half in both languages against each pool: A and B (each story in
    one language), and the twins pool (a third of the stories in both languages, as a bilingual
    site or the shipped article has them: the fit must not learn to leave the question's own
    language for a twin)."""
    news = load_set(folder)
    qs = [q for q in load_questions() if q.half == half and q.story is not None]
    groups: list[Group] = []
    for pool in pools:
        with tempfile.TemporaryDirectory(prefix=f"quoteqa-fusion-{pool.lower()}-") as tmp:
            base = Path(tmp)
            if pool == TWINS:
                write_pool(news, "A", base / "corpus", None)
                write_pool(news, "B", base / "corpus", [s for s in news.stories if twinned(s)])
            else:
                write_pool(news, pool, base / "corpus", None)
            engine = Engine.of(pool_parts(parts, base).but(refusals=False))
            path = engine.path
            snap = engine.store.snapshot()
            for q in qs:
                for lang, text in q.text.items():
                    indexed = indexed_language(pool, q.story, lang)  # type: ignore[arg-type]
                    gold_lines = set(q.gold[indexed]) if q.gold is not None else set()
                    rec = RecordingFusion(path.params.fusion)
                    ans = path.answerer(snap)
                    ans.join = rec
                    ans.answer(text, max_quotes=1)
                    if not rec.seen:  # type: ignore[attr-defined]
                        continue
                    cand, X, views = rec.seen[0]  # type: ignore[attr-defined]
                    gold = -1
                    story = np.zeros(len(cand), bool)
                    for i, u in enumerate(cand):
                        v = views[u]
                        if parse_article_id(v.article.id) == (q.story, indexed):
                            story[i] = True
                            lines = news.stories[q.story]
                            if gold < 0 and 1 <= v.paragraph <= len(lines) and lines[v.paragraph - 1] in gold_lines:
                                gold = i
                    groups.append(Group(X, gold, lang != indexed, story, pool == TWINS))
            print(f"pool {pool}: {len(groups)} groups so far", file=sys.stderr)
    return groups


def save_groups(path: Path, groups: Sequence[Group]) -> None:
    arrays = {f"X{i}": g.X for i, g in enumerate(groups)} | {f"S{i}": g.story for i, g in enumerate(groups)}
    np.savez(
        path, gold=np.array([g.gold for g in groups]), cross=np.array([g.cross for g in groups]),
        twins=np.array([g.twins for g in groups]), **arrays,
    )  # fmt: skip


def load_groups(path: Path) -> list[Group]:
    with np.load(path) as z:
        return [
            Group(z[f"X{i}"], int(g), bool(c), z[f"S{i}"], bool(t))
            for i, (g, c, t) in enumerate(zip(z["gold"], z["cross"], z["twins"], strict=True))
        ]


FITTED_SETS = {"anchors": ANCHOR_FEATURES, "story": STORY_FEATURES, "words": WORD_FEATURES}


def fit_on_top(
    groups: Sequence[Group], base: Sequence[float], l2: float = 0.001, features: Sequence[str] = ANCHOR_FEATURES
) -> npt.NDArray[np.float64]:
    """`features`' weights on top of `base` (the others held): the fixed part of the score
    enters as one column whose weight is pinned at 1."""
    idx = [FEATURES.index(f) for f in features]
    rest = [i for i in range(len(FEATURES)) if i not in idx]
    w = np.asarray(base, np.float64)
    data = [(np.column_stack([g.X[:, rest] @ w[rest], g.X[:, idx]]), g.gold) for g in groups]
    fitted = fit_conditional_logit(data, l2=l2, init=[1.0, *w[idx]], free=range(1, 1 + len(idx)))
    out = w.copy()
    out[idx] = fitted[1:]
    return out


def hit_rates(groups: Sequence[Group], w: Sequence[float]) -> dict[str, float]:
    out: dict[str, float] = {}
    tests = (("same", lambda g: not g.cross and not g.twins), ("cross", lambda g: g.cross and not g.twins),
             ("twins", lambda g: g.twins))  # fmt: skip
    for name, test in tests:
        gs = [g for g in groups if test(g)]
        hits = [g.gold >= 0 and int(np.argmax(g.X @ np.asarray(w))) == g.gold for g in gs]
        out[name] = float(np.mean(hits)) if hits else 0.0
        out[f"{name}_gold_in_candidates"] = float(np.mean([g.gold >= 0 for g in gs])) if gs else 0.0
        firsts = [bool(g.story[int(np.argmax(g.X @ np.asarray(w)))]) for g in gs if len(g.X)]
        out[f"{name}_story"] = float(np.mean(firsts)) if firsts else 0.0
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", default="fit", choices=("fit", "report"))
    ap.add_argument("--data", type=Path, default=DEFAULT_FOLDER)
    ap.add_argument("--l2", type=float, default=0.001)
    ap.add_argument("--save", type=Path, help="also write the groups here (.npz) for a refit without asking again")
    ap.add_argument("--load", type=Path, help="read the groups --save wrote instead of asking the questions")
    ap.add_argument("--fit", choices=sorted(FITTED_SETS), default="story", help="which weights to fit on top")
    args = ap.parse_args(argv)
    from retrieval import EngineConfig

    base = FusionWeights().weights
    if args.load:
        groups = load_groups(args.load)
    else:
        with tempfile.TemporaryDirectory(prefix="quoteqa-fusion-") as tmp:  # the product's defaults, encoder included
            parts = Parts.load(EngineConfig(Path(tmp) / "corpus", Path(tmp) / "data"))
            groups = collect_groups(parts, args.data, args.half)
    if args.save:
        save_groups(args.save, groups)
    print(f"{len(groups)} groups ({args.half}); before: {hit_rates(groups, base)}")
    if args.half == "fit":
        names = FITTED_SETS[args.fit]
        w = fit_on_top(groups, base, args.l2, names)
        print("fitted:", {f: round(float(w[FEATURES.index(f)]), 4) for f in names})
        print(f"after: {hit_rates(groups, w)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
