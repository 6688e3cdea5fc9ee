"""TaskSamplingEnv: a fresh task per episode, with the gymnax 1.x step contract intact.

Planted effects: tasks differ across envs and across the episodes of one env; the same key
gives the same tasks; each episode truncates at its own sampled step limit; auto-reset
switches the instruction in the observation while ``final_observation`` keeps the old one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bootstrap_rl.envs import playroom as pr
from jax.tree_util import Partial

from bootstrap_rl.wrappers import TaskSamplingEnv, TaskState

pytestmark = pytest.mark.usefixtures("quick_compiles")  # compiling is what these tests cost

N = 64
# Instruction slice of the observation: kind one-hot (6), colour (6), type (3), direction (4).
INSTRUCTION = slice(pr.observation_size(5) - pr.INSTRUCTION_SIZE, None)
COLOUR = slice(INSTRUCTION.start + len(pr.TASK_KINDS), INSTRUCTION.start + len(pr.TASK_KINDS) + pr.NUM_COLOURS)
LIMITS = (3, 4, 5, 6, 7)


def short_pickup_sampler(key):
    """Pickup tasks with a random step limit in LIMITS (drop-only play never succeeds)."""
    task_key, limit_key = jax.random.split(key)
    limit = jnp.asarray(LIMITS, jnp.int32)[jax.random.randint(limit_key, (), 0, len(LIMITS))]
    return pr.sample_task("pickup")(task_key).replace(max_steps_in_episode=limit)


@pytest.fixture(scope="module")
def inner():
    return pr.Playroom("goto")


@pytest.fixture(scope="module")
def env(inner):
    return TaskSamplingEnv(inner, pr.sample_task("goto"))


@pytest.fixture(scope="module")
def fns(env):
    return batched(env)


def keys(seed, n=N):
    return jax.random.split(jax.random.key(seed), n)


def batched(env):
    """The jitted vmapped reset and step of an env (compiled once per env)."""
    return {
        "reset": jax.jit(jax.vmap(env.reset, in_axes=(0, None))),
        "step": jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None))),
    }


def rollout(fns, seed, steps, action=None, n=N):
    """`steps` steps of `n` envs (random actions unless `action` is given), stacked over time.

    A host loop over the shared compiled step, so no test compiles a rollout of its own.
    Returns (the states each step started from, the step outputs).
    """
    rng = np.random.default_rng(seed)
    obs, state = fns["reset"](keys(seed, n), None)
    starts, outs = [], []
    for t in range(steps):
        act = rng.integers(0, 6, n) if action is None else np.full(n, action)
        out = fns["step"](keys(seed * 1000 + t + 1, n), state, jnp.asarray(act, jnp.int32), None)
        starts.append(state)
        outs.append(out)
        state = out[1]
    stack = lambda trees: jax.tree.map(lambda *xs: np.stack(xs), *trees)  # noqa: E731
    return stack(starts), stack(outs)


def test_api_shapes_dtypes_and_spaces(env, inner, fns):
    obs, state = fns["reset"](keys(0), None)
    assert isinstance(state, TaskState)
    assert obs.shape == (N, inner.obs_size) and obs.dtype == jnp.float32
    assert env.observation_space().shape == inner.observation_space(inner.default_params).shape
    assert env.action_space().n == inner.action_space().n == env.num_actions
    assert isinstance(env.default_params, Partial)  # the sampler itself: the distribution is the params
    assert jax.tree.leaves(env.default_params) == []  # a plain function sampler carries no data
    obs2, state2, reward, terminated, truncated, info = fns["step"](keys(1), state, jnp.zeros(N, jnp.int32), None)
    assert obs2.shape == obs.shape and reward.shape == (N,) and reward.dtype == jnp.float32
    assert terminated.dtype == truncated.dtype == jnp.bool_
    assert set(info) >= {"terminated", "truncated", "final_observation"}
    assert info["final_observation"].shape == obs.shape
    running = ~(np.asarray(terminated) | np.asarray(truncated))
    np.testing.assert_array_equal(np.asarray(info["final_observation"])[running], np.asarray(obs2)[running])
    # Forwarded attributes of the inner env.
    assert env.size == inner.size and env.view_size == inner.view_size


def test_none_params_mean_the_default_sampler(env, fns):
    _, state = fns["reset"](keys(2), None)
    _, state_p = fns["reset"](keys(2), env.default_params)
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(state_p)):
        np.testing.assert_array_equal(x, y)


def test_tasks_vary_across_envs_and_match_the_instruction(fns):
    obs, state = fns["reset"](keys(4), None)
    combos = {(int(c), int(t)) for c, t in zip(state.task.target_colour, state.task.target_type)}
    assert len(combos) >= 8  # 18 goto tasks, 64 draws
    assert np.all(np.asarray(state.task.task_kind) == pr.GOTO)
    np.testing.assert_array_equal(np.argmax(np.asarray(obs)[:, COLOUR], axis=1), state.task.target_colour)


def test_same_key_same_tasks_and_trajectories(fns):
    first = rollout(fns, 5, 40)
    second = rollout(fns, 5, 40)
    for x, y in zip(jax.tree.leaves(first), jax.tree.leaves(second)):
        np.testing.assert_array_equal(x, y)
    other = rollout(fns, 6, 40)
    assert not np.array_equal(first[0].task.target_colour, other[0].task.target_colour)


def test_auto_reset_draws_a_new_task_per_episode(fns):
    states, (obs, next_state, reward, terminated, truncated, info) = rollout(fns, 7, 200)
    done = np.asarray(terminated | truncated)
    assert done.sum() > N  # most envs finish several episodes
    before = np.asarray(states.task.target_colour) * 4 + np.asarray(states.task.target_type)
    after = np.asarray(next_state.task.target_colour) * 4 + np.asarray(next_state.task.target_type)
    # The task changes only at episode ends ...
    np.testing.assert_array_equal(before[~done], after[~done])
    # ... and then it is freshly drawn: with 18 tasks, most ends switch to another one.
    assert (before[done] != after[done]).mean() > 0.8
    # Within one env, several distinct tasks appear over its episodes.
    distinct_per_env = [len(set(before[:, i].tolist())) for i in range(N)]
    assert np.median(distinct_per_env) >= 3
    # After an end, obs carries the new task's instruction; final_observation the old one's.
    colour_obs = np.argmax(np.asarray(obs)[..., COLOUR], axis=-1)
    colour_final = np.argmax(np.asarray(info["final_observation"])[..., COLOUR], axis=-1)
    np.testing.assert_array_equal(colour_obs, np.asarray(next_state.task.target_colour))
    np.testing.assert_array_equal(colour_final, np.asarray(states.task.target_colour))
    # A fresh episode starts at time 0.
    assert np.all(np.asarray(next_state.env_state.time)[done] == 0)


def test_truncation_at_each_sampled_tasks_own_limit(inner):
    env = TaskSamplingEnv(inner, short_pickup_sampler)
    steps = 60
    states, (_, next_state, reward, terminated, truncated, info) = rollout(batched(env), 8, steps, action=pr.DROP)
    truncated, terminated = np.asarray(truncated), np.asarray(terminated)
    assert not terminated.any() and np.all(np.asarray(reward) == 0)
    limits = np.asarray(states.task.max_steps_in_episode)
    time_after = np.asarray(states.env_state.time) + 1
    # Truncated exactly when the step reaches the current task's limit, never otherwise.
    np.testing.assert_array_equal(truncated, time_after == limits)
    np.testing.assert_array_equal(np.asarray(info["truncated"]), truncated)
    # Limits vary across episodes, and each episode lasts exactly its own limit.
    assert len(np.unique(limits)) == len(LIMITS)
    for i in range(8):
        ends = np.flatnonzero(truncated[:, i])
        lengths = np.diff(np.concatenate([[-1], ends]))
        np.testing.assert_array_equal(lengths, limits[ends, i])


def test_render_uses_the_states_task(env, inner, fns):
    _, state = fns["reset"](keys(9), None)
    one = jax.tree.map(lambda x: x[0], state)
    image = env.render(one)
    assert image.dtype == jnp.uint8 and image.ndim == 3
    np.testing.assert_array_equal(image, inner.render(one.env_state, one.task))
    assert env.describe(one) == pr.describe_task(one.task)


def test_runs_under_ppo(env):
    from bootstrap_rl.ppo import PPOConfig, make_ppo

    config = PPOConfig(total_timesteps=64, num_envs=4, num_steps=16, update_epochs=1,
                       num_minibatches=1, hidden_sizes=(8,))
    ppo = make_ppo(config, env, env.default_params)

    state, metrics = jax.jit(ppo.train)(jax.random.key(10))
    assert np.isfinite(np.asarray(metrics["total_loss"])).all()
    # Each of the learner's envs holds its own task.
    assert state.env_state.task.target_colour.shape == (4,)
