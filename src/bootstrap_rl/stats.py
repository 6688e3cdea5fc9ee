"""Aggregate statistics over seeds, following rliable's conventions.

rliable (Agarwal et al. 2021) reports the interquartile mean (IQM) with percentile
bootstrap 95% confidence intervals, resampling runs (seeds) with replacement within each
task. This module covers the single-task case with scipy; ``tests/test_stats.py`` checks it
against rliable's definitions.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _stats


def iqm(scores, axis: int = 0) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% (scipy's 25%-trimmed mean)."""
    return _stats.trim_mean(np.asarray(scores, dtype=np.float64), 0.25, axis=axis)


def bootstrap_ci(
    scores,
    statistic=iqm,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic`` over seeds (axis 0 of ``scores``).

    One seed gives a degenerate interval ``(x, x)``; NaN scores are an error (drop or
    impute them first, and say so).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one value per seed, got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    if scores.size == 1:
        return float(scores[0]), float(scores[0])
    if np.all(scores == scores[0]):
        return float(scores[0]), float(scores[0])
    result = _stats.bootstrap(
        (scores,),
        lambda x, axis: statistic(x, axis=axis),
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        vectorized=True,
        random_state=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def iqm_with_ci(scores, **kwargs) -> dict[str, float]:
    """``{"iqm", "ci_low", "ci_high", "n"}`` for one score per seed."""
    scores = np.asarray(scores, dtype=np.float64)
    low, high = bootstrap_ci(scores, **kwargs)
    return {"iqm": float(iqm(scores)), "ci_low": low, "ci_high": high, "n": int(scores.size)}


def final_window(curves, fraction: float = 0.1) -> np.ndarray:
    """Per-seed mean over the last ``fraction`` of points of ``curves[seed, point]``, NaNs skipped."""
    curves = np.asarray(curves, dtype=np.float64)
    width = max(1, int(round(curves.shape[-1] * fraction)))
    with np.errstate(all="ignore"):
        return np.nanmean(curves[..., -width:], axis=-1)


def iqm_band(
    curves, *, confidence: float = 0.95, resamples: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM across seeds at every point of ``curves[seed, point]``, with a percentile-bootstrap band.

    Vectorised over points (one resampling of seeds serves the whole curve, as rliable does for
    score distributions). Returns ``(iqm, low, high)``, each ``[points]``.
    """
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2:
        raise ValueError(f"curves must be [seeds, points], got shape {curves.shape}")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, curves.shape[0], size=(resamples, curves.shape[0]))
    resampled = iqm(curves[picks], axis=1)  # [resamples, points]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail], axis=0)
    return iqm(curves, axis=0), low, high
