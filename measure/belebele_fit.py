"""Fit the fusion weights on the FIT half of `measure/belebele.py`'s rows and report both halves.

    uv run python -m measure.belebele_fit /tmp/dense_cache/belebele_rows.json
"""

from __future__ import annotations

import json
import sys

import numpy as np

from .belebele import FEATURES, fit_conditional_logit

TRAIN_MODES = ("same-ko", "same-en", "cross-ko>en", "cross-en>ko", "mixed", "split", "split2", "KorQuAD_v1.0_dev.json", "xquad.en.json")


def groups(rows, fit):  # type: ignore[no-untyped-def]
    return [(np.asarray(r["X"]), r["goldrow"]) for r in rows if r["fit"] == fit and r["X"] and r["answerable"]]


def ranks(rows, w):  # type: ignore[no-untyped-def]
    """R@1 and R@10 of the fused ranking per row (over its candidates)."""
    out = []
    for r in rows:
        if not r["X"] or not r["answerable"]:
            out.append((False, False))
            continue
        s = np.asarray(r["X"]) @ w
        order = np.argsort(-s, kind="stable")
        g = r["goldrow"]
        out.append((g >= 0 and order[0] == g, g >= 0 and g in order[:10].tolist()))
    return out


def subsets(name, rows):  # type: ignore[no-untyped-def]
    if name in ("split", "split2"):
        langs = {}
        yield f"{name} ko-same", [r for r in rows if r["lang"] == "ko" and r.get("gold_lang", None) in (None,)]
    else:
        yield name, rows


def table(data, w, label):  # type: ignore[no-untyped-def]
    print(f"\n== {label} ==")
    print(f"{'mode':28s} {'half':6s} {'n':>4s} {'R@1 lex':>8s} {'R@1 fus':>8s} {'R@10 lex':>8s} {'R@10 fus':>8s} {'src@1 plain':>11s} {'src@1 enc':>9s} {'any enc':>8s}")
    for mode, rows in data.items():
        for fit in (True, False):
            rs = [r for r in rows if r["fit"] == fit and r["answerable"]]
            if not rs:
                continue
            for sub, sel in split_rows(mode, rs):
                if not sel:
                    continue
                rk = ranks(sel, w)
                print(f"{sub:28s} {'FIT' if fit else 'REPORT':6s} {len(sel):4d} {np.mean([r['plain_r1'] for r in sel]):8.3f} {np.mean([a for a, _ in rk]):8.3f} "
                      f"{np.mean([r['plain_r10'] for r in sel]):8.3f} {np.mean([b for _, b in rk]):8.3f} "
                      f"{np.mean([r['plain_src'] and r['plain_verdict'] != 'abstain' for r in sel]):11.3f} "
                      f"{np.mean([r['src'] and r['verdict'] != 'abstain' for r in sel]):9.3f} {np.mean([r['src'] for r in sel]):8.3f}")


def split_rows(mode, rs):  # type: ignore[no-untyped-def]
    if mode in ("split", "split2", "mixed"):
        for lang in ("ko", "en"):
            sel = [r for r in rs if r["lang"] == lang]
            if mode == "mixed":
                yield f"{mode} {lang}", sel
                continue
            same = [r for r in sel if r.get("gold_same")]
            cross = [r for r in sel if not r.get("gold_same")]
            yield f"{mode} {lang} same", same
            yield f"{mode} {lang} cross", cross
    else:
        yield mode, rs


def main() -> None:
    data = json.loads(open(sys.argv[1]).read())
    data.pop("half", None)
    train = [g for m in TRAIN_MODES for g in groups(data.get(m, []), True)]
    w0 = np.zeros(len(FEATURES)); w0[0] = 1.0; w0[2] = 2.0
    table(data, w0, "plain fusion lex + 2*cos (the issue's)")
    w = fit_conditional_logit(train, l2=float(sys.argv[2]) if len(sys.argv) > 2 else 0.001)
    print("\nfitted:", ", ".join(f"{f}={x:.3f}" for f, x in zip(FEATURES, w)))
    table(data, w, "learned fusion (fitted on FIT half)")
    print(",".join(f"{x:.4f}" for x in w))




# --- confidence with semantic signals ------------------------------------------------------------
CONF_FEATURES = ("logit_shipped", "top_chance", "top_cos", "cos_gap", "top_other", "top_lex", "best_cov", "agree", "other*top_cos", "other*logit_shipped")


