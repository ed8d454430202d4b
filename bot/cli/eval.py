"""`quoteqa eval FILE...`: answer quality on SQuAD-format files, ours beside two BM25 baselines.

`quoteqa eval --splits [FILE...]`: the confidence model on dev splits (measure/splits.py): fitted
on the FIT halves, reported on the REPORT halves beside today's abstention rule; `--fit` also
writes the model to retrieval/answer/confidence.json.

`quoteqa eval --news [DIR]`: our news questions in both languages against split-language pools of
the parallel news dev set (measure/news), and twin-sentence R@1."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.cli.progress import progress_bar
from bot.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from measure.splits import Row
    from retrieval.path import Parts

EXIT_OK, EXIT_ERROR = 0, 2

RETRIEVAL_KEYS = ("R@1", "R@5", "R@20", "MRR@10")
BASELINE_LABELS = {
    "whitespace": "BM25, whitespace tokens",
    "kiwi_nouns": "BM25, Kiwi nouns (NN*)",
    "stemmed": "BM25, stemmed + stop words",
}


# The public dev sets read by default, in QUOTEQA_EVAL_DATA_DIR (README, "Evaluation data").
SPLIT_FILES = ("KorQuAD_v1.0_dev.json", "xquad.en.json")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from measure.evaluate import evaluate, load_squad, sample_questions

    if args.limit is not None and args.limit < 1:
        print("quoteqa: --limit must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    if getattr(args, "splits", False):
        return run_splits(args, settings)
    if getattr(args, "belebele", None) is not None and not args.files:
        return run_belebele(args, settings)
    if getattr(args, "conversations", None) is not None:
        return run_conversations(args, settings)
    if getattr(args, "news", None) is not None:
        return run_news(args, settings)
    if getattr(args, "out", None) or getattr(args, "half", "both") != "both":
        print("quoteqa: --out and --half only go with --news", file=sys.stderr)
        return EXIT_ERROR
    if not args.files:
        print("quoteqa: eval needs at least one FILE (or --splits)", file=sys.stderr)
        return EXIT_ERROR
    split_only = [f"--{n.replace('_', '-')}" for n in ("fit", "model", "rows", "from_rows") if getattr(args, n, None)]
    if split_only:
        print(f"quoteqa: {', '.join(split_only)} only goes with --splits", file=sys.stderr)
        return EXIT_ERROR
    datasets = [load_squad(path) for path in args.files]  # every file is checked before any work
    quiet = bool(args.json)
    progress = None if quiet else _bar
    if not quiet:
        print("loading the Kiwi model…", file=sys.stderr)
    parts = _parts(args, settings)
    for path, dataset in zip(args.files, datasets, strict=True):
        questions = sample_questions(dataset.questions, args.limit, args.seed)
        if not quiet:
            print(f"{path}: {len(dataset.passages)} passages, {len(questions)} questions", file=sys.stderr)
        report = evaluate(dataset, parts, questions=questions, progress=progress)
        row = report.to_json() | {"path": str(path)}
        if args.json:
            print(json.dumps(row, ensure_ascii=False), flush=True)
        else:
            _print_table(row)
    return EXIT_OK


def _parts(args: argparse.Namespace, settings: Settings) -> Parts:
    """The product's parts, from the same `engine_config` the bot and `ask` use: its config, one
    Kiwi and the encoder (`--encoder` overrides the configured one), loaded once per command."""
    import dataclasses

    from bot.wiring import engine_config
    from retrieval.path import Parts

    cached = getattr(args, "_parts", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    config = engine_config(settings)
    if getattr(args, "encoder", None):
        config = dataclasses.replace(config, encoder=args.encoder)
    args._parts = Parts.load(config)
    return args._parts  # type: ignore[no-any-return]


def run_belebele(args: argparse.Namespace, settings: Settings) -> int:
    """`quoteqa eval --belebele DIR`: every mode, words only and (with an encoder) by meaning."""
    from measure import belebele

    parts = _parts(args, settings)
    encoder = parts.encoder
    quiet = bool(args.json)
    rows = belebele.collect(args.belebele, parts, progress=None if quiet else _bar)
    out = {
        "modes": belebele.table(rows),
        "half": belebele.half_table(rows),
        "encoder": getattr(encoder, "name", "none"),
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False), flush=True)
        return EXIT_OK
    from rich import box
    from rich.table import Table

    from bot.terminal.render import terminal

    console = terminal()
    t = Table(title="Belebele: first quote from the gold passage (src@1; kept: and not abstained)", box=box.SIMPLE_HEAD)
    for col in ("pool", "half", "n", "words src@1", "words kept", "meaning src@1", "meaning kept", "meaning cross"):
        t.add_column(col, justify="left" if col in ("pool", "half") else "right")
    by = {(r["group"], r["half"], r["system"]): r for r in out["modes"]}
    for group, half in dict.fromkeys((r["group"], r["half"]) for r in out["modes"]):
        w, m = by.get((group, half, "words")), by.get((group, half, "meaning"))
        t.add_row(
            group,
            half,
            str(w["n"] if w else m["n"]),  # type: ignore[index]
            *(
                f"{x[k]:.3f}" if x else "–"
                for x, k in ((w, "src@1"), (w, "kept"), (m, "src@1"), (m, "kept"), (m, "cross"))
            ),
        )
    console.print(t)
    h = Table(title="Belebele half indexed: shipped confidence models", box=box.SIMPLE_HEAD)
    for col in ("path", "half", "questions", "n", "answerable abstain", "unanswerable answer", "AUROC"):
        h.add_column(col)
    for r in out["half"]:
        h.add_row(
            r["system"],
            r["half"],
            r["lang"],
            str(r["n"]),
            *(("–" if r[k] is None else f"{r[k]:.3f}") for k in ("answerable_abstain", "unanswerable_answer", "auroc")),
        )
    console.print(h)
    return EXIT_OK


def _bar(label: str, total: int) -> Callable[[int], None]:
    """evaluate() counts questions and indexed passages; the bar closes itself at the total."""
    return progress_bar(label, total, unit="q" if label.endswith("questions") else "passage")


def _print_table(row: dict) -> None:  # type: ignore[type-arg]
    from rich.markup import escape
    from rich.table import Table

    from bot.terminal.render import terminal

    console = terminal()
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


# --- --news -------------------------------------------------------------------------------------
def run_news(args: argparse.Namespace, settings: Settings) -> int:
    """`quoteqa eval --news [DIR]`: measure/news (its tables are Markdown, pasted into docs/quality.md)."""
    import random

    from measure import news
    from measure.news.data import FOLDER_NAME
    from measure.news.tables import markdown
    from retrieval.errors import QuoteQAError

    folder = settings.eval_data_dir / FOLDER_NAME if str(args.news) == "-" else args.news
    try:
        news_set = news.load_set(folder)
        questions = news.load_questions()
        if args.limit is not None and args.limit < len(questions):
            questions = sorted(random.Random(args.seed).sample(questions, args.limit), key=lambda q: q.id)
        if not args.json:
            print("loading the Kiwi model and the encoder…", file=sys.stderr)
        parts = _parts(args, settings)
        encoder = parts.encoder
        rows = news.collect(
            parts, folder, questions=questions, half=args.half,
            progress=None if args.json else (lambda label, total: progress_bar(label, total, unit="q")),
        )  # fmt: skip
        twins = news.twin_figures(news_set, parts.analyzer, encoder)
    except QuoteQAError as exc:
        print(f"quoteqa: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    out = {"report": news.report(rows), "twins": twins, "encoder": getattr(encoder, "name", "none"), "rows": len(rows)}
    if args.json:
        print(json.dumps(out, ensure_ascii=False), flush=True)
        return EXIT_OK
    header = (
        f"News dev set ({folder}), encoder {out['encoder']}: {len(rows)} rows "
        f"(each question in en and ko, against pools A and B; half {args.half})"
    )
    print(markdown(out["report"], twins, header))
    if args.out:
        print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    return EXIT_OK


# --- --conversations ------------------------------------------------------------------------------
def run_conversations(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from measure import conversations
    from measure.evaluate import load_squad
    from retrieval.corpus.files import load_corpus

    path = conversations.DEFAULT_FILE if str(args.conversations) == "-" else args.conversations
    convs = conversations.load_conversations(path)
    files: list[Path] = list(args.files) or [settings.eval_data_dir / name for name in SPLIT_FILES]
    if not args.files:  # the hand-written set needs nothing else; the generated sets need the data
        missing = [p for p in files if not p.exists()]
        for p in missing:
            print(
                f'quoteqa: {p} is not here: the follow-ups generated from it are left out (README, "Evaluation data", says where to get it)',
                file=sys.stderr,
            )
        files = [p for p in files if p not in missing]
    datasets = [load_squad(p) for p in files]
    corpus = load_corpus(PROJECT_ROOT / "corpus")
    if not args.json:
        print("loading the Kiwi model…", file=sys.stderr)
    out = conversations.evaluate_conversations(
        convs, corpus, datasets, _parts(args, settings), seed=args.seed,
        progress=None if args.json else (lambda name: print(f"{name}: follow-ups and self-contained questions…", file=sys.stderr)),
    )  # fmt: skip
    if args.json:
        print(json.dumps(out, ensure_ascii=False), flush=True)
        return EXIT_OK
    from rich.table import Table

    from bot.terminal.render import terminal

    table = Table(title="Follow-up first-quote accuracy")
    for col in ("set", "follow-ups", "with history", "without", "gain"):
        table.add_column(col, justify="left" if col == "set" else "right")
    for r in out["sets"]:  # type: ignore[union-attr]
        table.add_row(
            r["set"],
            str(r["followups"]),
            f"{r['accuracy_with_history']:.3f}",
            f"{r['accuracy_without_history']:.3f}",
            f"{r['gain']:+.3f}",
        )
    a = out["all"]
    table.add_row(
        "all",
        str(a["followups"]),
        f"{a['accuracy_with_history']:.3f}",
        f"{a['accuracy_without_history']:.3f}",
        f"{a['accuracy_with_history'] - a['accuracy_without_history']:+.3f}",
    )  # type: ignore[index,operator]
    console = terminal()
    console.print(table)
    for u in out["self_contained"]:  # type: ignore[union-attr]
        console.print(
            f"{u['file']}: {u['changed']} of {u['asked']} self-contained questions changed after an unrelated question"
        )
    return EXIT_OK


# --- --splits -----------------------------------------------------------------------------------
def run_splits(args: argparse.Namespace, settings: Settings) -> int:
    import datetime
    import hashlib
    from pathlib import Path

    from measure import splits
    from measure.evaluate import load_squad
    from retrieval.answer import confidence

    if args.fit and args.model:
        print("quoteqa: --fit writes a newly fitted model; --model reports an existing one: pick one", file=sys.stderr)
        return EXIT_ERROR
    if args.l2 <= 0 or args.offtopic_sample < 0:
        print("quoteqa: --l2 must be positive and --offtopic-sample at least 0", file=sys.stderr)
        return EXIT_ERROR
    files: list[Path] = list(args.files) or [settings.eval_data_dir / name for name in SPLIT_FILES]
    if not args.files and not all(p.exists() for p in files):
        print(
            f'quoteqa: --splits needs {" and ".join(SPLIT_FILES)} in {settings.eval_data_dir} (QUOTEQA_EVAL_DATA_DIR); README, "Evaluation data", says where each is published',
            file=sys.stderr,
        )
        return EXIT_ERROR
    datasets = [load_squad(path) for path in files]  # every file is checked before any work
    given = confidence.load(args.model) if args.model else None
    everyday = splits.read_offtopic()
    quiet = bool(args.json)
    if not quiet:
        print("loading the Kiwi model…", file=sys.stderr)
    parts = _parts(args, settings)
    encoder = parts.encoder
    news_folder = None
    if getattr(args, "news", None) is not None:
        from measure.news.data import FOLDER_NAME

        if encoder is None:
            print("quoteqa: --splits --news judges the semantic path; it needs the encoder (--encoder use-m3)", file=sys.stderr)
            return EXIT_ERROR
        news_folder = settings.eval_data_dir / FOLDER_NAME if str(args.news) == "-" else args.news
    if getattr(args, "from_rows", None) is not None:
        rows = _read_rows(args.from_rows)  # the rows of an earlier run (`--rows`): refit without asking again
        if rows is None:
            return EXIT_ERROR
    else:
        rows = splits.collect(
            datasets, parts, seed=args.seed, everyday=everyday, other_sample=args.offtopic_sample,
            progress=None if quiet else _bar, limit=args.limit,
        )  # fmt: skip
        if args.belebele is not None:
            from measure import belebele

            rows += belebele.half_rows(
                belebele.collect(args.belebele, parts, modes=belebele.FIT_MODES if encoder is not None else ("half",), progress=None if quiet else _bar),
                belebele.MEANING if encoder is not None else belebele.WORDS,
            )  # fmt: skip
        if news_folder is not None:
            from measure import news
            from retrieval.errors import QuoteQAError

            try:
                asked = news.collect(parts, news_folder, progress=None if quiet else (lambda label, total: progress_bar(label, total, unit="q")))
            except QuoteQAError as exc:
                print(f"quoteqa: {exc}", file=sys.stderr)
                return EXIT_ERROR
            rows += splits.news_rows(asked)  # fmt: skip
    if args.rows:
        with open(args.rows, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    features = splits.SEMANTIC_FEATURES if encoder is not None else splits.DEFAULT_FEATURES
    gate = None  # the semantic path's topic gate (retrieval/answer/topic.py)
    refit: dict[str, object] = {}
    if encoder is not None and given is None and any(splits.is_news(r) for r in rows):
        model, gate, info = splits.fit_refit(rows, splits.Refit(l2=args.l2))
        refit = {"features_chosen": info.blocks, "row_weights": info.weights, "sure_rule": info.sure_rule}
    elif encoder is not None and given is None:
        model, gate = splits.fit_semantic(rows, l2=args.l2, features=features)
    else:
        model = given or splits.fit_model(rows, l2=args.l2, features=features)
        if encoder is not None:
            from retrieval.answer import topic

            gate = topic.shipped_topic()
    if args.fit:
        command = [
            "quoteqa",
            "eval",
            "--splits",
            "--fit",
            "--seed",
            str(args.seed),
            "--l2",
            str(args.l2),
            "--offtopic-sample",
            str(args.offtopic_sample),
        ]
        if encoder is not None:
            command += ["--encoder", encoder.name]
        if args.belebele is not None:
            command += ["--belebele", str(args.belebele)]
        if news_folder is not None:
            command += ["--news", str(news_folder)]
        if args.limit is not None:
            command += ["--limit", str(args.limit)]
        model = model.with_fitted(
            command=" ".join([*command, *(str(p) for p in files)]),
            data=[
                {"file": ds.name, "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest(), "articles": len(ds.articles),
                 "questions": len(ds.questions)}
                for p, ds in zip(files, datasets, strict=True)
            ] + [{"file": splits.OFFTOPIC_FILE.name, "questions": len(everyday)}],
            date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            code=_code_version(),
            fit_rows=sum(1 for r in rows if r.half == "fit"),
            **refit,
            targets=splits.REFIT_TARGETS if refit else splits.SEMANTIC_TARGETS if encoder is not None else "thresholds: min keeps <= 2% of answerable FIT questions abstaining; sure is the lowest with FIT answer precision >= 0.95",
        )  # fmt: skip
    report = splits.evaluate_model(rows, model, gate)
    if args.fit:
        path = confidence.semantic_path() if encoder is not None else confidence.default_path()
        model.save(path)
        if not quiet:
            print(f"wrote {path}", file=sys.stderr)
        if gate is not None:
            from retrieval.answer import topic

            gate.with_fitted(**model.fitted).save(topic.topic_path())
            if not quiet:
                print(f"wrote {topic.topic_path()}", file=sys.stderr)
    out = report.to_json() | {"files": [str(p) for p in files], "seed": args.seed, "written": bool(args.fit)}
    if args.json:
        print(json.dumps(out, ensure_ascii=False), flush=True)
    else:
        _print_splits(out)
    return EXIT_OK


def _read_rows(path: str) -> list[Row] | None:
    """Rows written by `--splits --rows FILE`; None (after a message) when the file is not such."""
    from pathlib import Path

    from measure.splits import Row

    try:
        lines = Path(path).read_text("utf-8").splitlines()
        return [Row.from_json(json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"quoteqa: {path}: not a rows file of --splits --rows ({exc})", file=sys.stderr)
        return None


def _code_version() -> str:
    """The commit the answer path was measured at (with "+changes" when the tree differs from
    it), so a fitted model can be matched to the signals it read; "" outside a git checkout."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "retrieval", ":!retrieval/answer/confidence.json"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if head.returncode:
        return ""
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


