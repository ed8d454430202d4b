"""Answer quality on SQuAD-format question sets: passage retrieval, answer sentences, baselines.

Every paragraph of a file becomes one passage (identical contexts are merged, so any copy of a
question's own paragraph counts as gold) in a temporary in-memory index; articles are titled from
the data. Every question is asked against the whole pool through the product's answer path
(`retrieval/path.py`, built from the caller's `Parts`: config, Kiwi and encoder), and its
passage ranking is read from the same retrieval stage (`Answerer.rank`). Two plain-BM25 baselines (rank-bm25's BM25Okapi: k1=1.5, b=0.75, epsilon
0.25, reproduced exactly with sparse arrays) are scored over the same pool in the same run:
whitespace tokens and Kiwi nouns (NN*); English sets also get lowercase + stop words + Snowball.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from retrieval.errors import QuoteQAError
from retrieval.index import bm25
from retrieval.index.bm25 import SearchParams
from retrieval.index.store import ArticleMeta, Store, WriteOptions
from retrieval.models import Article
from retrieval.path import Parts
from retrieval.text.analyze import HANGUL, WORD, Analyzer, normalize_space
from retrieval.text.english import STOP_WORDS

from .squad import read_squad
from .stats import percentile

K_VALUES = (1, 5, 20)
MRR_AT = 10
DEPTH = max(max(K_VALUES), MRR_AT)
BASELINE_PARAMS = SearchParams("okapi", 1.5, 0.75)  # rank-bm25 BM25Okapi defaults

Progress = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True, slots=True)
class PassageInput:
    """One paragraph of the evaluation set: its article's row, its number there, its text."""

    article: int
    paragraph: int
    text: str


@dataclass(frozen=True, slots=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    gold: int  # passage number in the evaluation index


@dataclass
class Dataset:
    name: str
    articles: list[ArticleMeta]
    passages: list[PassageInput]
    questions: list[QAItem]
    duplicates: int = 0  # contexts merged because they were identical to an earlier one

    @property
    def language(self) -> str:
        sample = " ".join(q.question for q in self.questions[:50])
        return "ko" if HANGUL.search(sample) else "en"


def load_squad(path: Path) -> Dataset:
    """A SQuAD-format file as an evaluation set: one passage per distinct context, answerable questions."""
    articles: list[ArticleMeta] = []
    passages: list[PassageInput] = []
    questions: list[QAItem] = []
    seen: dict[str, int] = {}
    duplicates = 0
    for a_no, art in enumerate(read_squad(path)):
        title = art.title or f"article {a_no + 1}"
        articles.append(ArticleMeta(id=f"a{a_no}", title=title, source=path.name, file=path.name))
        for p_no, para in enumerate(art.paragraphs, start=1):
            gold = seen.get(para.context)
            if gold is None:
                gold = seen[para.context] = len(passages)
                passages.append(PassageInput(a_no, p_no, para.context))
            else:
                duplicates += 1
            for qa in para.qas:
                answers = tuple(dict.fromkeys(normalize_space(x) for x in qa.answers if x.strip()))
                if qa.impossible or not answers:
                    continue  # SQuAD 2.0 unanswerables have no gold passage to find
                questions.append(
                    QAItem(qa.id if qa.id is not None else str(len(questions)), qa.question, answers, gold)
                )
    if not passages or not questions:
        raise QuoteQAError(f"{path}: no paragraphs with questions in it")
    return Dataset(path.name, articles, passages, questions, duplicates)


def sample_questions(questions: Sequence[QAItem], limit: int | None, seed: int) -> list[QAItem]:
    if limit is None or limit >= len(questions):
        return list(questions)
    picked = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in picked]


