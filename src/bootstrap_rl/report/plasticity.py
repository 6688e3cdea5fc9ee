"""Plasticity and active parameters per arm, from the table's ``network`` split.

Descriptive, like retention: the mean over seeds of each ``bootstrap_rl.plasticity`` metric
when the adult stage starts (the network childhood handed over) and at the last evaluation
point, and the active parameter count the trained network measured (the most over seeds).
"""

from __future__ import annotations

import numpy as np

from bootstrap_rl.plasticity import METRICS
from bootstrap_rl.report.curves import arm_curves
from bootstrap_rl.report.load import Study
from bootstrap_rl.report.measurements import PlasticitySummary
from bootstrap_rl.schema import NETWORK_SPLIT

PLASTICITY_METRICS = tuple(m for m in METRICS if m != "active_parameters")


def adult_start(study: Study, arm: str) -> float:
    """Env steps at which ``arm``'s adult stage starts (0 for an arm without childhood)."""
    spans = [s for s in study.arms[arm].stages if s.name == study.adult_stage]
    return float(spans[0].start_env_steps) if spans else 0.0


def plasticity(study: Study) -> tuple[PlasticitySummary, ...] | None:
    """Every arm's (grid aside) plasticity metrics at the adult stage's start and at the end;
    None when the table has no ``network`` rows (a study written before they existed)."""
    out = []
    for name, arm in study.arms.items():
        if arm.kind == "grid":
            continue
        for metric in PLASTICITY_METRICS:
            steps, curves, _ = arm_curves(study, name, NETWORK_SPLIT, metric)
            if curves.size == 0:
                continue
            mean = np.nanmean(curves, axis=0)
            start = int(np.searchsorted(steps, adult_start(study, name)))
            out.append(PlasticitySummary(arm=name, metric=metric, seeds=int(curves.shape[0]),
                                         adult_start=float(mean[min(start, mean.size - 1)]),
                                         final=float(mean[-1])))
    return tuple(out) or None


def measured_active_parameters(study: Study, arm: str) -> int | None:
    """The most active parameters any seed of ``arm`` acted with at its last evaluation point
    (None without ``network`` rows)."""
    _, curves, _ = arm_curves(study, arm, NETWORK_SPLIT, "active_parameters")
    if curves.size == 0 or not np.isfinite(curves[:, -1]).any():
        return None
    return int(np.nanmax(curves[:, -1]))
