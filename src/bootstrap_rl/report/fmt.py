"""Numbers as the report writes them, in report.md and in figure titles (missing: ``n/a``)."""

from __future__ import annotations

import math


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(x) -> str:
    """Three significant digits."""
    return "n/a" if _missing(x) else f"{x:.3g}"


def interval(value: float, low: float, high: float) -> str:
    """``value [low, high]``, or n/a when the value is missing."""
    return "n/a" if _missing(value) else f"{num(value)} [{num(low)}, {num(high)}]"


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