# --- metrics ------------------------------------------------------------------------------------
def retrieval_metrics(rankings: Sequence[Sequence[int]], gold: Sequence[int]) -> dict[str, float]:
    """Recall@k (gold among the first k) and MRR@10 over questions; an empty ranking is a miss."""
    n = len(gold)
    if n == 0:
        return {f"R@{k}": 0.0 for k in K_VALUES} | {f"MRR@{MRR_AT}": 0.0}
    ranks = []
    for ranking, g in zip(rankings, gold, strict=True):
        ranking = list(ranking)
        ranks.append(ranking.index(g) + 1 if g in ranking else None)
    out = {f"R@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in K_VALUES}
    out[f"MRR@{MRR_AT}"] = sum(1.0 / r for r in ranks if r is not None and r <= MRR_AT) / n
    return out


def quote_hits(quotes: Sequence[str], answers: Iterable[str]) -> list[bool]:
    """For each quote, whether it contains one of the gold answer strings (whitespace folded)."""
    answers = [a for a in (normalize_space(x) for x in answers) if a]
    return [any(a in normalize_space(q) for a in answers) for q in quotes]


def answer_metrics(
    quotes_per_question: Sequence[Sequence[str]], answers: Sequence[Sequence[str]], latencies_ms: Sequence[float]
) -> dict[str, float]:
    n = len(answers)
    hit1 = hit3 = abstained = 0
    first_len: list[int] = []
    for quotes, gold in zip(quotes_per_question, answers, strict=True):
        if not quotes:
            abstained += 1
            continue
        first_len.append(len(quotes[0]))
        hits = quote_hits(quotes[:3], gold)
        hit1 += hits[0]
        hit3 += any(hits)
    return {
        "hit@1": hit1 / n if n else 0.0,
        "hit@3": hit3 / n if n else 0.0,
        "first_quote_chars": statistics.fmean(first_len) if first_len else 0.0,
        "abstain": abstained / n if n else 0.0,
        "p50_ms": percentile(latencies_ms, 50, empty=0.0),
        "p95_ms": percentile(latencies_ms, 95, empty=0.0),
    }


# --- baselines ----------------------------------------------------------------------------------
class SparseBM25:
    """BM25 over pre-tokenized documents; with BASELINE_PARAMS it scores exactly as BM25Okapi."""

    def __init__(self, docs: Sequence[Sequence[str]], params: SearchParams = BASELINE_PARAMS) -> None:
        self.vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for d, doc in enumerate(docs):
            for tok in doc:
                rows.append(self.vocab.setdefault(tok, len(self.vocab)))
                cols.append(d)
        n_docs = len(docs)
        tf = sparse.csr_matrix(
            (np.ones(len(rows), np.float64), (np.array(rows, np.int64), np.array(cols, np.int64))),
            shape=(len(self.vocab), n_docs),
        )
        tf.sum_duplicates()
        df = np.diff(tf.indptr)
        terms = np.repeat(np.arange(len(df)), df)
        doc_len = np.array([len(d) for d in docs], np.int64)
        w = bm25.posting_weights(terms, tf.indices, tf.data, doc_len, bm25.idf(df, n_docs, params.variant), params)
        self.weights = sparse.csr_matrix((w.astype(np.float64), tf.indices, tf.indptr), shape=tf.shape)
        self.n_docs = n_docs

    def scores(self, query: Sequence[str]) -> npt.NDArray[np.float64]:
        ids = [self.vocab[t] for t in query if t in self.vocab]  # repeats count again, as in rank-bm25
        if not ids:
            return np.zeros(self.n_docs)
        counts = np.bincount(np.array(ids), minlength=len(self.vocab)).astype(np.float64)
        nz = np.flatnonzero(counts)
        return np.asarray(self.weights[nz].T @ counts[nz]).ravel()

    def rank(self, query: Sequence[str], k: int = DEPTH) -> list[int]:
        return bm25.top_k(self.scores(query), k).tolist()


def whitespace_tokens(text: str) -> list[str]:
    return text.split()


def stemmed_tokens(analyzer: Analyzer) -> Callable[[str], list[str]]:
    """The textbook English baseline: lowercase words, stop words out, Snowball stems."""
    import Stemmer

    stem = Stemmer.Stemmer("english").stemWord

    def tokens(text: str) -> list[str]:
        return [stem(w) for m in WORD.finditer(text) if (w := m.group().lower()) not in STOP_WORDS]

    return tokens


def kiwi_nouns(analyzer: Analyzer, texts: Sequence[str]) -> list[list[str]]:
    """Kiwi nouns only (NNG, NNP, NNB): what common Korean BM25 retrievers index."""
    return [[t.form for t in toks if t.tag.startswith("NN")] for toks in analyzer.raw_korean_tokens(texts)]  # type: ignore[attr-defined]


def baseline_rankings(dataset: Dataset, questions: Sequence[QAItem], analyzer: Analyzer) -> dict[str, list[list[int]]]:
    contexts = [p.text for p in dataset.passages]
    qtexts = [q.question for q in questions]
    tokenized: dict[str, tuple[list[list[str]], list[list[str]]]] = {
        "whitespace": ([whitespace_tokens(c) for c in contexts], [whitespace_tokens(q) for q in qtexts]),
        "kiwi_nouns": (kiwi_nouns(analyzer, contexts), kiwi_nouns(analyzer, qtexts)),
    }
    if dataset.language == "en":
        tok = stemmed_tokens(analyzer)
        tokenized["stemmed"] = ([tok(c) for c in contexts], [tok(q) for q in qtexts])
    out = {}
    for name, (docs, queries) in tokenized.items():
        model = SparseBM25(docs)
        out[name] = [model.rank(q) for q in queries]
    return out


# --- the run ------------------------------------------------------------------------------------
@dataclass
class FileReport:
    file: str
    language: str
    passages: int
    questions: int
    ours: dict[str, float]
    baselines: dict[str, dict[str, float]]
    params: dict[str, object] = field(default_factory=dict)
    index_seconds: float = 0.0
    seconds: float = 0.0
    per_question: list[dict[str, object]] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, object]:
        r = lambda d: {k: round(v, 4) for k, v in d.items()}  # noqa: E731
        return {
            "file": self.file,
            "language": self.language,
            "passages": self.passages,
            "questions": self.questions,
            "ours": r(self.ours),
            "baselines": {k: r(v) for k, v in self.baselines.items()},
            "params": self.params,
            "index_seconds": round(self.index_seconds, 2),
            "seconds": round(self.seconds, 2),
        }


