"""Fusion feature rows from the news dev set, and the fit of the anchor weights on its FIT half.

`uv run python -m measure.news.fusion_rows [--half fit]` indexes both pools the way
`quoteqa eval --news` does, asks every question of the half in both languages through the
product's answer path with a join that records what the learned fusion saw (each candidate's
`FEATURES` row), marks the gold candidate (a passage of the question's story, in its indexed
language, holding a gold line), and fits the weights of the anchor features (`anc*other`,
`anc_lead*other`) with `measure/fusion_fit.py::fit_conditional_logit`, the other weights held at
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
from measure.news.data import POOLS, load_questions, load_set, parse_article_id, pool_language, write_pool
from measure.news.harness import pool_parts
from retrieval.answer.anchor_match import STRONG_KINDS
from retrieval.answer.context import QuestionContext
from retrieval.answer.query import Query
from retrieval.answer.rerank import Coverage
from retrieval.answer.retrieve import Hits, Joined
from retrieval.answer.retrieve.fusion import FEATURES, FusionWeights, LearnedFusion, candidate_features
from retrieval.engine import Engine
from retrieval.path import Parts

ANCHOR_FEATURES = ("anc*other", "anc_lead*other")


@dataclass(frozen=True, slots=True)
class Group:
    X: npt.NDArray[np.float64]  # candidates × FEATURES
    gold: int  # row of the first gold candidate, -1: none among them
    cross: bool


class RecordingFusion(LearnedFusion):
    """The learned fusion, keeping each question's candidates and feature rows."""

    def __init__(self, weights: FusionWeights) -> None:
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "seen", [])

    def __call__(
        self, ctx: QuestionContext, query: Query, lists: Mapping[str, Hits], coverage: Mapping[int, Coverage]
    ) -> Joined:
        joined = LearnedFusion.__call__(self, ctx, query, lists, coverage)
        fz = joined.fusion
        if fz is not None:
            w = self.weights
            lang = ctx.question.language
            lexical = list(lists.get("bm25", [])[: w.lexical_depth])
            dense = list(lists.get("dense", []))
            further = [h for n, hs in lists.items() if n not in ("bm25", "dense") for h in hs]
            uids = list(dict.fromkeys([u for u, _ in lexical] + [u for u, _ in dense] + [u for u, _ in further]))
            other = {u: ctx.view(u).language not in (lang, "mixed") for u in uids}
            cand, X = candidate_features(
                lexical, {u: c.passage for u, c in coverage.items()}, dense, fz.cosine, other, further,
                ctx.question_anchors.passage_shares(STRONG_KINDS),
            )  # fmt: skip
            views = {u: ctx.view(u) for u in cand}
            self.seen.append((cand, X, views))  # type: ignore[attr-defined]
        return joined


def collect_groups(parts: Parts, folder: Path, half: str) -> list[Group]:
    news = load_set(folder)
    qs = [q for q in load_questions() if q.half == half and q.story is not None]
    groups: list[Group] = []
    for pool in POOLS:
        with tempfile.TemporaryDirectory(prefix=f"quoteqa-fusion-{pool.lower()}-") as tmp:
            base = Path(tmp)
            write_pool(news, pool, base / "corpus", None)
            engine = Engine.of(pool_parts(parts, base).but(refusals=False))
            path = engine.path
            snap = engine.store.snapshot()
            for q in qs:
                indexed = pool_language(pool, q.story)  # type: ignore[arg-type]
                gold_lines = set(q.gold[indexed]) if q.gold is not None else set()
                for lang, text in q.text.items():
                    rec = RecordingFusion(path.params.fusion)
                    ans = path.answerer(snap)
                    ans.join = rec
                    ans.answer(text, max_quotes=1)
                    if not rec.seen:  # type: ignore[attr-defined]
                        continue
                    cand, X, views = rec.seen[0]  # type: ignore[attr-defined]
                    gold = -1
                    for i, u in enumerate(cand):
                        v = views[u]
                        where = parse_article_id(v.article.id)
                        if where == (q.story, indexed):
                            lines = news.stories[q.story]
                            if 1 <= v.paragraph <= len(lines) and lines[v.paragraph - 1] in gold_lines:
                                gold = i
                                break
                    groups.append(Group(X, gold, lang != indexed))
            print(f"pool {pool}: {len(groups)} groups so far", file=sys.stderr)
    return groups


def save_groups(path: Path, groups: Sequence[Group]) -> None:
    arrays = {f"X{i}": g.X for i, g in enumerate(groups)}
    np.savez(path, gold=np.array([g.gold for g in groups]), cross=np.array([g.cross for g in groups]), **arrays)


def load_groups(path: Path) -> list[Group]:
    with np.load(path) as z:
        return [Group(z[f"X{i}"], int(g), bool(c)) for i, (g, c) in enumerate(zip(z["gold"], z["cross"], strict=True))]


def fit_anchor_weights(groups: Sequence[Group], base: Sequence[float], l2: float = 0.001) -> npt.NDArray[np.float64]:
    """The anchor features' weights on top of `base` (the others held): the fixed part of the
    score enters as one column whose weight is pinned at 1."""
    idx = [FEATURES.index(f) for f in ANCHOR_FEATURES]
    rest = [i for i in range(len(FEATURES)) if i not in idx]
    w = np.asarray(base, np.float64)
    data = [(np.column_stack([g.X[:, rest] @ w[rest], g.X[:, idx]]), g.gold) for g in groups]
    fitted = fit_conditional_logit(data, l2=l2, init=[1.0, *w[idx]], free=range(1, 1 + len(idx)))
    out = w.copy()
    out[idx] = fitted[1:]
    return out


def hit_rates(groups: Sequence[Group], w: Sequence[float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, test in (("same", lambda g: not g.cross), ("cross", lambda g: g.cross)):
        gs = [g for g in groups if test(g)]
        hits = [g.gold >= 0 and int(np.argmax(g.X @ np.asarray(w))) == g.gold for g in gs]
        out[name] = float(np.mean(hits)) if hits else 0.0
        out[f"{name}_gold_in_candidates"] = float(np.mean([g.gold >= 0 for g in gs])) if gs else 0.0
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", default="fit", choices=("fit", "report"))
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared/data/ko-en-news-dev"
    )
    ap.add_argument("--l2", type=float, default=0.001)
    ap.add_argument("--save", type=Path, help="also write the groups here (.npz) for a refit without asking again")
    args = ap.parse_args(argv)
    from retrieval import EngineConfig

    with tempfile.TemporaryDirectory(prefix="quoteqa-fusion-") as tmp:  # the product's defaults, encoder included
        parts = Parts.load(EngineConfig(Path(tmp) / "corpus", Path(tmp) / "data"))
        base = FusionWeights().weights
        groups = collect_groups(parts, args.data, args.half)
    if args.save:
        save_groups(args.save, groups)
    print(f"{len(groups)} groups ({args.half}); before: {hit_rates(groups, base)}")
    if args.half == "fit":
        w = fit_anchor_weights(groups, base, args.l2)
        print("fitted:", {f: round(float(w[FEATURES.index(f)]), 4) for f in ANCHOR_FEATURES})
        print(f"after: {hit_rates(groups, w)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
