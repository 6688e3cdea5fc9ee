"""Paired inference on the shared seeds: the sign-flip permutation test and its interval.

Seed s of every arm starts from the same network and is evaluated on the same episodes, so
the per-seed difference d_s = a_s - b_s carries the comparison. Under the null that the two
arms are exchangeable within a seed (swapping arm labels on any seed leaves the joint
distribution unchanged), each d_s is as likely to be +|d_s| as -|d_s|: every one of the 2^n
sign flips of d is equally likely, and the sign-flip test of the mean difference is exact at
any n. For n <= 16 all 2^n flips are enumerated; beyond, ``resamples`` random flips (plus the
observed one) give the Monte Carlo p-value (1 + #{T* >= T}) / (1 + B), valid at every B.

Inverting the test gives the interval of the mean difference: delta is inside the two-sided
(1 - alpha) interval when neither one-sided test of "mean = delta" rejects at alpha / 2. Testing
"mean > delta" counts the flips whose flipped subset F has mean(d_F) <= delta, so the bounds are
order statistics of the 2^n - 1 subset means (Hartigan 1969): exact coverage under symmetry
about the mean, and consistent with the test (the interval excludes 0 from above exactly when
the one-sided p-value is <= alpha / 2). Fewer than 6 seeds cannot reach 95%: 2^n < 40.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from bootstrap_rl.stats.intervals import Interval, _JSON

EXACT_MAX_N = 16  # enumerate every sign flip up to 2^16 = 65,536 of them
MC_FLIPS = 20_000  # random sign flips beyond that
ALTERNATIVES = ("greater", "less", "two-sided")


@functools.lru_cache(maxsize=None)
def _all_subsets(n: int) -> np.ndarray:
    """``[2^n, n]`` 0/1 rows, one per subset of the seeds (row 0 is the empty subset)."""
    rows = np.arange(2**n, dtype=np.int64)[:, None]
    subsets = ((rows >> np.arange(n)) & 1).astype(np.float64)
    subsets.flags.writeable = False
    return subsets


@functools.lru_cache(maxsize=4)
def _random_subsets(n: int, resamples: int, seed: int) -> np.ndarray:
    draws = np.random.default_rng(seed).integers(0, 2, size=(resamples, n)).astype(np.float64)
    subsets = np.concatenate([np.zeros((1, n)), draws])
    subsets.flags.writeable = False
    return subsets


def flipped_subsets(n: int, *, resamples: int = MC_FLIPS, seed: int = 0) -> tuple[np.ndarray, bool]:
    """``(subsets[rows, n], exact)``: which seeds each sign flip negates.

    Every subset when ``n <= EXACT_MAX_N`` (exact); otherwise the observed arrangement (row 0,
    nothing flipped) and ``resamples`` uniform random subsets drawn from ``seed``.
    """
    if n <= EXACT_MAX_N:
        return _all_subsets(n), True
    return _random_subsets(n, resamples, seed), False


def _check(differences) -> np.ndarray:
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim == 0 or d.shape[-1] == 0:
        raise ValueError(f"differences must have seeds on the last axis, got shape {d.shape}")
    if np.isnan(d).any():
        raise ValueError("differences contain NaN (pair the seeds and drop the missing first)")
    return d


def _share(hits: np.ndarray):
    p = hits.mean(axis=-1)
    return float(p) if np.ndim(p) == 0 else p


class _Flips:
    """Every flipped subset's sum of ``d[..., n]``, computed once and read by each test.

    Flipping the signs of a subset F lowers T = sum(d - delta) by 2 sum_F (d - delta), so
    P(T* >= T) is the share of subsets with sum_F d - delta |F| <= 0 (ties count, up to a
    rounding tolerance), and P(T* <= T) the share with sum_F d - delta |F| >= 0.
    """

    def __init__(self, d: np.ndarray, resamples: int, seed: int):
        self.d = d
        self.subsets, self.exact = flipped_subsets(d.shape[-1], resamples=resamples, seed=seed)
        self.sizes = self.subsets.sum(axis=1)
        self.sums = d @ self.subsets.T  # [..., rows]

    def _tol(self, delta):
        return 1e-9 * np.abs(self.d - delta[..., None]).sum(axis=-1, keepdims=True)

    def p_greater(self, delta=0.0):
        delta = np.broadcast_to(np.asarray(delta, dtype=np.float64), self.d.shape[:-1])
        return _share(self.sums - delta[..., None] * self.sizes <= self._tol(delta))

    def p_less(self, delta=0.0):
        delta = np.broadcast_to(np.asarray(delta, dtype=np.float64), self.d.shape[:-1])
        return _share(self.sums - delta[..., None] * self.sizes >= -self._tol(delta))

    def interval(self, confidence: float):
        shape = self.d.shape[:-1]
        nonempty = self.sizes > 0
        k = math.floor((1 - confidence) / 2 * self.sizes.size + 1e-9) - int((~nonempty).sum()) + 1
        if k < 1:
            low, high = np.full(shape, -np.inf), np.full(shape, np.inf)
        else:
            means = self.sums[..., nonempty] / self.sizes[nonempty]
            m = means.shape[-1]
            parted = np.partition(means, (k - 1, m - k), axis=-1)
            low, high = parted[..., k - 1], parted[..., m - k]
        return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)


def sign_flip_pvalue(differences, *, null=0.0, alternative: str = "greater",
                     resamples: int = MC_FLIPS, seed: int = 0):
    """Sign-flip permutation p-value for the mean of ``differences`` against ``null``.

    ``differences[..., seeds]`` (leading axes are independent batches; no NaN). ``alternative``
    ``"greater"`` tests mean > null, ``"less"`` mean < null, ``"two-sided"`` doubles the
    smaller one-sided p-value (capped at 1). The test of ``d - null`` is exact when n <= 16;
    beyond, Monte Carlo (see ``flipped_subsets``). Examples: n = 3 all positive gives 1/8
    one-sided; all differences zero give 1. Returns a float for 1-D input.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    flips = _Flips(_check(differences), resamples, seed)
    if alternative == "greater":
        return flips.p_greater(null)
    if alternative == "less":
        return flips.p_less(null)
    p = np.minimum(1.0, 2 * np.minimum(flips.p_greater(null), flips.p_less(null)))
    return float(p) if np.ndim(p) == 0 else p