def build_store(
    dataset: Dataset, parts: Parts, directory: Path, progress: Callable[[int], None] | None = None,
    passages: Sequence[int] | None = None,
) -> Store:  # fmt: skip
    """The evaluation set (or the `passages` given, in order) in a segment store of the product's
    kind (`parts`: its config, Kiwi and encoder), one write: uid i holds the i-th of them, which
    is what gold numbers point at. With an encoder the passages get vectors too."""
    paragraphs: dict[int, list[str]] = {}
    for n in range(len(dataset.passages)) if passages is None else passages:
        p = dataset.passages[n]
        paragraphs.setdefault(p.article, []).append(p.text)
    articles = [
        Article(meta.id, meta.title, tuple(paragraphs[i]), source=meta.source, file=meta.file)
        for i, meta in enumerate(dataset.articles) if i in paragraphs
    ]  # fmt: skip
    store = parts.store(directory)
    store.add(articles, WriteOptions(progress=progress))
    if parts.encoder is not None and store.snapshot().encoder_stamp is None:
        raise QuoteQAError(
            f"{dataset.name}: the index was built with the {parts.encoder.name} encoder but holds no vectors of it"
        )
    return store


def evaluate(
    dataset: Dataset,
    parts: Parts,
    questions: Sequence[QAItem] | None = None,
    baselines: bool = True,
    progress: Progress | None = None,
    store: Store | None = None,
    max_quotes: int = 3,
    keep_details: bool = False,
) -> FileReport:
    """Every question through the product's answer path (`parts`: config, Kiwi, encoder)."""
    t_start = time.perf_counter()
    questions = list(dataset.questions if questions is None else questions)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quoteqa-eval-") as tmp:
        if store is None:
            store = build_store(
                dataset, parts, Path(tmp) / "index", progress("indexing", len(dataset.passages)) if progress else None
            )
        else:
            store.set_params(parts.config.search)
        return _evaluate(
            dataset, parts, store, questions, baselines, progress, max_quotes, keep_details, t_start,
            time.perf_counter() - t0,
        )  # fmt: skip


def _evaluate(
    dataset: Dataset, parts: Parts, store: Store, questions: list[QAItem], baselines: bool, progress: Progress | None,
    max_quotes: int, keep_details: bool, t_start: float, index_seconds: float,
) -> FileReport:  # fmt: skip
    path = parts.path()
    snapshot = store.snapshot()
    rankings: list[list[int]] = []
    quotes: list[list[str]] = []
    latencies: list[float] = []
    details: list[dict[str, object]] = []
    tick = progress("questions", len(questions)) if progress else None
    for q in questions:
        t = time.perf_counter()
        answer = path.ask(snapshot, q.question, max_quotes)
        latencies.append((time.perf_counter() - t) * 1000)
        quotes.append([x.text for x in answer.quotes])
        rankings.append([p for p, _ in path.answerer(snapshot).rank(answer.question, k=DEPTH)])
        if keep_details:
            details.append({
                "id": q.id, "question": q.question, "answers": q.answers, "gold": q.gold,
                "ranking": rankings[-1][:5], "quotes": quotes[-1], "passages": [x.passage for x in answer.quotes],
                "kind": answer.kind,
            })  # fmt: skip
        if tick:
            tick(1)
    gold = [q.gold for q in questions]
    ours = retrieval_metrics(rankings, gold) | answer_metrics(quotes, [q.answers for q in questions], latencies)
    base: dict[str, dict[str, float]] = {}
    if baselines:
        for name, ranks in baseline_rankings(dataset, questions, parts.analyzer).items():
            base[name] = retrieval_metrics(ranks, gold)
    params = parts.config.search
    return FileReport(
        file=dataset.name,
        language=dataset.language,
        passages=store.snapshot().n_passages,
        questions=len(questions),
        ours=ours,
        baselines=base,
        params={"variant": params.variant, "k1": params.k1, "b": params.b, "encoder": parts.config.encoder}
        | {k: asdict(v) if is_dataclass(v) else v for k, v in path.params.flat().items()},  # JSON all through
        index_seconds=index_seconds,
        seconds=time.perf_counter() - t_start,
        per_question=details,
    )
