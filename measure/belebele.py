"""Belebele (Korean/English twins), KorQuAD and XQuAD through the answer path, with and without
the multilingual encoder (issue 19).

Modes (passages indexed → questions asked):
* `same-ko`, `same-en`: every passage in the question's language;
* `cross-ko>en`, `cross-en>ko`: every passage in the other language only;
* `mixed`: both languages (either twin is gold);
* `split`: each story in one language only (links split by hash: half Korean, half English) —
  the real bilingual corpus; reported as `split-same` / `split-cross` by where the gold lies;
* `half`: half the links indexed (a quarter of them in each language), for confidence.

Questions fall into a FIT and a REPORT half by a hash of their passage link (KorQuAD/XQuAD: of
the question id); the fusion weights and the confidence model are fitted on FIT only.

Metric: `src@1` = the first quote is from a gold passage through `Answerer.answer` (abstentions
count as misses; `src@1 any` also counts answers the shipped confidence model abstained on),
and R@1 / R@10 of the passage ranking. Vectors are held in memory here (the vector column comes
with the segment refactor) and cached on disk by text hash.

    uv run python -m measure.belebele [--cache /tmp/dense_cache] [--korquad N] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval import confidence as confidence_model
from retrieval.analyze import Analyzer
from retrieval.answer import AnswerParams, Answerer
from retrieval.bm25 import SearchParams
from retrieval.rerank import Retrieved, coverage_of
from retrieval.sentences import Candidate
from retrieval.store import ArticleMeta
from retrieval.text.encoder import CachedEncoder, UseM3

from .evaluate import Dataset, PassageInput, QAItem, build_store, load_squad


def _by_path(relative: str):  # type: ignore[no-untyped-def]
    """A module under `retrieval/answer/` by its file: until the refactor (issue 18) turns
    `retrieval/answer.py` into a package, `retrieval.answer.*` cannot be imported by name."""
    import importlib.util

    name = "quoteqa_" + relative.replace("/", "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / relative)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


_fusion = _by_path("retrieval/answer/retrieve/fusion.py")
FEATURES, FusionWeights, candidate_features, fit_conditional_logit, fuse = (
    _fusion.FEATURES, _fusion.FusionWeights, _fusion.candidate_features, _fusion.fit_conditional_logit, _fusion.fuse,
)
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
KEEP_SHARE = 0.25  # fused candidates kept for sentences: chance ≥ this share of the first's
SENT_PASSAGES = 3  # top passages whose sentences are chosen by similarity when they share no word
SENT_WEIGHT = 0.67  # weight of a sentence's cosine (the local-coverage weight's size)
ANCHOR_WEIGHT = 0.2  # per shared number / Latin name between question and sentence (capped at 2)
NUM_OR_NAME = re.compile(r"\d[\d,.]*|\b[A-Z][A-Za-z]+")


def fit_half(key: str) -> bool:
    return int(hashlib.md5(key.encode()).hexdigest(), 16) % 2 == 0


@dataclass(frozen=True, slots=True)
class Q:
    id: str
    text: str
    lang: str
    key: str  # passage link (Belebele) or gold passage number (SQuAD sets)
    fit: bool


@dataclass
class Pool:
    name: str
    texts: list[str]
    langs: list[str]
    keys: list[str]


def load_belebele(folder: Path) -> tuple[dict[tuple[str, str], str], list[Q]]:
    passages: dict[tuple[str, str], str] = {}
    qs: list[Q] = []
    for line in (folder / "kor_Hang.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        passages[("ko", r["link"])] = r["flores_passage"]
        qs.append(Q(f"ko:{r['link']}#{r['question_number']}", r["question"], "ko", r["link"], fit_half(r["link"])))
    for line in (folder / "eng_Latn.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        link = r["metadata"]["extra"]["url"]
        passages[("en", link)] = r["text"]
        for i, it in enumerate(r["items"]):
            qs.append(Q(f"en:{link}#{i}", it["question"], "en", link, fit_half(link)))
    return passages, qs


def dataset_of(pool: Pool) -> Dataset:
    arts = [ArticleMeta(f"p{i}", f"p{i}", source=pool.name, file=pool.name) for i in range(len(pool.texts))]
    return Dataset(pool.name, arts, [PassageInput(i, 1, t) for i, t in enumerate(pool.texts)], [QAItem("x", "x", ("x",), 0)])


@dataclass
class Semantic:
    """The measuring hook (see `Answerer.semantic`): dense candidates from in-memory vectors,
    the learned fusion, and sentences of other-language passages chosen by similarity."""

    encoder: CachedEncoder
    vectors: np.ndarray  # pool vectors, row = uid
    langs: list[str]
    weights: FusionWeights
    record: bool = False
    last: dict = field(default_factory=dict)

    def qvec(self, text: str) -> np.ndarray:
        return self.encoder.encode([text])[0]

    def retrieve(self, answerer: Answerer, asked, query, found: Retrieved) -> Retrieved:  # type: ignore[no-untyped-def]
        qv = self.qvec(asked.text)
        sims = self.vectors @ qv
        k = min(self.weights.dense_depth, len(sims))
        top = np.argsort(-sims, kind="stable")[:k]
        dense = [(int(u), float(sims[u])) for u in top]
        lexical = found.hits[: self.weights.lexical_depth]
        cov = {u: c.passage for u, c in found.coverage.items()}
        other = {int(u): self.langs[u] != asked.language for u in range(len(self.langs))}
        uids, X = candidate_features(lexical, cov, dense, {u: float(sims[u]) for u in set(cov) | {u for u, _ in lexical} | {u for u, _ in dense}}, other)
        fused = fuse(uids, X, self.weights, other)
        self.last = {"uids": uids, "X": X, "fused": fused, "lexical": lexical, "dense": dense, "qv": qv}
        if not fused:
            return found
        keep = [f for f in fused if f.chance >= KEEP_SHARE * fused[0].chance][:12]
        hits = [(f.uid, f.chance) for f in keep]
        missing = [u for u, _ in hits if u not in found.coverage]
        coverage = dict(found.coverage) | coverage_of(missing, query, answerer.view)
        return Retrieved(hits, coverage, found.bm25)

    def sentences(self, answerer: Answerer, asked, query, found: Retrieved, candidates: list[Candidate]) -> list[Candidate]:  # type: ignore[no-untyped-def]
        qv = self.last.get("qv")
        if qv is None or not found.hits:
            return candidates
        top = found.hits[0][1] or 1.0
        have = {c.passage for c in candidates if c.score > 0}
        anchors = set(NUM_OR_NAME.findall(asked.text))
        extra = []
        for p, share in found.hits[:SENT_PASSAGES]:
            if p in have and self.langs[p] == asked.language:
                continue
            v = answerer.view(p)
            spans = [v.sentence(i) for i in range(v.n_sentences)]
            if not spans:
                continue
            sv = self.encoder.encode([v.text[s:e] for s, e in spans])
            for i, ((s, e), c) in enumerate(zip(spans, sv @ qv)):
                shared = min(len(anchors & set(NUM_OR_NAME.findall(v.text[s:e]))), 2)
                extra.append(Candidate(p, i, s, e, share / top + SENT_WEIGHT * float(c) + ANCHOR_WEIGHT * shared, self.langs[p]))  # type: ignore[arg-type]
        if extra:
            # a passage scored here is scored once: its lexical sentences give way to these
            scored = {c.passage for c in extra}
            candidates = [c for c in candidates if c.passage not in scored] + extra
        return candidates


def run_mode(name, pool, questions, gold_of, analyzer, encoder, weights, tmp, with_encoder=True):  # type: ignore[no-untyped-def]
    """Per question: src@1 without/with the encoder, answered, confidence, fused candidates."""
    store = build_store(dataset_of(pool), analyzer, SearchParams(), Path(tmp) / name)
    vecs = encoder.encode(pool.texts)
    plain = Answerer(store, analyzer)
    sem = Semantic(encoder, vecs, pool.langs, weights)
    smart = Answerer(store, analyzer, AnswerParams.of(min_coverage=0.0), semantic=sem, judge=None)  # every answer kept; verdicts are read below
    shipped = confidence_model.shipped()
    rows = []
    for q in questions:
        gold = gold_of(q)
        a0 = plain.answer(q.text)
        r = {"id": q.id, "lang": q.lang, "fit": q.fit, "gold": sorted(gold), "answerable": bool(gold),
             "gold_same": any(pool.langs[u] == q.lang for u in gold)}
        r["plain_src"] = bool(a0.quotes) and a0.quotes[0].passage in gold
        r["plain_verdict"], r["plain_conf"] = a0.verdict, a0.confidence
        lex = plain.rank(q.text, 10)
        r["plain_r1"] = bool(lex) and lex[0][0] in gold
        r["plain_r10"] = any(u in gold for u, _ in lex[:10])
        if with_encoder:
            a1 = smart.answer(q.text)
            last = sem.last
            r["src"] = bool(a1.quotes) and a1.quotes[0].passage in gold  # answered, whatever the confidence
            r["conf"] = shipped.predict(a1.signals) if a1.signals and a1.quotes else 0.0
            r["verdict"] = shipped.verdict(r["conf"]) if a1.quotes else "abstain"
            fused = last.get("fused") or []
            r["top_other"] = bool(fused) and fused[0].other
            r["top_chance"] = fused[0].chance if fused else 0.0
            r["signals"] = a1.signals
            r["cross"] = a1.cross_language
            r["uids"] = [int(u) for u in last.get("uids", [])]
            r["X"] = last["X"].tolist() if "X" in last else []
            r["goldrow"] = next((i for i, u in enumerate(r["uids"]) if u in gold), -1)
        rows.append(r)
    store.close() if hasattr(store, "close") else None
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/dense_cache")
    ap.add_argument("--squad", type=int, default=600, help="KorQuAD/XQuAD questions sampled (0: none)")
    ap.add_argument("--out", default="/tmp/dense_cache/belebele_rows.json")
    ap.add_argument("--weights", default="", help="comma-separated fusion weights (default: FusionWeights())")
    args = ap.parse_args(argv)
    analyzer = Analyzer()
    enc = CachedEncoder(UseM3(Path(args.cache) / "model", threads=1), Path(args.cache) / "vec")
    weights = FusionWeights(tuple(float(x) for x in args.weights.split(","))) if args.weights else FusionWeights()
    passages, qs = load_belebele(DATA / "belebele-dev")
    links = sorted({k for _, k in passages})
    ko_side = {k for k in links if int(hashlib.md5(("side" + k).encode()).hexdigest(), 16) % 2 == 0}
    indexed = {k for k in links if int(hashlib.md5(("half" + k).encode()).hexdigest(), 16) % 2 == 0}

    def pool_of(name: str, items: list[tuple[str, str]]) -> Pool:
        return Pool(name, [passages[i] for i in items], [i[0] for i in items], [i[1] for i in items])

    def gold_by_link(pool: Pool):  # type: ignore[no-untyped-def]
        where = defaultdict(set)
        for u, k in enumerate(pool.keys):
            where[k].add(u)
        return lambda q: where.get(q.key, set())

    modes: dict[str, tuple[Pool, list[Q]]] = {}
    for lang in ("ko", "en"):
        other = "en" if lang == "ko" else "ko"
        modes[f"same-{lang}"] = (pool_of(f"same-{lang}", [(lang, k) for k in links]), [q for q in qs if q.lang == lang])
        modes[f"cross-{lang}>{other}"] = (pool_of(f"cross-{lang}", [(other, k) for k in links]), [q for q in qs if q.lang == lang])
    modes["mixed"] = (pool_of("mixed", [(l, k) for k in links for l in ("ko", "en")]), qs)
    modes["split"] = (pool_of("split", [("ko" if k in ko_side else "en", k) for k in links]), qs)
    modes["split2"] = (pool_of("split2", [("en" if k in ko_side else "ko", k) for k in links]), qs)
    modes["half"] = (pool_of("half", [("ko" if k in ko_side else "en", k) for k in links if k in indexed]), qs)
    out: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="quoteqa-belebele-") as tmp:
        for name, (pool, mq) in modes.items():
            t = time.perf_counter()
            out[name] = run_mode(name, pool, mq, gold_by_link(pool), analyzer, enc, weights, tmp)
            print(f"{name}: {len(mq)} questions, {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        if args.squad:
            for fname in ("KorQuAD_v1.0_dev.json", "xquad.en.json"):
                ds = load_squad(DATA / fname)
                lang = "ko" if fname.startswith("Kor") else "en"
                picked = sorted(ds.questions, key=lambda q: hashlib.md5(q.id.encode()).hexdigest())[: args.squad]
                pool = Pool(fname, [p.text for p in ds.passages], [lang] * len(ds.passages), [str(i) for i in range(len(ds.passages))])
                mq = [Q(q.id, q.question, lang, str(q.gold), fit_half(q.id)) for q in picked]
                t = time.perf_counter()
                out[fname] = run_mode(fname.split("_")[0].split(".")[0], pool, mq, lambda q: {int(q.key)}, analyzer, enc, weights, tmp)
                print(f"{fname}: {len(mq)} questions, {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(out))
    print(f"rows -> {args.out}; features: {', '.join(FEATURES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
