"""Belebele (the same passages in Korean and English) through the engine's answer path, with and
without the sentence encoder (issue 19): `quoteqa eval --belebele DIR`.

Modes (passages indexed → questions asked):
* `same-ko`, `same-en`: every passage in the question's language;
* `cross-ko>en`, `cross-en>ko`: every passage in the other language only;
* `mixed`: both languages in one pool (either twin is gold);
* `split`: each story in one language only (links split by a hash: about half Korean, half
  English), the real bilingual corpus; reported by where the gold lies (`same` / `cross`);
* `half`: half the links indexed (each in one language), every question asked: for confidence
  (answerable = its story is indexed). These rows join the confidence fit
  (`quoteqa eval --splits --fit --belebele DIR`).

Every mode builds its pool with the product's store (`Parts`: the caller's config, Kiwi and
encoder; vectors in it when there is an encoder) and asks through the product's answer path
with the encoder (`meaning`) and without it (`words`). Every answer is kept (`refusals` off),
then judged as the product judges it (`AnswerPath.verdict`: the configured models and gate): `src@1`
is "the first quote is from a gold passage" (any answer), `kept` also needs a verdict other than
`abstain`. Questions fall into a FIT and a REPORT half by an md5 of their passage link: weights
are fitted on FIT only, figures are claimed on REPORT.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.answer import confidence
from retrieval.index.store import ArticleMeta
from retrieval.path import Parts

from .evaluate import Dataset, PassageInput, QAItem, build_store
from .splits import Row

Item = tuple[str, str]  # (language, link)
MODES = ("same-ko", "same-en", "cross-ko>en", "cross-en>ko", "mixed", "split", "half")
WORDS, MEANING = "words", "meaning"
FIT_MODES = ("half", "cross-ko>en", "cross-en>ko")  # the modes `eval --splits --belebele` fits the confidence models on


def fit_half(key: str) -> bool:
    return int(hashlib.md5(key.encode()).hexdigest(), 16) % 2 == 0


def _side(link: str, salt: str) -> bool:
    return int(hashlib.md5((salt + link).encode()).hexdigest(), 16) % 2 == 0


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    lang: str
    link: str

    @property
    def half(self) -> str:
        return "fit" if fit_half(self.link) else "report"


@dataclass(frozen=True, slots=True)
class Asked:
    """One question through one path in one mode."""

    mode: str
    system: str  # WORDS or MEANING
    id: str
    lang: str
    half: str
    answerable: bool
    gold_same: bool  # a gold passage is in the question's language
    correct: bool  # the first quote is from a gold passage
    verdict: str  # by the shipped model of the path
    cross: bool
    signals: dict[str, float]


def load(folder: Path) -> tuple[dict[Item, str], list[Question]]:
    """Passages by (language, link) and every question of both files."""
    passages: dict[Item, str] = {}
    questions: list[Question] = []
    for line in (folder / "kor_Hang.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        passages[("ko", r["link"])] = r["flores_passage"]
        questions.append(Question(f"ko:{r['link']}#{r['question_number']}", r["question"], "ko", r["link"]))
    for line in (folder / "eng_Latn.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        link = r["metadata"]["extra"]["url"]
        passages[("en", link)] = r["text"]
        for i, it in enumerate(r["items"]):
            questions.append(Question(f"en:{link}#{i}", it["question"], "en", link))
    return passages, questions


def pools(
    passages: dict[Item, str], questions: list[Question], modes: Sequence[str] = MODES
) -> dict[str, tuple[list[Item], list[Question]]]:
    """Each mode's indexed passages (in uid order) and the questions asked."""
    links = sorted({k for _, k in passages})
    ko_side = {k for k in links if _side(k, "side")}
    indexed = {k for k in links if _side(k, "half")}
    of = {"ko": [q for q in questions if q.lang == "ko"], "en": [q for q in questions if q.lang == "en"]}
    out: dict[str, tuple[list[Item], list[Question]]] = {
        "same-ko": ([("ko", k) for k in links], of["ko"]),
        "same-en": ([("en", k) for k in links], of["en"]),
        "cross-ko>en": ([("en", k) for k in links], of["ko"]),
        "cross-en>ko": ([("ko", k) for k in links], of["en"]),
        "mixed": ([(lang, k) for k in links for lang in ("ko", "en")], questions),
        "split": ([("ko" if k in ko_side else "en", k) for k in links], questions),
        "half": ([("ko" if k in ko_side else "en", k) for k in links if k in indexed], questions),
    }
    return {m: out[m] for m in modes}


def _dataset(name: str, items: list[Item], passages: dict[Item, str]) -> Dataset:
    arts = [ArticleMeta(f"p{i}", f"{lang}:{link}", source=name, file=name) for i, (lang, link) in enumerate(items)]
    return Dataset(
        name, arts, [PassageInput(i, 1, passages[it]) for i, it in enumerate(items)], [QAItem("x", "x", ("x",), 0)]
    )


