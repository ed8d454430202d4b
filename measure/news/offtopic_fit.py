"""The off-topic names gate's levels (`retrieval/answer/offtopic.py`), chosen on the FIT half.

`uv run python -m measure.news.offtopic_fit ROWS.jsonl` reads rows written by `quoteqa eval
--news --half fit --out ROWS.jsonl` with the gate off (`OffTopicGate(min_names=10**6,
quote_story=None)`: every row then carries the signals the gate reads and the verdict it would
have overruled), replays every gate of a small grid on them, and prints the best few: the most
off-topic questions refused while the answerable ones refused (by any stage) stay at most
`--max-refused` (default 3%, under the 5% target, for the REPORT half to land under it too).
`--clause` replays the second reading (`QuoteStoryClause`) on top of the shipped first reading
instead (rows written with the shipped gate: a refusal only adds to what the rows refused), and
`--chance` the third (`min_chance`, the confidence model's chance read back from the row's shown
confidence) on rows written with the gate's other readings on and `min_chance` 0: `--collect`
writes such FIT rows to ROWS first (the product's path and models, that reading off; ~1 min).
`--places` replays the fifth reading (`AbsentPlaceClause`) on rows written with it off, and
`--unknown` the sixth (`UnknownWordsClause`).
`--exact` replays the third and fourth readings together (`min_chance` and `ExactNamesClause`) on
rows written with both off (`--collect --exact` writes them).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

from retrieval.answer.offtopic import (
    AbsentPlaceClause,
    ExactNamesClause,
    OffTopicGate,
    QuoteStoryClause,
    UnknownWordsClause,
)

# every reading off: the grids turn on the ones they replay (a new reading is turned off here once)
NO_GATE = OffTopicGate(
    min_names=10**6, quote_story=None, min_chance=0.0, exact_names=None, absent_places=None, unknown_words=None
)

# what `--collect` turns off for each mode's rows (any other mode: the low-chance reading)
COLLECT_OFF: dict[str, dict[str, object]] = {
    "places": {"absent_places": None},
    "unknown": {"unknown_words": None},
    "exact": {"min_chance": 0.0, "exact_names": None, "absent_places": None},
}


def replay(rows: Sequence[dict], gate: OffTopicGate) -> dict[str, float]:
    ans = [r for r in rows if r["answerable"]]
    off = [r for r in rows if not r["answerable"]]

    def refused(r: dict) -> bool:
        return r["verdict"] == "abstain" or gate.refuses(r["signals"], chance_of(r))

    return {
        "offtopic_refused": sum(map(refused, off)) / max(len(off), 1),
        "answerable_refused": sum(map(refused, ans)) / max(len(ans), 1),
        "hits_lost": sum(r["hit1"] and refused(r) and r["verdict"] != "abstain" for r in ans) / max(len(ans), 1),
    }


def collect_rows(path: Path, off: dict[str, object]) -> None:
    """The news FIT rows with the gate's readings named in `off` off (`AnswerParams.of` names and
    values), written to `path` (JSON lines)."""
    import tempfile

    from measure.news.data import DEFAULT_FOLDER
    from measure.news.harness import collect
    from retrieval import EngineConfig
    from retrieval.answer.params import AnswerParams
    from retrieval.path import Parts

    with tempfile.TemporaryDirectory(prefix="quoteqa-offtopic-") as tmp:
        cfg = EngineConfig(Path(tmp) / "corpus", Path(tmp) / "data", answer=AnswerParams.of(**off))
        rows = collect(Parts.load(cfg), DEFAULT_FOLDER, half="fit")
    path.write_text("".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rows), "utf-8")


def chance_of(row: dict) -> float:
    """The confidence model's chance, from the confidence shown (`confidence.shown`: a refusal
    shows the chance that refusing was right)."""
    c = float(row["confidence"])
    return 1.0 - c if row["verdict"] == "abstain" else c


def chance_grid() -> list[OffTopicGate]:
    return [
        dataclasses.replace(NO_GATE, min_chance=c) for c in (0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05)
    ]


def grid() -> list[OffTopicGate]:
    return [
        dataclasses.replace(
            NO_GATE, min_names=n, max_found=f, long_names=ln, together=t, words_override=w, meaning_override=m
        )
        for n, f, ln, t, w, m in itertools.product(
            (1, 2),
            (0.0, 0.25, 0.34, 0.5, 0.67),
            (False, True),
            (False, True),
            (0.5, 0.6, 0.7, 0.8, 0.9, 1.01),
            (0.4, 0.5, 0.6, 0.7, 1.01),
        )
    ]


def exact_grid() -> list[OffTopicGate]:
    """`min_chance` and the fourth reading together, over the shipped first and second readings."""
    return [
        OffTopicGate(min_chance=c, exact_names=ExactNamesClause(n, x, w, m, h), absent_places=None)
        for c, n, x, w, m, h in itertools.product(
            (0.0, 0.01, 0.02, 0.03),
            (1, 2),
            (0.0, 0.34, 0.5),
            (0.5, 0.8, 1.01),
            (0.4, 0.5, 1.01),
            (0.05, 0.1, 0.2, 0.3, 0.5),
        )
    ]


def places_grid() -> list[OffTopicGate]:
    """The fifth reading's overrides, over the shipped other readings."""
    return [
        OffTopicGate(absent_places=AbsentPlaceClause(1, w, m))
        for w, m in itertools.product((0.5, 0.6, 0.7, 0.8, 0.9, 1.01), (0.3, 0.4, 0.5, 0.6, 1.01))
    ]


