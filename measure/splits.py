"""Dev splits for the confidence model: questions a half-indexed corpus can and cannot answer.

Per SQuAD file: its articles are shuffled with a fixed seed and the first half of them is indexed
(only those passages). Every question of the file is asked of that index:

* `answerable`: its gold passage is indexed. Label 1 when the first quote is from the gold
  passage, else 0.
* `unanswerable` (in-domain): its gold passage is in the other half. Label 0: the right answer is
  to abstain, though the question is about the same kind of text.
* `offtopic`: a sample of the other language's file's questions, and the everyday questions of
  `measure/offtopic.txt` (weather, recipes, scores, arithmetic, personal questions). Label 0.
* short forms: every answerable and unanswerable question asked again as a news reader would
  type it, its one or two rarest words in a frame of its kind ("What did the Kremlin say?",
  "크렘린궁의 발언은?"), with the same gold passage. SQuAD questions are long paraphrases; without
  these the model never sees a one-word question and extrapolates (it called "What did the
  Kremlin say?", answered right, a 6% chance). They are fitted on, and reported as groups of
  their own (`short FILE`), never mixed into the figures the issue's targets are read from.

The answer path runs with `min_coverage=0`, so every question with any hit is answered and
carries its signals; abstaining is left to the model. Questions fall into two halves by a hash
of their id (and seed): the model and its thresholds are fitted on the FIT halves of all files
together, and every figure that is claimed is read from the REPORT halves.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from retrieval.answer.confidence import ConfidenceModel, fit
from retrieval.answer.params import AnswerParams
from retrieval.answer.question import FRAME_TERMS, question_kind
from retrieval.answer.topic import CORPUS_OTHER, TopicGate
from retrieval.errors import QuoteQAError
from retrieval.index.store import Store
from retrieval.path import Parts
from retrieval.text.analyze import HANGUL, Analyzer, Term, normalize_space

from .evaluate import Dataset, build_store

OFFTOPIC_FILE = Path(__file__).with_name("offtopic.txt")
OTHER_LANGUAGE_SAMPLE = 300
TODAY_MIN_COVERAGE = AnswerParams().min_coverage  # today's rule: abstain iff passage_coverage < this
# `min` keeps at most this share of the FIT half's answerable questions abstaining: 1.5%, not the
# target's 2%, since a threshold set exactly at 2% on one half gave 2.7% on the other.
MAX_ANSWERABLE_ABSTAIN = 0.015
MIN_PRECISION = 0.95  # `sure` is the lowest threshold whose answers are at least this precise
# The topic gate (retrieval/answer/topic.py) may refuse at most this share of each FIT file's
# answerable questions, counting those the confidence model's `min` already refuses: per file, so
# that the Belebele questions (reading comprehension, the hardest) are not hidden in KorQuAD's.
MAX_GATE_ABSTAIN = 0.02
# Across languages the gate may cost each FIT file at most this share of its right answers (topic.py).
MAX_CROSS_LOSS = 0.005
MIN_LEVELS = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)  # the semantic model's `min` is one of these
SEMANTIC_TARGETS = (
    "thresholds: sure is the lowest with FIT answer precision >= 0.95; min (one of MIN_LEVELS) and the topic gate "
    "(topic_semantic.json, fitted on answerable vs off-topic FIT rows without the Belebele cross modes) together "
    "refuse <= 2% of each such FIT file's answerable questions, min chosen to let them refuse the most FIT off-topic ones"
)
ECE_BINS = 10
SHORT = "short"  # origin suffix of a question's short form
SHORT_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {"say": "What did {} say?", "who": "Who is {}?", "when": "When was {}?", "where": "Where is {}?",
           "number": "How many {}?", "other": "What about {}?"},
    "ko": {"say": "{}의 발언은?", "who": "{} 누구?", "when": "{} 언제?", "where": "{} 어디?", "number": "{} 몇?", "other": "{}?"},
}  # fmt: skip
SHORT_TAGS = frozenset(
    {"NNG", "NNP", "NNC", "NNB", "NR", "SL", "SH", "SN", "XR"}
)  # Korean words a short question keeps

# What the model reads: the signals (question kinds left out: they did not help), bends of the
# coverages, gaps and score shares (a linear model cannot otherwise say that 0.3 coverage is far
# worse than half of 0.6), and products where one piece of evidence only counts with another
# (full coverage of one common word is not full coverage of five). Chosen by 5-fold log loss
# inside the FIT half (0.130 with the plain signals, 0.112 with these), never on the REPORT half.
# `cross_language` is left out: in the splits every other-language quote is an off-topic miss
# (256 against 3 right ones), so the model learned "other language = wrong", while in a bilingual
# news corpus a name the Korean text leaves out is answered right from the English one.
DEFAULT_FEATURES: tuple[str, ...] = (
    "bm25_top_share", "bm25_gap", "rerank_gap", "passage_coverage", "top_passage_coverage",
    "sentence_coverage", "window_coverage", "unknown_share", "title_share", "content_terms",
    "log1p(content_terms)", "inv(content_terms)",
    "sq(passage_coverage)", "sq(top_passage_coverage)", "sq(sentence_coverage)", "sq(window_coverage)",
    "sqrt(rerank_gap)", "sqrt(bm25_gap)", "sq(bm25_top_share)", "sq(unknown_share)", "sqrt(unknown_share)",
    "sqrt(title_share)",
    "top_passage_coverage*log1p(content_terms)", "top_passage_coverage*rerank_gap",
    "window_coverage*rerank_gap", "sentence_coverage*rerank_gap", "unknown_share*log1p(content_terms)",
    "top_passage_coverage*neg(unknown_share)", "bm25_top_share*top_passage_coverage",
    "title_share*top_passage_coverage",
    # An answer in the other language while part of the question is unknown to the index: an
    # English question matched by the loan words of a Korean text. With no unknown words (a name
    # the Korean text leaves out, found in the English one) it says nothing. (The corpus's share
    # of passages in the question's language in its place: same 5-fold log loss, off-topic
    # abstain 97.2% on REPORT; not kept.)
    "cross_language*unknown_share", "cross_language*sqrt(unknown_share)",
    # Evidence in absolute terms, so a short question on rare words is not judged as a vague one:
    # how rare the question's words are, how much of that rarity the top passage (and sentence)
    # holds, the question's language, whether the runner-up is a paragraph of the same article,
    # and whether the first quote carries what the question kind asks for.
    "idf_mean", "idf_max", "matched_idf", "sentence_idf", "question_ko", "top2_same_article", "first_cue",
    "log1p(matched_idf)", "log1p(sentence_idf)", "sq(idf_max)",
    "idf_max*top_passage_coverage", "first_cue*top_passage_coverage", "first_cue*sentence_coverage",
    "top2_same_article*rerank_gap", "top2_same_article*sqrt(bm25_gap)", "question_ko*top_passage_coverage",
)  # fmt: skip

# With the encoder (`confidence_semantic.json`): the lexical features and the semantic layer's
# signals (verdict.semantic_signals): how close the first quote and the top passage are to the
# question in meaning, the fusion's chance and margins, whether dense and lexical rankings agree,
# and the other language with its cosine (an other-language quote is only as good as its cosine).
SEMANTIC_FEATURES: tuple[str, ...] = DEFAULT_FEATURES + (
    "sem_quote_cos", "sem_top_cos", "sem_cos_gap", "sem_chance", "sem_score_gap", "sem_agree", "sem_dense_first",
    "sem_lex_first", "sem_dense_rank", "sem_lex_rank", "sem_top_other", "sem_quote_other",
    "sem_top_other*sem_top_cos", "sem_quote_other*sem_quote_cos", "sq(sem_quote_cos)", "sq(sem_top_cos)",
    "sem_chance*sem_agree", "sem_quote_cos*top_passage_coverage", "sem_top_other*sem_chance",
)  # fmt: skip

# The targets, read on the REPORT halves: (metric, "<=" or ">=", bound, where). "each"
# checks every file's own questions and all questions together; "ko"/"en" the files of that language.
TARGETS: tuple[tuple[str, str, float, str], ...] = (
    ("answerable_abstain", "<=", 0.02, "each"),
    ("first_quote_accuracy", ">=", 0.92, "ko"),
    ("first_quote_accuracy", ">=", 0.95, "en"),
    ("unanswerable_answer", "<=", 0.10, "each"),
    ("answer_precision", ">=", 0.95, "each"),
    ("auroc", ">=", 0.93, "each"),
    ("ece", "<=", 0.05, "each"),
    ("offtopic_abstain", ">=", 0.98, "offtopic"),
)

Progress = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True, slots=True)
class SplitQuestion:
    id: str
    question: str
    group: str  # "answerable", "unanswerable" or "offtopic"
    origin: str  # the file (or offtopic.txt) the question was taken from
    half: str  # "fit" or "report"
    gold: int | None = None  # store uid of the gold passage, answerable questions only


@dataclass
class Split:
    """One file's split: which articles are indexed, and every question to ask of them."""

    dataset: Dataset
    indexed: tuple[int, ...]  # article rows whose passages are indexed
    passages: tuple[int, ...]  # dataset passage numbers indexed, in store order: uid i holds passages[i]
    questions: list[SplitQuestion]


