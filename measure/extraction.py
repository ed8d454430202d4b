"""Body extraction measured on real publishers' pages with the text a reader should get.

Public test suites of article extractors keep such pairs: Mozilla's readability has
`test/test-pages/NAME/source.html` (the page as saved) and `expected.html` (the article as a
reader should see it). For each page this compares the paragraphs `news.extract` indexes, and
plain `trafilatura.extract`'s text, with the expected text, sentence by sentence:

- recall: the share of the expected sentences found in what was kept;
- precision: the share of the kept sentences found in the expected text;
- refused: no body at all (`news.extract` raised), though the expected text has one.

Headings, figure captions and tables are left out of the expected text: `news.extract` never
indexes them (a heading or a caption is not a sentence to quote; tables are off). A sentence is
matched after whitespace, quote marks and dashes are normalised, as a substring of the other
side's joined text.

    uv run python -m measure.extraction tests/pages/readability [/path/to/readability/test/test-pages ...]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

SKIPPED_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "table", "script", "style", "noscript", "button")
BLOCK_TAGS = {
    "p", "div", "li", "blockquote", "pre", "section", "article", "header", "footer", "aside", "ul", "ol", "dl", "dt",
    "dd", "figure", "main", "br", "hr", "tr", "td", "th", "address", "details", "summary",
}  # fmt: skip
SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+")
# A sentence worth quoting has five words (or, in scripts written without spaces, 15 characters):
# "Advertisement", "Share", bylines and photo credits are crumbs either side may keep or drop.
MIN_WORDS, MIN_CJK_CHARS = 5, 15
QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'", "—": "-", "–": "-", "\u00a0": " "}
)


@dataclass(frozen=True, slots=True)
class PageScore:
    page: str
    system: str
    expected: int  # sentences in the expected text
    kept: int  # sentences the system kept
    recall: float
    precision: float
    refused: bool


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).translate(QUOTES).split())


def sentences(paragraphs: Sequence[str]) -> list[str]:
    out: list[str] = []
    for paragraph in paragraphs:
        out.extend(s for s in (normalise(x) for x in SENTENCE_END.split(normalise(paragraph))) if _is_sentence(s))
    return out


def _is_sentence(text: str) -> bool:
    words = text.split()
    return len(words) >= MIN_WORDS or (len(words) <= 2 and len(text) >= MIN_CJK_CHARS)


def expected_paragraphs(html: str) -> list[str]:
    """The blocks of text of an `expected.html`, without headings, captions and tables."""
    import lxml.html

    root = lxml.html.fromstring(html)
    for el in list(root.iter(*SKIPPED_TAGS)):  # listed first: dropping while iterating skips some
        if el.getparent() is not None:
            el.drop_tree()  # its tail text stays
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = normalise("".join(current))
        if text:
            blocks.append(text)
        current.clear()

    def walk(el: object) -> None:
        tag = getattr(el, "tag", None)
        block = isinstance(tag, str) and tag in BLOCK_TAGS
        if block:
            flush()
        if isinstance(tag, str) and el.text:  # type: ignore[attr-defined]
            current.append(el.text)  # type: ignore[attr-defined]
        for child in el:  # type: ignore[attr-defined]
            walk(child)
            if child.tail:
                current.append(child.tail)
        if block:
            flush()

    walk(root)
    flush()
    return blocks


def score(page: str, system: str, kept: Sequence[str] | None, expected: Sequence[str]) -> PageScore:
    want = sentences(expected)
    got = sentences(kept or ())
    want_text, got_text = " ".join(want), " ".join(got)
    recall = sum(s in got_text for s in want) / len(want) if want else 1.0
    precision = sum(s in want_text for s in got) / len(got) if got else (1.0 if not want else 0.0)
    return PageScore(page, system, len(want), len(got), round(recall, 4), round(precision, 4), kept is None)


def ours(html: str, url: str) -> list[str] | None:
    from news.errors import ExtractError
    from news.extract import extract

    try:
        return list(extract(html, url).paragraphs)
    except ExtractError:
        return None


def plain_trafilatura(html: str, url: str) -> list[str] | None:
    import trafilatura

    text = trafilatura.extract(html, url=url or None)
    return text.splitlines() if text else None


SYSTEMS: dict[str, Callable[[str, str], list[str] | None]] = {"quoteqa": ours, "trafilatura.extract": plain_trafilatura}


def page_dirs(roots: Sequence[Path]) -> list[Path]:
    """Every folder under `roots` (or a root itself) with a source.html and an expected.html."""
    found: list[Path] = []
    for root in roots:
        candidates = [root] if (root / "source.html").exists() else sorted(p for p in root.iterdir() if p.is_dir())
        found += [p for p in candidates if (p / "source.html").exists() and (p / "expected.html").exists()]
    return found


def page_url(folder: Path) -> str:
    """The page's address when its folder says (readability keeps one in expected-metadata.json
    for some pages); else a stand-in under example.org, as readability's own runner does."""
    meta = folder / "expected-metadata.json"
    if meta.exists():
        url = json.loads(meta.read_text("utf-8")).get("url")
        if isinstance(url, str) and url.startswith("http"):
            return url
    return f"http://fakehost/{folder.name}/"


def evaluate(folders: Sequence[Path]) -> list[PageScore]:
    rows: list[PageScore] = []
    for folder in folders:
        html = (folder / "source.html").read_text("utf-8", errors="replace")
        expected = expected_paragraphs((folder / "expected.html").read_text("utf-8", errors="replace"))
        url = page_url(folder)
        for name, system in SYSTEMS.items():
            rows.append(score(folder.name, name, system(html, url), expected))
    return rows


def summary(rows: Sequence[PageScore]) -> dict[str, dict[str, float]]:
    """Per system: mean recall and precision over pages (each page counts once), pooled
    sentence recall, and refused pages."""
    out: dict[str, dict[str, float]] = {}
    for name in SYSTEMS:
        mine = [r for r in rows if r.system == name]
        if not mine:
            continue
        out[name] = {
            "pages": len(mine),
            "recall": round(statistics.fmean(r.recall for r in mine), 4),
            "precision": round(statistics.fmean(r.precision for r in mine), 4),
            "pooled_recall": round(sum(r.recall * r.expected for r in mine) / max(1, sum(r.expected for r in mine)), 4),
            "refused": sum(r.refused for r in mine),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m measure.extraction", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "roots", nargs="+", type=Path, help="folders of page folders (source.html + expected.html), or page folders"
    )
    parser.add_argument("--json", action="store_true", help="every page's scores and the summary as one JSON object")
    args = parser.parse_args(argv)
    folders = page_dirs(args.roots)
    if not folders:
        print(
            "measure.extraction: no page folders (source.html + expected.html) under "
            + ", ".join(map(str, args.roots)),
            file=sys.stderr,
        )
        return 2
    rows = evaluate(folders)
    if args.json:
        print(json.dumps({"pages": [asdict(r) for r in rows], "summary": summary(rows)}, ensure_ascii=False))
        return 0
    print(f"{'page':24} {'system':20} {'sent':>5} {'kept':>5} {'recall':>7} {'prec':>7}")
    for r in rows:
        flag = "  REFUSED" if r.refused else ""
        print(f"{r.page[:24]:24} {r.system:20} {r.expected:5d} {r.kept:5d} {r.recall:7.3f} {r.precision:7.3f}{flag}")
    for name, s in summary(rows).items():
        print(
            f"{name}: {s['pages']:.0f} pages, recall {s['recall']:.3f} (pooled {s['pooled_recall']:.3f}), precision {s['precision']:.3f}, refused {s['refused']:.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
