"""Learning-curve figures: IQM over seeds with a bootstrap band."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from bootstrap_rl import stats


def bin_curves(env_steps: np.ndarray, curves: np.ndarray, max_points: int = 200):
    """Average ``curves[seed, update]`` into at most ``max_points`` bins along updates (NaNs skipped)."""
    bins = np.array_split(np.arange(curves.shape[1]), min(max_points, curves.shape[1]))
    with warnings.catch_warnings():  # all-NaN bins: a seed finished no episode there
        warnings.simplefilter("ignore", RuntimeWarning)
        binned = np.stack([np.nanmean(curves[:, b], axis=1) for b in bins], axis=1)
    return np.array([env_steps[b[-1]] for b in bins]), binned


def plot_learning_curve(
    env_steps: np.ndarray,
    curves: np.ndarray,
    path: str | Path,
    *,
    title: str = "",
    ylabel: str = "episode return",
) -> Path:
    """Save a PNG of the IQM of ``curves[seed, update]`` across seeds with a 95% bootstrap band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, binned = bin_curves(np.asarray(env_steps), np.asarray(curves, dtype=np.float64))
    keep = ~np.isnan(binned).any(axis=0)  # bins where some seed finished no episode
    centre, low, high = stats.iqm_band(binned[:, keep])
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    ax.plot(x[keep], centre, color="C0", label=f"IQM over {curves.shape[0]} seeds")
    ax.fill_between(x[keep], low, high, color="C0", alpha=0.25, label="95% bootstrap CI")
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path

