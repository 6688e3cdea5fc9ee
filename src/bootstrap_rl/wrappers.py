"""Environment wrappers that keep the gymnax 1.x contract.

:class:`TaskSamplingEnv` turns a task family plus a task sampler (a curriculum stage's task
distribution, ``key -> params``) into one ordinary gymnax ``Environment`` whose every
episode draws its own task::

    env = TaskSamplingEnv(Playroom("goto"), playroom.sample_task("goto"))
    obs, state = env.reset(key)              # state.task: this episode's task params
    obs, state, reward, terminated, truncated, info = env.step(key, state, action)

Because the task lives in the *state*, each of a learner's parallel envs runs its own task,
each auto-reset draws a new one, and one compiled ``step`` serves every task. Learners and
evaluators that vmap ``env.step`` over envs with shared params (``in_axes=(0, 0, 0, None)``)
need no change.

The wrapper's *params are the distribution*: a ``jax.tree_util.Partial`` sampler. Its array
arguments are data, so a sampler built from one function with other arrays (another stage's
kind weights, say) passes through the same compiled ``step``::

    easy = Partial(sample_mixture, weights=jnp.array([1.0, 0.0]))
    hard = Partial(sample_mixture, weights=jnp.array([0.0, 1.0]))
    env = TaskSamplingEnv(Playroom(), easy)          # default_params is `easy`
    env.step(key, state, action, hard)                # same program, new tasks
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment
from jax.tree_util import Partial


@struct.dataclass
class TaskState:
    """The wrapped env's state: the inner env's state and the task of the current episode."""

    env_state: Any
    task: Any  # inner env params, drawn by the sampler at this episode's reset

    @property
    def time(self) -> jax.Array:
        """Steps taken in the current episode (the inner state's ``time``)."""
        return self.env_state.time


def as_task_sampler(sampler: Callable[[jax.Array], Any]) -> Partial:
    """``sampler`` as a pytree: a ``Partial`` as is, any other callable wrapped (no data)."""
    if not callable(sampler):
        raise TypeError(f"sampler: must be a callable key -> params, got {type(sampler).__name__}")
    return sampler if isinstance(sampler, Partial) else Partial(sampler)


class TaskSamplingEnv(environment.Environment[TaskState, Partial]):
    """An env whose every episode runs a fresh task ``sampler(key)`` of ``env``.

    Args:
        env: a gymnax 1.x ``Environment`` whose params carry the task (e.g. Playroom).
        sampler: ``key -> params`` of ``env``; jittable, and it must return the same pytree
            structure, shapes and dtypes for every key (a stage's task distribution). It is
            the wrapper's ``default_params`` (wrapped in a ``Partial`` if it is not one).

    ``reset(key)`` draws a task and resets ``env`` on it; ``step`` advances ``env`` under the
    state's task and, when the episode ends, auto-resets on a newly drawn task. Truncation
    follows the current task's own ``max_steps_in_episode`` (``env.is_truncated(state,
    task)``). ``info["final_observation"]`` is the observation the step led to, before the
    auto-reset, as in gymnax 1.x.

    The ``params`` argument of ``reset``/``step`` is the sampler to draw new tasks from
    (``None``: ``default_params``). Episodes under way keep their task; only resets draw
    from it.

    The wrapper calls ``env.step_env``, ``env.reset_env`` and ``env.is_truncated`` (the
    gymnax 1.x building blocks), not ``env.step``, so an inner ``step`` override is bypassed.
    Per step it costs the inner step and reset (as gymnax's own auto-reset does) plus one
    key split and one sampler call.
    """

    def __init__(self, env: environment.Environment, sampler: Callable[[jax.Array], Any]):
        super().__init__()
        self.env = env
        self.sampler = as_task_sampler(sampler)

    def __getattr__(self, name: str):
        # Forward anything else (size, view_size, describe, obs_size, ...) to the inner env.
        if name in ("env", "sampler") or name.startswith("__"):
            raise AttributeError(name)  # not yet set (copy/pickle probe attributes early)
        return getattr(self.env, name)

    # gymnax hashes `self` as a static jit argument: identity semantics are what we want.

    @property
    def default_params(self) -> Partial:
        return self.sampler

    @property
    def name(self) -> str:
        return f"TaskSamplingEnv({self.env.name}, {getattr(self.sampler.func, '__name__', 'sampler')})"

    @property
    def num_actions(self) -> int:
        return self.env.num_actions

    def action_space(self, params: Any = None):
        return self.env.action_space(self.env.default_params)

    def observation_space(self, params: Any = None):
        return self.env.observation_space(self.env.default_params)

    def sample_task(self, key: jax.Array) -> Any:
        """One task of the distribution (the sampler, as a method)."""
        return self.sampler(key)

    def reset_env(self, key: jax.Array, params: Any = None) -> tuple[Any, TaskState]:
        task_key, reset_key = jax.random.split(key)
        task = (self.sampler if params is None else params)(task_key)
        obs, env_state = self.env.reset_env(reset_key, task)
        return obs, TaskState(env_state=env_state, task=task)

    def step_env(self, key: jax.Array, state: TaskState, action, params: Any = None):
        """One step of the current task, without auto-reset."""
        obs, env_state, reward, terminated, info = self.env.step_env(key, state.env_state, action, state.task)
        return obs, state.replace(env_state=env_state), reward, terminated, info

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: TaskState, action, params: Any = None):
        """gymnax 1.x ``step``; an episode end auto-resets on a newly sampled task."""
        step_key, reset_key = jax.random.split(key)
        obs_st, state_st, reward, terminated, info = self.step_env(step_key, state, action)
        truncated = self.env.is_truncated(state_st.env_state, state.task)
        done = jnp.logical_or(terminated, truncated)
        obs_re, state_re = self.reset_env(reset_key, params)
        next_state = jax.tree.map(lambda r, s: jax.lax.select(done, r, s), state_re, state_st)
        obs = jax.tree.map(lambda r, s: jax.lax.select(done, r, s), obs_re, obs_st)
        info = {**info, "terminated": terminated, "truncated": truncated, "final_observation": obs_st}
        return obs, next_state, reward, terminated, truncated, info

    def is_truncated(self, state: TaskState, params: Any = None) -> jax.Array:
        return self.env.is_truncated(state.env_state, state.task)

    def is_terminated(self, state: TaskState, params: Any = None) -> jax.Array:
        return self.env.is_terminated(state.env_state, state.task)

    def render(self, state: TaskState, params: Any = None, **kwargs) -> jax.Array:
        """The inner env's render of the state, under the state's own task."""
        return self.env.render(state.env_state, state.task, **kwargs)

    def describe(self, state: TaskState) -> str:
        """The inner env's caption of a (concrete, unbatched) state's task."""
        return self.env.describe(state.task)
