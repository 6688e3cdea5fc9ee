"""Results on disk: a tidy (long) metrics table, written as it grows, and JSON written atomically.

The table has one row per (seed, env_steps, metric) with a float ``value`` — the shape
pandas, seaborn and notebooks want. Rows are appended and flushed after every chunk of
updates, so a crash keeps everything recorded before it.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

TABLE_COLUMNS = ("seed", "env_steps", "metric", "value")


class MetricsTable:
    """Append-only CSV writer for ``[seeds, updates]`` metric arrays."""

    def __init__(self, path: str | Path, steps_per_update: int):
        self.path = Path(path)
        self.steps_per_update = steps_per_update
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="") as f:
            csv.writer(f).writerow(TABLE_COLUMNS)

    def append(self, first_update: int, metrics: dict[str, np.ndarray]) -> None:
        """Write rows for updates ``first_update ...``; NaN values (e.g. no finished episode) are skipped."""
        rows = []
        for name, values in metrics.items():
            values = np.asarray(values, dtype=np.float64)
            for seed, update in zip(*np.nonzero(~np.isnan(values)), strict=True):
                env_steps = (first_update + update + 1) * self.steps_per_update
                rows.append((int(seed), env_steps, name, repr(float(values[seed, update]))))
        rows.sort(key=lambda row: (row[1], row[0]))
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerows(rows)
            f.flush()
            os.fsync(f.fileno())


def write_json(path: str | Path, data) -> Path:
    """Write JSON atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
    return path


def read_table(path: str | Path):
    """The metrics table as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(path)
