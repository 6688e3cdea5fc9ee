"""The tidy table's rows of one evaluation point (see :data:`bootstrap_rl.schema.TABLE_COLUMNS`).

A row is ``(arm, seed, stage, env_steps, split, metric, value)``; ``stage`` is the stage the
arm was in, ``split`` the tasks measured: ``train`` for training metrics, ``manager`` for the
managers' diagnostics, ``network`` for the acting network's own measurements
(``bootstrap_rl.plasticity``), else a stage name.
"""

from __future__ import annotations

import warnings

import numpy as np

from bootstrap_rl.ppo.train import METRICS
from bootstrap_rl.managers.base import DIAGNOSTIC_PREFIX
from bootstrap_rl.schema import MANAGER_SPLIT, NETWORK_SPLIT, TRAIN_SPLIT


def train_rows(metrics: dict, arm_seeds: list, stage: str, env_steps: int) -> list[tuple]:
    """Training metrics averaged over the interval's updates (NaN-skipping), one row each,
    and the managers' diagnostics (metrics ``manager/<name>``) likewise as split ``manager``,
    metric ``<name>`` (NaN: an arm not running that method writes no row);
    ``metrics[name]``: ``[rows, updates]``, ``arm_seeds``: (arm, seed) per row."""
    rows = []
    diagnostics = sorted(name for name in metrics if name.startswith(DIAGNOSTIC_PREFIX))
    named = [(name, TRAIN_SPLIT, name) for name in METRICS]
    named += [(name, MANAGER_SPLIT, name[len(DIAGNOSTIC_PREFIX):]) for name in diagnostics]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no episode ended
        for key, split, name in named:
            values = np.nanmean(np.asarray(metrics[key], np.float64), axis=1)
            rows += [(arm, seed, stage, env_steps, split, name, float(value))
                     for (arm, seed), value in zip(arm_seeds, values) if np.isfinite(value)]
    return rows


def evaluation_rows(arm_seeds: list, splits: tuple[str, ...], returns: np.ndarray, lengths: np.ndarray,
                    drift: dict, *, stage: str, env_steps: int, threshold: float | None) -> list[tuple]:
    """Each row's episode returns, lengths and success rate per split, then its policy KL
    from each finished stage's end. ``returns``, ``lengths``: ``[rows, splits, episodes]``;
    ``drift``: finished stage -> ``[rows]``."""
    rows = []
    for b, (arm, seed) in enumerate(arm_seeds):
        where = (arm, seed, stage, env_steps)
        for s, split in enumerate(splits):
            rows += _episode_rows(where, split, returns[b, s], lengths[b, s], threshold)
        rows += [(*where, name, "policy_kl", float(kl[b])) for name, kl in drift.items()]
    return rows


def _episode_rows(where: tuple, split: str, returns: np.ndarray, lengths: np.ndarray,
                  threshold: float | None) -> list[tuple]:
    """One batch row's mean return and length on one split's episodes, and the fraction of
    episodes whose return passes ``threshold`` (when the curriculum sets one)."""
    rows = [(*where, split, "return", float(returns.mean())), (*where, split, "length", float(lengths.mean()))]
    if threshold is not None:
        rows.append((*where, split, "success", float((returns > threshold).mean())))
    return rows


def network_rows(arm_seeds: list, metrics: dict, *, stage: str, env_steps: int) -> list[tuple]:
    """The acting network's measurements (``bootstrap_rl.plasticity.METRICS``), one row each;
    ``metrics[name]``: ``[rows]``."""
    return [(arm, seed, stage, env_steps, NETWORK_SPLIT, name, float(values[b]))
            for name, values in metrics.items() for b, (arm, seed) in enumerate(arm_seeds)]
