"""Aggregate statistics over seeds, following rliable's conventions (Agarwal et al. 2021).

rliable reports the interquartile mean (IQM) with stratified percentile-bootstrap 95%
confidence intervals: runs (seeds) are resampled with replacement within each task. Pairs of
algorithms (probability of improvement) are resampled independently. rliable itself is not a
dependency (its ``arch`` pin does not install next to pandas 3), so this module re-implements
the few definitions used here with numpy and scipy, vectorised over bootstrap resamples;
``tests/test_stats.py`` checks them against literal transcriptions of rliable's formulas and
against synthetic data with planted effects. ``docs/statistics.md`` explains each statistic.

Array conventions: ``scores`` are ``[runs, tasks]`` (a 1-D array is one task); ``curves`` are
``[seeds, points]`` with a matching ``env_steps[points]``; population scores are
``[configs, seeds]``.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
from scipy import stats as _stats

EARLY_FRACTION = 0.2  # early window: the first 20% of the total env-step budget
FINAL_FRACTION = 0.1  # final window: the last 10%


# --------------------------------------------------------------------------------------------
# IQM and the plain (one-task) bootstrap, kept for the `train` command and the plots.


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


# --------------------------------------------------------------------------------------------
# Stratified bootstrap (rliable's StratifiedBootstrap / StratifiedIndependentBootstrap).


def _runs_by_tasks(scores, name: str = "scores") -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"{name} must be [runs, tasks] (or [runs]), got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError(f"{name} contain NaN (drop or impute those runs first, and say so)")
    return scores


def _stratified_resample(scores: np.ndarray, resamples: int, rng) -> np.ndarray:
    """``[resamples, runs, tasks]``: runs drawn with replacement, independently within each task.

    As rliable's ``StratifiedBootstrap.update_indices``: one run index per (run, task) cell.
    """
    runs, tasks = scores.shape
    picks = rng.integers(0, runs, size=(resamples, runs, tasks))
    return np.take_along_axis(scores[None], picks, axis=1)


def aggregate_iqm(scores) -> np.ndarray:
    """rliable's ``aggregate_iqm``: the 25%-trimmed mean over all runs and tasks together.

    ``scores`` is ``[..., runs, tasks]``; leading axes are batch axes (bootstrap resamples).
    """
    scores = np.asarray(scores, dtype=np.float64)
    flat = scores.reshape(*scores.shape[:-2], -1)
    return _stats.trim_mean(flat, 0.25, axis=-1)


def aggregate_mean(scores) -> np.ndarray:
    """rliable's ``aggregate_mean``: the mean over tasks of per-task means; ``[..., runs, tasks]``."""
    return np.asarray(scores, dtype=np.float64).mean(axis=-2).mean(axis=-1)


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def stratified_bootstrap_ci(
    scores,
    statistic: Callable[[np.ndarray], np.ndarray] = aggregate_iqm,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """A statistic of ``scores[runs, tasks]`` with a stratified percentile-bootstrap CI.

    Runs are resampled with replacement within each task (rliable's default: the uncertainty
    of re-running the same tasks with new seeds), and the interval is the percentile interval
    (rliable's default ``method="percentile"``). ``statistic`` maps ``[..., runs, tasks]`` to
    ``[...]`` (vectorised over leading resample axes), like ``aggregate_iqm``.

    Returns ``{"estimate", "ci_low", "ci_high", "runs", "tasks"}``. One run gives a degenerate
    interval at the estimate; NaN scores are an error.
    """
    scores = _runs_by_tasks(scores)
    estimate = float(statistic(scores))
    out = {"estimate": estimate, "ci_low": estimate, "ci_high": estimate,
           "runs": int(scores.shape[0]), "tasks": int(scores.shape[1])}
    if scores.shape[0] > 1:
        rng = np.random.default_rng(seed)
        samples = np.asarray(statistic(_stratified_resample(scores, resamples, rng)), np.float64)
        out["ci_low"], out["ci_high"] = _percentile_interval(samples, confidence)
    return out


# --------------------------------------------------------------------------------------------
# Probability of improvement.


def _poi_batched(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) for ``x[..., n, tasks]`` and ``y[..., m, tasks]``: mean over tasks of U / (n m).

    U is the Mann-Whitney statistic of x: pairs with x > y count 1, ties count 1/2.
    """
    greater = (x[..., :, None, :] > y[..., None, :, :]).mean(axis=(-3, -2))
    ties = (x[..., :, None, :] == y[..., None, :, :]).mean(axis=(-3, -2))
    return (greater + 0.5 * ties).mean(axis=-1)


def probability_of_improvement(x, y) -> float:
    """rliable's average probability of improvement of X over Y.

    ``x[runs_x, tasks]`` and ``y[runs_y, tasks]`` (1-D: one task). Per task, P(X > Y) is the
    Mann-Whitney U statistic of x divided by ``runs_x * runs_y`` (a random run of X beats a
    random run of Y; ties count one half); the result is the mean over tasks. 0.5 means no
    difference, 1 means every run of X beats every run of Y.
    """
    x, y = _runs_by_tasks(x, "x"), _runs_by_tasks(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same tasks, got {x.shape[1]} and {y.shape[1]}")
    return float(_poi_batched(x, y))


def poi_with_ci(
    x, y, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """``{"poi", "ci_low", "ci_high"}``: probability of improvement of X over Y with a CI.

    The CI resamples the runs of X and of Y independently, each within its task (rliable's
    ``StratifiedIndependentBootstrap``), and takes percentiles. If both arms have a single run,
    the interval is degenerate at the estimate.
    """
    x, y = _runs_by_tasks(x, "x"), _runs_by_tasks(y, "y")
    poi = probability_of_improvement(x, y)
    out = {"poi": poi, "ci_low": poi, "ci_high": poi}
    if x.shape[0] > 1 or y.shape[0] > 1:
        rng = np.random.default_rng(seed)
        samples = _poi_batched(_stratified_resample(x, resamples, rng),
                               _stratified_resample(y, resamples, rng))
        out["ci_low"], out["ci_high"] = _percentile_interval(samples, confidence)
    return out


def improvement_pvalue(x, y) -> float:
    """One-sided p-value for "X is better than Y": Mann-Whitney U test, alternative "greater".

    ``x`` and ``y`` are one score per run (one task). It tests the same quantity PoI estimates
    (P(X > Y) > 1/2), so its p-values are the ones to feed to ``holm`` across comparisons.
    An arm with no run gives NaN.
    """
    x, y = np.ravel(np.asarray(x, np.float64)), np.ravel(np.asarray(y, np.float64))
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size == 0 or y.size == 0:
        return math.nan
    both = np.concatenate([x, y])
    if np.all(both == both[0]):
        return 1.0  # every value tied: no evidence either way (the normal approximation is 0/0)
    return float(_stats.mannwhitneyu(x, y, alternative="greater").pvalue)


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input's order.

    Sort the m p-values ascending, multiply the i-th smallest (1-based) by ``m - i + 1``, take
    the running maximum, and clip at 1. Rejecting where the adjusted p-value is below alpha
    controls the family-wise error rate at alpha. NaN p-values stay NaN and are not counted
    in m.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return adjusted
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


def slow_child_strong_adult(early_poi: dict, final_poi: dict) -> bool:
    """DESIGN's signature of A:childhood_implications, for X = the childhood arm, Y = its rival.

    Holds when the final-window PoI's CI lies entirely above 0.5 (X is better late, with
    confidence) and the early-window PoI's point estimate is below 0.5 (X is worse early; only
    the direction is asked of the early window, not significance). Missing values: False.
    """
    final_low, early = final_poi.get("ci_low", math.nan), early_poi.get("poi", math.nan)
    return bool(final_low > 0.5 and early < 0.5)


# --------------------------------------------------------------------------------------------
# Windows over a learning curve.


def window_scores(curves, env_steps, start: float, stop: float = math.inf) -> np.ndarray:
    """Per-seed mean of ``curves[seed, point]`` over the points with ``start < env_steps <= stop``.

    The window is open on the left: an evaluation at step s scores the training that ended at
    s, so the window (a, b] holds the evaluations made after the steps a..b were spent. NaNs
    are skipped; a seed (or every seed) with no value in the window gets NaN.
    """
    curves = np.asarray(curves, dtype=np.float64)
    env_steps = np.asarray(env_steps, dtype=np.float64)
    if curves.ndim == 1:
        curves = curves[None]
    if curves.shape[-1] != env_steps.shape[-1]:
        raise ValueError(f"curves have {curves.shape[-1]} points, env_steps {env_steps.shape[-1]}")
    inside = (env_steps > start) & (env_steps <= stop)
    if not inside.any():
        return np.full(curves.shape[:-1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN seeds -> NaN
        return np.nanmean(curves[..., inside], axis=-1)


def early_window(curves, env_steps, total_env_steps: float,
                 fraction: float = EARLY_FRACTION) -> np.ndarray:
    """Per-seed mean over the evaluations in the first ``fraction`` of the budget: (0, f T].

    Step 0 is left out: it scores the untrained network, which every arm shares in
    distribution, so it would only dilute a difference between arms.
    """
    return window_scores(curves, env_steps, 0.0, fraction * total_env_steps)


def final_window(curves, fraction: float = FINAL_FRACTION, *, env_steps=None,
                 total_env_steps: float | None = None) -> np.ndarray:
    """Per-seed mean over the last ``fraction`` of ``curves[seed, point]``, NaNs skipped.

    Without ``env_steps``: the last ``fraction`` of the points (the `train` command's updates).
    With ``env_steps`` and ``total_env_steps``: the evaluations in the last ``fraction`` of the
    budget, ``((1 - f) T, ...]`` (points past T, if an arm overshoots, count as final).
    """
    curves = np.asarray(curves, dtype=np.float64)
    if env_steps is not None:
        if total_env_steps is None:
            raise ValueError("final_window: env_steps needs total_env_steps")
        return window_scores(curves, env_steps, (1 - fraction) * total_env_steps)
    width = max(1, int(round(curves.shape[-1] * fraction)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(curves[..., -width:], axis=-1)


# --------------------------------------------------------------------------------------------
# Crossover.


def crossover_step(curve_a, curve_b, env_steps) -> np.ndarray:
    """First ``env_steps`` value from which ``curve_a`` stays strictly above ``curve_b`` to the end.

    ``curve_a`` and ``curve_b`` are ``[..., points]`` (batched over leading axes). NaN where A is
    not above B at the last point; ``env_steps[0]`` when A is above B throughout.
    """
    above = np.asarray(curve_a) > np.asarray(curve_b)  # [..., points]
    points = above.shape[-1]
    # index of the last point where A is not above B; -1 if none
    not_above_reversed = ~above[..., ::-1]
    any_not_above = not_above_reversed.any(axis=-1)
    last_not_above = np.where(any_not_above, points - 1 - np.argmax(not_above_reversed, axis=-1), -1)
    first = np.minimum(last_not_above + 1, points - 1)
    steps = np.asarray(env_steps, dtype=np.float64)[first]
    return np.where(above[..., -1], steps, np.nan)


def crossover(
    curves_a, curves_b, env_steps, *, resamples: int = 2000, seed: int = 0,
    confidence: float = 0.95,
) -> tuple[np.ndarray, dict[str, float]]:
    """Bootstrap distribution of the crossover step of arm A over arm B.

    Each resample draws seeds of A and of B independently with replacement, takes the IQM
    curve of each, and records the first ``env_steps`` value after which A's IQM stays strictly
    above B's until the end (NaN when A is not above B at the end). Points where any seed of
    either arm is NaN are dropped.

    Returns ``(samples[resamples], summary)``, with summary ``{"point", "median", "ci_low",
    "ci_high", "fraction_crossed"}``: ``point`` is the crossover of the observed IQM curves;
    median and percentile CI are over the resamples in which A ends above B; and
    ``fraction_crossed`` is the share of resamples in which it does.
    """
    a = np.asarray(curves_a, dtype=np.float64)
    b = np.asarray(curves_b, dtype=np.float64)
    steps = np.asarray(env_steps, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or steps.shape != (a.shape[1],):
        raise ValueError(f"curves must be [seeds, points] on one env_steps axis, got "
                         f"{a.shape}, {b.shape}, env_steps {steps.shape}")
    keep = ~(np.isnan(a).any(axis=0) | np.isnan(b).any(axis=0))
    a, b, steps = a[:, keep], b[:, keep], steps[keep]
    summary = {"point": math.nan, "median": math.nan, "ci_low": math.nan, "ci_high": math.nan,
               "fraction_crossed": math.nan}
    if steps.size == 0 or a.shape[0] == 0 or b.shape[0] == 0:
        return np.full(resamples, np.nan), summary
    rng = np.random.default_rng(seed)
    iqm_a = iqm(a[rng.integers(0, a.shape[0], size=(resamples, a.shape[0]))], axis=1)
    iqm_b = iqm(b[rng.integers(0, b.shape[0], size=(resamples, b.shape[0]))], axis=1)
    samples = crossover_step(iqm_a, iqm_b, steps)
    crossed = samples[~np.isnan(samples)]
    summary["point"] = float(crossover_step(iqm(a, axis=0), iqm(b, axis=0), steps))
    summary["fraction_crossed"] = float(crossed.size / resamples)
    if crossed.size:
        summary["median"] = float(np.median(crossed))
        summary["ci_low"], summary["ci_high"] = _percentile_interval(crossed, confidence)
    return samples, summary


# --------------------------------------------------------------------------------------------
# Prodigy rho (D:prodigy).


def _rank_correlation_rows(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Spearman's rho per row of ``u[..., configs]`` and ``v[..., configs]`` (average ranks)."""
    ru = _stats.rankdata(u, axis=-1)
    rv = _stats.rankdata(v, axis=-1)
    ru -= ru.mean(axis=-1, keepdims=True)
    rv -= rv.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ru * rv).sum(-1) / np.sqrt((ru * ru).sum(-1) * (rv * rv).sum(-1))


