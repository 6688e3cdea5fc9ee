"""Windows over learning curves, the crossover step, and the plateau check of the final window.

``curves`` are ``[seeds, points]`` with a matching ``env_steps[points]``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from bootstrap_rl.stats.intervals import Interval, _JSON
from bootstrap_rl.stats.paired import sign_flip_interval, sign_flip_pvalue
from bootstrap_rl.stats.rliable import _percentile_interval, iqm

EARLY_FRACTION = 0.2  # early window: the first 20% of the total env-step budget
FINAL_FRACTION = 0.1  # final window: the last 10%

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
# Plateau check of the final window.


def final_rise(curves, env_steps, total_env_steps: float, *,
               fraction: float = FINAL_FRACTION) -> np.ndarray:
    """Per seed, how much the score rose across the final window: the least-squares slope of
    ``curves[seed, point]`` over the window's evaluations times the steps they span.

    The window is ``((1 - fraction) T, ...]`` as in ``final_window``; when it holds fewer than
    two evaluations, the last two evaluations are used. NaNs are skipped per seed; a seed with
    fewer than two finite points gets NaN.
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    steps = np.asarray(env_steps, dtype=np.float64)
    if curves.shape[-1] != steps.size:
        raise ValueError(f"curves have {curves.shape[-1]} points, env_steps {steps.size}")
    inside = steps > (1 - fraction) * total_env_steps
    if inside.sum() < 2:
        inside = np.zeros(steps.size, dtype=bool)
        inside[np.argsort(steps, kind="stable")[-2:]] = True
    x, y = steps[inside], curves[:, inside]
    finite = ~np.isnan(y)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = (finite * x).sum(axis=1) / count
        y_mean = np.where(finite, y, 0).sum(axis=1) / count
        dx = np.where(finite, x - x_mean[:, None], 0.0)
        dy = np.where(finite, y - y_mean[:, None], 0.0)
        slope = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
    span = x.max() - x.min() if x.size else math.nan
    return np.where(count >= 2, slope * span, np.nan)


@dataclass(frozen=True)
class PlateauCheck(_JSON):
    """Is the score still rising across the final window?

    ``rise``: mean rise over ``n`` units (seeds of an arm, or configurations of a population),
    in the metric's units, with its sign-flip interval. ``still_rising``: the one-sided
    sign-flip test of mean rise > 0 has p <= alpha. ``detectable`` is False when n is too small
    for any p to reach alpha (2^-n > alpha): then a False ``still_rising`` means nothing.
    """

    n: int
    rise: float
    interval: Interval
    p_rising: float
    still_rising: bool
    detectable: bool
    alpha: float


def plateau_check(rises, *, alpha: float = 0.05, confidence: float = 0.95) -> PlateauCheck:
    """The plateau check of ``rises[units]`` (``final_rise`` per seed; for a population, each
    configuration's mean rise over its seeds). NaN units are dropped.

    A final score read off a fixed budget is a plateau only if it stopped rising; a population
    whose configurations are still rising gives a rho between early and budget-limited scores.
    """
    r = np.asarray(rises, dtype=np.float64).ravel()
    r = r[~np.isnan(r)]
    if r.size == 0:
        return PlateauCheck(0, math.nan, Interval.unavailable("no finite rise"), math.nan,
                            False, False, alpha)
    p = sign_flip_pvalue(r, alternative="greater")
    low, high = sign_flip_interval(r, confidence=confidence)
    if math.isinf(low):
        interval = Interval.unavailable(f"{r.size} units: too few for a {confidence:.0%} "
                                        "sign-flip interval", confidence=confidence)
    else:
        interval = Interval.checked(low, high, confidence=confidence, method="sign-flip inversion")
    return PlateauCheck(int(r.size), float(r.mean()), interval, p, bool(p <= alpha),
                        bool(2.0 ** -min(r.size, 60) <= alpha), alpha)
