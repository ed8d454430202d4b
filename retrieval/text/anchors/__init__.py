"""Language-neutral anchors: the keys a Korean passage and its English twin have in common.

The encoder blurs names and numbers, so a cross-language question often lands on another
story about the same kind of event. Anchors are exact keys that survive the change of script:

* `name:` consonant skeletons of names (names.py, skeleton.py) and `acr:` acronyms: kind "name";
* `num:`, `ord:` values with their units (numbers.py): kind "number";
* `year:`, `decade:`, `month:`, `date:`: kind "date";
* `term:` glossary keys (glossary.py, glossary.tsv: countries, bodies, titles...): kind "term";
* `word:` keys of the everyday news word list (lexicon.tsv: bears, voters, refused...): kind
  "word". They are not anchors of a story but translations of a question's plain words: read by
  the fusion's translated-coverage features (`retrieval/answer/retrieve/words.py`) only.

`Anchors.load(analyzer)` reads the data once; `passage(text, sentences)` reads the sentences the
analyser already produced (a Korean sentence's tags say which terms are proper nouns), so
extraction runs no Kiwi of its own. Name keys are exact in the index; a question's name keys are
widened with `KeyVocabulary.expand` (fuzzy.py) against the index's keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from retrieval.text.anchors.fuzzy import (
    NAMES_FILE,
    PLAIN_COSTS,
    EditCosts,
    FuzzySettings,
    KeyVocabulary,
    keys_match,
    load_edit_costs,
    skeletons_match,
)
from retrieval.text.anchors.glossary import (
    GLOSSARY_FILE,
    LEXICON_FILE,
    LEXICON_FORMAT,
    Glossary,
    load_glossary,
    without,
)
from retrieval.text.anchors.names import LatinTokens, NameSettings, korean_names, latin_names
from retrieval.text.anchors.numbers import EN_WORDS, MONTHS, NumberSettings, number_keys

if TYPE_CHECKING:
    from retrieval.text.analyze import Analyzer, Sentence

_CAPITAL = re.compile(r"[A-Z\u00C0-\u00DE]")
_DIGIT = re.compile(r"\d")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
AnchorKind = Literal["name", "number", "date", "term", "word"]
_KIND = {"name": "name", "acr": "name", "num": "number", "ord": "number", "year": "date", "decade": "date",
         "month": "date", "date": "date", "term": "term", "word": "word"}  # fmt: skip
WORD = "word:"  # the prefix of the word list's keys

__all__ = [
    "Anchor", "AnchorKind", "AnchorSettings", "Anchors", "EditCosts", "FuzzySettings", "KeyVocabulary", "NameSettings",
    "NumberSettings", "PassageAnchors", "keys_match", "kind_of", "skeletons_match",
]  # fmt: skip


def kind_of(key: str) -> AnchorKind:
    return _KIND[key.partition(":")[0]]  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Anchor:
    """One key found in one sentence of a passage (its index in the analyser's sentence list)."""

    key: str
    sentence: int

    @property
    def kind(self) -> AnchorKind:
        return kind_of(self.key)


@dataclass(frozen=True, slots=True)
class PassageAnchors:
    """A passage's anchors: each (key, sentence) once, in sentence order."""

    anchors: tuple[Anchor, ...]
    sentences: int  # how many sentences the passage has

    @property
    def keys(self) -> tuple[str, ...]:
        """Distinct keys, in the order they first occur (what the index stores per passage)."""
        return tuple(dict.fromkeys(a.key for a in self.anchors))

    def by_sentence(self) -> tuple[tuple[str, ...], ...]:
        """The keys of each sentence (for sentence choice: which sentence holds which anchor)."""
        out: list[list[str]] = [[] for _ in range(self.sentences)]
        for a in self.anchors:
            out[a.sentence].append(a.key)
        return tuple(tuple(k) for k in out)


@dataclass(frozen=True, slots=True)
class AnchorSettings:
    names: NameSettings = field(default_factory=NameSettings)
    numbers: NumberSettings = field(default_factory=NumberSettings)
    fuzzy: FuzzySettings = field(default_factory=FuzzySettings)


class Anchors:
    """The glossary and settings, loaded once per process; extraction is pure and thread-safe."""

    def __init__(
        self,
        glossary: Glossary,
        costs: EditCosts = PLAIN_COSTS,
        settings: AnchorSettings = AnchorSettings(),
        date_stems: frozenset[str] = frozenset(),
        lexicon: Glossary | None = None,
    ) -> None:
        self.glossary = glossary
        self.lexicon = lexicon  # the everyday word list ("word:" keys); None: none extracted
        self.costs = costs
        self.settings = settings
        # English stems of month names and number words: a sentence with none of them in its
        # terms (and no digit) skips the number scan.
        self.date_stems = date_stems
        self._latin = LatinTokens(glossary, settings.names)

    @classmethod
    def load(
        cls,
        analyzer: Analyzer,
        glossary: Path = GLOSSARY_FILE,
        names: Path = NAMES_FILE,
        settings: AnchorSettings = AnchorSettings(),
        lexicon: Path = LEXICON_FILE,
    ) -> Anchors:
        """Raises AnchorDataError (naming the file) when the glossary, the word list or the name
        model is missing or damaged: anchors never silently go missing."""
        costs = load_edit_costs(names)
        stems = (analyzer.english_term(w) for w in (*MONTHS, *EN_WORDS))
        terms = load_glossary(analyzer, glossary)
        words = without(load_glossary(analyzer, lexicon, LEXICON_FORMAT), terms)
        return cls(terms, costs, settings, frozenset(s for s in stems if s), words)

    def vocabulary(self, keys: Iterable[str]) -> KeyVocabulary:
        """The fuzzy lookup over an index's anchor keys (build once per index snapshot)."""
        return KeyVocabulary(keys, self.settings.fuzzy, self.costs)

    def match(self, a: str, b: str) -> bool:
        """Whether two keys match (names near each other, all else equal)."""
        return keys_match(a, b, self.settings.fuzzy, self.costs)

    def passage(self, text: str, sentences: Sequence[Sentence]) -> PassageAnchors:
        """Anchors of an analysed passage (or question): `sentences` as the analyser gave them."""
        found: dict[tuple[str, int], None] = {}
        g, s, lex = self.glossary, self.settings, self.lexicon
        for i, sent in enumerate(sentences):
            piece = text[sent.start : sent.end]
            keys: list[str] = []
            if sent.tags or _HANGUL.search(piece):
                keys.extend(k for k, _ in korean_names(sent.terms, sent.tags, g, s.names))
                keys.extend("term:" + k for k, _ in g.korean_terms(sent.terms, sent.tags))
                if lex is not None:
                    keys.extend(WORD + k for k, _ in lex.korean_terms(sent.terms, sent.tags))
                # beside Kiwi a scan costs nothing (and 다섯 명 has no digit)
                keys.extend(k for k, _ in number_keys(piece, s.numbers))
            else:
                keys.extend("term:" + k for k, _ in g.english_terms(sent.terms))
                if lex is not None:
                    keys.extend(WORD + k for k, _ in lex.english_terms(sent.terms))
                words = not self.date_stems.isdisjoint(sent.terms)  # month names, number words
                if words or _DIGIT.search(piece):
                    keys.extend(k for k, _ in number_keys(piece, s.numbers, months=words, words=words))
            if _CAPITAL.search(piece):
                keys.extend(k for k, _ in latin_names(piece, self._latin))
            for k in keys:
                found[(k, i)] = None
        return PassageAnchors(tuple(Anchor(k, i) for k, i in found), len(sentences))

    def text(self, analyzer: Analyzer, text: str) -> PassageAnchors:
        """Anchors of a plain text (a question): analysed here, once."""
        return self.passage(text, analyzer.sentences(text))