SPLIT_ROWS = (
    ("auroc", "AUROC", "f"), ("ece", "ECE", "f"), ("answerable_abstain", "answerable abstain", "%"),
    ("unanswerable_answer", "unanswerable answered", "%"), ("answer_precision", "answer precision", "%"),
    ("first_quote_accuracy", "1st-quote accuracy", "%"), ("offtopic_abstain", "off-topic abstain", "%"),
)  # fmt: skip


def _cell(value: object, kind: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if kind == "%" else f"{value:.3f}"  # type: ignore[str-format]


def _short(name: str) -> str:
    """KorQuAD_v1.0_dev.json -> KorQuAD, xquad.en.json -> xquad: column headers must be narrow."""
    return name.split("_")[0].split(".")[0] or name


def _print_splits(out: dict) -> None:  # type: ignore[type-arg]
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from bot.terminal.render import terminal
    from measure.splits import TODAY_MIN_COVERAGE

    console = terminal()
    th = out["thresholds"]
    console.print(
        f"confidence: answer at >= {th['sure']:.3f}, unsure at >= {th['min']:.3f}, abstain below "
        f"(fitted on the FIT halves{', written to retrieval/answer/confidence.json' if out['written'] else ''}). "
        f"Today's rule: abstain iff passage_coverage < {TODAY_MIN_COVERAGE}. An unsure verdict still quotes."
    )
    for half in ("report", "fit"):
        groups = out[half]
        main = sorted(
            (g for g in groups if not g.startswith(("offtopic ", "short"))),
            key=lambda g: (g == "all", g == "offtopic", g),
        )
        short = sorted(g for g in groups if g.startswith("short"))
        what = (
            "held out: the figures to quote"
            if half == "report"
            else "model and thresholds fitted here: for reference only"
        )
        for rule in ("model", "today"):
            name = "confidence model" if rule == "model" else "today's rule"
            table = Table(title=f"{half.upper()} half, {name} ({what})", box=box.SIMPLE_HEAD, padding=(0, 1))
            table.add_column("")
            for g in main:
                table.add_column(escape(_short(g)), justify="right")
            for key, label, kind in SPLIT_ROWS:
                if rule == "today" and key == "ece":
                    continue
                table.add_row(
                    label, *(_cell((groups[g] if rule == "model" else groups[g]["today"]).get(key), kind) for g in main)
                )
            if rule == "model":
                table.add_row("answer/unsure/abstain %", *(
                    f"{groups[g]['answer_share']:.0%}/{groups[g]['unsure_share']:.0%}/{groups[g]['abstain_share']:.0%}".replace("%", "") for g in main
                ))  # fmt: skip
                table.add_row(
                    "answerable/unans./off",
                    *(f"{groups[g]['answerable']}/{groups[g]['unanswerable']}/{groups[g]['offtopic']}" for g in main),
                )
            console.print(table)
        if short:  # the short news-style forms: fitted on, never part of the target figures
            forms = Table(
                title=f"{half.upper()} half, short forms of the questions (own groups; not in the targets)",
                box=box.SIMPLE_HEAD,
                padding=(0, 1),
            )
            forms.add_column("")
            for g in short:
                forms.add_column(escape(_short(g.removeprefix("short ")) if g != "short" else "all"), justify="right")
            for key, label, kind in SPLIT_ROWS:
                if key != "offtopic_abstain":
                    forms.add_row(label, *(_cell(groups[g].get(key), kind) for g in short))
            console.print(forms)
        off = Table(title=f"{half.upper()} half, off-topic by index and origin", box=box.SIMPLE_HEAD, padding=(0, 1))
        for col in ("index <- questions", "n", "abstain", "today"):
            off.add_column(col, justify="left" if col.startswith("index") else "right")
        for g in groups:
            if g.startswith("offtopic "):
                m = groups[g]
                off.add_row(
                    escape(g.removeprefix("offtopic ")),
                    str(m["n"]),
                    _cell(m["offtopic_abstain"], "%"),
                    _cell(m["today"]["offtopic_abstain"], "%"),
                )
        console.print(off)
    targets = Table(title="targets on the REPORT half", box=box.SIMPLE_HEAD, padding=(0, 1))
    for col in ("questions", "metric", "target", "value", "met"):
        targets.add_column(col)
    for t in out["targets"]:
        met = "–" if t["met"] is None else "[bold green]yes[/]" if t["met"] else "[bold red]no[/]"
        value = "–" if t["value"] is None else f"{t['value']:.4f}"
        targets.add_row(escape(t["group"]), t["metric"], t["target"], value, met)
    console.print(targets)
    if out.get("shown"):  # a run with news rows: the confidence users are shown, as Markdown
        from measure.splits.tables import shown_markdown

        print(shown_markdown(out["shown"], th))
