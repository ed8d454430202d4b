"""How likely an answer's first quote answers the question: a small logistic regression over
`Answer.signals`.

The model reads only the per-question signals the answer path computes (shares and ratios that
mean the same on any corpus), standardises each feature with the mean and scale seen when it was
fitted, and returns sigmoid(intercept + coefficients · standardised features). It is fitted by
`quoteqa eval --splits --fit` (measure/splits/) on held-out dev splits: half of each SQuAD file's
articles indexed, every question asked, off-topic questions added, and the label is "the first
quote is from the gold passage"; the semantic model also reads the news dev set's answers
(`--news`), labelled "the first quote is a gold line" (the sentence shown, not its paragraph).
The fitted numbers, the verdict thresholds and how they were made live in
`retrieval/answer/confidence.json` (`confidence_semantic.json`), which ship with the package.

Verdicts: `answer` when the chance >= `sure` (>= `sure_cross` when the first quote is in the
other language than the question), `unsure` when `minimum` <= chance below that, `abstain` below
`minimum`. The confidence SHOWN with a verdict is the chance that the verdict is right
(`shown`): the model's chance for `answer` and `unsure` (the shown quote answers), one minus it
for `abstain` (the quote it would have led with does not answer). An abstention at 0.73 meant
"the refused quote had a 73% chance" and read as "73% sure"; now it reads as what it says.

Features are signal names, or derived ones written `fn(signal)` for a monotone transform of one
signal (`log1p`, `sqrt`, `sq`, `inv` = 1/(1+x), `neg` = 1-x), and `a*b` for a product of such
factors: a transform lets a linear
model bend (a coverage of 0.3 is far worse than half of 0.6), a product lets two weak pieces of
evidence count only together. A signal the answer did not report (e.g. `cross_language` when the
answer path abstained) counts as 0. Empty signals mean retrieval found nothing: confidence 0.

Only numpy and scipy; nothing here imports the front ends or the measuring tools.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from retrieval.errors import QuoteQAError

FORMAT = "quoteqa-confidence"
VERSION = 2  # 2: standardised features are clipped to ±`clip`
DEFAULT_FILE = "confidence.json"
SEMANTIC_FILE = "confidence_semantic.json"  # the model for answers the semantic layer took part in

_TRANSFORMS = {
    "log1p": lambda x: math.log1p(max(x, 0.0)),
    "sqrt": lambda x: math.sqrt(max(x, 0.0)),
    "sq": lambda x: x * x,
    "inv": lambda x: 1.0 / (1.0 + max(x, 0.0)),
    "neg": lambda x: 1.0 - x,
}
_CALL = re.compile(r"^(\w+)\((\w+)\)$")


def feature_value(name: str, signals: Mapping[str, float]) -> float:
    """One feature of the model from an answer's signals (see the module docstring for names)."""
    value = 1.0
    for factor in name.split("*"):
        m = _CALL.match(factor)
        if m:
            value *= _TRANSFORMS[m.group(1)](float(signals.get(m.group(2), 0.0)))
        else:
            value *= float(signals.get(factor, 0.0))
    return float(value)


def check_feature(name: str) -> None:
    for factor in name.split("*"):
        m = _CALL.match(factor)
        if m and m.group(1) not in _TRANSFORMS:
            raise QuoteQAError(f"confidence model: unknown transform {m.group(1)!r} in feature {name!r}")
        if not m and not re.fullmatch(r"\w+", factor):
            raise QuoteQAError(f"confidence model: feature {name!r} is not made of signal names, fn(signal) and '*'")


def feature_matrix(rows: Sequence[Mapping[str, float]], features: Sequence[str]) -> npt.NDArray[np.float64]:
    return np.array([[feature_value(f, r) for f in features] for r in rows], np.float64).reshape(
        len(rows), len(features)
    )


