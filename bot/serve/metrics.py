"""Prometheus metrics of one server, in a registry of its own (two apps in one test process
must not share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

disable_created_metrics()  # the _created series only double the scrape

# Answers take ~8 ms at 100k passages; the buckets resolve that and still show a slow tail.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.questions = Counter("quoteqa_questions", "Questions answered, by verdict", ["verdict"], registry=r)
        self.latency = Histogram(
            "quoteqa_answer_seconds", "Time to answer a question (queue included)", buckets=LATENCY_BUCKETS, registry=r
        )
        self.ingests = Counter("quoteqa_ingests", "Ingest calls, by outcome", ["outcome"], registry=r)
        self.articles_added = Counter(
            "quoteqa_articles_ingested", "Articles added or updated through the API", registry=r
        )
        self.removals = Counter("quoteqa_removals", "Articles removed through the API", registry=r)
        self.errors = Counter("quoteqa_errors", "Error replies, by code", ["code"], registry=r)
        self.passages = Gauge("quoteqa_index_passages", "Passages in the live commit", registry=r)
        self.articles = Gauge("quoteqa_index_articles", "Articles in the live commit", registry=r)
        self.commit = Gauge("quoteqa_index_commit", "Generation of the live commit", registry=r)
        for verdict in ("answer", "unsure", "abstain"):  # present at 0 from the start
            self.questions.labels(verdict)

    def answered(self, verdict: str, seconds: float) -> None:
        self.questions.labels(verdict).inc()
        self.latency.observe(seconds)

    def ingested(self, added: int, updated: int, failed: bool) -> None:
        self.ingests.labels("partial" if failed else "ok").inc()
        self.articles_added.inc(added + updated)

    def removed(self) -> None:
        self.removals.inc()

    def error(self, code: str) -> None:
        self.errors.labels(code).inc()

    def render(self, articles: int, passages: int, commit: int) -> bytes:
        self.articles.set(articles)
        self.passages.set(passages)
        self.commit.set(commit)
        return generate_latest(self.registry)
