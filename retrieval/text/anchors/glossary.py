"""The ko↔en news glossary (glossary.tsv): words both languages write differently, one key each.

Entries are matched on what the analyser already made of a sentence (Kiwi morphemes, English
stems), so each form is analysed once at load with the same analyser: "Department of Energy"
becomes (depart, energi) and matches "the Energy Department's" only through its own variant
(energi, depart). A Korean form is kept as a morpheme sequence only when the morphemes spell
it out whole (국방부 as 국방+부 would otherwise shrink to 국방); it is also kept as one word,
which a compound term (NNC) or a single Kiwi noun matches. English forms that are acronyms,
dotted (U.S., N. Korea) or marked "=" (=House, =May: common words only as capitalised) are
matched as written, since stemming folds case and drops single letters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import AnchorDataError

if TYPE_CHECKING:
    from retrieval.text.analyze import Analyzer

GLOSSARY_FILE = Path(__file__).with_name("glossary.tsv")
GLOSSARY_FORMAT = "# quoteqa Korean–English news glossary, format 1."
LEXICON_FILE = Path(__file__).with_name("lexicon.tsv")  # everyday news words: the "word:" keys
LEXICON_FORMAT = "# quoteqa Korean–English news word list, format 1."
MIN_ENTRIES = 100  # fewer means a truncated file, not a small glossary
# the glossary's section lines ("# --- name ---") whose keys are places
PLACE_SECTIONS = frozenset({"countries, their people and adjectives", "regions", "capitals and big cities"})
SECTION = re.compile(r"# --- (.+?) ---")
KEY = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: token lookups are cached per glossary
class Glossary:
    """Analysed forms → term keys, with lookup tables built for the sentence scan."""

    path: Path
    korean: Mapping[tuple[str, ...], str]  # morpheme sequence → key
    english: Mapping[tuple[str, ...], str]  # stem sequence → key
    surface: Mapping[str, str]  # an English form as written (dots and case kept) → key
    korean_first: Mapping[str, int]  # first morpheme → longest sequence starting with it
    english_first: Mapping[str, int]
    english_words: frozenset[str]  # lower-cased words of English forms (an acronym among them is a term)
    english_single: frozenset[str]  # lower-cased one-word English forms: not names
    english_phrases: frozenset[tuple[str, ...]]  # lower-cased words of the longer English forms
    longest_phrase: int
    korean_words: frozenset[str]  # Korean forms (one word): not names of people
    entries: int
    # keys of the countries, regions and cities (`PLACE_SECTIONS`): a place no passage names, in
    # either script, is one the corpus does not cover (the off-topic gate, `offtopic.py`)
    places: frozenset[str] = frozenset()

    def korean_terms(self, terms: Sequence[str], tags: Sequence[str]) -> Iterator[tuple[str, int]]:
        """(key, term index) of entries in a Korean sentence's terms, longest first."""
        stream = [i for i, tag in enumerate(tags) if tag != "NNC"]
        yield from _scan(terms, stream, self.korean, self.korean_first)
        for i, tag in enumerate(tags):
            if tag == "NNC":
                key = self.korean.get((terms[i],))
                if key is not None:
                    yield key, i

    def english_terms(self, terms: Sequence[str]) -> Iterator[tuple[str, int]]:
        first, table = self.english_first, self.english
        p, n = 0, len(terms)
        while p < n:
            longest = first.get(terms[p])
            if longest is None:
                p += 1
                continue
            for length in range(min(longest, n - p), 0, -1):
                key = table.get(tuple(terms[p : p + length]))
                if key is not None:
                    yield key, p
                    p += length
                    break
            else:
                p += 1


def _scan(
    terms: Sequence[str], stream: Sequence[int], table: Mapping[tuple[str, ...], str], first: Mapping[str, int]
) -> Iterator[tuple[str, int]]:
    p, n = 0, len(stream)
    while p < n:
        longest = first.get(terms[stream[p]])
        if longest is None:
            p += 1
            continue
        for length in range(min(longest, n - p), 0, -1):
            key = table.get(tuple(terms[stream[q]] for q in range(p, p + length)))
            if key is not None:
                yield key, stream[p]
                p += length
                break
        else:
            p += 1


def is_surface_form(form: str) -> bool:
    """Forms matched as written: marked "=", dotted, or all capitals (US, IAEA)."""
    return form.startswith("=") or "." in form or (len(form) > 1 and form.replace(" ", "").isupper())


