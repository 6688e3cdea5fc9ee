"""PPO as a pair of pure functions, ``init`` and ``update``, plus ``train`` = one ``lax.scan``.

Shaped after PureJaxRL's ``make_train`` and Brax's train/losses/networks split::

    ppo = make_ppo(PPOConfig(), env, env_params)
    state, metrics = jax.jit(jax.vmap(ppo.train))(jax.random.split(key, num_seeds))

``metrics`` holds one scalar per update for each name in ``METRICS`` — never observations
or ``info`` — so a run's memory does not grow with the size of the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bootstrap_rl.managers.base import Handover, LossInputs, Manager, identity, report_metrics
from bootstrap_rl.networks import make_actor_critic
from bootstrap_rl.ppo.config import PPOConfig
from bootstrap_rl.ppo.data import Batch, EpisodeEnds, TrainState, Transition
from bootstrap_rl.ppo.losses import gae, ppo_loss, shuffle_into_minibatches
from bootstrap_rl.ppo.optimizer import adam_moments, learner_optimizer, learner_step, no_scaling, optimizer_step

# Per-update scalar metrics, in the order they are written to results tables.
EPISODE_METRICS = ("episode_return", "episode_length", "episodes", "unbootstrapped_truncations")
LOSS_METRICS = ("total_loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
METRICS = EPISODE_METRICS + LOSS_METRICS + ("learning_rate", "uncharged_env_steps")


class PPO(NamedTuple):
    """A PPO learner: pure ``init(key, hparams=None) -> state`` and
    ``update(state) -> (state, metrics)``.

    ``reset_envs(state, env_params)`` starts every env afresh on new env params (a new
    stage's tasks): same structure, new data, so the compiled ``update`` is reused.
    ``start_stage(state, stage)`` runs the manager's stage-start hook (``stage``: a
    :class:`~bootstrap_rl.managers.StageStart`). ``acting_params(state)`` are the variables
    that act, are evaluated and checkpointed: ``state.params`` (for several learners per seed,
    :mod:`bootstrap_rl.ppo.members`, the fittest member's).
    """

    config: PPOConfig
    network: nn.Module
    init: Callable[[jax.Array], TrainState]
    update: Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]
    train: Callable[[jax.Array], tuple[TrainState, dict[str, jax.Array]]]
    reset_envs: Callable[[TrainState, Any], TrainState]
    manager: Manager
    # score(params, env_params, key) -> mean reward per env step of the sampling policy over
    # one rollout of the learner's shape from fresh resets (managers rank candidates with it).
    score: Callable[[Any, Any, jax.Array], jax.Array]
    start_stage: Callable[[Any, Any], Any] = None
    acting_params: Callable[[Any], Any] = None


def learning_rate_schedule(config: PPOConfig) -> Callable[[jax.Array], jax.Array]:
    """The learner's step size as an optax schedule over optimizer steps (for peers such as
    rejax): ``learning_rate`` times :func:`learning_rate_factor` of the step's update."""
    steps_per_update = config.update_epochs * config.num_minibatches
    return lambda count: config.learning_rate * learning_rate_factor(config, jnp.asarray(count) // steps_per_update)


def learning_rate_factor(config: PPOConfig, update: jax.Array) -> jax.Array:
    """The multiplier of ``hparams["learning_rate"]`` at an update: 1, or the linear anneal."""
    if not config.anneal_lr:
        return jnp.ones((), jnp.float32)
    return 1.0 - update.astype(jnp.float32) / config.num_updates


def max_truncations(config: PPOConfig, env_params, episode_limit: int | None = None) -> int:
    """How many truncated steps one rollout (all envs) can hold, given the shortest time limit
    (``episode_limit``, else read from ``env_params.max_steps_in_episode``): an env truncates
    at most once every that many steps. Without a limit to read, every step may be one."""
    every_step = config.num_steps * config.num_envs
    try:
        limit = int(episode_limit if episode_limit is not None
                    else np.min(np.asarray(env_params.max_steps_in_episode)))
    except (AttributeError, TypeError, ValueError, jax.errors.ConcretizationTypeError):
        return every_step
    if limit < 1:
        return every_step
    return min(every_step, config.num_envs * -(-config.num_steps // limit))


def make_ppo(
    config: PPOConfig,
    env,
    env_params,
    network: nn.Module | None = None,
    manager: Manager | None = None,
    episode_limit: int | None = None,
) -> PPO:
    """Build PPO for ``env``. Nothing compiles here; every check has already run in config.

    ``manager`` (default: the no-op) hooks into the learner as described in
    :mod:`bootstrap_rl.managers.base`. ``episode_limit``: the shortest time limit of any
    task the learner will meet, when ``env_params`` do not show it (a task distribution);
    it sizes the critic pass over truncated steps' final observations.
    """
    network = network or make_actor_critic(
        env.action_space(env_params), config.hidden_sizes, config.activation
    )
    manager = manager or identity()
    optimizer = learner_optimizer(config)
    num_envs = config.num_envs
    observation_shape = tuple(env.observation_space(env_params).shape)
    truncation_budget = max_truncations(config, env_params, episode_limit)
    step_envs = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    reset_envs = jax.vmap(env.reset, in_axes=(0, None))

    def init_params(key, obs):
        return network.init(key, obs)

    # Only the ``params`` collection is trained; other collections (a subsystem library's
    # masks and memory) are state that managers change. A network may scale the optimizer's
    # updates per parameter group (frozen slots: 0).
    scale_updates = getattr(network, "scale_updates", no_scaling)

    if jax.default_backend() == "cpu":
        # Orthogonal initialisation runs LAPACK's QR. Vmapped over seeds on CPU, the batched QR
        # kernel fans out over XLA's intra-op thread pool while the running program holds a
        # thread of that pool, and can deadlock (seen: 16 seeds, 2 cores, jax 0.10.2). Under
        # vmap, initialise the seeds one after another instead; it happens once per run.
        init_params = jax.custom_batching.sequential_vmap(init_params)

    def init(key: jax.Array, hparams: dict | None = None) -> TrainState:
        """A fresh learner; ``hparams`` ({"learning_rate", "ent_coef"}) replace the config's."""
        key, net_key, env_key, manager_key = jax.random.split(key, 4)
        obs, env_state = reset_envs(jax.random.split(env_key, num_envs), env_params)
        params = init_params(net_key, obs)
        return TrainState(
            params=params,
            opt_state=optimizer.init(params["params"]),
            env_state=env_state,
            env_params=env_params,
            obs=obs,
            episode_return=jnp.zeros(num_envs, jnp.float32),
            episode_length=jnp.zeros(num_envs, jnp.int32),
            key=key,
            update=jnp.zeros((), jnp.int32),
            hparams={
                "learning_rate": jnp.asarray(config.learning_rate, jnp.float32),
                "ent_coef": jnp.asarray(config.ent_coef, jnp.float32),
                **({} if hparams is None else {k: jnp.asarray(v, jnp.float32) for k, v in hparams.items()}),
            },
            manager_state=manager.init(manager_key, params),
        )

    def restart_envs(state: TrainState, new_env_params) -> TrainState:
        key, env_key = jax.random.split(state.key)
        obs, env_state = reset_envs(jax.random.split(env_key, num_envs), new_env_params)
        return state.replace(
            env_state=env_state,
            env_params=new_env_params,
            obs=obs,
            episode_return=jnp.zeros(num_envs, jnp.float32),
            episode_length=jnp.zeros(num_envs, jnp.int32),
            key=key,
        )

    def env_step(state: TrainState, _):
        # Only the actor runs inside the sequential rollout loop; values are computed for the
        # whole rollout in one batched critic pass afterwards (same numbers, far fewer ops
        # in the loop body, which is what bounds small-batch runs).
        key, act_key, env_key = jax.random.split(state.key, 3)
        dist = network.apply(state.params, state.obs, method="policy")
        action = dist.sample(act_key)
        obs, env_state, reward, terminated, truncated, info = step_envs(
            jax.random.split(env_key, num_envs), state.env_state, action, state.env_params
        )
        reward = reward.astype(jnp.float32)
        done = jnp.logical_or(terminated, truncated)
        episode_return = state.episode_return + reward
        episode_length = state.episode_length + 1
        transition = Transition(
            state.obs, action, dist.log_prob(action), reward,
            terminated, truncated, info["final_observation"],
        )
        # Only scalars per env leave the step: what finished and how it went.
        ends = EpisodeEnds(done, jnp.where(done, episode_return, 0.0), jnp.where(done, episode_length, 0))
        state = state.replace(
            env_state=env_state,
            obs=obs,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
            key=key,
        )
        return state, (transition, ends)

    def policy(params, obs):
        return network.apply(params, obs, method="policy")

    # A network with module slots (the subsystem library) also returns every slot's policy
    # from the same forward pass, for managers' losses (``LossInputs.slots``); unread, it
    # costs nothing (XLA drops it).
    with_slots = hasattr(network, "with_slots")

    def objective(params, minibatch: Batch, hparams):
        """PPO's clipped loss of ``params`` (all variables) on a minibatch, and diagnostics."""
        if with_slots:
            dist, values, slots = network.apply(params, minibatch.obs, method="with_slots")
        else:
            (dist, values), slots = network.apply(params, minibatch.obs), None
        loss, diagnostics = ppo_loss(
            dist, values, minibatch.action, minibatch.log_prob, minibatch.value,
            minibatch.advantage, minibatch.target,
            clip_eps=config.clip_eps, vf_coef=config.vf_coef, ent_coef=hparams["ent_coef"],
        )
        return loss, (diagnostics, dist, values, slots)

    def minibatch_step(carry, minibatch):
        params, opt_state, hparams, learning_rate, manager_state = carry
        batch, manager_targets = minibatch

        def loss_fn(trainable):
            p = {**params, "params": trainable}
            loss, (diagnostics, dist, values, slots) = objective(p, batch, hparams)
            extra = manager.loss(manager_state, p, LossInputs(batch, manager_targets, dist, values, policy, slots))
            return loss + extra, diagnostics

        grads, diagnostics = jax.grad(loss_fn, has_aux=True)(params["params"])
        params, opt_state = optimizer_step(optimizer, scale_updates, params, grads, opt_state, learning_rate)
        return (params, opt_state, hparams, learning_rate, manager_state), diagnostics

    def value(params, obs):
        """The critic on a batch with any leading shape."""
        lead = obs.shape[: obs.ndim - len(observation_shape)]
        return network.apply(params, obs.reshape(-1, *observation_shape), method="value").reshape(lead)

    def bootstrap_values(state: TrainState, transitions: Transition):
        """V(s_t) and V(s'_t) for a rollout, where s'_t is what step t led to before any reset.

        s'_t is the next observation, except after a truncation, where it is
        ``info["final_observation"]``. So the critic runs on the rollout, on the last
        observation, and only on the final observations of truncated steps — compacted to a
        static budget, instead of a second pass over every step. Returns how many truncations
        exceeded the budget (they are bootstrapped from the next observation instead: wrong,
        and reported as the metric ``unbootstrapped_truncations``, which stays 0 unless a
        time limit is shorter than the params given to ``make_ppo`` allowed for).
        """
        values = value(state.params, transitions.obs)  # [T, N]
        next_values = jnp.concatenate([values[1:], value(state.params, state.obs)[None]])
        cut = (transitions.truncated & ~transitions.terminated).reshape(-1)
        size = cut.shape[0]
        (rows,) = jnp.nonzero(cut, size=truncation_budget, fill_value=size)  # size: no row
        final_obs = transitions.final_obs.reshape(size, *observation_shape)
        final_values = value(state.params, final_obs.at[rows].get(mode="fill", fill_value=0))
        next_values = next_values.reshape(-1).at[rows].set(final_values, mode="drop")
        overflow = jnp.maximum(cut.sum() - truncation_budget, 0)
        return values, next_values.reshape(values.shape), overflow

    def update(state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        state, (transitions, ends) = jax.lax.scan(env_step, state, None, config.num_steps)

        values, next_values, overflow = bootstrap_values(state, transitions)
        advantages, targets = gae(
            transitions.reward, values, next_values,
            transitions.terminated, transitions.truncated,
            config.gamma, config.gae_lambda,
        )
        # Only what the loss reads is shuffled into minibatches, with what the manager's loss
        # will read computed once for the whole rollout (a teacher's outputs, say).
        rollout_shape = transitions.obs.shape[:2]
        manager_targets = jax.tree.map(
            lambda x: x.reshape(*rollout_shape, *x.shape[1:]),
            manager.targets(state.manager_state, state.params,
                            transitions.obs.reshape(-1, *observation_shape), policy),
        )
        batch = Batch(transitions.obs, transitions.action, transitions.log_prob, values, advantages, targets)

        def epoch(carry, key):
            # One permutation for every leaf: each target stays with its transition.
            minibatches = shuffle_into_minibatches(key, (batch, manager_targets), config.num_minibatches)
            return jax.lax.scan(minibatch_step, carry, minibatches)

        key, epoch_key = jax.random.split(state.key)
        learning_rate = state.hparams["learning_rate"] * learning_rate_factor(config, state.update)
        (params, opt_state, *_), diagnostics = jax.lax.scan(
            epoch,
            (state.params, state.opt_state, state.hparams, learning_rate, state.manager_state),
            jax.random.split(epoch_key, config.update_epochs),
        )
        episodes = ends.done.sum()
        per_episode = jnp.where(episodes > 0, episodes, jnp.nan)  # NaN: none finished this update
        metrics = {
            "episode_return": ends.episode_return.sum() / per_episode,
            "episode_length": ends.episode_length.sum() / per_episode,
            "episodes": episodes.astype(jnp.float32),
            "unbootstrapped_truncations": overflow.astype(jnp.float32),
            **{name: value.mean() for name, value in diagnostics.items()},
            "learning_rate": learning_rate.astype(jnp.float32),
        }
        state = state.replace(params=params, opt_state=opt_state, key=key, update=state.update + 1)
        metrics.update(report_metrics(manager.report(state.manager_state)))
        handover = Handover(
            metrics=metrics,
            batch=jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batch),  # [T*N, ...]
            objective=lambda p, b, h: objective(p, b, h)[0],
            network=network,
            adam_moments=lambda opt_state: adam_moments(opt_state, params["params"]),
            learner_step=learner_step(config, scale_updates),
        )
        manager_state, managed = manager.after_update(state.manager_state, state.managed(), handover)
        return state.with_managed(managed).replace(manager_state=manager_state), metrics

    def score(params, env_params, key):
        """Mean reward per step of ``params``' sampling policy: ``num_steps`` steps of
        ``num_envs`` envs on ``env_params``' tasks, from fresh resets."""
        reset_key, key = jax.random.split(key)
        obs, env_state = reset_envs(jax.random.split(reset_key, num_envs), env_params)

        def step(carry, key):
            obs, env_state = carry
            act_key, env_key = jax.random.split(key)
            action = network.apply(params, obs, method="policy").sample(act_key)
            obs, env_state, reward, *_ = step_envs(jax.random.split(env_key, num_envs), env_state, action, env_params)
            return (obs, env_state), reward.astype(jnp.float32).mean()

        _, rewards = jax.lax.scan(step, (obs, env_state), jax.random.split(key, config.num_steps))
        return rewards.mean()

    def train(key: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
        state = init(key)
        return jax.lax.scan(lambda s, _: update(s), state, None, config.num_updates)

    def start_stage(state: TrainState, stage) -> TrainState:
        mstate, managed = manager.on_stage_start(state.manager_state, state.managed(), stage)
        return state.with_managed(managed).replace(manager_state=mstate)

    return PPO(
        config=config, network=network, init=init, update=update, train=train,
        reset_envs=restart_envs, manager=manager, score=score,
        start_stage=start_stage, acting_params=lambda state: state.params,
    )
