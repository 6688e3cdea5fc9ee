"""Results on disk: a tidy (long) metrics table, written as it grows, and JSON written atomically.

The table has the study's schema (:data:`bootstrap_rl.schema.TABLE_COLUMNS`), one row per
(seed, env_steps, metric) with a float ``value`` — the shape pandas, seaborn and notebooks want. Rows are appended and flushed after every chunk of
updates, so a crash keeps everything recorded before it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bootstrap_rl.schema import TABLE_COLUMNS, TRAIN_SPLIT


class MetricsTable:
    """Append-only CSV writer for ``[seeds, updates]`` training-metric arrays of one run
    (``arm``); every row's stage and split are ``train``."""

    def __init__(self, path: str | Path, env_steps_per_update: int, *, arm: str = "train"):
        self.path = Path(path)
        self.env_steps_per_update = env_steps_per_update
        self.arm = arm
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="") as f:
            f.write(",".join(TABLE_COLUMNS) + "\n")

    def append(self, first_update: int, metrics: dict[str, np.ndarray]):
        """Write rows for updates ``first_update ...``, ordered by env steps, seed, metric, and
        return them (a DataFrame).

        NaN values (an update in which no episode finished has no episode return) are skipped.
        """
        import pandas as pd

        names = list(metrics)
        values = np.stack([np.asarray(metrics[n], np.float64) for n in names])  # [metric, seed, update]
        values = values.transpose(2, 1, 0)  # [update, seed, metric]
        update, seed, metric = (i.ravel() for i in np.indices(values.shape))
        values = values.ravel()
        keep = ~np.isnan(values)
        rows = pd.DataFrame({
            "arm": self.arm,
            "seed": seed[keep],
            "stage": TRAIN_SPLIT,
            "env_steps": (first_update + update[keep] + 1) * self.env_steps_per_update,
            "split": TRAIN_SPLIT,
            "metric": np.asarray(names, dtype=object)[metric[keep]],
            "value": values[keep],
        }, columns=list(TABLE_COLUMNS))
        with open(self.path, "a", newline="") as f:
            rows.to_csv(f, header=False, index=False)
            f.flush()
            os.fsync(f.fileno())
        return rows


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:  # a full disk, say: leave no half-written temporary file
        tmp.unlink(missing_ok=True)
        raise
    return path


def replace_section(path: str | Path, start: str, end: str, block: str, *, new_file: str = "") -> Path:
    """Replace the text from marker ``start`` to marker ``end`` in a file with ``block``
    (which carries both markers), or append ``block`` if the markers are absent; atomically.
    Benchmarks use it to rewrite their own section of ``benchmarks/README.md``."""
    path = Path(path)
    text = path.read_text() if path.exists() else new_file
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    return write_text(path, text)


def write_json(path: str | Path, data) -> Path:
    """Write JSON atomically (see ``write_text``)."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_table(path: str | Path):
    """The metrics table as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(path)
