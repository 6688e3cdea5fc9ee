"""PPO hyperparameters: a frozen dataclass validated at construction, before anything compiles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bootstrap_rl.networks import ACTIVATIONS
from bootstrap_rl.validation import ConfigError
from bootstrap_rl.validation import is_finite_number as _number
from bootstrap_rl.validation import is_integer as _integer

__all__ = ["ConfigError", "PPOConfig"]


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. Defaults are PureJaxRL's CartPole-v1 configuration."""

    total_timesteps: int = 500_000
    num_envs: int = 4
    num_steps: int = 128  # rollout length per env per update
    update_epochs: int = 4
    num_minibatches: int = 4
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True  # linear decay to 0 over the run
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    adam_eps: float = 1e-5
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"

    def __post_init__(self):
        # Accept lists (from JSON or a CLI) but store a hashable tuple.
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        for name in ("total_timesteps", "num_envs", "num_steps", "update_epochs", "num_minibatches"):
            value = getattr(self, name)
            if not _integer(value) or value < 1:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))  # numpy integers become plain ints
        for name in ("learning_rate", "max_grad_norm", "adam_eps"):
            if not _number(getattr(self, name)) or getattr(self, name) <= 0:
                raise ConfigError(name, f"must be a positive, finite number, got {getattr(self, name)!r}")
        for name in ("gamma", "gae_lambda"):
            if not _number(getattr(self, name)) or not 0 <= getattr(self, name) <= 1:
                raise ConfigError(name, f"must lie in [0, 1], got {getattr(self, name)!r}")
        for name in ("clip_eps", "ent_coef", "vf_coef"):
            if not _number(getattr(self, name)) or getattr(self, name) < 0:
                raise ConfigError(
                    name, f"must be a non-negative, finite number, got {getattr(self, name)!r}"
                )
        if self.batch_size % self.num_minibatches:
            raise ConfigError(
                "num_minibatches",
                f"the batch of num_envs * num_steps = {self.batch_size} transitions does not "
                f"divide into {self.num_minibatches} minibatches",
            )
        if self.total_timesteps < self.batch_size:
            raise ConfigError(
                "total_timesteps",
                f"{self.total_timesteps} is less than one update's batch "
                f"(num_envs * num_steps = {self.batch_size})",
            )
        if not self.hidden_sizes or any(not _integer(w) or w < 1 for w in self.hidden_sizes):
            raise ConfigError("hidden_sizes", f"must be positive integers, got {self.hidden_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                "activation", f"{self.activation!r} is not one of {sorted(ACTIVATIONS)}"
            )

    @property
    def batch_size(self) -> int:
        """Transitions collected per update."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """Updates in the run; the remainder of total_timesteps is dropped, as in PureJaxRL."""
        return self.total_timesteps // self.batch_size

    @property
    def env_steps(self) -> int:
        """Env steps actually taken: num_updates * batch_size."""
        return self.num_updates * self.batch_size

    def replace(self, **changes) -> PPOConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

