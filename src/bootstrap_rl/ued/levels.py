"""The level buffer of robust PLR and ACCEL as a plain pytree, after jaxued's ``LevelSampler``.

``jaxued`` 0.0.1 installs with this project's jax but does not import with it (its sampler
calls ``jax.tree_map``, removed in jax 0.6), so its semantics are followed here: the same
buffer fields, rank prioritisation, staleness, replacement of the lowest-weighted level and
episode counting. Every function is pure and jittable, and the buffer vmaps over seeds and is
saved with the learner's state.

Replay distribution (Jiang et al. 2021, "Prioritized Level Replay"), over the ``size`` filled
slots: ``P_S(i) = h(S_i)^(1/beta) / sum_j h(S_j)^(1/beta)`` with ``h(S_i) = 1/rank(S_i)``
(rank 1: the highest score), ``P_C(i) = (c - C_i) / sum_j (c - C_j)`` with ``c`` the episode
count and ``C_i`` the count when level ``i`` was last sampled, and ``P = (1-rho) P_S + rho P_C``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Level:
    """One level: a task of the family (its env params) and the key its episodes reset from
    (the layout seed)."""

    task: Any
    seed: jax.Array  # uint32[2]: a raw PRNG key


@struct.dataclass
class LevelBuffer:
    """``capacity`` slots of levels (leaves with a leading ``[capacity]`` axis), their scores
    (``-inf``: empty), the episode count when each was last sampled, how many are filled, and
    the episode count (every level inserted or replayed counts one)."""

    levels: Level
    scores: jax.Array
    timestamps: jax.Array
    size: jax.Array
    episode_count: jax.Array

    @property
    def capacity(self) -> int:
        return self.scores.shape[-1]


def empty_buffer(level: Level, capacity: int) -> LevelBuffer:
    """An empty buffer shaped for levels like ``level`` (a placeholder, its values unused)."""
    return LevelBuffer(
        levels=jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], capacity, axis=0), level),
        scores=jnp.full(capacity, -jnp.inf, jnp.float32),
        timestamps=jnp.zeros(capacity, jnp.int32),
        size=jnp.zeros((), jnp.int32),
        episode_count=jnp.zeros((), jnp.int32),
    )


def _filled(buffer: LevelBuffer) -> jax.Array:
    return jnp.arange(buffer.capacity) < buffer.size


def score_weights(buffer: LevelBuffer, temperature: float) -> jax.Array:
    """``P_S``: rank prioritisation, ``(1/rank)^(1/temperature)`` normalised over filled slots
    (ties ranked by slot)."""
    filled = _filled(buffer)
    order = jnp.argsort(-jnp.where(filled, buffer.scores, -jnp.inf), stable=True)
    ranks = jnp.empty_like(order).at[order].set(jnp.arange(1, buffer.capacity + 1, dtype=order.dtype))
    weights = jnp.where(filled, (1.0 / ranks.astype(jnp.float32)) ** (1.0 / temperature), 0.0)
    return weights / jnp.maximum(weights.sum(), 1e-30)


def staleness_weights(buffer: LevelBuffer) -> jax.Array:
    """``P_C``: episodes since each filled level was last sampled, normalised (uniform over the
    filled slots when none is stale)."""
    filled = _filled(buffer)
    stale = jnp.where(filled, buffer.episode_count - buffer.timestamps, 0).astype(jnp.float32)
    uniform = filled / jnp.maximum(buffer.size, 1).astype(jnp.float32)
    return jnp.where(stale.sum() > 0, stale / jnp.maximum(stale.sum(), 1e-30), uniform)


def replay_weights(buffer: LevelBuffer, temperature: float, staleness_coeff: float) -> jax.Array:
    """``P = (1 - rho) P_S + rho P_C``: the replay distribution over the buffer's slots."""
    return (1 - staleness_coeff) * score_weights(buffer, temperature) + staleness_coeff * staleness_weights(buffer)


def sample_replay(buffer: LevelBuffer, key: jax.Array, count: int, temperature: float,
                  staleness_coeff: float) -> tuple[LevelBuffer, jax.Array, Level]:
    """``count`` levels drawn one after another from :func:`replay_weights`, each draw counting
    an episode and marking its level as just sampled (so staleness moves between draws, as in
    jaxued). Returns the buffer, the slots drawn and their levels."""
    by_score = score_weights(buffer, temperature)

    def draw(buffer, key):
        weights = (1 - staleness_coeff) * by_score + staleness_coeff * staleness_weights(buffer)
        slot = jax.random.choice(key, buffer.capacity, p=weights)
        count = buffer.episode_count + 1
        return buffer.replace(timestamps=buffer.timestamps.at[slot].set(count), episode_count=count), slot

    buffer, slots = jax.lax.scan(draw, buffer, jax.random.split(key, count))
    return buffer, slots, jax.tree.map(lambda x: x[slots], buffer.levels)


def insert_levels(buffer: LevelBuffer, levels: Level, scores: jax.Array, temperature: float,
                  staleness_coeff: float) -> LevelBuffer:
    """Offer each of a batch of levels (leading axis) to the buffer in turn, as jaxued's
    ``insert_batch``: into the next free slot, or, when full, in place of the level of lowest
    replay weight if its score is lower. Every level offered counts an episode."""

    def offer(buffer, item):
        level, score = item
        full = buffer.size >= buffer.capacity
        slot = jnp.where(full, jnp.argmin(replay_weights(buffer, temperature, staleness_coeff)), buffer.size)
        take = buffer.scores[slot] < score
        count = buffer.episode_count + 1
        put = lambda array, value: array.at[slot].set(jnp.where(take, value, array[slot]))
        return buffer.replace(
            levels=jax.tree.map(put, buffer.levels, level),
            scores=put(buffer.scores, score),
            timestamps=put(buffer.timestamps, count),
            size=jnp.where(take, jnp.minimum(buffer.size + 1, buffer.capacity), buffer.size),
            episode_count=count,
        ), None

    return jax.lax.scan(offer, buffer, (levels, scores))[0]


def update_scores(buffer: LevelBuffer, slots: jax.Array, scores: jax.Array) -> LevelBuffer:
    """The replayed levels' new scores; a slot drawn twice keeps its last score (as jaxued's
    sequential update)."""
    same = slots[:, None] == slots[None, :]
    overwritten = jnp.triu(same, k=1).any(axis=1)  # a later draw of the same slot writes it
    target = jnp.where(overwritten, buffer.capacity, slots)
    return buffer.replace(scores=buffer.scores.at[target].set(scores.astype(jnp.float32), mode="drop"))
