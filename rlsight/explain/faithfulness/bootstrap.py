"""Bootstrap confidence intervals over frames (percentile bootstrap of the mean).

Uses ``scipy.stats.bootstrap`` (vectorised, seeded). Non-finite values (NaN: a
metric undefined on a frame, e.g. a map that is zero everywhere) are left out,
and ``Interval.n`` says how many frames were used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rlsight.errors import RlsightError


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values and its bootstrap interval [low, high] at ``confidence``."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    def as_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return asdict(self)

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share a point (NaN intervals never overlap)."""
        return bool(self.low <= other.high and other.low <= self.high)


def bootstrap_ci(values, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """Mean of ``values`` (one per frame) with a percentile bootstrap interval over frames.

    With fewer than two finite values the interval is (NaN, NaN).
    """
    if not 0 < confidence < 1:
        raise RlsightError(f"confidence {confidence}: must be between 0 and 1")
    if n_resamples < 1:
        raise RlsightError(f"n_resamples {n_resamples}: must be >= 1")
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    mean = float(v.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), n, confidence)
    if np.all(v == v[0]):  # every resample has the same mean
        return Interval(mean, mean, mean, n, confidence)
    from scipy.stats import bootstrap

    res = bootstrap((v,), np.mean, n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                    vectorized=True, random_state=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Interval(mean, float(ci.low), float(ci.high), n, confidence)
