"""Load figures for `quoteqa serve` over loopback (issue 21).

    uv run python -m measure.serve_load [--passages 100000] [--rate 30] [--seconds 60] [--clients 50]

1. builds (once; kept in --work) a synthetic corpus and its index, as `quoteqa bench` does;
2. starts `quoteqa serve` on 127.0.0.1 as a subprocess;
3. open loop: `--rate` questions a second for `--seconds`, each sent at its scheduled time
   whatever the others do, while JSONL batches are ingested back to back through the API;
   latency counts from the scheduled time (a stalled server cannot hide its queue);
4. saturation: `--clients` closed-loop clients for `--saturation-seconds`;
5. the server's RSS sampled every second through both;
6. the CLI's batch rate, `quoteqa ask --json -`, on the same index (server stopped).

Only 127.0.0.1 is ever contacted; every loop is bounded in count and time. The load generator
runs on the same 2 cores as the server, so saturation figures are for the pair.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .bench import DEFAULT_SOURCES, read_sources, synthesize, write_corpus
from .stats import percentile

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "load-test-token"


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)

    def add(self, ms: float, response: httpx.Response | None, error: str = "") -> None:
        if response is None or response.status_code != 200:
            self.errors.append(error or f"HTTP {response.status_code if response else '?'}")
            return
        self.latencies_ms.append(ms)
        verdict = response.json().get("verdict", "?")
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1

    def summary(self, seconds: float) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "questions": len(lat) + len(self.errors),
            "errors": len(self.errors),
            "error_kinds": sorted(set(self.errors))[:5],
            "throughput_qps": round(len(lat) / seconds, 1),
            "p50_ms": round(percentile(lat, 50), 1),
            "p95_ms": round(percentile(lat, 95), 1),
            "p99_ms": round(percentile(lat, 99), 1),
            "max_ms": round(max(lat, default=float("nan")), 1),
            "verdicts": self.verdicts,
        }


class RssSampler:
    """The server's resident memory (and its children's: a big ingest's analysis process) once a second."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.samples: list[tuple[float, float, float]] = []  # (t, server MiB, children MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.wait(1.0):
            try:
                own = self.proc.memory_info().rss / 2**20
                kids = sum(c.memory_info().rss for c in self.proc.children(recursive=True)) / 2**20
            except Exception:  # noqa: BLE001 - the process ended
                return
            self.samples.append((time.perf_counter() - t0, own, kids))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        own = [s[1] for s in self.samples] or [float("nan")]
        return {
            "start_mib": round(own[0], 1),
            "end_mib": round(own[-1], 1),
            "max_mib": round(max(own), 1),
            "children_max_mib": round(max((s[2] for s in self.samples), default=0.0), 1),
        }


