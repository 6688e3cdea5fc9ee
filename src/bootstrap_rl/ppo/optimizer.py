"""The learner's optimizer and its one step, as pure functions: the rule every minibatch step
applies (``train.make_ppo``) and the one the meta-gradient differentiates (``Handover.learner_step``)."""

from __future__ import annotations

import jax
import jax.flatten_util
import jax.numpy as jnp
import optax

from bootstrap_rl.managers.base import AdamMoments
from bootstrap_rl.ppo.config import PPOConfig


def learner_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """The learner's optimizer: the gradient's global norm clipped, then Adam, without its
    learning rate (the step size is applied from ``state.hparams``: data, so it can differ per
    vmapped seed and be changed online).

    It runs on the parameters concatenated into one vector (``optax.flatten``: same
    arithmetic), so the clip's global norm is one reduction and Adam one fused update instead
    of one of each per leaf: small networks' minibatch steps are bound by their number of ops,
    not by arithmetic. :func:`adam_moments` and :func:`adam_state` read this state's structure.
    """
    return optax.flatten(optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.scale_by_adam(eps=config.adam_eps),
    ))


def adam_moments(opt_state, like) -> AdamMoments:
    """The Adam moments in the learner's optimizer state, shaped like ``like`` (the trained
    ``params`` collection): the optimizer keeps them as one flat vector."""
    _, adam = opt_state  # (the gradient clip's empty state, Adam's state)
    _, unflatten = jax.flatten_util.ravel_pytree(like)
    return AdamMoments(count=adam.count, mu=unflatten(adam.mu), nu=unflatten(adam.nu))


def adam_state(moments: AdamMoments):
    """The learner's optimizer state holding ``moments`` (the inverse of :func:`adam_moments`)."""
    flat = lambda tree: jax.flatten_util.ravel_pytree(tree)[0]  # noqa: E731
    return (optax.EmptyState(), optax.ScaleByAdamState(count=moments.count, mu=flat(moments.mu), nu=flat(moments.nu)))


def no_scaling(variables, updates):
    """A network without per-group step sizes: the optimizer's updates as they are."""
    return updates


def optimizer_step(optimizer, scale_updates, variables, grads, opt_state, learning_rate):
    """One step of the learner on the trained ``params`` of ``variables``, given their gradient:
    ``(variables, opt_state)`` after it. The rule every minibatch step applies, and the one the
    meta-gradient differentiates (``Handover.learner_step``): differentiable in
    ``learning_rate``, in the step-size multipliers ``scale_updates`` reads from ``variables``
    and in ``grads``."""
    # Parameters whose step is scaled to 0 (frozen slots) give no gradient either, so they
    # do not count in the gradient-norm clip: what clips the trained parameters must not
    # depend on how much of the network is frozen.
    scale = scale_updates(variables, jax.tree.map(jnp.ones_like, grads))
    grads = jax.tree.map(lambda g, s: jnp.where(s != 0, g, 0.0), grads, scale)
    updates, opt_state = optimizer.update(grads, opt_state)
    updates = jax.tree.map(lambda u, s: -learning_rate * s * u, updates, scale)
    return {**variables, "params": optax.apply_updates(variables["params"], updates)}, opt_state


def learner_step(config: PPOConfig, scale_updates=no_scaling):
    """``step(variables, grads, moments, learning_rate) -> variables``: the learner's
    :func:`optimizer_step` from the Adam state ``moments`` (:class:`AdamMoments`, shaped like
    the trained parameters), as ``Handover.learner_step`` hands it to managers."""
    optimizer = learner_optimizer(config)

    def step(variables, grads, moments, learning_rate):
        return optimizer_step(optimizer, scale_updates, variables, grads, adam_state(moments), learning_rate)[0]

    return step
