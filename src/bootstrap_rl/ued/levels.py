"""The level buffer of robust PLR and ACCEL as a plain pytree, after jaxued's ``LevelSampler``.

``jaxued`` 0.0.1 installs with this project's jax but does not import with it (its sampler
calls ``jax.tree_map``, removed from jax), so its semantics are followed here: the same
buffer fields, rank prioritisation, staleness, replacement of the lowest-weighted level and
episode counting, except that a batch of levels is drawn and offered at once rather than one
after another (see :func:`sample_replay`, :func:`insert_levels`). Every function is pure and
jittable, and the buffer vmaps over seeds and is saved with the learner's state.

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
    """``count`` levels drawn (with replacement) from :func:`replay_weights` as they stand
    before the batch; each draw counts an episode, and each level drawn is stamped with the
    count of its last draw. Returns the buffer, the slots drawn and their levels.

    jaxued draws one level after another, staleness moving between draws; drawing the batch
    at once keeps an update's cost flat in the batch size (a sequential loop of small ops is
    what bounds an accelerator here) and differs only in that staleness term."""
    weights = replay_weights(buffer, temperature, staleness_coeff)
    slots = jax.random.choice(key, buffer.capacity, (count,), p=weights)
    last = jnp.zeros(buffer.capacity, jnp.int32).at[slots].max(jnp.arange(1, count + 1, dtype=jnp.int32))
    buffer = buffer.replace(timestamps=jnp.where(last > 0, buffer.episode_count + last, buffer.timestamps),
                            episode_count=buffer.episode_count + count)
    return buffer, slots, jax.tree.map(lambda x: x[slots], buffer.levels)


def insert_levels(buffer: LevelBuffer, levels: Level, scores: jax.Array, temperature: float,
                  staleness_coeff: float) -> LevelBuffer:
    """Offer a batch of levels (leading axis) to the buffer at once: the k-th highest-scoring
    level goes to the k-th slot in order of replay weight (free slots first, in slot order,
    then the filled ones from the lowest weight) if it scores higher than the level there. Every
    level offered counts an episode; one taken is stamped with its count.

    jaxued offers them one after another (recomputing the weights after each); as a batch, an
    update's cost stays flat in the batch size, and the rule is the same: fill, then replace
    the lowest-weighted levels by higher-scoring ones."""
    count = scores.shape[0]
    weights = jnp.where(_filled(buffer), replay_weights(buffer, temperature, staleness_coeff), -1.0)
    slots = jnp.argsort(weights, stable=True)[:count]  # free slots (-1) first, then by weight
    order = jnp.argsort(-scores, stable=True)  # offered levels, best first
    pairs = min(count, buffer.capacity)
    slots, order = slots[:pairs], order[:pairs]
    take = buffer.scores[slots] < scores[order]
    target = jnp.where(take, slots, buffer.capacity)  # capacity: dropped
    put = lambda array, values: array.at[target].set(values, mode="drop")
    free = ~_filled(buffer)[slots]
    return buffer.replace(
        levels=jax.tree.map(lambda x, new: put(x, new[order]), buffer.levels, levels),
        scores=put(buffer.scores, scores[order].astype(jnp.float32)),
        timestamps=put(buffer.timestamps, buffer.episode_count + 1 + order.astype(jnp.int32)),
        size=jnp.minimum(buffer.size + (take & free).sum(), buffer.capacity).astype(jnp.int32),
        episode_count=buffer.episode_count + count,
    )


def update_scores(buffer: LevelBuffer, slots: jax.Array, scores: jax.Array) -> LevelBuffer:
    """The replayed levels' new scores; a slot drawn twice keeps its last score (as jaxued's
    sequential update)."""
    same = slots[:, None] == slots[None, :]
    overwritten = jnp.triu(same, k=1).any(axis=1)  # a later draw of the same slot writes it
    target = jnp.where(overwritten, buffer.capacity, slots)
    return buffer.replace(scores=buffer.scores.at[target].set(scores.astype(jnp.float32), mode="drop"))
