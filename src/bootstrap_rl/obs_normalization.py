"""Observation normalisation as an environment wrapper, in the style of PureJaxRL.

:class:`NormalizeObservation` keeps running statistics (mean, variance, count) of the
observations in the env *state*, updates them on every ``reset`` and ``step``, and returns
``(obs - mean) / sqrt(var + 1e-8)``, optionally clipped. The update is the parallel-variance
merge of rejax's and PureJaxRL's normalisers (counts start at 1e-4), so
``PPO(NormalizeObservation(env))`` normalises what rejax's ``normalize_observations=True``
does.

PureJaxRL wraps an already vectorised env, so one update sees the whole batch of envs. Our
learner vmaps ``env.step`` over its envs instead. So that the statistics are still shared
by the batch, the update is a ``jax.custom_batching.custom_vmap`` function: vmapped over
envs it merges the whole batch of observations into one set of statistics that every env
then holds (all envs start from the same statistics, at ``reset``, and stay identical). An
outer vmap (over seeds) keeps each seed's statistics apart, because the innermost vmap —
the learner's over envs — is the one whose rule merges. Unbatched, it merges one
observation.

Evaluation: a fresh ``reset`` starts from the wrapper's initial statistics, not the trained
ones. Either evaluate the *raw* env with :class:`NormalizedNetwork`, which normalises inside
the policy with statistics passed as data (vmaps over seeds), or use
:meth:`NormalizeObservation.frozen`, an env that normalises with fixed statistics::

    env = NormalizeObservation(Limbs("reach"))
    ppo = make_ppo(config, env, params)
    state, _ = jax.vmap(ppo.train)(keys)
    stats = running_stats(state.env_state, env_axis=1)           # [seeds, ...]
    jax.vmap(lambda p, s, k: evaluate(NormalizedNetwork(ppo.network), (p, s), env.env, params, k))(
        state.params, stats, keys)

The params pass through unchanged (the wrapper's params are the inner env's), so task
samplers, ``TaskSamplingEnv`` and ``max_steps_in_episode`` work as before.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment

INITIAL_COUNT = 1e-4  # as gym's, rejax's and PureJaxRL's running means
EPSILON = 1e-8


@struct.dataclass
class RunningStats:
    """Running mean and (population) variance of observations, over ``count`` samples."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, shape) -> RunningStats:
        return cls(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32),
                   jnp.asarray(INITIAL_COUNT, jnp.float32))


