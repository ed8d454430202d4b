# quoteqa: one image for the HTTP API/page (`quoteqa serve`, the default) and the Telegram bot
# (`quoteqa telegram`). Articles live in /srv/quoteqa/corpus, the index in /srv/quoteqa/data:
# mount volumes there. Kiwi's model comes inside the kiwipiepy-model wheel: nothing is
# downloaded at run time.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/quoteqa \
    PATH=/opt/quoteqa/bin:$PATH \
    QUOTEQA_CORPUS_DIR=/srv/quoteqa/corpus \
    QUOTEQA_DATA_DIR=/srv/quoteqa/data \
    QUOTEQA_API_HOST=0.0.0.0 \
    QUOTEQA_API_PORT=8080

RUN pip install --no-cache-dir "uv>=0.4" \
 && useradd --system --home-dir /srv/quoteqa --create-home quoteqa

WORKDIR /app
# Dependencies first (a layer that survives code edits), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY bot ./bot
COPY measure ./measure
COPY news ./news
COPY retrieval ./retrieval
COPY corpus /srv/quoteqa/corpus
RUN uv sync --frozen --no-dev \
 && mkdir -p /srv/quoteqa/data && chown -R quoteqa:quoteqa /srv/quoteqa

USER quoteqa
VOLUME ["/srv/quoteqa/corpus", "/srv/quoteqa/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
# The image's PATH holds the venv: `quoteqa` is the installed entry point.
ENTRYPOINT ["quoteqa"]
CMD ["serve"]
