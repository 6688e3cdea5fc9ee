"""Typed results shared by the statistics: an interval that knows when it is not one, an IQM
estimate, and the JSON conversion every result type uses.

An interval is "not available" when it has no finite bounds (too few seeds for the method to
reach its confidence level) or when both bounds are equal (a point: every resample gave the
same value, as a bootstrap of 2 completely separated seeds does). Such an interval is printed as
``n/a``, never as ``[1, 1]``, and carries the reason.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from bootstrap_rl.stats.rliable import iqm, stratified_bootstrap_ci

MIN_SEEDS_FOR_BOOTSTRAP = 5  # below this, percentile-bootstrap intervals are not reported


def jsonable(value):
    """``value`` as plain JSON data: dataclasses become dicts, numpy scalars and arrays become
    Python numbers and lists, and non-finite floats become None (JSON has no NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


class _JSON:
    def to_json(self) -> dict:
        """This result as a JSON-ready dict (NaN and infinities as None)."""
        return jsonable(self)


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}g}" if abs(x) >= 1000 else f"{x:.{digits}f}"


def format_interval(low, high, *, n: int | None = None, min_n: int = 2, digits: int = 3) -> str:
    """``"[low, high]"``, or ``"n/a"`` when the interval is not one worth printing.

    ``n/a`` when either bound is missing or not finite, when ``low == high`` (a point, such as
    a bootstrap of completely separated seeds, is not a 95% interval), or when ``n < min_n``.
    """
    if low is None or high is None or n is not None and n < min_n:
        return "n/a"
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        return "n/a"
    return f"[{_fmt(low, digits)}, {_fmt(high, digits)}]"


@dataclass(frozen=True)
class Interval(_JSON):
    """A confidence interval, or the reason there is none (then ``low`` and ``high`` are None).

    ``method`` names how it was computed (e.g. ``"exact sign-flip inversion"``).
    """

    low: float | None
    high: float | None
    confidence: float = 0.95
    method: str = ""
    reason: str | None = None

    @classmethod
    def unavailable(cls, reason: str, *, confidence: float = 0.95, method: str = "") -> "Interval":
        return cls(None, None, confidence, method, reason)

    @classmethod
    def checked(cls, low, high, *, confidence: float = 0.95, method: str = "") -> "Interval":
        """An interval from two bounds, unavailable (with the reason) when it is not finite or
        is a point."""
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high)):
            return cls.unavailable("too few observations for a finite interval at this "
                                   "confidence", confidence=confidence, method=method)
        if low == high:
            return cls.unavailable(f"degenerate: a single point ({low:g})",
                                   confidence=confidence, method=method)
        return cls(low, high, confidence, method, None)

    @property
    def available(self) -> bool:
        return self.low is not None and self.high is not None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval (False when unavailable)."""
        return self.available and self.low <= value <= self.high

    def excludes(self, value: float) -> bool:
        """Whether the interval is available and ``value`` lies outside it."""
        return self.available and not self.low <= value <= self.high

    def format(self, digits: int = 3) -> str:
        return format_interval(self.low, self.high, digits=digits)


@dataclass(frozen=True)
class Estimate(_JSON):
    """A point estimate over ``n`` seeds with its interval (IQM and percentile bootstrap)."""

    estimate: float
    n: int
    interval: Interval


def iqm_estimate(scores, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0,
                 min_n: int = MIN_SEEDS_FOR_BOOTSTRAP) -> Estimate:
    """IQM of one score per seed with rliable's percentile-bootstrap interval, honestly labelled.

    NaN scores are dropped. Below ``min_n`` seeds (default 5) the interval is unavailable: the
    percentile bootstrap of 3 seeds covers far less than its nominal 95% (see the calibration
    table in ``docs/statistics.md``). A bootstrap that gives a point is unavailable too.
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    method = "percentile bootstrap over seeds"
    if x.size == 0:
        return Estimate(math.nan, 0, Interval.unavailable("no seeds", method=method))
    if x.size < min_n:
        return Estimate(float(iqm(x)), int(x.size), Interval.unavailable(
            f"{x.size} seed(s): bootstrap intervals need at least {min_n}",
            confidence=confidence, method=method))
    ci = stratified_bootstrap_ci(x, confidence=confidence, resamples=resamples, seed=seed)
    return Estimate(float(ci["estimate"]), int(x.size), Interval.checked(
        ci["ci_low"], ci["ci_high"], confidence=confidence, method=method))