@dataclass(frozen=True)
class ConfidenceModel:
    """A fitted logistic regression over standardised features, with its verdict thresholds."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]  # per standardised feature
    intercept: float
    version: int = VERSION
    sure: float = 1.0  # answer at or above this confidence
    minimum: float = 0.0  # abstain below this confidence; between the two: unsure
    # `answer` across languages (first quote in the other language) needs this; None: `sure`.
    # Chosen on FIT like `sure`, on the cross-language rows alone (1.0: never more than unsure).
    sure_cross: float | None = None
    l2: float = 1.0
    clip: float = (
        3.0  # standardised features are held to ±clip: a corpus unlike the dev data must not extrapolate a line
    )
    fitted: dict[str, object] = field(default_factory=dict, compare=False)  # command, data, date, counts

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.means) == len(self.scales) == len(self.coefficients) == n):
            raise QuoteQAError("confidence model: features, means, scales and coefficients differ in length")
        for f in self.features:
            check_feature(f)
        if any(s <= 0 for s in self.scales):
            raise QuoteQAError("confidence model: every scale must be positive")

    def standardised(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Features in units of their dev-data spread, held to ±clip. A news headline can hold
        every word of a question, which no dev question came near (11 spreads out on one
        product): unclipped, that one feature decided the answer alone."""
        z = (x - np.array(self.means)) / np.array(self.scales)
        return np.clip(z, -self.clip, self.clip) if self.clip > 0 else z

    def logit(self, signals: Mapping[str, float]) -> float:
        x = np.array([feature_value(f, signals) for f in self.features], np.float64)
        return float(self.intercept + self.standardised(x) @ np.array(self.coefficients))

    def contributions(self, signals: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the logit: what a reader checks when a confidence looks wrong."""
        x = np.array([feature_value(f, signals) for f in self.features], np.float64)
        return dict(zip(self.features, (self.standardised(x) * np.array(self.coefficients)).tolist()))

    def predict(self, signals: Mapping[str, float]) -> float:
        """Chance in [0, 1] that the first quote is from the right passage; 0.0 without signals."""
        if not signals:
            return 0.0
        return _sigmoid(self.logit(signals))

    def predict_many(self, rows: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float64]:
        if not rows:
            return np.zeros(0)
        z = self.standardised(feature_matrix(rows, self.features))
        p = _sigmoid_arr(self.intercept + z @ np.array(self.coefficients))
        p[np.array([not r for r in rows])] = 0.0
        return p

    def verdict(self, confidence: float, cross: bool = False) -> str:
        """`answer`, `unsure` or `abstain` for a chance, by this model's thresholds (`cross`: the
        first quote is in the other language, judged by `sure_cross`)."""
        sure = self.sure if not cross or self.sure_cross is None else max(self.sure_cross, self.sure)
        if confidence >= sure:
            return "answer"
        return "unsure" if confidence >= self.minimum else "abstain"

    def with_thresholds(self, sure: float, minimum: float) -> ConfidenceModel:
        return _replace(self, sure=float(sure), minimum=float(minimum))

    def with_sure_cross(self, sure_cross: float | None) -> ConfidenceModel:
        return _replace(self, sure_cross=None if sure_cross is None else float(sure_cross))

    def with_levels(self, sure: float | None, minimum: float | None) -> ConfidenceModel:
        """The model with the levels a user set (None keeps the fitted one). A `minimum` above
        the fitted `sure` lifts `sure` to it: there is no unsure band then, never a gap."""
        minimum = self.minimum if minimum is None else minimum
        sure = self.sure if sure is None else sure
        return self.with_thresholds(max(sure, minimum), minimum)

    def with_fitted(self, **info: object) -> ConfidenceModel:
        return _replace(self, fitted=dict(self.fitted) | info)

    # --- files --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "version": self.version,
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "thresholds": {"sure": self.sure, "min": self.minimum}
            | ({"sure_cross": self.sure_cross} if self.sure_cross is not None else {}),
            "l2": self.l2,
            "clip": self.clip,
            "fitted": self.fitted,
        }

    @classmethod
    def from_json(cls, raw: object, where: str = "confidence model") -> ConfidenceModel:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise QuoteQAError(f"{where}: not a {FORMAT} file")
        if raw.get("version") != VERSION:
            raise QuoteQAError(f"{where}: version {raw.get('version')!r}; this code reads version {VERSION}")
        try:
            th = raw.get("thresholds") or {}
            return cls(
                features=tuple(str(f) for f in raw["features"]),
                means=tuple(float(v) for v in raw["means"]),
                scales=tuple(float(v) for v in raw["scales"]),
                coefficients=tuple(float(v) for v in raw["coefficients"]),
                intercept=float(raw["intercept"]),
                version=int(raw["version"]),
                sure=float(th.get("sure", 1.0)),
                minimum=float(th.get("min", 0.0)),
                sure_cross=float(th["sure_cross"]) if th.get("sure_cross") is not None else None,
                l2=float(raw.get("l2", 1.0)),
                clip=float(raw.get("clip", 0.0)),
                fitted=dict(raw.get("fitted") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise QuoteQAError(f"{where}: malformed ({exc})") from exc

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())


def shown(chance: float, verdict: str) -> float:
    """The confidence shown with a verdict: the chance that the verdict is right. `chance` is the
    model's chance that the first quote answers; an abstention is right when it does not."""
    return 1.0 - chance if verdict == "abstain" else chance


def quote_chance(confidence: float, verdict: str) -> float:
    """The model's chance that the first quote answers, read back from a shown confidence."""
    return 1.0 - confidence if verdict == "abstain" else confidence


def load(path: Path | None = None) -> ConfidenceModel:
    """A model from its JSON file; without a path, the one shipped as `retrieval/answer/confidence.json`."""
    if path is None:
        where = f"retrieval/{DEFAULT_FILE}"
        try:
            text = resources.files(__package__).joinpath(DEFAULT_FILE).read_text("utf-8")
        except OSError as exc:
            raise QuoteQAError(f"{where}: cannot read the shipped confidence model ({exc})") from exc
    else:
        try:
            text, where = Path(path).read_text("utf-8"), str(path)
        except OSError as exc:
            raise QuoteQAError(f"{path}: cannot read the confidence model ({exc})") from exc
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise QuoteQAError(f"{where}: not JSON ({exc})") from exc
    return ConfidenceModel.from_json(raw, where)


