"""One verdict per comparison, with family-wise error control across every comparison a report
judges.

A comparison asks "is arm A better than arm B over the final window?" on the seeds both arms
share. ``compare_paired`` gathers the evidence of one comparison; ``judge`` takes every
comparison of a report together, Holm-adjusts, and returns one ``Verdict`` each, whose
``verdict`` is exactly one of ``VERDICTS``. ``docs/statistics.md`` states the decision rule and
why it controls the family-wise rate of wrong claims; ``benchmarks/stats_calibration.py``
measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bootstrap_rl.stats.intervals import Interval, _JSON
from bootstrap_rl.stats.paired import (
    MC_FLIPS, PairedDifference, paired_difference_from, sign_flip_summary)
from bootstrap_rl.stats.rliable import holm

ALPHA = 0.05
MIN_SEEDS = 10
HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
EQUIVALENT = "equivalent"
FLOOR = "no signal: floor"
CEILING = "no signal: ceiling"
INCONCLUSIVE = f"inconclusive: fewer than {MIN_SEEDS} seeds"
VERDICTS = (HOLDS, DOES_NOT_HOLD, EQUIVALENT, FLOOR, CEILING, INCONCLUSIVE)


@dataclass(frozen=True)
class MetricScale(_JSON):
    """What a score means for a verdict.

    ``floor`` / ``ceiling``: the metric's bounds (None: unbounded); both arms with every paired
    score within ``eps`` of a bound give "no signal". ``margin``: the equivalence margin on the
    mean paired difference, in the metric's units (None: equivalence is never declared).
    """

    floor: float | None = None
    ceiling: float | None = None
    eps: float = 0.0
    margin: float | None = None

    def __post_init__(self):
        if self.eps < 0 or not math.isfinite(self.eps):
            raise ValueError(f"MetricScale.eps must be finite and >= 0, got {self.eps}")
        if self.margin is not None and not self.margin > 0:
            raise ValueError(f"MetricScale.margin must be > 0 or None, got {self.margin}")
        if self.floor is not None and self.ceiling is not None and not self.floor < self.ceiling:
            raise ValueError(f"MetricScale needs floor < ceiling, got {self.floor}, {self.ceiling}")


SUCCESS = MetricScale(floor=0.0, ceiling=1.0, eps=0.01, margin=0.1)  # a success rate in [0, 1]
UNBOUNDED = MetricScale()  # e.g. an episode return with no stated bounds or margin


@dataclass(frozen=True)
class Comparison(_JSON):
    """The evidence of one comparison before family-wise adjustment (``compare_paired``)."""

    a: str
    b: str
    n: int
    difference: PairedDifference  # a - b on the shared seeds: mean, interval, p_greater
    p_equivalent: float  # TOST with sign-flip tests at +-margin; NaN without a margin
    margin: float | None
    at_floor: bool
    at_ceiling: bool

    @property
    def p_claim(self) -> float:
        """The smaller of the superiority and equivalence p-values: what ``judge`` adjusts."""
        ps = [p for p in (self.difference.p_greater, self.p_equivalent) if not math.isnan(p)]
        return min(ps) if ps else math.nan


def compare_paired(a, b, *, names: tuple[str, str] = ("A", "B"), scale: MetricScale = UNBOUNDED,
                   confidence: float = 0.95, resamples: int = MC_FLIPS,
                   seed: int = 0) -> Comparison:
    """Evidence that A beats B: final-window scores ``a[seeds]``, ``b[seeds]`` aligned by seed
    (``pair_by_seed``); pairs with a NaN are dropped.

    The superiority p-value is the one-sided sign-flip test of mean(a - b) > 0. With
    ``scale.margin`` m, the equivalence p-value is TOST: the larger of the sign-flip p-values
    for mean > -m and for mean < m. Floor (ceiling): ``scale.floor`` is set and every paired
    score of both arms is <= floor + eps (>= ceiling - eps).
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired scores need one value per seed in both arms, got {a.shape} "
                         f"and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    dropped = int((~keep).sum())
    if not keep.any():
        diff = PairedDifference(0, math.nan, Interval.unavailable("no paired seeds"), math.nan,
                                math.nan, "no paired seeds", dropped)
        return Comparison(names[0], names[1], 0, diff, math.nan, scale.margin, False, False)
    return compare_paired_batch(a[keep][None], b[keep][None], [names], scale=scale,
                                confidence=confidence, resamples=resamples, seed=seed,
                                dropped=dropped)[0]


