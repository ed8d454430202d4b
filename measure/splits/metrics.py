"""The dev splits' figures: AUROC, ECE and the verdict rates per reported group, beside today's
coverage rule, and the issue's targets read from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from retrieval.answer.confidence import ConfidenceModel
from retrieval.answer.params import AnswerParams
from retrieval.answer.topic import TopicGate

from .data import SHORT, Row, is_cross, is_short

TODAY_MIN_COVERAGE = AnswerParams().min_coverage  # today's rule: abstain iff passage_coverage < this
ECE_BINS = 10


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
    shown: dict[str, dict[str, object]] | None = None  # with news rows: `shown_report`

    def to_json(self) -> dict[str, object]:
        extra = {"shown": _rounded(self.shown)} if self.shown is not None else {}
        return extra | {
            "thresholds": {"sure": self.model.sure, "min": self.model.minimum}
            | ({"sure_cross": self.model.sure_cross} if self.model.sure_cross is not None else {})
            | ({"gate": self.gate.minimum, "gate_cross": self.gate.cross_minimum} if self.gate is not None else {}),
            "model": self.model.to_json(),
            "gate": self.gate.to_json() if self.gate is not None else None,
            "counts": self.counts,
            "fit": _rounded(self.fit),
            "report": _rounded(self.report),
            "targets": _rounded(targets(self.report, self.languages)),
        }


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
    shown = shown_report(rows, model, gate) if any(r.origin.startswith("news ") for r in rows) else None
    return SplitReport(model, halves["fit"], halves["report"], counts, languages, gate, shown)


def _rounded(x: object) -> object:
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x


# --- the confidence a user is shown (issue 26, item 5) -------------------------------------------
def reliability(
    confidence: Sequence[float] | npt.NDArray[np.float64], right: Sequence[bool] | npt.NDArray[np.bool_],
    bins: int = ECE_BINS,
) -> list[dict[str, float | int]]:  # fmt: skip
    """The reliability table behind `ece`: per equal-width bin of confidence (1.0 in the last),
    its rows, their mean confidence and the share right. Empty bins are left out."""
    c = np.asarray(confidence, np.float64)
    y = np.asarray(right, np.float64)
    which = np.minimum((np.clip(c, 0.0, 1.0) * bins).astype(int), bins - 1)
    out: list[dict[str, float | int]] = []
    for b in range(bins):
        m = which == b
        if m.any():
            out.append({"lo": b / bins, "hi": (b + 1) / bins, "n": int(m.sum()), "confidence": float(c[m].mean()),
                        "right": float(y[m].mean())})  # fmt: skip
    return out


def shown_verdicts(
    rows: Sequence[Row], model: ConfidenceModel, gate: TopicGate | None
) -> tuple[npt.NDArray[np.float64], list[str]]:
    """The confidence shown and the verdict the product gives each row (verdict.decide, then
    confidence.shown)."""
    chance = model.predict_many([r.signals for r in rows])
    verdicts = []
    for r, p in zip(rows, chance.tolist(), strict=True):
        v = model.verdict(p, r.signals.get("cross_language", 0.0) >= 0.5) if r.signals else "abstain"
        verdicts.append(gate.verdict(v, r.signals) if gate is not None else v)
    shown = np.array([1.0 - p if v == "abstain" else p for p, v in zip(chance.tolist(), verdicts, strict=True)])
    return shown, verdicts


def verdict_right(rows: Sequence[Row], verdicts: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Whether each shown verdict is right: a quote when it answers, an abstention when the quote
    it would have led with does not (an off-topic question's never does)."""
    return np.array([r.correct if v != "abstain" else not r.correct for r, v in zip(rows, verdicts, strict=True)], bool)


def shown_figures(rows: Sequence[Row], model: ConfidenceModel, gate: TopicGate | None) -> dict[str, object]:
    """ECE and the reliability table of the shown confidence against the shown verdict being
    right, and the answerable rows' sure-but-wrong, refused, unsure and kept-right shares."""
    if not rows:
        return {"n": 0}
    shown, verdicts = shown_verdicts(rows, model, gate)
    right = verdict_right(rows, verdicts)
    v = np.array(verdicts)
    ans = np.array([r.group == "answerable" for r in rows], bool)
    ok = np.array([r.correct for r in rows], bool)
    out: dict[str, object] = {"n": len(rows), "ece": ece(shown, right), "reliability": reliability(shown, right)}
    if ans.any():
        out |= {
            "answerable": int(ans.sum()),
            "hit@1": float(np.mean(ok[ans] & (v[ans] != "abstain"))),
            "sure_wrong": float(np.mean((v[ans] == "answer") & ~ok[ans])),
            "refused": float(np.mean(v[ans] == "abstain")),
            "unsure": float(np.mean(v[ans] == "unsure")),
            "answer_precision": float(ok[ans & (v == "answer")].mean()) if (ans & (v == "answer")).any() else None,
        }
    off = np.array([r.group == "offtopic" for r in rows], bool)
    if off.any():
        out["offtopic_refused"] = float(np.mean(v[off] == "abstain"))
    return out


SHOWN_GROUPS = ("news", "news same", "news cross", "belebele-ko", "belebele-en")


def shown_report(rows: Sequence[Row], model: ConfidenceModel, gate: TopicGate | None) -> dict[str, dict[str, object]]:
    """`shown_figures` per half for the news rows (all, same-language, cross-language, with the
    off-topic ones in "news") and each Belebele half-indexed file."""
    out: dict[str, dict[str, object]] = {}
    for half in ("fit", "report"):
        part = [r for r in rows if r.half == half]
        out[half] = {}
        for g in SHOWN_GROUPS:
            if g == "news":
                sel = [r for r in part if r.origin.startswith("news ")]
            elif g.startswith("news "):
                sel = [r for r in part if r.origin == g]
            else:
                sel = [r for r in part if r.file == g and not is_short(r)]
            if sel:
                out[half][g] = shown_figures(sel, model, gate)
    return out
