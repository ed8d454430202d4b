"""The product's defaults, each typed once.

`EngineConfig`, `SearchParams`, `FlushPolicy` and the bot's `Settings` all read their defaults
here, so a test, `bench` or `eval` that opens an engine with a bare `EngineConfig(corpus, data)`
runs exactly what a user runs with no settings at all. Kept free of imports: `quoteqa --help`
reads it through `bot/settings.py`.
"""

from __future__ import annotations

ENCODER = "use-m3"  # sentence encoder for passage vectors and questions; "none": words only
BM25_VARIANT = "lucene"
BM25_K1 = 0.9  # a low k1 saturates repeated terms early, which suits questions that name each thing once
BM25_B = 0.5  # normalises long paragraphs less harshly (both chosen with `quoteqa eval`, docs/quality.md)
MAX_QUOTES = 3  # quotes shown per answer
MAX_QUESTION_CHARS = 2000  # longest question accepted
WORKERS = 0  # Kiwi threads; 0: Kiwi's own choice (all cores)
LOCK_TIMEOUT_SECONDS = 600.0  # how long a writer waits for another writer's lock
FLUSH_PASSAGES = 50_000  # a big write commits a segment every this many passages
MERGE_CAP_PASSAGES = 250_000  # merges during a build make no segment larger than this