@dataclass(frozen=True, slots=True)
class Row:
    """One question asked: what the model sees (signals) and what it should say (correct)."""

    file: str  # the file whose half is indexed
    language: str
    id: str
    group: str
    origin: str
    half: str
    signals: Mapping[str, float]
    correct: bool  # the first quote is from the gold passage

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file, "language": self.language, "id": self.id, "group": self.group, "origin": self.origin,
            "half": self.half, "correct": self.correct, "signals": {k: round(v, 6) for k, v in self.signals.items()},
        }  # fmt: skip


# --- the split ----------------------------------------------------------------------------------
def split_articles(n_articles: int, seed: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(indexed, held out) article rows: a seeded shuffle, first half indexed (the larger half when odd)."""
    order = list(range(n_articles))
    random.Random(seed).shuffle(order)
    cut = (n_articles + 1) // 2
    return tuple(sorted(order[:cut])), tuple(sorted(order[cut:]))


def question_half(question_id: str, seed: int) -> str:
    """FIT or REPORT, from a hash of the id: stable across runs, machines and Python versions."""
    digest = hashlib.sha1(f"{seed}:{question_id}".encode()).digest()
    return "fit" if digest[0] % 2 == 0 else "report"


def read_offtopic(path: Path = OFFTOPIC_FILE) -> list[str]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise QuoteQAError(f"{path}: cannot read the off-topic questions ({exc})") from exc
    return [s for line in lines if (s := line.strip()) and not s.startswith("#")]


def offtopic_questions(
    other: Dataset | None,
    everyday: Sequence[str],
    seed: int,
    sample: int = OTHER_LANGUAGE_SAMPLE,
    everyday_name: str = OFFTOPIC_FILE.name,
) -> list[tuple[str, str, str]]:
    """(id, question, origin) of off-topic questions: a seeded sample of the other language's
    file (all of it when smaller) and every everyday question."""
    out: list[tuple[str, str, str]] = []
    if other is not None and sample > 0:
        qs = other.questions
        picked = sorted(random.Random(seed).sample(range(len(qs)), min(sample, len(qs))))
        out += [(f"{other.name}:{qs[i].id}", qs[i].question, other.name) for i in picked]
    out += [(f"{everyday_name}:{n}", q, everyday_name) for n, q in enumerate(everyday, start=1)]
    return out


def make_split(dataset: Dataset, seed: int, offtopic: Sequence[tuple[str, str, str]] = ()) -> Split:
    indexed, _ = split_articles(len(dataset.articles), seed)
    keep = set(indexed)
    passages = tuple(i for i, p in enumerate(dataset.passages) if p.article in keep)
    uid = {p: u for u, p in enumerate(passages)}
    questions = []
    for q in dataset.questions:
        gold = uid.get(q.gold)
        group = "answerable" if gold is not None else "unanswerable"
        questions.append(SplitQuestion(q.id, q.question, group, dataset.name, question_half(q.id, seed), gold))
    for qid, text, origin in offtopic:
        questions.append(SplitQuestion(qid, text, "offtopic", origin, question_half(qid, seed)))
    return Split(dataset, indexed, passages, questions)


def build_split_store(
    split: Split, parts: Parts, directory: Path, progress: Callable[[int], None] | None = None
) -> Store:  # fmt: skip
    """The indexed half in a store of its own, one write; checks that uid i holds `split.passages[i]`."""
    ds = split.dataset
    store = build_store(ds, parts, directory, progress, passages=split.passages)
    snap = store.snapshot()
    uids = snap.uids().tolist()
    if uids != list(range(len(split.passages))) or any(
        normalize_space(snap.passage(u).text) != normalize_space(ds.passages[n].text)
        for u, n in zip(uids, split.passages)
    ):
        raise QuoteQAError(
            f"{ds.name}: the split index does not hold its passages in order; gold numbers would be wrong"
        )
    return store


def ask_split(
    split: Split, parts: Parts, progress: Progress | None = None, limit: int | None = None, shorts: bool = True
) -> list[Row]:
    """Every question of the split (and its short form) asked through the product's answer path
    (`parts`), with refusals off so that every answer's signals reach the fit."""
    ds = split.dataset
    questions = split.questions
    if limit is not None:
        questions = [q for q in questions if q.group == "offtopic"] + _sample(
            [q for q in questions if q.group != "offtopic"], limit, 0
        )
    rows = []
    with tempfile.TemporaryDirectory(prefix="quoteqa-splits-") as tmp:
        store = build_split_store(
            split, parts, Path(tmp) / "index", progress("indexing", len(split.passages)) if progress else None
        )
        path = parts.but(refusals=False).path()
        snapshot = store.snapshot()
        analyzer = parts.analyzer
        tick = progress(f"{ds.name} questions", len(questions)) if progress else None
        for q in questions:
            asked = [q]
            if shorts and q.group != "offtopic":
                text = short_form(q.question, q.id, analyzer, store)
                if text:
                    asked.append(SplitQuestion(f"{q.id}:{SHORT}", text, q.group, f"{q.origin} {SHORT}", q.half, q.gold))
            for sq in asked:
                answer = path.ask(snapshot, sq.question, max_quotes=1)
                correct = sq.gold is not None and bool(answer.quotes) and answer.quotes[0].passage == sq.gold
                rows.append(
                    Row(ds.name, ds.language, sq.id, sq.group, sq.origin, sq.half, dict(answer.signals), correct)
                )
            if tick:
                tick(1)
    return rows


def short_form(question: str, qid: str, analyzer: Analyzer, store: Store) -> str | None:
    """The question as a news reader might type it: its one or two rarest words (two for half
    of the questions, by a hash of the id) in order, framed by the question's kind. Words the
    index lacks count as the rarest, as they would for a user. None when no word is left."""
    kind = question_kind(question)
    ko = bool(HANGUL.search(question))
    words = [
        w for w in analyzer.question_words(question) if w.term not in FRAME_TERMS and (not ko or w.tag in SHORT_TAGS)
    ]
    k = 1 + hashlib.sha1(qid.encode()).digest()[0] % 2
    kept = rarest_surfaces(words, store, k, unknown_first=True)
    return SHORT_TEMPLATES["ko" if ko else "en"][kind].format(" ".join(kept)) if kept else None


def rarest_surfaces(words: Sequence[Term], store: Store, k: int, unknown_first: bool) -> list[str]:
    """The surfaces of the k rarest distinct words in the index, in text order. Words the
    index lacks count as the rarest with `unknown_first`, and are left out without it."""
    snap = store.snapshot()
    if not unknown_first:
        words = [w for w in words if snap.df(w.term)]
    uniq = list({w.term: w for w in words}.values())
    df = [snap.df(w.term) for w in uniq]
    rank = sorted(range(len(uniq)), key=lambda i: (df[i] if df[i] else -1, i))[:k]
    return [uniq[i].surface for i in sorted(rank)]


def is_short(row: Row) -> bool:
    return row.origin.endswith(f" {SHORT}")


def _sample(items: list[SplitQuestion], limit: int, seed: int) -> list[SplitQuestion]:
    if limit >= len(items):
        return items
    picked = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in picked]


