"""`quoteqa serve`: one warm process (index, Kiwi, encoder) behind a JSON HTTP API and a web page.

- `app`: assembles the ASGI application (FastAPI) over an `Engine` from `models` (the wire
  models), `errors`, `middleware`, `services` and `routers/` (questions, corpus, operations, page);
- `page/`: the static question page served at `/` (no build step, no external resources);
- `client`: `quoteqa ask --server URL`, which imports nothing heavy (no analyser, no numpy).

Nothing here is imported by the other front ends; `bot.cli` imports `client` or `run` lazily.
"""
