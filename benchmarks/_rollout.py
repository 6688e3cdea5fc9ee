"""The random-policy rollout that the env throughput benchmarks time (``env_throughput.py``,
``limbs_throughput.py``), and the README table of its results. Private to ``benchmarks/``;
see ``_common.py`` on importing.

One jitted ``lax.scan`` of ``vmap(env.step)`` with uniform random actions, a fresh key per env
per step and gymnax auto-reset; the scan carry accumulates ``obs.sum() + reward.sum()``, so
XLA cannot drop the work of computing observations.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

DEFAULT_NUM_ENVS = {"cpu": [1, 64, 1024, 4096], "gpu": [1, 1024, 8192, 65536, 262144]}


def steps_per_call(budget: int, num_envs: int) -> int:
    """Env steps per env per timed call: about ``budget`` env steps in all, 32 to 20,000."""
    return int(np.clip(budget // num_envs, 32, 20_000))


@functools.lru_cache(maxsize=None)  # every task kind of a family reuses one compiled rollout
def make_rollout(env, num_envs: int, num_steps: int, batched_params: bool):
    """(init, run): init(key, params) -> carry; run(carry, params) -> carry after num_steps."""
    params_axis = 0 if batched_params else None
    reset = jax.vmap(env.reset, in_axes=(0, params_axis))
    step = jax.vmap(env.step, in_axes=(0, 0, 0, params_axis))
    space = env.action_space(env.default_params)
    if isinstance(space, spaces.Discrete):  # Playroom, CartPole, Breakout: uniform over the actions

        def random_actions(key):
            return jax.random.randint(key, (num_envs,), 0, space.n)

    else:  # a Box (Limbs [-1, 1]^3, Pendulum [-2, 2]): uniform over it

        def random_actions(key):
            return jax.random.uniform(key, (num_envs, *space.shape), jnp.float32, space.low, space.high)

    @jax.jit
    def init(key, params):
        key, reset_key = jax.random.split(key)
        _, state = reset(jax.random.split(reset_key, num_envs), params)
        return key, state, jnp.zeros((), jnp.float32)

    @jax.jit
    def run(carry, params):
        def body(carry, _):
            key, state, total = carry
            key, action_key, step_key = jax.random.split(key, 3)
            actions = random_actions(action_key)
            obs, state, reward, _, _, _ = step(jax.random.split(step_key, num_envs), state, actions, params)
            total = total + jnp.sum(obs.astype(jnp.float32)) + jnp.sum(reward)
            return (key, state, total), None

        carry, _ = jax.lax.scan(body, carry, None, length=num_steps)
        return carry

    return init, run


def measure(env, params, num_envs: int, num_steps: int, repeats: int, batched_params: bool) -> dict:
    init, run = make_rollout(env, num_envs, num_steps, batched_params)
    carry = init(jax.random.key(0), params)
    started = time.perf_counter()
    carry = jax.block_until_ready(run(carry, params))  # compile + warm up
    first_call_s = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        carry = jax.block_until_ready(run(carry, params))
        times.append(time.perf_counter() - started)
    seconds = min(times)  # best of: the least disturbed by other work on the machine
    assert np.isfinite(float(carry[2]))
    return {"num_envs": num_envs, "num_steps": num_steps, "seconds": seconds,
            "steps_per_s": num_envs * num_steps / seconds, "first_call_s": first_call_s}


def table(rows: list[dict]) -> str:
    """Markdown table: one row per env, one column per number of envs."""
    sizes = sorted({row["num_envs"] for row in rows})
    envs = list(dict.fromkeys(row["env"] for row in rows))
    value = {(row["env"], row["num_envs"]): row["steps_per_s"] for row in rows}
    lines = ["| env | " + " | ".join(f"{n:,} envs" for n in sizes) + " |",
             "| --- |" + " ---: |" * len(sizes)]
    for env in envs:
        cells = [f"{value[(env, n)]:.2e}" if (env, n) in value else "" for n in sizes]
        lines.append(f"| {env} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios(rows: list[dict], family: str, reference: str) -> str:
    """The slowest and fastest of ``family``'s rows over ``reference``'s, at each number of
    envs: ``64: 0.79–1.81; 1,024: ...`` (empty where nothing is measured)."""
    sizes = sorted({row["num_envs"] for row in rows})
    value = {(row["env"], row["num_envs"]): row["steps_per_s"] for row in rows}
    words = []
    for n in sizes:
        ours = [v for (env, m), v in value.items() if m == n and env.startswith(family)]
        if ours and (reference, n) in value:
            words.append(f"{n:,}: {min(ours) / value[(reference, n)]:.2f}–{max(ours) / value[(reference, n)]:.2f}")
    return "; ".join(words)
