"""Small statistics shared by the bench and the quality evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float, empty: float = float("nan")) -> float:
    """numpy's (linear) q-th percentile of `values` in any order; `empty` when there are none.

    The bench reports NaN for an empty series (a visible gap), the evaluation 0.0 (its JSON stays numeric).
    """
    if len(values) == 0:
        return empty
    return float(np.percentile(np.asarray(values, np.float64), q))
