"""`quoteqa serve`: one warm process (index, Kiwi, encoder) behind a JSON HTTP API and a web page.

- `app`: the ASGI application (FastAPI) over an `Engine`, its OpenAPI document and its errors;
- `page/`: the static question page served at `/` (no build step, no external resources);
- `client`: `quoteqa ask --server URL`, which imports nothing heavy (no analyser, no numpy).

Nothing here is imported by the other front ends; `bot.cli` imports `client` or `app` lazily.
"""
