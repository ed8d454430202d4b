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

`--check DATA` (a built index folder: `DATA/index`, the encoder cache in `DATA/encoder` unless
`--encoder-cache`) measures a commit's twin check on that index instead, read-only: a run of
`--sample` consecutive articles (those its last commit left `unchecked`, else every live one, as
`verify --repair` checks them), the first `--serial` of them one at a time as the writer checked
them before `batch.py`, then the whole run as a big commit now checks it (the bound over every
article's mean vector, then the first dense searches together), and whether both found the same
twins. It prints one JSON line (also written to OUT) with the per-article milliseconds and the
projected last commit of a 1M build (the bench corpus's 222,110 articles).
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


MILLION_ARTICLES = 222_110  # the 1M bench corpus (seed 13), docs/performance.md


def check(data: Path, out: Path, sample: int, serial: int, cache: Path | None) -> int:
    """The commit's twin check on a built index, one at a time against batched (see the docstring)."""
    import os
    import random

    from retrieval.index.segments.store import SegmentStore
    from retrieval.index.twins import links as twin_links
    from retrieval.index.twins.batch import CheckReader, CrossBound
    from retrieval.index.twins.find import TwinCheck, TwinFinder
    from retrieval.text.encoder import UseM3, stamp_of

    load0 = os.getloadavg()
    snap = SegmentStore(data / "index").snapshot()
    encoder = UseM3(cache or data / "encoder", threads=1)
    kept = snap.twin_links
    pending = sorted(kept.unchecked) if kept is not None and kept.unchecked else sorted(snap.article_hashes())
    start = random.Random(13).randrange(max(1, len(pending) - sample))
    run = pending[start : start + sample]
    serial = min(serial, len(run))

    def fresh(batch_from: int) -> tuple[twin_links.LinkState, TwinFinder]:
        check = TwinCheck(batch_from=batch_from)
        return twin_links.LinkState(stamp_of(encoder), {}), TwinFinder(encoder, check=check)

    state, finder = fresh(len(run) + 1)
    reader = CheckReader(snap)
    for aid in pending[max(0, start - 20) : start]:  # warm-up: the graphs' first pages, not counted
        twin_links._check(state, reader, aid, finder)
    state, finder = fresh(len(run) + 1)
    reader = CheckReader(snap)
    t0, c0 = time.perf_counter(), time.process_time()
    one = {aid: twin_links._check(state, reader, aid, finder) for aid in run[:serial]}
    serial_s, serial_cpu = time.perf_counter() - t0, time.process_time() - c0
    serial_records = dict(state.records)

    state, finder = fresh(0)
    reader = CheckReader(snap)
    t0, c0 = time.perf_counter(), time.process_time()
    reader._cross = CrossBound.of(snap)
    bound_s = time.perf_counter() - t0
    together = dict(twin_links._check_all(state, reader, run, finder))
    batch_s, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
    same = (
        all(together[a] == one[a] for a in one)
        and {a: k for a, k in state.records.items() if a in one} == serial_records
    )
    per_serial = serial_s * 1000 / max(serial, 1)
    per_batch = (batch_s - bound_s) * 1000 / max(len(run), 1)
    per_products = reader.bound_s * 1000 / max(len(run), 1)  # the bound's products: they grow with the articles
    articles = snap.n_articles
    grow = MILLION_ARTICLES / max(articles, 1)
    at_1m = bound_s * grow + (per_batch + per_products * (grow - 1)) * MILLION_ARTICLES / 1000
    row = {
        "passages": snap.n_passages, "articles": articles, "articles_to_check": len(pending), "run": len(run),
        "serial": serial, "twins_found": sum(t is not None for t in together.values()),
        "identical_to_one_at_a_time": same,
        "serial_ms_per_article": round(per_serial, 2), "serial_cpu_ms_per_article": round(serial_cpu * 1000 / max(serial, 1), 2),
        "bound_build_s": round(bound_s, 2), "bound_mib": round((reader._cross.nbytes if reader._cross else 0) / 2**20, 1),
        "ruled_out_by_bound": round(reader.ruled_out / max(len(run), 1), 4),
        "batched_ms_per_article": round(per_batch, 2), "of_which_bound_products_ms": round(per_products, 2),
        "batched_cpu_ms_per_article_incl_bound": round(batch_cpu * 1000 / len(run), 2),
        "projected_this_index_min": {"serial": round(per_serial * len(pending) / 60000, 1),
                                     "batched": round((bound_s + per_batch * len(pending) / 1000) / 60, 1)},
        "projected_1m_last_commit_min": {"serial": round(per_serial * MILLION_ARTICLES / 60000, 1),
                                         "batched": round(at_1m / 60, 1)},
        "load_before": [round(x, 2) for x in load0], "load_after": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    line = json.dumps(row)
    print(line)
    out.write_text(line + "\n", "utf-8")
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
    ap.add_argument(
        "--check", type=Path, default=None, metavar="DATA", help="measure a commit's twin check on this index"
    )
    ap.add_argument("--sample", type=int, default=4096, help="--check: consecutive articles checked batched")
    ap.add_argument("--serial", type=int, default=300, help="--check: of them, checked one at a time first")
    ap.add_argument("--encoder-cache", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.check is not None:
        return check(args.check, args.out, args.sample, args.serial, args.encoder_cache)
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
