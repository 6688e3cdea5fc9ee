"""What each manager did, from the table's ``manager`` split (``ManagerReport.diagnostics``).

Descriptive, like plasticity: per arm, diagnostic and stage, the mean over seeds at the
stage's last evaluation point and the point of the stage where that mean was largest in
magnitude. An arm that runs no manager has no rows and no entry.
"""

from __future__ import annotations

import numpy as np

from bootstrap_rl.report.load import Study
from bootstrap_rl.report.measurements import DiagnosticSummary
from bootstrap_rl.schema import MANAGER_SPLIT


def diagnostics(study: Study) -> dict[str, tuple[DiagnosticSummary, ...]]:
    """Per arm with manager diagnostics, its summaries in stage order, then metric order."""
    table = study.table
    if not len(table):
        return {}
    rows = table[table["split"] == MANAGER_SPLIT]
    out = {}
    for arm in study.arms:
        own = rows[rows["arm"] == arm]
        if not len(own):
            continue
        stage_order = {name: i for i, name in enumerate(dict.fromkeys(own.sort_values("env_steps")["stage"]))}
        summaries = []
        for (stage, metric), frame in own.groupby(["stage", "metric"], sort=False):
            mean = frame.groupby("env_steps")["value"].mean().sort_index().to_numpy(np.float64)
            summaries.append(DiagnosticSummary(
                arm=arm, metric=str(metric), stage=str(stage), seeds=int(frame["seed"].nunique()),
                last=float(mean[-1]), peak=float(mean[np.argmax(np.abs(mean))])))
        out[arm] = tuple(sorted(summaries, key=lambda d: (stage_order[d.stage], d.metric)))
    return out
