"""Policy evaluation: complete episodes with a fixed policy, vectorised, jit-able."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Episodes(NamedTuple):
    """What :func:`play_episodes` returns; one entry per episode (``[episodes]``)."""

    returns: jax.Array
    lengths: jax.Array
    # Up to ``record_steps`` observations of every episode, drawn uniformly from its steps
    # (``[record_steps, episodes, ...]``), and which slots hold one (``[record_steps, episodes]``).
    observations: jax.Array
    seen: jax.Array


def play_episodes(
    network,
    params,
    env,
    env_params,
    key: jax.Array,
    num_episodes: int,
    *,
    greedy: bool = False,
    max_steps: int = 100_000,
    per_episode_params: bool = False,
    record_steps: int = 0,
) -> Episodes:
    """Play ``num_episodes`` episodes in parallel, one per env, each until it first ends.

    ``per_episode_params``: ``env_params`` has a leading ``[num_episodes]`` axis (one task
    or task distribution per episode), so episodes of several distributions run in one loop.
    ``record_steps``: also keep that many observations of each episode, a uniform sample of
    the states it visited (reservoir sampling; all of them if the episode is shorter) — a
    probe set of the states the policy meets. Steps use gymnax 1.x's ``env.step_env`` and
    ``env.is_truncated``, not ``env.step``: no episode is continued, so the auto-reset that
    ``step`` computes every step would be wasted work (and compile time). ``max_steps``
    bounds the loop for envs without a time limit (episodes still running are cut there).
    """
    params_axis = 0 if per_episode_params else None
    reset_key, loop_key = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, params_axis))(
        jax.random.split(reset_key, num_episodes), env_params
    )

    def step_without_reset(key, state, action, params):
        obs, state, reward, terminated, _ = env.step_env(key, state, action, params)
        return obs, state, reward, terminated, env.is_truncated(state, params)

    step_envs = jax.vmap(step_without_reset, in_axes=(0, 0, 0, params_axis))
    zeros = jnp.zeros(num_episodes, jnp.float32)
    running = jnp.ones(num_episodes, bool)
    recorded = jnp.zeros((record_steps, *obs.shape), obs.dtype)
    seen = jnp.zeros((record_steps, num_episodes), bool)

    def body(carry):
        obs, env_state, returns, lengths, running, key, step, recorded, seen = carry
        if record_steps:
            # Reservoir sampling: step t of an episode takes a slot with probability k/(t+1).
            key, probe_key = jax.random.split(key)
            draw = jax.random.randint(probe_key, (num_episodes,), 0, step + 1)
            slot = jnp.where(step < record_steps, step, draw)
            slot = jnp.where(running & (slot < record_steps), slot, record_steps)  # k: no write
            episode = jnp.arange(num_episodes)
            recorded = recorded.at[slot, episode].set(obs, mode="drop")
            seen = seen.at[slot, episode].set(True, mode="drop")
        key, act_key, env_key = jax.random.split(key, 3)
        dist = network.apply(params, obs, method="policy")
        action = dist.mode() if greedy else dist.sample(act_key)
        obs, env_state, reward, terminated, truncated = step_envs(
            jax.random.split(env_key, num_episodes), env_state, action, env_params
        )
        returns = returns + jnp.where(running, reward, 0.0)
        lengths = lengths + running
        running = running & ~(terminated | truncated)
        return obs, env_state, returns, lengths, running, key, step + 1, recorded, seen

    carry = (obs, env_state, zeros, zeros, running, loop_key, 0, recorded, seen)
    _, _, returns, lengths, _, _, _, recorded, seen = jax.lax.while_loop(
        lambda c: c[4].any() & (c[6] < max_steps), body, carry
    )
    return Episodes(returns, lengths, recorded, seen)


def evaluate(
    network,
    params,
    env,
    env_params,
    key: jax.Array,
    num_episodes: int = 128,
    greedy: bool = False,
    max_steps: int = 100_000,
) -> tuple[jax.Array, jax.Array]:
    """Returns and lengths of ``num_episodes`` episodes (one per parallel env).

    Each env runs until its first episode ends (terminated or truncated); later steps of
    finished envs are masked. Pure and jit-able; vmap it over seeds' ``params``. See
    :func:`play_episodes` for more options.
    """
    episodes = play_episodes(network, params, env, env_params, key, num_episodes,
                             greedy=greedy, max_steps=max_steps)
    return episodes.returns, episodes.lengths


def policy_kl(network, old_params, new_params, observations: jax.Array, weights: jax.Array) -> jax.Array:
    """Weighted mean KL(pi_old || pi_new) over ``observations``: how far a policy drifted."""
    old = network.apply(old_params, observations, method="policy")
    new = network.apply(new_params, observations, method="policy")
    weights = weights.astype(jnp.float32)
    return jnp.sum(old.kl(new) * weights) / jnp.maximum(weights.sum(), 1.0)
