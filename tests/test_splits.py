"""Dev splits for the confidence model: the split, the metrics, and a tiny run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from measure import splits
from measure.evaluate import Dataset, PassageInput, QAItem, load_squad
from measure.splits import Row, auroc, choose_thresholds, ece, make_split, question_half, split_articles
from retrieval import Analyzer
from retrieval.answer.confidence import fit as confidence_fit
from retrieval.index.store import ArticleMeta


# --- metrics ------------------------------------------------------------------------------------
def test_auroc_on_known_rankings() -> None:
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5  # ties count half
    # one of the four positive-negative pairs is out of order
    assert auroc([0.1, 0.6, 0.5, 0.9], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auroc([0.1, 0.2], [1, 1]) is None


def test_ece_on_known_sets() -> None:
    # perfectly calibrated: in the 0.2 bin one in five is right, in the 0.8 bin four in five
    c = [0.2] * 5 + [0.8] * 5
    y = [1, 0, 0, 0, 0] + [1, 1, 1, 1, 0]
    assert ece(c, y) == pytest.approx(0.0)
    # always 0.9 sure, right half the time: off by 0.4 everywhere
    assert ece([0.9] * 4, [1, 0, 1, 0]) == pytest.approx(0.4)
    # two bins, weighted by size: |0.1 - 1| * 1/4 + |0.7 - 2/3| * 3/4
    assert ece([0.1, 0.7, 0.7, 0.7], [1, 1, 1, 0]) == pytest.approx(0.9 / 4 + (0.7 - 2 / 3) * 3 / 4)
    assert ece([1.0, 1.0], [1, 1]) == pytest.approx(0.0)  # 1.0 falls in the last bin
    assert ece([], []) is None


def row(group: str, correct: bool, cov: float = 0.5, file: str = "f.json") -> Row:
    return Row(file, "en", "id", group, file, "report", {"passage_coverage": cov}, correct)


def test_verdict_metrics_by_hand() -> None:
    rows = [
        row("answerable", True), row("answerable", True), row("answerable", False), row("answerable", True),
        row("unanswerable", False), row("unanswerable", False), row("offtopic", False), row("offtopic", False),
    ]  # fmt: skip
    c = np.array([0.95, 0.6, 0.9, 0.1, 0.92, 0.2, 0.05, 0.5])
    m = splits.verdict_metrics(rows, c, sure=0.9, minimum=0.3)
    assert m["answerable_abstain"] == pytest.approx(1 / 4)  # the 0.1
    assert m["unanswerable_answer"] == pytest.approx(1 / 2)  # the 0.92
    assert m["answer_precision"] == pytest.approx(1 / 3)  # 0.95 right; 0.9 and 0.92 wrong
    assert m["first_quote_accuracy"] == pytest.approx(2 / 4)  # 0.95 and 0.6 (unsure still quotes)
    assert m["offtopic_abstain"] == pytest.approx(1 / 2)
    assert m["answer_share"] + m["unsure_share"] + m["abstain_share"] == pytest.approx(1.0)


def test_group_metrics_include_todays_rule() -> None:
    rows = [row("answerable", True, cov=0.9), row("answerable", False, cov=0.2), row("unanswerable", False, cov=0.5)]
    m = splits.group_metrics(rows, np.array([0.9, 0.1, 0.1]), sure=0.8, minimum=0.2)
    today = m["today"]
    assert today["answerable_abstain"] == pytest.approx(1 / 2)  # coverage 0.2 < 0.34
    assert today["unanswerable_answer"] == pytest.approx(1.0)  # coverage 0.5 answers
    assert today["answer_precision"] == pytest.approx(1 / 2)
    assert m["unanswerable_answer"] == 0.0 and m["auroc"] == 1.0


def test_thresholds_follow_their_definitions() -> None:
    rng = np.random.default_rng(3)
    n = 400
    answerable_c = 0.3 + 0.7 * rng.random(n)
    answerable_ok = rng.random(n) < answerable_c  # calibrated by construction
    rows = [row("answerable", bool(ok)) for ok in answerable_ok] + [row("unanswerable", False) for _ in range(n)]
    c = np.concatenate([answerable_c, 0.6 * rng.random(n)])
    sure, minimum = choose_thresholds(rows, c)
    answerable = np.array([r.group == "answerable" for r in rows])
    ok = np.array([r.correct for r in rows])
    share = splits.MAX_ANSWERABLE_ABSTAIN
    assert np.mean(c[answerable] < minimum) <= share
    above = np.sort(c[answerable][c[answerable] > minimum])[0]
    assert np.mean(c[answerable] < above) > share  # the largest such threshold
    assert 0.3 < minimum <= sure < 1.0
    assert ok[c >= sure].mean() >= 0.95
    # no lower threshold (not below minimum) reaches the precision
    lower = sorted(x for x in set(c.tolist()) if minimum <= x < sure)
    assert lower and all(ok[c >= t].mean() < 0.95 for t in lower)
    # a precision no threshold reaches: never a confident answer
    assert choose_thresholds(rows, c, min_precision=1.01)[0] == 1.0


# --- the split ----------------------------------------------------------------------------------
def synthetic(n_articles: int = 9, per_article: int = 2, name: str = "syn.json") -> Dataset:
    """A dataset without Kiwi: passage i belongs to article i // per_article; one question each,
    and one extra question per article about its first passage."""
    articles = [ArticleMeta(id=f"a{i}", title=f"t{i}", source=name, file=name) for i in range(n_articles)]
    passages = [
        PassageInput(i // per_article, i % per_article + 1, f"text {i}") for i in range(n_articles * per_article)
    ]
    questions = [QAItem(f"q{i}", f"question {i}", ("x",), i) for i in range(len(passages))]
    questions += [QAItem(f"e{a}", f"extra {a}", ("x",), a * per_article) for a in range(n_articles)]
    return Dataset(name, articles, passages, questions)


def test_split_puts_each_question_in_one_group_and_one_half() -> None:
    ds = synthetic()
    off = [("other:1", "what?", "other"), ("offtopic.txt:1", "weather?", "offtopic.txt")]
    split = make_split(ds, seed=7, offtopic=off)
    indexed, held = split_articles(len(ds.articles), 7)
    assert set(indexed) | set(held) == set(range(len(ds.articles))) and not set(indexed) & set(held)
    assert len(indexed) == 5 and split.indexed == indexed  # the larger half when odd
    assert [ds.passages[n].article in set(indexed) for n in split.passages] == [True] * len(split.passages)
    assert len(split.passages) == sum(1 for p in ds.passages if p.article in set(indexed))
    assert len(split.questions) == len(ds.questions) + len(off)
    by_id = {q.id: q for q in split.questions}
    assert len(by_id) == len(split.questions)
    for q in ds.questions:
        sq = by_id[q.id]
        answerable = ds.passages[q.gold].article in set(indexed)
        assert sq.group == ("answerable" if answerable else "unanswerable")
        if answerable:
            assert split.passages[sq.gold] == q.gold  # the store uid points at the gold passage
        else:
            assert sq.gold is None
    assert {by_id[i].group for i, _, _ in off} == {"offtopic"}
    halves = [q.half for q in split.questions]
    assert set(halves) <= {"fit", "report"} and "fit" in halves and "report" in halves


def test_split_is_deterministic_for_a_seed() -> None:
    ds = synthetic(n_articles=20)
    a, b = make_split(ds, seed=5), make_split(ds, seed=5)
    assert a.indexed == b.indexed and a.passages == b.passages
    assert [(q.id, q.group, q.half, q.gold) for q in a.questions] == [
        (q.id, q.group, q.half, q.gold) for q in b.questions
    ]
    c = make_split(ds, seed=6)
    assert c.indexed != a.indexed or [q.half for q in c.questions] != [q.half for q in a.questions]
    assert question_half("q1", 5) == question_half("q1", 5)
    assert {question_half(f"q{i}", 5) for i in range(50)} == {"fit", "report"}


def test_offtopic_questions_sample_the_other_file() -> None:
    other = synthetic(name="other.json")
    picked = splits.offtopic_questions(other, ["How old are you?"], seed=1, sample=5)
    assert len(picked) == 6
    assert [p[2] for p in picked] == ["other.json"] * 5 + ["offtopic.txt"]
    assert picked == splits.offtopic_questions(other, ["How old are you?"], seed=1, sample=5)
    assert len(splits.offtopic_questions(other, [], seed=1, sample=1000)) == len(other.questions)


def test_shipped_offtopic_questions_are_half_korean() -> None:
    qs = splits.read_offtopic()
    korean = [q for q in qs if any("가" <= ch <= "힣" for ch in q)]
    assert len(qs) >= 50 and abs(len(korean) - len(qs) / 2) <= 3
    assert len(set(qs)) == len(qs)


# --- end to end ---------------------------------------------------------------------------------
# Made up for this test: four articles per language, two questions each.
EN = [
    (
        "Bellrock lighthouse",
        "The Bellrock lighthouse was built in 1810 by Robert Stevenson on a reef in the North Sea. Its keepers lit the lamp every evening.",
        [
            ("When was the Bellrock lighthouse built?", "1810"),
            ("Who built the Bellrock lighthouse?", "Robert Stevenson"),
        ],
    ),
    (
        "Marrow orchestra",
        "The Marrow Symphony Orchestra was founded in Glasgow in 1923. Its first conductor was Helen Ashby, who led it for thirty years.",
        [
            ("Where was the Marrow Symphony Orchestra founded?", "Glasgow"),
            ("Who was the first conductor of the Marrow orchestra?", "Helen Ashby"),
        ],
    ),
    (
        "Quinton canal",
        "The Quinton canal carried coal from the valley mines to the port. It closed in 1962 after railways took its trade.",
        [("What did the Quinton canal carry?", "coal"), ("When did the Quinton canal close?", "1962")],
    ),
    (
        "Pellmoor cheese",
        "Pellmoor cheese is made from sheep milk and aged in limestone caves for nine months before it is sold.",
        [
            ("What milk is Pellmoor cheese made from?", "sheep milk"),
            ("How long is Pellmoor cheese aged?", "nine months"),
        ],
    ),
]
KO = [
    (
        "소리섬 등대",
        "소리섬 등대는 1905년에 세워졌다. 등대지기는 매일 저녁 등불을 켰다.",
        [("소리섬 등대는 언제 세워졌나?", "1905년"), ("소리섬 등대지기는 매일 저녁 무엇을 켰나?", "등불")],
    ),
    (
        "한빛 합창단",
        "한빛 합창단은 1978년 대구에서 창단되었다. 초대 지휘자는 박영순이었다.",
        [("한빛 합창단은 어디에서 창단되었나?", "대구"), ("한빛 합창단의 초대 지휘자는 누구인가?", "박영순")],
    ),
    (
        "푸른내 운하",
        "푸른내 운하는 광산의 석탄을 항구로 실어 날랐다. 철도가 생긴 뒤 1962년에 문을 닫았다.",
        [("푸른내 운하는 무엇을 실어 날랐나?", "석탄"), ("푸른내 운하는 언제 문을 닫았나?", "1962년")],
    ),
    (
        "모래골 치즈",
        "모래골 치즈는 양젖으로 만들고 석회암 동굴에서 아홉 달 동안 숙성한다.",
        [("모래골 치즈는 무엇으로 만드나?", "양젖"), ("모래골 치즈는 얼마 동안 숙성하나?", "아홉 달")],
    ),
]


def squad_file(path: Path, articles: list) -> Path:  # type: ignore[type-arg]
    data = []
    for a_no, (title, context, qas) in enumerate(articles):
        data.append({"title": title, "paragraphs": [{"context": context, "qas": [
            {"id": f"{path.stem}-{a_no}-{q_no}", "question": q, "answers": [{"text": ans, "answer_start": context.index(ans)}]}
            for q_no, (q, ans) in enumerate(qas)
        ]}]})  # fmt: skip
    path.write_text(json.dumps({"version": "tiny", "data": data}, ensure_ascii=False), "utf-8")
    return path


@pytest.fixture
def tiny_files(tmp_path: Path) -> tuple[Path, Path]:
    return squad_file(tmp_path / "tiny_ko.json", KO), squad_file(tmp_path / "tiny_en.json", EN)


def test_splits_end_to_end_on_tiny_files(tiny_files: tuple[Path, Path], parts) -> None:  # type: ignore[no-untyped-def]
    datasets = [load_squad(p) for p in tiny_files]
    everyday = ["내일 날씨 어때?", "What is 17 times 23?"]
    rows = splits.collect(datasets, parts, seed=3, everyday=everyday, other_sample=3)
    per_file = {ds.name: [r for r in rows if r.file == ds.name] for ds in datasets}
    for ds in datasets:
        mine = [r for r in per_file[ds.name] if not splits.is_short(r)]
        short = [r for r in per_file[ds.name] if splits.is_short(r)]
        assert len(mine) == len(ds.questions) + 3 + 2
        assert sum(r.group == "offtopic" for r in mine) == 5
        # every own question asked again in short form, with its group and gold, none off-topic
        assert sorted(r.id for r in short) == sorted(f"{r.id}:short" for r in mine if r.group != "offtopic")
        assert {r.id: r.group for r in short} == {f"{r.id}:short": r.group for r in mine if r.group != "offtopic"}
        answerable = [r for r in mine if r.group == "answerable"]
        assert len(answerable) == 4  # two of four articles indexed, two questions each
        assert sum(r.correct for r in answerable) >= 3  # the made-up questions name their article
        assert not any(r.correct for r in mine if r.group != "answerable")
    model = splits.fit_model(rows)
    report = splits.evaluate_model(rows, model).to_json()
    keys = {
        "auroc",
        "ece",
        "answerable_abstain",
        "unanswerable_answer",
        "answer_precision",
        "first_quote_accuracy",
        "offtopic_abstain",
    }
    for half in ("fit", "report"):
        for name in ("all", "offtopic", "tiny_ko.json", "tiny_en.json"):
            assert keys <= set(report[half][name]), (half, name)
            assert set(report[half][name]["today"]) == keys - {"ece"}
    assert 0.0 <= report["thresholds"]["min"] <= report["thresholds"]["sure"] <= 1.0
    assert {t["metric"] for t in report["targets"]} == keys
    json.dumps(report)  # plain values only


def test_eval_splits_command(tiny_files: tuple[Path, Path], analyzer: Analyzer, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import retrieval
    from bot.cli import main
    from retrieval.answer import confidence

    monkeypatch.setattr(retrieval, "Analyzer", lambda **_: analyzer)  # the session's Kiwi, not a second one
    target = tmp_path / "confidence.json"
    monkeypatch.setattr(confidence, "default_path", lambda: target)
    monkeypatch.setattr(
        confidence, "semantic_path", lambda: tmp_path / "never.json"
    )  # the lexical model is fitted here
    args = ["eval", "--splits", *map(str, tiny_files), "--offtopic-sample", "2", "--seed", "3", "--encoder", "none"]
    assert main([*args, "--json", "--fit", "--rows", str(tmp_path / "rows.jsonl")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["written"] and set(out["report"]) >= {"all", "offtopic", "tiny_ko.json", "tiny_en.json"}
    written = confidence.load(target)
    assert written.sure == pytest.approx(out["thresholds"]["sure"], abs=1e-6)
    assert written.fitted["command"].startswith("quoteqa eval --splits --fit --seed 3")
    assert [d["file"] for d in written.fitted["data"]] == ["tiny_ko.json", "tiny_en.json", "offtopic.txt"]
    lines = (tmp_path / "rows.jsonl").read_text("utf-8").splitlines()
    reported = sum(out[half][k]["n"] for half in ("fit", "report") for k in ("all", "short") if k in out[half])
    assert len(lines) == reported  # every question (own and short form) in one reported group
    # the written model, reported again, gives the same figures
    assert main([*args, "--json", "--model", str(target)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert not again["written"] and again["report"]["all"] == out["report"]["all"]
    # the table form names both halves
    assert main([*args, "--model", str(target)]) == 0
    text = capsys.readouterr().out
    assert "REPORT half" in text and "FIT half" in text
    # --fit without --splits, or no files without --splits, are usage errors
    assert main(["eval", str(tiny_files[0]), "--fit"]) == 2
    assert main(["eval"]) == 2


def test_short_forms_keep_the_rarest_words_in_a_frame_of_the_same_kind(analyzer: Analyzer) -> None:
    from retrieval.index.memory import MemoryStore
    from retrieval.models import Article

    store = MemoryStore(analyzer)
    store.add([
        Article("a", "Ferry", ("The ferry to Jeju leaves at noon from the harbour.", "The harbour opened in 1990."), file="t"),
        Article("b", "Port", ("The harbour of Busan is the largest.", "크렘린궁은 논평을 거부했다."), file="t"),
    ])  # fmt: skip
    assert splits.short_form("크렘린궁은 뭐라고 했나요?", "q1", analyzer, store) == "크렘린궁의 발언은?"
    for qid in ("q1", "q2", "q3", "q4"):  # one or two words, by the id's hash
        short = splits.short_form("When does the ferry to Jeju leave the harbour?", qid, analyzer, store)
        assert short is not None and short.startswith("When was ") and short.endswith("?")
        words = short[len("When was ") : -1].split()
        assert 1 <= len(words) <= 2 and "harbour" not in words  # the commonest word is never kept
        assert set(words) <= {"ferry", "Jeju", "leave"}
    assert splits.short_form("What is it?", "q1", analyzer, store) is None  # nothing but frame and stop words


def _rows(file: str, group: str, values: list[float], correct: bool = True, half: str = "fit") -> list[Row]:
    return [Row(file, "en", f"{file}:{group}:{i}", group, file, half, {"x": v}, correct) for i, v in enumerate(values)]


def test_gate_level_keeps_each_files_refusals_within_its_budget() -> None:
    """Per file, not pooled: a small hard file must not hide behind a big easy one."""
    easy = _rows("big", "answerable", [float(v) for v in np.linspace(2.0, 4.0, 200)])
    hard = _rows("small", "answerable", [float(v) for v in np.linspace(-1.0, 3.0, 50)])
    off = _rows("big", "offtopic", [float(v) for v in np.linspace(-3.0, 0.5, 60)], correct=False)
    rows = easy + hard + off
    gate = splits.fit_topic(rows, features=("x",))
    model = confidence_fit([r.signals for r in rows], [int(r.correct) for r in rows], features=("x",))
    level = splits.gate_level(gate, model.with_thresholds(1.0, 0.0), rows, max_abstain=0.04)
    for file, mine in (("big", easy), ("small", hard)):
        refused = np.mean(gate.predict_many([r.signals for r in mine]) < level)
        assert refused <= 0.04, file
    assert np.mean(gate.predict_many([r.signals for r in hard]) < level) > 0  # the budget is used
    # with the model's min already refusing more than the budget, the gate refuses nothing
    assert splits.gate_level(gate, model.with_thresholds(1.0, 0.99), rows, max_abstain=0.04) == 0.0


def test_fit_semantic_chooses_min_and_gate_together() -> None:
    easy = _rows("big", "answerable", [float(v) for v in np.linspace(2.0, 4.0, 200)])
    hard = _rows("small", "answerable", [float(v) for v in np.linspace(-1.0, 3.0, 50)])
    cross = _rows("belebele-ko>en", "answerable", [float(v) for v in np.linspace(-3.0, 0.0, 50)])
    for r in cross:  # asked of a corpus wholly in the other language
        r.signals["sem_corpus_other"] = 1.0
    off = _rows("big", "offtopic", [float(v) for v in np.linspace(-3.0, 0.5, 60)], correct=False)
    model, gate = splits.fit_semantic(easy + hard + cross + off, features=("x",))
    assert model.minimum in splits.MIN_LEVELS and 0.0 < gate.minimum < 1.0
    # the same-language level would refuse most of the cross-language file ...
    assert np.mean(gate.model.predict_many([r.signals for r in cross]) < gate.minimum) > 0.5
    # ... its own level costs it at most MAX_CROSS_LOSS of its right answers
    assert gate.cross_minimum <= gate.minimum
    lost = gate.refuses_many([r.signals for r in cross])
    assert lost.sum() <= np.floor(splits.MAX_CROSS_LOSS * len(cross))
    assert gate.refuses_many([r.signals for r in off]).mean() > 0.5  # same-language off-topic still refused
    refused = gate.refuses_many([r.signals for r in hard])
    assert refused.mean() <= splits.MAX_GATE_ABSTAIN
