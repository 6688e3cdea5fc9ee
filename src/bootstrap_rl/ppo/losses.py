"""PPO's pure pieces: generalised advantage estimation, minibatching and the clipped loss."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimates and value targets over a time-major rollout ``[T, ...]``.

    ``next_values[t]`` is the value of the observation that step ``t`` led to *before* any
    auto-reset (gymnax's ``info["final_observation"]``). A termination cuts the bootstrap; a
    truncation (time limit) keeps it — the state after a time limit still has a future — but
    both end the episode, so the advantage does not flow back across either.
    """
    rewards = jnp.asarray(rewards)
    episode_end = jnp.logical_or(terminated, truncated).astype(rewards.dtype)
    terminated = jnp.asarray(terminated).astype(rewards.dtype)
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    def backward(advantage, step):
        delta, end = step
        advantage = delta + gamma * gae_lambda * (1.0 - end) * advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[0]), (deltas, episode_end), reverse=True
    )
    return advantages, advantages + values


def permutation(key: jax.Array, n: int) -> jax.Array:
    """A uniformly random ordering of ``range(n)`` (int32), as ``jax.random.permutation(key, n)``
    gives, faster on CPU for the batch sizes where that costs most.

    Both sort by random keys. ``jax.random.permutation`` sorts (key, index) pairs, and XLA's CPU
    sort calls a compiled comparator for every comparison of a multi-operand sort; a sort of
    one ``uint32`` array takes its fast path. :func:`radix_permutation` does only such sorts,
    but needs two or more of them where jax needs one or two. So this picks by ``n``, the same
    way on every backend (a key gives the same order everywhere):

    * ``n <= 1625``: jax needs a single pair sort (``3 log2 n <= 32`` random bits), no slower
      than the two or more radix passes;
    * up to ``2^18``: :func:`radix_permutation`, whose two to four single-array sorts beat
      jax's two pair sorts (``benchmarks/README.md`` has the timings);
    * beyond: jax again, whose two pair sorts beat five or more radix passes.
    """
    if n < 2:
        return jnp.arange(n, dtype=jnp.int32)
    if 3 * math.log2(n) <= 32 or _radix_passes(n) > 4:
        return jax.random.permutation(key, n).astype(jnp.int32)
    return radix_permutation(key, n)


def _radix_passes(n: int) -> int:
    # At least max(32, 3 log2 n) random key bits, as many as jax.random.permutation draws;
    # each pass carries 32 - ceil(log2 n) of them.
    return math.ceil(max(32, 3 * math.log2(n)) / (32 - math.ceil(math.log2(n))))


def radix_permutation(key: jax.Array, n: int) -> jax.Array:
    """A uniformly random ordering of ``range(n)`` (int32) by single-array ``uint32`` sorts.

    Packs a random digit above each element's current position into one ``uint32`` — sorting
    those is a stable sort by the digit — and sorts by several digits, least significant first
    (LSD radix): the result is ordered by the concatenated digits, ties (equal full keys) kept
    in index order. It has at least ``max(32, 3 log2 n)`` random key bits, so a tie — the only
    departure from a uniform permutation — has probability about ``n^2 / 2^(bits + 1)``: below
    1e-8 for ``n = 10^4``. ``n`` must be at least 2 and below ``2^31``.
    """
    index_bits = math.ceil(math.log2(n))  # the position; the other bits are a random digit
    position = jax.lax.iota(jnp.uint32, n)
    index_mask = jnp.uint32((1 << index_bits) - 1)
    digits = jax.random.bits(key, (_radix_passes(n), n), jnp.uint32) & ~index_mask
    order = None  # order[j]: the element now at position j
    for digit in digits:
        if order is not None:
            digit = digit[order]  # each element keeps its own digit as it moves
        moved = (jax.lax.sort(digit | position) & index_mask).astype(jnp.int32)
        order = moved if order is None else order[moved]
    return order


def shuffle_into_minibatches(key: jax.Array, batch, num_minibatches: int):
    """Flatten ``[T, N, ...]`` leaves to ``[T*N, ...]``, permute (:func:`permutation`), split
    into ``[M, T*N/M, ...]``."""
    leaves = jax.tree.leaves(batch)
    size = leaves[0].shape[0] * leaves[0].shape[1]
    order = permutation(key, size)

    def split(x):
        x = x.reshape(size, *x.shape[2:])[order]
        return x.reshape(num_minibatches, size // num_minibatches, *x.shape[1:])

    return jax.tree.map(split, batch)


def ppo_loss(
    dist,
    values: jax.Array,
    actions: jax.Array,
    old_log_probs: jax.Array,
    old_values: jax.Array,
    advantages: jax.Array,
    targets: jax.Array,
    *,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """PPO's clipped surrogate with a clipped value loss and an entropy bonus (PureJaxRL's form).

    Advantages are normalised per minibatch. Returns the total loss and scalar diagnostics.
    """
    log_probs = dist.log_prob(actions)
    log_ratio = log_probs - old_log_probs
    ratio = jnp.exp(log_ratio)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = -jnp.minimum(
        ratio * advantages, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    ).mean()

    values_clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
    value_loss = 0.5 * jnp.maximum(
        jnp.square(values - targets), jnp.square(values_clipped - targets)
    ).mean()

    entropy = dist.entropy().mean()
    total = policy_loss + vf_coef * value_loss - ent_coef * entropy
    diagnostics = {
        "total_loss": total,
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        # Schulman's low-variance estimator of KL(old || new).
        "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
        "clip_fraction": jnp.mean(jnp.abs(ratio - 1.0) > clip_eps),
    }
    return total, diagnostics
