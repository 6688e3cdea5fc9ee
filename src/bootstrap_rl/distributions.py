"""Action distributions as small pytrees with pure methods.

The policy network outputs a distribution; the learner only calls ``sample``,
``log_prob`` and ``entropy``, so a Gaussian policy slots in beside ``Categorical``
without touching the loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
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