def load_glossary(
    analyzer: Analyzer, path: Path = GLOSSARY_FILE, header: str = GLOSSARY_FORMAT, min_entries: int = MIN_ENTRIES
) -> Glossary:
    """Read and analyse the glossary (or the word list, `lexicon.tsv`: the same layout under its
    own `header`); a missing or damaged file is an AnchorDataError naming it."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorDataError(f"cannot read the anchor glossary {path}: {exc}") from exc
    if not lines or lines[0] != header:
        raise AnchorDataError(f"the anchor glossary {path} is damaged: its first line must be {header!r}")
    korean: dict[tuple[str, ...], str] = {}
    english: dict[tuple[str, ...], str] = {}
    surface: dict[str, str] = {}
    english_words: set[str] = set()
    english_single: set[str] = set()
    english_phrases: set[tuple[str, ...]] = set()
    korean_words: set[str] = set()
    seen: dict[str, str] = {}
    keys: set[str] = set()
    places: set[str] = set()
    section = ""
    for n, line in enumerate(lines, 1):
        if (m := SECTION.match(line)) is not None:
            section = m.group(1)
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 3 or not KEY.fullmatch(cols[0]) or cols[0] in keys:
            raise AnchorDataError(
                f"the anchor glossary {path} is damaged at line {n}: expected a new key [a-z0-9_], "
                f"Korean forms and English forms, tab-separated: {line[:80]!r}"
            )
        key = cols[0]
        keys.add(key)
        if section in PLACE_SECTIONS:
            places.add(key)
        for form in (f.strip() for col in cols[1:] for f in col.split("|")):
            if not form:
                raise AnchorDataError(f"the anchor glossary {path} is damaged at line {n}: an empty form")
            if seen.setdefault(form, key) != key:
                raise AnchorDataError(f"the anchor glossary {path}, line {n}: {form!r} is already under {seen[form]!r}")
        for form in cols[1].split("|"):
            _add_korean(analyzer, form.strip(), key, korean)
            korean_words.add(form.strip().replace(" ", ""))
        for form in cols[2].split("|"):
            form = form.strip()
            english_words.update(w.lower() for w in re.findall(r"[^\W\d_]+", form.lstrip("=")))
            words = tuple(form.lstrip("=").lower().split())
            if len(words) == 1:
                english_single.add(words[0])
            else:
                english_phrases.add(words)
            if is_surface_form(form):
                surface[form.lstrip("=")] = key
                continue
            stems = tuple(analyzer.english_terms(form))
            if stems:
                english.setdefault(stems, key)
    if len(keys) < min_entries:
        raise AnchorDataError(
            f"the anchor glossary {path} is damaged: {len(keys)} entries, expected at least {min_entries}"
        )
    return Glossary(
        path=path, korean=korean, english=english, surface=surface,
        korean_first=_first(korean), english_first=_first(english),
        english_words=frozenset(english_words), english_single=frozenset(english_single),
        english_phrases=frozenset(english_phrases),
        longest_phrase=max((len(p) for p in english_phrases), default=0), korean_words=frozenset(korean_words), entries=len(keys),
        places=frozenset(places),
    )  # fmt: skip


def without(words: Glossary, glossary: Glossary) -> Glossary:
    """The word list less the forms the glossary already has (their term keys stand for them)."""
    korean = {k: v for k, v in words.korean.items() if k not in glossary.korean}
    english = {k: v for k, v in words.english.items() if k not in glossary.english}
    surface = {k: v for k, v in words.surface.items() if k not in glossary.surface}
    return replace(
        words, korean=korean, english=english, surface=surface,
        korean_first=_first(korean), english_first=_first(english),
    )  # fmt: skip


def _add_korean(analyzer: Analyzer, form: str, key: str, table: dict[tuple[str, ...], str]) -> None:
    whole = form.replace(" ", "")
    table.setdefault((whole,), key)
    for sentence in analyzer.sentences(form):
        parts = tuple(t for t, tag in zip(sentence.terms, sentence.tags, strict=False) if tag != "NNC")
        # a verb in its dictionary form (거부하다, 숨지다) is matched by what Kiwi keeps of it (거부; 숨지)
        if parts and ("".join(parts) == whole or whole.endswith("다")):
            table.setdefault(parts, key)


def _first(table: Mapping[tuple[str, ...], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for seq in table:
        out[seq[0]] = max(out.get(seq[0], 0), len(seq))
    return out
