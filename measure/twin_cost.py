"""What translation twins cost: the build, one more article, and the answers, on a bilingual corpus.

The news dev set (`../shared/data/ko-en-news-dev`: 151 stories, each indexed twice, once in
Korean and once in English, one line a paragraph: every article has its twin) is built through
the real `Engine` with the product's defaults, then every news question is asked in both
languages (902 answers) twice: the first round in a fresh process (what a question paid for twin
detection before issue 28, once per commit), the second with every cache warm. Then one more
article is added (an ingest of one file) and one question asked after it.

    uv run python -m measure.twin_cost OUT.jsonl [--data DIR] [--rounds N] [--squad] [--flush N]

`--squad` adds the KorQuAD dev and XQuAD en articles (188 single-language articles, 2,150
passages) beside the news, so the build's twin finding meets articles without a twin. The
writer logs the seconds its twin finding took per commit (shown here).

`--ab` (this tree only) answers in one process, question by question in turn, from the commit's
links and from the same commit with its links hidden (the per-question path every answer took
before issue 28, with caches of its own): a same-process ratio that the shared machine's load
falls on both sides of, and a check that both give the same bytes.

OUT gets every answer's JSON form (`aligned` included) and no timing, so two runs can be compared
with `cmp`; the timings go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from retrieval import Engine, EngineConfig
from retrieval.index.segments.flush import FlushPolicy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "ko-en-news-dev"


def write_squad(corpus: Path) -> int:
    n = 0
    with open(corpus / "squad.jsonl", "w", encoding="utf-8") as f:
        for name in ("KorQuAD_v1.0_dev.json", "xquad.en.json"):
            raw = json.loads((DATA.parent / name).read_text("utf-8"))
            for i, art in enumerate(raw["data"]):
                text = "\n\n".join(p["context"] for p in art["paragraphs"])
                title = art.get("title", "").replace("_", " ") or f"{name[:2]}{i}"
                f.write(json.dumps({"id": f"{name[:2]}{i}", "title": title, "text": text}, ensure_ascii=False) + "\n")
                n += 1
    return n


def write_corpus(data: Path, corpus: Path) -> int:
    """Both languages of every story as articles `ko{n}` and `en{n}`; returns articles written."""
    ko = (data / "korean-english-park.dev.ko").read_text("utf-8").splitlines()
    en = (data / "korean-english-park.dev.en").read_text("utf-8").splitlines()
    corpus.mkdir(parents=True)
    n = 0
    with open(corpus / "news.jsonl", "w", encoding="utf-8") as f:
        for line in (data / "stories.jsonl").read_text("utf-8").splitlines():
            story = json.loads(line)
            for lang, lines in (("ko", ko), ("en", en)):
                paras = [lines[i].strip() for i in story["lines"] if lines[i].strip()]
                title = paras[0][:60]
                row = {"id": f"{lang}{story['story']}", "title": title, "text": "\n\n".join(paras), "source": "news"}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    return n


def questions() -> list[str]:
    out: list[str] = []
    for line in (ROOT / "measure" / "news_questions.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        out += [row["en"], row["ko"]]
    return out


def _ms(xs: Sequence[float]) -> str:
    s = sorted(xs)
    return f"mean {statistics.fmean(s):.1f} ms, p50 {s[len(s) // 2]:.1f} ms, p95 {s[int(len(s) * 0.95)]:.1f} ms"


def ab(engine: Engine, qs: Sequence[str], rounds: int) -> int:
    """Links read (A) against twins found per question (B), alternating, in one process."""
    from retrieval.path import AnswerPath

    snap_a = engine.store.serving()
    snap_b = snap_a.with_params(snap_a.params)  # the same commit ...
    snap_b.twin_links, snap_b.twin_problem = None, "hides its links (measure.twin_cost --ab)"  # ... read the old way
    path_a, path_b = engine.path, AnswerPath(engine.path.config, engine.path.analyzer, engine.path.encoder)
    same = True
    for r in range(rounds):
        ta: list[float] = []
        tb: list[float] = []
        for i, q in enumerate(qs):
            order = (
                ((path_a, snap_a, ta), (path_b, snap_b, tb)) if i % 2 else ((path_b, snap_b, tb), (path_a, snap_a, ta))
            )
            out = []
            for path, snap, times in order:
                t = time.perf_counter()
                a = path.ask(snap, q)
                times.append((time.perf_counter() - t) * 1000)
                d = a.to_json()
                d.pop("elapsed_ms", None)
                out.append(json.dumps(d, sort_keys=True))
            same = same and out[0] == out[1]
        ratio = statistics.median(ta) / statistics.median(tb)
        print(
            f"round {r + 1}: links read: {_ms(ta)}; found per question: {_ms(tb)}; p50 ratio {ratio:.2f}",
            file=sys.stderr,
        )
    print(f"the same answers both ways: {same}", file=sys.stderr)
    return 0 if same else 1


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--encoder", default=None)
    ap.add_argument("--squad", action="store_true")
    ap.add_argument("--ab", action="store_true")
    ap.add_argument("--flush", type=int, default=None, help="commit every N passages (merges capped at 5N)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("retrieval.index.segments.writer").setLevel(logging.INFO)
    tmp = Path(tempfile.mkdtemp())
    try:
        corpus, data_dir = tmp / "corpus", tmp / "data"
        n = write_corpus(args.data, corpus)
        if args.squad:
            n += write_squad(corpus)
        kw: dict[str, object] = {"encoder": args.encoder} if args.encoder else {}
        if args.flush:
            kw["flush"] = FlushPolicy(args.flush, 5 * args.flush)
        t0 = time.perf_counter()
        engine = Engine.open(EngineConfig(corpus, data_dir, **kw))
        build = time.perf_counter() - t0
        print(f"build: {n} articles in {build:.2f} s", file=sys.stderr)
        qs = questions()
        if args.ab:
            return ab(engine, qs, args.rounds)
        aligned = 0
        with open(args.out, "w", encoding="utf-8") as out:
            for r in range(args.rounds):
                times = []
                for i, q in enumerate(qs):
                    t = time.perf_counter()
                    a = engine.ask(q)
                    times.append((time.perf_counter() - t) * 1000)
                    d = a.to_json()
                    d.pop("elapsed_ms", None)
                    if r == 0:
                        aligned += sum(1 for x in d.get("quotes", ()) if x.get("aligned"))
                        out.write(json.dumps({"i": i, "answer": d}, ensure_ascii=False, sort_keys=True) + "\n")
                print(f"round {r + 1}: {len(qs)} answers, {_ms(times)}", file=sys.stderr)
            print(f"quotes with an original (round 1): {aligned}", file=sys.stderr)
            extra = tmp / "extra.jsonl"
            extra.write_text(
                json.dumps({"id": "extra1", "title": "A new article", "text": "The council met on Monday.\n\n"
                            "It agreed a new budget of 3 billion won for the city's parks."}) + "\n", "utf-8"
            )  # fmt: skip
            t = time.perf_counter()
            engine.ingest([extra])
            add = time.perf_counter() - t
            t = time.perf_counter()
            a = engine.ask(qs[0])
            after = (time.perf_counter() - t) * 1000
            d = a.to_json()
            d.pop("elapsed_ms", None)
            out.write(json.dumps({"i": "after-add", "answer": d}, ensure_ascii=False, sort_keys=True) + "\n")
            print(f"add one article: {add * 1000:.0f} ms; the next answer: {after:.1f} ms", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
