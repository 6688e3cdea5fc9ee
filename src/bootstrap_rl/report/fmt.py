"""Numbers as the report writes them, in report.md and in figure titles (missing: ``n/a``).

Every interval goes through ``stats.format_interval``: a missing, infinite or degenerate
interval (a point such as ``[1, 1]``) prints ``n/a``, never as a 95% interval.
"""

from __future__ import annotations

import math

from bootstrap_rl import stats


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(x) -> str:
    """Three significant digits."""
    return "n/a" if _missing(x) else f"{x:.3g}"


def interval(low, high, *, n: int | None = None, min_n: int = 2) -> str:
    """``[low, high]`` (``stats.format_interval``), or ``n/a``: missing, not finite, a point, or
    fewer than ``min_n`` observations. Two distinct bounds that would print alike get more
    digits, so nothing prints as ``[x, x]``."""
    for digits in range(3, 10):
        text = stats.format_interval(_none(low), _none(high), n=n, min_n=min_n, digits=digits)
        if text == "n/a" or len(set(text.strip("[]").split(", "))) == 2:
            return text
    return text


def with_interval(value, low, high, *, n: int | None = None, min_n: int = 2) -> str:
    """``value [low, high]``; ``value (CI n/a)`` when there is no interval to print; ``n/a``
    when the value is missing."""
    if _missing(value):
        return "n/a"
    bounds = interval(low, high, n=n, min_n=min_n)
    return f"{num(value)} {bounds}" if bounds != "n/a" else f"{num(value)} (CI n/a)"


def steps_interval(low, high) -> str:
    """An interval of env steps, ``[60,000, 75,000]``, or ``n/a`` where
    ``stats.format_interval`` gives ``n/a``."""
    if interval(low, high) == "n/a":
        return "n/a"
    return f"[{steps(low)}, {steps(high)}]"


def config_name(arm: str) -> str:
    """A D:prodigy grid arm's name without its kind: ``lr=0.001,ent=0.01``."""
    for prefix in ("grid/", "population/"):  # population/: study.json before the grid's name
        arm = arm.removeprefix(prefix)
    return arm


def _none(x):
    return None if _missing(x) else x


def steps(x) -> str:
    """A count with thousands separators: 1,200,000."""
    return "n/a" if _missing(x) else f"{x:,.0f}"


def seconds(x) -> str:
    return "n/a" if x is None else f"{x:,.1f}"


def byte_size(n) -> str:
    """Bytes in the largest binary unit that fits: 3.0 GiB."""
    if n is None:
        return "n/a"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
