"""The env an automatic curriculum trains on: each episode plays a level, and a level being
replayed restarts, when its episode ends, on itself.

:class:`LevelEnv` is :class:`~bootstrap_rl.wrappers.TaskSamplingEnv` (its params are a stage's
task sampler) whose state also carries the episode's :class:`~bootstrap_rl.ued.levels.Level`
(task and layout seed) and whether to replay it. Reset from a sampler, it draws a new level
per episode, exactly as ``TaskSamplingEnv`` draws a task (the adult stage of a UED arm trains
so); :meth:`LevelEnv.reset_to_level` starts an episode on a given level and marks it for
replay, so every episode of that env until the next reset is the same level (jaxued's
``AutoReplayWrapper``). One compiled ``step`` serves both.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from bootstrap_rl.ued.levels import Level
from bootstrap_rl.wrappers import TaskSamplingEnv


@struct.dataclass
class LevelState:
    """The wrapped env's state, its episode's level, and whether the level is replayed."""

    env_state: Any
    level: Level
    replay: jax.Array  # bool

    @property
    def task(self) -> Any:
        return self.level.task

    @property
    def time(self) -> jax.Array:
        return self.env_state.time


def draw_level(sampler, key: jax.Array) -> Level:
    """A new level of a task distribution: a task and a layout seed, split from ``key`` as
    ``TaskSamplingEnv`` splits its reset key (so the same key makes the same episode)."""
    task_key, seed = jax.random.split(key)
    return Level(task=sampler(task_key), seed=seed)


class LevelEnv(TaskSamplingEnv):
    """``TaskSamplingEnv`` whose episodes play :class:`Level`\\ s and can replay them."""

    def reset_to_level(self, level: Level, replay: Any = True) -> tuple[jax.Array, LevelState]:
        """An episode of ``level``; with ``replay``, every later episode of this env is too."""
        obs, env_state = self.env.reset_env(level.seed, level.task)
        return obs, LevelState(env_state=env_state, level=level, replay=jnp.asarray(replay, bool))

    def reset_env(self, key: jax.Array, params: Any = None) -> tuple[jax.Array, LevelState]:
        return self.reset_to_level(draw_level(self.sampler if params is None else params, key), replay=False)

    def step_env(self, key: jax.Array, state: LevelState, action, params: Any = None):
        obs, env_state, reward, terminated, info = self.env.step_env(key, state.env_state, action, state.level.task)
        return obs, state.replace(env_state=env_state), reward, terminated, info

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: LevelState, action, params: Any = None):
        """gymnax 1.x ``step``; an episode end restarts on the same level if it is replayed,
        else on a new level of ``params`` (the sampler)."""
        step_key, reset_key = jax.random.split(key)
        obs_st, state_st, reward, terminated, info = self.step_env(step_key, state, action)
        truncated = self.env.is_truncated(state_st.env_state, state.level.task)
        done = jnp.logical_or(terminated, truncated)
        new = draw_level(self.sampler if params is None else params, reset_key)
        level = jax.tree.map(lambda old, fresh: jax.lax.select(state.replay, old, fresh), state.level, new)
        obs_re, state_re = self.reset_to_level(level, state.replay)
        next_state = jax.tree.map(lambda r, s: jax.lax.select(done, r, s), state_re, state_st)
        obs = jax.lax.select(done, obs_re, obs_st)
        info = {**info, "terminated": terminated, "truncated": truncated, "final_observation": obs_st}
        return obs, next_state, reward, terminated, truncated, info

    def is_truncated(self, state: LevelState, params: Any = None) -> jax.Array:
        return self.env.is_truncated(state.env_state, state.level.task)

    def is_terminated(self, state: LevelState, params: Any = None) -> jax.Array:
        return self.env.is_terminated(state.env_state, state.level.task)

    def render(self, state: LevelState, params: Any = None, **kwargs) -> jax.Array:
        return self.env.render(state.env_state, state.level.task, **kwargs)

    def describe(self, state: LevelState) -> str:
        return self.env.describe(state.level.task)