def sign_flip_interval(differences, *, confidence: float = 0.95, resamples: int = MC_FLIPS,
                       seed: int = 0) -> tuple:
    """``(low, high)``: the sign-flip test inverted, a ``confidence`` interval of the mean.

    ``differences[..., seeds]``, batched like ``sign_flip_pvalue``. The bounds are the k-th
    smallest and k-th largest mean over the flipped subsets, k = floor(alpha/2 * 2^n) (exact
    enumeration); -inf and +inf when k < 1 (n < 6 at 95%). Floats for 1-D input.
    """
    return _Flips(_check(differences), resamples, seed).interval(confidence)


def sign_flip_summary(differences, *, margin: float | None = None, confidence: float = 0.95,
                      resamples: int = MC_FLIPS, seed: int = 0) -> dict:
    """Everything the paired comparison reads, from one pass over the flips, batched:
    ``{"mean", "low", "high", "p_greater", "p_less", "p_equivalent"}`` for ``differences[...,
    seeds]``. ``p_equivalent`` is TOST at +-``margin``: max(p of mean > -margin, p of mean <
    margin); NaN without a margin."""
    d = _check(differences)
    flips = _Flips(d, resamples, seed)
    low, high = flips.interval(confidence)
    p_equivalent = math.nan
    if margin is not None:
        p_equivalent = np.maximum(flips.p_greater(-margin), flips.p_less(margin))
    return {"mean": d.mean(axis=-1), "low": low, "high": high, "p_greater": flips.p_greater(0.0),
            "p_less": flips.p_less(0.0), "p_equivalent": p_equivalent}


