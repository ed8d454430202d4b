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

The package is split by job: `data.py` (the splits, the questions, asking them: `Row`s),
`metrics.py` (AUROC, ECE, verdict rates, targets, `evaluate_model`) and `calibration.py` (the
features and the fits of the confidence model, its levels and the topic gate). Everything is
re-exported here, so `from measure import splits; splits.fit_model(...)` reads as before.
"""

from __future__ import annotations

from .calibration import (
    ANCHORS,
    CROSS,
    DEFAULT_FEATURES,
    MAX_ANSWERABLE_ABSTAIN,
    MAX_CROSS_LOSS,
    MAX_GATE_ABSTAIN,
    MIN_LEVELS,
    MIN_PRECISION,
    REFIT_TARGETS,
    SEMANTIC_FEATURES,
    SEMANTIC_TARGETS,
    SHOWN,
    FeatureBlock,
    Refit,
    RefitInfo,
    choose_features,
    choose_thresholds,
    cross_gate_level,
    cv_log_loss,
    fit_model,
    fit_refit,
    fit_semantic,
    fit_topic,
    gate_level,
    lowest_level,
    row_weights,
    signals_of,
    topic_rows,
)  # fmt: skip
from .data import (
    NEWS_FILE,
    OFFTOPIC_FILE,
    OTHER_LANGUAGE_SAMPLE,
    SHORT,
    SHORT_TAGS,
    SHORT_TEMPLATES,
    Progress,
    Row,
    Split,
    SplitQuestion,
    ask_split,
    build_split_store,
    collect,
    corpus_other,
    is_cross,
    is_news,
    is_short,
    make_split,
    news_rows,
    offtopic_questions,
    question_half,
    question_key,
    rarest_surfaces,
    read_offtopic,
    short_form,
    split_articles,
)  # fmt: skip
from .metrics import (
    ECE_BINS,
    SHOWN_GROUPS,
    TARGETS,
    TODAY_MIN_COVERAGE,
    SplitReport,
    auroc,
    ece,
    evaluate_model,
    gated_mask,
    group_metrics,
    groups,
    reliability,
    shown_figures,
    shown_report,
    shown_verdicts,
    targets,
    verdict_metrics,
    verdict_right,
)  # fmt: skip

__all__ = [
    "ANCHORS", "CROSS", "NEWS_FILE", "SHOWN", "SHOWN_GROUPS", "FeatureBlock", "Refit", "RefitInfo",
    "choose_features", "cv_log_loss", "fit_refit", "is_news", "lowest_level", "news_rows", "question_key",
    "reliability", "row_weights", "shown_figures", "shown_report", "shown_verdicts", "signals_of", "verdict_right",
    "DEFAULT_FEATURES", "ECE_BINS", "MAX_ANSWERABLE_ABSTAIN", "MAX_CROSS_LOSS", "MAX_GATE_ABSTAIN", "MIN_LEVELS",
    "MIN_PRECISION", "REFIT_TARGETS", "OFFTOPIC_FILE", "OTHER_LANGUAGE_SAMPLE", "SEMANTIC_FEATURES", "SEMANTIC_TARGETS", "SHORT",
    "SHORT_TAGS", "SHORT_TEMPLATES", "TARGETS", "TODAY_MIN_COVERAGE", "Progress", "Row", "Split", "SplitQuestion",
    "SplitReport", "ask_split", "auroc", "build_split_store", "choose_thresholds", "collect", "corpus_other",
    "cross_gate_level", "ece", "evaluate_model", "fit_model", "fit_semantic", "fit_topic", "gate_level", "gated_mask",
    "group_metrics", "groups", "is_cross", "is_short", "make_split", "offtopic_questions", "question_half",
    "rarest_surfaces", "read_offtopic", "short_form", "split_articles", "targets", "topic_rows", "verdict_metrics",
]  # fmt: skip
