"""Language-neutral anchors measured on the aligned Korean–English news dev set.

Data: `../shared/data/ko-en-news-dev/` (line n of `.en` translates line n of `.ko`; stories.jsonl
groups lines into stories). Halves by story number: `story % 2 == 0` is FIT, the rest REPORT (the
same rule as the news dev set built elsewhere). Anything chosen here (the fuzzy levels, the weight
of anchors beside the encoder) is chosen on FIT; every figure is printed for REPORT (FIT beside it).

* names: for each Hangul proper noun Kiwi tagged (NNP) in a Korean line, is one of its keys
  found among the keys of the twin English line (recall), or of a random English line of another
  story (false match)? The starting point (Revised Romanization reduced to a consonant skeleton,
  against the twin line's capitalised words within 1 or 2 edits) beside ours.
* numbers: the share of a Korean line's number and date keys found in the twin line / a random one.
* glossary: the share of Korean nouns (NNG, NNP) with a glossary term whose key the twin has.
* twins: for every sentence, is its twin the nearest of all 1,000 sentences of the other
  language? (a) anchors alone, (b) the encoder alone (USE-m3), (c) the encoder plus anchors.
* cost: anchor extraction per passage against the analyser's own time on the same lines.

    uv run python -m measure.anchors [--data DIR] [--no-encoder] [--fit-names] [--json]

`--fit-names` rewrites retrieval/text/anchors/names.json (the learned edit costs) from FIT;
run it once more without the flag to read the figures with the costs it wrote.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from retrieval.text.analyze import HANGUL, Analyzer, Sentence
from retrieval.text.anchors import Anchors, EditCosts, FuzzySettings, PassageAnchors, keys_match
from retrieval.text.anchors.fuzzy import NAMES_FILE, NAMES_FORMAT, KeyVocabulary, alignment, edit_distance
from retrieval.text.anchors.names import korean_word_keys
from retrieval.text.anchors.skeleton import revised_skeleton

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "ko-en-news-dev"
ENCODER_CACHE = Path("/tmp/quoteqa-test-encoder")
SEED = 20240611
# Candidate fuzzy levels, chosen on FIT by twin R@1 of anchors alone (both directions).
FUZZY_GRID = tuple(FuzzySettings(e, a, t) for e in (3, 4, 5) for a in (0.0, 0.5) for t in (6, 7, 8))
CHEAP = 0.5  # cost of a learned edit
MIN_CHEAP_COUNT = 5  # an edit seen this often between twins ...
MIN_CHEAP_RATIO = 3.0  # ... and this many times more often than between a line and a random one
WEIGHTS = tuple(round(0.01 * i, 2) for i in range(0, 51))  # anchor weight beside the cosine


@dataclass(frozen=True, slots=True)
class News:
    ko: tuple[str, ...]
    en: tuple[str, ...]
    fit: npt.NDArray[np.bool_]  # per line: its story is in the FIT half
    story: npt.NDArray[np.int64]


def load(data: Path = DATA) -> News:
    ko = (data / "korean-english-park.dev.ko").read_text("utf-8").split("\n")
    en = (data / "korean-english-park.dev.en").read_text("utf-8").split("\n")
    stories = [json.loads(line) for line in (data / "stories.jsonl").read_text("utf-8").splitlines() if line.strip()]
    n = sum(len(s["lines"]) for s in stories)
    story = np.full(n, -1, np.int64)
    for s in stories:
        story[s["lines"]] = s["story"]
    return News(tuple(ko[:n]), tuple(en[:n]), story % 2 == 0, story)


def random_others(news: News, seed: int = SEED) -> list[int]:
    """For each line, a line of another story (fixed seed): the false-match yardstick."""
    rng = random.Random(seed)
    n = len(news.ko)
    out = []
    for i in range(n):
        j = rng.randrange(n)
        while news.story[j] == news.story[i]:
            j = rng.randrange(n)
        out.append(j)
    return out


def _share(hits: Sequence[bool]) -> float:
    return sum(hits) / len(hits) if hits else float("nan")


def hangul_proper_nouns(sentences: Sequence[Sentence]) -> list[str]:
    return [t for s in sentences for t, tag in zip(s.terms, s.tags, strict=False) if tag == "NNP" and HANGUL.match(t)]


_CAPITAL = re.compile(r"\b[A-Z][A-Za-z'-]*")


def baseline_names(
    news: News, ko_sents: Sequence[list[Sentence]], other: Sequence[int], edits: int
) -> dict[str, dict[str, float]]:
    """The starting point: RR skeleton of each NNP (two letters at least) within `edits` of a
    capitalised word's skeleton."""
    out = {}
    for half, mask in (("FIT", news.fit), ("REPORT", ~news.fit)):
        twin_hits, rand_hits = [], []
        for i in np.flatnonzero(mask):
            names = hangul_proper_nouns(ko_sents[i])
            twin = [revised_skeleton(w) for w in _CAPITAL.findall(news.en[i])]
            rand = [revised_skeleton(w) for w in _CAPITAL.findall(news.en[other[i]])]
            for name in names:
                s = revised_skeleton(name)
                if len(s) < 2:
                    twin_hits.append(False)
                    rand_hits.append(False)
                    continue
                twin_hits.append(any(edit_distance(s, x, edits) <= edits for x in twin))
                rand_hits.append(any(edit_distance(s, x, edits) <= edits for x in rand))
        out[half] = {"names": len(twin_hits), "recall": _share(twin_hits), "false": _share(rand_hits)}
    return out


