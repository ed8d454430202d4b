"""What the block checksums cost (issue 29): cold open and answer latency with the checks on and
off, in one process over the same index, alternating, so the shared machine's load falls on both.

    uv run python -m measure.damage_cost WORKDIR [--passages 20000] [--questions 200] [--rounds 3]

The corpus is `quoteqa bench`'s (synthesised from KorQuAD dev and XQuAD en, the same seed); the
index is built once in WORKDIR (kept for reruns). "off" replaces `Blocks.check` with nothing,
which is the read path before issue 29 (the same preads, no CRC); the segments are above
VERIFY_BELOW, so neither side reads the whole file at open. Each round opens a fresh engine
(new segments: nothing checked yet, as in a new process) and asks every question once: its
first question pays for the blocks it touches (cold), the median is the answer p50.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

from measure.bench import DEFAULT_SOURCES, read_sources, synthesize, write_corpus
from retrieval import Engine, EngineConfig
from retrieval.index.segments import blocks
from retrieval.text.analyze import Analyzer

DATA = Path(__file__).resolve().parent.parent / ".." / "shared" / "data"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="measure.damage_cost")
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--passages", type=int, default=20_000)
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--encoder", default="none", choices=["none", "use-m3"])
    args = ap.parse_args(argv)
    corpus_dir, data_dir = args.workdir / "corpus", args.workdir / "data"
    bench = synthesize(read_sources([DATA / f for f in DEFAULT_SOURCES]), args.passages, args.questions, 13)
    if not corpus_dir.exists():
        write_corpus(bench, corpus_dir)
    analyzer = Analyzer(workers=2)
    config = EngineConfig(corpus_dir, data_dir, encoder=args.encoder)
    t = time.perf_counter()
    Engine.open(config, analyzer=analyzer).store.force_merge()  # built once: one segment, as after a build
    print(f"index ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    real_check = blocks.Blocks.check
    spent = [0.0]  # time inside the checks: the cost itself, apart from the machine's noise

    def timed_check(self: blocks.Blocks, lo: int, hi: int) -> None:
        t = time.perf_counter()
        try:
            real_check(self, lo, hi)
        finally:
            spent[0] += time.perf_counter() - t

    results: dict[str, dict[str, list[float]]] = {
        m: {"open_ms": [], "first_ms": [], "answer_ms": [], "check_open_ms": [], "check_first_ms": [], "check_ms": []}
        for m in ("on", "off")
    }
    for n in range(args.rounds):
        for mode in ("off", "on") if n % 2 == 0 else ("on", "off"):  # each goes first in turn
            blocks.Blocks.check = timed_check if mode == "on" else (lambda self, lo, hi: None)  # type: ignore[method-assign]
            spent[0] = 0.0
            gc.collect()  # the last round's engine goes now, not during this open
            t = time.perf_counter()
            engine = Engine.open(config, analyzer=analyzer, sync=False)
            results[mode]["open_ms"].append((time.perf_counter() - t) * 1000)
            results[mode]["check_open_ms"].append(spent[0] * 1000)
            times, checks = [], []
            for q in bench.questions:
                spent[0] = 0.0
                t = time.perf_counter()
                engine.ask(q)
                times.append((time.perf_counter() - t) * 1000)
                checks.append(spent[0] * 1000)
            results[mode]["first_ms"].append(times[0])
            results[mode]["answer_ms"].append(statistics.median(times))
            results[mode]["check_first_ms"].append(checks[0])
            results[mode]["check_ms"].append(statistics.mean(checks))
            print(mode, json.dumps({k: round(v[-1], 2) for k, v in results[mode].items()}), file=sys.stderr)
            del engine
    blocks.Blocks.check = real_check  # type: ignore[method-assign]
    out = {
        "passages": args.passages, "questions": args.questions, "rounds": args.rounds, "encoder": args.encoder,
        **{f"{m}_{k}": round(statistics.median(v), 2) for m, r in results.items() for k, v in r.items()},
    }  # fmt: skip
    out = {k: v for k, v in out.items() if not k.startswith("off_check")}
    out["check_share_of_answer_p50"] = round(out["on_check_ms"] / out["on_answer_ms"], 4)
    out["answer_p50_ratio"] = round(out["on_answer_ms"] / out["off_answer_ms"], 3)
    out["cold_open_ratio"] = round(out["on_open_ms"] / out["off_open_ms"], 3)
    out["first_question_ratio"] = round(out["on_first_ms"] / out["off_first_ms"], 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
