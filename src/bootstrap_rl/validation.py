"""Config errors and the checks every config dataclass shares.

One place for "must be a positive integer" and "must be a finite number", so every frozen
config (PPO, curriculum, managers, library) fails the same way, naming the field, before
anything compiles. This module imports nothing from the library, so any module may use it.
"""

from __future__ import annotations

import math
import numbers


class ConfigError(ValueError):
    """A configuration value is invalid; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def is_integer(value) -> bool:
    """An integral number that is not a bool (numpy integers count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_finite_number(value) -> bool:
    """A finite real number that is not a bool (NaN and inf are rejected everywhere)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(value, field: str, *, minimum: int = 1) -> int:
    """``value`` as a plain int >= ``minimum`` (1: positive); a whole float such as ``2e6`` is
    accepted, since config modules write budgets that way."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not is_integer(value) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(field, f"must be {kind}, got {value!r}")
    return int(value)


def finite_number(value, field: str, *, low: float | None = None, high: float | None = None,
                  low_open: bool = False) -> float:
    """``value`` as a float, finite and inside ``[low, high]`` (``(low, high]`` with
    ``low_open``); a bound of None is no bound."""
    ok = is_finite_number(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        if low is None and high is None:
            want = "a finite number"
        elif high is None:
            want = ("a positive, finite number" if low == 0 and low_open else
                    "a non-negative, finite number" if low == 0 else
                    f"a finite number {'>' if low_open else '>='} {low}")
        else:
            want = f"a number in {'(' if low_open else '['}{low}, {high}]"
        raise ConfigError(field, f"must be {want}, got {value!r}")
    return float(value)
