"""Comparing two builds of the same sources: what a question sees of them must be equal.

Shared by the flush and cluster tests: postings by term (as (uid, tf) pairs, so segment layout
and term numbering do not matter), article metadata, and every answer's top-10 and quotes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

WORDS = "walrus narwhal okapi pangolin quokka axolotl ibis heron lynx marten".split()
QUESTIONS = (
    "What did the Kremlin say?", "크렘린궁은 뭐라고 말했어?", "Who invited Putin to Clubhouse?",
    "Peskov는 뭐라고 말했어?", "How many times has Clubhouse been downloaded?", "When did Musk invite Putin?",
    "Where was the walrus seen?", "How long did the okapi stay?", "머스크는 언제 푸틴을 초대했나?",
)  # fmt: skip


def tag(prefix: str, i: int) -> str:
    """A made-up word for article i of a batch (letters only: digits would be split off)."""
    return prefix + "".join(chr(97 + int(d)) for d in str(i))


def write_batch(path: Path, prefix: str, n: int) -> list[str]:
    """n small two-paragraph articles, each with a word no other article uses, as one JSONL file."""
    rows = [
        {"id": f"{prefix}-{i}", "title": f"{prefix} {i}",
         "text": f"The {tag(prefix, i)} {WORDS[i % len(WORDS)]} was seen near the river on day {i}.\n\n"
                 f"It stayed for {i + 2} hours, {WORDS[(i * 3) % len(WORDS)]} watchers said."}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return [r["id"] for r in rows]


def postings(snapshot: Any) -> dict[str, list[tuple[int, int]]]:
    """Every live term's postings as sorted (uid, tf) pairs, over all segments."""
    out: dict[str, list[tuple[int, int]]] = {}
    for s in snapshot.segs:
        a = s.seg.a
        ptr, doc, tf, uid = (np.asarray(a[k]) for k in ("post_ptr", "post_doc", "post_tf", "uid"))
        live = np.ones(s.seg.n_passages, bool) if s.deleted is None else ~s.deleted
        for t, term in enumerate(s.seg.vocab):
            lo, hi = int(ptr[t]), int(ptr[t + 1])
            keep = live[doc[lo:hi]]
            pairs = list(zip(uid[doc[lo:hi]][keep].tolist(), tf[lo:hi][keep].tolist(), strict=True))
            if pairs:
                out.setdefault(term, []).extend(pairs)
    return {t: sorted(p) for t, p in out.items()}


def passages(snapshot: Any) -> dict[int, tuple[str, str, int]]:
    """uid -> (article id, text, paragraph) of every live passage."""
    out = {}
    for uid in snapshot.uids().tolist():
        v = snapshot.passage(uid)
        out[uid] = (v.article.id, v.text, v.paragraph)
    return out


def answers(engine: Any, questions: Sequence[str] = QUESTIONS) -> list[Any]:
    """Each question's top-10 passages (uid, score) by BM25 and its quotes, verbatim."""
    out = []
    for q in questions:
        a = engine.ask(q)
        top = engine.store.snapshot().search(engine.analyzer.terms(q), 10)
        out.append((q, top, [(x.text, x.source.article, x.passage) for x in a.quotes]))
    return out
