"""Point estimates and bootstrap intervals over runs (Agarwal et al. 2021).

Everything works on a matrix ``values`` of shape (runs, points): one row per run,
one column per x position (or a single column for final scores). NaN marks a run
with no value at that point and is ignored.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

Stat = Callable[[np.ndarray, int], np.ndarray]
DEFAULT_REPS = 2000
_CHUNK = 4_000_000  # floats per resampling chunk, to bound memory


def mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean ignoring NaN (NaN where there is no value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def iqm(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Interquartile mean ignoring NaN: drop the lowest and highest quarter
    (``int(0.25 * n)`` values each side, as ``scipy.stats.trim_mean(x, 0.25)``)
    and average the rest."""
    s = np.sort(np.moveaxis(np.asarray(x, dtype=float), axis, -1), axis=-1)  # NaN sorts last
    n = np.sum(~np.isnan(s), axis=-1)
    cut = (n * 0.25).astype(int)
    csum = np.concatenate([np.zeros(s.shape[:-1] + (1,)), np.cumsum(np.nan_to_num(s), axis=-1)], axis=-1)
    upper = np.take_along_axis(csum, (n - cut)[..., None], axis=-1)[..., 0]
    lower = np.take_along_axis(csum, cut[..., None], axis=-1)[..., 0]
    count = n - 2 * cut
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (upper - lower) / np.maximum(count, 1), np.nan)


STATS: dict[str, Stat] = {"mean": mean, "iqm": iqm}


def stratified_bootstrap(values: np.ndarray, strata: Sequence | None = None, stat: Stat = mean,
                         reps: int = DEFAULT_REPS, ci: float = 0.95, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of ``stat`` over runs, per column.

    Runs are resampled with replacement *within* each stratum (e.g. game), so
    every replicate keeps the number of runs per stratum: the stratified
    bootstrap of Agarwal et al. (2021). With no strata this is the ordinary
    bootstrap over runs. Returns (low, high); NaN where no stratum has two runs
    with a value (one run per game: resampling within games cannot vary, and an
    interval of zero width would claim a certainty that is not there).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    n, p = values.shape
    labels = np.zeros(n, dtype=int) if strata is None else np.asarray(strata)
    groups = [np.flatnonzero(labels == s) for s in dict.fromkeys(labels.tolist())]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(reps, _CHUNK // max(1, n * p)))
    out = []
    for start in range(0, reps, chunk):
        k = min(chunk, reps - start)
        idx = np.concatenate([g[rng.integers(0, len(g), size=(k, len(g)))] for g in groups], axis=1)
        out.append(stat(values[idx], 1))  # (k, n, p) -> (k, p)
    boot = np.concatenate(out, axis=0)
    alpha = (1.0 - ci) / 2.0 * 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(boot, [alpha, 100.0 - alpha], axis=0)
    finite = np.isfinite(values)
    enough = np.any([np.sum(finite[g], axis=0) >= 2 for g in groups], axis=0)
    return np.where(enough, lo, np.nan), np.where(enough, hi, np.nan)


def estimate(values: np.ndarray, strata: Sequence | None = None, stat: str = "mean", reps: int = DEFAULT_REPS,
             ci: float = 0.95, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point estimate, low, high) per column of ``values`` (runs x points)."""
    f = STATS[stat]
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    point = f(values, 0)
    lo, hi = stratified_bootstrap(values, strata, f, reps=reps, ci=ci, seed=seed)
    return point, lo, hi
