"""Seeds and population members sharded over every device of every process.

A study's runs vmap over one leading *batch* axis (population members × seeds). With more than
one device (``jax.devices()``: every device of every process once ``jax.distributed`` is
initialised), :class:`Layout` lays that axis over a one-dimensional mesh named ``"batch"``:

- the batch is **padded** to a multiple of the device count by repeating its last row (the
  extra rows train as copies of a real seed, are never written, and cost at most
  ``devices - 1`` rows of compute per run). Padding keeps one compiled program per run; splitting
  the batch instead would compile a second program for the remainder and run it separately;
- the inputs of a run (keys, hyperparameters, a restored state) are placed with
  ``NamedSharding(mesh, P("batch"))``, every other input is replicated, and the compiled
  programs keep their outputs in that layout (``out_shardings``), so each device trains its own
  rows and no collective runs during training (rows do not interact);
- each process reads back only its own rows (:meth:`Layout.local_rows`); whatever must be
  whole on one host (checkpoints, the resume state) is gathered with
  :meth:`Layout.gather`, which every process must call.

Per-seed randomness never depends on the layout: keys are derived per seed with ``fold_in``
before they are placed. Floating point does, in the last bits (XLA compiles a batch of one row
per device differently from a batch of many; on CPU, the same program's results also vary with
the number of devices in the process), so two layouts agree up to float rounding, and long
training runs drift apart from there. One layout is reproducible bit for bit. With one device a
layout is a no-op: nothing is padded or placed and the numbers are those of an unsharded run,
bit for bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

BATCH = "batch"


def _mesh(devices) -> Mesh:
    # Auto axes: shardings propagate through jit as usual (jax >= 0.7 defaults make_mesh to
    # Explicit axes, which would put shardings into the types of vmapped code).
    auto = (jax.sharding.AxisType.Auto,)
    return jax.make_mesh((len(devices),), (BATCH,), auto, devices=devices)


@dataclass(frozen=True)
class Layout:
    """Where a run's batch rows live. ``mesh`` is None on a single device (a no-op layout)."""

    mesh: Mesh | None = None

    @classmethod
    def over(cls, devices: int | None = None) -> Layout:
        """A layout over the first ``devices`` of ``jax.devices()`` (default: every device of
        every process). One device: the no-op layout (the default device)."""
        every = jax.devices()
        count = len(every) if devices is None else devices
        if not isinstance(count, int) or not 1 <= count <= len(every):
            raise ValueError(f"devices: must be an integer from 1 to {len(every)}, got {devices!r}")
        if count > 1 and jax.process_count() > 1 and count != len(every):
            raise ValueError("devices: a distributed study runs on every device of every process")
        return cls(_mesh(every[:count]) if count > 1 else None)

    @property
    def devices(self) -> int:
        return 1 if self.mesh is None else self.mesh.size

    @property
    def batch_sharding(self) -> NamedSharding | None:
        """The sharding of arrays whose leading axis is the batch (None on one device)."""
        return None if self.mesh is None else NamedSharding(self.mesh, P(BATCH))

    def jit_options(self) -> dict:
        """``jax.jit`` keywords for a program whose every output has the batch leading."""
        return {} if self.mesh is None else {"out_shardings": self.batch_sharding}

    def padded(self, rows: int) -> int:
        """``rows`` rounded up to a multiple of the device count."""
        return -(-rows // self.devices) * self.devices

    def pad(self, tree, rows: int):
        """Pad every leaf's leading axis from ``rows`` to :meth:`padded` by repeating the last
        row (host arrays; nothing placed). Leaves already padded are kept. A no-op on one device."""
        extra = self.padded(rows) - rows
        if extra == 0:
            return tree

        def pad(x):
            x = np.asarray(x)
            if x.shape[0] == rows + extra:
                return x
            if x.shape[0] != rows:
                raise ValueError(f"leading axis {x.shape[0]} is not the batch ({rows} rows)")
            return np.concatenate([x, np.repeat(x[-1:], extra, axis=0)])

        return jax.tree.map(pad, tree)

    def shard(self, tree, rows: int):
        """Pad ``tree`` (leading axis: ``rows`` batch rows, host or device arrays holding every
        row, the same in every process) and place it over the devices, batch-sharded."""
        if self.mesh is None:
            return jax.tree.map(jax.numpy.asarray, tree)
        sharding = self.batch_sharding
        return jax.tree.map(lambda x: _place(x, sharding), self.pad(tree, rows))

    def replicate(self, tree):
        """Place ``tree`` (the same in every process) whole on every device."""
        if self.mesh is None:
            return tree
        sharding = NamedSharding(self.mesh, P())
        return jax.tree.map(lambda x: _place(x, sharding), tree)

    def local_indices(self, rows: int) -> np.ndarray:
        """The batch rows (below ``rows``: padding excluded) held by this process's devices."""
        if self.mesh is None:
            return np.arange(rows)
        held = set()
        for index in self.batch_sharding.addressable_devices_indices_map((self.padded(rows),)).values():
            held.update(range(*index[0].indices(self.padded(rows))))
        return np.asarray(sorted(r for r in held if r < rows), dtype=np.int64)

    def local_rows(self, tree, rows: int):
        """``(indices, host_tree)``: this process's rows of a batch-leading tree, as NumPy
        (every leaf indexed like ``indices``). No communication."""
        indices = self.local_indices(rows)
        if self.mesh is None:
            return indices, jax.device_get(tree)
        if jax.process_count() == 1:
            return indices, jax.tree.map(lambda x: np.asarray(jax.device_get(x))[indices], tree)
        return indices, jax.tree.map(lambda x: _addressable_rows(x, indices), tree)

    def gather(self, tree, rows: int):
        """Every real row of a batch-leading tree, as NumPy, in every process. Every process
        must call it (across hosts it is a collective)."""
        if self.mesh is None:
            return jax.device_get(tree)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            tree = multihost_utils.process_allgather(tree, tiled=True)
        return jax.tree.map(lambda x: np.asarray(jax.device_get(x))[:rows], tree)


def _place(x, sharding: NamedSharding) -> jax.Array:
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _addressable_rows(x: jax.Array, indices: np.ndarray) -> np.ndarray:
    out = np.empty((len(indices), *x.shape[1:]), x.dtype)
    found = np.zeros(len(indices), bool)
    position = {int(r): i for i, r in enumerate(indices)}
    for shard in x.addressable_shards:
        start, stop, _ = shard.index[0].indices(x.shape[0]) if shard.index else (0, x.shape[0], 1)
        data = None
        for r in range(start, stop):
            if r in position and not found[position[r]]:
                data = np.asarray(shard.data) if data is None else data
                out[position[r]] = data[r - start]
                found[position[r]] = True
    if not found.all():
        raise ValueError(f"rows {indices[~found].tolist()} are not held by this process")
    return out


def is_writer() -> bool:
    """Whether this process writes what is written once (process 0)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None) -> None:
    """``jax.distributed.initialize`` with settings from the arguments, else the environment
    variables ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``, else
    JAX's cluster detection (SLURM, Open MPI, Kubernetes, Cloud TPU). Call it before anything
    else uses JAX. On CPU the processes' collectives run over gloo (JAX's default)."""
    def integer(value, variable):
        if value is not None:
            return int(value)
        text = os.environ.get(variable)
        return int(text) if text else None

    jax.distributed.initialize(
        coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS") or None,
        integer(num_processes, "JAX_NUM_PROCESSES"),
        integer(process_id, "JAX_PROCESS_ID"),
    )


def peak_memory_bytes() -> int | None:
    """The highest ``peak_bytes_in_use`` of this process's devices since it started, where
    the backend reports it (GPU, TPU); None where it does not (CPU)."""
    peaks = []
    for device in jax.local_devices():
        try:
            stats = device.memory_stats()
        except Exception:  # some backends raise instead of returning None
            stats = None
        if stats and "peak_bytes_in_use" in stats:
            peaks.append(int(stats["peak_bytes_in_use"]))
    return max(peaks) if peaks else None


__all__ = ["BATCH", "Layout", "barrier", "initialize_distributed", "is_writer", "peak_memory_bytes"]