def prodigy_rho(
    early, final, *, resamples: int = 2000, seed: int = 0, confidence: float = 0.95,
) -> dict[str, float]:
    """Spearman's rho between configurations' early and final scores, with a seed-bootstrap CI.

    ``early`` and ``final`` are ``[configs, seeds]`` (the same run in the same cell). Each
    configuration is scored by the IQM over its seeds (rliable's aggregate; with fewer than 4
    seeds the 25%-trimmed mean cuts nothing and is the plain mean). rho is
    ``scipy.stats.spearmanr`` of the early against the final per-config scores. The CI
    resamples seeds with replacement within each configuration, the same seed for its early
    and final score, and takes percentiles of rho.

    Configurations with a NaN in either window are dropped. Returns ``{"rho", "ci_low",
    "ci_high", "n_configs"}``; fewer than 3 configurations, or constant scores, give NaN.
    """
    early = np.asarray(early, dtype=np.float64)
    final = np.asarray(final, dtype=np.float64)
    if early.ndim != 2 or early.shape != final.shape:
        raise ValueError(f"early and final must be [configs, seeds] of one shape, got "
                         f"{early.shape} and {final.shape}")
    keep = ~(np.isnan(early).any(axis=1) | np.isnan(final).any(axis=1))
    early, final = early[keep], final[keep]
    configs, seeds = early.shape
    out = {"rho": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_configs": int(configs)}
    if configs < 3 or seeds == 0:
        return out
    score_early, score_final = iqm(early, axis=1), iqm(final, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: rho is NaN
        out["rho"] = float(_stats.spearmanr(score_early, score_final).statistic)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, seeds, size=(resamples, configs, seeds))
    boot_early = iqm(np.take_along_axis(early[None], picks, axis=2), axis=2)  # [resamples, configs]
    boot_final = iqm(np.take_along_axis(final[None], picks, axis=2), axis=2)
    samples = _rank_correlation_rows(boot_early, boot_final)
    out["ci_low"], out["ci_high"] = _percentile_interval(samples, confidence)
    return out