def unknown_grid() -> list[OffTopicGate]:
    """The sixth reading's levels, over the shipped other readings."""
    return [
        OffTopicGate(unknown_words=UnknownWordsClause(u, m))
        for u, m in itertools.product((0.5, 0.6, 0.7, 0.8, 0.9, 1.0), (0.1, 0.2, 0.3, 0.4))
    ]


def clause_grid() -> list[OffTopicGate]:
    return [
        dataclasses.replace(NO_GATE, quote_story=QuoteStoryClause(n, t, w, m))
        for n, t, w, m in itertools.product(
            (1, 2), (0.0, 0.1, 0.2), (0.5, 0.6, 0.7, 0.8, 1.01), (0.3, 0.35, 0.4, 0.5, 1.01)
        )
    ]


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rows", type=Path)
    p.add_argument("--max-refused", type=float, default=0.03)
    p.add_argument("--clause", action="store_true", help="replay the quote-story reading on rows of the shipped gate")
    p.add_argument("--chance", action="store_true", help="replay the low-chance reading on rows of the other readings")
    p.add_argument("--exact", action="store_true", help="replay the low-chance and exact-names readings together")
    p.add_argument("--places", action="store_true", help="replay the absent-places reading")
    p.add_argument("--unknown", action="store_true", help="replay the unknown-words reading")
    p.add_argument("--collect", action="store_true", help="first write the FIT rows with the low-chance reading off")
    args = p.parse_args(argv)
    modes = {
        "places": places_grid,
        "unknown": unknown_grid,
        "exact": exact_grid,
        "chance": chance_grid,
        "clause": clause_grid,
    }
    mode = next((m for m in modes if getattr(args, m)), None)
    if args.collect:  # the reading replayed off, and those its grid turns off too
        collect_rows(args.rows, COLLECT_OFF.get(mode or "", {"min_chance": 0.0}))
    rows = [json.loads(line) for line in args.rows.read_text("utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["half"] == "fit"]
    print("as written:" if mode else "without the gate:", replay(rows, NO_GATE))
    candidates = modes[mode]() if mode else grid()
    scored = [(replay(rows, g), g) for g in candidates]
    ok = [(s, g) for s, g in scored if s["answerable_refused"] <= args.max_refused]
    ok.sort(key=lambda x: (-x[0]["offtopic_refused"], x[0]["answerable_refused"]))
    for s, g in ok[:10]:
        print({k: round(v, 4) for k, v in s.items()}, g)


if __name__ == "__main__":
    main()