def collect(
    datasets: Sequence[Dataset], parts: Parts, seed: int = 13, everyday: Sequence[str] | None = None,
    other_sample: int = OTHER_LANGUAGE_SAMPLE, progress: Progress | None = None, limit: int | None = None,
    shorts: bool = True,
) -> list[Row]:  # fmt: skip
    """Rows for every file: its own questions, plus off-topic ones (the other language's file
    when one is given, and the everyday questions)."""
    everyday = read_offtopic() if everyday is None else everyday
    rows: list[Row] = []
    for ds in datasets:
        other = next((o for o in datasets if o is not ds and o.language != ds.language), None)
        split = make_split(ds, seed, offtopic_questions(other, everyday, seed, other_sample))
        rows += ask_split(split, parts, progress, limit, shorts)
    return rows


# --- metrics ------------------------------------------------------------------------------------
def auroc(
    scores: Sequence[float] | npt.NDArray[np.float64], labels: Sequence[int] | npt.NDArray[np.int_]
) -> float | None:
    """Area under the ROC curve, by ranks (Mann-Whitney U, ties count half); None with one class only."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return None
    ranks = rankdata(s)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def ece(
    confidence: Sequence[float] | npt.NDArray[np.float64],
    labels: Sequence[int] | npt.NDArray[np.int_],
    bins: int = ECE_BINS,
) -> float | None:
    """Expected calibration error: |mean confidence - share correct| per equal-width bin of
    confidence, weighted by the bin's share of questions (1.0 falls in the last bin)."""
    c = np.asarray(confidence, np.float64)
    y = np.asarray(labels, np.float64)
    if not len(c):
        return None
    which = np.minimum((c * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.sum() / len(c) * abs(c[m].mean() - y[m].mean())
    return float(total)


def _share(mask: npt.NDArray[np.bool_], within: npt.NDArray[np.bool_]) -> float | None:
    n = int(within.sum())
    return float((mask & within).sum() / n) if n else None


def verdict_metrics(
    rows: Sequence[Row], confidence: npt.NDArray[np.float64], sure: float, minimum: float,
    gated: npt.NDArray[np.bool_] | None = None,
) -> dict[str, float | int | None]:  # fmt: skip
    """The rates the issue asks for, with verdicts answer (c >= sure), unsure (minimum <= c < sure)
    and abstain (c < minimum, or refused by the topic gate: `gated`). An unsure verdict still
    shows its quotes, so it is not an abstention."""
    c = np.asarray(confidence, np.float64)
    group = np.array([r.group for r in rows])
    correct = np.array([r.correct for r in rows], bool)
    answerable, unanswerable, offtopic = group == "answerable", group == "unanswerable", group == "offtopic"
    every = np.ones(len(rows), bool)
    abstain = c < minimum
    if gated is not None:
        abstain = abstain | np.asarray(gated, bool)
    answer = (c >= sure) & ~abstain
    return {
        "n": len(rows),
        "answerable": int(answerable.sum()),
        "unanswerable": int(unanswerable.sum()),
        "offtopic": int(offtopic.sum()),
        "answerable_abstain": _share(abstain, answerable),
        "unanswerable_answer": _share(answer, unanswerable),
        "answer_precision": _share(correct, answer),
        "first_quote_accuracy": _share(correct & ~abstain, answerable),
        "offtopic_abstain": _share(abstain, offtopic),
        "answer_share": _share(answer, every),
        "unsure_share": _share(~answer & ~abstain, every),
        "abstain_share": _share(abstain, every),
    }


def group_metrics(
    rows: Sequence[Row], confidence: npt.NDArray[np.float64], sure: float, minimum: float,
    gated: npt.NDArray[np.bool_] | None = None,
) -> dict[str, object]:  # fmt: skip
    """Our model's figures and, beside them, today's rule (abstain iff passage_coverage < TODAY_MIN_COVERAGE,
    answer otherwise: no unsure band) on the same questions."""
    c = np.asarray(confidence, np.float64)
    labels = np.array([r.correct for r in rows], int)
    coverage = np.array([r.signals.get("passage_coverage", 0.0) if r.signals else 0.0 for r in rows])
    ours = {"auroc": auroc(c, labels), "ece": ece(c, labels)} | verdict_metrics(rows, c, sure, minimum, gated)
    today = {"auroc": auroc(coverage, labels)} | verdict_metrics(rows, coverage, TODAY_MIN_COVERAGE, TODAY_MIN_COVERAGE)
    keep = (
        "auroc",
        "answerable_abstain",
        "unanswerable_answer",
        "answer_precision",
        "first_quote_accuracy",
        "offtopic_abstain",
    )
    return ours | {"today": {k: today[k] for k in keep}}


def groups(rows: Sequence[Row]) -> dict[str, list[int]]:
    """Row positions per reported group: each file's own questions (answerable and in-domain
    unanswerable), the off-topic ones asked of each file's index by origin, all off-topic ones,
    and everything but the short forms, which are a group per file of their own."""
    out: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        keys = ["all"]
        if is_short(r):
            keys = [f"{SHORT} {r.file}", SHORT]
        elif is_cross(r):
            keys = [r.file]  # a corpus wholly in the other language: a group of its own, not in "all"
        elif r.group == "offtopic":
            keys += ["offtopic", f"offtopic {r.file} <- {r.origin}"]
        else:
            keys.append(r.file)
        for k in keys:
            out.setdefault(k, []).append(i)
    return out


def choose_thresholds(
    rows: Sequence[Row], confidence: npt.NDArray[np.float64],
    max_answerable_abstain: float = MAX_ANSWERABLE_ABSTAIN, min_precision: float = MIN_PRECISION,
) -> tuple[float, float]:  # fmt: skip
    """(sure, minimum): minimum is the largest threshold that keeps at most
    `max_answerable_abstain` of the answerable questions below it; sure is the smallest threshold
    (not below minimum) whose answers are at least `min_precision` correct (1.0 when none is)."""
    c = np.asarray(confidence, np.float64)
    answerable = np.array([r.group == "answerable" for r in rows], bool)
    correct = np.array([r.correct for r in rows], bool)
    a = np.sort(c[answerable])
    minimum = float(a[int(np.floor(max_answerable_abstain * len(a)))]) if len(a) else 0.0
    order = np.argsort(-c, kind="stable")
    cs, ok = c[order], correct[order]
    precision = np.cumsum(ok) / np.arange(1, len(cs) + 1)
    sure = 1.0
    for i in range(len(cs)):  # threshold cs[i] answers every question down to the last tie of cs[i]
        if i + 1 < len(cs) and cs[i + 1] == cs[i]:
            continue
        if cs[i] >= minimum and precision[i] >= min_precision:
            sure = float(cs[i])
    return max(sure, minimum), minimum


def targets(report: Mapping[str, Mapping[str, object]], languages: Mapping[str, str]) -> list[dict[str, object]]:
    """Each target of the issue against the figures of `report` (one half's groups); `languages`
    maps each file to its language."""
    out = []
    for metric, op, bound, where in TARGETS:
        if where == "each":
            names = [*languages, "all"]
        elif where in ("ko", "en"):
            names = [f for f, lang in languages.items() if lang == where]
        else:
            names = [where]
        for name in names:
            value = report.get(name, {}).get(metric)
            met = None if value is None else (value <= bound if op == "<=" else value >= bound)  # type: ignore[operator]
            out.append({"group": name, "metric": metric, "target": f"{op} {bound}", "value": value, "met": met})
    return out


@dataclass
class SplitReport:
    model: ConfidenceModel
    fit: dict[str, dict[str, object]]
    report: dict[str, dict[str, object]]
    counts: dict[str, int]
    languages: dict[str, str]
    gate: TopicGate | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "thresholds": {"sure": self.model.sure, "min": self.model.minimum}
            | ({"gate": self.gate.minimum, "gate_cross": self.gate.cross_minimum} if self.gate is not None else {}),
            "model": self.model.to_json(),
            "gate": self.gate.to_json() if self.gate is not None else None,
            "counts": self.counts,
            "fit": _rounded(self.fit),
            "report": _rounded(self.report),
            "targets": _rounded(targets(self.report, self.languages)),
        }


def fit_semantic(
    rows: Sequence[Row], l2: float = 1.0, features: Sequence[str] = SEMANTIC_FEATURES
) -> tuple[ConfidenceModel, TopicGate]:
    """The semantic path's confidence model and topic gate, their levels chosen together. Each
    FIT file's answerable questions may be refused at most MAX_GATE_ABSTAIN of the time, by the
    model's `min` or by the gate (per file: pooled, the Belebele ones hid behind KorQuAD's and
    abstained 14.7%). Within that budget, `min` is the one of MIN_LEVELS that lets the gate
    refuse the most FIT off-topic questions (ties: the higher `min`)."""
    model = fit_model(rows, l2=l2, features=features)
    gate = fit_topic([r for r in rows if not is_cross(r)], l2=l2, features=features)
    fit_rows = [r for r in rows if r.half == "fit" and not is_cross(r)]
    off = [r for r in fit_rows if r.group == "offtopic"]
    c_off = model.predict_many([r.signals for r in off])
    t_off = gate.predict_many([r.signals for r in off])
    best: tuple[float, float, float] | None = None
    for minimum in MIN_LEVELS:
        level = gate_level(gate, model.with_thresholds(model.sure, minimum), fit_rows)
        refused = float(np.mean((c_off < minimum) | (t_off < level))) if len(off) else 0.0
        if best is None or (refused, minimum) >= (best[0], best[1]):
            best = (refused, minimum, level)
    assert best is not None
    _, minimum, level = best
    model = model.with_thresholds(max(model.sure, minimum), minimum)
    gate = gate.with_thresholds(1.0, level)
    return model, TopicGate(gate, cross_gate_level(gate, model, [r for r in rows if r.half == "fit"]))


def corpus_other(row: Row) -> bool:
    """Asked of a corpus wholly in the other language (`topic.CORPUS_OTHER`)."""
    return row.signals.get(CORPUS_OTHER, 0.0) >= 0.5


def cross_gate_level(
    gate: ConfidenceModel, model: ConfidenceModel, rows: Sequence[Row], max_loss: float = MAX_CROSS_LOSS
) -> float:
    """The gate's level for questions asked of a corpus wholly in the other language: the highest
    at which no FIT file loses more than `max_loss` of its answerable questions' right answers
    (refusing there only what would have been wrong anyway; see retrieval/answer/topic.py), and
    never above the same-language level."""
    own = [r for r in rows if r.group == "answerable" and not is_short(r)]
    level = gate.minimum
    for file in sorted({r.file for r in own}):
        mine = [r for r in own if r.file == file]
        right = [r for r in mine if corpus_other(r) and r.correct and bool(r.signals)]
        right = [r for r in right if model.predict(r.signals) >= model.minimum]
        allowed = int(np.floor(max_loss * len(mine)))
        t = np.sort(gate.predict_many([r.signals for r in right])) if right else np.zeros(0)
        if len(t) > allowed:
            level = min(level, float(t[allowed]))
    return level


def is_cross(row: Row) -> bool:
    """A Belebele cross-language row (`belebele-ko>en`): a corpus wholly in the other language.
    The topic gate is neither fitted nor levelled on these: in the dev data the only other
    questions asked of a corpus wholly in the other language are the off-topic ones, and with
    both kinds in, the gate could only go by cosines and let 0.72 of off-topic questions through
    (docs/quality.md, eighth round). What that costs there is reported (group `belebele-ko>en`)."""
    return ">" in row.file


def fit_model(rows: Sequence[Row], l2: float = 1.0, features: Sequence[str] = DEFAULT_FEATURES) -> ConfidenceModel:
    """The model (from every FIT row, short forms too) and its thresholds (from the FIT half's
    own questions: the targets are about those)."""
    fit_rows = [r for r in rows if r.half == "fit"]
    model = fit([r.signals for r in fit_rows], [int(r.correct) for r in fit_rows], l2=l2, features=features)
    own = [r for r in fit_rows if not is_short(r)]
    sure, minimum = choose_thresholds(own, model.predict_many([r.signals for r in own]))
    return model.with_thresholds(sure, minimum)


def topic_rows(rows: Sequence[Row]) -> tuple[list[Row], list[int]]:
    """The rows the topic gate learns from and their labels: answerable questions (short forms
    too) 1, off-topic ones 0; in-domain unanswerable ones are neither and left out."""
    keep = [r for r in rows if r.group in ("answerable", "offtopic")]
    return keep, [int(r.group == "answerable") for r in keep]


def fit_topic(rows: Sequence[Row], l2: float = 1.0, features: Sequence[str] = DEFAULT_FEATURES) -> ConfidenceModel:
    """The topic gate's model (retrieval/answer/topic.py), fitted on the FIT rows (its level is
    `gate_level`'s)."""
    fit_rows, labels = topic_rows([r for r in rows if r.half == "fit"])
    return fit([r.signals for r in fit_rows], labels, l2=l2, features=features)


def gate_level(
    gate: ConfidenceModel, model: ConfidenceModel, rows: Sequence[Row], max_abstain: float = MAX_GATE_ABSTAIN
) -> float:
    """The highest gate that keeps each FIT file's own answerable questions refused (by `model`'s
    `min` or by the gate) at most `max_abstain` of the time; 0 when `min` alone refuses more."""
    level = 1.0
    own = [r for r in rows if r.half == "fit" and r.group == "answerable" and not is_short(r)]
    for file in sorted({r.file for r in own}):
        mine = [r for r in own if r.file == file]
        low = model.predict_many([r.signals for r in mine]) < model.minimum
        allowed = int(np.floor(max_abstain * len(mine))) - int(low.sum())
        t = np.sort(gate.predict_many([r.signals for r in mine])[~low])
        level = min(level, float(t[allowed]) if len(t) and allowed >= 0 else 0.0)
    return level


def gated_mask(gate: TopicGate | None, rows: Sequence[Row]) -> npt.NDArray[np.bool_] | None:
    """Rows the topic gate refuses (None without a gate)."""
    if gate is None:
        return None
    return gate.refuses_many([r.signals for r in rows])


def evaluate_model(rows: Sequence[Row], model: ConfidenceModel, gate: TopicGate | None = None) -> SplitReport:
    halves: dict[str, dict[str, dict[str, object]]] = {}
    for half in ("fit", "report"):
        part = [r for r in rows if r.half == half]
        c = model.predict_many([r.signals for r in part])
        g = gated_mask(gate, part)
        halves[half] = {
            name: group_metrics(
                [part[i] for i in idx], c[idx], model.sure, model.minimum, None if g is None else g[idx]
            )
            for name, idx in groups(part).items()
        }
    counts = {
        f"{h} {g}": sum(1 for r in rows if r.half == h and r.group == g and not is_short(r))
        for h in ("fit", "report")
        for g in ("answerable", "unanswerable", "offtopic")
    }
    counts |= {f"{h} {SHORT}": sum(1 for r in rows if r.half == h and is_short(r)) for h in ("fit", "report")}
    languages = {r.file: r.language for r in rows}
    return SplitReport(model, halves["fit"], halves["report"], counts, languages, gate)


def _rounded(x: object) -> object:
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x
