"""Figures: IQM over seeds with a bootstrap band, saved as PNGs with matplotlib's Agg backend."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from bootstrap_rl import stats


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> Path:
    """Save ``fig`` as a PNG atomically (a temporary file, then a rename) and close it.

    Closing concerns pyplot's figures only: a ``matplotlib.figure.Figure`` made without pyplot
    is saved without loading pyplot or choosing a backend.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    try:
        fig.savefig(tmp)
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)
    tmp.replace(path)
    return path


def bin_curves(env_steps: np.ndarray, curves: np.ndarray, max_points: int = 200):
    """Average ``curves[seed, update]`` into at most ``max_points`` bins along updates (NaNs skipped)."""
    bins = np.array_split(np.arange(curves.shape[1]), min(max_points, curves.shape[1]))
    with warnings.catch_warnings():  # all-NaN bins: a seed finished no episode there
        warnings.simplefilter("ignore", RuntimeWarning)
        binned = np.stack([np.nanmean(curves[:, b], axis=1) for b in bins], axis=1)
    return np.array([env_steps[b[-1]] for b in bins]), binned


def plot_band(ax, env_steps, curves, *, color=None, label=None, resamples: int = 1000,
              seed: int = 0, band: bool = True):
    """Draw the IQM of ``curves[seed, point]`` over seeds with its 95% bootstrap band on ``ax``.

    Points where any seed is NaN are left out. Returns False (and draws nothing) when no point
    is left.
    """
    env_steps = np.asarray(env_steps, dtype=np.float64)
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.size == 0:
        return False
    keep = ~np.isnan(curves).any(axis=0)
    if not keep.any():
        return False
    centre, low, high = stats.iqm_band(curves[:, keep], resamples=resamples, seed=seed)
    (line,) = ax.plot(env_steps[keep], centre, color=color, label=label)
    if band and curves.shape[0] > 1:
        ax.fill_between(env_steps[keep], low, high, color=line.get_color(), alpha=0.2, lw=0)
    return True


def plot_learning_curve(
    env_steps: np.ndarray,
    curves: np.ndarray,
    path: str | Path,
    *,
    title: str = "",
    ylabel: str = "episode return",
) -> Path:
    """Save a PNG of the IQM of ``curves[seed, update]`` across seeds with a 95% bootstrap band."""
    plt = pyplot()
    x, binned = bin_curves(np.asarray(env_steps), np.asarray(curves, dtype=np.float64))
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    plot_band(ax, x, binned, color="C0", label=f"IQM over {curves.shape[0]} seeds")
    ax.plot([], [], color="C0", alpha=0.25, lw=6, label="95% bootstrap CI")
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)
