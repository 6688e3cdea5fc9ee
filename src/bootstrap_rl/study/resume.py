"""The resume format: a run's full training state at an evaluation point, in one ``.npz``.

It holds the state's leaves (``state/<i>``), each finished stage's snapshot for drift (the
acting variables at the stage's end, ``snapshot/<stage>/<i>``, with its probe observations and
weights), the evaluation point, the stage, and whether that stage still has to be entered.
Leaves are stored flat and rebuilt on the structure of the state the study would make, so a
saved state that does not fit the study fails with a message, not a shape error later.
"""

from __future__ import annotations

import os
import zipfile
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
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:  # a full disk: the previous state stays as it was
        tmp.unlink(missing_ok=True)
        raise StudyError(f"{path}: cannot save the resume state ({error.strerror or error}); the results "
                         "written so far are kept: make room, then run again with --resume") from None


def load_resume(path: Path, state_like, params_like):
    """``(point, stage, fresh, state, snapshots)`` saved by :func:`save_resume`;
    ``*_like``: trees of arrays or shape structs with the batch's rows."""
    try:
        with np.load(path) as data:
            state = _rebuild(data, path, state_like, "state/")
            snapshots = {}
            for name in data["snapshots"].tolist():
                params = _rebuild(data, path, params_like, f"snapshot/{name}/")
                snapshots[name] = (params, jnp.asarray(data[f"probe/{name}"]), jnp.asarray(data[f"weights/{name}"]))
            return int(data["point"]), int(data["stage"]), bool(data["fresh"]), state, snapshots
    except StudyError:
        raise
    except Exception as error:  # a truncated or corrupt file: zip, npy or key errors
        raise _unreadable(path, error) from None


def check_resume_files(out: Path) -> None:
    """Every saved resume state in ``out`` opens, holds the fields of the format, and its
    arrays pass the zip's checksums; else a :class:`StudyError` naming the file, raised before
    a resumed study compiles or changes anything."""
    for path in sorted((out / "resume").glob("*.npz")):
        if path.name.startswith("."):  # a temporary file of a save that was cut short
            continue
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
                names = set(archive.namelist())
            if bad is not None:
                raise ValueError(f"{bad} fails its checksum")
            missing = {"point.npy", "stage.npy", "fresh.npy", "snapshots.npy"} - names
            if missing:
                raise ValueError(f"no {', '.join(sorted(missing))}")
        except Exception as error:
            raise _unreadable(path, error) from None


def _unreadable(path: Path, error: Exception) -> StudyError:
    return StudyError(f"{path} is truncated or corrupt ({type(error).__name__}: {error}); delete it to train "
                      "that run again from its start (the other runs are kept), or choose another directory")


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
