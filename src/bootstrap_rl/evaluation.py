"""Policy evaluation: complete episodes with a fixed policy, vectorised, jit-able."""

from __future__ import annotations

import jax
import jax.numpy as jnp


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
    finished envs are masked. ``max_steps`` bounds the loop for envs without a time limit
    (episodes still running then are cut there). Pure and jit-able; vmap it over seeds' ``params``.
    """
    reset_key, loop_key = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_episodes), env_params
    )
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    zeros = jnp.zeros(num_episodes, jnp.float32)
    running = jnp.ones(num_episodes, bool)

    def body(carry):
        obs, env_state, returns, lengths, running, key, step = carry
        key, act_key, env_key = jax.random.split(key, 3)
        dist = network.apply(params, obs, method="policy")
        action = dist.mode() if greedy else dist.sample(act_key)
        obs, env_state, reward, terminated, truncated, _ = step_envs(
            jax.random.split(env_key, num_episodes), env_state, action, env_params
        )
        returns = returns + jnp.where(running, reward, 0.0)
        lengths = lengths + running
        running = running & ~(terminated | truncated)
        return obs, env_state, returns, lengths, running, key, step + 1

    carry = (obs, env_state, zeros, zeros, running, loop_key, 0)
    _, _, returns, lengths, *_ = jax.lax.while_loop(
        lambda c: c[4].any() & (c[6] < max_steps), body, carry
    )
    return returns, lengths
