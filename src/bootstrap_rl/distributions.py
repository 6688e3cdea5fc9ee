"""Action distributions as small pytrees with pure methods.

The policy network outputs a distribution; the learner only calls ``sample``,
``log_prob`` and ``entropy`` (evaluation also ``mode``), so :class:`Gaussian` (continuous
actions) slots in beside :class:`Categorical` (discrete actions) without touching the loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class Categorical:
    """A categorical distribution over the last axis of ``logits``."""

    logits: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.categorical(key, self.logits, axis=-1)

    def log_prob(self, action: jax.Array) -> jax.Array:
        log_probs = jax.nn.log_softmax(self.logits, axis=-1)
        # A one-hot product rather than a gather: it fuses with the softmax (faster on CPU).
        one_hot = jax.nn.one_hot(action, self.logits.shape[-1], dtype=log_probs.dtype)
        return jnp.sum(log_probs * one_hot, axis=-1)

    def entropy(self) -> jax.Array:
        log_probs = jax.nn.log_softmax(self.logits, axis=-1)
        return -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1)

    def kl(self, other: Categorical) -> jax.Array:
        """KL(self || other)."""
        log_p = jax.nn.log_softmax(self.logits, axis=-1)
        log_q = jax.nn.log_softmax(other.logits, axis=-1)
        return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)


_LOG_2PI = float(np.log(2.0 * np.pi))


@struct.dataclass
class Gaussian:
    """A diagonal Gaussian over the last axis of ``mean``: one independent normal per action
    dimension, so ``log_prob``, ``entropy`` and ``kl`` sum over that axis.

    ``log_std`` broadcasts against ``mean``; a policy with a state-independent standard
    deviation passes its ``[action_dim]`` parameter unbroadcast. Unbounded: an environment
    with bounded actions clips what it is given (see ``networks.ContinuousActorCritic``).
    """

    mean: jax.Array
    log_std: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        noise = jax.random.normal(key, self.mean.shape, self.mean.dtype)
        return self.mean + jnp.exp(self.log_std) * noise

    def log_prob(self, action: jax.Array) -> jax.Array:
        z = (action - self.mean) * jnp.exp(-self.log_std)
        return jnp.sum(-0.5 * jnp.square(z) - self.log_std - 0.5 * _LOG_2PI, axis=-1)

    def entropy(self) -> jax.Array:
        log_std = jnp.broadcast_to(self.log_std, self.mean.shape)
        return jnp.sum(log_std + 0.5 * (1.0 + _LOG_2PI), axis=-1)

    def mode(self) -> jax.Array:
        return self.mean

    def kl(self, other: Gaussian) -> jax.Array:
        """KL(self || other)."""
        var_ratio = jnp.exp(2.0 * (self.log_std - other.log_std))
        mean_term = jnp.square((self.mean - other.mean) * jnp.exp(-other.log_std))
        return jnp.sum(0.5 * (var_ratio + mean_term - 1.0) - (self.log_std - other.log_std), axis=-1)
