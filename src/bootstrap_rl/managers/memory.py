"""Augmentation with a tool (D:management_methods): an episodic key-value memory.

After neural episodic control (Pritzel et al. 2017): keys are the shared encoder's
embeddings of visited states, values the discounted returns that followed them (the update's
λ-return targets). The memory has a fixed capacity and is written as a ring buffer; the
library network reads the ``memory_k`` nearest entries of every state it sees (inverse-distance
weighted, as NEC's kernel) and feeds the read value, and how many neighbours exist, to its
slots as extra inputs. Lookup is jittable and vmapped with everything else.

The memory is written during childhood (by default) and only read afterwards, so the adult
uses a tool built in childhood. Keys are embeddings at writing time; as the encoder trains,
older keys grow stale (NEC trains its keys by gradient; here they are data, which keeps the
memory out of the optimizer). Needs ``LibrarySpec(memory_size=...)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bootstrap_rl import library
from bootstrap_rl.managers.base import Manager, ManagerReport
from bootstrap_rl.validation import ConfigError, positive_int


def write(memory: dict, keys: jax.Array, values: jax.Array) -> dict:
    """Write ``keys [n, d]`` and ``values [n]`` at the ring buffer's next ``n`` positions."""
    capacity = memory["values"].shape[0]
    n = values.shape[0]
    at = (memory["next"] + jnp.arange(n)) % capacity
    return {
        "keys": memory["keys"].at[at].set(keys),
        "values": memory["values"].at[at].set(values),
        "used": memory["used"].at[at].set(1.0),
        "next": (memory["next"] + n) % capacity,
    }


class MemoryWriterState(NamedTuple):
    key: jax.Array  # picks the transitions written
    writing: jax.Array  # bool: writes happen in the current stage
    hit_distance: jax.Array  # mean distance of the update's sampled states to their nearest entry
    fill: jax.Array  # fraction of the memory written


def episodic_memory(writes_per_update: int = 64, childhood_only: bool = True) -> Manager:
    """Write ``writes_per_update`` randomly chosen transitions of every update into the memory.

    Args:
        writes_per_update: transitions written after each PPO update (at most the memory's
            capacity and the update's batch).
        childhood_only: stop writing when the adult stage starts (the adult reads a memory
            childhood filled); ``False`` keeps writing in every stage the method is on.
    """
    writes_per_update = positive_int(writes_per_update, "writes_per_update")
    if not isinstance(childhood_only, bool):
        raise ConfigError("childhood_only", f"must be True or False, got {childhood_only!r}")

    def init(key, params):
        lib = library.get(params)
        if "memory" not in lib:
            raise ValueError("episodic_memory needs a library with a memory: LibrarySpec(memory_size=...)")
        zero = jnp.zeros((), jnp.float32)
        return MemoryWriterState(key=key, writing=jnp.ones((), bool), hit_distance=zero, fill=zero)

    def on_stage_start(mstate, learner, stage):
        writing = ~stage.is_adult if childhood_only else jnp.ones((), bool)
        return mstate._replace(writing=writing), learner

    def after_update(mstate, learner, handover):
        memory = library.get(learner.params)["memory"]
        batch_size = handover.batch.target.shape[0]
        n = min(writes_per_update, batch_size, memory["values"].shape[0])
        key, pick = jax.random.split(mstate.key)
        rows = jax.random.choice(pick, batch_size, (n,), replace=False)
        obs = handover.batch.obs[rows]
        keys = handover.network.apply(learner.params, obs, method="embed")
        # How far what the agent sees lies from what the memory holds (before this write;
        # NaN while the memory is empty: no row).
        _, d2 = library.memory_lookup(memory, keys, 1)
        hit = jnp.sqrt(d2[:, 0]).mean()
        written = write(memory, keys, handover.batch.target[rows])
        memory = jax.tree.map(lambda new, old: jnp.where(mstate.writing, new, old), written, memory)
        mstate = mstate._replace(key=key, hit_distance=jnp.where(jnp.isfinite(hit), hit, jnp.nan),
                                 fill=memory["used"].mean())
        return mstate, learner._replace(params=library.replace(learner.params, memory=memory))

    def report(mstate):
        return ManagerReport(uncharged_env_steps=jnp.zeros((), jnp.float32),
                             diagnostics={"memory/hit_distance": mstate.hit_distance, "memory/fill": mstate.fill})

    return Manager(init=init, on_stage_start=on_stage_start, after_update=after_update, report=report)
