"""The fitting of the fusion weights (`retrieval/answer/retrieve/fusion.py::FITTED`): a conditional
logit, softmax over one question's candidates with the gold passage as the label.

The weights shipped were fitted with this function (L2 0.001) on the FIT half of the Belebele,
KorQuAD and XQuAD rows by `measure/belebele_fit.py` of commit 0dc26f5, which is no longer in
the tree (`git show 0dc26f5:measure/belebele_fit.py`). It lives here, not in `retrieval/`:
nothing in the answer path fits anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from retrieval.answer.retrieve.fusion import FEATURES


def fit_conditional_logit(
    groups: Sequence[tuple[npt.NDArray[np.float64], int]], l2: float = 0.01, init: Sequence[float] | None = None,
    free: Iterable[int] | None = None,
) -> npt.NDArray[np.float64]:  # fmt: skip
    """Weights maximising Σ log softmax(X w)[gold] over groups (X: candidates × features, gold:
    the gold candidate's row; groups whose gold is not a candidate carry no information and are
    skipped) with an L2 penalty. `free`: only these weights move (and are penalised); the others
    stay at `init` (a new feature fitted on top of weights fitted on other data)."""
    from scipy.optimize import minimize

    data = [(X, g) for X, g in groups if 0 <= g < len(X) and len(X) > 1]
    d = data[0][0].shape[1] if data else len(FEATURES)
    w0 = np.zeros(d) if init is None else np.asarray(init, dtype=np.float64)
    mask = np.ones(d)
    if free is not None:
        mask = np.zeros(d)
        mask[list(free)] = 1.0

    def loss(w: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w = w0 + (w - w0) * mask  # held weights never leave `init`
        total = l2 * float((w * mask) @ (w * mask)) * len(data)
        grad = 2 * l2 * w * mask * len(data)
        for X, g in data:
            s = X @ w
            m = s.max()
            e = np.exp(s - m)
            z = e.sum()
            total -= s[g] - m - np.log(z)
            grad -= X[g] - (e / z) @ X
        return total / max(len(data), 1), grad * mask / max(len(data), 1)

    x = np.asarray(minimize(loss, w0, jac=True, method="L-BFGS-B").x)
    return w0 + (x - w0) * mask
