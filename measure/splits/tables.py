"""The shown-confidence figures of a refit with news rows as Markdown (pasted as is into
docs/quality.md): per half and group, ECE of the shown confidence against the shown verdict being
right, the answerable rows' shares, and the reliability table."""

from __future__ import annotations

from collections.abc import Mapping


def _p(x: object) -> str:
    return "–" if x is None else f"{x:.3f}"  # type: ignore[str-format]


def _pct(x: object) -> str:
    return "–" if x is None else f"{x:.1%}"  # type: ignore[str-format]


def shown_markdown(shown: Mapping[str, Mapping[str, Mapping[str, object]]], thresholds: Mapping[str, object]) -> str:
    th = thresholds
    out = [
        f"Levels: answer at >= {_p(th.get('sure'))} (across languages >= {_p(th.get('sure_cross', th.get('sure')))}), "
        f"unsure at >= {_p(th.get('min'))}, topic gate {_p(th.get('gate'))} (corpus wholly in the other language "
        f"{_p(th.get('gate_cross'))}). Shown confidence: the chance the verdict shown is right.",
        "",
    ]
    for half in ("report", "fit"):
        groups = shown.get(half, {})
        if not groups:
            continue
        out += [
            f"**{half.upper()} half**"
            + (" (held out: the figures to quote)" if half == "report" else " (fitted here)"),
            "",
            "| rows | n | ECE shown | hit@1 kept | sure but wrong | answerable refused | unsure | answer precision | off-topic refused |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, f in groups.items():
            out.append(
                f"| {name} | {f['n']} | {_p(f.get('ece'))} | {_p(f.get('hit@1'))} | {_pct(f.get('sure_wrong'))} | "
                f"{_pct(f.get('refused'))} | {_pct(f.get('unsure'))} | {_pct(f.get('answer_precision'))} | "
                f"{_pct(f.get('offtopic_refused'))} |"
            )
        out.append("")
        for name in ("news", "belebele-ko", "belebele-en"):
            bins = groups.get(name, {}).get("reliability")
            if not bins:
                continue
            out += [f"Reliability, {half.upper()} {name}:", "", "| confidence bin | n | mean shown | share right |",
                    "|---|---:|---:|---:|"]  # fmt: skip
            out += [
                f"| {b['lo']:.1f}–{b['hi']:.1f} | {b['n']} | {b['confidence']:.3f} | {b['right']:.3f} |" for b in bins
            ]
            out.append("")
    return "\n".join(out)
