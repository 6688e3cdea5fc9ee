"""Saving and restoring parameter pytrees with orbax-checkpoint."""

from __future__ import annotations

from pathlib import Path

import jax


def save(path: str | Path, tree) -> Path:
    """Save ``tree`` to the folder ``path`` (replacing it) and wait until it is on disk."""
    import orbax.checkpoint as ocp

    path = Path(path).absolute()
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, tree, force=True)
        checkpointer.wait_until_finished()
    return path


def restore(path: str | Path, like=None):
    """Restore the pytree saved at ``path``. ``like`` gives its structure, shapes and dtypes
    (arrays or shape structs); without it, the saved structure comes back as nested dicts."""
    import orbax.checkpoint as ocp

    abstract = None if like is None else jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore(Path(path).absolute(), abstract)
