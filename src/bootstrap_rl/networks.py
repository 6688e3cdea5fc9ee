"""Actor-critic networks (flax linen).

The default is PureJaxRL's: separate actor and critic MLPs, orthogonal initialisation
(gain sqrt(2) in hidden layers, 0.01 for the policy head, 1.0 for the value head).
Discrete action spaces get a categorical policy; ``Box`` action spaces a diagonal Gaussian
with a state-independent log standard deviation (PureJaxRL's and rejax's continuous PPO).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from bootstrap_rl.distributions import Categorical, Gaussian

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "swish": nn.swish, "gelu": nn.gelu}


class MLP(nn.Module):
    hidden_sizes: Sequence[int]
    activation: str
    out_size: int
    out_scale: float

    @nn.compact
    def __call__(self, x: jax.Array, features: bool = False) -> jax.Array:
        """The output; with ``features``, the last hidden layer's activations instead."""
        act = ACTIVATIONS[self.activation]
        for width in self.hidden_sizes:
            x = act(nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        if features:
            return x
        return nn.Dense(self.out_size, kernel_init=nn.initializers.orthogonal(self.out_scale))(x)


class DiscreteActorCritic(nn.Module):
    """obs -> (Categorical policy, value). Observations are flattened and cast to float32."""

    num_actions: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"

    def setup(self):
        self.actor = MLP(self.hidden_sizes, self.activation, self.num_actions, 0.01)
        self.critic = MLP(self.hidden_sizes, self.activation, 1, 1.0)

    def __call__(self, obs: jax.Array) -> tuple[Categorical, jax.Array]:
        x = _flat(obs)
        return Categorical(self.actor(x)), self.critic(x)[..., 0]

    def policy(self, obs: jax.Array) -> Categorical:
        return Categorical(self.actor(_flat(obs)))

    def embed(self, obs: jax.Array) -> jax.Array:
        """The actor's last hidden features (what plasticity metrics read)."""
        return self.actor(_flat(obs), features=True)

    def value(self, obs: jax.Array) -> jax.Array:
        return self.critic(_flat(obs))[..., 0]


class ContinuousActorCritic(nn.Module):
    """obs -> (Gaussian policy, value) for a ``Box`` action space of ``action_dim`` numbers.

    The mean comes from the actor MLP; the log standard deviation is one learned parameter
    per action dimension (``log_std``, initialised to ``log_std_init``), independent of the
    observation. Samples are unbounded. Bounds are the environment's business: an env with a
    bounded ``Box`` clips the action it is given (gymnax's Pendulum-v1 and Limbs both do), and
    the learner keeps the log-probability of the unclipped sample — PureJaxRL's and rejax's
    choice. Clipping leaves the Gaussian's log-probabilities exact (a tanh squash would need a
    Jacobian correction and makes the bounds unreachable); its cost is that samples beyond a
    bound act like the bound itself.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0

    def setup(self):
        self.actor = MLP(self.hidden_sizes, self.activation, self.action_dim, 0.01)
        self.critic = MLP(self.hidden_sizes, self.activation, 1, 1.0)
        self.log_std = self.param("log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,))

    def __call__(self, obs: jax.Array) -> tuple[Gaussian, jax.Array]:
        x = _flat(obs)
        return Gaussian(self.actor(x), self.log_std), self.critic(x)[..., 0]

    def policy(self, obs: jax.Array) -> Gaussian:
        return Gaussian(self.actor(_flat(obs)), self.log_std)

    def embed(self, obs: jax.Array) -> jax.Array:
        """The actor's last hidden features (what plasticity metrics read)."""
        return self.actor(_flat(obs), features=True)

    def value(self, obs: jax.Array) -> jax.Array:
        return self.critic(_flat(obs))[..., 0]


def _flat(obs: jax.Array) -> jax.Array:
    """Flatten everything but the batch axis; MinAtar's boolean frames become floats."""
    return obs.reshape(obs.shape[0], -1).astype(jnp.float32)


def make_actor_critic(action_space, hidden_sizes=(64, 64), activation="tanh") -> nn.Module:
    """The actor-critic that fits ``action_space``."""
    if isinstance(action_space, spaces.Discrete):
        return DiscreteActorCritic(int(action_space.n), tuple(hidden_sizes), activation)
    if isinstance(action_space, spaces.Box):
        return ContinuousActorCritic(int(np.prod(action_space.shape)), tuple(hidden_sizes), activation)
    raise NotImplementedError(
        f"action space {type(action_space).__name__} is not supported (Discrete or Box only)"
    )