def our_names(
    news: News, anchors: Anchors, ko_sents: Sequence[list[Sentence]], en_anchors: Sequence[PassageAnchors],
    other: Sequence[int], fuzzy: FuzzySettings, costs: EditCosts, only_names: bool = False,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Each NNP's own keys (its glossary term, else its name keys) against all keys of the line."""
    out = {}
    for half, mask in (("FIT", news.fit), ("REPORT", ~news.fit)):
        twin_hits, rand_hits = [], []
        for i in np.flatnonzero(mask):
            twin, rand = en_anchors[i].keys, en_anchors[other[i]].keys
            for name in hangul_proper_nouns(ko_sents[i]):
                keys = korean_word_keys(name, anchors.glossary, anchors.settings.names)
                if only_names and not any(k.startswith("name:") for k in keys):
                    continue
                twin_hits.append(any(keys_match(k, x, fuzzy, costs) for k in keys for x in twin))
                rand_hits.append(any(keys_match(k, x, fuzzy, costs) for k in keys for x in rand))
        out[half] = {"names": len(twin_hits), "recall": _share(twin_hits), "false": _share(rand_hits)}
    return out


def numbers(
    news: News, ko_anchors: Sequence[PassageAnchors], en_anchors: Sequence[PassageAnchors], other: Sequence[int]
) -> dict[str, dict[str, float]]:
    out = {}
    for half, mask in (("FIT", news.fit), ("REPORT", ~news.fit)):
        twin_hits, rand_hits = [], []
        for i in np.flatnonzero(mask):
            twin, rand = set(en_anchors[i].keys), set(en_anchors[other[i]].keys)
            for a in ko_anchors[i].anchors:
                if a.kind in ("number", "date"):
                    twin_hits.append(a.key in twin)
                    rand_hits.append(a.key in rand)
        out[half] = {"keys": len(twin_hits), "recall": _share(twin_hits), "false": _share(rand_hits)}
    return out


def glossary(
    news: News, anchors: Anchors, ko_sents: Sequence[list[Sentence]], en_anchors: Sequence[PassageAnchors]
) -> dict[str, dict[str, float]]:
    out = {}
    g = anchors.glossary
    for half, mask in (("FIT", news.fit), ("REPORT", ~news.fit)):
        nouns = with_term = found = 0
        for i in np.flatnonzero(mask):
            twin = set(en_anchors[i].keys)
            for s in ko_sents[i]:
                for t, tag in zip(s.terms, s.tags, strict=False):
                    if tag not in ("NNG", "NNP"):
                        continue
                    nouns += 1
                    key = g.korean.get((t,))
                    if key is not None:
                        with_term += 1
                        found += f"term:{key}" in twin
        out[half] = {"nouns": nouns, "with_term": with_term / nouns, "found": found / nouns,
                     "found_of_with_term": found / max(with_term, 1)}  # fmt: skip
    return out


def anchor_scores(
    a: Sequence[PassageAnchors], b: Sequence[PassageAnchors], fuzzy: FuzzySettings, costs: EditCosts
) -> npt.NDArray[np.float64]:
    """Sentence × sentence: idf-weighted Dice overlap of keys (names matched near, as a question's
    name keys would be expanded against the index's vocabulary)."""
    n = len(b)
    vocab = KeyVocabulary((k for p in b for k in p.keys), fuzzy, costs)
    postings: dict[str, list[int]] = {}
    for j, p in enumerate(b):
        for k in p.keys:
            postings.setdefault(k, []).append(j)
    df = {k: len(v) for k, v in postings.items()}
    idf_b = {k: math.log(1 + n / d) for k, d in df.items()}
    mass_b = np.array([sum(idf_b[k] for k in p.keys) for p in b], np.float64)
    out = np.zeros((len(a), n), np.float64)
    expansions: dict[str, tuple[str, ...]] = {}
    for i, p in enumerate(a):
        row = np.zeros(n, np.float64)
        mass_a = 0.0
        for k in p.keys:
            near = expansions.get(k)
            if near is None:
                near = expansions[k] = vocab.expand(k)
            hit = sorted({j for e in near for j in postings[e]})
            w = math.log(1 + n / len(hit)) if hit else math.log(1 + n)
            mass_a += w
            if hit:
                row[hit] += w
        out[i] = 2 * row / np.maximum(mass_a + mass_b, 1e-9)
    return out


def recall_at_1(scores: npt.NDArray[np.float64], rows: npt.NDArray[np.int64]) -> float:
    """Rows are queries (their twin is the same index); ties count against."""
    if not len(rows):
        return float("nan")
    s = scores[rows]
    twin = s[np.arange(len(rows)), rows]
    s = s.copy()
    s[np.arange(len(rows)), rows] = -np.inf
    return float(np.mean(twin > s.max(axis=1)))


def twins(
    news: News, ko_a: Sequence[PassageAnchors], en_a: Sequence[PassageAnchors], fuzzy: FuzzySettings,
    costs: EditCosts, encoder: bool,
) -> dict[str, object]:  # fmt: skip
    fit_rows = np.flatnonzero(news.fit)
    rep_rows = np.flatnonzero(~news.fit)
    ke = anchor_scores(ko_a, en_a, fuzzy, costs)
    ek = anchor_scores(en_a, ko_a, fuzzy, costs)
    out: dict[str, object] = {
        "anchors": {
            d: {"FIT": recall_at_1(m, fit_rows), "REPORT": recall_at_1(m, rep_rows)}
            for d, m in (("ko>en", ke), ("en>ko", ek))
        }
    }
    if not encoder:
        return out
    from retrieval.text.encoder import UseM3

    enc = UseM3(ENCODER_CACHE, threads=2)
    vk, ve = enc.encode(list(news.ko)), enc.encode(list(news.en))
    cos = (vk @ ve.T).astype(np.float64)
    out["encoder"] = {
        d: {"FIT": recall_at_1(m, fit_rows), "REPORT": recall_at_1(m, rep_rows)}
        for d, m in (("ko>en", cos), ("en>ko", cos.T))
    }
    # One weight for both directions, the best on FIT (summed over the two).
    fit_score = [recall_at_1(cos + w * ke, fit_rows) + recall_at_1(cos.T + w * ek, fit_rows) for w in WEIGHTS]
    w = WEIGHTS[int(np.argmax(fit_score))]
    out["weight"] = w
    out["encoder+anchors"] = {
        d: {"FIT": recall_at_1(m, fit_rows), "REPORT": recall_at_1(m, rep_rows)}
        for d, m in (("ko>en", cos + w * ke), ("en>ko", cos.T + w * ek))
    }
    return out


def timed_analysis(analyzer: Analyzer, lines: Sequence[str]) -> tuple[list[list[Sentence]], float]:
    list(analyzer.analyze_passages(lines[:50]))  # warm
    t = time.perf_counter()
    sents = list(analyzer.analyze_passages(lines))
    return sents, time.perf_counter() - t


def timed_anchors(
    anchors: Anchors, lines: Sequence[str], sents: Sequence[list[Sentence]]
) -> tuple[list[PassageAnchors], float]:
    t = time.perf_counter()
    out = [anchors.passage(text, s) for text, s in zip(lines, sents, strict=True)]
    return out, time.perf_counter() - t


def choose_fuzzy(
    news: News, ko_a: Sequence[PassageAnchors], en_a: Sequence[PassageAnchors], costs: EditCosts
) -> tuple[FuzzySettings, list[tuple[FuzzySettings, float]]]:
    """The levels with the best twin R@1 of anchors alone on FIT (both directions summed)."""
    rows = np.flatnonzero(news.fit)
    grid = []
    for f in FUZZY_GRID:
        r = recall_at_1(anchor_scores(ko_a, en_a, f, costs), rows) + recall_at_1(
            anchor_scores(en_a, ko_a, f, costs), rows
        )
        grid.append((f, r / 2))
    return max(grid, key=lambda g: g[1])[0], grid


def mine_edits(
    news: News, anchors: Anchors, ko_sents: Sequence[list[Sentence]], en_a: Sequence[PassageAnchors],
    other: Sequence[int], max_edits: int = 2,
) -> tuple[Counter[str], Counter[str], int]:  # fmt: skip
    """On FIT only: for each Hangul name key with no exact partner in the twin line, the edits
    to its nearest English name key within `max_edits` (twin), and the same against a random line."""
    twin_ops: Counter[str] = Counter()
    rand_ops: Counter[str] = Counter()
    pairs = 0
    for i in np.flatnonzero(news.fit):
        for name in hangul_proper_nouns(ko_sents[i]):
            keys = [
                k[5:] for k in korean_word_keys(name, anchors.glossary, anchors.settings.names) if k.startswith("name:")
            ]
            for line, ops in ((i, twin_ops), (other[i], rand_ops)):
                cands = [x[5:] for x in en_a[line].keys if x.startswith("name:")]
                if any(k == x for k in keys for x in cands):
                    continue
                best = min(((edit_distance(k, x, max_edits), k, x) for k in keys for x in cands), default=None)
                if best is not None and best[0] <= max_edits:
                    ops.update(alignment(best[1], best[2]))
                    pairs += line == i
    return twin_ops, rand_ops, pairs


def fit_edit_costs(twin_ops: Counter[str], rand_ops: Counter[str]) -> dict[str, float]:
    return {
        op: CHEAP
        for op, t in sorted(twin_ops.items())
        if t >= MIN_CHEAP_COUNT and t >= MIN_CHEAP_RATIO * max(rand_ops.get(op, 0), 1)
    }


def write_edit_costs(
    costs: dict[str, float], twin_ops: Counter[str], rand_ops: Counter[str], path: Path = NAMES_FILE
) -> None:
    data = {
        "format": NAMES_FORMAT,
        "about": "Skeleton edits that cost less when matching names across scripts. Learned by "
        "`uv run python -m measure.anchors --fit-names` from the FIT half (story % 2 == 0) of the "
        "ko-en news dev set: an edit seen at least "
        f"{MIN_CHEAP_COUNT} times between a Korean name and its twin line's nearest name, and "
        f"{MIN_CHEAP_RATIO}x as often as against a random line, costs {CHEAP}.",
        "costs": costs,
        "evidence": {
            op: [twin_ops[op], rand_ops.get(op, 0)] for op in sorted(twin_ops, key=lambda o: -twin_ops[o])[:30]
        },
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")


def run(data: Path = DATA, encoder: bool = True, fit_names: bool = False) -> dict[str, object]:
    news = load(data)
    analyzer = Analyzer(workers=1)
    anchors = Anchors.load(analyzer)
    ko_sents, ko_t = timed_analysis(analyzer, news.ko)
    en_sents, en_t = timed_analysis(analyzer, news.en)
    ko_a, ko_at = timed_anchors(anchors, news.ko, ko_sents)
    en_a, en_at = timed_anchors(anchors, news.en, en_sents)
    # Timed again, interleaved, on the shared machine: the best of three of each.
    for _ in range(2):
        ko_t = min(ko_t, timed_analysis(analyzer, news.ko)[1])
        ko_at = min(ko_at, timed_anchors(anchors, news.ko, ko_sents)[1])
        en_t = min(en_t, timed_analysis(analyzer, news.en)[1])
        en_at = min(en_at, timed_anchors(anchors, news.en, en_sents)[1])
    other = random_others(news)
    twin_ops, rand_ops, pairs = mine_edits(news, anchors, ko_sents, en_a, other)
    learned = fit_edit_costs(twin_ops, rand_ops)
    if fit_names:
        write_edit_costs(learned, twin_ops, rand_ops)
    costs = anchors.costs
    fuzzy = anchors.settings.fuzzy
    best, grid = choose_fuzzy(news, ko_a, en_a, costs)
    n = len(news.ko)
    plain = EditCosts()
    report: dict[str, object] = {
        "lines": n, "fit_lines": int(news.fit.sum()), "report_lines": int((~news.fit).sum()),
        "names": {
            "baseline RR skeleton, 1 edit": baseline_names(news, ko_sents, other, 1),
            "baseline RR skeleton, 2 edits": baseline_names(news, ko_sents, other, 2),
            "ours, NNP with name keys, no learned costs": our_names(news, anchors, ko_sents, en_a, other, fuzzy, plain, only_names=True),
            "ours, NNP with name keys": our_names(news, anchors, ko_sents, en_a, other, fuzzy, costs, only_names=True),
            "ours, all NNP (glossary term or name keys)": our_names(news, anchors, ko_sents, en_a, other, fuzzy, costs),
        },
        "edits": {"mined_pairs_FIT": pairs, "learned": learned, "shipped": dict(costs.costs),
                  "top": [[op, twin_ops[op], rand_ops.get(op, 0)] for op, _ in twin_ops.most_common(12)]},
        "fuzzy_shipped": fuzzy,
        "fuzzy_best_on_FIT": best,
        "fuzzy_grid_FIT": [[f.exact_below, f.short_allowance, f.two_edits_from, round(r, 3)] for f, r in grid],
        "numbers": numbers(news, ko_a, en_a, other),
        "glossary": {"entries": anchors.glossary.entries, **glossary(news, anchors, ko_sents, en_a)},
        "twins": twins(news, ko_a, en_a, fuzzy, costs, encoder),
        "cost": {
            "ko analyser us/line": ko_t / n * 1e6, "ko anchors us/line": ko_at / n * 1e6, "ko ratio": ko_at / ko_t,
            "en analyser us/line": en_t / n * 1e6, "en anchors us/line": en_at / n * 1e6, "en ratio": en_at / en_t,
            "both ratio": (ko_at + en_at) / (ko_t + en_t),
        },
        "keys_per_line": {"ko": float(np.mean([len(p.keys) for p in ko_a])), "en": float(np.mean([len(p.keys) for p in en_a]))},
    }  # fmt: skip
    return report


def _print(report: dict[str, object]) -> None:
    def fmt(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    print(f"lines {report['lines']} (FIT {report['fit_lines']}, REPORT {report['report_lines']}; FIT = story % 2 == 0)")
    print("\nnames: Hangul NNP of a Korean line found in its twin English line (recall) / a random line (false)")
    for name, halves in report["names"].items():  # type: ignore[attr-defined]
        r, f = halves["REPORT"], halves["FIT"]
        print(
            f"  {name:46s} REPORT recall {fmt(r['recall'])} false {fmt(r['false'])} (n={r['names']})   FIT {fmt(f['recall'])} / {fmt(f['false'])}"
        )
    e = report["edits"]
    print(f"  learned edits (FIT, {e['mined_pairs_FIT']} mined pairs): {e['learned']}; shipped: {e['shipped']}")  # type: ignore[index]
    print(f"  most common edits [edit, twin, random line]: {e['top']}")  # type: ignore[index]
    print(f"  fuzzy levels shipped {report['fuzzy_shipped']}; best on FIT {report['fuzzy_best_on_FIT']}")
    print(
        f"  grid on FIT (exact below, short allowance, two edits from, anchors-alone R@1): {report['fuzzy_grid_FIT']}"
    )
    print("\nnumbers and dates: Korean keys found in the twin line / a random line")
    for half in ("REPORT", "FIT"):
        h = report["numbers"][half]  # type: ignore[index]
        print(f"  {half:6s} recall {fmt(h['recall'])} false {fmt(h['false'])} (keys {h['keys']})")
    g = report["glossary"]
    print(f"\nglossary ({g['entries']} entries): Korean NNG/NNP nouns")  # type: ignore[index]
    for half in ("REPORT", "FIT"):
        h = g[half]  # type: ignore[index]
        print(
            f"  {half:6s} with a term {fmt(h['with_term'])}, term found in twin {fmt(h['found'])} ({fmt(h['found_of_with_term'])} of those with a term; nouns {h['nouns']})"
        )
    print("\ntwin sentence R@1 among all 1,000 of the other language")
    t = report["twins"]
    for what in ("anchors", "encoder", "encoder+anchors"):
        if what in t:  # type: ignore[operator]
            d = t[what]  # type: ignore[index]
            print(
                f"  {what:16s} ko>en REPORT {fmt(d['ko>en']['REPORT'])} (FIT {fmt(d['ko>en']['FIT'])})   en>ko REPORT {fmt(d['en>ko']['REPORT'])} (FIT {fmt(d['en>ko']['FIT'])})"
            )
    if "weight" in t:  # type: ignore[operator]
        print(f"  anchor weight (fitted on FIT): {t['weight']}")  # type: ignore[index]
    c = report["cost"]
    print("\ncost per line (one thread)")
    print(
        f"  ko: analyser {c['ko analyser us/line']:.0f} us, anchors {c['ko anchors us/line']:.1f} us, ratio {c['ko ratio']:.3f}"
    )  # type: ignore[index]
    print(
        f"  en: analyser {c['en analyser us/line']:.1f} us, anchors {c['en anchors us/line']:.1f} us, ratio {c['en ratio']:.3f}"
    )  # type: ignore[index]
    print(f"  both languages: ratio {c['both ratio']:.3f}")  # type: ignore[index]
    print(f"keys per line: {report['keys_per_line']}")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--no-encoder", action="store_true", help="skip the encoder figures (b) and (c)")
    p.add_argument("--fit-names", action="store_true", help="write the learned edit costs (FIT half) to names.json")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    report = run(args.data, encoder=not args.no_encoder, fit_names=args.fit_names)
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        _print(report)


if __name__ == "__main__":
    main()