def compare_paired_batch(a, b, names, *, scale: MetricScale = UNBOUNDED,
                         confidence: float = 0.95, resamples: int = MC_FLIPS, seed: int = 0,
                         dropped: int = 0) -> list[Comparison]:
    """``compare_paired`` for many comparisons with the same seeds at once: ``a[k, seeds]`` and
    ``b[k, seeds]`` (no NaN), ``names[k]`` = (A, B). One pass over the sign flips serves them
    all (``benchmarks/stats_calibration.py`` runs thousands of studies through it)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or len(names) != a.shape[0]:
        raise ValueError(f"a and b must be [comparisons, seeds] with a name pair each, got "
                         f"{a.shape}, {b.shape} and {len(names)} names")
    n = a.shape[1]
    s = sign_flip_summary(a - b, margin=scale.margin, confidence=confidence,
                          resamples=resamples, seed=seed)
    both = np.concatenate([a, b], axis=1)
    at_floor = (both.max(axis=1) <= scale.floor + scale.eps if scale.floor is not None
                else np.zeros(a.shape[0], dtype=bool))
    at_ceiling = (both.min(axis=1) >= scale.ceiling - scale.eps if scale.ceiling is not None
                  else np.zeros(a.shape[0], dtype=bool))
    p_eq = np.broadcast_to(np.asarray(s["p_equivalent"], dtype=np.float64), (a.shape[0],))
    out = []
    for i, (name_a, name_b) in enumerate(names):
        one = {key: value[i] if np.ndim(value) else value for key, value in s.items()}
        diff = paired_difference_from(one, n, confidence=confidence, resamples=resamples,
                                      dropped=dropped)
        out.append(Comparison(name_a, name_b, n, diff, float(p_eq[i]), scale.margin,
                              bool(at_floor[i]), bool(at_ceiling[i])))
    return out


@dataclass(frozen=True)
class Verdict(_JSON):
    """One comparison's verdict (one of ``VERDICTS``) and the numbers it rests on.

    ``p_adjusted`` is the Holm-adjusted ``p_claim`` over the ``family_size`` comparisons judged
    together; ``critical`` is the Holm threshold at this comparison's rank (NaN when the
    step-down stopped before it). ``reason`` says in words why this verdict.
    """

    a: str
    b: str
    verdict: str
    n: int
    mean_difference: float
    interval: Interval
    p_greater: float
    p_equivalent: float
    p_adjusted: float
    critical: float
    family_size: int
    alpha: float
    margin: float | None
    reason: str


def holm_critical(pvalues, alpha: float = ALPHA) -> np.ndarray:
    """Holm's step-down threshold alpha / (m - rank) for each p-value (rank 0 = smallest, ties
    in input order); NaN for NaN p-values and for those after the step-down stops."""
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    critical = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    for rank, i in enumerate(order):
        threshold = alpha / (valid.size - rank)
        if p[i] > threshold:
            break
        critical[i] = threshold
    return critical


def judge(comparisons: Sequence[Comparison], *, alpha: float = ALPHA,
          min_seeds: int = MIN_SEEDS) -> list[Verdict]:
    """The verdicts of every comparison a report judges, with Holm across all of them.

    The family is every comparison passed (a fixed list; those without a p-value, n = 0, are
    not counted). Holm is applied to p_claim = min(p_greater, p_equivalent); a comparison whose
    adjusted p_claim is <= alpha makes a claim: ``holds`` when its p_greater is within its Holm
    threshold, else ``equivalent``. Labels, first match wins:

    1. both arms at the floor on every paired seed: ``no signal: floor``;
    2. both at the ceiling: ``no signal: ceiling``;
    3. n < ``min_seeds`` paired seeds: ``inconclusive: fewer than 10 seeds``;
    4. a claim of superiority: ``holds``; 5. a claim of equivalence: ``equivalent``;
    6. otherwise ``does not hold``: enough seeds and signal, but A was not shown better than B
       and the difference was not shown to lie inside the margin.

    Floor and ceiling come first: they claim nothing about A against B (they say the data
    cannot tell the arms apart), so they need no seed count, and a study whose arms all score
    0 says so at any n instead of asking for more seeds. A comparison with no paired seed is
    never at the floor or ceiling: it is inconclusive.

    A wrong claim (``holds`` when mean(a - b) <= 0, ``equivalent`` when |mean| >= margin) happens
    in at most alpha of studies, family-wise, under any dependence between comparisons.
    """
    comparisons = list(comparisons)
    q = np.array([c.p_claim if c.n else math.nan for c in comparisons], dtype=np.float64)
    adjusted, critical = holm(q), holm_critical(q, alpha)
    m = int((~np.isnan(q)).sum())
    out = []
    for c, adj, crit in zip(comparisons, adjusted, critical):
        d = c.difference
        label, reason = _label(c, adj, crit, alpha, min_seeds, m)
        out.append(Verdict(c.a, c.b, label, c.n, d.mean, d.interval, d.p_greater,
                           c.p_equivalent, float(adj), float(crit), m, alpha, c.margin, reason))
    return out


def _label(c: Comparison, adj: float, crit: float, alpha: float, min_seeds: int, m: int):
    held = f"Holm-adjusted p = {adj:.3g} over {m} comparison(s)"
    p_greater = f"paired sign-flip p = {c.difference.p_greater:.3g}"
    if c.n and c.at_floor:
        return FLOOR, (f"every paired final-window score of both arms is at the metric's floor "
                       f"({c.n} paired seed(s)): no signal to compare")
    if c.n and c.at_ceiling:
        return CEILING, (f"every paired final-window score of both arms is at the metric's "
                         f"ceiling ({c.n} paired seed(s)): no signal to compare")
    if c.n < min_seeds:
        label = (INCONCLUSIVE if min_seeds == MIN_SEEDS
                 else f"inconclusive: fewer than {min_seeds} seeds")
        return label, (f"{c.n} paired seed(s) with a final score in both arms; verdicts need "
                       f"{min_seeds}")
    if adj <= alpha and c.difference.p_greater <= crit:
        return HOLDS, f"{c.a} beats {c.b} on the shared seeds ({p_greater}; {held} <= {alpha})"
    if adj <= alpha:
        return EQUIVALENT, (f"the mean paired difference lies within +-{c.margin:g} (TOST p = "
                            f"{c.p_equivalent:.3g}; {held} <= {alpha})")
    tost = ("" if c.margin is None
            else f", nor within +-{c.margin:g} (TOST p = {c.p_equivalent:.3g})")
    return DOES_NOT_HOLD, f"{c.a} not shown better than {c.b} ({p_greater}; {held}){tost}"


def verdict(a, b, *, names: tuple[str, str] = ("A", "B"), scale: MetricScale = UNBOUNDED,
            alpha: float = ALPHA, min_seeds: int = MIN_SEEDS, **kwargs) -> Verdict:
    """The verdict of one comparison judged alone (a family of one). A report judges all of
    its comparisons together with ``judge([compare_paired(...), ...])`` instead: judging them
    one by one gives no family-wise control."""
    return judge([compare_paired(a, b, names=names, scale=scale, **kwargs)],
                 alpha=alpha, min_seeds=min_seeds)[0]


def early_direction(early: PairedDifference) -> str:
    """Descriptive only (DESIGN: the early window is reported, not tested): ``"worse early"``,
    ``"better early"`` or ``"level early"`` from the sign of the mean early paired difference
    of A - B; ``"n/a"`` without paired seeds."""
    if early.n == 0 or math.isnan(early.mean):
        return "n/a"
    return "worse early" if early.mean < 0 else "better early" if early.mean > 0 else "level early"