def _method(n: int, resamples: int) -> str:
    if n <= EXACT_MAX_N:
        return f"exact sign-flip over all 2^{n} = {2**n:,} flips"
    return f"Monte Carlo sign-flip, {resamples:,} random flips"


@dataclass(frozen=True)
class SignFlipTest(_JSON):
    """One sign-flip test: mean difference against ``null``."""

    n: int
    mean_difference: float
    null: float
    alternative: str
    p_value: float
    method: str


def sign_flip_test(differences, *, null: float = 0.0, alternative: str = "greater",
                   resamples: int = MC_FLIPS, seed: int = 0) -> SignFlipTest:
    """The paired test of one comparison: ``differences`` = a - b per seed (NaN dropped)."""
    d = np.asarray(differences, dtype=np.float64).ravel()
    d = d[~np.isnan(d)]
    if d.size == 0:
        return SignFlipTest(0, math.nan, null, alternative, math.nan, "no paired seeds")
    p = sign_flip_pvalue(d, null=null, alternative=alternative, resamples=resamples, seed=seed)
    return SignFlipTest(int(d.size), float(d.mean()), float(null), alternative, p,
                        _method(d.size, resamples))


def pair_by_seed(seeds_a, a, seeds_b, b):
    """``(a, b, seeds)`` on the seeds both arms have, with a finite score in both, in seed
    order. Use it before any paired statistic: seed s of every arm shares its initial network
    and its evaluation episodes, and nothing else pairs the runs."""
    seeds_a, seeds_b = np.asarray(seeds_a).ravel(), np.asarray(seeds_b).ravel()
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if seeds_a.size != a.size or seeds_b.size != b.size:
        raise ValueError("each arm needs one seed id per score")
    common, ia, ib = np.intersect1d(seeds_a, seeds_b, assume_unique=False, return_indices=True)
    a, b = a[ia], b[ib]
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep], common[keep]


@dataclass(frozen=True)
class PairedDifference(_JSON):
    """The mean over shared seeds of a - b, its sign-flip interval and one-sided p-values.

    ``dropped`` counts seeds left out because either score was NaN.
    """

    n: int
    mean: float
    interval: Interval
    p_greater: float
    p_less: float
    method: str
    dropped: int = 0


def _interval(low: float, high: float, n: int, confidence: float) -> Interval:
    if math.isinf(low):
        return Interval.unavailable(
            f"{n} seeds: the {2**n} sign flips cannot reach {confidence:.0%} confidence",
            confidence=confidence, method="sign-flip inversion")
    return Interval.checked(low, high, confidence=confidence, method="sign-flip inversion")


def paired_difference_from(summary: dict, n: int, *, confidence: float = 0.95,
                           resamples: int = MC_FLIPS, dropped: int = 0) -> PairedDifference:
    """A ``PairedDifference`` from one (unbatched) ``sign_flip_summary``."""
    return PairedDifference(
        n, float(summary["mean"]), _interval(float(summary["low"]), float(summary["high"]), n,
                                             confidence),
        float(summary["p_greater"]), float(summary["p_less"]), _method(n, resamples), dropped)


def paired_difference(a, b, *, confidence: float = 0.95, resamples: int = MC_FLIPS,
                      seed: int = 0) -> PairedDifference:
    """Paired comparison of ``a[seeds]`` and ``b[seeds]`` (aligned by seed; see
    ``pair_by_seed``): mean difference, its inverted sign-flip interval, and the one-sided
    sign-flip p-values for mean > 0 and mean < 0. Pairs with a NaN are dropped and counted."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired scores need one value per seed in both arms, got {a.shape} "
                         f"and {b.shape}")
    d = a - b
    keep = ~np.isnan(d)
    d, dropped = d[keep], int((~keep).sum())
    if d.size == 0:
        return PairedDifference(0, math.nan, Interval.unavailable("no paired seeds"),
                                math.nan, math.nan, "no paired seeds", dropped)
    summary = sign_flip_summary(d, confidence=confidence, resamples=resamples, seed=seed)
    return paired_difference_from(summary, int(d.size), confidence=confidence,
                                  resamples=resamples, dropped=dropped)
