"""The news dev set (issue 26, item 6): `quoteqa eval --news`.

Our own questions (`measure/news_questions.jsonl`, how they were written in
`measure/news_questions.md`) about the parallel Korean-English news sentences of
`../shared/data/ko-en-news-dev`, asked in both languages of split-language pools through
`Engine.ask`, judged per language (`data.py`: the set and the pools; `harness.py`: the engines and
the asking; `judge.py`: gold, hit@1/@3, sure-but-wrong, refusals, ECE; `twin_recall.py`: twin-
sentence R@1 with a hook for new scorers).
"""

from .data import LANGS, POOLS, NewsQuestion, NewsSet, load_questions, load_set, story_half
from .harness import collect
from .judge import Row, calibration, ece, is_gold, report
from .twin_recall import Scorer, recall_at_1, twin_figures

__all__ = [
    "LANGS", "POOLS", "NewsQuestion", "NewsSet", "Row", "Scorer", "calibration", "collect", "ece", "is_gold",
    "load_questions", "load_set", "recall_at_1", "report", "story_half", "twin_figures",
]  # fmt: skip
