"""The news figures as Markdown tables: what `quoteqa eval --news` prints, pasted as is into
docs/quality.md (a terminal reads Markdown well enough, and no figure is retyped by hand)."""

from __future__ import annotations

from collections.abc import Mapping

GROUP_LABELS = {
    "all": "all", "same": "same language", "cross": "cross language", "ko>en": "ko question > en story",
    "en>ko": "en question > ko story", "en>en": "en > en", "ko>ko": "ko > ko",
}  # fmt: skip
ECE_NOTE = (
    "ECE: 10 equal-width bins. *verdict*: the shown confidence read as the chance the verdict is right "
    "(`answer`/`unsure` right iff the first quote is gold; `abstain` right iff the question is off-topic or the "
    "quote it would have led with, from a probe without verdicts, is not gold). *flipped*: the same with an "
    "abstention's confidence read as 1 - confidence (the reading before the calibration round, when the shown "
    "confidence was the first quote's chance whatever the verdict; now it is the wrong reading). *answered*: "
    "confidence against hit@1 over `answer`/`unsure` rows only."
)


def _p(x: object) -> str:
    return "–" if x is None else f"{x:.3f}"  # type: ignore[str-format]


def _pct(x: object) -> str:
    return "–" if x is None else f"{x:.1%}"  # type: ignore[str-format]


def half_tables(name: str, figures: Mapping[str, object]) -> str:
    """One half: answerable figures by group, off-topic, calibration, and hit@1 by kind."""
    g = figures["groups"]  # type: ignore[index]
    out = [
        f"**{name}**",
        "",
        "| answerable | n | hit@1 (kept) | hit@3 | sure but wrong | refused | unsure |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in GROUP_LABELS.items():
        f = g[key]  # type: ignore[index]
        out.append(
            f"| {label} | {f['n']} | {_p(f['hit@1'])} | {_p(f['hit@3'])} | {_pct(f['sure_wrong'])} | "
            f"{_pct(f['refused'])} | {_pct(f['unsure'])} |"
        )
    off = figures["offtopic"]  # type: ignore[index]
    cal = figures["calibration"]  # type: ignore[index]
    out += [
        "",
        "| off-topic | n | refused | marked `answer` |",
        "|---|---:|---:|---:|",
        *(
            f"| {lang} questions | {off[lang]['n']} | {_pct(off[lang]['refused'])} | {_pct(off[lang]['answer'])} |"
            for lang in ("all", "en", "ko")
        ),  # type: ignore[index]
        "",
        f"ECE over all {sum(figures['verdicts'].values())} rows: verdict {_p(cal['ece_verdict'])}, "  # type: ignore[index,union-attr]
        f"flipped {_p(cal['ece_abstain_flipped'])}; answered rows only {_p(cal['ece_answered'])}. "
        f"Verdicts: {', '.join(f'{k} {v}' for k, v in figures['verdicts'].items())}.",  # type: ignore[index,union-attr]
        "",
        "| kind | n same / cross | hit@1 same | hit@1 cross | sure but wrong same | sure but wrong cross |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, f in figures["kinds"].items():  # type: ignore[index,union-attr]
        s, c = f["same"], f["cross"]
        out.append(
            f"| {kind} | {s['n']} / {c['n']} | {_p(s['hit@1'])} | {_p(c['hit@1'])} | {_pct(s['sure_wrong'])} | {_pct(c['sure_wrong'])} |"
        )
    return "\n".join(out)


def twin_table(twins: Mapping[str, Mapping[str, float]]) -> str:
    out = ["| twin-sentence R@1 (1,000 lines) | en > ko | ko > en |", "|---|---:|---:|"]
    for name, f in twins.items():
        out.append(f"| {name} | {f['en>ko']:.3f} | {f['ko>en']:.3f} |")
    return "\n".join(out)


def markdown(report: Mapping[str, object], twins: Mapping[str, Mapping[str, float]] | None, header: str) -> str:
    parts = [header, ""]
    for half, name in (("report", "REPORT half (held out: the figures to quote)"), ("fit", "FIT half (tune here)")):
        if report[half]["groups"]["all"]["n"] or report[half]["offtopic"]["all"]["n"]:  # type: ignore[index]
            parts += [half_tables(name, report[half]), ""]  # type: ignore[arg-type]
    parts.append(ECE_NOTE)
    if twins:
        parts += ["", twin_table(twins)]
    return "\n".join(parts)
