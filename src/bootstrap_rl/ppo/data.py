"""The learner's data: what a run carries from update to update, and what a rollout records."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
from flax import struct

from bootstrap_rl.managers.base import Managed


@struct.dataclass
class TrainState:
    """Everything one seed's run carries from update to update."""

    params: Any
    opt_state: Any
    env_state: Any
    env_params: Any  # data, not code: a later stage swaps tasks without recompiling
    obs: jax.Array
    episode_return: jax.Array  # running return of each env's current episode
    episode_length: jax.Array
    key: jax.Array
    update: jax.Array  # updates done so far
    # Data, not code, so they can differ per seed under vmap (a curriculum's Population grid) and be
    # changed online by a manager: {"learning_rate", "ent_coef"}.
    hparams: dict[str, jax.Array]
    manager_state: Any = ()

    def managed(self) -> Managed:
        """What the manager's hooks may read and change of this state."""
        return Managed(params=self.params, hparams=self.hparams, opt_state=self.opt_state)

    def with_managed(self, managed: Managed) -> TrainState:
        """This state with what a manager's hook returned."""
        return self.replace(params=managed.params, hparams=managed.hparams, opt_state=managed.opt_state)


class Transition(NamedTuple):
    """One env step of every env, as the rollout records it."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array  # the observation the step led to, before auto-reset


class Batch(NamedTuple):
    """What PPO's loss reads, per transition (``[T, N]`` in a rollout, ``[B]`` flattened)."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array


class EpisodeEnds(NamedTuple):
    """Per env and step: whether an episode ended there, and its return and length if so."""

    done: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