def build(work: Path, n_passages: int, seed: int) -> tuple[Path, Path, list[str]]:
    corpus, data, qfile = work / "corpus", work / "data", work / "questions.json"
    if (data / "index").exists() and qfile.exists():
        return corpus, data, json.loads(qfile.read_text("utf-8"))
    sources = read_sources([ROOT.parent / "shared" / "data" / name for name in DEFAULT_SOURCES])
    bench = synthesize(sources, n_passages, 2000, seed)
    write_corpus(bench, corpus)
    qfile.write_text(json.dumps(bench.questions, ensure_ascii=False), "utf-8")
    print(f"building the index of {bench.n_passages:,} passages in {data} (once) ...", file=sys.stderr, flush=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot.cli", "reindex"], env=_env(corpus, data), check=True, cwd=ROOT)
    print(f"built in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return corpus, data, bench.questions


def live_batches(n_batches: int, passages: int, seed: int) -> list[bytes]:
    """JSONL bodies of new articles (ids of their own) to ingest during the open loop."""
    sources = read_sources([ROOT.parent / "shared" / "data" / name for name in DEFAULT_SOURCES])
    out = []
    for b in range(n_batches):
        rows = synthesize(sources, passages, 1, seed + 1 + b).articles
        out.append(
            "".join(
                json.dumps({**r, "id": f"live-{seed}-{b}-{r['id']}"}, ensure_ascii=False) + "\n" for r in rows
            ).encode()
        )
    return out


def _env(corpus: Path, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTEQA_")}
    env.update(QUOTEQA_CORPUS_DIR=str(corpus), QUOTEQA_DATA_DIR=str(data), **extra)
    return env


def start_server(corpus: Path, data: Path, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(
        corpus, data, QUOTEQA_API_TOKEN=TOKEN, QUOTEQA_API_MAX_BODY_BYTES="50000000", QUOTEQA_API_THREADS=str(threads)
    )
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server exited while starting")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not come up in 300 s")


async def open_loop(url: str, questions: list[str], rate: float, seconds: float) -> tuple[Samples, float]:
    samples = Samples()
    n = int(rate * seconds)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        start = time.perf_counter()

        async def one(i: int) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                r = await client.post("/v1/ask", json={"question": questions[i % len(questions)]})
                samples.add((time.perf_counter() - due) * 1000, r)
            except httpx.HTTPError as exc:
                samples.add(0, None, type(exc).__name__)

        await asyncio.gather(*(one(i) for i in range(n)))
        return samples, time.perf_counter() - start


async def closed_loop(url: str, questions: list[str], clients: int, seconds: float) -> tuple[Samples, float]:
    samples = Samples()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        start = time.perf_counter()
        end = start + seconds

        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < end:
                t = time.perf_counter()
                try:
                    r = await client.post("/v1/ask", json={"question": questions[i % len(questions)]})
                    samples.add((time.perf_counter() - t) * 1000, r)
                except httpx.HTTPError as exc:
                    samples.add(0, None, type(exc).__name__)
                i += clients

        await asyncio.gather(*(worker(k) for k in range(clients)))
        return samples, time.perf_counter() - start


def ingest_while(url: str, bodies: list[bytes], stop: threading.Event, out: list[dict[str, Any]]) -> None:
    """Ingest the batches back to back until `stop` (or they run out)."""
    with httpx.Client(base_url=url, timeout=600, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for body in bodies:
            if stop.is_set():
                return
            t = time.perf_counter()
            r = client.post("/v1/ingest", content=body, headers={"Content-Type": "application/x-ndjson"})
            row = {"status": r.status_code, "seconds": round(time.perf_counter() - t, 1)}
            if r.status_code == 200:
                row.update(added=len(r.json()["added"]), passages_after=r.json()["passages"])
            out.append(row)


def _cpu_seconds(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def cli_batch(corpus: Path, data: Path, questions: list[str]) -> dict[str, Any]:
    """`quoteqa ask --json -` on the same index: wall time with start-up, and the steady rate."""
    entry = Path(sys.executable).parent / "quoteqa"
    cmd = [str(entry)] if entry.exists() else [sys.executable, "-m", "bot.cli"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "ask", "--json", "-"], env=_env(corpus, data), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        assert proc.stdin is not None
        proc.stdin.write("".join(q.replace("\n", " ") + "\n" for q in questions).encode())
        proc.stdin.close()

    threading.Thread(target=feed, daemon=True).start()
    stamps = [time.perf_counter() for _ in iter(proc.stdout.readline, b"")]
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    total = time.perf_counter() - t0
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return {
        "questions": len(stamps),
        "wall_s": round(total, 1),
        "first_answer_s": round(stamps[0] - t0, 1) if stamps else None,
        "steady_qps": round(steady, 1),
        "overall_qps": round(len(stamps) / total, 1),
        "cpu_s_with_start": round(cpu_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--work", type=Path, default=Path("/tmp/quoteqa-serve-load"), help="corpus and index are kept here between runs"
    )
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--saturation-seconds", type=float, default=30.0)
    ap.add_argument("--ingest-batches", type=int, default=6)
    ap.add_argument("--ingest-passages", type=int, default=3000, help="passages per ingested batch")
    ap.add_argument("--threads", type=int, default=4, help="QUOTEQA_API_THREADS of the server")
    ap.add_argument("--cli-questions", type=int, default=500)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    corpus, data, questions = build(args.work, args.passages, args.seed)
    bodies = live_batches(args.ingest_batches, args.ingest_passages, args.seed + int(time.time()) % 100_000)
    proc, url = start_server(corpus, data, args.threads)
    figures: dict[str, Any] = {
        "passages_at_start": httpx.get(f"{url}/healthz").json()["passages"],
        "rate_qps": args.rate,
        "seconds": args.seconds,
    }
    try:
        asyncio.run(closed_loop(url, questions, 4, 3))  # warm up: first-question caches
        with RssSampler(proc.pid) as rss_open:
            stop, ingests = threading.Event(), []
            writer = threading.Thread(target=ingest_while, args=(url, bodies, stop, ingests))
            writer.start()
            samples, took = asyncio.run(open_loop(url, questions, args.rate, args.seconds))
            stop.set()
            writer.join()
        figures["open_loop"] = {**samples.summary(took), "ingests": ingests, "rss": rss_open.summary()}
        server_cpu, own_cpu = _cpu_seconds(proc.pid), time.process_time()
        with RssSampler(proc.pid) as rss_sat:
            sat, took = asyncio.run(closed_loop(url, questions, args.clients, args.saturation_seconds))
        answered = max(1, len(sat.latencies_ms))
        cpu = {
            # Where the two cores went: the server's CPU per question, and the load generator's.
            "server_cpu_ms_per_question": round((_cpu_seconds(proc.pid) - server_cpu) * 1000 / answered, 2),
            "generator_cpu_ms_per_question": round((time.process_time() - own_cpu) * 1000 / answered, 2),
        }
        figures["saturation"] = {**sat.summary(took), "clients": args.clients, "rss": rss_sat.summary(), **cpu}
        figures["passages_at_end"] = httpx.get(f"{url}/healthz").json()["passages"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    figures["cli_batch"] = cli_batch(corpus, data, questions[: args.cli_questions])
    print(json.dumps(figures, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", "utf-8")
    o = figures["open_loop"]
    ok = o["errors"] == 0 and o["p95_ms"] <= 150
    print(
        f"open loop {args.rate:g} q/s for {args.seconds:g} s during {len(o['ingests'])} ingest(s): p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, {o['errors']} error(s) -> {'OK' if ok else 'MISSED'} (p95 <= 150 ms, no errors)",
        file=sys.stderr,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