def merge(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Merge a batch ``[B, *shape]`` of observations into ``stats`` (Chan et al.'s parallel
    update; exactly rejax's ``update_rms``)."""
    batch = batch.astype(jnp.float32)
    count = jnp.asarray(batch.shape[0], jnp.float32)
    mean, var = batch.mean(axis=0), batch.var(axis=0)
    delta = mean - stats.mean
    total = stats.count + count
    new_mean = stats.mean + delta * count / total
    m2 = stats.var * stats.count + var * count + jnp.square(delta) * stats.count * count / total
    return RunningStats(new_mean, m2 / total, total)


def normalize(stats: RunningStats, obs: jax.Array, clip: float | None = None) -> jax.Array:
    """``(obs - mean) / sqrt(var + 1e-8)``, clipped to ``[-clip, clip]`` if ``clip``."""
    out = (obs.astype(jnp.float32) - stats.mean) / jnp.sqrt(stats.var + EPSILON)
    return out if clip is None else jnp.clip(out, -clip, clip)


@jax.custom_batching.custom_vmap
def shared_update(stats: RunningStats, obs: jax.Array) -> RunningStats:
    """Merge one observation; vmapped, merge the whole batch into statistics shared by all."""
    return merge(stats, obs[None])


@shared_update.def_vmap
def _shared_update_batched(axis_size, in_batched, stats, obs):
    stats_batched, obs_batched = in_batched
    # Every env holds the same statistics (see the module docstring): take the first copy.
    stats = jax.tree.map(lambda x, batched: x[0] if batched else x, stats, stats_batched)
    if not obs_batched:
        obs = jnp.broadcast_to(obs, (axis_size,) + obs.shape)
    merged = merge(stats, obs)
    return merged, jax.tree.map(lambda _: False, merged)


class NormalizedNetwork(NamedTuple):
    """``network`` behind the normaliser, for evaluating a raw (unwrapped) env: its
    ``apply((params, stats), obs, method=...)`` normalises ``obs`` with ``stats`` first."""

    network: Any
    clip: float | None = None

    def apply(self, variables, obs: jax.Array, method: str | None = None, **kwargs):
        params, stats = variables
        obs = normalize(stats, obs, self.clip)
        if method is None:
            return self.network.apply(params, obs, **kwargs)
        return self.network.apply(params, obs, method=method, **kwargs)


@struct.dataclass
class NormalizedState:
    """The wrapped env's state: the inner state and the running statistics."""

    env_state: Any
    stats: RunningStats

    @property
    def time(self) -> jax.Array:
        return self.env_state.time


def running_stats(env_state: NormalizedState, env_axis: int = 0) -> RunningStats:
    """The statistics held by a batch of wrapped env states (every env's copy is the same,
    so the first along ``env_axis``): ``env_axis=0`` for one seed's learner state
    (``state.env_state`` is ``[envs, ...]``), ``1`` for a vmapped train's ``[seeds, envs, ...]``."""
    return jax.tree.map(lambda x: jnp.take(x, 0, axis=env_axis), env_state.stats)


class NormalizeObservation(environment.Environment):
    """Wrap ``env`` so its observations are normalised by running statistics (module docstring).

    Args:
        env: a gymnax 1.x environment with flat (or any fixed-shape) observations.
        clip: clip normalised observations to ``[-clip, clip]`` (``None``: no clipping,
            as rejax and PureJaxRL).
        initial: statistics to start from (default: mean 0, variance 1, count 1e-4).
        update: whether ``reset`` and ``step`` update the statistics (``False``: a frozen
            normaliser, for evaluation; see :meth:`frozen`).
    """

    def __init__(self, env: environment.Environment, *, clip: float | None = None,
                 initial: RunningStats | None = None, update: bool = True):
        super().__init__()
        if clip is not None and not clip > 0:
            raise ValueError(f"clip: must be positive or None, got {clip!r}")
        self.env = env
        self.clip = clip
        self.update = bool(update)
        shape = tuple(env.observation_space(env.default_params).shape)
        self.initial = RunningStats.create(shape) if initial is None else initial
        if tuple(jnp.shape(self.initial.mean)) != shape:
            raise ValueError(f"initial: statistics of shape {jnp.shape(self.initial.mean)}, observations are {shape}")

    def __getattr__(self, name: str):
        # Forward anything else (task_distribution, render's helpers, obs_size, ...) to the inner env.
        if name in ("env", "clip", "update", "initial") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.env, name)

    def frozen(self, stats: RunningStats) -> NormalizeObservation:
        """The same normalisation with fixed ``stats`` (unbatched), never updated: for
        evaluating a policy trained behind this wrapper."""
        return NormalizeObservation(self.env, clip=self.clip, initial=stats, update=False)

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    @property
    def name(self) -> str:
        return f"NormalizeObservation({self.env.name})"

    @property
    def num_actions(self) -> int:
        return self.env.num_actions

    def action_space(self, params: Any = None):
        return self.env.action_space(params)

    def observation_space(self, params: Any = None):
        return self.env.observation_space(params)

    def _apply(self, stats: RunningStats, obs: jax.Array) -> tuple[RunningStats, jax.Array]:
        if self.update:
            stats = shared_update(stats, obs)
        return stats, normalize(stats, obs, self.clip)

    @partial(jax.jit, static_argnames=("self",))
    def reset(self, key: jax.Array, params: Any = None) -> tuple[jax.Array, NormalizedState]:
        obs, env_state = self.env.reset(key, self.default_params if params is None else params)
        stats, obs = self._apply(self.initial, obs)
        return obs, NormalizedState(env_state, stats)

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: NormalizedState, action, params: Any = None):
        """The inner env's step (auto-reset included); the statistics carry across episodes
        (gymnax's base ``step`` would reset them with the episode, hence the override)."""
        params = self.default_params if params is None else params
        obs, env_state, reward, terminated, truncated, info = self.env.step(key, state.env_state, action, params)
        stats, obs = self._apply(state.stats, obs)
        info = {**info, "final_observation": normalize(stats, info["final_observation"], self.clip)}
        return obs, NormalizedState(env_state, stats), reward, terminated, truncated, info

    def reset_env(self, key: jax.Array, params: Any) -> tuple[jax.Array, NormalizedState]:
        obs, env_state = self.env.reset_env(key, params)
        stats, obs = self._apply(self.initial, obs)
        return obs, NormalizedState(env_state, stats)

    def step_env(self, key: jax.Array, state: NormalizedState, action, params: Any):
        """One step without auto-reset (what evaluators call); updates the statistics too."""
        obs, env_state, reward, terminated, info = self.env.step_env(key, state.env_state, action, params)
        stats, obs = self._apply(state.stats, obs)
        return obs, NormalizedState(env_state, stats), reward, terminated, info

    def is_truncated(self, state: NormalizedState, params: Any) -> jax.Array:
        return self.env.is_truncated(state.env_state, params)

    def is_terminated(self, state: NormalizedState, params: Any) -> jax.Array:
        return self.env.is_terminated(state.env_state, params)

    def render(self, state: NormalizedState, params: Any = None, **kwargs) -> jax.Array:
        return self.env.render(state.env_state, params, **kwargs)

    def describe(self, params: Any = None) -> str:
        return self.env.describe(params)
