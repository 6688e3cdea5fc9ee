"""A PPO learner whose childhood is an automatic curriculum: ``ued/dr``, ``ued/plr``, ``ued/accel``.

:func:`make_ued` wraps a PPO learner built on a :class:`~bootstrap_rl.ued.env.LevelEnv` (with
the :func:`level_scores` manager) into a learner with PPO's interface. In a stage where it is on,
every update first sets each env to a level and then runs the wrapped update once, on a rollout
of ``num_envs x num_steps`` env steps, so every update spends exactly what a ``direct`` update
spends, scoring or training (docs/ued.md, "Budget"):

* **new** (every ``dr`` update; a ``plr``/``accel`` update that does not replay): fresh levels
  from the stage's task distribution. ``dr`` trains on them; ``plr`` and ``accel`` only score
  them (the update's parameters are discarded: robust PLR) and offer them to the buffer.
* **replay** (with probability ``replay_prob`` once the buffer is ``min_fill`` full): levels
  drawn from the buffer by :func:`~bootstrap_rl.ued.levels.replay_weights`; the only updates
  that train (``plr``, ``accel``); the levels' scores are renewed.
* **mutate** (``accel``, the update after a replay): the replayed levels, each edited by the
  family's ``mutate_level`` (``edits`` times), scored and offered to the buffer, not trained on.

Scores are positive value loss (Jiang et al. 2021): per env, the mean over the rollout of the
clipped GAE advantages, ``mean_t max(A_t, 0)``. In a stage where it is off (the adult stage)
the update is the wrapped learner's, unchanged: envs keep running and draw a new task per
episode. The kind (an index into ``UED_KINDS``) and the stage mask are data, so the three arms
share one compiled program. The level buffer is part of the learner state (:class:`UEDState`),
so it is saved and restored with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from bootstrap_rl.managers.base import Manager
from bootstrap_rl.ppo.train import PPO
from bootstrap_rl.ued.config import UED_KINDS, UEDConfig
from bootstrap_rl.ued.env import LevelEnv, draw_level
from bootstrap_rl.ued.levels import Level, LevelBuffer, empty_buffer, insert_levels, sample_replay, update_scores

DR, PLR, ACCEL = (UED_KINDS.index(kind) for kind in ("dr", "plr", "accel"))
NEW, REPLAY, MUTATE = 0, 1, 2  # what an update does with its levels


@struct.dataclass
class UEDState:
    """One seed's learner with an automatic curriculum: the PPO state, the level buffer, the
    last replayed levels (ACCEL mutates them next), what the last update did, whether the
    curriculum is on in this stage, and its own RNG key."""

    train: Any  # the wrapped learner's TrainState
    buffer: LevelBuffer
    replayed: Level  # [num_envs]
    mode: jax.Array  # int32: NEW, REPLAY or MUTATE
    on: jax.Array  # bool
    key: jax.Array

    @property
    def params(self) -> Any:
        """The variables that act (the wrapped learner's)."""
        return self.train.params


def level_scores(num_steps: int, num_envs: int) -> Manager:
    """A manager that keeps, after every update, each env's positive value loss over the
    rollout, ``mean_t max(A_t, 0)`` (its state, ``[num_envs]``); it changes nothing."""

    def after_update(mstate, managed, handover):
        advantage = handover.batch.advantage.reshape(num_steps, num_envs)
        return jnp.maximum(advantage, 0.0).mean(axis=0), managed

    return Manager(init=lambda key, params: jnp.zeros(num_envs, jnp.float32), after_update=after_update)


def default_mutation(key: jax.Array, task: Any, seed: jax.Array) -> tuple[Any, jax.Array]:
    """A level mutation any family allows: the same task on a new layout seed."""
    return task, jax.random.split(key)[0]


def family_mutation(family) -> Callable:
    """The family's ``mutate_level(key, task, seed) -> (task, seed)`` hook, else
    :func:`default_mutation`."""
    return getattr(family, "mutate_level", default_mutation)


def make_ued(ppo: PPO, env: LevelEnv, config: UEDConfig, kind: Any, active: Any,
             mutate: Callable = default_mutation) -> PPO:
    """``ppo`` (built on ``env`` with :func:`level_scores` as its manager) with an automatic
    curriculum of ``kind`` (an index into ``UED_KINDS``, data) in the stages where ``active``
    (a bool per stage index, data) holds."""
    num_envs = ppo.config.num_envs
    kind = jnp.asarray(kind, jnp.int32)
    mask = jnp.asarray(active, bool)
    temperature, staleness = config.temperature, config.staleness_coeff
    min_size = max(1, math.ceil(config.min_fill * config.capacity))
    reset_to_levels = jax.vmap(env.reset_to_level)

    def edit(key, level: Level) -> Level:
        def once(level, key):
            task, seed = mutate(key, level.task, level.seed)
            return Level(task=task, seed=seed), None

        return jax.lax.scan(once, level, jax.random.split(key, config.edits))[0]

    def init(key: jax.Array, hparams: dict | None = None) -> UEDState:
        own_key, key = jax.random.split(key)
        train = ppo.init(key, hparams)
        level = draw_level(train.env_params, own_key)
        return UEDState(
            train=train, buffer=empty_buffer(level, config.capacity),
            replayed=jax.tree.map(lambda x: jnp.repeat(x[None], num_envs, axis=0), level),
            mode=jnp.int32(NEW), on=jnp.zeros((), bool), key=own_key,
        )

    def update(state: UEDState):
        key, decide_key, new_key, replay_key, mutate_key = jax.random.split(state.key, 5)
        train, buffer = state.train, state.buffer
        new = jax.vmap(draw_level, in_axes=(None, 0))(train.env_params, jax.random.split(new_key, num_envs))
        replay = (kind != DR) & (buffer.size >= min_size) & (jax.random.uniform(decide_key) < config.replay_prob)
        mode = jnp.where((kind == ACCEL) & (state.mode == REPLAY), MUTATE, jnp.where(replay, REPLAY, NEW))
        drawn, slots, replayed = sample_replay(buffer, replay_key, num_envs, temperature, staleness)
        children = jax.vmap(edit)(jax.random.split(mutate_key, num_envs), state.replayed)

        def pick(fresh, again, child):
            return jnp.where(mode == REPLAY, again, jnp.where(mode == MUTATE, child, fresh))

        levels = jax.tree.map(pick, new, replayed, children)
        obs, env_state = reset_to_levels(levels)
        on_levels = train.replace(env_state=env_state, obs=obs, episode_return=jnp.zeros_like(train.episode_return),
                                  episode_length=jnp.zeros_like(train.episode_length))
        trained, metrics = ppo.update(_select(state.on, on_levels, train))
        scores = trained.manager_state
        # Robust PLR: only replayed levels train (every level, for domain randomisation).
        learns = ~state.on | (kind == DR) | (mode == REPLAY)
        kept = trained.replace(params=train.params, opt_state=train.opt_state, hparams=train.hparams,
                               update=train.update)
        offered = insert_levels(buffer, _select(mode == MUTATE, children, new), scores, temperature, staleness)
        rescored = update_scores(drawn, slots, scores)
        keeps_buffer = ~state.on | (kind == DR)
        buffer = _select(keeps_buffer, buffer, _select(mode == REPLAY, rescored, offered))
        return UEDState(
            train=_select(learns, trained, kept), buffer=buffer,
            replayed=_select(state.on & (mode == REPLAY), replayed, state.replayed),
            mode=jnp.where(state.on, mode, NEW).astype(jnp.int32), on=state.on, key=key,
        ), metrics

    def train_fn(key: jax.Array):
        raise NotImplementedError("a UED learner trains through a study (its stages switch the curriculum on)")

    def reset_envs(state: UEDState, sampler) -> UEDState:
        return state.replace(train=ppo.reset_envs(state.train, sampler))

    def start_stage(state: UEDState, stage) -> UEDState:
        return state.replace(train=ppo.start_stage(state.train, stage), on=mask[stage.index],
                             mode=jnp.int32(NEW))

    return PPO(config=ppo.config, network=ppo.network, init=init, update=update, train=train_fn,
               reset_envs=reset_envs, manager=ppo.manager, score=ppo.score, start_stage=start_stage,
               acting_params=lambda state: state.train.params)


def _select(flag: jax.Array, on_true, on_false):
    """``on_true`` where the scalar ``flag`` holds, else ``on_false``, leaf by leaf."""
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), on_true, on_false)
