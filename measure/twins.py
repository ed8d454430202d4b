"""Translation-twin detection on Belebele dev: the same 241 FLORES passages in Korean and English,
each indexed as an article of its own (482 articles), and for every article the twin the answer
stage would use (`retrieval/answer/twins.py`): dense search by mean passage vector, mutual nearest
neighbours, anchors, then the sentence alignment's coverage check.

Prints precision and recall (a twin is right when it is the same passage in the other language),
for the article check alone (`twin_article`) and for the whole stage (with the alignment check),
the time per article of the first detection, and of a question's fill once cached.

    uv run python measure/twins.py [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.answer.align import TwinRule  # noqa: E402
from retrieval.answer.quotes import source_of  # noqa: E402
from retrieval.answer.twins import TwinCheck, Twins, article_views, twin_article  # noqa: E402
from retrieval.index.memory import MemoryStore  # noqa: E402
from retrieval.models import Article, Quote  # noqa: E402
from retrieval.text.analyze import Analyzer  # noqa: E402
from retrieval.text.encoder import UseM3  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "belebele-dev"


def passages(name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (DATA / name).read_text("utf-8").splitlines():
        row = json.loads(line)
        if "link" in row:  # Korean: one row per question
            out.setdefault(row["link"], row["flores_passage"])
        else:  # English: one row per passage (SOURCES.md: pair through metadata.extra.url)
            out.setdefault(row["metadata"]["extra"]["url"], row["text"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--min-cosine", type=float, default=TwinRule().min_cosine)
    args = ap.parse_args()
    ko, en = passages("kor_Hang.jsonl"), passages("eng_Latn.jsonl")
    links = sorted(set(ko) & set(en))[: args.limit or None]
    enc = UseM3(Path("/tmp/quoteqa-test-encoder"))
    analyzer = Analyzer(workers=1)
    store = MemoryStore(analyzer, encoder=enc)
    t0 = time.perf_counter()
    store.add([Article(f"ko{i}", f"ko {i}", (ko[link],), file="b.jsonl") for i, link in enumerate(links)])
    store.add([Article(f"en{i}", f"en {i}", (en[link],), file="b.jsonl") for i, link in enumerate(links)])
    build_s = time.perf_counter() - t0
    snap = store.snapshot()
    first = {}
    for uid in snap.uids().tolist():
        first.setdefault(snap.passage(uid).article.id, uid)
    rule = TwinRule(min_cosine=args.min_cosine)
    twins = Twins(enc, rule=rule)
    found_article: dict[str, str | None] = {}
    found_stage: dict[str, str | None] = {}
    t_article = t_stage = 0.0
    for aid, uid in first.items():
        views = article_views(snap, uid)
        t = time.perf_counter()
        other = twin_article(snap, views, rule, TwinCheck().candidates, TwinCheck().articles)
        t_article += time.perf_counter() - t
        found_article[aid] = other[0].article.id if other else None
        t = time.perf_counter()
        art = twins._article(snap, uid, aid)  # the stage's own path: detection, encodes, alignment, cached
        t_stage += time.perf_counter() - t
        found_stage[aid] = art.twin[0][0].article.id if art.twin else None
    # a question's fill once everything is cached
    quotes = [Quote("x", source_of(snap.passage(uid)), 1.0, uid, (0,)) for uid in list(first.values())[:3]]
    t = time.perf_counter()
    for _ in range(100):
        twins.fill(snap, quotes)
    fill_ms = (time.perf_counter() - t) / 100 * 1000

    def score(found: dict[str, str | None]) -> dict[str, float]:
        taken = {a: b for a, b in found.items() if b is not None}
        right = sum(1 for a, b in taken.items() if a[2:] == b[2:] and a[:2] != b[:2])
        n = len(found)
        return {
            "taken": len(taken),
            "right": right,
            "precision": round(right / len(taken), 4) if taken else 1.0,
            "recall": round(right / n, 4),
        }

    out = {
        "min_cosine": args.min_cosine, "articles": len(first), "pairs": len(links), "build_s": round(build_s, 1),
        "article_check": score(found_article), "stage": score(found_stage),
        "detect_ms_per_article": round(t_article / len(first) * 1000, 2),
        "stage_first_ms_per_article": round(t_stage / len(first) * 1000, 2),
        "fill_cached_ms_3_quotes": round(fill_ms, 3),
    }  # fmt: skip
    print(json.dumps(out, ensure_ascii=False, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
