"""`quoteqa eval FILE...`: answer quality on SQuAD-format files, ours beside two BM25 baselines."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from .progress import progress_bar
from .settings import Settings

EXIT_OK, EXIT_ERROR = 0, 2

RETRIEVAL_KEYS = ("R@1", "R@5", "R@20", "MRR@10")
BASELINE_LABELS = {
    "whitespace": "BM25, whitespace tokens",
    "kiwi_nouns": "BM25, Kiwi nouns (NN*)",
    "stemmed": "BM25, stemmed + stop words",
}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from measure.evaluate import evaluate, load_squad, sample_questions
    from retrieval import Analyzer, SearchParams

    if args.limit is not None and args.limit < 1:
        print("quoteqa: --limit must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    datasets = [load_squad(path) for path in args.files]  # every file is checked before any work
    quiet = bool(args.json)
    progress = None if quiet else _bar
    if not quiet:
        print("loading the Kiwi model…", file=sys.stderr)
    analyzer = Analyzer(workers=settings.workers)
    params = SearchParams(settings.bm25_variant, settings.bm25_k1, settings.bm25_b)
    for path, dataset in zip(args.files, datasets, strict=True):
        questions = sample_questions(dataset.questions, args.limit, args.seed)
        if not quiet:
            print(f"{path}: {len(dataset.passages)} passages, {len(questions)} questions", file=sys.stderr)
        report = evaluate(dataset, analyzer, params, questions=questions, progress=progress)
        row = report.to_json() | {"path": str(path)}
        if args.json:
            print(json.dumps(row, ensure_ascii=False), flush=True)
        else:
            _print_table(row)
    return EXIT_OK


def _bar(label: str, total: int) -> Callable[[int], None]:
    """evaluate() counts questions and indexed passages; the bar closes itself at the total."""
    return progress_bar(label, total, unit="q" if label == "questions" else "passage")


def _print_table(row: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    ours = row["ours"]
    title = (
        f"{escape(row['file'])}: {row['questions']:,} questions, {row['passages']:,} passages "
        f"({row['language']}; {row['params']['variant']} k1={row['params']['k1']} b={row['params']['b']})"
    )
    table = Table(title=title)
    table.add_column("system")
    for key in RETRIEVAL_KEYS:
        table.add_column(key, justify="right")
    best = {k: max(b[k] for b in row["baselines"].values()) for k in RETRIEVAL_KEYS} if row["baselines"] else {}
    cells = []
    for key in RETRIEVAL_KEYS:
        mark = "bold green" if best and ours[key] > best[key] else "bold red" if best else "bold"
        cells.append(f"[{mark}]{ours[key]:.3f}[/]")
    table.add_row("quoteqa", *cells)
    for name, figures in row["baselines"].items():
        table.add_row(BASELINE_LABELS.get(name, name), *(f"{figures[k]:.3f}" for k in RETRIEVAL_KEYS))
    console.print(table)

    answers = Table(title="answer sentences (quoteqa)")
    for col in ("hit@1", "hit@3", "first quote chars", "abstain", "p50 ms", "p95 ms"):
        answers.add_column(col, justify="right")
    answers.add_row(
        f"{ours['hit@1']:.3f}", f"{ours['hit@3']:.3f}", f"{ours['first_quote_chars']:.0f}",
        f"{ours['abstain']:.1%}", f"{ours['p50_ms']:.1f}", f"{ours['p95_ms']:.1f}",
    )  # fmt: skip
    console.print(answers)
