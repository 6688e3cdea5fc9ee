"""Run a learner's updates in jit-compiled chunks, seeds vmapped, reporting between chunks.

``ppo.train`` is the whole run as one ``lax.scan``. ``run`` executes the very same
``update`` as a few equal scans instead, so a long run can show progress and hand metrics
to the caller (to be written to disk) as it goes. The state threads through unchanged and
there are no host callbacks inside the compiled loop, so the numbers are the same up to
float rounding (the two programs may fuse operations differently); the same chunking on the
same device reproduces a run exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import numpy as np

DEFAULT_CHUNKS = 20


def chunk_size(num_updates: int, target_chunks: int = DEFAULT_CHUNKS) -> int:
    """Updates per chunk: a divisor of ``num_updates`` near ``num_updates / target_chunks``.

    A divisor means every chunk has the same length, hence one compilation. When no divisor
    lies within a factor of two of the target, the last chunk is shorter (one more compile).
    """
    target = max(1, -(-num_updates // max(1, target_chunks)))
    divisors = [d for d in range(max(1, target // 2), min(num_updates, 2 * target) + 1)
                if num_updates % d == 0]
    return min(divisors, key=lambda d: abs(d - target)) if divisors else target


def run(
    init: Callable,
    update: Callable,
    keys: jax.Array,
    num_updates: int,
    *,
    chunks: int = DEFAULT_CHUNKS,
    on_chunk: Callable[[int, dict[str, np.ndarray]], None] | None = None,
    progress: Callable[[int, float], None] | None = None,
):
    """Run ``num_updates`` updates for every seed in ``keys``.

    ``on_chunk(first_update, metrics)`` receives each chunk's metrics as NumPy arrays of
    shape ``[seeds, updates_in_chunk]``; ``progress(updates_done, seconds)`` is called after
    each chunk. Both run on the host while the next chunk computes (dispatch is
    asynchronous), so writing results does not stall the device. Returns the final
    (vmapped) state and every metric, ``[seeds, num_updates]``.
    """
    state = jax.jit(jax.vmap(init))(keys)
    size = chunk_size(num_updates, chunks)
    compiled: dict[int, Callable] = {}

    def scan_chunk(length):
        if length not in compiled:
            compiled[length] = jax.jit(
                jax.vmap(lambda s: jax.lax.scan(lambda c, _: update(c), s, None, length)),
                donate_argnums=0,  # the old state is dead once the chunk starts
            )
        return compiled[length]

    collected: list[dict[str, np.ndarray]] = []
    start = time.perf_counter()

    def deliver(first_update, length, metrics):
        metrics = jax.device_get(metrics)
        collected.append(metrics)
        if on_chunk is not None:
            on_chunk(first_update, metrics)
        if progress is not None:
            progress(first_update + length, time.perf_counter() - start)

    pending, done = None, 0
    while done < num_updates:
        length = min(size, num_updates - done)
        state, metrics = scan_chunk(length)(state)  # returns at once; the chunk runs on
        if pending is not None:
            deliver(*pending)
        pending, done = (done, length, metrics), done + length
    deliver(*pending)
    return state, {name: np.concatenate([m[name] for m in collected], axis=1) for name in collected[0]}
