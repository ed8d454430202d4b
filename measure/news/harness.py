"""Every news question, in both languages, through the product's answer path, against both pools.

Engines are opened the way the product opens them, from the caller's `Parts` (config, Kiwi and
encoder, loaded once; the command line's config comes from `bot/wiring.py::engine_config`), only
the corpus and data folders moved to a temporary place. The encoder's start-up cache stays where
the caller's config puts it (by default it follows the data folder, which would rebuild it per
pool). Questions go through `Engine.ask`: twins, topic gate and verdict levels as a user gets them.

An abstention quotes nothing, so to tell a right refusal from a wrong one each abstention is
asked again of a probe: the same answer path on the same snapshot with refusals off (no
confidence model, no topic gate, `min_coverage` 0; `EngineConfig.refusals`), whose first quote is
the one the answer would have led with (quotes are chosen before the verdict is read).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from retrieval.engine import Engine
from retrieval.models import Answer
from retrieval.path import Parts

from .data import POOLS, NewsQuestion, NewsSet, load_questions, load_set, pool_language, write_pool
from .judge import Row, is_gold, line_of

Progress = Callable[[str, int], Callable[[int], None]]


def pool_parts(parts: Parts, base: Path) -> Parts:
    """The caller's parts with the corpus and data folders under `base` (nothing else changed
    but the encoder cache pinned where the caller's config has it)."""
    return parts.but(corpus_dir=base / "corpus", data_dir=base / "data", encoder_cache=parts.config.encoder_cache_dir)


class Probe:
    """The engine's answer path on its live snapshot with refusals off: the first quote an
    abstention would have led with."""

    def __init__(self, engine: Engine) -> None:
        self.snapshot = engine.store.snapshot()
        self.path = Parts(engine.config, engine.analyzer, engine.encoder).but(refusals=False).path()

    def answer(self, question: str, max_quotes: int = 3) -> Answer:
        return self.path.ask(self.snapshot, question, max_quotes)


def ask_pool(
    engine: Engine,
    news: NewsSet,
    pool: str,
    questions: Sequence[NewsQuestion],
    tick: Callable[[int], None] | None = None,
) -> list[Row]:
    """Each question in each language, asked of one pool's engine."""
    probe = Probe(engine)
    rows: list[Row] = []
    for q in questions:
        indexed = pool_language(pool, q.story) if q.story is not None else None
        gold = q.gold[indexed] if q.gold is not None and indexed is not None else ()
        for lang, text in q.text.items():
            a = engine.ask(text, max_quotes=3)
            judged = [is_gold(x.text, x.source.article, q.story, indexed, gold, news) for x in a.quotes[:3]]
            first = a.quotes[0] if a.quotes else None
            would_quote, would_hit = "", None
            if a.verdict == "abstain":
                w = probe.answer(text, max_quotes=1)
                if w.quotes:
                    would_quote = w.quotes[0].text
                    would_hit = is_gold(w.quotes[0].text, w.quotes[0].source.article, q.story, indexed, gold, news)
                else:
                    would_hit = False
            rows.append(Row(
                id=q.id, question=text, lang=lang, pool=pool, story=q.story, kind=q.kind, half=q.half,
                indexed=indexed, gold=tuple(gold), verdict=a.verdict, confidence=float(a.confidence),
                cross_language=a.cross_language, first_quote=first.text if first else "",
                first_article=first.source.article if first else "",
                first_line=line_of(first.source.article, first.source.paragraph, news) if first else None,
                hit1=bool(judged and judged[0]), hit3=any(judged), would_quote=would_quote, would_hit=would_hit,
                signals={k: float(v) for k, v in a.signals.items()}, elapsed_ms=a.elapsed_ms,
            ))  # fmt: skip
        if tick:
            tick(1)
    return rows


def collect(
    parts: Parts, folder: Path, *, questions: Sequence[NewsQuestion] | None = None, half: str = "both",
    pools: Sequence[str] = POOLS, stories: Sequence[int] | None = None, progress: Progress | None = None,
) -> list[Row]:  # fmt: skip
    """Rows for every question (of `half`: fit, report or both) in both languages against every
    pool. `stories` indexes only those stories (a quick run); questions about other stories are
    then left out, the off-topic ones kept."""
    news = load_set(folder)
    qs = list(load_questions() if questions is None else questions)
    if half != "both":
        qs = [q for q in qs if q.half == half]
    if stories is not None:
        keep = set(stories)
        qs = [q for q in qs if q.story is None or q.story in keep]
    rows: list[Row] = []
    for pool in pools:
        with tempfile.TemporaryDirectory(prefix=f"quoteqa-news-{pool.lower()}-") as tmp:
            base = Path(tmp)
            write_pool(news, pool, base / "corpus", list(stories) if stories is not None else None)
            engine = Engine.of(pool_parts(parts, base))
            rows += ask_pool(engine, news, pool, qs, progress(f"news pool {pool}", len(qs)) if progress else None)
    return rows
