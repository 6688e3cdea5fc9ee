"""Run a learner's updates in jit-compiled chunks, seeds vmapped, reporting between chunks.

``ppo.train`` is the whole run as one ``lax.scan``. ``run`` executes the very same
``update`` as a few equal scans instead, so a long run can show progress and hand metrics
to the caller (to be written to disk) as it goes — with identical numbers: the state
threads through unchanged, and there are no host callbacks inside the compiled loop.
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
    each chunk. Returns the final (vmapped) state and every metric, ``[seeds, num_updates]``.
    """
    state = jax.jit(jax.vmap(init))(keys)
    size = chunk_size(num_updates, chunks)
    compiled: dict[int, Callable] = {}

    def scan_chunk(length):
        if length not in compiled:
            compiled[length] = jax.jit(
                jax.vmap(lambda s: jax.lax.scan(lambda c, _: update(c), s, None, length))
            )
        return compiled[length]

    collected: list[dict[str, np.ndarray]] = []
    done, start = 0, time.perf_counter()
    while done < num_updates:
        length = min(size, num_updates - done)
        state, metrics = scan_chunk(length)(state)
        metrics = jax.device_get(metrics)
        collected.append(metrics)
        if on_chunk is not None:
            on_chunk(done, metrics)
        done += length
        if progress is not None:
            progress(done, time.perf_counter() - start)
    return state, {name: np.concatenate([m[name] for m in collected], axis=1) for name in collected[0]}