def run_mode(
    mode: str, items: list[Item], questions: list[Question], passages: dict[Item, str], parts: Parts,
    tick: Callable[[int], None] | None = None,
) -> list[Asked]:  # fmt: skip
    """Every question of the mode through the product's words-only path and (when `parts` has an
    encoder) its semantic one, each answer kept (refusals off) and then judged as the product
    judges it (`AnswerPath.verdict`)."""
    gold: dict[str, set[int]] = {}
    for u, (_, link) in enumerate(items):
        gold.setdefault(link, set()).add(u)
    lang_of = [lang for lang, _ in items]
    out: list[Asked] = []
    with tempfile.TemporaryDirectory(prefix="quoteqa-belebele-") as tmp:
        store = build_store(_dataset(mode, items, passages), parts, Path(tmp) / "index")
        snapshot = store.snapshot()
        systems = {WORDS: parts.but(encoder="none", refusals=False).path()}
        if parts.encoder is not None:
            systems[MEANING] = parts.but(refusals=False).path()
        for q in questions:
            g = gold.get(q.link, set())
            for system, path in systems.items():
                a = path.ask(snapshot, q.text, max_quotes=1)
                verdict = path.verdict(a.signals, system == MEANING)[1] if a.answered else "abstain"
                out.append(Asked(
                    mode, system, q.id, q.lang, q.half, bool(g), any(lang_of[u] == q.lang for u in g),
                    bool(a.quotes) and a.quotes[0].passage in g, verdict, a.cross_language, dict(a.signals),
                ))  # fmt: skip
            if tick:
                tick(1)
    return out


def collect(
    folder: Path, parts: Parts, modes: Sequence[str] = MODES, progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> list[Asked]:  # fmt: skip
    passages, questions = load(folder)
    rows: list[Asked] = []
    for mode, (items, qs) in pools(passages, questions, modes).items():
        rows += run_mode(mode, items, qs, passages, parts, progress(f"belebele {mode}", len(qs)) if progress else None)
    return rows


def half_rows(rows: Sequence[Asked], system: str = MEANING) -> list[Row]:
    """The half-indexed mode's answers as confidence-split rows (one "file" per question
    language), and the cross-language modes' (one "file" each, `belebele-ko>en`: every question
    answerable from a corpus wholly in the other language, the case a topic gate that learned
    "a question whose words the corpus lacks is off-topic" would refuse)."""
    return [
        Row(f"belebele-{r.lang}" if r.mode == "half" else f"belebele-{r.mode[6:]}", r.lang, f"belebele:{r.mode}:{r.id}",
            "answerable" if r.answerable else "unanswerable", f"belebele-{r.lang}", r.half, r.signals, r.correct)
        for r in rows if r.mode in FIT_MODES and r.system == system
    ]  # fmt: skip


def subsets(rows: Sequence[Asked]) -> dict[str, list[Asked]]:
    """Reported groups: per mode, split by question language (and for `split`, by where the gold lies)."""
    out: dict[str, list[Asked]] = {}
    for r in rows:
        if r.mode == "half" or not r.answerable:
            continue
        key = r.mode
        if r.mode in ("mixed", "split"):
            key += f" {r.lang}"
        if r.mode == "split":
            key += " same" if r.gold_same else " cross"
        out.setdefault(key, []).append(r)
    return out


def table(rows: Sequence[Asked]) -> list[dict[str, object]]:
    """Per group, half and system: n, src@1 (any answer), kept (src@1 and not abstained), cross share."""
    out = []
    for key, sel in subsets(rows).items():
        for half in ("fit", "report"):
            for system in (WORDS, MEANING):
                s = [r for r in sel if r.half == half and r.system == system]
                if s:
                    out.append({
                        "group": key, "half": half, "system": system, "n": len(s),
                        "src@1": float(np.mean([r.correct for r in s])),
                        "kept": float(np.mean([r.correct and r.verdict != "abstain" for r in s])),
                        "abstain": float(np.mean([r.verdict == "abstain" for r in s])),
                        "cross": float(np.mean([r.cross for r in s])),
                    })  # fmt: skip
    return out


def half_table(rows: Sequence[Asked]) -> list[dict[str, object]]:
    """The half-indexed mode judged by the shipped model of each path: answerable abstain,
    unanswerable `answer`, AUROC of the confidence against "first quote right"."""
    from .splits import auroc

    out = []
    judges = {WORDS: confidence.shipped(), MEANING: confidence.shipped_semantic()}
    for system in (WORDS, MEANING):
        for half in ("fit", "report"):
            for lang in ("ko", "en", "all"):
                s = [
                    r
                    for r in rows
                    if r.mode == "half" and r.system == system and r.half == half and lang in (r.lang, "all")
                ]
                if not s:
                    continue
                c = judges[system].predict_many([r.signals for r in s])
                ans = np.array([r.answerable for r in s])
                verdict = np.array([r.verdict for r in s])
                out.append({
                    "system": system, "half": half, "lang": lang, "n": len(s),
                    "answerable_abstain": float(np.mean(verdict[ans] == "abstain")) if ans.any() else None,
                    "unanswerable_answer": float(np.mean(verdict[~ans] == "answer")) if (~ans).any() else None,
                    "auroc": auroc(c, [int(r.correct) for r in s]),
                })  # fmt: skip
    return out