def conf_features(r, w):  # type: ignore[no-untyped-def]
    p = min(max(r.get("conf", 0.0), 1e-4), 1 - 1e-4)
    lg = float(np.log(p / (1 - p)))
    if not r.get("X"):
        return [lg, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    X = np.asarray(r["X"])
    s = X @ w
    o = np.argsort(-s, kind="stable")
    e = np.exp(s - s.max())
    chance = float(e[o[0]] / e.sum())
    cos = X[:, 2]
    top = X[o[0]]
    gap = float(top[2] - (np.sort(cos)[-2] if len(cos) > 1 else 0.0))
    other = float(top[4])
    return [lg, chance, float(top[2]), gap, other, float(top[0]), float(X[:, 1].max()), float(top[10]), other * float(top[2]), other * lg]


def fit_logistic(X, y, l2=1e-3):  # type: ignore[no-untyped-def]
    from scipy.optimize import minimize

    X = np.c_[np.ones(len(X)), X]

    def loss(b):  # type: ignore[no-untyped-def]
        z = X @ b
        p = 1 / (1 + np.exp(-z))
        eps = 1e-9
        ll = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + l2 * b[1:] @ b[1:]
        g = X.T @ (p - y) / len(y)
        g[1:] += 2 * l2 * b[1:]
        return ll, g

    return minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x


def predict(b, X):  # type: ignore[no-untyped-def]
    return 1 / (1 + np.exp(-(np.c_[np.ones(len(X)), X] @ b)))


def auroc(score, label):  # type: ignore[no-untyped-def]
    from scipy.stats import rankdata

    score, label = np.asarray(score), np.asarray(label, bool)
    n1, n0 = label.sum(), (~label).sum()
    if not n1 or not n0:
        return float("nan")
    r = rankdata(score)
    return float((r[label].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def confidence_report(data, w):  # type: ignore[no-untyped-def]
    """Fit a semantic confidence model on FIT rows of every mode; the abstain threshold keeps FIT
    answerable abstain (half mode) ≤ 2%; report both halves of the half-indexed mode."""
    rows = [r for m, rs in data.items() for r in rs if "src" in r]
    fit = [r for r in rows if r["fit"]]
    X = np.asarray([conf_features(r, w) for r in fit])
    y = np.asarray([float(r["src"]) for r in fit])
    b = fit_logistic(X, y)
    half_fit = [r for r in data["half"] if r["fit"]]
    p_fit = predict(b, np.asarray([conf_features(r, w) for r in half_fit]))
    ans = np.asarray([r["answerable"] for r in half_fit])
    thr = float(np.quantile(p_fit[ans], 0.02))
    print("\nconfidence model:", ", ".join(f"{n}={x:.2f}" for n, x in zip(("bias", *CONF_FEATURES), b)), f"abstain below {thr:.3f}")
    print(f"{'half-indexed':14s} {'half':6s} {'n':>4s} {'ans-abstain':>11s} {'unans-answer':>12s} {'AUROC':>6s} {'src@1':>6s} | shipped: {'ans-abstain':>11s} {'unans-answer':>12s} {'AUROC':>6s} {'src@1':>6s}")
    for half in (True, False):
        rs = [r for r in data["half"] if r["fit"] == half]
        for lang in ("ko", "en", "all"):
            sel = [r for r in rs if lang == "all" or r["lang"] == lang]
            p = predict(b, np.asarray([conf_features(r, w) for r in sel]))
            a = np.asarray([r["answerable"] for r in sel])
            ok = np.asarray([r["src"] for r in sel])
            sh = np.asarray([r["conf"] for r in sel])
            shv = np.asarray([r["verdict"] != "abstain" for r in sel])
            pl = np.asarray([r["plain_conf"] for r in sel])
            plv = np.asarray([r["plain_verdict"] != "abstain" for r in sel])
            plok = np.asarray([r["plain_src"] for r in sel])
            print(f"{lang:14s} {'FIT' if half else 'REPORT':6s} {len(sel):4d} {np.mean(p[a] < thr):11.3f} {np.mean(p[~a] >= thr):12.3f} {auroc(p, ok):6.3f} {np.mean(ok[a] & (p[a] >= thr)):6.3f} | "
                  f"enc+shipped {np.mean(~shv[a]):.3f} {np.mean(shv[~a]):.3f} {auroc(sh, ok):.3f} {np.mean(ok[a] & shv[a]):.3f} | today {np.mean(~plv[a]):.3f} {np.mean(plv[~a]):.3f} {auroc(pl, plok):.3f} {np.mean(plok[a] & plv[a]):.3f}")
    return b, thr


def src_report(data, w, b, thr):  # type: ignore[no-untyped-def]
    print(f"\n{'first-quote passage src@1':28s} {'half':6s} {'n':>4s} {'today':>6s} {'enc any':>8s} {'enc+conf':>8s}")
    for mode, rows in data.items():
        if mode == "half":
            continue
        for fit in (True, False):
            rs = [r for r in rows if r["fit"] == fit and r["answerable"]]
            for sub, sel in split_rows(mode, rs):
                if not sel:
                    continue
                p = predict(b, np.asarray([conf_features(r, w) for r in sel]))
                ok = np.asarray([r["src"] for r in sel])
                print(f"{sub:28s} {'FIT' if fit else 'REPORT':6s} {len(sel):4d} {np.mean([r['plain_src'] and r['plain_verdict'] != 'abstain' for r in sel]):6.3f} {ok.mean():8.3f} {np.mean(ok & (p >= thr)):8.3f}")


def main2() -> None:
    data = json.loads(open(sys.argv[2]).read())
    w = np.asarray([float(x) for x in sys.argv[3].split(",")])
    b, thr = confidence_report(data, w)
    src_report(data, w, b, thr)


if __name__ == "__main__":
    main2() if sys.argv[1] == "--confidence" else main()
