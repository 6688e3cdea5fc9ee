"""Several learners per seed, for managers that act across them (population-based training,
:func:`bootstrap_rl.managers.pbt`).

``make_members(ppo, size)`` is a learner with PPO's interface whose state holds ``size``
members, vmapped with the axis name ``"members"``, so a manager's collectives over that
axis see one seed's members and nothing else (seeds are vmapped outside, with no name)::

    member = make_ppo(config.replace(num_envs=config.num_envs // 4), env, params, manager=pbt(size=4))
    learner = make_members(member, 4)
    state, metrics = jax.jit(jax.vmap(learner.train))(seed_keys)

Each member runs its own envs; an update steps every member once, so it spends ``size``
times a member's batch. Metrics are pooled into the one-learner scalars: episode statistics
weighted by the episodes each member finished, counts summed, the rest averaged. The member
that acts (is evaluated, checkpointed and probed for drift, :attr:`PPO.acting_params`) is the
one with the highest moving average of its training return (weight ``ema`` on the past,
updated where it finished episodes; member 0 while none has), kept here rather than by a
manager, so it holds in stages where the manager is switched off.

Not the curriculum's :class:`~bootstrap_rl.curriculum.Population`: that is a grid of separate
arms (D:prodigy); these are the learners of one arm, which interact.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from bootstrap_rl.ppo.train import PPO
from bootstrap_rl.validation import ConfigError, finite_number, positive_int

AXIS = "members"
# Counts over a seed's members (pbt's exploit/explore events are each member's own).
_SUMMED = ("episodes", "unbootstrapped_truncations", "uncharged_env_steps", "manager/pbt/exploits",
           "manager/pbt/explores")
_PER_EPISODE = ("episode_return", "episode_length")


@struct.dataclass
class MembersState:
    members: Any  # a member's TrainState, every leaf with a leading [size] axis
    fitness: jax.Array  # [size]: moving average of each member's training return (NaN: none yet)


def pooled_metrics(metrics: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """One update's member metrics (each ``[size]``) as one learner's scalars."""
    episodes = metrics["episodes"]
    finished = episodes.sum()
    pooled = {}
    for name, values in metrics.items():
        if name in _SUMMED:
            pooled[name] = values.sum()
        elif name in _PER_EPISODE:
            weighted = jnp.where(episodes > 0, values * episodes, 0.0).sum()
            pooled[name] = jnp.where(finished > 0, weighted / jnp.where(finished > 0, finished, 1.0), jnp.nan)
        else:  # a member's NaN loss shows, as a single learner's would
            pooled[name] = values.mean()
    return pooled


def make_members(ppo: PPO, size: int, axis_name: str = AXIS, ema: float = 0.9) -> PPO:
    """``size`` copies of the learner ``ppo`` per seed, as one learner (see the module docstring).

    Member 0 starts from the seed's own key, so it starts as a single learner of that seed
    would (the same network); member ``m`` from ``fold_in(key, m)``.
    """
    size = positive_int(size, "size")
    if finite_number(ema, "ema", low=0, high=1) == 1:
        raise ConfigError("ema", "must lie in [0, 1): at 1 the fitness would never move")

    def each(fn, *args, in_axes=0):
        return jax.vmap(fn, in_axes=in_axes, axis_name=axis_name)(*args)

    def init(key, hparams=None):
        keys = jnp.stack([key] + [jax.random.fold_in(key, m) for m in range(1, size)])
        return MembersState(each(lambda k: ppo.init(k, hparams), keys), jnp.full((size,), jnp.nan))

    def update(state):
        new, metrics = each(ppo.update, state.members)
        ret, old = metrics["episode_return"], state.fitness
        fitness = jnp.where(jnp.isnan(ret), old, jnp.where(jnp.isnan(old), ret, ema * old + (1 - ema) * ret))
        return MembersState(new, fitness), pooled_metrics(metrics)

    def train(key):
        return jax.lax.scan(lambda s, _: update(s), init(key), None, ppo.config.num_updates)

    def reset_envs(state, env_params):
        return state.replace(members=each(ppo.reset_envs, state.members, env_params, in_axes=(0, None)))

    def start_stage(state, stage):
        return state.replace(members=each(lambda s: ppo.start_stage(s, stage), state.members))

    def acting_params(state):
        best = jnp.argmax(jnp.where(jnp.isnan(state.fitness), -jnp.inf, state.fitness))  # ties: the first
        return jax.tree.map(lambda x: x[best], state.members.params)

    return ppo._replace(init=init, update=update, train=train, reset_envs=reset_envs,
                        start_stage=start_stage, acting_params=acting_params)
