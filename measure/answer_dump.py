"""Every answer, exactly, to prove a refactor changes none: `cmp` two dumps.

Runs every question of KorQuAD dev and XQuAD en (each file indexed as a corpus of its own), the
shipped corpus's example questions and the follow-ups of `measure/conversations.jsonl` (with and
without their history) through the real `Engine`, and writes one JSON line per answer with every
float as its repr (quote scores, confidence, signals). Timing is left out.

    uv run python -m measure.answer_dump OUT.jsonl [--limit N] [--flush N] [--encoder use-m3]   # then: cmp before.jsonl OUT.jsonl

`--flush N` commits a segment every N passages (and caps merges at 5N), so a dump proves that
a build cut into many flushes and merges answers exactly as one built in one piece.

Issue 18's refactor was checked this way (7,014 answers, identical to main at 925095b).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from retrieval import Answer, Engine, EngineConfig, Quote
from retrieval.index.segments.flush import FlushPolicy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".." / "shared" / "data"
SQUAD_FILES = ("KorQuAD_v1.0_dev.json", "xquad.en.json")
SHIPPED_QUESTIONS = (
    "What did the Kremlin say?", "크렘린궁은 뭐라고 말했어?", "Who invited Putin to Clubhouse?", "Peskov는 뭐라고 말했어?",
    "크렘린 대변인의 반응은?", "How many times has Clubhouse been downloaded?", "When did Musk invite Putin?",
    "머스크는 언제 푸틴을 초대했나?", "What is the capital of France?", "날씨 어때?",
)  # fmt: skip


def _quote(q: Quote) -> dict[str, Any]:
    s = q.source
    return {"text": q.text, "source": [s.article, s.title, s.paragraph, s.language, s.source, s.url, s.date],
            "score": repr(q.score), "passage": q.passage}  # fmt: skip


def _write(out: IO[str], tag: str, a: Answer) -> None:
    d: dict[str, Any] = a.to_json()
    d.pop("elapsed_ms")
    d["confidence_exact"] = repr(a.confidence)
    d["terms"] = list(a.terms)
    d["quotes_exact"] = [_quote(q) for q in a.quotes]
    d["more"] = [_quote(q) for q in a.more]
    d["signals"] = {k: repr(v) for k, v in sorted(a.signals.items())}
    out.write(json.dumps({"tag": tag, "answer": d}, ensure_ascii=False, sort_keys=True) + "\n")


def _ask_all(out: IO[str], engine: Engine, tag: str, questions: Sequence[str]) -> None:
    for i, q in enumerate(questions):
        try:
            a = engine.ask(q)
        except Exception as exc:  # noqa: BLE001 - the refusal itself is part of the dump
            out.write(
                json.dumps({"tag": tag, "i": i, "error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False) + "\n"
            )
            continue
        _write(out, f"{tag}:{i}", a)


def dump(out: IO[str], tmp: Path, limit: int | None = None, flush: int | None = None, encoder: str = "none") -> None:
    kw: dict[str, Any] = {"flush": FlushPolicy(flush, 5 * flush)} if flush else {}
    kw["encoder"] = encoder  # `--encoder use-m3`: the semantic path (the product's default)
    for name in SQUAD_FILES:
        raw = json.loads((DATA / name).read_text("utf-8"))
        corpus = tmp / name / "corpus"
        corpus.mkdir(parents=True)
        qs: list[str] = []
        with open(corpus / "squad.jsonl", "w", encoding="utf-8") as f:
            for n, art in enumerate(raw["data"]):
                text = "\n\n".join(p["context"] for p in art["paragraphs"])
                title = art.get("title", "").replace("_", " ") or f"a{n}"
                f.write(
                    json.dumps({"id": f"a{n}", "title": title, "text": text, "source": name}, ensure_ascii=False) + "\n"
                )
                qs += [qa["question"] for p in art["paragraphs"] for qa in p["qas"]]
        _ask_all(out, Engine.open(EngineConfig(corpus, tmp / name / "data", **kw)), name, qs[:limit])
        print(name, len(qs[:limit]), file=sys.stderr)
    corpus = tmp / "conv" / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    convs = []
    with open(corpus / "conv.jsonl", "w", encoding="utf-8") as f:
        for line in (ROOT / "measure" / "conversations.jsonl").read_text("utf-8").splitlines():
            row = json.loads(line)
            if row["type"] == "article":
                f.write(json.dumps({"id": row["id"], "title": row["title"], "text": "\n\n".join(row["paragraphs"]),
                                    "source": row.get("source", "")}, ensure_ascii=False) + "\n")  # fmt: skip
            else:
                convs.append(row)
    engine = Engine.open(EngineConfig(corpus, tmp / "conv" / "data", **kw))
    _ask_all(out, engine, "shipped", SHIPPED_QUESTIONS)
    for c in convs:
        history = []
        for t in c["turns"]:
            a = engine.ask(t, history=tuple(history))
            _write(out, f"conv:{c['id']}:turn", a)
            history.append(a.turn())
        _write(out, f"conv:{c['id']}:with", engine.ask(c["followup"], history=tuple(history)))
        _write(out, f"conv:{c['id']}:without", engine.ask(c["followup"]))
    print("conv", len(convs), file=sys.stderr)
    try:
        engine.ask("   ")
    except Exception as exc:  # noqa: BLE001
        out.write(json.dumps({"tag": "empty", "error": str(exc)}, ensure_ascii=False) + "\n")


def main(argv: Sequence[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else None
    flush = int(argv[argv.index("--flush") + 1]) if "--flush" in argv else None
    encoder = argv[argv.index("--encoder") + 1] if "--encoder" in argv else "none"
    tmp = Path(tempfile.mkdtemp())
    try:
        with open(argv[0], "w", encoding="utf-8") as out:
            dump(out, tmp, limit, flush, encoder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