@functools.cache
def shipped() -> ConfidenceModel:
    """The shipped model, read once per process (every question is judged by it)."""
    return load()


@functools.cache
def shipped_semantic() -> ConfidenceModel:
    """The shipped model for semantic answers (the lexical signals plus the `sem_*` ones,
    fitted with the encoder on); the lexical model until one is shipped."""
    if not resources.files(__package__).joinpath(SEMANTIC_FILE).is_file():
        return shipped()
    return ConfidenceModel.from_json(
        json.loads(resources.files(__package__).joinpath(SEMANTIC_FILE).read_text("utf-8")),
        f"retrieval/answer/{SEMANTIC_FILE}",
    )


def write_json(path: Path, raw: object) -> None:
    """A model file written whole or not at all (a reader never sees half of one)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(raw, ensure_ascii=False, indent=2) + "\n", "utf-8")
    tmp.replace(path)


def save(model: ConfidenceModel, path: Path) -> None:
    model.save(path)


def default_path() -> Path:
    """Where `load()` reads from when the package is a plain folder (to write a newly fitted model)."""
    return Path(__file__).resolve().parent / DEFAULT_FILE


def semantic_path() -> Path:
    """Where `shipped_semantic()` reads from (to write a newly fitted semantic model)."""
    return Path(__file__).resolve().parent / SEMANTIC_FILE


# --- fitting ------------------------------------------------------------------------------------
def fit(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    l2: float = 1.0,
    features: Sequence[str] | None = None,
    clip: float = 3.0,
    weights: Sequence[float] | None = None,
) -> ConfidenceModel:
    """Logistic regression by L-BFGS on the log loss summed over rows plus l2/2·|w|² (the
    intercept is not penalised), over features standardised to mean 0 and scale 1, so one l2 means
    the same for every feature. `features` defaults to every signal name seen in `rows`, sorted.
    Rows with empty signals are left out: the model is never asked about them (confidence 0).
    `weights` (default 1 each) weigh rows in the loss: a small set that the model must be
    calibrated on (the news rows) is not drowned by a large one."""
    from scipy.optimize import minimize

    if len(rows) != len(labels):
        raise ValueError("rows and labels differ in length")
    if weights is not None and len(weights) != len(rows):
        raise ValueError("rows and weights differ in length")
    keep = [i for i, r in enumerate(rows) if r]
    rows = [rows[i] for i in keep]
    y = np.array([labels[i] for i in keep], np.float64)
    sw = np.ones(len(keep)) if weights is None else np.array([weights[i] for i in keep], np.float64)
    if not len(y):
        raise ValueError("no rows with signals to fit on")
    if features is None:
        features = sorted({k for r in rows for k in r})
    features = tuple(features)
    for f in features:
        check_feature(f)
    x = feature_matrix(rows, features)
    if weights is None:
        means, scales = x.mean(axis=0), x.std(axis=0)
    else:
        means = np.average(x, axis=0, weights=sw)
        scales = np.sqrt(np.average((x - means) ** 2, axis=0, weights=sw))
    scales[scales < 1e-12] = 1.0
    z = (x - means) / scales
    if clip > 0:
        z = np.clip(z, -clip, clip)  # fitted as it will be read
    n, d = z.shape

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w, b = theta[:d], theta[d]
        s = z @ w + b
        value = float(np.sum(sw * (np.logaddexp(0.0, s) - y * s)) + 0.5 * l2 * (w @ w))
        r = sw * (_sigmoid_arr(s) - y)
        return value, np.concatenate([z.T @ r + l2 * w, [r.sum()]])

    prior = float(np.clip(y.mean() if weights is None else np.average(y, weights=sw), 1e-6, 1 - 1e-6))
    theta0 = np.zeros(d + 1)
    theta0[d] = math.log(prior / (1 - prior))
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    w, b = res.x[:d], float(res.x[d])
    return ConfidenceModel(
        features=features, means=tuple(means.tolist()), scales=tuple(scales.tolist()),
        coefficients=tuple(w.tolist()), intercept=b, l2=float(l2), clip=float(clip),
    )  # fmt: skip


def _sigmoid(s: float) -> float:
    return 1.0 / (1.0 + math.exp(-s)) if s >= 0 else math.exp(s) / (1.0 + math.exp(s))


def _sigmoid_arr(s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    from scipy.special import expit

    return np.asarray(expit(s), np.float64)


def _replace(model: ConfidenceModel, **changes: object) -> ConfidenceModel:
    import dataclasses

    return dataclasses.replace(model, **changes)  # type: ignore[arg-type]
