"""What anchor extraction costs at build time (issue 26: at most 10% of the build).

`uv run python -m measure.anchor_cost [--data DIR] [--repeat N]` writes both pools of the news
dev set into one corpus (every story in both languages: ~2,000 passages, half Korean), then:

1. builds it words-only, analysis in this process, timing every call of the anchors column's
   `batch_arrays` (the extraction, from the sentences Kiwi already produced): its share of that
   build is the worst case (no encoder to hide behind);
2. builds it as the product does (the configured encoder, analysis and encoding in child
   processes), wall time only: the extraction's time from (1) over this build's time is its share
   of a real build.

Both shares are printed; the target is read on (2), (1) is the bound.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from measure.news.data import DEFAULT_FOLDER, load_set, write_pool
from retrieval import Analyzer, EngineConfig
from retrieval.engine import Engine
from retrieval.index.segments.columns import anchors as column

DATA = DEFAULT_FOLDER


def build_seconds(config: EngineConfig, analyzer: Analyzer) -> float:
    t0 = time.perf_counter()
    Engine.open(config, analyzer=analyzer)
    return time.perf_counter() - t0


def run(data: Path = DATA, repeat: int = 1) -> dict[str, float]:
    news = load_set(data)
    analyzer = Analyzer(workers=1)
    column.anchors_for(analyzer)  # loaded once per process, as at engine start: not a build cost
    spent = [0.0]
    real = column.batch_arrays

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0

    out: dict[str, float] = {}
    words, product, extraction = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="quoteqa-anchor-cost-") as tmp:
            base = Path(tmp)
            for pool in ("A", "B"):
                write_pool(news, pool, base / "corpus")  # news-pool-a.jsonl, news-pool-b.jsonl
            spent[0] = 0.0
            column.batch_arrays = timed  # type: ignore[assignment]
            try:
                words.append(build_seconds(EngineConfig(base / "corpus", base / "words", encoder="none"), analyzer))
            finally:
                column.batch_arrays = real  # type: ignore[assignment]
            extraction.append(spent[0])
            product.append(build_seconds(EngineConfig(base / "corpus", base / "product"), analyzer))
            out["passages"] = float(
                Engine.open(EngineConfig(base / "corpus", base / "words", encoder="none"), analyzer=analyzer)
                .store.snapshot()
                .n_passages
            )
    out |= {
        "extraction_s": min(extraction),
        "words_build_s": min(words),
        "product_build_s": min(product),
    }
    out["share_of_words_build"] = out["extraction_s"] / out["words_build_s"]
    out["share_of_product_build"] = out["extraction_s"] / out["product_build_s"]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--repeat", type=int, default=1, help="builds of each kind (the fastest is kept)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = run(args.data, args.repeat)
    if args.json:
        print(json.dumps(r))
        return
    print(f"{int(r['passages'])} passages (news dev set, both languages)")
    print(f"anchor extraction            {r['extraction_s']:.2f} s")
    print(
        f"words-only build             {r['words_build_s']:.2f} s  -> extraction {r['share_of_words_build']:.1%} of it"
    )
    print(
        f"product build (with encoder) {r['product_build_s']:.2f} s  -> extraction {r['share_of_product_build']:.1%} of it (target <= 10%)"
    )


if __name__ == "__main__":
    main()
