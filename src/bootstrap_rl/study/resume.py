"""The resume format: a run's full training state at an evaluation point, in one ``.npz``.

It holds the state's leaves (``state/<i>``), each finished stage's snapshot for drift (the
acting variables at the stage's end, ``snapshot/<stage>/<i>``, with its probe observations and
weights), the evaluation point, the stage, and whether that stage still has to be entered.
Leaves are stored flat and rebuilt on the structure of the state the study would make, so a
saved state that does not fit the study fails with a message, not a shape error later.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl.study.errors import StudyError


def save_resume(path: Path, point: int, stage: int, fresh: bool, state, snapshots: dict) -> None:
    """The full run state at an evaluation point, atomically (a temporary file, then a rename).
    ``state`` and ``snapshots`` hold every real batch row (no padding), on the host or device."""
    arrays = {f"state/{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(jax.device_get(state)))}
    for name, (params, probe, weights) in snapshots.items():
        for i, x in enumerate(jax.tree.leaves(jax.device_get(params))):
            arrays[f"snapshot/{name}/{i}"] = np.asarray(x)
        arrays[f"probe/{name}"] = np.asarray(probe)
        arrays[f"weights/{name}"] = np.asarray(weights)
    arrays["point"], arrays["stage"], arrays["fresh"] = np.asarray(point), np.asarray(stage), np.asarray(fresh)
    arrays["snapshots"] = np.asarray(list(snapshots), dtype=str)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_resume(path: Path, state_like, params_like):
    """``(point, stage, fresh, state, snapshots)`` saved by :func:`save_resume`;
    ``*_like``: trees of arrays or shape structs with the batch's rows."""
    with np.load(path) as data:
        state = _rebuild(data, path, state_like, "state/")
        snapshots = {}
        for name in data["snapshots"].tolist():
            params = _rebuild(data, path, params_like, f"snapshot/{name}/")
            snapshots[name] = (params, jnp.asarray(data[f"probe/{name}"]), jnp.asarray(data[f"weights/{name}"]))
        return int(data["point"]), int(data["stage"]), bool(data["fresh"]), state, snapshots


def _rebuild(data, path: Path, like, prefix: str):
    """The tree of ``like``'s structure from the saved leaves ``<prefix><i>``."""
    leaves, treedef = jax.tree.flatten(like)
    arrays = []
    for i, leaf in enumerate(leaves):
        saved = data[f"{prefix}{i}"]
        if saved.shape != tuple(leaf.shape):
            raise StudyError(f"{path}: the saved state does not fit this study ({prefix}{i}: "
                             f"{saved.shape} vs {tuple(leaf.shape)}); start a new results directory")
        arrays.append(jnp.asarray(saved, dtype=leaf.dtype))
    return jax.tree.unflatten(treedef, arrays)


def batch_rows(tree, rows: int):
    """Shape structs of ``tree`` with the leading (batch) axis cut to ``rows`` (no padding)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct((rows, *x.shape[1:]), x.dtype), tree)
