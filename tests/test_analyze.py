from __future__ import annotations

from retrieval.text.analyze import Analyzer, detect_language, split_english
from tests.conftest import CORPUS


def test_korean_particles_are_stripped(analyzer: Analyzer) -> None:
    assert analyzer.terms("크렘린궁은") == ["크렘린궁"]
    assert analyzer.terms("크렘린궁의") == ["크렘린궁"]
    assert analyzer.terms("크렘린궁이 말했다")[0] == "크렘린궁"


def test_korean_keeps_content_morphemes_only(analyzer: Analyzer) -> None:
    terms = analyzer.terms("클럽하우스는 약 500만 이상의 다운로드가 진행된 어플로")
    assert "500" in terms and "다운로드" in terms and "어플" in terms
    assert not {"는", "의", "가", "로", "약"} & set(terms)


def test_english_lemmas_and_stems(analyzer: Analyzer) -> None:
    assert analyzer.terms("said") == analyzer.terms("say") == ["say"]
    assert analyzer.terms("told") == analyzer.terms("tells") == ["tell"]
    assert analyzer.terms("The proposals were interesting") == ["propos", "interest"]
    assert analyzer.terms("Tesla’s") == ["tesla"]


def test_mixed_question_routes_each_run(analyzer: Analyzer) -> None:
    words = analyzer.question_words("Peskov는 뭐라고 말했어?")
    assert [w.term for w in words][0] == "peskov"
    assert "는" not in [w.term for w in words]
    # Latin runs inside Korean text are stemmed like English text.
    assert "say" in analyzer.terms("머스크는 Tesla said 라고 말했다")


def test_english_paragraphs_split_into_sentences(analyzer: Analyzer) -> None:
    para = (
        "Kremlin spokesperson Dmitry Peskov on Monday told reporters that the proposal was “interesting” "
        "but more details were needed, according to Tass news agency. The news was also reported by Reuters."
    )
    spans = [para[s.start : s.end] for s in analyzer.sentences(para)]
    assert spans == [
        "Kremlin spokesperson Dmitry Peskov on Monday told reporters that the proposal was “interesting” "
        "but more details were needed, according to Tass news agency.",
        "The news was also reported by Reuters.",
    ]


def test_english_abbreviations_and_closing_quotes() -> None:
    text = "Musk met Tenev on Jan. 30 in the U.S. capital. He said: “It was great.” Then J. K. Rowling left."
    assert [text[s:e] for s, e in split_english(text)] == [
        "Musk met Tenev on Jan. 30 in the U.S. capital.",
        "He said: “It was great.”",
        "Then J. K. Rowling left.",
    ]


def test_seed_sentences(analyzer: Analyzer) -> None:
    text = (CORPUS / "clubhouse-putin-musk.txt").read_text("utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    by_para = list(analyzer.analyze_passages(paragraphs))
    korean = [i for i, p in enumerate(paragraphs) if detect_language(p) == "ko"]
    english = [i for i, p in enumerate(paragraphs) if detect_language(p) == "en"]
    assert korean and english
    kremlin_ko = next(i for i in korean if "크렘린궁" in paragraphs[i])
    assert len(by_para[kremlin_ko]) == 1  # one long Korean sentence with embedded quotes stays whole
    peskov = next(i for i in english if paragraphs[i].startswith("Kremlin spokesperson"))
    assert len(by_para[peskov]) == 2
    # The caption is an English line and its Korean translation: two sentences, two languages.
    caption = by_para[0]
    assert [detect_language(paragraphs[0][s.start : s.end]) for s in caption] == ["en", "ko"]
    for para, sentences in zip(paragraphs, by_para):
        for s in sentences:
            assert para[s.start : s.end].strip() == para[s.start : s.end]


def test_detect_language() -> None:
    assert detect_language("What did the Kremlin say?") == "en"
    assert detect_language("크렘린궁은 뭐라고 했나요?") == "ko"
    assert detect_language("Tesla의 CEO 일론 머스크는 음성으로 대화하는 소셜미디어(SNS)") == "ko"
